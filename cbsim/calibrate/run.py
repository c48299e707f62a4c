"""Running a calibration: ABC-SMC with pyabc, one generation at a time, reporting progress.

`run_calibration` validates the calibration file and the output folder and connects to the
workers before it writes anything. pyabc then samples the prior once (its first ε is the
median distance of that sample) and runs generations until ε reaches 0 (every accepted
particle meets every fitted target), `abc.max_generations` generations are on record, or a
generation would need more evaluations than the population over `abc.min_acceptance_rate`.
After each generation the callback `progress` is called (the CLI prints it) and the manifest
is rewritten; pyabc's SQLite history holds every complete generation, so ``resume=True``
continues an interrupted calibration where it stopped (`ABCSMC.load`, then the remaining
generations). The loop is pyabc's own `ABCSMC.run` (`initialize_components_before_run`,
`run_generation`, `check_terminate`), written out so that progress can be reported between
generations.

Samplers: one process (`SingleCoreSampler`: the whole calibration is reproducible from its
seed), local processes (`MulticoreEvalParallelSampler`; each worker reseeds numpy from the
operating system, so proposals differ between runs, but a particle's simulations never do),
or Dask (`DaskDistributedSampler`, on a scheduler's address or a `LocalCluster`).
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

from cbsim.calibrate import folder as fs
from cbsim.calibrate.priors import prior_distribution
from cbsim.calibrate.problem import TargetDistance, TargetModel, load
from cbsim.calibrate.report import write_outputs
from cbsim.inputs.calibration import Calibration
from cbsim.inputs.errors import CbsimError, InputError

MAX_WORKERS = 64
CONNECT_TIMEOUT_S = 10  # seconds to wait for a Dask scheduler to answer
WORKERS_TIMEOUT_S = 30  # seconds to wait for its first worker


@dataclass(frozen=True)
class Progress:
    """What the calibration is doing: sampling the prior, starting a generation, or done
    with one (then with its acceptance rate, evaluations, time and an estimate of the time
    left, at most `max_generations - generation` more generations like those so far)."""

    phase: str  # "prior", "generation" or "done"
    generation: int  # 1-based
    max_generations: int
    epsilon: float | None = None
    acceptance_rate: float | None = None
    evaluations: int = 0
    seconds: float = 0.0
    eta_seconds: float | None = None

    def text(self) -> str:
        """One line for a terminal."""
        head = f"generation {self.generation}/{self.max_generations}"
        if self.phase == "prior":
            return "sampling the prior to set the first epsilon ..."
        if self.phase == "generation":
            return f"{head}: epsilon {self.epsilon:.4g}, sampling ..."
        eta = f"; at most {_duration(self.eta_seconds)} left" if self.eta_seconds else ""
        return (
            f"{head} done: epsilon {self.epsilon:.4g}, acceptance rate "
            f"{self.acceptance_rate or 0:.1%} ({self.evaluations:,} particles evaluated in "
            f"{_duration(self.seconds)}){eta}"
        )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


@dataclass(frozen=True)
class CalibrationSummary:
    """What a finished calibration did (for the CLI to print)."""

    name: str
    out: Path
    stop_reason: str
    generations: int  # complete generations on record
    ran: int  # of which run this time
    seconds: float  # this time
    simulations: int  # runs of `simulate` this time
    engine: str
    already_done: bool = False
    validation: tuple[tuple[str, bool], ...] = ()  # held-out target, consistent with history

    @property
    def simulations_per_second(self) -> float:
        """Runs of `simulate` per second of this session."""
        return self.simulations / self.seconds if self.seconds > 0 else 0.0


class CalibrationInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a calibration; the generations on record can be resumed."""

    def __init__(self, name: str, out: Path, generations: int) -> None:
        super().__init__(f"{name}: interrupted with {generations} generation(s) on record")
        self.name, self.out, self.generations = name, out, generations


ProgressCallback = Callable[[Progress], None]


def run_calibration(
    calibration: str | os.PathLike[str] | Calibration,
    out: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
) -> CalibrationSummary:
    """Calibrate, writing into `out` (default `posteriors/NAME`); see the module docstring.

    Raises InputError (nothing written) for a bad file, folder, worker count or scheduler;
    CalibrationInterrupted on Ctrl-C (the folder can be resumed)."""
    cal = load(calibration)
    folder = Path(out) if out is not None else fs.default_out(cal)
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise InputError("--workers", None, f"must be from 1 to {MAX_WORKERS}, got {workers}")
    if resume:
        manifest = fs.read_manifest(folder)
        fs.check_resumable(manifest, cal, folder)
        if manifest.get("status") == "done":
            done = len(manifest.get("generations", []))
            reason = str(manifest.get("stop_reason", ""))
            return CalibrationSummary(cal.name, folder, reason, done, 0, 0.0, 0, "", True)
    else:
        fs.check_new_folder(folder)
        manifest = _new_manifest(cal)
    with _quiet_pyabc(), open_sampler(workers, scheduler) as (sampler, engine):
        return _calibrate(cal, folder, manifest, sampler, engine, progress or _ignore)


def _ignore(progress: Progress) -> None:
    """The default progress callback: nothing."""


def _new_manifest(cal: Calibration) -> dict[str, Any]:
    return {
        "kind": fs.KIND,
        "format": fs.MANIFEST_FORMAT,
        "status": "new",
        "calibration": {
            "file": str(cal.path),
            "copy": fs.CALIBRATION_COPY,
            "fingerprint": cal.fingerprint(),
            **cal.summary(),
        },
        "seed": cal.seed,
        "versions": fs.versions(),
        "database": fs.DATABASE,
        "run_id": None,
        "simulations_per_evaluation": TargetModel(cal, cal.fitted).simulations,
        "started": fs.now(),
        "sessions": [],
        "prior_sample": None,
        "generations": [],
    }


# ------------------------------------------------------------------------ samplers
def default_workers() -> int:
    """The processes to use when none is asked for: every core this process may use."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


@contextmanager
def open_sampler(workers: int | None, scheduler: str | None) -> Iterator[tuple[Any, str]]:
    """pyabc's sampler for the workers asked for, and a description of it; a Dask client
    (and a LocalCluster) is closed on leaving."""
    from pyabc.sampler import (
        DaskDistributedSampler,
        MulticoreEvalParallelSampler,
        SingleCoreSampler,
    )

    if scheduler is None:
        n = workers or default_workers()
        if n == 1:
            yield SingleCoreSampler(), "1 process"
        else:
            yield MulticoreEvalParallelSampler(n_procs=n), f"{n} local processes"
        return
    client, cluster = _dask_client(scheduler, workers)
    try:
        cores = sum(client.ncores().values())
        where = "a local Dask cluster" if cluster is not None else f"Dask at {scheduler}"
        yield DaskDistributedSampler(dask_client=client), f"{where} ({cores} cores)"
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_client(scheduler: str, workers: int | None) -> tuple[Any, Any]:
    """A Dask client on `scheduler` ('local': a new LocalCluster) with at least one worker."""
    from dask.distributed import Client, LocalCluster

    if scheduler == "local":
        n = workers or default_workers()
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return Client(cluster), cluster
    if not scheduler.strip():
        raise InputError("--scheduler", None, "empty address (say tcp://HOST:PORT or local)")
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise InputError(
            "--scheduler",
            None,
            f"no Dask scheduler answered at {scheduler} within {CONNECT_TIMEOUT_S} s ({reason})",
        ) from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except (TimeoutError, OSError):
        client.close()
        raise InputError(
            "--scheduler",
            None,
            f"the scheduler at {scheduler} has no worker after {WORKERS_TIMEOUT_S} s",
        ) from None
    return client, None


# ------------------------------------------------------------------------ the run
@contextmanager
def _quiet_pyabc() -> Iterator[None]:
    """pyabc logs every generation on stderr, and Dask's nannies warn when they stop a busy
    worker at the end; the calibration reports through its callback instead."""
    loggers = {"ABC": logging.WARNING, "distributed": logging.ERROR}
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name, level in loggers.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _calibrate(
    cal: Calibration,
    out: Path,
    manifest: dict[str, Any],
    sampler: Any,
    engine: str,
    progress: ProgressCallback,
) -> CalibrationSummary:
    import pyabc

    fs.start_folder(out, cal)
    session: dict[str, Any] = {"started": fs.now(), "engine": engine, "status": "running"}
    manifest["sessions"].append(session)
    manifest["status"] = "running"
    fs.write_manifest(out, manifest)
    model = TargetModel(cal, cal.fitted)
    abc = pyabc.ABCSMC(
        model,
        prior_distribution(cal.priors),
        TargetDistance(cal.fitted),
        population_size=cal.population,
        sampler=sampler,
    )
    clock, cpu = perf_counter(), _cpu_seconds()
    before = _evaluations(manifest)
    try:
        t0 = _open_history(abc, out, manifest)
        fs.write_manifest(out, manifest)
        reason = _generations(abc, cal, out, manifest, t0, progress)
        ran = len(manifest["generations"]) - t0
        seconds, cpu = perf_counter() - clock, _cpu_seconds() - cpu
        if not manifest["generations"]:
            raise CbsimError(f"{cal.name}: no generation was completed ({reason})")
        validation = _finish(abc, cal, out, manifest, reason)
    except KeyboardInterrupt:
        _close(out, manifest, session, "interrupted")
        raise CalibrationInterrupted(cal.name, out, len(manifest["generations"])) from None
    except BaseException as exc:
        _close(out, manifest, session, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if abc.history is not None:
            abc.history.done()
        sampler.stop()
    simulations = (_evaluations(manifest) - before) * model.simulations
    session.update(seconds=round(seconds, 3), cpu_seconds=round(cpu, 3), simulations=simulations)
    _close(out, manifest, session, "done")
    return CalibrationSummary(
        cal.name,
        out,
        reason,
        len(manifest["generations"]),
        ran,
        seconds,
        simulations,
        engine,
        validation=validation,
    )


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished child processes (pyabc's local workers
    are joined after every generation), user and system."""
    import resource

    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _open_history(abc: Any, out: Path, manifest: dict[str, Any]) -> int:
    """Continue the history on record (if it holds a complete generation) or start one;
    return the first generation to run."""
    url = fs.database_url(out)
    if manifest.get("run_id") is not None:
        abc.load(url, int(manifest["run_id"]))
        if abc.history.max_t >= 0:
            _record(abc.history, manifest)
            return int(abc.history.max_t) + 1
    history = abc.new(url, {})
    manifest.update(run_id=int(history.id), generations=[], prior_sample=None)
    return 0


def _generations(
    abc: Any,
    cal: Calibration,
    out: Path,
    manifest: dict[str, Any],
    t0: int,
    progress: ProgressCallback,
) -> str:
    """Run generations from `t0` until pyabc stops; return why it stopped."""
    remaining = cal.max_generations - t0
    if remaining <= 0:
        return "max_generations reached"
    if manifest["generations"] and manifest["generations"][-1]["epsilon"] <= 0:
        return _stop_reason(0.0, t0 - 1, 1.0, cal)  # stopped there, then interrupted later
    _seed_generation(cal.seed, -1)
    if t0 == 0:
        progress(Progress("prior", 1, cal.max_generations))
    t = abc.initialize_components_before_run(
        minimum_epsilon=0.0,
        max_nr_populations=remaining,
        min_acceptance_rate=cal.min_acceptance_rate,
        max_total_nr_simulations=np.inf,
        max_walltime=None,
        min_eps_diff=0.0,
    )
    _record(abc.history, manifest)
    durations: list[float] = []
    while True:
        epsilon = float(abc.eps(t))
        progress(Progress("generation", t + 1, cal.max_generations, epsilon))
        start = perf_counter()
        _seed_generation(cal.seed, t)
        result = abc.run_generation(t=t)
        if not result["successful"]:
            return (
                f"generation {t + 1} would have needed more than population / "
                f"min_acceptance_rate evaluations (min_acceptance_rate "
                f"{cal.min_acceptance_rate:g}); it was not kept"
            )
        durations.append(perf_counter() - start)
        _record(abc.history, manifest)
        fs.write_manifest(out, manifest)
        rate = float(result["acceptance_rate"])
        left = (cal.max_generations - t - 1) * sum(durations) / len(durations)
        if epsilon <= 0:  # pyabc stops here: every accepted particle meets every target
            left = 0.0
        done = manifest["generations"][-1]
        progress(
            Progress(
                "done",
                t + 1,
                cal.max_generations,
                epsilon,
                rate,
                done["evaluations"],
                durations[-1],
                left,
            )
        )
        if abc.check_terminate(t=t, acceptance_rate=rate):
            return _stop_reason(epsilon, t, rate, cal)
        t += 1


def _seed_generation(seed: int, t: int) -> None:
    """Seed numpy's and Python's global random state (which pyabc uses) for generation `t`
    (-1: the prior sample), so that with one process a resumed calibration draws exactly what
    an uninterrupted one would."""
    state = int(np.random.SeedSequence([seed, t + 1]).generate_state(1)[0])
    np.random.seed(state)
    random.seed(state)


def _stop_reason(epsilon: float, t: int, rate: float, cal: Calibration) -> str:
    if epsilon <= 0:
        return "epsilon reached 0: every accepted particle meets every fitted target"
    if t + 1 >= cal.max_generations:
        return "max_generations reached"
    if rate < cal.min_acceptance_rate:
        return f"acceptance rate {rate:.3g} below min_acceptance_rate"
    return "pyabc stopped"


def _record(history: Any, manifest: dict[str, Any]) -> None:
    """The manifest's record of the prior sample and of every complete generation."""
    rows = history.get_all_populations()
    generations = []
    for row in rows.itertuples():
        if int(row.t) < 0:
            manifest["prior_sample"] = {"evaluations": int(row.samples)}
            continue
        _, weights = history.get_distribution(m=0, t=int(row.t))
        w = np.asarray(weights, dtype=float)
        generations.append(
            {
                "generation": int(row.t) + 1,
                "epsilon": float(row.epsilon),
                "evaluations": int(row.samples),
                "particles": len(w),
                "acceptance_rate": len(w) / int(row.samples) if row.samples else None,
                "effective_sample_size": float(w.sum() ** 2 / (w**2).sum()),
                "seconds": float(row.wall_time) if row.wall_time is not None else None,
                "finished": str(row.population_end_time),
            }
        )
    manifest["generations"] = generations


def _evaluations(manifest: dict[str, Any]) -> int:
    """Particles evaluated so far: the prior sample and every generation on record."""
    prior = (manifest.get("prior_sample") or {}).get("evaluations", 0)
    return int(prior) + sum(int(g["evaluations"]) for g in manifest.get("generations", []))


def _finish(
    abc: Any, cal: Calibration, out: Path, manifest: dict[str, Any], reason: str
) -> tuple[tuple[str, bool], ...]:
    """Write the posterior, the report and its figures (staged), and say how the held-out
    targets came out."""
    frame, weights = abc.history.get_distribution(m=0, t=abc.history.max_t)
    manifest["stop_reason"] = reason
    with fs.staged(out) as staging:
        outputs, summary = write_outputs(cal, frame, np.asarray(weights, float), manifest, staging)
    manifest.update(outputs=outputs, **summary)
    checks = summary.get("predictive", [])
    return tuple((c["name"], bool(c["consistent"])) for c in checks if c["holdout"])


def _close(
    out: Path, manifest: dict[str, Any], session: dict[str, Any], status: str, error: str = ""
) -> None:
    """Mark the session and the calibration `status` in the manifest (best effort when the
    calibration failed: the first error is the one reported)."""
    session.update(status=status, finished=fs.now())
    manifest.update(status=status, finished=fs.now())
    if error:
        session["error"] = error[:2000]
    try:
        fs.write_manifest(out, manifest)
    except OSError:
        if status == "done":
            raise
