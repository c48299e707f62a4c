"""Time one `run_sweep` call in a fresh process (run by bench_sweep.py in a subprocess).

Usage: python sweep_driver.py EXPERIMENT.toml OUT WORKERS — prints ``seconds=<s>``, the time
of the call alone: everything `cbsim sweep` does once its modules are imported (design,
probe run, pool start, runs, Parquet parts, manifest).
"""

from __future__ import annotations

import sys
import time

from cbsim.sweep.run import run_sweep


def main() -> None:
    path, out, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    start = time.perf_counter()
    run_sweep(path, out=out, workers=workers, progress=False)
    print(f"seconds={time.perf_counter() - start:.6f}")


if __name__ == "__main__":
    main()
