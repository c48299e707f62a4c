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

The base scenario is a shipped scenario's name, or a file path: a relative path is looked up in
the experiment file's folder, then among the shipped scenarios, never in the current folder
(`Experiment.scenario_path` is the file found). A `scenario` factor (``[factors] scenario =
["baseline_2011", "troubled_families_2012"]``) varies it across design points instead: each
level is found the same way and loaded before any run, its levels become the scenarios'
names, and the top-level `scenario` is then left out (the first level is the base).

``paired = true`` gives every design point the same seeds, replicate by replicate (common
random numbers, `Experiment.seed_of`); ``series = true`` has a sweep keep every run's monthly
series. The design's size is checked by arithmetic
before any design is built: at most `MAX_POINTS` design points and `MAX_RUNS` runs (design
points x replicates).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cbsim.inputs.errors import InputError, short_repr, suggest
from cbsim.inputs.factors import (
    SCENARIO_FACTOR,
    Factor,
    base_scenarios,
    coerce_at,
    read_factors,
    resolve_base_scenario,
    whole_number,
)
from cbsim.inputs.scenario import Scenario, flatten, load_scenario
from cbsim.inputs.toml_file import locate, parse_toml, read_input_bytes, shown_name

EXPERIMENT_DIR = Path(__file__).resolve().parents[2] / "experiments"
SAMPLERS = ("grid", "lhs", "saltelli", "morris")
TOP_KEYS = (
    "description",
    "scenario",
    "replicates",
    "seed",
    "paired",
    "series",
    "sampler",
    "factors",
    "overrides",
)
SAMPLER_KEYS = {
    "grid": ("method",),
    "lhs": ("method", "samples"),
    "saltelli": ("method", "samples", "second_order"),
    "morris": ("method", "samples", "levels"),
}
MAX_POINTS = 200_000  # design points: a 9-factor lhs this size takes ~20 s, 430 MB to start
MAX_RUNS = 2_000_000  # runs: design points x replicates
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Experiment:
    """A validated experiment."""

    name: str
    description: str
    source: str
    scenario: str  # as written in the file
    scenario_path: Path  # the base scenario's file, found as `resolve_base_scenario` says
    replicates: int
    seed: int
    method: str
    samples: int | None
    factors: tuple[Factor, ...]
    overrides: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    text: str = field(default="", repr=False)
    paired: bool = False  # every design point gets the same seeds, replicate by replicate
    series: bool = False  # a sweep keeps every run's monthly series
    scenario_files: dict[str, Path] = field(default_factory=dict)  # the scenario factor's

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

    @property
    def varies_scenario(self) -> bool:
        """Whether a `scenario` factor varies the base scenario across design points."""
        return SCENARIO_FACTOR in self.factor_paths

    def seed_of(self, run_id: int) -> int:
        """The seed of run `run_id` (= design_point * replicates + replicate): from the run id,
        or, when `paired`, from the replicate alone (design point 0's seeds, for every point)."""
        return run_seed(self.seed, run_id % self.replicates if self.paired else run_id)

    def scenarios(self) -> dict[str, Scenario]:
        """The design points' base scenarios by name, the fixed overrides applied (the one
        base scenario, under its own name, when no factor varies it)."""
        if not self.varies_scenario:
            base = self.base_scenario()
            return {base.name: base}
        found = {}
        for name, path in self.scenario_files.items():
            try:
                spec = load_scenario(path)
            except InputError as exc:
                raise InputError(self.source, "factors.scenario", str(exc)) from None
            # the overrides must fit every level's scenario: name the one they do not fit
            where = f"{self.source}: overrides (on scenario {name})"
            found[name] = spec.with_overrides(self.overrides, source=where)
        return found

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
        if self.varies_scenario:  # keys only when used: older sweeps keep their fingerprint
            content["scenarios"] = {name: s.values for name, s in self.scenarios().items()}
        if self.paired:
            content["paired"] = True
        if self.series:
            content["series"] = True
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
            "paired": self.paired,
            "series": self.series,
        }

    def base_scenario(self) -> Scenario:
        """The base scenario with the experiment's fixed overrides applied."""
        try:
            spec = load_scenario(self.scenario_path)
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


def resolve_experiment_path(name_or_path: str | os.PathLike[str]) -> Path:
    """An experiment's file: a path as given, or the name of a file in `experiments/`."""
    return locate(name_or_path, "experiment", experiment_dir())


def load_experiment(name_or_path: str | os.PathLike[str] | Experiment) -> Experiment:
    """Load and validate an experiment by name or path; an Experiment is returned as it is."""
    if isinstance(name_or_path, Experiment):
        return name_or_path
    path = resolve_experiment_path(name_or_path)
    read = parse_toml(read_input_bytes(path, "experiment"), shown_name(path))
    return experiment_from_table(
        read.table,
        read.source,
        name=path.stem,
        text=read.text,
        folder=Path(os.path.abspath(path)).parent,
    )


# ------------------------------------------------------------------------ validation
def experiment_from_table(
    table: dict,
    source: str,
    name: str = "experiment",
    text: str = "",
    folder: Path | None = None,
) -> Experiment:
    """Validate a parsed experiment table; raise InputError(source, field, ...) on a problem.

    `folder` is the experiment file's folder, where a relative scenario path is looked up
    first (None for a table that comes from no file: only the shipped scenarios then)."""
    for key in table:
        if key not in TOP_KEYS:
            raise InputError(
                source,
                key,
                "unknown key" + suggest(key, list(TOP_KEYS)) + f" (allowed: {', '.join(TOP_KEYS)})",
            )
    for key in ("replicates", "seed", "sampler", "factors"):
        if key not in table:
            raise InputError(source, key, "missing (required)")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise InputError(source, "description", "must be a string")
    replicates = whole_number(table["replicates"], source, "replicates", 1, 1_000_000)
    seed = whole_number(table["seed"], source, "seed", 0, MAX_SEED)
    paired, series = (_flag(table, key, source) for key in ("paired", "series"))
    method, samples, options = _sampler(table["sampler"], source)
    overrides = _overrides(table.get("overrides", {}), source)
    factors = read_factors(table["factors"], source, method)
    for f in factors:
        if f.path in overrides:
            raise InputError(
                source, f"overrides.{f.path}", "is also a factor; keep it in one place"
            )
    scenario, files, factors = base_scenarios(table, factors, folder, source)
    experiment = Experiment(
        name,
        description,
        source,
        scenario,
        resolve_base_scenario(scenario, folder, source),
        replicates,
        seed,
        method,
        samples,
        tuple(factors),
        overrides,
        options,
        text,
        paired,
        series,
        files,
    )
    check_design_size(experiment)
    experiment.base_scenario()  # the scenario exists and the overrides fit it
    experiment.scenarios()  # ... and so does every scenario of the scenario factor
    return experiment


def _flag(table: dict[str, Any], key: str, source: str) -> bool:
    """An optional true/false key (false when absent)."""
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise InputError(source, key, f"expected true or false, got {short_repr(value)}")
    return value


def check_design_size(experiment: Experiment) -> None:
    """Refuse a design over MAX_POINTS design points or MAX_RUNS runs, by arithmetic, before
    any design is built (grid: the product of the levels; lhs: samples; saltelli:
    N(D + 2), or N(2D + 2) with second order; morris: trajectories (D + 1))."""
    points = experiment.n_points()
    if points > MAX_POINTS:
        field_ = "factors" if experiment.method == "grid" else "sampler.samples"
        raise InputError(
            experiment.source,
            field_,
            f"the {experiment.method} design has {points:,} design points "
            f"({_size_sum(experiment)}); at most {MAX_POINTS:,} are allowed",
        )
    runs = experiment.n_runs()
    if runs > MAX_RUNS:
        raise InputError(
            experiment.source,
            "replicates",
            f"{points:,} design points x {experiment.replicates:,} replicates = {runs:,} runs; "
            f"at most {MAX_RUNS:,} are allowed",
        )


def _size_sum(experiment: Experiment) -> str:
    """How the number of design points is worked out, e.g. `64 samples x (2*9 + 2)`."""
    k, n = len(experiment.factors), experiment.samples or 0
    if experiment.method == "grid":
        levels = [f"{len(f.levels):,}" for f in experiment.factors]
        shown = " x ".join(levels) if k <= 8 else f"the product of {k} factors' levels"
        return f"{shown} levels"
    if experiment.method == "lhs":
        return "one per sample"
    if experiment.method == "saltelli":
        d = f"2*{k} + 2" if experiment.options["second_order"] else f"{k} + 2"
        return f"{n:,} samples x ({d})"
    return f"{n:,} trajectories x ({k} + 1)"


def _sampler(table: Any, source: str) -> tuple[str, int | None, dict[str, Any]]:
    """The `[sampler]` table: its method, sample count (None for a grid) and options."""
    if not isinstance(table, dict):
        raise InputError(source, "sampler", 'expected a table, e.g. [sampler] method = "grid"')
    method = _sampler_method(table, source)
    if method == "grid":
        return method, None, {}
    if "samples" not in table:
        raise InputError(source, "sampler.samples", f"missing (the {method} sampler needs it)")
    samples = whole_number(table["samples"], source, "sampler.samples", 2, MAX_SEED)
    return method, samples, _sampler_options(table, method, samples, source)


def _sampler_method(table: dict[str, Any], source: str) -> str:
    """The sampler's method; every other key must be one of that method's settings."""
    method = table.get("method")
    if method is None:
        raise InputError(source, "sampler.method", f"missing (one of {', '.join(SAMPLERS)})")
    if method not in SAMPLERS:
        raise InputError(
            source,
            "sampler.method",
            f"unknown sampler {short_repr(method)}"
            + suggest(str(method), list(SAMPLERS))
            + f" (one of {', '.join(SAMPLERS)})",
        )
    allowed = SAMPLER_KEYS[method]
    for key in table:
        if key not in allowed:
            other = [m for m in SAMPLERS if key in SAMPLER_KEYS[m]]
            hint = (
                f" (used by {', '.join(other)} only)"
                if other
                else suggest(key, list(allowed)) + f" (allowed: {', '.join(allowed)})"
            )
            raise InputError(source, f"sampler.{key}", f"not a {method} setting{hint}")
    return str(method)


def _sampler_options(
    table: dict[str, Any], method: str, samples: int, source: str
) -> dict[str, Any]:
    """The settings of saltelli (`second_order`) and morris (`levels`)."""
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
        return {"second_order": second}
    if method == "morris":
        levels = whole_number(table.get("levels", 4), source, "sampler.levels", 2, 100)
        if levels % 2:
            raise InputError(source, "sampler.levels", f"must be even, got {levels}")
        return {"levels": levels}
    return {}


def _overrides(table: Any, source: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise InputError(source, "overrides", "expected a table of parameter values")
    values = {}
    for path, value in flatten(table):
        values[path] = coerce_at(path, value, source, f"overrides.{path}")
    return values
