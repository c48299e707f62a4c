"""Sweeps: run an experiment's design points x replicates, streaming results to Parquet.

Runs go to workers in batches: a local process pool by default (forked on Linux: workers
start at once and share this process's memory), a Dask cluster when a scheduler address is
given (``local`` starts a `LocalCluster`). Both sit behind the same small engine interface
(`cbsim.sweep.engines`), so there is one code path. Every run's seed comes from the master
seed and its run id (its replicate, in a paired experiment), so the table does not depend on
the engine, the worker count or the order in which batches finish.

The package, one job a module:

- `run` (here): `run_sweep`, one session of a sweep from start to `SweepSummary`;
- `start`: where a session starts (the sweep to resume, checked; a new one's probe run);
- `workload`, `monthly`: what workers run (base scenarios by name; runs with monthly series);
- `engines`: where batches run (in-process, process pool, Dask) and the worker side;
- `scheduler`: which batches to send, and the retry policy for runs lost with a worker;
- `store`: part files, the run table's schema, the output folder and its lock;
- `series_store`: the monthly series' part files (``series = true``);
- `manifest`: ``manifest.json`` as a typed `Manifest`;
- `progress`: the progress bar; `spec`: names and limits the others share.

Each part file is written atomically when its batch finishes, so an interrupted sweep keeps
every finished run and ``resume=True`` runs only the missing run ids. A worker process that
dies loses the batches in flight: they are sent again, and a run that kills its worker is
found and recorded as failed (error ``worker process died ...``) while the others finish
(`cbsim.sweep.scheduler`); ``resume=True`` runs such runs again.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from cbsim.inputs.errors import CbsimError, printable
from cbsim.inputs.experiment import Experiment, load_experiment
from cbsim.inputs.scenario import Scenario
from cbsim.sweep.calibrated import Posterior, check_posterior
from cbsim.sweep.engines import Engine
from cbsim.sweep.folder import (
    already_exists,
    check_out,
    create_output,
    default_out,
    lock_folder,
    startable,
)
from cbsim.sweep.interrupts import catch_interrupts, restore_handlers
from cbsim.sweep.manifest import (
    RunCounts,
    Session,
    Status,
    new_manifest,
    now,
    versions,
)
from cbsim.sweep.options import (
    check_scheduler,
    check_workers,
    default_workers,
    make_engine,
    useful_workers,
)
from cbsim.sweep.progress import Bar, NoBar, progress_bar
from cbsim.sweep.scheduler import Batch, BatchScheduler, FutureLike, PoolKeepsBreaking, Unsent
from cbsim.sweep.series_store import write_series_part
from cbsim.sweep.spec import (
    EXIT_RUNS_FAILED,
    MANIFEST,
    MANIFEST_EVERY_S,
    RUNS_DIR,
    RunResult,
)
from cbsim.sweep.start import Start, check_design, previous, probe
from cbsim.sweep.store import RunTable, arrow_without_pandas, part_name, rows_written, write_part
from cbsim.sweep.workload import workload


@dataclass(frozen=True)
class SweepSummary:
    """What a `run_sweep` call did, and where the results are."""

    name: str  # the experiment's name (printable: control codes escaped)
    out: Path  # the output folder
    planned: int  # runs in the design (design points x replicates)
    done: int  # runs with a row in the table, this call's and earlier ones'
    failed: int  # rows with an error
    ran: int  # rows this call wrote
    lost_with_worker: int  # runs recorded failed: their worker died running them alone
    retried: int  # runs lost with their worker earlier, run again by this call
    seconds: float  # time spent running (0 if nothing was left to run)
    engine: str | None  # where the runs ran ("process pool (2 workers)"); None: nowhere

    @property
    def runs_dir(self) -> Path:
        return self.out / RUNS_DIR

    @property
    def already_done(self) -> bool:
        """Every run had a row before this call: nothing ran."""
        return self.engine is None

    @property
    def exit_status(self) -> int:
        """0, or `EXIT_RUNS_FAILED` if any run in the table failed."""
        return EXIT_RUNS_FAILED if self.failed else 0


def run_sweep(
    experiment: str | os.PathLike[str] | Experiment,
    out: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    *,
    batch_size: int | None = None,
    progress: bool | None = None,
    posterior: Posterior | None = None,
) -> SweepSummary:
    """Run every run of `experiment` not yet in `out`; return what was done.

    Args:
        experiment: a path or the name of a file in `experiments/`.
        out: output folder (default ``sweeps/NAME``); must not exist, or be empty, unless
            `resume`.
        workers: local processes, 1 to `MAX_WORKERS` (default: all cores, at most that;
            1 runs in this process; never more than there are batches) or, with
            ``scheduler="local"``, the LocalCluster's workers.
        scheduler: a Dask scheduler address (``tcp://host:8786``) or ``local``.
        resume: finish an interrupted sweep in `out`, running only the missing run ids,
            with the design stored in it.
        batch_size: runs per task (default: sized from the work left and the workers).
        progress: show a progress bar on stderr (default: when stderr is a terminal).
        posterior: draws each run's calibrated parameters from its seed (`draw(seed)`, e.g.
            a `cbsim.calibrate.posterior.Posterior`); the design point's values win. Its
            `record` goes into the manifest, and a resumed sweep must use the same one.

    The summary's `exit_status` is 0 when every run finished without error and
    `EXIT_RUNS_FAILED` when the table holds failed runs.

    Worker processes start by importing the caller's main module (as with any process pool
    on Python 3.14, and with Dask), so call this from under ``if __name__ == "__main__":``
    in a script.
    """
    check_workers(workers)
    if scheduler is not None:
        check_scheduler(scheduler)
    if batch_size is not None and batch_size < 1:
        raise CbsimError(f"batch size must be at least 1, got {batch_size}")
    arrow_without_pandas()
    exp = load_experiment(experiment)
    folder = Path(out) if out is not None else default_out(exp.name)
    check_out(folder)
    scenario = exp.base_scenario()
    scenarios = exp.scenarios()
    lock, start = _open(folder, exp, scenario, resume)
    check_posterior(start.manifest, posterior, folder, resume)
    engine = None
    finished = False
    try:
        design = exp.design(start.raw)
        check_design(exp, scenarios, design)
        table = RunTable(
            exp, design, start.manifest.columns, None if posterior is None else posterior.draw
        )
        todo = int((~start.done).sum())
        if todo:  # first: a scheduler that cannot be reached leaves nothing behind
            n = useful_workers(todo, workers or default_workers(), batch_size)
            work = workload(scenarios, next(iter(scenarios)), exp.series)
            engine = make_engine(work, n, scheduler)
        if lock is None:
            lock = create_output(folder, exp, start.raw, start.manifest)
        show = sys.stderr.isatty() if progress is None else progress
        summary = _Sweep(exp, table, folder, start, engine, batch_size, show).run()
        finished = True
        return summary
    finally:
        if engine is not None:
            engine.close(cancel=not finished)
        if lock is not None:
            lock.close()


def _open(
    out: Path, exp: Experiment, scenario: Scenario, resume: bool
) -> tuple[IO[bytes] | None, Start]:
    """The sweep in `out` to resume (locked), or a new one's start (no folder yet)."""
    fingerprint = exp.fingerprint(scenario)
    if resume and (out / MANIFEST).exists():
        lock = lock_folder(out)
        try:
            return lock, previous(out, exp, fingerprint)
        except BaseException:
            lock.close()
            raise
    if not startable(out):
        if resume:
            raise CbsimError(f"{out}: not a sweep output folder (no {MANIFEST}); cannot resume")
        raise already_exists(out)
    raw = exp.raw_design()
    columns = RunTable.columns_for(exp, _probe(exp.scenarios()))
    manifest = new_manifest(exp, scenario, fingerprint, columns, len(raw))
    return None, Start(manifest, raw, np.zeros(exp.n_runs(), dtype=bool), 0, 0)


def _probe(scenarios: dict[str, Scenario]) -> dict[str, Any]:
    """One run of each base scenario: the outcome names and types the table will hold."""
    return probe(scenarios)


# ------------------------------------------------------------------------ one session


class _Sweep:
    """One session of a sweep: sends the missing runs, writes each part, keeps the manifest."""

    def __init__(
        self,
        exp: Experiment,
        table: RunTable,
        out: Path,
        start: Start,
        engine: Engine | None,
        batch_size: int | None,
        progress: bool,
    ) -> None:
        self.exp = exp
        self.table = table
        self.out = out
        self.runs_dir = out / RUNS_DIR
        self.manifest = start.manifest
        self.todo = np.flatnonzero(~start.done)
        self.counts = RunCounts(
            planned=len(start.done), done=int(start.done.sum()), failed=start.failed
        )
        self.manifest.runs = self.counts  # saved with the manifest
        self.session = Session(started=now(), runs_retried=start.retried, cbsim=versions()["cbsim"])
        self.manifest.sessions.append(self.session)
        self.engine = engine
        self.batch_size = batch_size
        self.progress = progress
        self.bar: Bar = NoBar()
        self.last_save = 0.0

    def run(self) -> SweepSummary:
        """Run the missing runs (if any) and say what was done."""
        if self.engine is None or not len(self.todo):
            self.save("complete")
            return self.summary(0.0, None)
        engine = self.engine
        started = time.monotonic()
        self.session.engine = engine.label
        scheduler = BatchScheduler(self.todo, engine.workers, self.batch_size)
        self.bar = progress_bar(
            self.counts.planned, self.counts.done, printable(self.exp.name), self.progress
        )
        old_handlers = catch_interrupts()
        try:
            self.save("running")
            self.loop(engine, scheduler)
            self.write(scheduler.flush())
        except KeyboardInterrupt:
            self.interrupted(engine, scheduler)
            raise KeyboardInterrupt from None
        except BaseException:
            self.bar.close()
            with contextlib.suppress(CbsimError):  # keep the first error (e.g. a full disk)
                self.write(scheduler.flush())
            with contextlib.suppress(CbsimError):
                self.save("failed")
            raise
        finally:
            restore_handlers(old_handlers)
        self.bar.close()
        self.save("complete")
        return self.summary(time.monotonic() - started, engine.label)

    def loop(self, engine: Engine, scheduler: BatchScheduler) -> None:
        """Keep the workers busy until every run has come back (or is recorded failed)."""
        while True:
            scheduler.submit(lambda batch: self.send(engine, batch))
            if not scheduler.in_flight:
                return
            finished, _ = engine.wait(scheduler.pending())
            for future in finished:
                self.collect(engine, scheduler, future)
            if time.monotonic() - self.last_save > MANIFEST_EVERY_S:
                self.save("running")
                self.last_save = time.monotonic()

    def send(self, engine: Engine, batch: Batch) -> FutureLike:
        """Submit a batch; a batch that a broken pool refuses comes back `Unsent`."""
        try:
            future: FutureLike = engine.submit(self.table.specs(batch.ids))
        except Exception as exc:  # the pool broke since the last wait: the batch never ran
            if not engine.lost_all(exc):
                raise
            refused: cf.Future[list[RunResult]] = cf.Future()
            refused.set_exception(Unsent(str(exc)))
            future = refused
        return future

    def collect(self, engine: Engine, scheduler: BatchScheduler, future: FutureLike) -> None:
        """A future is done: write its results, or deal with the batch it lost."""
        batch = scheduler.take(future)
        if batch is None:
            return  # already dealt with when its pool broke
        try:
            results = future.result()
        except Exception as exc:  # the worker died or the batch was lost
            self.lost(engine, scheduler, batch, exc)
            return
        self.write(scheduler.record(batch, results))

    def lost(
        self, engine: Engine, scheduler: BatchScheduler, batch: Batch, exc: BaseException
    ) -> None:
        """`batch` was lost; a broken pool lost every batch in flight, and starts again."""
        lost = [(batch, exc)]
        if engine.lost_all(exc):
            try:
                ready, lost = scheduler.pool_broken(batch, exc)
            except PoolKeepsBreaking as stop:
                raise CbsimError(
                    f"worker processes keep dying ({stop}); {self.counts.done:,} finished "
                    f"runs are kept in {self.runs_dir}/ (resume with --workers 1 to see why)"
                ) from None
            self.write(ready)
            engine.restart()
            self.session.worker_restarts += 1
        for lost_batch, why in lost:
            self.write(scheduler.lose_batch(lost_batch, why, engine.death))
        self.session.runs_lost_with_worker = scheduler.lost_with_worker

    def write(self, results: list[RunResult]) -> None:
        """Write finished runs as a part file and count them."""
        if not results:
            return
        part = self.table.table(results)
        try:
            name = part_name(part)
            if self.exp.series:  # first: a runs part always has its series (see series_store)
                write_series_part(self.out, results, name)
            write_part(self.runs_dir, part, name)
        except OSError as exc:
            raise CbsimError(
                f"{self.runs_dir}: cannot write results ({exc.strerror or exc}); "
                f"{self.counts.done:,} finished runs are kept (finish with --resume)"
            ) from None
        n_failed = part.num_rows - part.column("error").null_count
        self.counts.done += part.num_rows
        self.counts.failed += n_failed
        self.session.runs += part.num_rows
        self.session.runs_failed += n_failed
        self.bar.update(part.num_rows)
        if self.counts.failed:
            self.bar.set_postfix(failed=self.counts.failed, refresh=False)

    def save(self, status: Status) -> None:
        """Write the manifest with the counts so far and `status`."""
        self.manifest.status = status
        if status != "running":
            self.session.ended = self.manifest.ended = now()
        try:
            self.manifest.write(self.out)
        except OSError as exc:
            raise CbsimError(
                f"{self.out / MANIFEST}: cannot write ({exc.strerror or exc}); "
                f"{self.counts.done:,} finished runs are kept (finish with --resume)"
            ) from None

    def interrupted(self, engine: Engine, scheduler: BatchScheduler) -> None:
        """Ctrl-C or SIGTERM: stop the workers, keep what finished, say how to finish."""
        self.bar.close()
        engine.close(cancel=True)  # stop the workers before anything else
        with contextlib.suppress(CbsimError):
            self.write(scheduler.flush())
        with contextlib.suppress(CbsimError, OSError):  # a part written as the signal came
            self.counts.done = rows_written(self.runs_dir)
        self.save("interrupted")
        print(
            f"{printable(self.exp.name)}: interrupted; {self.counts.done:,} of "
            f"{self.counts.planned:,} "
            f"runs kept in {self.runs_dir}/ (finish with --resume)",
            file=sys.stderr,
        )

    def summary(self, seconds: float, engine: str | None) -> SweepSummary:
        return SweepSummary(
            name=printable(self.exp.name),
            out=self.out,
            planned=self.counts.planned,
            done=self.counts.done,
            failed=self.counts.failed,
            ran=self.session.runs,
            lost_with_worker=self.session.runs_lost_with_worker,
            retried=self.session.runs_retried,
            seconds=seconds,
            engine=engine,
        )


__all__ = ["run_sweep", "SweepSummary", "EXIT_RUNS_FAILED"]
