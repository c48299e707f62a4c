"""The live odds: P(target met) and the spread of the share over time for the page's settings.

`ensemble` runs the fast kernel (`cbsim.model.kernel.Programme`) on common seeds 0..runs-1
with the incentives as set on the page; with a posterior (`cbsim viz --posterior DIR`), run i
takes its parameters from `Posterior.draw(i)` first and the page's settings on top. Results
are cached by their settings, so moving a slider back is instant. Plain functions: the page
calls them in a background thread (`cbsim.workshop.app`).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, TimeoutError
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from cbsim.inputs.scenario import load_scenario
from cbsim.model.kernel import Programme
from cbsim.workshop.server import POSTERIOR_ENV

RUNS = 100
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)  # the fan: median, 50% and 90% bands
Z95 = 1.959964


def wilson(met: int, runs: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (95% by default) for `met` successes in `runs`."""
    if runs <= 0:
        return 0.0, 1.0
    p = met / runs
    centre = (p + z * z / (2 * runs)) / (1 + z * z / runs)
    half = z / (1 + z * z / runs) * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Odds:
    """What `runs` runs with one set of incentives say."""

    settings: tuple[tuple[str, Any], ...]
    runs: int
    met: int
    low: float  # Wilson 95% interval for P(target met)
    high: float
    fan: dict[float, list[float]]  # quantile -> share developing, month by month
    mean_cost_at_target_m: float | None  # mean central cost to the target date, £m
    particles: int | None  # the posterior's particles, or None (the scenario's values)

    @property
    def p(self) -> float:
        return self.met / self.runs


def settings_key(values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The incentives as a hashable, ordered key."""
    return tuple(sorted(values.items()))


@lru_cache(maxsize=4)
def load_posterior(folder: str) -> Any:
    from cbsim.calibrate.posterior import Posterior

    return Posterior.load(folder)


def posterior_folder() -> str | None:
    """The posterior the server was started with ($CBSIM_POSTERIOR), or None."""
    return os.environ.get(POSTERIOR_ENV) or None


Chunk = tuple[list[list[float]], int, list[float]]  # shares by run, runs met, costs


def run_chunk(
    scenario: str, settings: tuple[tuple[str, Any], ...], posterior: str | None, seeds: range
) -> Chunk:
    """Run `seeds` (in a worker process, or here): the share month by month of each run,
    how many met the target, and their central costs to the target date."""
    drawn = load_posterior(posterior) if posterior else None
    spec = load_scenario(scenario)  # read once, not once a run
    shares: list[list[float]] = []
    costs: list[float] = []
    met = 0
    for seed in seeds:
        values = {**(drawn.draw(seed) if drawn is not None else {}), **dict(settings)}
        run = Programme(spec, rng=seed, **values)
        run.run_to_end()
        out = run.outcomes()
        shares.append(list(run.series()["share_developing"]))
        run.release()
        met += bool(out["target_met"])
        if out["central_cost_m_at_target"] is not None:
            costs.append(float(out["central_cost_m_at_target"]))
    return shares, met, costs


def exit_with_server(server: int) -> None:
    """In a worker: exit once the server's process is gone (a watcher thread; not Linux's
    parent-death signal, which fires when the server's *thread* that started the pool ends)."""

    def watch() -> None:
        while os.getppid() == server:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


WORKERS = max(1, min(2, os.cpu_count() or 1))
_pool: list[Executor] = []


def pool() -> Executor:
    """The server's worker processes for the odds (started once, shared by every tab; spawned,
    not forked, since the server runs threads)."""
    if not _pool:
        _pool.append(
            ProcessPoolExecutor(
                WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_server,  # never left running when the server stops
                initargs=(os.getpid(),),
            )
        )
    return _pool[0]


CHUNK = 20  # runs a worker does at a time: a stale computation stops within one chunk
_cache: dict[tuple[Any, ...], Odds] = {}
_cache_lock = threading.Lock()
CACHE_SIZE = 256


def _wait(futures: list[Future[Chunk]], cancel: threading.Event | None) -> list[Chunk] | None:
    """The chunks' results in order, or None (pending chunks cancelled) once `cancel` is set."""
    done: list[Chunk] = []
    for future in futures:
        while True:
            if cancel is not None and cancel.is_set():
                for f in futures:
                    f.cancel()
                return None
            try:
                done.append(future.result(timeout=0.05))
                break
            except TimeoutError:
                continue
    return done


def ensemble(
    scenario: str,
    settings: tuple[tuple[str, Any], ...],
    posterior: str | None = None,
    runs: int = RUNS,
    parallel: bool = True,
    cancel: threading.Event | None = None,
) -> Odds | None:
    """Run `scenario` with `settings` on seeds 0..runs-1 (each from the posterior's draw for
    its seed, when a posterior folder is given), in chunks over the worker processes when
    `parallel`. The same settings give the same odds, however they are split (and are then
    taken from a cache). None when `cancel` is set before the runs are done (the settings
    have changed: the result would be stale)."""
    key = (scenario, settings, posterior, runs)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    chunks = [range(i, min(i + CHUNK, runs)) for i in range(0, runs, CHUNK)]
    if parallel and WORKERS > 1:
        futures = [pool().submit(run_chunk, scenario, settings, posterior, c) for c in chunks]
        done = _wait(futures, cancel)
    else:
        done = []
        for c in chunks:
            if cancel is not None and cancel.is_set():
                return None
            done.append(run_chunk(scenario, settings, posterior, c))
    if done is None:
        return None
    odds = _summary(settings, runs, done, len(load_posterior(posterior)) if posterior else None)
    with _cache_lock:
        if len(_cache) >= CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = odds
    return odds


def _summary(
    settings: tuple[tuple[str, Any], ...], runs: int, done: list[Chunk], particles: int | None
) -> Odds:
    shares = [row for chunk in done for row in chunk[0]]
    costs = [cost for chunk in done for cost in chunk[2]]
    met = sum(chunk[1] for chunk in done)
    table = np.asarray(shares, dtype=float)
    fan = {q: [float(v) for v in np.quantile(table, q, axis=0)] for q in QUANTILES}
    low, high = wilson(met, runs)
    return Odds(
        settings=settings,
        runs=runs,
        met=met,
        low=low,
        high=high,
        fan=fan,
        mean_cost_at_target_m=math.fsum(costs) / len(costs) if costs else None,
        particles=particles,
    )
