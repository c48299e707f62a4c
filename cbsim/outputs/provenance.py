"""What every output folder records about how it was made: when, and with which versions."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version


def utc_now() -> str:
    """The time now, as manifests write times (UTC, ISO 8601, to the second)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def library_versions(names: Iterable[str]) -> dict[str, str]:
    """Python's version and each named distribution's ("not installed" when absent)."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found
