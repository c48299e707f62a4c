"""The one reader of input files.

Every TOML file cbsim reads (scenarios, experiments, and the calibration and search files to
come) is found, decoded, limited and parsed here, the same way. Every problem is one
`InputError` line, `FILE: field: message` (the field where there is one):

- The file must be a regular file of at most `MAX_FILE_BYTES` (1 MB). This is checked with
  `stat` before the file is opened, so a folder or a FIFO is refused ("not a regular file")
  without blocking, and a huge file is never read. A symbolic-link loop is reported as one.
- The text is UTF-8. A leading byte-order mark is accepted and dropped, in every kind of file.
- Arrays and tables nest at most `MAX_DEPTH` (32) deep. The text is scanned for bracket depth
  before parsing (tomllib recurses, so arrays thousands deep would overflow Python's stack),
  and the parsed table is checked again (dotted keys and headers nest without brackets).
- A number written with more than `MAX_DIGITS` (100) digits is refused before parsing.
- Integers must fit TOML's 64 bits (`MIN_INT` to `MAX_INT`: -2**63 to 2**63 - 1), and floats
  must be finite (`nan` and `inf` are refused) unless the caller allows them.
- A TOML syntax error names the field on the line it points to, where there is one.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cbsim.inputs.errors import InputError, printable, short_repr, suggest

MAX_FILE_BYTES = 1_000_000  # far above any real input file (the largest shipped is ~3 kB)
MAX_DEPTH = 32  # levels of tables and arrays; a scenario needs 3
MAX_DIGITS = 100  # digits in one written number
MIN_INT, MAX_INT = -(2**63), 2**63 - 1  # TOML integers are 64-bit
_SHOWN_KEYS = 8  # a field deeper than this is shown cut short


@dataclass(frozen=True)
class TomlFile:
    """A parsed input file: the name its messages give, its text (no BOM) and its table."""

    source: str
    text: str
    table: dict[str, Any]


def read_toml(
    name_or_path: str | os.PathLike[str],
    kind: str,
    folder: Path | None = None,
    *,
    allow_nonfinite: bool = False,
) -> TomlFile:
    """Find, read and parse a `kind` file ("scenario", "experiment", ...) within the limits.

    A name without `.toml` or a folder separator is looked up in `folder`, if given.
    """
    path = locate(name_or_path, kind, folder)
    return parse_toml(read_input_bytes(path, kind), shown_name(path), allow_nonfinite)


# ------------------------------------------------------------------------ finding the file
def looks_like_path(text: str) -> bool:
    """True when `text` names a file rather than a shipped input (`x.toml`, `dir/x`)."""
    return text.endswith(".toml") or os.sep in text or "/" in text


def locate(name_or_path: str | os.PathLike[str], kind: str, folder: Path | None) -> Path:
    """The file named: a path as given, or `NAME.toml` in `folder` (with a suggestion when
    there is no such name). Whether the file can be read is checked when it is read."""
    text = str(name_or_path)
    if not text:
        raise InputError(printable(text), None, f"empty {kind} name")
    if folder is None or looks_like_path(text):
        return Path(text)
    shipped = folder / f"{text}.toml"
    if shipped.is_file():
        return shipped
    names = sorted(p.stem for p in folder.glob("*.toml"))
    raise InputError(
        printable(text),
        None,
        f"unknown {kind}" + suggest(text, names) + f" (known: {', '.join(names)})",
    )


def shown_name(path: Path) -> str:
    """How messages name the file at `path`."""
    return printable(str(path))


# ------------------------------------------------------------------------ reading the bytes
def read_input_bytes(path: Path, kind: str) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES, checked before it is opened."""
    shown = shown_name(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(shown, None, _stat_problem(path, exc, kind)) from None
    except ValueError:  # a NUL character in the name
        raise InputError(shown, None, f"no such {kind} file") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(shown, None, "is a folder, not a regular file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(shown, None, f"not a regular file ({_file_type(info.st_mode)})")
    if info.st_size > MAX_FILE_BYTES:
        raise InputError(shown, None, _too_large(info.st_size, kind))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(shown, None, f"cannot read file ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:  # it grew after the check
        raise InputError(shown, None, _too_large(len(raw), kind))
    return raw


def _stat_problem(path: Path, exc: OSError, kind: str) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop (too many levels of symbolic links)"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "a broken symbolic link" if path.is_symlink() else f"no such {kind} file"
    return f"cannot read file ({exc.strerror or exc})"


def _file_type(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _too_large(size: int, kind: str) -> str:
    return f"too large for a {kind} file ({size:,} bytes; at most {MAX_FILE_BYTES:,})"


# ------------------------------------------------------------------------ parsing the text
def parse_toml(raw: bytes, source: str, allow_nonfinite: bool = False) -> TomlFile:
    """Decode (UTF-8, a leading BOM dropped), check the limits and parse a file's bytes;
    `source` names the file in messages."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(source, None, f"not UTF-8 text (byte {exc.start})") from None
    _scan(text, source)
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, _error_field(text, str(exc)), f"malformed TOML: {exc}") from None
    except ValueError:  # not expected after the scan: int()'s own limit of 4300 digits
        raise InputError(source, None, "malformed TOML: a number is too long") from None
    except RecursionError:  # not expected after the scan, unless called very deep already
        raise InputError(source, None, f"nested more than {MAX_DEPTH} deep") from None
    _check_values(table, source, allow_nonfinite)
    return TomlFile(source, text, table)


# tokens that matter for nesting and numbers; everything else is left to tomllib
_TOKEN = re.compile(r"\"\"\"|'''|[\"'#\[\]{}]|(?<![\w.])[0-9](?:_?[0-9]){" + f"{MAX_DIGITS},}}")
_BASIC_REST = re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_LITERAL_REST = re.compile(r"[^'\n]*'")


def _scan(text: str, source: str) -> None:
    """Refuse brackets nested over MAX_DEPTH and numbers over MAX_DIGITS, outside strings and
    comments, before tomllib (which recurses) sees the text. Malformed text is left to tomllib.
    """
    depth, pos = 0, 0
    while (found := _TOKEN.search(text, pos)) is not None:
        token, pos = found.group(), found.end()
        if token[0].isdigit():
            digits = sum(c.isdigit() for c in token)
            message = f"a {digits}-digit number is too long (at most {MAX_DIGITS} digits)"
            raise InputError(source, _field_at(text, found.start()), message)
        if token in ('"""', "'''"):
            pos = _multiline_end(text, pos, token)
        elif token in ('"', "'"):
            rest = (_BASIC_REST if token == '"' else _LITERAL_REST).match(text, pos)
            pos = rest.end() if rest else _line_end(text, pos)
        elif token == "#":
            pos = _line_end(text, pos)
        elif token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                message = f"nested more than {MAX_DEPTH} deep"
                raise InputError(source, _field_at(text, found.start()), message)
        else:
            depth = max(depth - 1, 0)


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _multiline_end(text: str, pos: int, quote: str) -> int:
    """Where a multi-line string opened before `pos` ends (after up to two extra quotes)."""
    while (end := text.find(quote, pos)) >= 0:
        if quote == '"""' and _escaped(text, end):  # the string goes on
            pos = end + 1
            continue
        end += 3
        for _ in range(2):
            if text.startswith(quote[0], end):
                end += 1
        return end
    return len(text)


def _escaped(text: str, index: int) -> bool:
    """True when an odd number of backslashes comes just before `text[index]`."""
    start = index
    while start > 0 and text[start - 1] == "\\":
        start -= 1
    return (index - start) % 2 == 1


def _check_values(table: dict[str, Any], source: str, allow_nonfinite: bool) -> None:
    """Refuse nesting over MAX_DEPTH, integers outside 64 bits and (unless allowed) non-finite
    floats anywhere in the parsed table, in file order, without recursion."""
    stack: list[tuple[tuple[str, ...], Any, int]] = [((), table, 0)]
    while stack:
        keys, value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise InputError(source, _dotted(keys), f"nested more than {MAX_DEPTH} deep")
            children = (
                [((*keys, k), v, depth + 1) for k, v in value.items()]
                if isinstance(value, dict)
                else [(keys, v, depth + 1) for v in value]
            )
            stack.extend(reversed(children))
            continue
        problem = _number_problem(value, allow_nonfinite)
        if problem:
            raise InputError(source, _dotted(keys), problem)


def _number_problem(value: Any, allow_nonfinite: bool) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and not MIN_INT <= value <= MAX_INT:
        return (
            f"{short_repr(value)} is out of range for a TOML integer "
            f"(64-bit: {MIN_INT:,} to {MAX_INT:,})"
        )
    if isinstance(value, float) and not allow_nonfinite and not math.isfinite(value):
        return f"{value} is out of range (not a finite number)"
    return None


def _dotted(keys: tuple[str, ...]) -> str | None:
    """A field for messages: the dotted keys, cut short when very deep."""
    if not keys:
        return None
    text = ".".join(keys[:_SHOWN_KEYS]) + ("..." if len(keys) > _SHOWN_KEYS else "")
    return printable(text)


# ------------------------------------------------------------------------ naming the field
_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_DOTTED_KEY = rf"{_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART})*"
_KEY_LINE = re.compile(rf"[ \t]*({_DOTTED_KEY})[ \t]*=")
_HEADER_LINE = re.compile(rf"[ \t]*\[\[?[ \t]*({_DOTTED_KEY})[ \t]*\]\]?[ \t]*(#.*)?\r?$")
_PART = re.compile(_KEY_PART)


def _error_field(text: str, message: str) -> str | None:
    """Best guess at the dotted key on the line a TOML syntax error points to."""
    found = re.search(r"at line (\d+)", message)
    return _field_on_line(text, int(found.group(1))) if found else None


def _field_at(text: str, index: int) -> str | None:
    """Best guess at the dotted key on the line holding `text[index]`."""
    return _field_on_line(text, text.count("\n", 0, index) + 1)


def _field_on_line(text: str, number: int) -> str | None:
    """The dotted key set on line `number` (1-based), under its table header, if any."""
    lines = text.split("\n")  # TOML's lines, as tomllib counts them
    if not 1 <= number <= len(lines):
        return None
    key = _KEY_LINE.match(lines[number - 1])
    if not key:
        return None
    for line in reversed(lines[: number - 1]):
        header = _HEADER_LINE.match(line)
        if header:
            return printable(f"{_keys(header.group(1))}.{_keys(key.group(1))}")
    return printable(_keys(key.group(1)))


def _keys(dotted: str) -> str:
    """A dotted TOML key as cbsim writes paths: `"council.speed"` and `council.speed` alike."""
    return ".".join(part.strip("\"'") for part in _PART.findall(dotted))
