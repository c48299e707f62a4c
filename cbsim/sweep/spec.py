"""What the sweep's modules share: file names, batch sizes, retry limits and record types.

This module imports nothing of cbsim's and no third-party library, so every other module of
the package can import it without cycles or cost.
"""

from __future__ import annotations

from typing import Any

# ------------------------------------------------------------------------ the output folder
RUNS_DIR = "runs"  # one Parquet part file per finished batch
SERIES_DIR = "series"  # with `series = true`: each runs/ part's monthly series, same name
MANIFEST = "manifest.json"
LOCK = ".lock"  # held (flock) by the sweep writing to the folder
DESIGN = "design.parquet"  # the sampler's raw matrix, one row per design point
EXPERIMENT_COPY = "experiment.toml"
MANIFEST_FORMAT = 1
MANIFEST_EVERY_S = 5.0  # the manifest's counts are saved this often while the sweep runs

# ------------------------------------------------------------------------ batches
MAX_BATCH = 500  # runs per task: about half a second of work; Dask costs ~2 ms a task
BATCHES_PER_WORKER = 8  # full batches per worker (load balance, a live progress bar)
IN_FLIGHT_PER_WORKER = 2  # batches queued per worker: keeps workers busy, memory flat
MIN_BATCH = 10  # the smallest batch toward the end of a sweep (~10 ms of work)

# ------------------------------------------------------------------------ worker deaths
BATCH_ATTEMPTS = 2  # a batch lost with a dead worker this often is split into runs
ALONE_ATTEMPTS = 2  # a run whose worker dies this often running alone is recorded failed
MAX_BREAKS = 8  # pool breaks in a row with no batch coming back: give up
WORKER_DIED = "worker process died"  # error prefix of runs lost with their worker (retried)
MAX_ERROR = 2000  # characters of an error kept in a run's row

# ------------------------------------------------------------------------ options' limits
MAX_WORKERS = 256  # --workers: 1 to 256 local processes (never more than there are batches)
CONNECT_TIMEOUT_S = 20  # a Dask scheduler must answer within this (a hard deadline)
WORKERS_TIMEOUT_S = 60  # ... and have a worker within this
PROBE_TIMEOUT_S = 30  # ... and every worker must run a probe task (import cbsim) within this

# ------------------------------------------------------------------------ exit status
EXIT_RUNS_FAILED = 3  # exit status of a sweep whose table holds failed runs

# ------------------------------------------------------------------------ records
RunSpec = tuple[int, int, dict[str, Any]]  # run_id, seed, overrides: what a worker runs
RunResult = tuple[int, dict[str, Any] | None, str | None]  # run_id, outcomes, error
SERIES_KEY = "_monthly"  # outcomes key of a run's monthly record (a series, not a column)
