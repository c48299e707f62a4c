"""Calibration files: priors on declared parameters and historical targets (TOML data).

A calibration file (``calibrations/*.toml``; its keys are described in docs/calibration.md)
names priors on declared float parameters (``[priors]``: uniform within the declared range, or
log-normal truncated to it) and historical targets (``[[targets]]``: an outcome of a scenario,
averaged over ``runs`` seeds, with an ``observed`` value and ``scale`` or bounds ``min``/``max``;
``holdout = true`` keeps it for validation). It is validated in full before anything runs or is
written; every problem is one `InputError` naming the file and the field (``targets[2].outcome``
is the ``outcome`` of the second ``[[targets]]`` table).

A month outcome (``first_cash_month``) needs ``by = "YYYY-MM"``, a word outcome
(``stance_DWP_final``) ``equals = "align"``: the target is then the share of runs in which the
month came by then, or the outcome took that word. `scale` is required with `observed`; for
bounds it defaults to ``max - min`` when both are given, else to the size of the one bound (1
for a bound of 0). Outcome names are checked against one run of each target's scenario, made by
a function the caller passes in (this layer does not import the model).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cbsim.inputs.errors import InputError, short_repr, suggest
from cbsim.inputs.experiment import resolve_base_scenario
from cbsim.inputs.factors import whole_number
from cbsim.inputs.months import parse_month
from cbsim.inputs.parameters import Parameter, declared
from cbsim.inputs.scenario import Scenario, load_scenario
from cbsim.inputs.toml_file import locate, read_toml

CALIBRATION_DIR = Path(__file__).resolve().parents[2] / "calibrations"
TOP_KEYS = ("description", "seed", "abc", "priors", "targets")
ABC_KEYS = ("population", "max_generations", "min_acceptance_rate")
DISTRIBUTIONS = {"uniform": ("min", "max"), "lognormal": ("median", "sigma")}
TARGET_KEYS = (
    *("name", "scenario", "outcome", "runs", "observed", "scale", "min", "max"),
    *("by", "equals", "source", "holdout"),
)
STANCES = ("withhold", "align", "pool")
MAX_SEED = 2**32 - 1  # numpy's legacy global seed
MAX_POPULATION = 100_000
MAX_GENERATIONS = 100
MAX_TARGET_RUNS = 10_000
MAX_SIGMA = 5.0
DEFAULT_RUNS = 10

OutcomeSampler = Callable[[Scenario], Mapping[str, Any]]


@dataclass(frozen=True)
class Prior:
    """A prior on one declared parameter: uniform on [a, b], or log-normal with median a and
    log-sigma b, truncated to [low, high] (the declared range; for uniform, [a, b])."""

    path: str
    dist: str
    a: float
    b: float
    low: float
    high: float

    def describe(self) -> str:
        """One phrase: `uniform(0.5, 6)` or `lognormal(median 0.6, sigma 1) on [0, 10]`."""
        if self.dist == "uniform":
            return f"uniform({self.a:g}, {self.b:g})"
        return f"lognormal(median {self.a:g}, sigma {self.b:g}) on [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Target:
    """One historical pattern: an outcome of a scenario, its value or bounds, and its source."""

    name: str
    scenario: str  # as written
    scenario_path: Path
    outcome: str
    runs: int
    observed: float | None
    scale: float
    low: float | None  # `min`
    high: float | None  # `max`
    source: str
    holdout: bool = False
    by: str | None = None
    equals: str | None = None

    def value(self, outcomes: Mapping[str, Any]) -> float:
        """This target's value in one run's outcomes (0/1 for `by` and `equals`)."""
        value = outcomes[self.outcome]
        if self.by is not None:
            return float(value is not None and parse_month(str(value)) <= parse_month(self.by))
        if self.equals is not None:
            return float(value == self.equals)
        return float(value)

    def deviation(self, value: float) -> float:
        """The scaled deviation: (value - observed) / scale, or, for bounds, how far `value`
        lies outside [min, max] divided by scale (0 inside)."""
        if self.observed is not None:
            return (value - self.observed) / self.scale
        if self.low is not None and value < self.low:
            return (self.low - value) / self.scale
        if self.high is not None and value > self.high:
            return (value - self.high) / self.scale
        return 0.0

    def describe(self) -> dict[str, Any]:
        """JSON-friendly content (for the manifest): the file's keys and values."""
        keys = ("name", "scenario", "outcome", "by", "equals", "runs", "observed")
        return {
            **{k: getattr(self, k) for k in keys},
            **{"min": self.low, "max": self.high, "scale": self.scale},
            **{"source": self.source, "holdout": self.holdout},
        }


@dataclass(frozen=True)
class Calibration:
    """A validated calibration file."""

    name: str
    description: str
    source: str
    path: Path
    seed: int
    population: int
    max_generations: int
    min_acceptance_rate: float
    priors: tuple[Prior, ...]
    targets: tuple[Target, ...]
    scenarios: dict[Path, Scenario] = field(repr=False)  # every target's scenario, loaded
    text: str = field(default="", repr=False)

    @property
    def paths(self) -> list[str]:
        """The calibrated parameters, in file order."""
        return [p.path for p in self.priors]

    @property
    def fitted(self) -> tuple[Target, ...]:
        """The targets used for fitting."""
        return tuple(t for t in self.targets if not t.holdout)

    @property
    def holdouts(self) -> tuple[Target, ...]:
        """The targets held out for validation."""
        return tuple(t for t in self.targets if t.holdout)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly content (for the manifest)."""
        abc = ("population", "max_generations", "min_acceptance_rate")
        return {
            **{"name": self.name, "description": self.description, "seed": self.seed},
            "abc": {k: getattr(self, k) for k in abc},
            "priors": {p.path: p.describe() for p in self.priors},
            "targets": [t.describe() for t in self.targets],
        }

    def fingerprint(self) -> str:
        """A hash of everything that decides the fit (not the description, not the sources)."""
        content = {
            **self.summary(),
            "name": None,
            "description": None,
            "priors": [vars(p) for p in self.priors],
            "targets": [
                {**t.describe(), "source": None, "scenario": self.scenarios[t.scenario_path].values}
                for t in self.targets
            ],
        }
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------ finding files
def calibration_dir() -> Path:
    """Folder of the shipped calibrations (the repository's `calibrations/` or packaged copy)."""
    if CALIBRATION_DIR.is_dir():
        return CALIBRATION_DIR
    return Path(__file__).resolve().parents[1] / "calibrations"


def resolve_calibration_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A calibration's file: a path as given, or the name of a file in `calibrations/`."""
    return locate(name_or_path, "calibration", calibration_dir())


def load_calibration(
    name_or_path: str | os.PathLike[str], sample_outcomes: OutcomeSampler
) -> Calibration:
    """Load and validate a calibration by name or path. `sample_outcomes(scenario)` returns
    one run's outcomes, against which the targets' outcome names and kinds are checked."""
    path = resolve_calibration_path(name_or_path)
    read = read_toml(path, "calibration")
    return calibration_from_table(
        read.table,
        read.source,
        sample_outcomes,
        name=path.stem,
        path=Path(os.path.abspath(path)),
        text=read.text,
    )


# ------------------------------------------------------------------------ validation
def calibration_from_table(
    table: dict[str, Any],
    source: str,
    sample_outcomes: OutcomeSampler,
    name: str = "calibration",
    path: Path | None = None,
    text: str = "",
) -> Calibration:
    """Validate a parsed calibration table; raise InputError(source, field, ...) on a problem.
    `path` is the file (a relative scenario path is looked up beside it)."""
    _check_keys(table, TOP_KEYS, source, "")
    _require(table, ("seed", "abc", "priors", "targets"), source, "")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise InputError(source, "description", "must be a string")
    seed = whole_number(table["seed"], source, "seed", 0, MAX_SEED)
    abc = _abc(table["abc"], source)
    priors = _priors(table["priors"], source)
    folder = path.parent if path is not None else None
    targets, scenarios = _targets(table["targets"], source, folder, sample_outcomes)
    file = path if path is not None else Path(source)
    return Calibration(
        name, description, source, file, seed, *abc, tuple(priors), tuple(targets), scenarios, text
    )


def _check_keys(table: dict[str, Any], allowed: tuple[str, ...], source: str, where: str) -> None:
    """Refuse a key not in `allowed`, naming it and the closest allowed key."""
    for key in table:
        if key not in allowed:
            hint = suggest(key, list(allowed)) + f" (allowed: {', '.join(allowed)})"
            raise InputError(source, f"{where}{key}", f"unknown key{hint}")


def _require(table: dict[str, Any], keys: tuple[str, ...], source: str, where: str) -> None:
    """Refuse a table without one of `keys`."""
    for key in keys:
        if key not in table:
            raise InputError(source, f"{where}{key}", "missing (required)")


def _table(value: Any, source: str, where: str, example: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(source, where, f"expected a table, e.g. {example}")
    return value


def _number(value: Any, source: str, where: str) -> float:
    """A finite number (the reader has already refused nan and inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(source, where, f"expected a number, got {short_repr(value)}")
    return float(value)


def _abc(value: Any, source: str) -> tuple[int, int, float]:
    """The `[abc]` table: population, max_generations and min_acceptance_rate."""
    table = _table(value, source, "abc", "[abc] population = 400")
    _check_keys(table, ABC_KEYS, source, "abc.")
    _require(table, ("population", "max_generations"), source, "abc.")
    population = whole_number(table["population"], source, "abc.population", 2, MAX_POPULATION)
    most = MAX_GENERATIONS
    generations = whole_number(table["max_generations"], source, "abc.max_generations", 1, most)
    rate = _number(table.get("min_acceptance_rate", 0.0), source, "abc.min_acceptance_rate")
    if not 0.0 <= rate < 1.0:
        raise InputError(source, "abc.min_acceptance_rate", f"must be in [0, 1), got {rate:g}")
    return population, generations, rate


# ------------------------------------------------------------------------ priors
def _priors(value: Any, source: str) -> list[Prior]:
    table = _table(value, source, "priors", '[priors] "council.speed" = { dist = "uniform", ... }')
    pairs = list(_prior_pairs(table))
    if not pairs:
        raise InputError(source, "priors", "needs at least one parameter")
    return [_prior(path, spec, source) for path, spec in pairs]


def _prior_pairs(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(path, spec) pairs; nested tables (`[priors.council]`) are followed down to a spec."""
    pairs: list[tuple[str, Any]] = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        nested = isinstance(value, dict) and "dist" not in value and path not in declared()
        pairs += _prior_pairs(value, f"{path}.") if nested and value else [(path, value)]
    return pairs


def _prior(path: str, spec: Any, source: str) -> Prior:
    """One prior, checked against the parameter's declaration."""
    where = f"priors.{path}"
    param = _prior_parameter(path, source, where)
    spec = _table(spec, source, where, '{ dist = "uniform", min = 0.5, max = 4.0 }')
    dist = spec.get("dist")
    if dist not in DISTRIBUTIONS:
        hint = suggest(str(dist), list(DISTRIBUTIONS)) + f" (one of {', '.join(DISTRIBUTIONS)})"
        problem = "missing" if dist is None else f"unknown distribution {short_repr(dist)}"
        raise InputError(source, f"{where}.dist", problem + hint)
    keys = ("dist", *DISTRIBUTIONS[dist])
    _check_keys(spec, keys, source, f"{where}.")
    for key in keys[1:]:
        if key not in spec:
            raise InputError(source, f"{where}.{key}", f"missing (a {dist} prior needs it)")
    a = _number(spec[keys[1]], source, f"{where}.{keys[1]}")
    b = _number(spec[keys[2]], source, f"{where}.{keys[2]}")
    low = -math.inf if param.min is None else float(param.min)
    high = math.inf if param.max is None else float(param.max)
    declared_range = f"the declared range of {path} is [{_show(low)}, {_show(high)}]"
    if dist == "uniform":
        if not a < b:
            raise InputError(source, where, f"min {a:g} must be below max {b:g}")
        for key, x in (("min", a), ("max", b)):
            if not low <= x <= high:
                message = f"{x:g} is outside the parameter's range: {declared_range}"
                raise InputError(source, f"{where}.{key}", message)
        return Prior(path, dist, a, b, a, b)
    low = max(low, 0.0)
    if not low < a < high:
        raise InputError(
            source, f"{where}.median", f"{a:g} is outside the parameter's range: {declared_range}"
        )
    if not 0.0 < b <= MAX_SIGMA:
        raise InputError(source, f"{where}.sigma", f"must be above 0 and at most {MAX_SIGMA:g}")
    return Prior(path, dist, a, b, low, high)


def _prior_parameter(path: str, source: str, where: str) -> Parameter:
    param = declared().get(path)
    if param is None:
        raise InputError(source, where, "unknown parameter" + suggest(path, list(declared())))
    if param.kind != "float":
        raise InputError(
            source, where, f"a {param.kind} parameter cannot be calibrated (only float ones)"
        )
    return param


def _show(x: float) -> str:
    return "-inf" if x == -math.inf else "inf" if x == math.inf else f"{x:g}"


# ------------------------------------------------------------------------ targets
def _targets(
    value: Any, source: str, folder: Path | None, sample_outcomes: OutcomeSampler
) -> tuple[list[Target], dict[Path, Scenario]]:
    """The `[[targets]]` tables, their scenarios loaded and their outcomes checked."""
    if not isinstance(value, list) or not value:
        raise InputError(source, "targets", "expected at least one [[targets]] table")
    targets: list[Target] = []
    scenarios: dict[Path, Scenario] = {}
    samples: dict[Path, Mapping[str, Any]] = {}
    for number, spec in enumerate(value, start=1):
        where = f"targets[{number}]"
        spec = _table(spec, source, where, '[[targets]] name = "..."')
        _check_keys(spec, TARGET_KEYS, source, f"{where}.")
        _require(spec, ("name", "scenario", "outcome", "source"), source, f"{where}.")
        path = _target_scenario(spec["scenario"], folder, source, f"{where}.scenario")
        if path not in scenarios:
            try:
                scenarios[path] = load_scenario(path)
            except InputError as exc:
                raise InputError(source, f"{where}.scenario", str(exc)) from None
            samples[path] = sample_outcomes(scenarios[path])
        targets.append(_target(spec, path, samples[path], source, where))
    names = [t.name for t in targets]
    for number, name in enumerate(names, start=1):
        if names.index(name) != number - 1:
            raise InputError(source, f"targets[{number}].name", f"{name!r} is used twice")
    if all(t.holdout for t in targets):
        raise InputError(source, "targets", "every target is held out; at least one must be fitted")
    return targets, scenarios


def _target_scenario(value: Any, folder: Path | None, source: str, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            source, where, f"expected a scenario name or path, got {short_repr(value)}"
        )
    try:
        return Path(os.path.abspath(resolve_base_scenario(value, folder, source)))
    except InputError as exc:
        raise InputError(source, where, exc.message) from None


def _text(spec: dict[str, Any], key: str, source: str, where: str) -> str:
    value = spec[key]
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            source, f"{where}.{key}", f"expected a non-empty string, got {short_repr(value)}"
        )
    return value


def _target(
    spec: dict[str, Any], path: Path, sample: Mapping[str, Any], source: str, where: str
) -> Target:
    """One target: its outcome, what it asks for and how many runs it averages."""
    name = _text(spec, "name", source, where)
    outcome = _text(spec, "outcome", source, where)
    origin = _text(spec, "source", source, where)
    by, equals = _outcome_kind(spec, outcome, sample, source, where)
    runs = whole_number(spec.get("runs", DEFAULT_RUNS), source, f"{where}.runs", 1, MAX_TARGET_RUNS)
    holdout = spec.get("holdout", False)
    if not isinstance(holdout, bool):
        raise InputError(
            source, f"{where}.holdout", f"expected true or false, got {short_repr(holdout)}"
        )
    wanted = _wanted(spec, source, where)
    return Target(name, spec["scenario"], path, outcome, runs, *wanted, origin, holdout, by, equals)


def _outcome_kind(
    spec: dict[str, Any], outcome: str, sample: Mapping[str, Any], source: str, where: str
) -> tuple[str | None, str | None]:
    """Check the outcome against a sample run; return its `by` month or `equals` word."""
    if outcome not in sample:
        hint = suggest(outcome, list(sample)) + " (the keys of cbsim.simulate's result)"
        raise InputError(source, f"{where}.outcome", f"unknown outcome {outcome!r}{hint}")
    value = sample[outcome]
    month = value is None or (isinstance(value, str) and _is_month(value))
    kind = "month" if month else "word" if isinstance(value, str) else "number"
    by, equals = spec.get("by"), spec.get("equals")
    for key, given, fits in (("by", by, kind == "month"), ("equals", equals, kind == "word")):
        if given is not None and not fits:
            raise InputError(source, f"{where}.{key}", f"not for {outcome}, which is a {kind}")
    if kind == "month" and not (isinstance(by, str) and _is_month(by)):
        got = "missing" if by is None else f"got {short_repr(by)}"
        message = f'{outcome} is a month: give by = "YYYY-MM" (share of runs by then); {got}'
        raise InputError(source, f"{where}.by", message)
    words = STANCES if outcome.startswith("stance_") else None
    if kind == "word" and not (isinstance(equals, str) and (not words or equals in words)):
        got = "missing" if equals is None else f"got {short_repr(equals)}"
        hint = f"one of {', '.join(words)}" if words else "a word"
        message = f"{outcome} is a word: give equals = {hint} (share of runs with it); {got}"
        raise InputError(source, f"{where}.equals", message)
    return (by if kind == "month" else None), (equals if kind == "word" else None)


def _is_month(text: str) -> bool:
    try:
        parse_month(text)
    except ValueError:
        return False
    return True


def _wanted(
    spec: dict[str, Any], source: str, where: str
) -> tuple[float | None, float, float | None, float | None]:
    """`observed` and `scale`, or the bounds `min`/`max` and their scale (see the module)."""
    numbers = {
        key: _number(spec[key], source, f"{where}.{key}")
        for key in ("observed", "scale", "min", "max")
        if key in spec
    }
    observed, low, high = numbers.get("observed"), numbers.get("min"), numbers.get("max")
    scale = numbers.get("scale")
    if scale is not None and not scale > 0:
        raise InputError(source, f"{where}.scale", f"must be above 0, got {scale:g}")
    if observed is not None:
        if low is not None or high is not None:
            raise InputError(
                source,
                f"{where}.observed",
                "give either `observed` (with `scale`) or bounds (`min`, `max`), not both",
            )
        if scale is None:
            raise InputError(source, f"{where}.scale", "missing (`observed` needs a scale)")
        return observed, scale, None, None
    if low is None and high is None:
        raise InputError(
            source, where, "says nothing to fit: give `observed` and `scale`, or `min` and/or `max`"
        )
    if low is not None and high is not None and low > high:
        raise InputError(source, f"{where}.min", f"min {low:g} is above max {high:g}")
    if scale is None:
        if low is not None and high is not None and high > low:
            scale = high - low
        else:
            bound = low if low is not None else high
            scale = abs(bound) if bound else 1.0
    return None, scale, low, high
