"""Sweep throughput and memory: `cbsim sweep` against a plain loop and `mesa.batch_run`.

One 2,000-run design (baseline_2011; funding boost x 10 levels, champions network off/on:
20 design points x 100 replicates), every measurement in this one invocation:

1. `cbsim sweep` with 1 worker against a plain loop over `simulate` with the same design
   points and run seeds (the machinery's overhead; target <= 10 %), and with 2 workers
   (target: >= 1.8x the runs/s of 1 worker).
2. `mesa.batch_run(CommunityBudgetModel, ..., number_processes=2)` on the same grid. It gives
   every parameter combination the same seed list, so it gets the seeds of the sweep's first
   design point (whose final counts are checked equal to the sweep's: the same work). It
   collects every month (data_collection_period=1: what the outcomes need; the last month
   only, -1, is shown too). Targets: `cbsim sweep --workers 2` >= 2x its runs/s, <= 1/4 of
   its peak memory.
3. Peak memory of `cbsim sweep --workers 2` on 1,000 and 10,000 runs (target <= 1.2x).

Each contender runs in a fresh process that times its own call (the loop, `run_sweep`, or
`batch_run`, pool start-up included, module imports not); the `cbsim sweep` command's wall
time, imports included, is shown too. Times are the best of REPEATS, interleaved (the
machine may be shared). Peak memory is the largest total, over samples every 0.2 s, of the
proportional set size (PSS: shared pages split between the processes sharing them) of the
process and all its descendants; the resident set size (RSS: shared pages counted in each
process) is shown beside it. PSS also splits a library's pages with unrelated processes that
map it, so this script loads no numpy, pandas, pyarrow or cbsim itself (it would take a
share of every contender's pages), and samples from a separate small process.
Run: .venv/bin/python benchmarks/bench_sweep.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchlib.measure import CBSIM, PYTHON, TreeRun, machine, run_tree, verdict

HERE = Path(__file__).resolve().parent
DRIVERS = HERE / "benchlib"
REPEATS = 3
EXPERIMENT = """\
description = "benchmark design: 20 design points x {replicates} replicates"
scenario = "baseline_2011"
replicates = {replicates}
seed = 2011
[sampler]
method = "grid"
[factors]
"offer.funding_boost_m" = {{ min = 0.0, max = 1.5, levels = 10 }}
"offer.champions_network" = [false, true]
"""


@dataclass(frozen=True)
class Measured:
    """A contender's own timing of its call, and its process tree's wall time and memory."""

    seconds: float
    tree: TreeRun
    fields: dict[str, str]


def write_experiment(folder: Path, replicates: int) -> Path:
    path = folder / f"bench_{20 * replicates}.toml"
    path.write_text(EXPERIMENT.format(replicates=replicates), encoding="utf-8")
    return path


def measure(args: list[str]) -> Measured:
    tree = run_tree(args)
    fields = dict(re.findall(r"(\w+)=(\S+)", tree.output))
    return Measured(float(fields["seconds"]), tree, fields)


def loop(design: Path) -> Measured:
    return measure([PYTHON, str(DRIVERS / "loop_driver.py"), str(design)])


def sweep(design: Path, out: Path, workers: int) -> Measured:
    shutil.rmtree(out, ignore_errors=True)
    return measure([PYTHON, str(DRIVERS / "sweep_driver.py"), str(design), str(out), str(workers)])


def batch(design: Path, period: int) -> Measured:
    return measure([PYTHON, str(DRIVERS / "batchrun_driver.py"), str(design), "2", str(period)])


def command(design: Path, out: Path, workers: int) -> TreeRun:
    shutil.rmtree(out, ignore_errors=True)
    return run_tree([CBSIM, "sweep", str(design), "--out", str(out), "--workers", str(workers)])


def point0_final_sum(runs: Path) -> int:
    """Sum of final counts of a sweep's first design point (read in a subprocess: see below)."""
    code = (
        "import sys, pandas as pd; t = pd.read_parquet(sys.argv[1]); "
        "print(int(t.loc[t['design_point'] == 0, 'final_count'].sum()))"
    )
    return int(
        subprocess.run(
            [PYTHON, "-c", code, str(runs)], capture_output=True, text=True, check=True
        ).stdout
    )


def best(runs: list[Measured]) -> Measured:
    return min(runs, key=lambda r: r.seconds)


def show(label: str, runs: int, m: Measured) -> None:
    t = m.tree
    print(
        f"  {label:<40} {m.seconds:6.2f} s {runs / m.seconds:5.0f} runs/s   peak PSS "
        f"{t.peak_pss_mb:4.0f} MB (RSS {t.peak_rss_mb:4.0f} MB, {t.processes} processes)"
    )


def main() -> None:
    print(f"machine: {machine()}")
    targets: list[tuple[str, bool]] = []
    with tempfile.TemporaryDirectory(prefix="cbsim-bench-") as tmp:
        folder = Path(tmp)
        design = write_experiment(folder, 100)
        n = 20 * 100
        print(f"design: {n:,} runs = 20 design points x 100 replicates; best of {REPEATS}")

        loops, ones, twos, batches = [], [], [], []
        for _ in range(REPEATS):
            loops.append(loop(design))
            ones.append(sweep(design, folder / "one", 1))
            twos.append(sweep(design, folder / "two", 2))
            batches.append(batch(design, 1))
        last = batch(design, -1)
        tiny = write_experiment(folder, 1)  # 20 runs: what remains is mostly start-up
        start_two = min(sweep(tiny, folder / "tiny", 2).seconds for _ in range(2))
        start_one = min(sweep(tiny, folder / "tiny", 1).seconds for _ in range(2))
        start_batch = min(batch(tiny, 1).seconds for _ in range(2))
        plain, one, two, mesa = best(loops), best(ones), best(twos), best(batches)
        cli_one = command(design, folder / "cli-one", 1)
        cli_two = command(design, folder / "cli-two", 2)
        same = point0_final_sum(folder / "two" / "runs") == int(mesa.fields["point0_final_sum"])

        print("1. cbsim sweep against a plain loop over simulate:")
        show("loop over simulate (1 process)", n, plain)
        show("cbsim sweep, 1 worker", n, one)
        show("cbsim sweep, 2 workers", n, two)
        overhead = one.seconds / plain.seconds - 1
        speedup = one.seconds / two.seconds
        print(
            f"  machinery overhead, 1 worker: {overhead:+.1%} (target <= +10%) "
            f"{verdict(overhead <= 0.10)}"
        )
        print(
            f"  2 workers: x{speedup:.2f} the runs/s of 1 (target >= x1.8) "
            f"{verdict(speedup >= 1.8)}"
        )
        print(
            f"  a 20-run sweep takes {start_one:.2f} s with 1 worker, {start_two:.2f} s with 2: "
            f"starting the pool costs about {start_two - start_one:.2f} s"
        )
        print(
            f"  the command, imports included: `cbsim sweep --workers 1` {cli_one.seconds:.2f} s"
            f", `--workers 2` {cli_two.seconds:.2f} s (x{cli_one.seconds / cli_two.seconds:.2f})"
        )
        targets.append(
            ("sweep machinery <= 10% over the in-process loop (1 worker)", overhead <= 0.10)
        )
        targets.append(("2 workers >= 1.8x the throughput of 1", speedup >= 1.8))

        print("2. mesa.batch_run(CommunityBudgetModel, number_processes=2), same grid:")
        show("batch_run, every month collected", n, mesa)
        show("batch_run, last month only", n, last)
        show("cbsim sweep, 2 workers", n, two)
        speed = mesa.seconds / two.seconds
        memory = two.tree.peak_pss_mb / mesa.tree.peak_pss_mb
        print(f"  same work: the first design point's final counts agree: {same}")
        print(f"  a 20-run batch_run takes {start_batch:.2f} s (its pool start-up: spawn)")
        print(
            f"  cbsim sweep: x{speed:.2f} the runs/s of batch_run (target >= x2) "
            f"{verdict(speed >= 2)}   [x{last.seconds / two.seconds:.2f} of batch_run "
            "collecting the last month only]"
        )
        print(
            f"  cbsim sweep: {memory:.2f} of batch_run's peak memory (target <= 0.25) "
            f"{verdict(memory <= 0.25)}   [{two.tree.peak_pss_mb / last.tree.peak_pss_mb:.2f}"
            " of batch_run collecting the last month only]"
        )
        targets.append(("cbsim sweep --workers 2 >= 2x the runs/s of batch_run", speed >= 2))
        targets.append(
            ("cbsim sweep --workers 2 <= 1/4 of batch_run's peak memory", memory <= 0.25)
        )

        print("3. peak memory and the number of runs (`cbsim sweep --workers 2` commands):")
        small = command(write_experiment(folder, 50), folder / "small", 2)
        large = command(write_experiment(folder, 500), folder / "large", 2)
        mesa_small = batch(write_experiment(folder, 50), 1)
        for label, runs, tree in (("1,000 runs", 1000, small), ("10,000 runs", 10000, large)):
            print(
                f"  {label:<12} peak PSS {tree.peak_pss_mb:4.0f} MB (RSS "
                f"{tree.peak_rss_mb:4.0f} MB)  {tree.seconds:6.2f} s with imports, "
                f"{runs / tree.seconds:4.0f} runs/s"
            )
        growth = large.peak_pss_mb / small.peak_pss_mb
        print(
            f"  10,000 runs: x{growth:.2f} the peak memory of 1,000 (target <= x1.2) "
            f"{verdict(growth <= 1.2)}"
        )
        slope = (mesa.tree.peak_pss_mb - mesa_small.tree.peak_pss_mb) / 1000
        print(
            f"  [batch_run, every month: {mesa_small.tree.peak_pss_mb:.0f} MB for 1,000 runs,"
            f" {mesa.tree.peak_pss_mb:.0f} MB for 2,000: it keeps every row in memory]"
        )
        if slope > 0:
            even = (4 * large.peak_pss_mb - mesa_small.tree.peak_pss_mb) / slope + 1000
            print(
                f"  [extrapolated, not measured: at {slope * 1000:.0f} MB per 1,000 runs, "
                f"batch_run would hold 4x the sweep's 10,000-run peak from about "
                f"{even:,.0f} runs]"
            )
        targets.append(
            ("10,000-run sweep <= 1.2x the peak memory of a 1,000-run sweep", growth <= 1.2)
        )

    print(f"targets (load average now {os.getloadavg()[0]:.2f}):")
    for name, ok in targets:
        print(f"  {verdict(ok)}  {name}")


if __name__ == "__main__":
    main()
