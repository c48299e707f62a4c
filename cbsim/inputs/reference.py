"""Static reference data shipped with the package, loaded once per process."""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass, field
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
    gss_code: str = ""  # ONS code as in 2011
    population: int = 0  # usual residents, 2011 Census
    total_place: bool = False  # in a Total Place pilot (2009-10)
    lat: float = 0.0  # approximate centroid (WGS84)
    lon: float = 0.0
    deprivation: float | None = None  # derived IMD 2010 average score (None: not available)


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
    floor_from: str = "2000-01"  # month from which its floor applies
    floor_until: str = "2099-12"  # month its floor stops applying
    pilots_asked: bool = False  # the pilots asked for its money (ministers press it first)
    basis: dict[str, str] = field(default_factory=dict)  # parameter field -> its basis


@cache
def authorities() -> tuple[Authority, ...]:
    """The 152 upper-tier authorities: type, region, first-phase pilot area and their 2011
    attributes (docs/sources.md, "Council attributes")."""
    attributes = {row["name"]: row for row in _csv_rows("authority_attributes.csv")}
    return tuple(_authority(row, attributes[row["name"]]) for row in _csv_rows("authorities.csv"))


def _csv_rows(name: str) -> list[dict[str, str]]:
    """The rows of a packaged CSV file (lines starting with # are comments)."""
    text = resources.files("cbsim.inputs.data").joinpath(name).read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def _authority(row: dict[str, str], extra: dict[str, str]) -> Authority:
    """An authority from its row in authorities.csv and in authority_attributes.csv."""
    score = extra["imd2010_score_derived"]
    return Authority(
        **row,
        gss_code=extra["gss_code_2011"],
        population=int(extra["population_2011"]),
        total_place=extra["total_place_pilot"] == "1",
        lat=float(extra["lat"]),
        lon=float(extra["lon"]),
        deprivation=float(score) if score else None,
    )


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
