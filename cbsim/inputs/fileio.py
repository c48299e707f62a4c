"""Atomic file writes: a reader sees the old file or the whole new one, never half of it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cbsim.inputs.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give: mkstemp's own files are 0600


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder, fsync, then rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


NAME_MAX = 255  # bytes in one path component (Linux, macOS)
PATH_MAX = 4096  # bytes in a whole path (Linux)


def check_output_path(path: str | os.PathLike, option: str = "--out") -> Path:
    """`path` as a Path if a folder of that name could be created, else one-line InputError.

    Checked before any work starts, so that a name the file system would refuse (a component
    over NAME_MAX bytes, a path over PATH_MAX, a line break or control code in a name) fails
    at once instead of after a whole run or sweep.
    """
    text = os.fspath(path)
    shown = text if len(text) <= 80 else text[:77] + "..."
    if not text:
        raise InputError(option, None, "empty path")
    if not text.isprintable():
        raise InputError(option, None, f"{text!r:.80}: line breaks or control codes in a path")
    if len(os.fsencode(text)) > PATH_MAX:
        raise InputError(option, None, f"{shown}: path longer than {PATH_MAX:,} bytes")
    for part in Path(text).parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise InputError(
                option, None, f"{shown}: a folder or file name longer than {NAME_MAX} bytes"
            )
    return Path(text)
