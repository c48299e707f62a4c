"""Where batches run: in this process or a local process pool (a Dask cluster: `dask_engine`).

All three sit behind one small interface (`Engine`: `submit` a batch, `wait` for the first
finished ones), so the sweep has one code path. The worker side is here too: `run_batch`
runs a batch of runs with a pre-loaded scenario (or `Workload`: several base scenarios, or
monthly series kept), `_init_worker` prepares a pool worker, and
`worker_probe` checks a Dask worker.

Fork safety (the pool forks its workers on Linux): the sweep process must have no other
thread when it forks, so Arrow's allocator settings are made before pyarrow loads (see
`cbsim.sweep.store`), the progress bar has no monitor thread, part files are read in this
thread, and a broken pool's threads are joined, and gone, before the next pool forks. A
forked worker resets the parent's signal handlers, closes its copies of the parent's folder
locks and dies with its parent; it is forked with the signals this process handles blocked,
and unblocks them once it has reset their handlers.

This module imports no pyarrow, pandas or Dask: a worker needs only the model's kernel.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import gc
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import IO, Any, Protocol

from cbsim.model.simulate import simulate
from cbsim.sweep.spec import MAX_ERROR, RunResult, RunSpec
from cbsim.sweep.workload import Work, Workload

PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal a process gets when its parent dies
STOP_TIMEOUT_S = 10.0  # terminated pool workers have this long to end before SIGKILL


# ------------------------------------------------------------------------ worker side
def run_batch(scenario: Work, runs: list[RunSpec]) -> list[RunResult]:
    """Run a batch with a pre-loaded scenario (or `Workload`); a run that raises is returned
    with its error."""
    results: list[RunResult] = []
    for run_id, seed, overrides in runs:
        try:
            if isinstance(scenario, Workload):
                outcomes = scenario.run(seed, overrides, simulate)
            else:
                outcomes = simulate(scenario, seed=seed, **overrides)
            results.append((run_id, outcomes, None))
        except Exception as exc:  # recorded in the run's row, the sweep goes on
            results.append((run_id, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR]))
    return results


_WORKER_SCENARIO: Work | None = None
_HELD_LOCKS: weakref.WeakSet[IO[bytes]] = weakref.WeakSet()  # folder locks open here


def close_in_workers(handle: IO[bytes]) -> None:
    """Have pool workers forked from now on close their copy of `handle` (a folder lock), so
    that the lock goes when this process goes (closing a copy does not release a flock)."""
    _HELD_LOCKS.add(handle)


def _init_worker(
    scenario: Work, parent: int | None = None, blocked: frozenset[int] = frozenset()
) -> None:
    """Process-pool initializer: keep the scenario; signals and locks are the parent's business.

    A forked worker starts with the parent's signal handlers and open files: Ctrl-C is
    ignored (the parent stops the pool), SIGTERM and any other handled signal get their
    default action, and the worker closes its copies of the parent's folder locks, so that
    a lock goes when the parent goes (closing a copy does not release the parent's flock).
    The parent forks with the signals it handles `blocked` (see `_signals_blocked`): they
    are unblocked only now, so a SIGTERM sent to a worker still starting kills it, and never
    runs the parent's handler in it. A worker of `parent` (forked) is killed when that
    process dies: it would wait forever.
    """
    global _WORKER_SCENARIO
    for signum in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            if callable(signal.getsignal(signum)):
                signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    if blocked and hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)
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


def worker_probe() -> bool:
    """A task sent to each Dask worker before any batch: it runs only where this module
    imports (cbsim installed), which is what every batch needs."""
    return True


def _handled_signals() -> frozenset[int]:
    """The signals with a Python handler here, and SIGINT and SIGTERM: what a forked worker
    must not handle with this process's handlers before its initializer resets them."""
    found = {signal.SIGINT, signal.SIGTERM}
    for signum in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            if callable(signal.getsignal(signum)):
                found.add(signum)
    found -= {signal.SIGKILL, signal.SIGSTOP}
    return frozenset(int(s) for s in found)


@contextlib.contextmanager
def _signals_blocked(signals: frozenset[int]) -> Iterator[None]:
    """Block `signals` in this thread (and in the processes it forks) for the block's
    duration; a signal that arrives meanwhile is handled here when it ends."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _run_batch_in_worker(runs: list[RunSpec]) -> list[RunResult]:
    if _WORKER_SCENARIO is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("pool worker without a scenario (its initializer did not run)")
    return run_batch(_WORKER_SCENARIO, runs)


# ------------------------------------------------------------------------ engines
class Engine(Protocol):
    """What the sweep loop needs from an execution engine (in-process, pool or Dask)."""

    workers: int
    label: str
    death: str  # how the last dead worker died ("killed by SIGKILL"), if known, else ""

    def submit(self, runs: list[RunSpec]) -> Any:
        """Start a batch; return a future whose result is `run_batch`'s list."""

    def wait(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
        """Block until at least one of `pending` is done: (done, not done)."""

    def lost_all(self, exc: BaseException) -> bool:
        """True if this failure lost every pending batch (a broken process pool)."""

    def restart(self) -> None:
        """Replace broken workers (after `lost_all`)."""

    def close(self, cancel: bool = False) -> None:
        """Release the workers; with `cancel`, stop at once dropping running batches."""


class SerialEngine:
    """Runs each batch in this process when it is submitted (``workers=1``)."""

    def __init__(self, scenario: Work) -> None:
        self.scenario = scenario
        self.workers = 1
        self.label = "in-process (1 worker)"
        self.death = ""

    def submit(self, runs: list[RunSpec]) -> cf.Future[list[RunResult]]:
        future: cf.Future[list[RunResult]] = cf.Future()
        future.set_result(run_batch(self.scenario, runs))
        return future

    def wait(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
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

    def __init__(self, scenario: Work, workers: int) -> None:
        self.scenario = scenario
        self.workers = workers
        self.label = f"process pool ({workers} workers)"
        self.death = ""
        self.executor: cf.ProcessPoolExecutor | None = None
        try:
            self._start()
        except BaseException:  # e.g. Ctrl-C while forking: leave no pool behind
            self.close(cancel=True)
            raise

    def _start(self) -> None:
        method = _start_method()
        context = multiprocessing.get_context(method)
        parent = os.getpid() if method == "fork" else None
        blocked = _handled_signals() if method == "fork" else frozenset()
        if method == "forkserver":
            context.set_forkserver_preload([__name__])  # what a worker needs
        self.executor = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.scenario, parent, blocked),
        )
        if method == "fork":
            # the first task forks every worker now, with the handled signals blocked (the
            # workers unblock them once their handlers are reset); frozen objects stay out
            # of the workers' garbage collections, which would otherwise copy the pages
            # they touch
            gc.freeze()
            try:
                with _signals_blocked(blocked):
                    self.executor.submit(_ready)
            finally:
                gc.unfreeze()

    def _running(self) -> cf.ProcessPoolExecutor:
        if self.executor is None:
            raise BrokenProcessPool("the process pool is closed")
        return self.executor

    def submit(self, runs: list[RunSpec]) -> cf.Future[list[RunResult]]:
        return self._running().submit(_run_batch_in_worker, runs)

    def wait(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
        done, not_done = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        return done, not_done

    def lost_all(self, exc: BaseException) -> bool:
        """A dead worker breaks the whole pool: every pending batch must be resubmitted."""
        return isinstance(exc, BrokenProcessPool)

    def restart(self) -> None:
        processes = _processes(self.executor)
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
            _stop_workers(executor)
        executor.shutdown(wait=True, cancel_futures=True)


def _stop_workers(executor: cf.ProcessPoolExecutor) -> None:
    """Terminate a pool's workers, and see that its manager thread can end.

    A worker terminated while it writes a batch's results leaves half a message in the
    result pipe, and the pool's manager thread, reading it, would wait for the rest forever
    (and `shutdown` with it). Once every worker is gone, this process closes its own copy
    of the pipe's write end, which it never uses: the reader then gets end-of-file."""
    processes = _processes(executor)
    for process in processes:
        process.terminate()
    sentinels = [process.sentinel for process in processes]
    if not _all_ended(sentinels, STOP_TIMEOUT_S):
        for process in processes:
            with contextlib.suppress(OSError, ValueError):
                process.kill()
        _all_ended(sentinels, STOP_TIMEOUT_S)
    writer = getattr(getattr(executor, "_result_queue", None), "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()


def _processes(executor: cf.ProcessPoolExecutor | None) -> list[Any]:
    """The pool's worker processes (a private attribute of the executor: best effort)."""
    return list((getattr(executor, "_processes", None) or {}).values())


def _all_ended(sentinels: list[int], timeout: float) -> bool:
    """Wait until every process of these sentinels has ended (at most `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    left = list(sentinels)
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0:
            return False
        ready = multiprocessing.connection.wait(left, timeout=wait)
        left = [s for s in left if s not in ready]
    return True


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


def available_cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
