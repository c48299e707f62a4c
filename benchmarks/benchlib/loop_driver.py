"""The runs of an experiment as a plain loop over `simulate` (bench_sweep.py's baseline).

Usage: python loop_driver.py EXPERIMENT.toml — the same design points and run seeds as
`cbsim sweep`, in one process, results kept in a list. Prints ``seconds=<s>``, the time of
the loop alone (modules imported, the scenario loaded).
"""

from __future__ import annotations

import sys
import time

from cbsim.inputs.experiment import load_experiment, run_seed
from cbsim.model.simulate import simulate


def run_specs(path: str) -> list[tuple[int, int, dict]]:
    """(run id, seed, overrides) of every run of the experiment, as the sweep makes them."""
    exp = load_experiment(path)
    design = exp.design()
    return [(i, run_seed(exp.seed, i), design[i // exp.replicates]) for i in range(exp.n_runs())]


def main() -> None:
    exp = load_experiment(sys.argv[1])
    scenario = exp.base_scenario()
    specs = run_specs(sys.argv[1])
    start = time.perf_counter()
    results = [simulate(scenario, seed=seed, **overrides) for _, seed, overrides in specs]
    print(f"seconds={time.perf_counter() - start:.6f} runs={len(results)}")


if __name__ == "__main__":
    main()
