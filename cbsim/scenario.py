"""Scenarios: TOML data files naming parameter values, validated against the declarations."""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from cbsim.errors import InputError
from cbsim.months import months_between, parse_month
from cbsim.parameters import Parameter, declared, defaults
from cbsim.reference import authority_names

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
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
    return Path(__file__).resolve().parent / "scenarios"


def available_scenarios() -> list[Scenario]:
    """The shipped scenarios, sorted by name."""
    return [load_scenario(p) for p in sorted(scenario_dir().glob("*.toml"))]


def resolve_scenario_path(name_or_path: str | os.PathLike) -> Path:
    """A scenario's file: a path as given, or the name of a file in `scenarios/`."""
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix == ".toml" or os.sep in text or "/" in text:
        if not candidate.is_file():
            raise InputError(text, None, "no such scenario file")
        return candidate
    shipped = scenario_dir() / f"{text}.toml"
    if shipped.is_file():
        return shipped
    names = [p.stem for p in scenario_dir().glob("*.toml")]
    raise InputError(text, None, "unknown scenario" + _suggest(text, names)
                     + f" (known: {', '.join(sorted(names))})")


def load_scenario(scenario: str | os.PathLike | Scenario) -> Scenario:
    """Load and validate a scenario by name or path; a Scenario is returned as it is."""
    if isinstance(scenario, Scenario):
        return scenario
    path = resolve_scenario_path(scenario)
    return _load_file(str(path.resolve()), path.stat().st_mtime_ns, str(path))


@lru_cache(maxsize=64)
def _load_file(path: str, mtime_ns: int, shown: str) -> Scenario:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(shown, None, f"cannot read file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(shown, None, f"not UTF-8 text (byte {exc.start})") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(shown, None, f"malformed TOML: {exc}") from None
    return scenario_from_table(table, shown, default_name=Path(path).stem)


def scenario_from_table(table: dict, source: str, default_name: str = "scenario") -> Scenario:
    """Validate a parsed scenario table (metadata + nested parameter tables)."""
    name = table.get("name", default_name)
    description = table.get("description", "")
    sources = table.get("sources", [])
    if not isinstance(name, str) or not name:
        raise InputError(source, "name", "must be a non-empty string")
    if not isinstance(description, str):
        raise InputError(source, "description", "must be a string")
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise InputError(source, "sources", "must be a list of strings")
    values = defaults()
    for path, value in flatten({k: v for k, v in table.items() if k not in META_KEYS}):
        values[path] = coerce(path, value, source)
    check_consistency(values, source)
    return Scenario(name, description, tuple(sources), source, values)


def flatten(table: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested TOML tables as (dotted path, value) pairs; declared paths stop the descent."""
    pairs = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in declared():
            pairs += flatten(value, prefix=f"{path}.")
        else:
            pairs.append((path, value))
    return pairs


def coerce(path: str, value: Any, source: str) -> Any:
    """Check `value` against the declaration of `path`; return it in canonical form."""
    param = declared().get(path)
    if param is None:
        raise InputError(source, path, "unknown parameter" + _suggest(path, list(declared())))
    return _coerce_value(param, value, source)


def _coerce_value(p: Parameter, value: Any, source: str) -> Any:
    def fail(message: str) -> InputError:
        return InputError(source, p.path, message)

    if p.kind == "bool":
        if not isinstance(value, bool):
            raise fail(f"expected true or false, got {value!r}")
        return value
    if p.kind in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f"expected a number ({p.unit}), got {value!r}")
        if p.kind == "int" and not float(value).is_integer():
            raise fail(f"expected a whole number, got {value!r}")
        if value != value or not p.min <= value <= p.max:  # NaN fails too
            raise fail(f"{value!r} is out of range [{p.min:g}, {p.max:g}] ({p.unit})")
        return int(value) if p.kind == "int" else float(value)
    if p.kind == "month":
        try:
            parse_month(value)
        except ValueError as exc:
            raise fail(str(exc)) from None
        return value
    if p.kind == "stance":
        if value not in p.choices:
            raise fail(f"expected one of {', '.join(p.choices)}, got {value!r}"
                       + _suggest(str(value), list(p.choices)))
        return value
    if p.kind in ("authorities", "choices"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"expected a list of names, got {value!r}")
        known = authority_names() if p.kind == "authorities" else p.choices
        for item in value:
            if item not in known:
                kind = "authority" if p.kind == "authorities" else "choice"
                raise fail(f"unknown {kind} {item!r}" + _suggest(item, list(known)))
        if len(set(value)) != len(value):
            raise fail("names must not repeat")
        return list(value)
    raise AssertionError(f"undeclared kind {p.kind}")


def check_consistency(values: dict[str, Any], source: str) -> None:
    """Checks that involve more than one parameter (dates in order)."""
    start, end = values["timeline.start"], values["timeline.end"]
    if months_between(start, end) < 1:
        raise InputError(source, "timeline.end", f"{end} must come after timeline.start {start}")
    if months_between(start, end) > 600:
        raise InputError(source, "timeline.end", "runs are limited to 600 months")
    target = values["timeline.target_date"]
    if not 0 <= months_between(start, target) <= months_between(start, end):
        raise InputError(source, "timeline.target_date",
                         f"{target} must lie between timeline.start {start} and "
                         f"timeline.end {end}")
    for path, p in declared().items():
        if path.endswith(".stance"):
            floor = path.removesuffix(".stance") + ".floor"
            if p.choices.index(values[path]) < p.choices.index(values[floor]):
                raise InputError(source, path, f"{values[path]!r} is below the department's "
                                 f"floor {values[floor]!r}")


def parse_set_option(text: str, source: str = "--set") -> tuple[str, Any]:
    """Parse `PATH=VALUE` (VALUE in TOML syntax, or a bare word taken as a string)."""
    if "=" not in text:
        raise InputError(source, text, "expected PATH=VALUE, e.g. offer.national_pooling=true")
    path, raw = (part.strip() for part in text.split("=", 1))
    if path not in declared():
        raise InputError(source, path, "unknown parameter" + _suggest(path, list(declared())))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, coerce(path, value, source)


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
