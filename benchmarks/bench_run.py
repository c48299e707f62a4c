"""One `baseline_2011` run to the scenario's horizon: construction and stepping timed apart.

For each of the model's two hosts — the Mesa-free kernel (`cbsim.model.kernel.Programme`, what
`simulate` and sweeps run) and the Mesa model (`CommunityBudgetModel`, what the workshop
view, `cbsim run` and `mesa.batch_run` run), which give identical outcomes — prints the
median and spread over RUNS seeded runs (after a warm-up), and the cost per council-month
(councils x months stepped) in microseconds. The seeds differ run to run, as in a sweep.
Run: .venv/bin/python benchmarks/bench_run.py
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from benchlib.measure import machine, spread

import cbsim
from cbsim import CommunityBudgetModel, load_scenario
from cbsim.model.kernel import Programme

HOSTS = (
    ("kernel: cbsim.model.kernel.Programme (simulate, sweeps)", Programme),
    ("Mesa model: CommunityBudgetModel (view, cbsim run, batch_run)", CommunityBudgetModel),
)

RUNS = 60
WARM_UP = 10


def main() -> None:
    print(f"machine: {machine()}")
    print(f"cbsim from {Path(cbsim.__file__).parent}")
    spec = load_scenario("baseline_2011")
    for label, host in HOSTS:
        print(label)
        measure(spec, host)


def measure(spec, host) -> None:
    """Time RUNS seeded runs of `spec` on `host` and print the figures."""
    build, step, total = [], [], []
    for seed in range(WARM_UP + RUNS):
        gc.collect()
        t0 = time.perf_counter()
        model = host(spec, rng=seed)
        t1 = time.perf_counter()
        model.run_to_end()
        outcomes = model.outcomes()
        t2 = time.perf_counter()
        if seed >= WARM_UP:
            build.append((t1 - t0) * 1e3)
            step.append((t2 - t1) * 1e3)
            total.append((t2 - t0) * 1e3)
    councils = len(model.levels)
    months = model.end_index - model.start_index
    print(
        f"baseline_2011, {councils} councils, {months} months stepped "
        f"({outcomes['final_month']}), {RUNS} runs (seeds {WARM_UP}..{WARM_UP + RUNS - 1})"
    )
    print(f"  construction (ms):       {spread(build)}")
    print(f"  stepping+outcomes (ms):  {spread(step)}")
    print(f"  whole run (ms):          {spread(total)}")
    med = sorted(total)[len(total) // 2]
    med_step = sorted(step)[len(step) // 2]
    cm = councils * months
    print(
        f"  per council-month: {med * 1e3 / cm:.2f} us whole run, "
        f"{med_step * 1e3 / cm:.2f} us stepping only ({cm:,} council-months)"
    )
    print(f"  runs/s on one core: {1e3 / med:.0f}")


if __name__ == "__main__":
    main()
