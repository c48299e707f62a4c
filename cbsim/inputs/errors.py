"""Errors that cbsim reports to its users as one clear line, and the helpers that word them."""

from __future__ import annotations

import difflib


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


def short_repr(value: object, limit: int = 40) -> str:
    """`repr(value)` cut to about `limit` characters, safe for any value (for one-line messages)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"a {int(value.bit_length() * 0.30103) + 1}-digit number"
    if hasattr(value, "isoformat"):  # TOML dates and times, shown as written
        return str(value.isoformat())
    if isinstance(value, bool):  # as TOML spells it
        return "true" if value else "false"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # e.g. nested too deeply to print
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str) -> str:
    """`text` as it is, or quoted with escapes when empty or holding line breaks or control
    codes (for file names and fields in one-line messages)."""
    return text if text and text.isprintable() else repr(text)


def suggest(word: str, options: list[str]) -> str:
    """` (did you mean 'x'?)` naming the option closest to `word`, or nothing."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
