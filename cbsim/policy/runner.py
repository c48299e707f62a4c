"""Where a search runs its packages: in this process, the sweep's local process pool, or a
Dask cluster (`cbsim.sweep.options.make_engine`: the sweep's own engines, with the Dask
engine's deadlines and worker probe).

A package's seeds are split into one batch per worker; every run carries its own seed and
parameter draw, and the rows come back in seed order, so the numbers are the same on any
engine and any worker count.
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from cbsim.inputs.errors import CbsimError
from cbsim.inputs.scenario import Scenario
from cbsim.sweep.spec import RunResult, RunSpec

KEPT = ("target_met", "central_cost_m", "central_cost_m_at_target")


class PackageRunner:
    """Runs packages on given seeds on one engine, made when the runner is (a Dask scheduler
    that does not answer, or whose workers cannot run cbsim, is one CbsimError line naming
    --scheduler, before any run)."""

    def __init__(self, spec: Scenario, workers: int = 1, scheduler: str | None = None) -> None:
        from cbsim.sweep.options import make_engine

        self.scheduler = scheduler
        self.runs_done = 0
        self.engine: Any = make_engine(spec, workers, scheduler)
        self.workers: int = self.engine.workers
        self.label: str = self.engine.label

    def run(
        self, levers: dict[str, Any], seeds: list[int], draws: list[dict[str, Any]]
    ) -> np.ndarray:
        """One row per seed, in seed order: target met (0/1), cost over the run, cost to the
        target. `levers` win over the seed's draw."""
        runs: list[RunSpec] = [
            (i, seed, {**{k: v for k, v in drawn.items() if k not in levers}, **levers})
            for i, (seed, drawn) in enumerate(zip(seeds, draws, strict=True))
        ]
        results = sorted(self._results(runs), key=lambda result: result[0])
        rows = []
        for run_id, outcomes, error in results:
            if outcomes is None:
                raise CbsimError(f"search: run of seed {seeds[run_id]} failed: {error}")
            rows.append([float(outcomes[k]) for k in KEPT])
        if len(rows) != len(runs):  # pragma: no cover - an engine that drops runs
            raise CbsimError(f"search: {len(runs) - len(rows)} runs came back missing")
        self.runs_done += len(runs)
        return np.array(rows, dtype=float)

    def _results(self, runs: list[RunSpec]) -> list[RunResult]:
        """Run `runs` in one batch per worker and wait for them all."""
        if self.engine is None:
            raise CbsimError("search: the runner is closed")
        bounds = np.linspace(0, len(runs), self.workers + 1).astype(int)
        parts = [runs[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        futures = [self.engine.submit(part) for part in parts]
        try:
            return [result for future in futures for result in future.result()]
        except BrokenProcessPool as exc:
            raise CbsimError(f"search: a worker process died ({exc})") from None
        except Exception as exc:  # a Dask cluster lost the batch (KilledWorker, cancelled...)
            if self.scheduler is None:
                raise
            raise CbsimError(
                f"--scheduler {self.scheduler}: the Dask cluster did not return a batch of "
                f"the search ({one_line(exc)})"
            ) from None

    def close(self) -> None:
        """Stop the workers (and a LocalCluster); drop a remote cluster's client."""
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.close(cancel=True)


def one_line(exc: BaseException) -> str:
    """`exc` as one short line."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 300 else text[:297] + "..."
