"""Where a `baseline_2011` run spends its time: cProfile of construction and of stepping.

For both hosts of the model: the kernel (`cbsim.model.kernel.Programme`, behind `simulate` and
sweeps) and the Mesa model (`CommunityBudgetModel`).

Profiles RUNS seeded runs and prints the functions with the most time of their own
(tottime) for each phase, as shares of the phase. (pyinstrument gives the same picture as a
call tree: ``.venv/bin/pyinstrument benchmarks/profile_run.py``.)
Run: .venv/bin/python benchmarks/profile_run.py
"""

from __future__ import annotations

import cProfile
import pstats
from pathlib import Path

from cbsim import CommunityBudgetModel, load_scenario
from cbsim.model.kernel import Programme

RUNS = 200
TOP = 8


def top(profile: cProfile.Profile, label: str) -> None:
    stats = pstats.Stats(profile)
    total = stats.total_tt
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:TOP]
    print(
        f"{label}: {total / RUNS * 1e3:.2f} ms per run under the profiler; most time of their own:"
    )
    for (path, line, name), (_, calls, tottime, _, _) in rows:
        where = f"{Path(path).parent.name}/{Path(path).name}:{line}" if line else path
        print(f"  {tottime / total:6.1%}  {calls / RUNS:8.1f} calls/run  {name}  ({where})")


def main() -> None:
    spec = load_scenario("baseline_2011")
    for label, host in (
        ("kernel (Programme)", Programme),
        ("Mesa model (CommunityBudgetModel)", CommunityBudgetModel),
    ):
        print(f"== {label}")
        profile(spec, host)


def profile(spec, host) -> None:
    """Profile RUNS runs of `spec` on `host`: construction, then stepping and outcomes."""
    for seed in range(20):  # warm-up
        host(spec, rng=seed).run_to_end()
    build = cProfile.Profile()
    build.enable()
    models = [host(spec, rng=seed) for seed in range(RUNS)]
    build.disable()
    run = cProfile.Profile()
    run.enable()
    for model in models:
        model.run_to_end()
        model.outcomes()
    run.disable()
    top(build, "construction")
    top(run, "stepping + outcomes")


if __name__ == "__main__":
    main()
