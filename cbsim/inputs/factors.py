"""Factors of an experiment: the declared parameters a sweep varies, and the values each takes.

A factor is a list of levels (`"offer.national_pooling" = [false, true]`) or, for a number, a
range (`{ min = 0.0, max = 1.0 }`, with a count of `levels` on a grid). One factor is not a
parameter: `scenario = ["baseline_2011", "troubled_families_2012"]` varies the base scenario
(a categorical factor, kind `scenario`; its levels are resolved and loaded by
`cbsim.inputs.experiment`). Also here: the checks of one field that experiment files share
(`coerce_at`, `whole_number`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cbsim.inputs.errors import InputError, short_repr, suggest
from cbsim.inputs.parameters import Parameter, declared
from cbsim.inputs.scenario import coerce, load_scenario, resolve_scenario_path, scenario_dir
from cbsim.inputs.toml_file import looks_like_path

FACTOR_KINDS = ("float", "int", "bool", "stance", "month")
SCENARIO_FACTOR = "scenario"  # the factor that varies the base scenario (not a parameter)
RANGE_KEYS = ("min", "max", "levels")
LEVEL_NAME = re.compile(r"[\w .()+-]+")  # a scenario name a Markdown table cell can hold


@dataclass(frozen=True)
class Factor:
    """One factor of an experiment: a declared parameter and the values it may take.

    `levels` holds discrete levels (always set for a grid); otherwise `low`..`high` is the
    range the sampler draws from.
    """

    path: str
    kind: str
    levels: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        """Bounds of the raw sample (SALib problem space) for lhs, saltelli and morris."""
        if self.levels:
            return (0.0, 1.0)
        low, high = self.span()
        if self.kind == "int":  # each whole number gets an equal share of the range
            return (low - 0.5, high + 0.5)
        return (low, high)

    def span(self) -> tuple[float, float]:
        """`low` and `high` of a factor drawn from a range (one with levels has none)."""
        if self.low is None or self.high is None:
            raise ValueError(f"factor {self.path} has levels, not a range")
        return self.low, self.high

    def value(self, x: float) -> Any:
        """The parameter value for a raw sample `x` (a level index on a grid)."""
        if self.levels:
            k = len(self.levels)
            return self.levels[min(max(int(math.floor(x * k)), 0), k - 1)]
        low, high = self.span()
        if self.kind == "int":
            return int(min(max(round(x), low), high))
        return float(min(max(x, low), high))

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (for the manifest and the report)."""
        if self.levels:
            return {"path": self.path, "kind": self.kind, "levels": list(self.levels)}
        return {"path": self.path, "kind": self.kind, "min": self.low, "max": self.high}


def read_factors(table: Any, source: str, method: str) -> list[Factor]:
    """The `[factors]` table as factors, in file order (dotted or nested paths alike)."""
    if not isinstance(table, dict) or not table:
        raise InputError(
            source,
            "factors",
            "expected a table with at least one factor, e.g. "
            '"offer.national_pooling" = [false, true]',
        )
    factors = [_factor(path, spec, source, method) for path, spec in _factor_pairs(table)]
    if method in ("saltelli", "morris") and len(factors) < 2:
        raise InputError(source, "factors", f"the {method} sampler needs at least 2 factors")
    return factors


def _factor_pairs(table: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, spec) pairs; nested tables are followed unless they look like a range."""
    pairs = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        nested = (
            isinstance(value, dict)
            and path not in declared()
            and path != SCENARIO_FACTOR  # its levels are a list; say so, not "unknown"
            and value
            and not set(value) <= set(RANGE_KEYS)
        )
        pairs += _factor_pairs(value, f"{path}.") if nested else [(path, value)]
    return pairs


def _factor(path: str, spec: Any, source: str, method: str) -> Factor:
    """One factor: a list of levels, or a range `{ min, max }` (with `levels` on a grid)."""
    where = f"factors.{path}"
    if path == SCENARIO_FACTOR:
        return Factor(path, SCENARIO_FACTOR, _scenario_levels(spec, source, where))
    param = _factor_parameter(path, source, where)
    if isinstance(spec, list):
        return Factor(path, param.kind, _listed_levels(path, spec, source, where))
    _check_range_spec(param, spec, source, where)
    low = coerce_at(path, spec["min"], source, f"{where}.min")
    high = coerce_at(path, spec["max"], source, f"{where}.max")
    if not low < high:
        raise InputError(source, where, f"min {low!r} must be below max {high!r}")
    if method == "grid":
        return Factor(path, param.kind, _grid_levels(param, spec, low, high, source, where))
    if "levels" in spec:
        raise InputError(
            source,
            f"{where}.levels",
            f"a count of levels is for the grid sampler; {method} draws from the range [min, max]",
        )
    return Factor(path, param.kind, (), low, high)


def _factor_parameter(path: str, source: str, where: str) -> Parameter:
    """The declared parameter a factor varies; it must be of a kind a sampler can vary."""
    param = declared().get(path)
    if param is None:
        raise InputError(source, where, "unknown parameter" + suggest(path, list(declared())))
    if param.kind not in FACTOR_KINDS:
        raise InputError(
            source,
            where,
            f"a {param.kind} parameter cannot be a factor "
            "(set it in the scenario or in [overrides])",
        )
    return param


def _listed_levels(path: str, spec: list[Any], source: str, where: str) -> tuple[Any, ...]:
    """Levels given as a list: each a valid value, none repeated."""
    if not spec:
        raise InputError(source, where, "needs at least one level")
    levels = tuple(coerce_at(path, v, source, where) for v in spec)
    if len(set(levels)) != len(levels):
        raise InputError(source, where, "levels must not repeat")
    return levels


def _scenario_levels(spec: Any, source: str, where: str) -> tuple[str, ...]:
    """The scenario factor's levels as written: names or paths, none repeated."""
    example = '["baseline_2011", "troubled_families_2012"]'
    if not isinstance(spec, list) or not spec:
        raise InputError(
            source, where, f"expected a list of scenario names or paths, e.g. {example}"
        )
    for level in spec:
        if not isinstance(level, str) or not level.strip():
            raise InputError(
                source, where, f"expected a scenario name or path, got {short_repr(level)}"
            )
    if len(set(spec)) != len(spec):
        raise InputError(source, where, "levels must not repeat")
    return tuple(spec)


def _check_range_spec(param: Parameter, spec: Any, source: str, where: str) -> None:
    """A range is a table of `min`, `max` (both required) and `levels`, for a number only."""
    if not isinstance(spec, dict):
        example = "[false, true]" if param.kind == "bool" else "{ min = ..., max = ... }"
        raise InputError(
            source,
            where,
            f"expected a list of levels or a range, e.g. {example}; got {short_repr(spec)}",
        )
    if not param.numeric:
        raise InputError(
            source,
            where,
            f"a {param.kind} factor takes a list of levels, e.g. {_levels_example(param)}",
        )
    for key in spec:
        if key not in RANGE_KEYS:
            raise InputError(
                source,
                f"{where}.{key}",
                "unknown key"
                + suggest(key, list(RANGE_KEYS))
                + f" (allowed: {', '.join(RANGE_KEYS)})",
            )
    for key in ("min", "max"):
        if key not in spec:
            raise InputError(source, f"{where}.{key}", "missing")


def _levels_example(param: Parameter) -> str:
    """A list of levels to show for a parameter that cannot take a range."""
    if param.kind == "bool":
        return "[false, true]"
    return f"{list(param.choices)}" if param.choices else '["2011-06", "2011-12"]'


def _grid_levels(
    param: Parameter, spec: dict[str, Any], low: Any, high: Any, source: str, where: str
) -> tuple[Any, ...]:
    """A grid's levels: `levels` values spread evenly from min to max (whole numbers for an
    int parameter, which must not repeat)."""
    if "levels" not in spec:
        raise InputError(
            source,
            f"{where}.levels",
            "missing: the grid sampler needs a count of levels (or give a list of levels)",
        )
    count = whole_number(spec["levels"], source, f"{where}.levels", 2, 10_000)
    values = np.linspace(low, high, count)
    if param.kind != "int":
        return tuple(float(round(v, 12)) for v in values)
    levels = tuple(dict.fromkeys(int(round(v)) for v in values))
    if len(levels) < count:
        raise InputError(
            source,
            f"{where}.levels",
            f"{count} levels from {low} to {high} would repeat whole numbers",
        )
    return levels


# ------------------------------------------------------------------------ scenarios
def base_scenarios(
    table: dict[str, Any], factors: list[Factor], folder: Path | None, source: str
) -> tuple[str, dict[str, Path], list[Factor]]:
    """The base scenario as written, the scenario factor's files by scenario name, and the
    factors with the scenario factor's levels turned into those names.

    Without a scenario factor the top-level `scenario` is required; with one it must be left
    out, and the factor's first level is the base."""
    varied = next((f for f in factors if f.path == SCENARIO_FACTOR), None)
    if varied is None:
        if "scenario" not in table:
            raise InputError(source, "scenario", "missing (required)")
        scenario = table["scenario"]
        if not isinstance(scenario, str) or not scenario.strip():
            hint = (
                " (to vary the scenario, make it a factor: [factors] scenario = [...])"
                if isinstance(scenario, list)
                else ""
            )
            raise InputError(
                source,
                "scenario",
                f"expected a scenario name or path, got {short_repr(scenario)}{hint}",
            )
        return scenario, {}, factors
    if "scenario" in table:
        raise InputError(
            source, "scenario", "is also a factor (factors.scenario); keep it in one place"
        )
    where = f"factors.{SCENARIO_FACTOR}"
    files: dict[str, Path] = {}
    for level in varied.levels:
        path = resolve_base_scenario(level, folder, source, where)
        try:
            name = load_scenario(path).name
        except InputError as exc:
            raise InputError(source, where, str(exc)) from None
        if not LEVEL_NAME.fullmatch(name):
            raise InputError(
                source,
                where,
                f"{path}: name: {short_repr(name)} cannot be a level of the scenario factor: "
                "the report's tables show it, so use letters, digits, spaces and _ - . ( ) +",
            )
        if name in files:
            raise InputError(
                source,
                where,
                f"{short_repr(level)} is also named {short_repr(name)}; the runs table tells "
                "scenarios apart by name, so give each a name of its own",
            )
        files[name] = path
    named = Factor(SCENARIO_FACTOR, varied.kind, tuple(files))
    factors = [named if f is varied else f for f in factors]
    return str(varied.levels[0]), files, factors


def resolve_base_scenario(
    scenario: str, folder: Path | None, source: str, where: str = "scenario"
) -> Path:
    """The base scenario's file. A name (no `.toml`, no folder separator) is a shipped
    scenario; an absolute path is used as it is; a relative path is looked up in the experiment
    file's `folder`, then among the shipped scenarios, and never in the current folder (a stray
    file there must not change a sweep's base scenario)."""
    if not looks_like_path(scenario):
        try:
            return resolve_scenario_path(scenario)
        except InputError as exc:
            raise InputError(source, where, str(exc)) from None
    path = Path(scenario)
    if path.is_absolute():
        return path
    places = ([folder] if folder is not None else []) + [scenario_dir()]
    for place in places:
        found = place / path
        if found.exists() or found.is_symlink():  # reading it says what is wrong with it
            return Path(os.path.abspath(found))
    shown = " or ".join(str(p) for p in places)
    raise InputError(
        source,
        where,
        f"no scenario file {short_repr(scenario)} in {shown} "
        "(a relative path is looked up beside the experiment, then among the shipped "
        "scenarios, never in the current folder)",
    )


# ------------------------------------------------------------------------ one field
def coerce_at(path: str, value: Any, source: str, where: str) -> Any:
    """`value` checked as parameter `path`; an error names the field `where` in the file."""
    try:
        return coerce(path, value, source)
    except InputError as exc:
        raise InputError(source, where, exc.message) from None


def whole_number(value: Any, source: str, where: str, low: int, high: int) -> int:
    """`value` as a whole number from `low` to `high`; an error names the field `where`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(source, where, f"expected a whole number, got {short_repr(value)}")
    if not low <= value <= high:
        raise InputError(
            source, where, f"must be between {low:,} and {high:,}, got {short_repr(value)}"
        )
    return value
