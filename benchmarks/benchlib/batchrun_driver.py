"""Run the benchmark design with `mesa.batch_run` (run by bench_sweep.py in a subprocess).

Usage: python batchrun_driver.py EXPERIMENT.toml PROCESSES PERIOD
PERIOD is batch_run's data_collection_period: 1 (every month, what the outcomes need) or -1
(the last month only). Prints ``seconds=<s>``, the time of the batch_run call alone (which
starts its pool), and the number of runs and rows it returned.
"""

from __future__ import annotations

import sys
import time

from mesa import batch_run

from cbsim import CommunityBudgetModel
from cbsim.inputs.experiment import load_experiment, run_seed


def main() -> None:
    path, processes, period = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    exp = load_experiment(path)
    # The grid's levels as batch_run parameters; the seeds of the sweep's first design point.
    parameters = {f.path: list(f.levels) for f in exp.factors}
    parameters["scenario"] = exp.scenario
    seeds = [run_seed(exp.seed, r) for r in range(exp.replicates)]
    start = time.perf_counter()
    rows = batch_run(
        CommunityBudgetModel,
        parameters=parameters,
        rng=seeds,
        number_processes=processes,
        data_collection_period=period,
        max_steps=10_000,
        display_progress=False,
    )
    seconds = time.perf_counter() - start
    runs = len({row["RunId"] for row in rows})
    # Same work as the sweep? The first design point's final counts, to compare with its table.
    first = exp.design()[0]
    final: dict[int, tuple[float, int]] = {}
    for row in rows:
        if all(row[path] == value for path, value in first.items()):
            final[row["RunId"]] = max(
                final.get(row["RunId"], (-1.0, 0)), (row["Step"], row["developing"])
            )
    check = sum(count for _, count in final.values())
    print(f"seconds={seconds:.6f} runs={runs} rows={len(rows)} point0_final_sum={check}")


if __name__ == "__main__":
    main()
