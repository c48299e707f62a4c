"""Calendar months (`YYYY-MM`), the model's unit of time."""

from __future__ import annotations

import re

from cbsim.inputs.errors import short_repr

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only, the whole string


def parse_month(text: str) -> int:
    """Return the month `YYYY-MM` as a count of months since year 0 (raises ValueError)."""
    match = _MONTH.fullmatch(text) if isinstance(text, str) else None
    if not match:
        hint = ' (write it in quotes, e.g. "2011-04")' if hasattr(text, "isoformat") else ""
        raise ValueError(f"expected a calendar month YYYY-MM, got {short_repr(text)}{hint}")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 01-12, got {text!r}")
    if not 1990 <= year <= 2100:
        raise ValueError(f"year must be 1990-2100, got {text!r}")
    return year * 12 + month - 1


def format_month(index: int) -> str:
    """Return the `YYYY-MM` label of a month count made by `parse_month`."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(start: str, end: str) -> int:
    """Number of months from `start` to `end` (negative when `end` comes first)."""
    return parse_month(end) - parse_month(start)


def add_months(month: str, n: int) -> str:
    """The month `n` months after `month`."""
    return format_month(parse_month(month) + n)
