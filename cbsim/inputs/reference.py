"""Static reference data shipped with the package, loaded once per process."""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

STANCES = ("withhold", "align", "pool")


@dataclass(frozen=True)
class Authority:
    """One of England's 152 upper-tier authorities (2011)."""

    name: str
    type: str
    region: str
    pilot_area: str  # first-phase pilot area, or "" when not a pilot


@dataclass(frozen=True)
class DepartmentInfo:
    """A Whitehall department's funding stream and default behaviour."""

    name: str
    full_name: str
    poolable_m: float
    source: str
    stance: str
    floor: str
    return_share: float
    risk_aversion: float
    main: bool
    role: str


@cache
def authorities() -> tuple[Authority, ...]:
    """The 152 upper-tier authorities with type, region and first-phase pilot area."""
    text = resources.files("cbsim.inputs.data").joinpath("authorities.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return tuple(Authority(**row) for row in csv.DictReader(lines))


@cache
def authority_names() -> frozenset[str]:
    """Names of all authorities, for validating user input."""
    return frozenset(a.name for a in authorities())


@cache
def pilot_councils() -> tuple[str, ...]:
    """The 28 councils of the 16 first-phase pilot areas (live April 2011)."""
    return tuple(a.name for a in authorities() if a.pilot_area)


@cache
def departments() -> tuple[DepartmentInfo, ...]:
    """The Whitehall departments modelled, in a fixed order."""
    text = resources.files("cbsim.inputs.data").joinpath("departments.toml").read_text("utf-8")
    table = tomllib.loads(text)
    return tuple(DepartmentInfo(name=name, **fields) for name, fields in table.items())


@cache
def department_names() -> tuple[str, ...]:
    """Names of the departments, in the order used for outputs."""
    return tuple(d.name for d in departments())
