"""Every tunable parameter of cbsim, declared once: path, unit, default, range, meaning, basis.

The declarations are data, `cbsim/inputs/data/parameters.toml`: the general parameters, and
the fields every department has (their defaults come from `departments.toml`). This module
reads and checks that file once. Scenarios, `--set`, experiments (sweep factors), the workshop
sliders and the docs all read this one table.

Every parameter states its basis: `source: sources.md — <original source>` (a fact in
docs/sources.md), `calibrated` (set so that the historical scenarios reproduce what happened,
docs/ODD.md §8) or `assumption` (no source; a modelling judgement).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import resources
from typing import Any

from cbsim.inputs.errors import InputError, short_repr, suggest
from cbsim.inputs.months import parse_month
from cbsim.inputs.reference import (
    STANCES,
    DepartmentInfo,
    authority_names,
    departments,
    pilot_councils,
)
from cbsim.inputs.toml_file import parse_toml

DATA_FILE = "cbsim/inputs/data/parameters.toml"
DEPARTMENTS_FILE = "cbsim/inputs/data/departments.toml"
KINDS = ("float", "int", "bool", "month", "stance", "authorities", "choices")
SOURCE_PREFIX = "source: sources.md — "
BASES = ("calibrated", "assumption")  # and SOURCE_PREFIX + a citation

_PARAMETER_KEYS = (
    *("path", "kind", "unit", "default", "default_from", "min", "max"),
    *("choices", "main", "description", "basis"),
)
_DEPARTMENT_KEYS = ("field", "kind", "unit", "min", "max", "main_for", "description")
_COMPUTED_DEFAULTS: dict[str, Callable[[], Any]] = {
    "pilot_councils": lambda: list(pilot_councils()),
}
_TAG = re.compile(r"\[\s*(assumption|calibrated)", re.IGNORECASE)


@dataclass(frozen=True)
class Parameter:
    """One tunable parameter.

    kind is one of: float, int, bool, month (`YYYY-MM`), stance (withhold|align|pool),
    authorities (list of authority names), choices (list drawn from `choices`).
    basis is `source: sources.md — <citation>`, `calibrated` or `assumption`.
    """

    path: str
    kind: str
    unit: str
    default: Any
    min: float | None
    max: float | None
    description: str
    choices: tuple[str, ...] = ()
    main: bool = False  # a main incentive: shown as a slider/switch in the workshop view
    basis: str = "assumption"

    @property
    def numeric(self) -> bool:
        """True for float and int parameters (the ones with a range)."""
        return self.kind in ("float", "int")


def basis_problem(basis: Any) -> str | None:
    """Why `basis` is not a valid basis (None when it is): `calibrated`, `assumption`, or
    `source: sources.md — ` followed by the original source."""
    if basis in BASES:
        return None
    if isinstance(basis, str) and basis.startswith(SOURCE_PREFIX):
        citation = basis.removeprefix(SOURCE_PREFIX)
        if len(citation.strip()) >= 4 and any(c.isalpha() for c in citation):
            return None
        return f"a source must cite something after {SOURCE_PREFIX!r}, got {short_repr(basis)}"
    return (
        f"expected {SOURCE_PREFIX!r} and a citation, 'calibrated' or 'assumption'; "
        f"got {short_repr(basis)}"
    )


# ------------------------------------------------------------------------ the table
@cache
def declared() -> dict[str, Parameter]:
    """All parameters keyed by dotted path, with their built-in defaults."""
    raw = resources.files("cbsim.inputs.data").joinpath("parameters.toml").read_bytes()
    return declarations(parse_toml(raw, DATA_FILE).table, departments())


def defaults() -> dict[str, Any]:
    """The built-in default value of every parameter, keyed by dotted path."""
    return {path: _copy(p.default) for path, p in declared().items()}


def parameters(scenario: Any = None) -> list[Parameter]:
    """Every tunable parameter; with a scenario, `default` is that scenario's value."""
    if scenario is None:
        return list(declared().values())
    from cbsim.inputs.scenario import load_scenario

    values = load_scenario(scenario).values
    return [replace(p, default=_copy(values[p.path])) for p in declared().values()]


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


# ------------------------------------------------------------------------ reading the data
def declarations(table: dict[str, Any], depts: tuple[DepartmentInfo, ...]) -> dict[str, Parameter]:
    """The parameters a parsed `parameters.toml` declares (general ones first, then each
    department's), each checked; a problem is an InputError naming the file and the field."""
    for key in table:
        if key not in ("parameter", "department_parameter"):
            raise InputError(DATA_FILE, key, "unknown table (parameter, department_parameter)")
    general = [_general(e, w) for e, w in _entries(table, "parameter")]
    templates = [_template(e, w) for e, w in _entries(table, "department_parameter")]
    per_department = [_for_department(t, d) for d in depts for t in templates]
    for d in depts:
        _check_department_bases(d, [t["field"] for t in templates])
    declared_: dict[str, Parameter] = {}
    for p in general + per_department:
        if p.path in declared_:
            raise InputError(DATA_FILE, p.path, "declared twice")
        _check(p)
        declared_[p.path] = p
    return declared_


def _entries(table: dict[str, Any], name: str) -> list[tuple[dict[str, Any], str]]:
    """The `[[name]]` tables, each with the field its messages name."""
    entries = table.get(name, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(DATA_FILE, name, f"expected [[{name}]] tables")
    return [(e, f"{name}[{i}]") for i, e in enumerate(entries)]


def _check_keys(entry: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in entry:
        if key not in allowed:
            raise InputError(
                DATA_FILE, f"{where}.{key}", "unknown key" + suggest(key, list(allowed))
            )
    for key in ("kind", "unit", "description"):
        if not isinstance(entry.get(key), str):
            raise InputError(DATA_FILE, f"{where}.{key}", "missing (a string is required)")


def _general(entry: dict[str, Any], where: str) -> Parameter:
    """One `[[parameter]]` table as a Parameter."""
    _check_keys(entry, _PARAMETER_KEYS, where)
    path = entry.get("path")
    if not isinstance(path, str):
        raise InputError(DATA_FILE, f"{where}.path", "missing (a dotted path is required)")
    if "basis" not in entry:
        raise InputError(DATA_FILE, f"{path}.basis", "missing: every parameter states its basis")
    if ("default" in entry) == ("default_from" in entry):
        raise InputError(DATA_FILE, path, "give one of default and default_from")
    if "default" in entry:
        default = entry["default"]
    elif entry["default_from"] in _COMPUTED_DEFAULTS:
        default = _COMPUTED_DEFAULTS[entry["default_from"]]()
    else:
        known = list(_COMPUTED_DEFAULTS)
        raise InputError(DATA_FILE, f"{path}.default_from", f"unknown (one of {', '.join(known)})")
    return Parameter(
        path,
        entry["kind"],
        entry["unit"],
        default,
        entry.get("min"),
        entry.get("max"),
        entry["description"],
        _choices(entry, path),
        entry.get("main", False),
        entry["basis"],
    )


def _choices(entry: dict[str, Any], path: str) -> tuple[str, ...]:
    """A parameter's choices: the stances for a stance, the listed ones for a choices list."""
    if entry["kind"] == "stance":
        return STANCES
    if entry["kind"] != "choices":
        if "choices" in entry:
            raise InputError(DATA_FILE, f"{path}.choices", "only for a choices parameter")
        return ()
    choices = entry.get("choices")
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        raise InputError(DATA_FILE, f"{path}.choices", "expected a list of names")
    return tuple(choices)


def _template(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """One `[[department_parameter]]` table: a field of departments.toml's tables."""
    _check_keys(entry, _DEPARTMENT_KEYS, where)
    fields_ = {f.name for f in fields(DepartmentInfo)} - {"name", "basis"}
    if entry.get("field") not in fields_:
        raise InputError(
            DATA_FILE,
            f"{where}.field",
            f"expected a field of departments.toml, got {short_repr(entry.get('field'))}",
        )
    main_for = entry.get("main_for", [])
    if not isinstance(main_for, list) or not all(isinstance(n, str) for n in main_for):
        raise InputError(DATA_FILE, f"{where}.main_for", "expected a list of departments")
    return entry


def _for_department(template: dict[str, Any], d: DepartmentInfo) -> Parameter:
    """A department's parameter: its value and basis from departments.toml."""
    name = template["field"]
    description = template["description"].replace("{department}", d.name)
    return Parameter(
        f"departments.{d.name}.{name}",
        template["kind"],
        template["unit"],
        getattr(d, name),
        template.get("min"),
        template.get("max"),
        description.replace("{source}", d.source),
        _choices(template, f"departments.{d.name}.{name}"),
        d.name in template.get("main_for", []),
        d.basis.get(name, ""),
    )


def _check_department_bases(d: DepartmentInfo, names: list[str]) -> None:
    """A department's [NAME.basis] table gives a basis for each of its parameters, no more."""
    for name in names:
        if name not in d.basis:
            raise InputError(
                DEPARTMENTS_FILE,
                f"{d.name}.basis.{name}",
                "missing: every parameter states its basis",
            )
    for name in d.basis:
        if name not in names:
            raise InputError(
                DEPARTMENTS_FILE, f"{d.name}.basis.{name}", "unknown field" + suggest(name, names)
            )


# ------------------------------------------------------------------------ checking a parameter
def _check(p: Parameter) -> None:
    """A declaration that makes sense: a known kind, a basis, a default of its kind in range."""
    if not all(part.isidentifier() for part in p.path.split(".")) or "." not in p.path:
        raise InputError(DATA_FILE, p.path, "not a dotted path of names")
    if p.kind not in KINDS:
        raise InputError(DATA_FILE, p.path, f"unknown kind {p.kind!r} (one of {', '.join(KINDS)})")
    if not p.unit or not p.description.strip():
        raise InputError(DATA_FILE, p.path, "needs a unit and a description")
    if _TAG.search(p.description):
        raise InputError(DATA_FILE, p.path, "the basis goes in `basis`, not the description")
    problem = basis_problem(p.basis)
    if problem:
        raise InputError(DATA_FILE, f"{p.path}.basis", problem)
    if not isinstance(p.main, bool):
        raise InputError(DATA_FILE, f"{p.path}.main", "expected true or false")
    _check_range(p)
    if not _DEFAULT_FITS[p.kind](p, p.default):
        raise InputError(
            DATA_FILE, f"{p.path}.default", f"{short_repr(p.default)} is not a valid {p.kind}"
        )


def _check_range(p: Parameter) -> None:
    """Numbers have a range of their own type that holds the default; others have none."""
    if not p.numeric:
        if p.min is not None or p.max is not None:
            raise InputError(DATA_FILE, p.path, f"a {p.kind} parameter has no min or max")
        return
    number = int if p.kind == "int" else float
    for name, value in (("min", p.min), ("max", p.max), ("default", p.default)):
        if type(value) is not number:
            raise InputError(
                DATA_FILE, f"{p.path}.{name}", f"expected a {p.kind}, got {short_repr(value)}"
            )
    assert p.min is not None and p.max is not None
    if not p.min <= p.default <= p.max:
        raise InputError(
            DATA_FILE, f"{p.path}.default", f"{p.default} is outside [{p.min}, {p.max}]"
        )


def _is_month(value: Any) -> bool:
    try:
        parse_month(value)
    except ValueError:
        return False
    return True


def _is_list_of(value: Any, known: Any) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(v, str) and v in known for v in value)
        and len(set(value)) == len(value)
    )


_DEFAULT_FITS: dict[str, Callable[[Parameter, Any], bool]] = {
    "float": lambda p, v: True,  # checked with the range
    "int": lambda p, v: True,
    "bool": lambda p, v: isinstance(v, bool),
    "month": lambda p, v: _is_month(v),
    "stance": lambda p, v: v in p.choices,
    "authorities": lambda p, v: _is_list_of(v, authority_names()),
    "choices": lambda p, v: _is_list_of(v, p.choices),
}
