"""Sweeps: run an experiment's design points x replicates, streaming results to Parquet.

Runs go to workers in batches: a local process pool by default (forked on Linux: workers
start at once and share this process's memory), a Dask cluster when a scheduler address is
given (``local`` starts a `LocalCluster`). Both sit behind the same small engine interface
(`submit` a batch, `wait` for the first finished ones), so there is one code path. Every
run's seed comes from the master seed and its run id, so the table does not depend on the
engine, the worker count or the order in which batches finish.

Output folder::

    DIR/manifest.json        experiment, versions, seed, counts, times, status
    DIR/experiment.toml      copy of the experiment file
    DIR/design.parquet       the sampler's raw matrix, one row per design point
    DIR/runs/part-*.parquet  one row per run; `pandas.read_parquet(DIR / "runs")` reads all

Each part file is written atomically when its batch finishes, so an interrupted sweep keeps
every finished run and ``resume=True`` runs only the missing run ids. A new output folder
is built under a hidden name and renamed into place, so it is either absent or resumable.

A worker process that dies (killed, out of memory, a crash in native code) loses the
batches in flight: they are submitted again; a batch lost twice is split into single runs,
and a run lost on its own runs alone (nothing else in flight), so a run that kills its
worker is found and recorded as failed (error ``worker process died ...``) while the
others finish. ``resume=True`` runs such runs again; runs whose model raised stay recorded.
`run_sweep` returns 0 when every run finished without error and `EXIT_RUNS_FAILED` when
the table holds failed runs.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import gc
import io
import math
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

if "pyarrow" not in sys.modules:
    # Arrow's bundled jemalloc (not its default allocator here) starts a purging thread when
    # pyarrow loads; without it this process has no thread when the pool forks its workers.
    os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
    # The tables a sweep builds are a few kB: the C library's allocator is plenty, and the
    # default (mimalloc) would reserve ~6 MB of its own in the process.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from cbsim.inputs.errors import CbsimError  # noqa: E402
from cbsim.inputs.experiment import Experiment, load_experiment, run_seed  # noqa: E402
from cbsim.inputs.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text  # noqa: E402
from cbsim.inputs.scenario import Scenario  # noqa: E402
from cbsim.model.simulate import simulate  # noqa: E402

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock against two sweeps in one folder
    fcntl = None

RUNS_DIR = "runs"
MANIFEST = "manifest.json"
LOCK = ".lock"  # held (flock) by the sweep writing to the folder
DESIGN = "design.parquet"
MANIFEST_FORMAT = 1
MAX_BATCH = 500  # runs per task: about half a second of work; Dask costs ~2 ms a task
BATCHES_PER_WORKER = 8  # full batches per worker (load balance, a live progress bar)
IN_FLIGHT_PER_WORKER = 2  # batches queued per worker: keeps workers busy, memory flat
MIN_BATCH = 10  # the smallest batch toward the end of a sweep (~10 ms of work)
BATCH_ATTEMPTS = 2  # a batch lost with a dead worker this often is split into runs
ALONE_ATTEMPTS = 2  # a run whose worker dies this often running alone is recorded failed
MAX_BREAKS = 8  # pool breaks in a row with no batch coming back: give up
WORKER_DIED = "worker process died"  # error prefix of runs lost with their worker (retried)
EXIT_RUNS_FAILED = 3  # exit status of a sweep whose table holds failed runs
MANIFEST_EVERY_S = 5.0
PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal a process gets when its parent dies
ID_COLUMNS = (
    ("run_id", pa.int64()),
    ("design_point", pa.int64()),
    ("replicate", pa.int64()),
    ("seed", pa.int64()),
)
KIND_TYPES = {
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "stance": pa.string(),
    "month": pa.string(),
}

RunSpec = tuple[int, int, dict[str, Any]]  # run_id, seed, overrides
RunResult = tuple[int, dict[str, Any] | None, str | None]  # run_id, outcomes, error


# ------------------------------------------------------------------------ worker side
def run_batch(scenario: Scenario, runs: list[RunSpec]) -> list[RunResult]:
    """Run a batch with a pre-loaded scenario; a run that raises is returned with its error."""
    results: list[RunResult] = []
    for run_id, seed, overrides in runs:
        try:
            results.append((run_id, simulate(scenario, seed=seed, **overrides), None))
        except Exception as exc:  # recorded in the run's row, the sweep goes on
            results.append((run_id, None, f"{type(exc).__name__}: {exc}"[:2000]))
    return results


_WORKER_SCENARIO: Scenario | None = None
_HELD_LOCKS: weakref.WeakSet = weakref.WeakSet()  # output-folder locks open in this process


def _init_worker(scenario: Scenario, parent: int | None = None) -> None:
    """Process-pool initializer: keep the scenario; signals and locks are the parent's business.

    A forked worker starts with the parent's signal handlers and open files: Ctrl-C is
    ignored (the parent stops the pool), SIGTERM and any other handled signal get their
    default action, and the worker closes its copies of the parent's folder locks, so that
    a lock goes when the parent goes (closing a copy does not release the parent's flock).
    A worker of `parent` (forked) is killed when that process dies: it would wait forever.
    """
    global _WORKER_SCENARIO
    for signum in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            if callable(signal.getsignal(signum)):
                signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    for lock in list(_HELD_LOCKS):
        lock.close()
    if parent is not None:
        _die_with_parent(parent)
    _WORKER_SCENARIO = scenario


def _die_with_parent(parent: int) -> None:
    """Have Linux SIGKILL this process when its parent dies (if it has not already)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def _ready() -> None:
    """A task that does nothing: submitted to start a pool's workers at once."""


def _run_batch_in_worker(runs: list[RunSpec]) -> list[RunResult]:
    return run_batch(_WORKER_SCENARIO, runs)


# ------------------------------------------------------------------------ engines
class Engine(Protocol):
    """What the sweep loop needs from an execution engine (in-process, pool or Dask)."""

    workers: int
    label: str
    death: str  # how the last dead worker died ("killed by SIGKILL"), if known, else ""

    def submit(self, runs: list[RunSpec]) -> Any:
        """Start a batch; return a future whose result is `run_batch`'s list."""

    def wait(self, pending: set) -> tuple[set, set]:
        """Block until at least one of `pending` is done: (done, not done)."""

    def lost_all(self, exc: BaseException) -> bool:
        """True if this failure lost every pending batch (a broken process pool)."""

    def restart(self) -> None:
        """Replace broken workers (after `lost_all`)."""

    def close(self, cancel: bool = False) -> None:
        """Release the workers; with `cancel`, stop at once dropping running batches."""


class SerialEngine:
    """Runs each batch in this process when it is submitted (``workers=1``)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.workers = 1
        self.label = "in-process (1 worker)"
        self.death = ""

    def submit(self, runs: list[RunSpec]) -> cf.Future:
        future: cf.Future = cf.Future()
        future.set_result(run_batch(self.scenario, runs))
        return future

    def wait(self, pending: set) -> tuple[set, set]:
        return set(pending), set()

    def lost_all(self, exc: BaseException) -> bool:
        return False

    def restart(self) -> None:
        pass

    def close(self, cancel: bool = False) -> None:
        pass


class PoolEngine:
    """A local `ProcessPoolExecutor`; each worker loads the scenario once (initializer).

    On Linux the workers are forked: they start at once and share this process's memory
    (modules, the scenario, warm caches) copy-on-write. They are forked as the pool starts,
    before the sweep starts a thread, and a pool that broke is shut down and its threads
    joined before the new one forks. Elsewhere, or when this process runs other Python
    threads (forking those is unsafe), workers come from a fork server.
    """

    def __init__(self, scenario: Scenario, workers: int) -> None:
        self.scenario = scenario
        self.workers = workers
        self.label = f"process pool ({workers} workers)"
        self.death = ""
        self.executor: cf.ProcessPoolExecutor | None = None
        self._start()

    def _start(self) -> None:
        method = _start_method()
        context = multiprocessing.get_context(method)
        parent = os.getpid() if method == "fork" else None
        if method == "forkserver":
            context.set_forkserver_preload(["cbsim.sweep.run"])
        self.executor = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.scenario, parent),
        )
        if method == "fork":
            # the first task forks every worker now; frozen objects stay out of the
            # workers' garbage collections, which would otherwise copy the pages they touch
            gc.freeze()
            try:
                self.executor.submit(_ready)
            finally:
                gc.unfreeze()

    def submit(self, runs: list[RunSpec]) -> cf.Future:
        return self.executor.submit(_run_batch_in_worker, runs)

    def wait(self, pending: set) -> tuple[set, set]:
        done, not_done = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        return done, not_done

    def lost_all(self, exc: BaseException) -> bool:
        """A dead worker breaks the whole pool: every pending batch must be resubmitted."""
        return isinstance(exc, BrokenProcessPool)

    def restart(self) -> None:
        processes = list((getattr(self.executor, "_processes", None) or {}).values())
        before = set(threading.enumerate())
        self.close(cancel=True)  # joins the broken pool's threads: none left when forking
        _wait_until_gone(before - set(threading.enumerate()))
        self.death = _death_note(processes)  # read once the pool has reaped them all
        self._start()

    def close(self, cancel: bool = False) -> None:
        """Shut the pool down and wait for its threads and processes to end."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        if cancel:  # stop now: running batches are lost anyway, do not wait for them
            for process in list((getattr(executor, "_processes", None) or {}).values()):
                process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)


def _wait_until_gone(threads: set[threading.Thread], timeout: float = 1.0) -> None:
    """Wait until joined threads have left the system too (Linux): `join` returns a moment
    before the thread is gone, and a fork in that moment is a fork with threads."""
    tasks = Path("/proc/self/task")
    ids = [thread.native_id for thread in threads if thread.native_id is not None]
    deadline = time.monotonic() + timeout
    while (
        ids
        and tasks.is_dir()
        and time.monotonic() < deadline
        and any((tasks / str(i)).exists() for i in ids)
    ):
        time.sleep(0.0005)


def _start_method() -> str:
    """How the pool starts workers: fork on Linux, unless other Python threads run here."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class DaskEngine:
    """A Dask distributed cluster: an existing scheduler, or a `LocalCluster` (``local``)."""

    def __init__(self, scenario: Scenario, address: str, workers: int) -> None:
        import logging

        from dask.distributed import Client, LocalCluster

        self.cluster = None
        self.death = ""
        try:
            if address == "local":
                self.cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
                self.client = Client(self.cluster)
            else:
                self.client = Client(address, timeout="10s")
                self.client.wait_for_workers(1, timeout=60)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise CbsimError(
                f"--scheduler {address}: cannot use the Dask scheduler ({exc})"
            ) from None
        self.workers = max(1, sum(self.client.nthreads().values()))
        where = "LocalCluster" if self.cluster else f"scheduler {address}"
        self.label = f"Dask {where} ({self.workers} workers)"
        # sent with each batch (a few kB): a copy scattered to the workers is lost for good
        # when the workers holding it die, and with it every batch waiting for it
        self.scenario = scenario

    def submit(self, runs: list[RunSpec]) -> Any:
        return self.client.submit(run_batch, self.scenario, runs, pure=False)

    def wait(self, pending: set) -> tuple[set, set]:
        from dask.distributed import wait

        result = wait(list(pending), return_when="FIRST_COMPLETED")
        return set(result.done), set(result.not_done)

    def lost_all(self, exc: BaseException) -> bool:
        return False  # Dask reschedules a dead worker's tasks itself

    def restart(self) -> None:
        pass

    def close(self, cancel: bool = False) -> None:
        client, self.client = getattr(self, "client", None), None
        if client is not None:
            client.close()
        cluster, self.cluster = self.cluster, None
        if cluster is not None:
            cluster.close()


def _death_note(processes: list[Any]) -> str:
    """How a pool's dead worker ended (the others are terminated by the pool): best effort."""
    for process in processes:
        code = process.exitcode
        if code is None or code == -signal.SIGTERM:
            continue
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"
    return ""


def make_engine(scenario: Scenario, workers: int | None, scheduler: str | None) -> Engine:
    """The engine for the options: in-process, process pool, or Dask."""
    if workers is not None and workers < 1:
        raise CbsimError(f"--workers must be at least 1, got {workers}")
    n = workers or available_cores()
    if scheduler:
        return DaskEngine(scenario, scheduler, n)
    if n == 1:
        return SerialEngine(scenario)
    return PoolEngine(scenario, n)


def available_cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# ------------------------------------------------------------------------ the table
class RunTable:
    """Turns batch results into Arrow tables with one fixed schema, written as part files."""

    def __init__(
        self, experiment: Experiment, design: list[dict[str, Any]], columns: list[list[str]]
    ) -> None:
        self.experiment = experiment
        self.design = design
        self.schema = pa.schema([(name, pa.type_for_alias(kind)) for name, kind in columns])
        self.factor_paths = experiment.factor_paths
        fixed = {name for name, _ in ID_COLUMNS} | set(self.factor_paths) | {"error"}
        self.outcome_keys = [name for name, _ in columns if name not in fixed]

    @staticmethod
    def columns_for(experiment: Experiment, probe: dict[str, Any]) -> list[list[str]]:
        """Column names and Arrow types: ids, factors, the outcomes of a probe run, error."""
        cols = [[name, str(kind)] for name, kind in ID_COLUMNS]
        cols += [[f.path, str(KIND_TYPES[f.kind])] for f in experiment.factors]
        for key, value in probe.items():
            cols.append([key, str(_arrow_type(value))])
        cols.append(["error", "string"])
        return cols

    def specs(self, run_ids: np.ndarray) -> list[RunSpec]:
        """What a worker needs for these runs: id, seed and the design point's values."""
        r, seed = self.experiment.replicates, self.experiment.seed
        return [(i, run_seed(seed, i), self.design[i // r]) for i in run_ids.tolist()]

    def table(self, results: list[RunResult]) -> pa.Table:
        """Rows for finished runs, in run-id order, with the fixed schema."""
        r, seed = self.experiment.replicates, self.experiment.seed
        results = sorted(results, key=lambda item: item[0])
        ids = [run_id for run_id, _, _ in results]
        points = [run_id // r for run_id in ids]
        outcomes = [{} if out is None else out for _, out, _ in results]
        errors = [error for _, _, error in results]
        cols: dict[str, list] = {
            "run_id": ids,
            "design_point": points,
            "replicate": [i % r for i in ids],
            "seed": [run_seed(seed, i) for i in ids],
        }
        for path in self.factor_paths:
            cols[path] = [self.design[point][path] for point in points]
        for key in self.outcome_keys:
            cols[key] = [out.get(key) for out in outcomes]
        arrays = [
            _array(cols[fld.name], fld.type, fld.name, errors)
            for fld in self.schema
            if fld.name != "error"
        ]
        arrays.append(pa.array(errors, type=pa.string()))
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _arrow_type(value: Any) -> pa.DataType:
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    return pa.string()  # strings, and months that may be None


def _array(values: list, kind: pa.DataType, name: str, errors: list) -> pa.Array:
    """An Arrow array; a value that does not fit the column is nulled and noted in `errors`."""
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        fixed = []
        for i, value in enumerate(values):
            try:
                fixed.append(pa.scalar(value, type=kind).as_py())
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
                fixed.append(None)
                note = f"outcome {name}={value!r} does not fit type {kind}"
                errors[i] = f"{errors[i]}; {note}" if errors[i] else note
        return pa.array(fixed, type=kind)


def write_part(runs_dir: Path, table: pa.Table) -> Path:
    """Write one part file atomically (hidden temporary name, then rename)."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    first = int(table.column("run_id")[0].as_py()) if table.num_rows else 0
    path = runs_dir / f"part-{first:09d}-{secrets.token_hex(4)}.parquet"
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _read_part(part: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a part file in this thread (`pq.read_table` starts Arrow's thread pools, and the
    process pool forks its workers from this process)."""
    with pq.ParquetFile(part, pre_buffer=False) as handle:
        return handle.read(columns=columns, use_threads=False)


def finished_runs(runs_dir: Path, planned: int) -> tuple[np.ndarray, int]:
    """Which run ids already have a row (a boolean mask), and how many of them failed."""
    done = np.zeros(planned, dtype=bool)
    failed = 0
    for leftover in runs_dir.glob(".part-*.tmp"):  # a write cut short by a kill
        leftover.unlink(missing_ok=True)
    for part in sorted(runs_dir.glob("part-*.parquet")):
        try:
            table = _read_part(part, ["run_id", "error"])
        except (OSError, pa.ArrowInvalid) as exc:
            raise CbsimError(
                f"{part}: unreadable part file ({exc}); move it away and resume again"
            ) from None
        ids = table.column("run_id").to_numpy()
        if len(ids) and (ids.min() < 0 or ids.max() >= planned):
            raise CbsimError(f"{part}: run ids outside this experiment's design")
        if done[ids].any():
            raise CbsimError(f"{part}: holds runs already in another part file")
        done[ids] = True
        failed += len(ids) - table.column("error").null_count
    return done, failed


def forget_worker_deaths(runs_dir: Path) -> int:
    """Drop the rows of runs lost with their worker process, so that they run again.

    Each part file holding such rows is replaced atomically by one without them (or removed
    if nothing is left); rows of runs whose model raised are kept. Returns how many rows went.
    """
    forgotten = 0
    for part in sorted(runs_dir.glob("part-*.parquet")):
        try:
            errors = _read_part(part, ["error"]).column("error")
        except (OSError, pa.ArrowInvalid):
            continue  # `finished_runs` names an unreadable part
        keep = [error is None or not error.startswith(WORKER_DIED) for error in errors.to_pylist()]
        n = keep.count(False)
        if not n:
            continue
        if n == len(errors):
            part.unlink()
        else:
            kept = _read_part(part).filter(pa.array(keep, type=pa.bool_()))
            buffer = io.BytesIO()
            pq.write_table(kept, buffer)
            atomic_write_bytes(part, buffer.getvalue())
        forgotten += n
    return forgotten


# ------------------------------------------------------------------------ manifest
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _versions() -> dict[str, str]:
    names = ("cbsim", "mesa", "numpy", "pandas", "pyarrow", "SALib", "dask", "distributed")
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def new_manifest(
    experiment: Experiment,
    scenario: Scenario,
    fingerprint: str,
    columns: list[list[str]],
    n_points: int,
) -> dict[str, Any]:
    """The manifest of a new sweep (status `running`)."""
    return {
        "format": MANIFEST_FORMAT,
        "experiment": experiment.summary(),
        "experiment_file": experiment.text,
        "scenario": {"name": scenario.name, "path": scenario.path},
        "fingerprint": fingerprint,
        "master_seed": experiment.seed,
        "seeds": "run seed = SeedSequence([master_seed, run_id]).generate_state(1, uint64)"
        "[0] >> 1; run_id = design_point * replicates + replicate",
        "design_points": n_points,
        "replicates": experiment.replicates,
        "problem": experiment.problem(),
        "factors": experiment.factor_paths,
        "columns": columns,
        "versions": _versions(),
        "runs": {"planned": n_points * experiment.replicates, "done": 0, "failed": 0},
        "started": _now(),
        "ended": None,
        "status": "running",
        "sessions": [],
    }


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of an existing sweep folder (CbsimError if missing or unreadable)."""
    import json

    path = out / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CbsimError(f"{out}: not a sweep output folder (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise CbsimError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise CbsimError(f"{path}: not a cbsim sweep manifest (format {MANIFEST_FORMAT})")
    return manifest


# ------------------------------------------------------------------------ the sweep
class _Stop(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


class _Unsent(BrokenProcessPool):
    """A batch that a broken process pool refused: it never reached a worker."""


def run_sweep(
    experiment: str | os.PathLike | Experiment,
    out: str | os.PathLike | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    *,
    batch_size: int | None = None,
    progress: bool | None = None,
) -> int:
    """Run every run of `experiment` not yet in `out`; return the exit status (0).

    Args:
        experiment: a path or the name of a file in `experiments/`.
        out: output folder (default ``sweeps/NAME``); must not exist unless `resume`.
        workers: local processes (default: all cores; 1 runs in this process) or, with
            ``scheduler="local"``, the LocalCluster's workers.
        scheduler: a Dask scheduler address (``tcp://host:8786``) or ``local``.
        resume: finish an interrupted sweep in `out`, running only the missing run ids.
        batch_size: runs per task (default: sized from the work left and the workers).
        progress: show a progress bar (default: when stderr is a terminal).

    Worker processes start by importing the caller's main module (as with any process pool
    on Python 3.14, and with Dask), so call this from under ``if __name__ == "__main__":``
    in a script.
    """
    _arrow_without_pandas()
    exp = load_experiment(experiment)
    scenario = exp.base_scenario()
    raw = exp.raw_design()
    design = exp.design(raw)
    _check_design(exp, scenario, design)
    if batch_size is not None and batch_size < 1:
        raise CbsimError(f"batch size must be at least 1, got {batch_size}")
    if workers is not None and workers < 1:
        raise CbsimError(f"--workers must be at least 1, got {workers}")
    out = Path(out) if out is not None else Path("sweeps") / exp.name
    fingerprint = exp.fingerprint(scenario)

    lock = None
    if resume and (out / MANIFEST).exists():
        lock = _lock(out)
        try:
            manifest, done, failed, retried = _previous(out, exp, fingerprint)
        except BaseException:
            lock.close()
            raise
    else:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            if resume:
                raise CbsimError(f"{out}: not a sweep output folder (no {MANIFEST}); cannot resume")
            raise CbsimError(
                f"{out}: output folder already exists; use --resume to finish "
                "it, or choose another --out"
            )
        columns = RunTable.columns_for(exp, _probe(scenario))
        manifest = new_manifest(exp, scenario, fingerprint, columns, len(design))
        done, failed, retried = np.zeros(exp.n_runs(), dtype=bool), 0, 0

    table = RunTable(exp, design, manifest["columns"])
    engine = None
    finished = False
    try:
        # the engine comes first: a scheduler that cannot be reached leaves nothing behind
        engine = make_engine(scenario, workers, scheduler) if not done.all() else None
        if lock is None:
            lock = _create_output(out, exp, raw, manifest)
        status = _execute(
            exp,
            table,
            out,
            manifest,
            done,
            failed,
            engine,
            batch_size,
            sys.stderr.isatty() if progress is None else progress,
            retried,
        )
        finished = True
        return status
    finally:
        if engine is not None:
            engine.close(cancel=not finished)
        if lock is not None:
            lock.close()


def _arrow_without_pandas() -> None:
    """Keep pyarrow from importing pandas (~30 MB, 0.2 s), unless it is already imported.

    The first time pyarrow converts Python values it imports pandas, if installed, only to
    check whether they are pandas objects; a sweep never gives it any. If that first import
    fails, pyarrow does not try again for such checks (it still imports pandas for an
    explicit conversion such as `Table.to_pandas`), so pandas is hidden for one conversion.
    """
    if "pandas" in sys.modules:
        return
    hide = _HidePandas()
    sys.meta_path.insert(0, hide)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(hide)


class _HidePandas:
    """An import finder under which `import pandas` fails."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas":
            raise ModuleNotFoundError("pandas hidden from pyarrow by cbsim.sweep.run", name=name)


def _previous(
    out: Path, exp: Experiment, fingerprint: str
) -> tuple[dict[str, Any], np.ndarray, int, int]:
    """The manifest, finished runs, failed count and runs to retry of the sweep in `out`.

    Runs lost with their worker process are forgotten, so that they run again.
    """
    manifest = read_manifest(out)
    if manifest.get("fingerprint") != fingerprint:
        raise CbsimError(
            f"{out}: the experiment or its scenario has changed since this "
            "sweep started; resume needs the same experiment (or use a new --out)"
        )
    started_with, now = manifest.get("versions", {}), _versions()
    changed = [
        f"{name} {started_with.get(name)} -> {now[name]}"
        for name in ("cbsim", "mesa")
        if started_with.get(name) != now[name]
    ]
    if changed:
        print(
            f"cbsim: warning: {out} was started with other versions ({', '.join(changed)}); "
            "runs from both will share one table",
            file=sys.stderr,
        )
    try:
        for leftover in out.glob(".*.tmp"):  # a manifest write cut short by a kill
            leftover.unlink(missing_ok=True)
        (out / RUNS_DIR).mkdir(exist_ok=True)
        retried = forget_worker_deaths(out / RUNS_DIR)
    except OSError as exc:
        raise CbsimError(
            f"{out}: cannot write in the output folder ({exc.strerror or exc})"
        ) from None
    done, failed = finished_runs(out / RUNS_DIR, exp.n_runs())
    return manifest, done, failed, retried


def _lock(out: Path) -> Any:
    """Hold an exclusive lock on `out` (released when this process ends, even if killed).

    The lock file is held open read-only (flock needs no more), so the sweep holds no file
    open for writing between writes; touching it checks that the folder is writable.
    """
    handle = None
    try:
        handle = open(os.open(out / LOCK, os.O_RDONLY | os.O_CREAT, 0o644), "rb")  # noqa: SIM115
        os.utime(handle.fileno())
    except OSError as exc:
        if handle is not None:
            handle.close()
        raise CbsimError(
            f"{out}: cannot write in the output folder ({exc.strerror or exc})"
        ) from None
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise CbsimError(
                f"{out}: another cbsim sweep is writing to this folder; wait "
                "for it to finish (or stop it) before resuming"
            ) from None
    _HELD_LOCKS.add(handle)  # forked workers close their copy (`_init_worker`)
    return handle


def _check_design(exp: Experiment, scenario: Scenario, design: list[dict[str, Any]]) -> None:
    """Every design point must make a valid scenario (e.g. a stance above its floor)."""
    seen: set = set()
    for i, point in enumerate(design):
        key = tuple(sorted(point.items()))
        if key in seen:
            continue
        seen.add(key)
        scenario.with_overrides(point, source=f"{exp.source}: factors (design point {i})")


def _probe(scenario: Scenario) -> dict[str, Any]:
    """One run of the base scenario: the outcome names and types the table will hold."""
    try:
        return simulate(scenario, seed=0)
    except Exception as exc:
        raise CbsimError(
            f"{scenario.path}: the base scenario does not run ({type(exc).__name__}: {exc})"
        ) from None


def _create_output(out: Path, exp: Experiment, raw: np.ndarray, manifest: dict[str, Any]) -> Any:
    """Create and lock the output folder with the experiment, design and manifest in it.

    The folder is built under a hidden name next to `out` and renamed into place, so `out`
    is either absent or a sweep that ``--resume`` can finish, however the process ends.
    Returns the lock, held.
    """
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(out)
        staging = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
        staging.mkdir()
    except OSError as exc:
        raise CbsimError(
            f"{out}: cannot create the output folder ({exc.strerror or exc})"
        ) from None
    lock = _lock(staging)
    try:
        (staging / RUNS_DIR).mkdir()
        if exp.text:
            atomic_write_text(staging / "experiment.toml", exp.text)
        design = {"design_point": np.arange(len(raw), dtype=np.int64)}
        design.update({path: raw[:, j] for j, path in enumerate(exp.factor_paths)})
        buffer = io.BytesIO()
        pq.write_table(pa.table(design), buffer)
        atomic_write_bytes(staging / DESIGN, buffer.getvalue())
        atomic_write_json(staging / MANIFEST, manifest)
        os.rename(staging, out)  # replaces `out` only if it is an empty folder
    except OSError as exc:
        lock.close()
        shutil.rmtree(staging, ignore_errors=True)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CbsimError(
                f"{out}: output folder already exists; use --resume to finish "
                "it, or choose another --out"
            ) from None
        raise CbsimError(
            f"{out}: cannot write the sweep's output ({exc.strerror or exc})"
        ) from None
    return lock  # the lock file moved with the folder: `out` is locked


def _remove_stale_staging(out: Path) -> None:
    """Remove folders that a killed sweep was building for `out` (none is locked)."""
    for staging in out.parent.glob(f".{out.name}.*.tmp"):
        if not staging.is_dir():
            continue
        if not (staging / LOCK).exists():
            if time.time() - staging.stat().st_mtime < 60:
                continue  # another sweep may just have made it, and not locked it yet
        else:
            try:
                _lock(staging).close()
            except CbsimError:
                continue  # another sweep is building it now
        shutil.rmtree(staging, ignore_errors=True)


def _progress_bar(total: int, initial: int, label: str) -> Any:
    """A tqdm bar on stderr (tqdm is imported only when a bar is shown)."""
    from tqdm import tqdm

    class Bar(tqdm):
        monitor_interval = 0  # no monitor thread: a broken pool's workers are forked again

    return Bar(
        total=total,
        initial=initial,
        unit="run",
        desc=label,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.05,
    )


class _NoBar:
    """What the sweep calls on a progress bar, doing nothing (no terminal to draw on)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _batches(todo: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(todo), size):
        yield todo[start : start + size]


def _guided_batches(todo: np.ndarray, size: int, workers: int) -> Iterator[np.ndarray]:
    """Batches of `size` runs, shrinking toward the end ("guided" scheduling).

    Once less than a round of full batches is left, each batch takes half of a worker's
    share of what remains (at least MIN_BATCH runs), so the workers finish together instead
    of one finishing a full batch while the others wait.
    """
    start = 0
    while start < len(todo):
        left = len(todo) - start
        take = max(1, min(size, max(MIN_BATCH, math.ceil(left / (2 * workers)))))
        yield todo[start : start + take]
        start += take


def _execute(
    exp: Experiment,
    table: RunTable,
    out: Path,
    manifest: dict[str, Any],
    done: np.ndarray,
    failed: int,
    engine: Engine,
    batch_size: int | None,
    progress: bool,
    retried: int = 0,
) -> int:
    """Submit the missing runs in batches, write each finished batch, keep the manifest.

    Returns 0, or `EXIT_RUNS_FAILED` if any run in the table failed.
    """
    planned = len(done)
    todo = np.flatnonzero(~done)
    runs_dir = out / RUNS_DIR
    counts = {"done": int(done.sum()), "failed": int(failed)}
    session = {
        "started": _now(),
        "ended": None,
        "engine": None,
        "runs": 0,
        "worker_restarts": 0,
        "runs_failed": 0,
        "runs_lost_with_worker": 0,
        "runs_retried": retried,
        "cbsim": _versions()["cbsim"],
    }
    manifest["sessions"].append(session)

    def save(status: str) -> None:
        manifest["runs"] = {"planned": planned, **counts}
        manifest["status"] = status
        if status != "running":
            session["ended"] = manifest["ended"] = _now()
        try:
            atomic_write_json(out / MANIFEST, manifest)
        except OSError as exc:
            raise CbsimError(
                f"{out / MANIFEST}: cannot write ({exc.strerror or exc}); "
                f"{counts['done']:,} finished runs are kept (finish with "
                "--resume)"
            ) from None

    if retried:
        print(f"{exp.name}: running again {retried:,} runs whose worker process died")
    if not len(todo):
        save("complete")
        failed_note = f" ({counts['failed']:,} failed)" if counts["failed"] else ""
        print(f"{exp.name}: all {planned:,} runs already done{failed_note}; results in {runs_dir}/")
        return EXIT_RUNS_FAILED if counts["failed"] else 0

    started = time.monotonic()
    session["engine"] = engine.label
    size = batch_size or max(
        1, min(MAX_BATCH, math.ceil(len(todo) / (engine.workers * BATCHES_PER_WORKER)))
    )
    window = engine.workers * IN_FLIGHT_PER_WORKER
    batches = _batches(todo, size) if batch_size else _guided_batches(todo, size, engine.workers)
    pending: dict[Any, tuple[np.ndarray, int, str]] = {}  # future: run ids, attempt, stage
    retry: deque[tuple[np.ndarray, int, str]] = deque()  # lost batches or runs, to resubmit
    alone: deque[tuple[int, int]] = deque()  # suspect runs (id, attempt), one at a time
    held: list[RunResult] = []  # results of single runs, written a batch's worth at a time
    bar = _progress_bar(planned, counts["done"], exp.name) if progress else _NoBar()
    old_term = _catch_sigterm()
    last_save = 0.0
    breaks = 0  # pool breaks since a batch last came back

    def submit(ids: np.ndarray, attempt: int, stage: str = "batch") -> None:
        try:
            future = engine.submit(table.specs(ids))
        except Exception as exc:  # the pool broke since the last wait: the batch never ran
            if not engine.lost_all(exc):
                raise
            future = cf.Future()
            future.set_exception(_Unsent(str(exc)))
        pending[future] = (ids, attempt, stage)

    def fill() -> None:
        """Keep the window full; a suspect run goes alone, once nothing else is in flight."""
        if alone:
            if not pending:
                run_id, attempt = alone.popleft()
                submit(np.array([run_id]), attempt, "alone")
            return
        while len(pending) < window:
            if retry:
                submit(*retry.popleft())
                continue
            ids = next(batches, None)
            if ids is None:
                return
            submit(ids, 1)

    def finish(results: list[RunResult], stage: str) -> None:
        """Write a batch's results; single runs' are held until a batch's worth is in."""
        if stage == "batch":
            record(results)
            return
        held.extend(results)
        if len(held) >= size or not (
            alone or any(s != "batch" for _, _, s in [*retry, *pending.values()])
        ):
            flush()

    def flush() -> None:
        if held:
            results = held.copy()
            held.clear()
            record(results)

    def record(results: list[RunResult]) -> None:
        part = table.table(results)
        try:
            write_part(runs_dir, part)
        except OSError as exc:
            raise CbsimError(
                f"{runs_dir}: cannot write results ({exc.strerror or exc}); "
                f"{counts['done']:,} finished runs are kept (finish with "
                "--resume)"
            ) from None
        n_failed = part.num_rows - part.column("error").null_count
        counts["done"] += part.num_rows
        counts["failed"] += n_failed
        session["runs"] += part.num_rows
        session["runs_failed"] += n_failed
        bar.update(part.num_rows)
        if counts["failed"]:
            bar.set_postfix(failed=counts["failed"], refresh=False)

    def lose(ids: np.ndarray, attempt: int, stage: str, exc: BaseException) -> None:
        """A batch lost with its worker goes again, then run by run; a run lost on its own
        goes alone; a run whose worker dies when it runs alone is recorded as failed."""
        if isinstance(exc, _Unsent):  # refused by a broken pool: it did not count
            if stage == "alone":
                alone.appendleft((int(ids[0]), attempt))
            else:
                retry.appendleft((ids, attempt, stage))
        elif stage == "batch" and attempt < BATCH_ATTEMPTS:
            retry.append((ids, attempt + 1, "batch"))
        elif stage == "batch":  # lost again: find the run that kills its worker, if any
            retry.extend((ids[i : i + 1], 1, "run") for i in range(len(ids)))
        elif stage == "run":
            alone.append((int(ids[0]), 1))
        elif attempt < ALONE_ATTEMPTS:
            alone.appendleft((int(ids[0]), attempt + 1))
        else:
            how = f", {engine.death}" if engine.death else ""
            note = (
                f"{WORKER_DIED} running this run ({attempt} times, alone{how}): "
                f"{type(exc).__name__}: {exc}"
            )
            finish([(int(ids[0]), None, note[:2000])], stage)
            session["runs_lost_with_worker"] += 1

    try:
        save("running")
        while True:
            fill()
            if not pending:
                break
            finished, _ = engine.wait(set(pending))
            for future in finished:
                if future not in pending:
                    continue  # already dealt with when its pool broke
                ids, attempt, stage = pending.pop(future)
                try:
                    results = future.result()
                except Exception as exc:  # the worker died or the batch was lost
                    lost = [(ids, attempt, stage, exc)]
                    if engine.lost_all(exc):
                        breaks += 1
                        if breaks >= MAX_BREAKS:
                            raise CbsimError(
                                f"worker processes keep dying ({breaks} times in "
                                f"a row with no batch finishing: {exc}); "
                                f"{counts['done']:,} finished runs are kept in "
                                f"{runs_dir}/ (resume with --workers 1 to see "
                                "why)"
                            ) from None
                        for other, other_batch in list(pending.items()):
                            why = exc
                            if other.done() and not other.cancelled():
                                why = other.exception()
                                if why is None:  # finished before the pool broke
                                    finish(other.result(), other_batch[2])
                                    continue
                            lost.append((*other_batch, why))
                        pending.clear()
                        engine.restart()
                        session["worker_restarts"] += 1
                    for lost_batch in lost:
                        lose(*lost_batch)
                    continue
                finish(results, stage)
                breaks = 0
            if time.monotonic() - last_save > MANIFEST_EVERY_S:
                save("running")
                last_save = time.monotonic()
        flush()
    except KeyboardInterrupt:
        bar.close()
        engine.close(cancel=True)  # stop the workers before anything else
        with contextlib.suppress(CbsimError):
            flush()
        save("interrupted")
        print(
            f"{exp.name}: interrupted; {counts['done']:,} of {planned:,} runs kept in "
            f"{runs_dir}/ (finish with --resume)",
            file=sys.stderr,
        )
        raise KeyboardInterrupt from None
    except BaseException:
        bar.close()
        with contextlib.suppress(CbsimError):  # keep the first error (e.g. a full disk)
            flush()
        with contextlib.suppress(CbsimError):
            save("failed")
        raise
    finally:
        _restore_sigterm(old_term)
    bar.close()
    save("complete")
    elapsed = time.monotonic() - started
    failed_note = ""
    if counts["failed"]:
        lost = session["runs_lost_with_worker"]
        failed_note = f", {counts['failed']:,} failed (see the error column" + (
            f"; {lost:,} lost with their worker process, run again by --resume)" if lost else ")"
        )
    print(
        f"{exp.name}: {session['runs']:,} runs in {elapsed:.1f} s on {engine.label}; "
        f"{counts['done']:,} of {planned:,} done{failed_note}; results in {runs_dir}/"
    )
    print(f"next: cbsim analyse {out}")
    return EXIT_RUNS_FAILED if counts["failed"] else 0


def _catch_sigterm() -> Any:
    """Treat SIGTERM like Ctrl-C while the sweep runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise _Stop()

    return signal.signal(signal.SIGTERM, stop)


def _restore_sigterm(old: Any) -> None:
    if old is not None:
        signal.signal(signal.SIGTERM, old)


__all__ = [
    "run_sweep",
    "run_batch",
    "make_engine",
    "finished_runs",
    "forget_worker_deaths",
    "read_manifest",
    "EXIT_RUNS_FAILED",
]
