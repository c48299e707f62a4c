"""A wheel carries every package of cbsim: pyproject's explicit package list names each
folder of `cbsim/` that holds Python modules (a missing one installs without error and
fails on first import)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_python_package_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "cbsim").rglob("__init__.py")
    }
    assert found and found <= listed, sorted(found - listed)
