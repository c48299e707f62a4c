"""Scenarios: TOML data files naming parameter values, validated against the declarations."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from cbsim.inputs.errors import InputError, printable, short_repr, suggest
from cbsim.inputs.months import months_between, parse_month
from cbsim.inputs.parameters import Parameter, declared, defaults
from cbsim.inputs.reference import authority_names, department_names
from cbsim.inputs.toml_file import locate, parse_toml, read_input_bytes, shown_name

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
META_KEYS = ("name", "description", "sources")


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: its metadata and the value of every parameter."""

    name: str
    description: str
    sources: tuple[str, ...]
    path: str
    values: dict[str, Any] = field(repr=False)

    def with_overrides(self, overrides: dict[str, Any], source: str = "override") -> Scenario:
        """A copy with some dotted-path values replaced (validated, converted)."""
        if not overrides:
            return self
        values = dict(self.values)
        for path, value in overrides.items():
            values[path] = coerce(path, value, source)
        check_consistency(values, source)
        return Scenario(self.name, self.description, self.sources, self.path, values)


def scenario_dir() -> Path:
    """Folder of the shipped scenarios (the repository's `scenarios/`, or the packaged copy)."""
    if SCENARIO_DIR.is_dir():
        return SCENARIO_DIR
    return Path(__file__).resolve().parents[1] / "scenarios"


def available_scenarios() -> list[Scenario]:
    """The shipped scenarios, sorted by name."""
    return [load_scenario(p) for p in sorted(scenario_dir().glob("*.toml"))]


def resolve_scenario_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A scenario's file: a path as given, or the name of a file in `scenarios/`."""
    return locate(name_or_path, "scenario", scenario_dir())


def load_scenario(scenario: str | os.PathLike[str] | Scenario) -> Scenario:
    """Load and validate a scenario by name or path; a Scenario is returned as it is."""
    if isinstance(scenario, Scenario):
        return scenario
    path = resolve_scenario_path(scenario)
    spec = _parse_file(read_input_bytes(path, "scenario"), shown_name(path), path.stem)
    # a fresh copy each time: a model that changes its parameters must not change the cache
    return replace(
        spec, values={k: list(v) if isinstance(v, list) else v for k, v in spec.values.items()}
    )


@lru_cache(maxsize=64)
def _parse_file(raw: bytes, shown: str, stem: str) -> Scenario:
    """Decode, parse and validate a scenario file's bytes (cached by content)."""
    table = parse_toml(raw, shown).table
    if not flatten(table):
        raise InputError(
            shown,
            None,
            "sets nothing (no name, no parameter); an empty file is refused rather "
            "than run as the defaults",
        )
    return scenario_from_table(table, shown, default_name=stem)


def scenario_from_table(table: dict, source: str, default_name: str = "scenario") -> Scenario:
    """Validate a parsed scenario table (metadata + nested parameter tables)."""
    name = table.get("name", default_name)
    description = table.get("description", "")
    sources = table.get("sources", [])
    if not isinstance(name, str) or not name:
        raise InputError(source, "name", "must be a non-empty string")
    if (
        len(name) > 100
        or name.startswith(".")
        or not name.isprintable()
        or any(c in name for c in "/\\:")
    ):
        raise InputError(
            source,
            "name",
            f"{short_repr(name)} is not a plain name (it names "
            "output folders: no '/', '\\', ':' or leading '.')",
        )
    if not isinstance(description, str):
        raise InputError(source, "description", "must be a string")
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise InputError(source, "sources", "must be a list of strings")
    values = defaults()
    seen: set[str] = set()
    for path, value in flatten({k: v for k, v in table.items() if k not in META_KEYS}):
        if path in seen:
            raise InputError(source, printable(path), "given twice")
        seen.add(path)
        values[path] = coerce(path, value, source)
    check_consistency(values, source)
    return Scenario(name, description, tuple(sources), source, values)


def flatten(table: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested TOML tables as (dotted path, value) pairs.

    Only known sections are descended into; a declared path or an unknown key stops the
    descent, so `coerce` reports it (an empty known section gives nothing).
    """
    pairs = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path in _sections():
            pairs += flatten(value, prefix=f"{path}.")
        else:
            pairs.append((path, value))
    return pairs


@lru_cache(maxsize=1)
def _sections() -> frozenset[str]:
    """Every proper prefix of a declared path: `timeline`, `departments`, `departments.DWP`."""
    return frozenset(
        ".".join(parts[:i])
        for parts in (p.split(".") for p in declared())
        for i in range(1, len(parts))
    )


def coerce(path: str, value: Any, source: str) -> Any:
    """Check `value` against the declaration of `path`; return it in canonical form."""
    param = declared().get(path)
    if param is None:
        raise _unknown(path, value, source)
    return _coerce_value(param, value, source)


def _unknown(path: str, value: Any, source: str) -> InputError:
    """The error for a path that names no parameter, with the nearest valid name."""
    parts = path.split(".")
    if parts[0] == "departments" and len(parts) > 1 and parts[1] not in department_names():
        names = sorted(department_names())
        return InputError(
            source,
            printable(".".join(parts[:2])),
            f"unknown department {short_repr(parts[1])}"
            + suggest(parts[1], names)
            + f" (known: {', '.join(names)})",
        )
    if path in _sections():
        example = next(p for p in declared() if p.startswith(f"{path}."))
        return InputError(
            source,
            printable(path),
            f"is a section, not a parameter: give "
            f"its parameters (e.g. {example}), not {short_repr(value)}",
        )
    return InputError(
        source, printable(path), "unknown parameter" + suggest(path, [*declared(), *_sections()])
    )


class _Refused(Exception):
    """A value that does not fit its parameter; `_coerce_value` names the file and field."""


def _coerce_value(p: Parameter, value: Any, source: str) -> Any:
    """`value` checked against `p` by its kind, in canonical form."""
    check = _CHECKS.get(p.kind)
    if check is None:
        raise AssertionError(f"undeclared kind {p.kind}")
    try:
        return check(p, value)
    except _Refused as exc:
        raise InputError(source, p.path, str(exc)) from None


def _as_bool(p: Parameter, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Refused(f"expected true or false, got {short_repr(value)}")
    return value


def _as_number(p: Parameter, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Refused(f"expected a number ({p.unit}), got {short_repr(value)}")
    if p.kind == "int" and isinstance(value, float) and not value.is_integer():
        raise _Refused(f"expected a whole number, got {short_repr(value)}")
    if p.min is None or p.max is None:
        raise AssertionError(f"{p.path} is numeric but has no range")
    # ints compare exactly however large; NaN and infinities fail too
    if value != value or not p.min <= value <= p.max:
        raise _Refused(f"{short_repr(value)} is out of range [{p.min:g}, {p.max:g}] ({p.unit})")
    return int(value) if p.kind == "int" else float(value)


def _as_month(p: Parameter, value: Any) -> str:
    try:
        parse_month(value)
    except ValueError as exc:
        raise _Refused(str(exc)) from None
    return str(value)


def _as_stance(p: Parameter, value: Any) -> str:
    if value not in p.choices:
        raise _Refused(
            f"expected one of {', '.join(p.choices)}, got {short_repr(value)}"
            + suggest(str(value), list(p.choices))
        )
    return str(value)


def _as_names(p: Parameter, value: Any) -> list[str]:
    """A list of authority names, or of choices, each known and none repeated."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Refused(f"expected a list of names, got {short_repr(value)}")
    known = authority_names() if p.kind == "authorities" else p.choices
    for item in value:
        if item not in known:
            kind = "authority" if p.kind == "authorities" else "choice"
            raise _Refused(f"unknown {kind} {short_repr(item)}" + suggest(item, list(known)))
    if len(set(value)) != len(value):
        raise _Refused("names must not repeat")
    return list(value)


_CHECKS: dict[str, Callable[[Parameter, Any], Any]] = {
    "bool": _as_bool,
    "float": _as_number,
    "int": _as_number,
    "month": _as_month,
    "stance": _as_stance,
    "authorities": _as_names,
    "choices": _as_names,
}


def check_consistency(values: dict[str, Any], source: str) -> None:
    """Checks that involve more than one parameter (dates in order)."""
    start, end = values["timeline.start"], values["timeline.end"]
    if months_between(start, end) < 1:
        raise InputError(source, "timeline.end", f"{end} must come after timeline.start {start}")
    if months_between(start, end) > 600:
        raise InputError(source, "timeline.end", "runs are limited to 600 months")
    target = values["timeline.target_date"]
    if not 0 <= months_between(start, target) <= months_between(start, end):
        raise InputError(
            source,
            "timeline.target_date",
            f"{target} must lie between timeline.start {start} and timeline.end {end}",
        )
    for path, p in declared().items():
        if path.endswith(".stance"):
            floor = path.removesuffix(".stance") + ".floor"
            floor_applies = values[f"{floor}_from"] <= start < values[f"{floor}_until"]
            below = p.choices.index(values[path]) < p.choices.index(values[floor])
            if floor_applies and below:
                raise InputError(
                    source,
                    path,
                    f"{values[path]!r} is below the department's floor {values[floor]!r}",
                )


def parse_set_option(text: str, source: str = "--set") -> tuple[str, Any]:
    """Parse `PATH=VALUE` (VALUE in TOML syntax, or a bare word taken as a string)."""
    path, equals, raw = (part.strip() for part in text.partition("="))
    if not equals or not path:
        raise InputError(
            source,
            None,
            f"expected PATH=VALUE, e.g. offer.national_pooling=true, got {short_repr(text)}",
        )
    if path not in declared():
        raise _unknown(path, raw, source)
    if not raw:
        hint = " (write [] for an empty list)" if isinstance(declared()[path].default, list) else ""
        raise InputError(source, path, "no value after '='" + hint)
    if raw.isdigit() and len(raw) > 4000:
        raise InputError(source, path, f"a {len(raw)}-digit number is out of range")
    return path, coerce(path, _set_value(raw), source)


def parse_set_options(texts: list[str], source: str = "--set") -> dict[str, Any]:
    """Every `PATH=VALUE` of a command line, in order; a path given twice is refused (the
    second would silently win)."""
    overrides: dict[str, Any] = {}
    for text in texts:
        path, value = parse_set_option(text, source)
        if path in overrides:
            raise InputError(source, path, "given twice; give each parameter once")
        overrides[path] = value
    return overrides


def _set_value(raw: str) -> Any:
    """A `--set` value read as one TOML value; anything else is taken as a bare string."""
    try:
        table = tomllib.loads(f"v = {raw}")
    except (ValueError, RecursionError):  # TOMLDecodeError is a ValueError
        return raw
    return table["v"] if list(table) == ["v"] else raw  # `1\nx = 2` is not one value
