"""How the cost of one run grows with councils (152, 1,520, 15,200) and months (36, 72, 144).

For both hosts of the model: the kernel (`cbsim.model.kernel.Programme`, what `simulate` and sweeps
run) and the Mesa model (`CommunityBudgetModel`). Councils: `baseline_2011` with 1, 10 and
100 synthetic copies of the 152 authorities (``copies=...``), to its horizon. Months: 152
councils, with ``timeline.end`` set 36, 72 and 144 months after the start. Each figure is
the median of several seeded runs, construction included. Target: x10 councils costs <= x11 time.
Run: .venv/bin/python benchmarks/bench_scaling.py
"""

from __future__ import annotations

import gc
import statistics
import time

from benchlib.measure import machine, verdict

from cbsim import CommunityBudgetModel, load_scenario
from cbsim.inputs.months import add_months, months_between
from cbsim.model.kernel import Programme

HOSTS = (
    ("kernel (Programme: simulate, sweeps)", Programme),
    ("Mesa model (CommunityBudgetModel)", CommunityBudgetModel),
)

COPIES = (1, 10, 100)
MONTHS = (36, 72, 144)
REPEATS = {1: 21, 10: 7, 100: 3}
MONTH_REPEATS = 15
TARGET = 11.0


def timed_run(host, spec, seed: int, copies: int = 1, **overrides) -> tuple[float, float, int]:
    """Seconds to build and to run one model on `host`; the number of councils."""
    gc.collect()
    t0 = time.perf_counter()
    model = host(spec, rng=seed, copies=copies, **overrides)
    t1 = time.perf_counter()
    model.run_to_end()
    model.outcomes()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(model.levels)


def main() -> None:
    print(f"machine: {machine()}")
    spec = load_scenario("baseline_2011")
    verdicts = []
    for label, host in HOSTS:
        print(f"== {label}")
        verdicts.append((label, scale(host, spec)))
    for label, ok in verdicts:
        print(f"TARGET x10 councils <= x{TARGET:g} time, {label}: {verdict(ok)}")


def scale(host, spec) -> bool:
    """Print how one run on `host` grows with councils and months; True if on target."""
    stepped = months_between(spec.values["timeline.start"], spec.values["timeline.end"])
    for copies in COPIES:  # warm-up: static data for each size is built once per process
        timed_run(host, spec, 0, copies)
    print(f"councils (baseline_2011 to its horizon, {stepped} months; median of runs):")
    medians = {}
    for copies in COPIES:
        runs = [timed_run(host, spec, seed, copies) for seed in range(1, REPEATS[copies] + 1)]
        build = statistics.median(r[0] for r in runs)
        step = statistics.median(r[1] for r in runs)
        whole = statistics.median(r[0] + r[1] for r in runs)
        n = runs[0][2]
        medians[n] = whole
        print(
            f"  {n:>6,} councils: {whole * 1e3:9.1f} ms  (construction {build * 1e3:8.1f} ms, "
            f"stepping {step * 1e3:7.1f} ms; {whole * 1e6 / (n * stepped):.2f} us per "
            f"council-month; n={len(runs)})"
        )
    sizes = sorted(medians)
    ok = True
    for small, big in zip(sizes, sizes[1:], strict=False):
        ratio = medians[big] / medians[small]
        ok &= ratio <= TARGET
        print(
            f"  x10 councils ({small:,} -> {big:,}): x{ratio:.2f} time  "
            f"(target <= x{TARGET:g}) {verdict(ratio <= TARGET)}"
        )

    print("months (baseline_2011, 152 councils; median of runs):")
    base = {}
    start = spec.values["timeline.start"]
    for n_months in MONTHS:
        end = add_months(start, n_months)
        runs = [
            timed_run(host, spec, seed, **{"timeline.end": end})
            for seed in range(1, MONTH_REPEATS + 1)
        ]
        whole = statistics.median(r[0] + r[1] for r in runs)
        step = statistics.median(r[1] for r in runs)
        base[n_months] = whole
        print(
            f"  {n_months:>4} months (to {end}): {whole * 1e3:7.2f} ms  (stepping "
            f"{step * 1e3:6.2f} ms, {step * 1e6 / n_months:.0f} us per month; "
            f"{whole * 1e6 / (152 * n_months):.2f} us per council-month)"
        )
    print(
        f"  x4 months (36 -> 144): x{base[144] / base[36]:.2f} time (construction is paid "
        "once per run)"
    )
    return ok


if __name__ == "__main__":
    main()
