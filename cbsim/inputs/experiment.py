"""Experiments: a base scenario, factors, a sampler, replicates and a master seed (TOML data).

An experiment file (``experiments/*.toml``) is validated in full against the parameter
declarations before any run starts; every problem is one `InputError` naming the file and
the field. Sampling is deterministic: the same file gives the same design and the same run
seeds on any machine.

Samplers: ``grid`` (full factorial over levels), ``lhs`` (Latin hypercube), ``saltelli``
(Sobol' sequence for Sobol indices) and ``morris`` (elementary-effect trajectories); the last
three come from SALib. For the last three a factor given as a list of levels (booleans,
stances, or numbers) is sampled as a uniform number u in [0, 1] cut into equal bins, so
``[false, true]`` is false for u < 0.5 and true otherwise; a whole-number range is sampled
uniformly over its whole numbers.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cbsim.inputs.errors import InputError
from cbsim.inputs.parameters import declared
from cbsim.inputs.scenario import Scenario, coerce, flatten, load_scenario

EXPERIMENT_DIR = Path(__file__).resolve().parents[2] / "experiments"
SAMPLERS = ("grid", "lhs", "saltelli", "morris")
TOP_KEYS = ("description", "scenario", "replicates", "seed", "sampler", "factors", "overrides")
SAMPLER_KEYS = {
    "grid": ("method",),
    "lhs": ("method", "samples"),
    "saltelli": ("method", "samples", "second_order"),
    "morris": ("method", "samples", "levels"),
}
FACTOR_KINDS = ("float", "int", "bool", "stance", "month")
RANGE_KEYS = ("min", "max", "levels")
MAX_RUNS = 10_000_000
MAX_SEED = 2**63 - 1


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
        if self.kind == "int":  # each whole number gets an equal share of the range
            return (self.low - 0.5, self.high + 0.5)
        return (self.low, self.high)

    def value(self, x: float) -> Any:
        """The parameter value for a raw sample `x` (a level index on a grid)."""
        if self.levels:
            k = len(self.levels)
            return self.levels[min(max(int(math.floor(x * k)), 0), k - 1)]
        if self.kind == "int":
            return int(min(max(round(x), self.low), self.high))
        return float(min(max(x, self.low), self.high))

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (for the manifest and the report)."""
        if self.levels:
            return {"path": self.path, "kind": self.kind, "levels": list(self.levels)}
        return {"path": self.path, "kind": self.kind, "min": self.low, "max": self.high}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment."""

    name: str
    description: str
    source: str
    scenario: str
    replicates: int
    seed: int
    method: str
    samples: int | None
    factors: tuple[Factor, ...]
    overrides: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    text: str = field(default="", repr=False)

    @property
    def factor_paths(self) -> list[str]:
        """Dotted paths of the factors, in file order."""
        return [f.path for f in self.factors]

    def problem(self) -> dict[str, Any]:
        """The SALib problem (names and raw bounds) for lhs, saltelli and morris designs."""
        return {
            "num_vars": len(self.factors),
            "names": self.factor_paths,
            "bounds": [list(f.bounds) for f in self.factors],
        }

    def raw_design(self) -> np.ndarray:
        """The sampler's matrix, one row per design point (level indices for a grid)."""
        if self.method == "grid":
            axes = [range(len(f.levels)) for f in self.factors]
            return np.array(list(itertools.product(*axes)), dtype=float).reshape(
                -1, len(self.factors)
            )
        problem = self.problem()
        if self.method == "lhs":
            from SALib.sample import latin

            return latin.sample(problem, self.samples, seed=self.seed)
        if self.method == "saltelli":
            from SALib.sample import sobol

            return sobol.sample(
                problem,
                self.samples,
                seed=self.seed,
                calc_second_order=self.options["second_order"],
            )
        from SALib.sample import morris

        return morris.sample(
            problem, self.samples, num_levels=self.options["levels"], seed=self.seed
        )

    def design(self, raw: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Parameter values of every design point, as override dicts by dotted path."""
        raw = self.raw_design() if raw is None else raw
        if self.method == "grid":
            return [
                {f.path: f.levels[int(i)] for f, i in zip(self.factors, row, strict=True)}
                for row in raw
            ]
        return [{f.path: f.value(x) for f, x in zip(self.factors, row, strict=True)} for row in raw]

    def n_points(self) -> int:
        """Number of design points the sampler makes."""
        k, n = len(self.factors), self.samples or 0
        if self.method == "grid":
            return math.prod(len(f.levels) for f in self.factors)
        if self.method == "lhs":
            return n
        if self.method == "saltelli":
            return n * (2 * k + 2 if self.options["second_order"] else k + 2)
        return n * (k + 1)

    def n_runs(self) -> int:
        """Number of runs: design points times replicates."""
        return self.n_points() * self.replicates

    def fingerprint(self, scenario: Scenario) -> str:
        """A hash of everything that decides the runs' results (not the description)."""
        content = {
            "scenario": scenario.values,
            "replicates": self.replicates,
            "seed": self.seed,
            "method": self.method,
            "samples": self.samples,
            "options": self.options,
            "overrides": self.overrides,
            "factors": [f.describe() for f in self.factors],
        }
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def summary(self) -> dict[str, Any]:
        """JSON-friendly content of the experiment (for the manifest)."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "scenario": self.scenario,
            "replicates": self.replicates,
            "seed": self.seed,
            "sampler": {"method": self.method, "samples": self.samples, **self.options},
            "factors": [f.describe() for f in self.factors],
            "overrides": self.overrides,
        }

    def base_scenario(self) -> Scenario:
        """The base scenario with the experiment's fixed overrides applied."""
        try:
            spec = load_scenario(self.scenario)
        except InputError as exc:
            raise InputError(self.source, "scenario", str(exc)) from None
        return spec.with_overrides(self.overrides, source=f"{self.source}: overrides")


def run_seed(master_seed: int, run_id: int) -> int:
    """The seed of run `run_id`: from `SeedSequence([master_seed, run_id])`, below 2**63."""
    state = np.random.SeedSequence([master_seed, run_id]).generate_state(1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))


# ------------------------------------------------------------------------ finding files
def experiment_dir() -> Path:
    """Folder of the shipped experiments (the repository's `experiments/` or packaged copy)."""
    if EXPERIMENT_DIR.is_dir():
        return EXPERIMENT_DIR
    return Path(__file__).resolve().parents[1] / "experiments"


def resolve_experiment_path(name_or_path: str | os.PathLike) -> Path:
    """An experiment's file: a path as given, or the name of a file in `experiments/`."""
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix == ".toml" or os.sep in text or "/" in text:
        if not candidate.is_file():
            raise InputError(text, None, "no such experiment file")
        return candidate
    shipped = experiment_dir() / f"{text}.toml"
    if shipped.is_file():
        return shipped
    names = sorted(p.stem for p in experiment_dir().glob("*.toml"))
    raise InputError(
        text, None, "unknown experiment" + _suggest(text, names) + f" (known: {', '.join(names)})"
    )


def load_experiment(name_or_path: str | os.PathLike | Experiment) -> Experiment:
    """Load and validate an experiment by name or path; an Experiment is returned as it is."""
    if isinstance(name_or_path, Experiment):
        return name_or_path
    path = resolve_experiment_path(name_or_path)
    shown = str(name_or_path) if str(name_or_path).endswith(".toml") else str(path)
    try:
        raw = path.read_bytes()
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
    return experiment_from_table(table, shown, name=path.stem, text=text)


# ------------------------------------------------------------------------ validation
def experiment_from_table(
    table: dict, source: str, name: str = "experiment", text: str = ""
) -> Experiment:
    """Validate a parsed experiment table; raise InputError(source, field, ...) on a problem."""
    for key in table:
        if key not in TOP_KEYS:
            raise InputError(
                source,
                key,
                "unknown key"
                + _suggest(key, list(TOP_KEYS))
                + f" (allowed: {', '.join(TOP_KEYS)})",
            )
    for key in ("scenario", "replicates", "seed", "sampler", "factors"):
        if key not in table:
            raise InputError(source, key, "missing (required)")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise InputError(source, "description", "must be a string")
    scenario = table["scenario"]
    if not isinstance(scenario, str) or not scenario.strip():
        raise InputError(
            source, "scenario", f"expected a scenario name or path, got {_show(scenario)}"
        )
    replicates = _whole(table["replicates"], source, "replicates", 1, 1_000_000)
    seed = _whole(table["seed"], source, "seed", 0, MAX_SEED)
    method, samples, options = _sampler(table["sampler"], source)
    overrides = _overrides(table.get("overrides", {}), source)
    factors = _factors(table["factors"], source, method)
    for f in factors:
        if f.path in overrides:
            raise InputError(
                source, f"overrides.{f.path}", "is also a factor; keep it in one place"
            )
    experiment = Experiment(
        name,
        description,
        source,
        _scenario_ref(scenario, source),
        replicates,
        seed,
        method,
        samples,
        tuple(factors),
        overrides,
        options,
        text,
    )
    if experiment.n_runs() > MAX_RUNS:
        raise InputError(
            source,
            "replicates",
            f"the design makes {experiment.n_runs():,} runs; at most {MAX_RUNS:,} are allowed",
        )
    experiment.base_scenario()  # the scenario exists and the overrides fit it
    return experiment


def _scenario_ref(scenario: str, source: str) -> str:
    """A scenario path relative to the experiment file's folder, if it names a file."""
    looks_like_path = scenario.endswith(".toml") or "/" in scenario or os.sep in scenario
    if looks_like_path and not Path(scenario).is_absolute():
        beside = Path(source).parent / scenario
        if beside.is_file() and not Path(scenario).is_file():
            return str(beside)
    return scenario


def _sampler(table: Any, source: str) -> tuple[str, int | None, dict[str, Any]]:
    if not isinstance(table, dict):
        raise InputError(source, "sampler", 'expected a table, e.g. [sampler] method = "grid"')
    method = table.get("method")
    if method is None:
        raise InputError(source, "sampler.method", f"missing (one of {', '.join(SAMPLERS)})")
    if method not in SAMPLERS:
        raise InputError(
            source,
            "sampler.method",
            f"unknown sampler {_show(method)}"
            + _suggest(str(method), list(SAMPLERS))
            + f" (one of {', '.join(SAMPLERS)})",
        )
    allowed = SAMPLER_KEYS[method]
    for key in table:
        if key not in allowed:
            other = [m for m in SAMPLERS if key in SAMPLER_KEYS[m]]
            hint = (
                f" (used by {', '.join(other)} only)"
                if other
                else _suggest(key, list(allowed)) + f" (allowed: {', '.join(allowed)})"
            )
            raise InputError(source, f"sampler.{key}", f"not a {method} setting{hint}")
    options: dict[str, Any] = {}
    samples = None
    if method != "grid":
        if "samples" not in table:
            raise InputError(source, "sampler.samples", f"missing (the {method} sampler needs it)")
        samples = _whole(table["samples"], source, "sampler.samples", 2, MAX_RUNS)
    if method == "saltelli":
        if samples & (samples - 1):
            raise InputError(
                source,
                "sampler.samples",
                f"must be a power of 2 for the Sobol' "
                f"sequence, e.g. {1 << (samples.bit_length() - 1)} or "
                f"{1 << samples.bit_length()}; got {samples}",
            )
        second = table.get("second_order", False)
        if not isinstance(second, bool):
            raise InputError(source, "sampler.second_order", "expected true or false")
        options["second_order"] = second
    if method == "morris":
        levels = _whole(table.get("levels", 4), source, "sampler.levels", 2, 100)
        if levels % 2:
            raise InputError(source, "sampler.levels", f"must be even, got {levels}")
        options["levels"] = levels
    return method, samples, options


def _overrides(table: Any, source: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise InputError(source, "overrides", "expected a table of parameter values")
    values = {}
    for path, value in flatten(table):
        values[path] = _coerce(path, value, source, f"overrides.{path}")
    return values


def _factors(table: Any, source: str, method: str) -> list[Factor]:
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
            and value
            and not set(value) <= set(RANGE_KEYS)
        )
        pairs += _factor_pairs(value, f"{path}.") if nested else [(path, value)]
    return pairs


def _factor(path: str, spec: Any, source: str, method: str) -> Factor:
    where = f"factors.{path}"
    param = declared().get(path)
    if param is None:
        raise InputError(source, where, "unknown parameter" + _suggest(path, list(declared())))
    if param.kind not in FACTOR_KINDS:
        raise InputError(
            source,
            where,
            f"a {param.kind} parameter cannot be a factor "
            "(set it in the scenario or in [overrides])",
        )
    if isinstance(spec, list):
        if not spec:
            raise InputError(source, where, "needs at least one level")
        levels = tuple(_coerce(path, v, source, where) for v in spec)
        if len(set(levels)) != len(levels):
            raise InputError(source, where, "levels must not repeat")
        return Factor(path, param.kind, levels)
    if not isinstance(spec, dict):
        example = "[false, true]" if param.kind == "bool" else "{ min = ..., max = ... }"
        raise InputError(
            source,
            where,
            f"expected a list of levels or a range, e.g. {example}; got {_show(spec)}",
        )
    if not param.numeric:
        raise InputError(
            source,
            where,
            f"a {param.kind} factor takes a list of levels, e.g. "
            + (
                "[false, true]"
                if param.kind == "bool"
                else f"{list(param.choices)}"
                if param.choices
                else '["2011-06", "2011-12"]'
            ),
        )
    for key in spec:
        if key not in RANGE_KEYS:
            raise InputError(
                source,
                f"{where}.{key}",
                "unknown key"
                + _suggest(key, list(RANGE_KEYS))
                + f" (allowed: {', '.join(RANGE_KEYS)})",
            )
    for key in ("min", "max"):
        if key not in spec:
            raise InputError(source, f"{where}.{key}", "missing")
    low = _coerce(path, spec["min"], source, f"{where}.min")
    high = _coerce(path, spec["max"], source, f"{where}.max")
    if not low < high:
        raise InputError(source, where, f"min {low!r} must be below max {high!r}")
    if method != "grid":
        if "levels" in spec:
            raise InputError(
                source,
                f"{where}.levels",
                f"a count of levels is for the grid "
                f"sampler; {method} draws from the range [min, max]",
            )
        return Factor(path, param.kind, (), low, high)
    if "levels" not in spec:
        raise InputError(
            source,
            f"{where}.levels",
            "missing: the grid sampler needs a count of levels (or give a list of levels)",
        )
    count = _whole(spec["levels"], source, f"{where}.levels", 2, 10_000)
    values = np.linspace(low, high, count)
    if param.kind == "int":
        levels = tuple(dict.fromkeys(int(round(v)) for v in values))
        if len(levels) < count:
            raise InputError(
                source,
                f"{where}.levels",
                f"{count} levels from {low} to {high} would repeat whole numbers",
            )
    else:
        levels = tuple(float(round(v, 12)) for v in values)
    return Factor(path, param.kind, levels)


def _coerce(path: str, value: Any, source: str, where: str) -> Any:
    try:
        return coerce(path, value, source)
    except InputError as exc:
        raise InputError(source, where, exc.message) from None


def _whole(value: Any, source: str, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(source, where, f"expected a whole number, got {_show(value)}")
    if not low <= value <= high:
        raise InputError(source, where, f"must be between {low:,} and {high:,}, got {_show(value)}")
    return value


def _show(value: Any, limit: int = 40) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"a {int(value.bit_length() * 0.30103) + 1}-digit number"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
