"""Searches: the cheapest package of incentives that reaches a required P(target met) (TOML data).

A search file (``searches/*.toml``) names the levers (declared parameters, each a list of
levels or a range ``{ min, max }`` with an optional ``step``), the required probability, the
seeds each candidate runs on, the number of candidates tried, the base scenario and a master
seed (docs/policy.md). It is read by the one reader (`cbsim.inputs.toml_file.read_toml`) and
validated in full before any run; every problem is one `InputError(source, field, message)`.

The base scenario is found as an experiment's is (`resolve_base_scenario`): a name is a
shipped scenario, an absolute path is used as it is, a relative path is looked up beside the
search file, then among the shipped scenarios.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cbsim.inputs.errors import InputError, short_repr, suggest
from cbsim.inputs.experiment import MAX_RUNS, MAX_SEED, resolve_base_scenario
from cbsim.inputs.factors import Factor, coerce_at, read_factors, whole_number
from cbsim.inputs.scenario import Scenario, flatten, load_scenario
from cbsim.inputs.toml_file import locate, read_toml

SEARCH_DIR = Path(__file__).resolve().parents[2] / "searches"
TOP_KEYS = (
    *("description", "scenario", "required_p", "runs", "trials", "seed", "objective"),
    *("recheck_runs", "sampler", "levers", "overrides"),
)
REQUIRED = ("scenario", "runs", "trials", "seed", "levers")
OBJECTIVES = ("central_cost_m", "central_cost_m_at_target")
SAMPLERS = ("tpe", "nsga2")
LEVER_RANGE_KEYS = ("min", "max", "step")
RECHECK_CANDIDATES = 3  # feasible candidates re-checked on fresh seeds, cheapest first
MAX_TRIALS = 10_000
MAX_SEARCH_RUNS = 100_000  # seeds per candidate


@dataclass(frozen=True)
class Lever:
    """One lever of a search: a declared parameter and the values it may take (a list of
    levels, or a range drawn from in steps of `step` when given)."""

    factor: Factor
    step: float | None = None

    @property
    def path(self) -> str:
        """The lever's dotted parameter path."""
        return self.factor.path

    @property
    def most(self) -> Any:
        """The lever at its most generous: the last level, or the top of its range."""
        if self.factor.levels:
            return self.factor.levels[-1]
        return self._on_grid(self.factor.span()[1])

    @property
    def least(self) -> Any:
        """The lever at its least: the first level, or the bottom of its range."""
        if self.factor.levels:
            return self.factor.levels[0]
        return self.factor.span()[0]

    def _on_grid(self, high: float) -> Any:
        """`high`, brought down onto the range's steps (as optuna's would be)."""
        low, _ = self.factor.span()
        if self.step is None:
            return high
        value = low + self.step * int((high - low) / self.step + 1e-9)
        return int(value) if self.factor.kind == "int" else float(value)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description."""
        return {**self.factor.describe(), **({"step": self.step} if self.step else {})}


@dataclass(frozen=True)
class Search:
    """A validated search."""

    name: str
    description: str
    source: str
    scenario: str  # as written in the file
    scenario_path: Path
    levers: tuple[Lever, ...]
    required_p: float
    runs: int
    trials: int
    seed: int
    objective: str
    recheck_runs: int
    sampler: str
    overrides: dict[str, Any] = field(default_factory=dict)
    text: str = field(default="", repr=False)

    @property
    def lever_paths(self) -> list[str]:
        """Dotted paths of the levers, in file order."""
        return [lever.path for lever in self.levers]

    def base_scenario(self) -> Scenario:
        """The base scenario with the search's fixed overrides applied."""
        try:
            spec = load_scenario(self.scenario_path)
        except InputError as exc:
            raise InputError(self.source, "scenario", str(exc)) from None
        return spec.with_overrides(self.overrides, source=f"{self.source}: overrides")

    def summary(self) -> dict[str, Any]:
        """JSON-friendly content of the search."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "scenario": self.scenario,
            "required_p": self.required_p,
            "runs": self.runs,
            "trials": self.trials,
            "seed": self.seed,
            "objective": self.objective,
            "recheck_runs": self.recheck_runs,
            "sampler": self.sampler,
            "levers": [lever.describe() for lever in self.levers],
            "overrides": self.overrides,
        }


def search_dir() -> Path:
    """Folder of the shipped searches (the repository's `searches/` or the packaged copy)."""
    if SEARCH_DIR.is_dir():
        return SEARCH_DIR
    return Path(__file__).resolve().parents[1] / "searches"


def load_search(name_or_path: str | os.PathLike[str]) -> Search:
    """Load and validate a search by name (in `searches/`) or path."""
    path = locate(name_or_path, "search", search_dir())
    read = read_toml(path, kind="search")
    return search_from_table(
        read.table, read.source, path.stem, read.text, Path(os.path.abspath(path)).parent
    )


def search_from_table(
    table: dict[str, Any],
    source: str,
    name: str = "search",
    text: str = "",
    folder: Path | None = None,
) -> Search:
    """Validate a parsed search table; raise InputError(source, field, ...) on a problem."""
    _check_keys(table, source)
    description = table.get("description", "")
    if not isinstance(description, str):
        raise InputError(source, "description", "must be a string")
    scenario = table["scenario"]
    if not isinstance(scenario, str) or not scenario.strip():
        raise InputError(
            source, "scenario", f"expected a scenario name or path, got {short_repr(scenario)}"
        )
    runs = whole_number(table["runs"], source, "runs", 2, MAX_SEARCH_RUNS)
    trials = whole_number(table["trials"], source, "trials", 1, MAX_TRIALS)
    recheck = whole_number(table.get("recheck_runs", 400), source, "recheck_runs", 2, MAX_RUNS)
    total = runs * trials + recheck * RECHECK_CANDIDATES
    if total > MAX_RUNS:
        raise InputError(
            source,
            "trials",
            f"{trials:,} trials x {runs:,} runs + {RECHECK_CANDIDATES} x {recheck:,} re-check "
            f"runs = {total:,} runs; at most {MAX_RUNS:,} are allowed",
        )
    overrides = _overrides(table.get("overrides", {}), source)
    levers = read_levers(table["levers"], source)
    for lever in levers:
        if lever.path in overrides:
            raise InputError(
                source, f"overrides.{lever.path}", "is also a lever; keep it in one place"
            )
    search = Search(
        name=name,
        description=description,
        source=source,
        scenario=scenario,
        scenario_path=resolve_base_scenario(scenario, folder, source),
        levers=tuple(levers),
        required_p=_probability(table.get("required_p", 0.9), source),
        runs=runs,
        trials=trials,
        seed=whole_number(table["seed"], source, "seed", 0, MAX_SEED),
        objective=_choice(table.get("objective", OBJECTIVES[0]), OBJECTIVES, source, "objective"),
        recheck_runs=recheck,
        sampler=_choice(table.get("sampler", SAMPLERS[0]), SAMPLERS, source, "sampler"),
        overrides=overrides,
        text=text,
    )
    search.base_scenario()  # the scenario exists and the overrides fit it
    return search


def _check_keys(table: dict[str, Any], source: str) -> None:
    for key in table:
        if key not in TOP_KEYS:
            raise InputError(
                source,
                key,
                "unknown key" + suggest(key, list(TOP_KEYS)) + f" (allowed: {', '.join(TOP_KEYS)})",
            )
    for key in REQUIRED:
        if key not in table:
            raise InputError(source, key, "missing (required)")


def _probability(value: Any, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(source, "required_p", f"expected a number, got {short_repr(value)}")
    if not 0 < value <= 1:
        raise InputError(
            source, "required_p", f"must be above 0 and at most 1, got {short_repr(value)}"
        )
    return float(value)


def _choice(value: Any, allowed: tuple[str, ...], source: str, where: str) -> str:
    if value not in allowed:
        raise InputError(
            source,
            where,
            f"unknown {where} {short_repr(value)}"
            + suggest(str(value), list(allowed))
            + f" (one of {', '.join(allowed)})",
        )
    return str(value)


def read_levers(table: Any, source: str) -> list[Lever]:
    """The `[levers]` table: lists of levels, or ranges `{ min, max }` with an optional
    `step`; errors name the field `levers.PATH`."""
    if not isinstance(table, dict) or not table:
        raise InputError(
            source,
            "levers",
            'expected a table with at least one lever, e.g. "offer.funding_boost_m" = '
            "{ min = 0.0, max = 2.0, step = 0.05 }",
        )
    steps: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    for path, spec in flatten(table):
        if isinstance(spec, dict):
            _check_range_keys(path, spec, source)
            if "step" in spec:
                steps[path] = spec["step"]
            spec = {k: v for k, v in spec.items() if k != "step"}
        plain[path] = spec
    try:
        factors = read_factors(plain, source, "search")
    except InputError as exc:
        field_ = exc.field.replace("factors", "levers", 1) if exc.field else "levers"
        raise InputError(source, field_, exc.message) from None
    return [Lever(f, _step(f, steps.get(f.path), source)) for f in factors]


def _check_range_keys(path: str, spec: dict[str, Any], source: str) -> None:
    for key in spec:
        if key not in LEVER_RANGE_KEYS:
            raise InputError(
                source,
                f"levers.{path}.{key}",
                "unknown key"
                + suggest(key, list(LEVER_RANGE_KEYS))
                + f" (allowed: {', '.join(LEVER_RANGE_KEYS)})",
            )


def _step(factor: Factor, step: Any, source: str) -> float | None:
    """A range's step: a positive number no wider than the range (whole for an int lever)."""
    if step is None:
        return None
    where = f"levers.{factor.path}.step"
    if factor.levels:
        raise InputError(source, where, "a step is for a range { min, max }, not a list")
    if isinstance(step, bool) or not isinstance(step, int | float) or step <= 0:
        raise InputError(source, where, f"expected a number above 0, got {short_repr(step)}")
    low, high = factor.span()
    if step > high - low:
        raise InputError(source, where, f"{step} is wider than the range {low} to {high}")
    if factor.kind == "int" and step != int(step):
        raise InputError(source, where, f"an int lever steps by whole numbers, got {step}")
    return float(step)


def _overrides(table: Any, source: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise InputError(source, "overrides", "expected a table of parameter values")
    return {
        path: coerce_at(path, value, source, f"overrides.{path}") for path, value in flatten(table)
    }
