"""Which runs go to the workers next, and what becomes of runs lost with a worker.

The scheduler knows batches of run ids and the futures they were sent as, not processes:
the sweep asks it for the batches to send (`submit`), hands back each finished future's
results (`record`) or failure (`lose_batch`, or `pool_broken` when a process pool broke and
lost every batch in flight), and writes what it is given back. Its retry policy:

- a batch lost with its worker once is sent again; lost twice, it is split into single runs;
- a single run lost is sent *alone* (nothing else in flight), so that a run that kills its
  worker is found while the other runs finish;
- a run whose worker dies when it runs alone is sent alone once more, then recorded as
  failed with the error ``worker process died ...`` (``--resume`` runs such runs again);
- a batch that a broken pool refused (`Unsent`) never ran: it goes first, as it was;
- pool breaks `MAX_BREAKS` times in a row with no batch coming back: `PoolKeepsBreaking`.

Batches shrink toward the end of a sweep ("guided" scheduling) unless a size is given, and
at most `IN_FLIGHT_PER_WORKER` batches per worker are in flight. Results of single runs are
held until a batch's worth is in (or no single run is left), so that part files stay few.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

from cbsim.sweep.spec import (
    ALONE_ATTEMPTS,
    BATCH_ATTEMPTS,
    BATCHES_PER_WORKER,
    IN_FLIGHT_PER_WORKER,
    MAX_BATCH,
    MAX_BREAKS,
    MAX_ERROR,
    MIN_BATCH,
    WORKER_DIED,
    RunResult,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Stage = Literal["batch", "run", "alone"]


class Unsent(BrokenProcessPool):
    """A batch that a broken process pool refused: it never reached a worker (no attempt)."""


@dataclass(frozen=True)
class Batch:
    """Runs sent to a worker as one task.

    `stage` is ``batch`` for the planned batches, ``run`` for one run of a batch lost twice
    (sent among others), ``alone`` for a run sent with nothing else in flight; `attempt`
    counts the times it was sent at this stage (a refused send does not count).
    """

    ids: tuple[int, ...]
    attempt: int = 1
    stage: Stage = "batch"


class FutureLike(Protocol):
    """What the scheduler asks of a future (concurrent.futures' and Dask's have it)."""

    def done(self) -> bool: ...

    def cancelled(self) -> bool: ...

    def exception(self) -> BaseException | None: ...

    def result(self) -> Any: ...


Lost = list[tuple[Batch, BaseException]]  # batches lost, and why


class PoolKeepsBreaking(Exception):
    """The pool broke `breaks` times in a row with no batch coming back."""

    def __init__(self, breaks: int, cause: BaseException) -> None:
        super().__init__(f"{breaks} times in a row with no batch finishing: {cause}")
        self.breaks = breaks
        self.cause = cause


class BatchScheduler:
    """The runs still to do, the batches in flight, and the runs to send again."""

    def __init__(
        self,
        todo: Sequence[int] | npt.NDArray[np.intp],
        workers: int,
        batch_size: int | None = None,
    ) -> None:
        """`todo`: run ids to run, in order; `workers`: how many run batches at once;
        `batch_size`: runs per batch (default: sized from the runs and the workers, and
        shrinking toward the end)."""
        self.todo = todo  # run ids, sent in this order
        self.next_start = 0  # todo[next_start:] are not sent yet
        self.workers = workers
        self.guided = batch_size is None  # batches shrink toward the end
        self.size = batch_size or max(
            1, min(MAX_BATCH, math.ceil(len(todo) / (workers * BATCHES_PER_WORKER)))
        )
        self.window = workers * IN_FLIGHT_PER_WORKER  # batches in flight at most
        self.in_flight: dict[FutureLike, Batch] = {}
        self.retry: deque[Batch] = deque()  # lost batches and single runs, to send again
        self.alone: deque[Batch] = deque()  # suspect runs, sent one at a time, nothing else
        self.held: list[RunResult] = []  # single runs' results, to write a batch's worth
        self.breaks = 0  # pool breaks since a batch last came back
        self.died_alone: list[int] = []  # runs recorded failed: their worker died, alone

    # ------------------------------------------------------------------ state
    @property
    def done(self) -> bool:
        """Nothing in flight and nothing left to send."""
        return not (self.in_flight or self.retry or self.alone or self._fresh_left())

    @property
    def lost_with_worker(self) -> int:
        """How many runs were recorded failed because their worker died running them alone."""
        return len(self.died_alone)

    def pending(self) -> set[FutureLike]:
        """The futures in flight."""
        return set(self.in_flight)

    # ------------------------------------------------------------------ sending
    def next_batches(self) -> list[Batch]:
        """The batches to send now (taken off the queues: give each to `sent`).

        A suspect run goes alone once nothing else is in flight; otherwise the window is
        filled with lost batches first, then new ones.
        """
        if self.alone:
            return [] if self.in_flight else [self.alone.popleft()]
        batches: list[Batch] = []
        while len(self.in_flight) + len(batches) < self.window:
            batch = self.retry.popleft() if self.retry else self._fresh()
            if batch is None:
                break
            batches.append(batch)
        return batches

    def sent(self, future: FutureLike, batch: Batch) -> None:
        """`batch` is in flight as `future`."""
        self.in_flight[future] = batch

    def submit(self, send: Callable[[Batch], FutureLike]) -> None:
        """Send the batches to send now with `send`, which returns a future for each."""
        for batch in self.next_batches():
            self.sent(send(batch), batch)

    def _fresh_left(self) -> int:
        return len(self.todo) - self.next_start

    def _fresh(self) -> Batch | None:
        """The next planned batch: `size` runs, or toward the end half a worker's share of
        what is left (at least MIN_BATCH), so that the workers finish together."""
        left = self._fresh_left()
        if left <= 0:
            return None
        take = self.size
        if self.guided:
            take = max(1, min(self.size, max(MIN_BATCH, math.ceil(left / (2 * self.workers)))))
        start, self.next_start = self.next_start, self.next_start + take
        return Batch(tuple(int(i) for i in self.todo[start : start + take]))

    # ------------------------------------------------------------------ coming back
    def take(self, future: FutureLike) -> Batch | None:
        """The batch `future` carried, no longer in flight (None if already dealt with)."""
        return self.in_flight.pop(future, None)

    def record(self, batch: Batch, results: list[RunResult]) -> list[RunResult]:
        """`batch` came back with `results`: return the results to write now."""
        self.breaks = 0
        return self._finish(batch, results)

    def lose_batch(self, batch: Batch, exc: BaseException, death: str = "") -> list[RunResult]:
        """`batch` was lost with its worker (`exc`; `death`: how the worker died, if known).

        Returns results to write now: a run recorded as failed, and single runs' results
        held until then.
        """
        if isinstance(exc, Unsent):  # refused by a broken pool: it did not count
            (self.alone if batch.stage == "alone" else self.retry).appendleft(batch)
        elif batch.stage == "batch" and batch.attempt < BATCH_ATTEMPTS:
            self.retry.append(replace(batch, attempt=batch.attempt + 1))
        elif batch.stage == "batch":  # lost again: find the run that kills its worker, if any
            self.retry.extend(Batch((run_id,), 1, "run") for run_id in batch.ids)
        elif batch.stage == "run":
            self.alone.append(Batch(batch.ids, 1, "alone"))
        elif batch.attempt < ALONE_ATTEMPTS:
            self.alone.appendleft(replace(batch, attempt=batch.attempt + 1))
        else:
            return self._died_alone(batch, exc, death)
        return []

    def pool_broken(self, batch: Batch, exc: BaseException) -> tuple[list[RunResult], Lost]:
        """The pool broke (`exc`, with `batch`): every batch in flight is lost, save those
        that came back first.

        Returns the results to write, and the lost batches with why, to give to
        `lose_batch` once the pool runs again. Raises `PoolKeepsBreaking` after
        `MAX_BREAKS` breaks in a row.
        """
        self.breaks += 1
        if self.breaks >= MAX_BREAKS:
            raise PoolKeepsBreaking(self.breaks, exc)
        in_flight, self.in_flight = self.in_flight, {}
        ready: list[RunResult] = []
        lost: Lost = [(batch, exc)]
        for future, other in in_flight.items():
            why = future.exception() if future.done() and not future.cancelled() else exc
            if why is None:  # finished before the pool broke
                ready += self._finish(other, future.result())
                continue
            lost.append((other, why))
        return ready, lost

    def flush(self) -> list[RunResult]:
        """The single runs' results held back: write them now."""
        held, self.held = self.held, []
        return held

    # ------------------------------------------------------------------ inside
    def _finish(self, batch: Batch, results: list[RunResult]) -> list[RunResult]:
        """A batch's results go to be written; single runs' are held for a batch's worth."""
        if batch.stage == "batch":
            return results
        self.held.extend(results)
        if len(self.held) >= self.size or not self._singles_left():
            return self.flush()
        return []

    def _singles_left(self) -> bool:
        """Whether single runs are still to send or in flight."""
        queued = [*self.retry, *self.in_flight.values()]
        return bool(self.alone) or any(batch.stage != "batch" for batch in queued)

    def _died_alone(self, batch: Batch, exc: BaseException, death: str) -> list[RunResult]:
        """Record a run whose worker died every time it ran alone as failed."""
        run_id = batch.ids[0]
        how = f", {death}" if death else ""
        note = (
            f"{WORKER_DIED} running this run ({batch.attempt} times, alone{how}): "
            f"{type(exc).__name__}: {exc}"
        )
        self.died_alone.append(run_id)
        return self._finish(batch, [(run_id, None, note[:MAX_ERROR])])
