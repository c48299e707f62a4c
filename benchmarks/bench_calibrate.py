"""Calibration throughput: the shipped calibration against a plain loop over `simulate`.

1. `cbsim calibrate history --workers W` in a fresh process: its wall time (imports, the
   posterior predictive check and the report included; target: at most 10 minutes on this
   2-core machine), and, from its manifest, the runs of `simulate` per second inside pyabc
   (the prior sample and every generation; the outputs after them not included).
2. `simulate`'s plain rate on the same runs: one process, a loop over the same scenarios, run
   counts and seeds (`particle_seeds`) for PARTICLES particles drawn from the same priors
   (every particle the shipped calibration evaluates is a prior draw: it reaches epsilon 0 in
   its first generation). Measured before and after the calibration; the better is kept.
3. The ratio of the two rates (target: at least 0.7), the same per worker (pyabc's rate over
   W times the plain rate), and per CPU second (runs per second of CPU time used by the
   calibration's processes, against the plain loop's: pyabc's own cost, whatever else the
   machine is doing).

The machine may be shared: its load is printed with the figures.
Run: .venv/bin/python benchmarks/bench_calibrate.py [--workers W] [--out DIR (kept)]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib.measure import CBSIM, REPO, machine, verdict

from cbsim.calibrate.priors import prior_sample
from cbsim.calibrate.problem import load, particle_seeds
from cbsim.calibrate.run import default_workers
from cbsim.model.simulate import simulate

PARTICLES = 100
LIMIT_S = 600.0
TARGET_RATIO = 0.7


def plain_rate(name: str) -> tuple[float, float, int]:
    """Runs of `simulate` per second (of wall time, and of CPU time) in a plain loop over the
    calibration's fitted targets' scenarios, run counts and particle seeds, for PARTICLES
    prior draws; and the runs made."""
    cal = load(name)
    groups: dict[Path, int] = {}
    for target in cal.fitted:
        groups[target.scenario_path] = max(groups.get(target.scenario_path, 0), target.runs)
    scenarios = [(cal.scenarios[path], runs) for path, runs in groups.items()]
    draws = prior_sample(cal.priors, PARTICLES, np.random.default_rng(cal.seed))
    most = max(groups.values())
    runs = 0
    start, cpu = time.perf_counter(), time.process_time()
    for row in draws.itertuples(index=False):
        params = dict(zip(cal.paths, (float(v) for v in row), strict=True))
        seeds = particle_seeds(cal.seed, list(params.values()), most)
        for scenario, n in scenarios:
            for seed in seeds[:n]:
                simulate(scenario, seed=seed, **params)
                runs += 1
    return runs / (time.perf_counter() - start), runs / (time.process_time() - cpu), runs


def calibrate(name: str, workers: int, out: Path) -> tuple[float, dict]:
    """Wall time of `cbsim calibrate` in a fresh process, and its manifest."""
    start = time.perf_counter()
    done = subprocess.run(
        [CBSIM, "calibrate", name, "--out", str(out), "--workers", str(workers)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"cbsim calibrate failed ({done.returncode}):\n{done.stderr}")
    return seconds, json.loads((out / "manifest.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--calibration", default="history")
    parser.add_argument("--out", type=Path, help="keep the calibration's outputs here (new)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    before, before_cpu, runs = plain_rate(args.calibration)
    with tempfile.TemporaryDirectory() as tmp:
        wall, manifest = calibrate(args.calibration, args.workers, args.out or Path(tmp) / "out")
    after, after_cpu, _ = plain_rate(args.calibration)
    plain, plain_cpu = max(before, after), max(before_cpu, after_cpu)
    session = manifest["sessions"][-1]
    inside = session["simulations"] / session["seconds"]
    inside_cpu = session["simulations"] / session["cpu_seconds"]
    ratio = inside / plain
    generations = len(manifest["generations"])
    print(
        f"cbsim calibrate {args.calibration} --workers {args.workers}: {wall:.1f} s wall "
        f"({generations} generation(s), {session['simulations']:,} runs of simulate in "
        f"{session['seconds']:.1f} s inside pyabc); limit {LIMIT_S:.0f} s: "
        f"{verdict(wall <= LIMIT_S)}"
    )
    print(
        f"simulate inside pyabc: {inside:,.1f} runs/s on {args.workers} process(es); "
        f"{inside_cpu:,.1f} runs per CPU second"
    )
    print(
        f"simulate in a plain loop: {plain:,.1f} runs/s on 1 process (best of {before:,.1f} "
        f"before and {after:,.1f} after; {runs:,} runs of {PARTICLES} prior draws); "
        f"{plain_cpu:,.1f} runs per CPU second"
    )
    print(
        f"ratio pyabc / plain: {ratio:.2f} (target >= {TARGET_RATIO}: "
        f"{verdict(ratio >= TARGET_RATIO)}); per worker: {ratio / args.workers:.2f}; "
        f"per CPU second (independent of the machine's load): {inside_cpu / plain_cpu:.2f}"
    )


if __name__ == "__main__":
    main()
