"""Errors that cbsim reports to its users as one clear line."""

from __future__ import annotations


class CbsimError(Exception):
    """An error caused by the user's input; the CLI prints it as one line and exits with 2."""


class InputError(CbsimError):
    """A problem in an input file or value, naming the file (or source) and the field."""

    def __init__(self, source: str, field: str | None, message: str) -> None:
        self.source = source
        self.field = field
        self.message = message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")
