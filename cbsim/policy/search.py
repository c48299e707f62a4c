"""`search`: the cheapest package of incentives that reaches the required P(target met)
(docs/policy.md).

Optuna proposes packages (values of the search's levers); each is run on the same `runs`
seeds (common random numbers: `cbsim.policy.runs.common_seeds(seed, runs)`), giving its
P(target met) and its mean cost to the centre (the search's `objective`, `central_cost_m` over
the run by default). The sampler is seeded and constrained: TPE (or NSGA-II) with
``constraints_func`` = [required_p - P] (feasible when <= 0), minimising the mean cost. The
first two trials are enqueued: every lever at its most generous (so a feasible package is
known early) and every lever at its least (the base scenario's package, usually free).

The winner is the cheapest feasible package on the search's seeds; it is re-checked on
`recheck_runs` fresh seeds (`common_seeds(seed, recheck_runs, first=runs)`, never used by the
search), P reported with a Wilson interval. If the fresh P falls below the requirement, the
next cheapest feasible package is re-checked, up to `RECHECK_CANDIDATES` in all.

Candidates are proposed one at a time (the sampler sees every result before the next
proposal), so the answer does not depend on where the runs run: with workers > 1 each
candidate's seeds are split among the workers of the sweep's local process pool, and with a
Dask `scheduler` (an address, or ``local`` for a LocalCluster of `workers` processes) among
the cluster's workers (`cbsim.policy.runner`).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cbsim.inputs.search import RECHECK_CANDIDATES, Lever, Search
from cbsim.policy.runner import PackageRunner
from cbsim.policy.runs import Draw, common_seeds, draws_for
from cbsim.policy.stats import Interval, wilson_interval


@dataclass(frozen=True)
class Candidate:
    """A package tried: its lever values, P(target met) and mean costs on the search's seeds."""

    trial: int
    levers: dict[str, Any]
    p: float
    cost_m: float  # the mean of the search's objective
    central_cost_m: float
    central_cost_m_at_target: float
    feasible: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "trial": self.trial,
            "levers": self.levers,
            "p": self.p,
            "cost_m": self.cost_m,
            "central_cost_m": self.central_cost_m,
            "central_cost_m_at_target": self.central_cost_m_at_target,
            "feasible": self.feasible,
        }


@dataclass(frozen=True)
class Recheck:
    """A feasible package run again on fresh seeds."""

    candidate: Candidate
    runs: int
    p: Interval  # Wilson 95%
    cost_m: float
    passed: bool  # P on the fresh seeds >= required_p

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "trial": self.candidate.trial,
            "levers": self.candidate.levers,
            "runs": self.runs,
            "p": self.p.as_dict(),
            "cost_m": self.cost_m,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class SearchResult:
    """A finished search."""

    search: Search
    candidates: tuple[Candidate, ...]  # in trial order (a repeated package keeps its first)
    trials: int  # packages proposed (repeats included)
    rechecks: tuple[Recheck, ...]
    runs_done: int
    seconds: float
    workers: int  # the engine's workers (a Dask cluster's: its threads)
    posterior: str | None = None
    frontier: tuple[int, ...] = field(default=())  # trials on the cost/P frontier
    engine: str = "in-process (1 worker)"  # where the runs ran (the engine's label)
    scheduler: str | None = None  # the Dask scheduler's address, or "local"

    @property
    def winner(self) -> Recheck | None:
        """The cheapest feasible package that passed its re-check, if any."""
        return next((r for r in self.rechecks if r.passed), None)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (what `--out` writes as search_summary.json)."""
        winner = self.winner
        return {
            "search": self.search.summary(),
            "posterior": self.posterior,
            "engine": self.engine,
            "scheduler": self.scheduler,
            "workers": self.workers,
            "trials": self.trials,
            "packages": len(self.candidates),
            "feasible": sum(c.feasible for c in self.candidates),
            "runs": self.runs_done,
            "seconds": round(self.seconds, 2),
            "winner": None if winner is None else winner.as_dict(),
            "rechecks": [r.as_dict() for r in self.rechecks],
            "frontier": [c.as_dict() for c in self.candidates if c.trial in self.frontier],
        }


# ------------------------------------------------------------------------ the search
def _sampler(search: Search) -> Any:
    import optuna

    def constraints(trial: Any) -> list[float]:
        return [search.required_p - trial.user_attrs["p"]]

    seed = search.seed % 2**32
    if search.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints)
    return optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)


def suggest(trial: Any, lever: Lever) -> Any:
    """The trial's value for `lever`: a level, or a number in its range (on its steps)."""
    f = lever.factor
    if f.levels:
        return trial.suggest_categorical(f.path, list(f.levels))
    low, high = f.span()
    if f.kind == "int":
        return trial.suggest_int(f.path, int(low), int(high), step=int(lever.step or 1))
    return round(trial.suggest_float(f.path, low, high, step=lever.step), 12)


def run_search(
    search: Search,
    *,
    workers: int = 1,
    draw: Draw | None = None,
    posterior: str | None = None,
    scheduler: str | None = None,
) -> SearchResult:
    """Run `search` (see the module docstring) and return its result.

    `workers`: local processes (1: this process); with `scheduler`, the processes of a
    LocalCluster (``"local"``), ignored for an address (``"tcp://HOST:PORT"``: the cluster's
    own workers). A bad address, or a scheduler that does not answer within the sweep's
    deadlines, is one CbsimError line naming --scheduler, before any run. `draw` gives each
    seed its parameters; `posterior` (the draw's folder) is recorded in the result.
    """
    import optuna

    started = time.perf_counter()
    spec = search.base_scenario()
    seeds = common_seeds(search.seed, search.runs)
    draws = draws_for(seeds, draw)
    runner = PackageRunner(spec, workers, scheduler)
    try:
        candidates, trials = _propose(search, runner, seeds, draws, optuna)
        fresh = common_seeds(search.seed, search.recheck_runs, first=search.runs)
        rechecks = _recheck(search, runner, candidates, fresh, draws_for(fresh, draw))
    finally:
        runner.close()
    return SearchResult(
        search=search,
        candidates=tuple(candidates),
        trials=trials,
        rechecks=tuple(rechecks),
        runs_done=runner.runs_done,
        seconds=time.perf_counter() - started,
        workers=runner.workers,
        posterior=posterior,
        frontier=frontier(candidates),
        engine=runner.label,
        scheduler=scheduler,
    )


def _propose(
    search: Search,
    runner: PackageRunner,
    seeds: list[int],
    draws: list[dict[str, Any]],
    optuna: Any,
) -> tuple[list[Candidate], int]:
    """Ask the sampler for `search.trials` packages, run each new one on the common seeds."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna's experimental and step-rounding warnings
        study = optuna.create_study(direction="minimize", sampler=_sampler(search))
        study.enqueue_trial({lever.path: lever.most for lever in search.levers})
        study.enqueue_trial({lever.path: lever.least for lever in search.levers})
        seen: dict[tuple[Any, ...], Candidate] = {}
        for _ in range(search.trials):
            trial = study.ask()
            levers = {lever.path: suggest(trial, lever) for lever in search.levers}
            key = tuple(levers.values())
            if key not in seen:
                rows = runner.run(levers, seeds, draws)
                seen[key] = _candidate(search, trial.number, levers, rows)
            candidate = seen[key]
            trial.set_user_attr("p", candidate.p)
            study.tell(trial, candidate.cost_m)
    return list(seen.values()), search.trials


def _candidate(search: Search, number: int, levers: dict[str, Any], rows: np.ndarray) -> Candidate:
    p = float(rows[:, 0].mean())
    run_cost, target_cost = float(rows[:, 1].mean()), float(rows[:, 2].mean())
    cost = run_cost if search.objective == "central_cost_m" else target_cost
    return Candidate(
        number, levers, p, cost, run_cost, target_cost, feasible=p >= search.required_p
    )


def _recheck(
    search: Search,
    runner: PackageRunner,
    candidates: list[Candidate],
    seeds: list[int],
    draws: list[dict[str, Any]],
) -> list[Recheck]:
    """Re-run the cheapest feasible packages on fresh seeds until one keeps its P."""
    feasible = sorted(
        (c for c in candidates if c.feasible), key=lambda c: (c.cost_m, -c.p, c.trial)
    )
    rechecks = []
    for candidate in feasible[:RECHECK_CANDIDATES]:
        rows = runner.run(candidate.levers, seeds, draws)
        met = int(rows[:, 0].sum())
        column = 1 if search.objective == "central_cost_m" else 2
        p = wilson_interval(met, len(seeds))
        rechecks.append(
            Recheck(
                candidate,
                len(seeds),
                p,
                float(rows[:, column].mean()),
                passed=p.estimate >= search.required_p,
            )
        )
        if rechecks[-1].passed:
            break
    return rechecks


def frontier(candidates: Sequence[Candidate]) -> tuple[int, ...]:
    """Trials on the cost/P frontier: no other package is as cheap with as high a P."""
    best_p = -1.0
    kept = []
    for c in sorted(candidates, key=lambda c: (c.cost_m, -c.p, c.trial)):
        if c.p > best_p:
            kept.append(c.trial)
            best_p = c.p
    return tuple(kept)
