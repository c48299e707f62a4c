"""`cbsim search` against the same search done by hand with EMA Workbench's `optimize`.

Both look for the cheapest package of the search's levers with P(target met) >= required_p,
each package estimated on the same `runs` common seeds (`cbsim.policy.runs.common_seeds`) with
`simulate`:

- **cbsim search**: `cbsim.policy.search.run_search` (optuna TPE, constrained, seeded; two
  packages enqueued; `trials` proposals; the winner re-checked on `recheck_runs` fresh seeds).
- **EMA Workbench**: an `ema_workbench.Model` whose function runs a package on the common
  seeds and returns its mean cost and P; `optimize` over the levers (platypus EpsNSGAII, one
  objective: minimise the cost; a `Constraint` max(0, required_p - P)), `nfe` evaluations of
  the function (default: the search's `trials`), population 20, seeded; the funding boost as
  an integer number of the lever's steps, the switches as 0/1 `IntegerParameter`s (a
  `BooleanParameter` breaks EMA 3.0's sample array), a dummy uncertainty and reference
  scenario (EMA 3.0 fails without one). The best
  feasible package it evaluated is then re-checked on the same fresh seeds, by hand.

Prints, for each: model runs, wall time, runs a second, the package found, its mean cost
and P on the search's seeds, and P with a Wilson interval on the fresh seeds.

Run: .venv/bin/python benchmarks/bench_search.py [SEARCH] [--nfe N]
(default SEARCH: cheapest_money_package_2011; the machine's load matters: see `machine`).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from typing import Any

import numpy as np
from benchlib.measure import machine

from cbsim.inputs.search import Search, load_search
from cbsim.policy.runner import PackageRunner
from cbsim.policy.runs import common_seeds
from cbsim.policy.search import run_search
from cbsim.policy.stats import wilson_interval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("search", nargs="?", default="cheapest_money_package_2011")
    parser.add_argument("--nfe", type=int, default=None, help="EMA evaluations (default trials)")
    args = parser.parse_args()
    search = load_search(args.search)
    print(f"machine: {machine()}")
    print(
        f"search {search.name}: {len(search.levers)} levers, P >= {search.required_p:g}, "
        f"{search.runs} common seeds a package, re-check on {search.recheck_runs} fresh seeds"
    )
    ema = bench_ema(search, args.nfe or search.trials)
    ours = bench_cbsim(search)
    print(f"{'':<14}{'runs':>8}{'wall s':>9}{'runs/s':>8}  package found")
    for label, row in (("cbsim search", ours), ("EMA optimize", ema)):
        print(
            f"{label:<14}{row['runs']:>8,}{row['seconds']:>9.1f}"
            f"{row['runs'] / row['seconds']:>8.0f}  {row['package']}"
        )
        print(f"{'':<14}{row['result']}")


def _shown(levers: dict[str, Any]) -> str:
    return ", ".join(f"{k.removeprefix('offer.')}={v}" for k, v in levers.items())


def bench_cbsim(search: Search) -> dict[str, Any]:
    """`cbsim search`'s library call, timed."""
    t0 = time.perf_counter()
    result = run_search(search)
    seconds = time.perf_counter() - t0
    winner = result.winner
    if winner is None:
        return {"runs": result.runs_done, "seconds": seconds, "package": "none", "result": ""}
    c = winner.candidate
    return {
        "runs": result.runs_done,
        "seconds": seconds,
        "package": _shown(c.levers),
        "result": f"search seeds: cost £{c.cost_m:.1f}m, P {c.p:.3f}; fresh: P "
        f"{winner.p.estimate:.3f} [{winner.p.low:.3f}, {winner.p.high:.3f}], "
        f"£{winner.cost_m:.1f}m ({len(result.candidates)} packages, {result.trials} trials)",
    }


def bench_ema(search: Search, nfe: int) -> dict[str, Any]:
    """The same search with EMA Workbench's `optimize`, timed (re-check included)."""
    from ema_workbench import (
        Constraint,
        IntegerParameter,
        Model,
        RealParameter,
        Sample,
        ScalarOutcome,
        optimize,
    )

    logging.getLogger("EMA").setLevel(logging.ERROR)
    spec = search.base_scenario()
    runner = PackageRunner(spec, 1)
    seeds = common_seeds(search.seed, search.runs)
    no_draws: list[dict[str, Any]] = [{} for _ in seeds]
    names = {lever.path: lever.path.replace(".", "__") for lever in search.levers}
    evaluated: list[tuple[float, float, dict[str, Any]]] = []

    def package(**values: Any) -> dict[str, Any]:
        levers = {}
        for lever in search.levers:
            value = values[names[lever.path]]
            if lever.step is not None:
                value = round(lever.factor.span()[0] + lever.step * int(value), 12)
            levers[lever.path] = bool(value) if lever.factor.kind == "bool" else value
        return levers

    def function(reference: float = 0.5, **values: Any) -> dict[str, float]:
        levers = package(**values)
        rows = runner.run(levers, seeds, no_draws)
        cost = float(rows[:, 1 if search.objective == "central_cost_m" else 2].mean())
        p = float(rows[:, 0].mean())
        evaluated.append((cost, p, levers))
        return {"cost": cost, "P": p}

    model = Model("cbsim", function=function)
    model.levers = [
        _ema_lever(lever, names[lever.path], IntegerParameter) for lever in search.levers
    ]
    # EMA 3.0 needs an uncertainty and a reference scenario when searching over levers (a
    # model without one merges a policy into its empty scenario and fails on the next)
    model.uncertainties = [RealParameter("reference", 0.0, 1.0)]
    model.outcomes = [
        ScalarOutcome("cost", kind=ScalarOutcome.MINIMIZE),
        ScalarOutcome("P", kind=ScalarOutcome.INFO),
    ]
    required = search.required_p
    constraints = [
        Constraint("P enough", outcome_names="P", function=lambda p: max(0.0, required - p))
    ]
    t0 = time.perf_counter()
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as archive:
        warnings.simplefilter("ignore")
        optimize(
            model,
            nfe=nfe,
            searchover="levers",
            constraints=constraints,
            epsilons=[1.0],
            population_size=20,
            rng=search.seed,
            reference=Sample("reference", reference=0.5),
            logging_freq=1000,
            convergence_freq=10 * nfe,
            filename="archive.tar.gz",
            directory=archive,
        )
    feasible = sorted((e for e in evaluated if e[1] >= required), key=lambda e: (e[0], -e[1]))
    runs = runner.runs_done
    if not feasible:
        seconds = time.perf_counter() - t0
        return {"runs": runs, "seconds": seconds, "package": "none feasible", "result": ""}
    cost, p, levers = feasible[0]
    fresh = common_seeds(search.seed, search.recheck_runs, first=search.runs)
    rows = runner.run(levers, fresh, [{} for _ in fresh])
    seconds = time.perf_counter() - t0
    check = wilson_interval(int(rows[:, 0].sum()), len(fresh))
    return {
        "runs": runner.runs_done,
        "seconds": seconds,
        "package": _shown(levers),
        "result": f"search seeds: cost £{cost:.1f}m, P {p:.3f}; fresh: P {check.estimate:.3f} "
        f"[{check.low:.3f}, {check.high:.3f}], £{float(np.mean(rows[:, 1])):.1f}m "
        f"({len(evaluated)} evaluations, {runs:,} runs before the re-check)",
    }


def _ema_lever(lever: Any, name: str, integer: Any) -> Any:
    """An EMA lever: a switch, or a range as a whole number of the lever's steps."""
    f = lever.factor
    if f.kind == "bool":  # EMA 3.0's BooleanParameter breaks its own sample array: 0/1
        return integer(name, 0, 1)
    if lever.step is None:
        raise SystemExit(f"{lever.path}: this benchmark needs ranges with a step")
    low, high = f.span()
    return integer(name, 0, int(round((high - low) / lever.step)))


if __name__ == "__main__":
    main()
