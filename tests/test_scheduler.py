"""The sweep's scheduler without any process: batches, the retry policy, nothing lost or twice.

Futures here are fakes that the test finishes or fails by hand (or a seeded random order);
a "pool" fails every batch in flight when one of its runs kills its worker, as a broken
process pool does, and a "Dask" cluster fails only that batch.
"""

from __future__ import annotations

import random
from concurrent.futures.process import BrokenProcessPool

import pytest

from cbsim.sweep.options import useful_workers
from cbsim.sweep.scheduler import Batch, BatchScheduler, PoolKeepsBreaking, Unsent
from cbsim.sweep.spec import (
    ALONE_ATTEMPTS,
    BATCH_ATTEMPTS,
    IN_FLIGHT_PER_WORKER,
    MAX_BREAKS,
    MIN_BATCH,
    WORKER_DIED,
    RunResult,
)


class FakeFuture:
    """A future finished (or failed) by the test."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self._done = False
        self._results: list[RunResult] | None = None
        self._exc: BaseException | None = None

    def finish(self) -> FakeFuture:
        self._done, self._results = True, ran(self.batch)
        return self

    def fail(self, exc: BaseException) -> FakeFuture:
        self._done, self._exc = True, exc
        return self

    def done(self) -> bool:
        return self._done

    def cancelled(self) -> bool:
        return False

    def exception(self) -> BaseException | None:
        return self._exc

    def result(self) -> list[RunResult]:
        if self._exc is not None:
            raise self._exc
        assert self._results is not None, "not finished"
        return self._results


def ran(batch: Batch) -> list[RunResult]:
    """What a worker returns for a batch that runs."""
    return [(run_id, {"value": run_id * 10}, None) for run_id in batch.ids]


def send_all(scheduler: BatchScheduler) -> list[FakeFuture]:
    """Send what the scheduler sends now; return the futures, in order."""
    sent: list[FakeFuture] = []

    def send(batch: Batch) -> FakeFuture:
        sent.append(FakeFuture(batch))
        return sent[-1]

    scheduler.submit(send)
    return sent


def died() -> BrokenProcessPool:
    return BrokenProcessPool("A process in the process pool was terminated abruptly")


# ------------------------------------------------------------------ sending
def test_batches_cover_every_run_once_in_order_and_fill_the_window():
    scheduler = BatchScheduler(list(range(1000)), workers=4)
    assert scheduler.window == 4 * IN_FLIGHT_PER_WORKER
    seen: list[int] = []
    sizes: list[int] = []
    while not scheduler.done:
        futures = send_all(scheduler)
        assert len(scheduler.in_flight) <= scheduler.window
        if not scheduler.in_flight:
            break
        for future in futures:
            seen += future.batch.ids
            sizes.append(len(future.batch.ids))
        first = next(iter(scheduler.pending()))
        assert scheduler.record(scheduler.take(first), first.finish().result()) == ran(first.batch)
        for future in list(scheduler.pending()):  # the rest finish too
            scheduler.record(scheduler.take(future), future.finish().result())
    assert seen == list(range(1000))
    assert sizes[0] == scheduler.size == 32  # 1000 runs / (4 workers x 8 batches each)
    assert sizes == sorted(sizes, reverse=True) and min(sizes[:-1]) >= MIN_BATCH  # guided


def test_a_given_batch_size_is_kept_to_the_end():
    scheduler = BatchScheduler(list(range(7)), workers=2, batch_size=3)
    sizes = [len(f.batch.ids) for f in send_all(scheduler)]
    assert sizes == [3, 3, 1]


def test_take_returns_each_batch_once():
    scheduler = BatchScheduler([0, 1], workers=1, batch_size=1)
    future = send_all(scheduler)[0]
    assert scheduler.take(future) == Batch((0,))
    assert scheduler.take(future) is None  # dealt with: a later wait may return it again


# ------------------------------------------------------------------ the retry policy
def test_a_lost_batch_goes_again_then_run_by_run_then_alone_then_is_recorded_failed():
    scheduler = BatchScheduler([0, 1, 2], workers=1, batch_size=3)
    (first,) = send_all(scheduler)
    assert first.batch == Batch((0, 1, 2), attempt=1, stage="batch")

    # lost once: sent again as it was, second attempt
    assert scheduler.lose_batch(scheduler.take(first), died()) == []
    (second,) = send_all(scheduler)
    assert second.batch == Batch((0, 1, 2), attempt=BATCH_ATTEMPTS, stage="batch")

    # lost twice: split into single runs, sent among others
    assert scheduler.lose_batch(scheduler.take(second), died()) == []
    singles = send_all(scheduler)
    assert [f.batch for f in singles] == [Batch((i,), 1, "run") for i in (0, 1)]  # window 2
    # runs 0 and 2 finish (held: single runs are written a batch's worth at a time)
    assert scheduler.record(scheduler.take(singles[0]), singles[0].finish().result()) == []
    (last_single,) = send_all(scheduler)
    assert last_single.batch == Batch((2,), 1, "run")
    assert scheduler.record(scheduler.take(last_single), last_single.finish().result()) == []

    # run 1 is lost on its own: it goes alone, once nothing else is in flight
    assert scheduler.lose_batch(scheduler.take(singles[1]), died()) == []
    (alone,) = send_all(scheduler)
    assert alone.batch == Batch((1,), 1, "alone")
    assert send_all(scheduler) == []  # nothing goes with it
    for attempt in range(2, ALONE_ATTEMPTS + 1):
        assert scheduler.lose_batch(scheduler.take(alone), died()) == []
        (alone,) = send_all(scheduler)
        assert alone.batch == Batch((1,), attempt, "alone")

    # lost again alone: recorded failed, and the held results come out with it
    written = scheduler.lose_batch(scheduler.take(alone), died(), "killed by SIGKILL")
    assert [run_id for run_id, _, _ in written] == [0, 2, 1]
    run_id, outcomes, error = written[-1]
    assert outcomes is None and error is not None
    assert error.startswith(
        f"{WORKER_DIED} running this run ({ALONE_ATTEMPTS} times, alone, killed by SIGKILL): "
        "BrokenProcessPool: A process in the process pool"
    )
    assert scheduler.died_alone == [1] and scheduler.lost_with_worker == 1
    assert scheduler.done and scheduler.flush() == []


def test_a_batch_lost_once_costs_no_run():
    scheduler = BatchScheduler([0, 1, 2, 3], workers=1, batch_size=2)
    first, second = send_all(scheduler)
    assert scheduler.lose_batch(scheduler.take(first), died()) == []
    assert scheduler.record(scheduler.take(second), second.finish().result()) == ran(second.batch)
    (again,) = send_all(scheduler)
    assert again.batch == Batch((0, 1), attempt=2)
    assert scheduler.record(scheduler.take(again), again.finish().result()) == ran(again.batch)
    assert scheduler.done and scheduler.lost_with_worker == 0


def test_a_batch_a_broken_pool_refused_goes_first_and_does_not_count():
    scheduler = BatchScheduler(list(range(6)), workers=1, batch_size=2)
    first, second = send_all(scheduler)
    assert scheduler.lose_batch(scheduler.take(second), Unsent("pool broken")) == []
    assert scheduler.lose_batch(scheduler.take(first), died()) == []
    # the refused batch comes before the lost one, with its attempt unchanged
    assert [f.batch for f in send_all(scheduler)] == [Batch((2, 3), 1), Batch((0, 1), 2)]


def test_a_refused_alone_run_stays_first_in_line_with_its_attempt():
    scheduler = BatchScheduler([0], workers=1, batch_size=1)
    scheduler.alone.extend([Batch((5,), 2, "alone"), Batch((6,), 1, "alone")])
    (alone,) = send_all(scheduler)  # alone runs go before anything else
    assert alone.batch == Batch((5,), 2, "alone")
    scheduler.lose_batch(scheduler.take(alone), Unsent("pool broken"))
    assert [f.batch for f in send_all(scheduler)] == [Batch((5,), 2, "alone")]


def test_a_broken_pool_loses_what_was_in_flight_but_keeps_what_came_back():
    scheduler = BatchScheduler(list(range(8)), workers=2, batch_size=2)
    a, b, c, d = send_all(scheduler)
    b.finish()  # came back before the pool broke
    c.fail(died())
    written, lost = scheduler.pool_broken(scheduler.take(a), died())
    assert written == ran(b.batch)
    assert [batch for batch, _ in lost] == [a.batch, c.batch, d.batch]
    assert not scheduler.in_flight and scheduler.breaks == 1
    assert scheduler.take(b) is None  # a wait that returns it later finds nothing to do
    for batch, why in lost:
        assert scheduler.lose_batch(batch, why) == []
    assert [f.batch for f in send_all(scheduler)] == [
        Batch((0, 1), 2),
        Batch((4, 5), 2),
        Batch((6, 7), 2),
    ]


def test_a_pool_that_keeps_breaking_stops_the_sweep_and_a_finished_batch_resets_the_count():
    scheduler = BatchScheduler(list(range(100)), workers=1, batch_size=1)

    def in_flight() -> FakeFuture:
        send_all(scheduler)
        return next(iter(scheduler.pending()))

    def break_pool() -> None:
        _, lost = scheduler.pool_broken(scheduler.take(in_flight()), died())
        for batch, why in lost:
            scheduler.lose_batch(batch, why)

    for _ in range(MAX_BREAKS - 1):
        break_pool()
    assert scheduler.breaks == MAX_BREAKS - 1
    future = in_flight()
    scheduler.record(scheduler.take(future), future.finish().result())
    assert scheduler.breaks == 0  # a batch came back
    for _ in range(MAX_BREAKS - 1):
        break_pool()
    with pytest.raises(PoolKeepsBreaking, match=f"{MAX_BREAKS} times in a row"):
        scheduler.pool_broken(scheduler.take(in_flight()), died())


# ------------------------------------------------------------------ whole sweeps, any order
def sweep(
    n: int,
    workers: int,
    killers: set[int],
    rng: random.Random,
    pool: bool = True,
    transient: frozenset[int] = frozenset(),
    batch_size: int | None = None,
) -> tuple[list[RunResult], BatchScheduler]:
    """Run `n` runs to the end; futures finish in an order drawn from `rng`.

    A batch holding a run of `killers` (or of `transient`, the first time) kills its
    worker: in a `pool` that loses every batch in flight (save those done already), in
    Dask only that batch.
    """
    scheduler = BatchScheduler(list(range(n)), workers, batch_size)
    written: list[RunResult] = []
    killed_once: set[int] = set()
    while True:
        for future in send_all(scheduler):
            if future.batch.stage == "alone":
                assert len(scheduler.in_flight) == 1  # nothing else in flight
        assert len(scheduler.in_flight) <= scheduler.window
        if not scheduler.in_flight:
            break
        future = rng.choice(sorted(scheduler.pending(), key=lambda f: f.batch.ids))
        batch = scheduler.take(future)
        assert batch is not None
        kills = set(batch.ids) & (killers | (transient - killed_once))
        if not kills:
            written += scheduler.record(batch, future.finish().result())
            continue
        killed_once |= set(batch.ids) & transient
        exc = died()
        lost = [(batch, exc)]
        if pool:
            for other in scheduler.pending():  # some came back before the pool broke
                if not set(other.batch.ids) & (killers | transient) and rng.random() < 0.5:
                    other.finish()
            ready, lost = scheduler.pool_broken(batch, exc)
            written += ready
        for lost_batch, why in lost:
            written += scheduler.lose_batch(lost_batch, why, "killed by SIGKILL")
    assert scheduler.done
    return written + scheduler.flush(), scheduler


def table(written: list[RunResult]) -> dict[int, tuple[object, str | None]]:
    ids = [run_id for run_id, _, _ in written]
    assert len(ids) == len(set(ids)), "a run written twice"
    return {run_id: (outcomes, error) for run_id, outcomes, error in written}


@pytest.mark.parametrize("pool", [True, False], ids=["pool", "dask"])
def test_every_run_is_written_exactly_once_whatever_the_order(pool):
    killers = {17, 18, 75} if not pool else {17}  # runs that kill their worker every time
    transient = frozenset({3, 60})  # runs that kill their worker the first time only
    tables = []
    for seed in range(40):
        written, scheduler = sweep(
            100, workers=3, killers=killers, transient=transient, rng=random.Random(seed), pool=pool
        )
        rows = table(written)
        assert sorted(rows) == list(range(100)), seed  # none lost
        for run_id, (outcomes, error) in rows.items():
            if run_id in killers:
                assert outcomes is None and error is not None
                assert error.startswith(f"{WORKER_DIED} running this run (2 times, alone")
            else:
                assert outcomes == {"value": run_id * 10} and error is None
        assert sorted(scheduler.died_alone) == sorted(killers)
        tables.append(rows)
    assert all(rows == tables[0] for rows in tables)  # the same table, whatever the order


def test_two_culprits_in_a_pool_are_both_found():
    finished = 0
    for seed in range(20):
        try:
            written, scheduler = sweep(
                24, workers=2, killers={5, 17}, rng=random.Random(seed), batch_size=2
            )
        except PoolKeepsBreaking:  # an unlucky order breaks the pool 8 times in a row
            continue
        finished += 1
        rows = table(written)
        assert sorted(rows) == list(range(24))
        assert sorted(i for i, (_, error) in rows.items() if error) == [5, 17]
        assert sorted(scheduler.died_alone) == [5, 17]
    assert finished >= 10


@pytest.mark.parametrize("batch_size", [None, 1, 3, 50])
def test_there_are_at_least_as_many_batches_as_the_workers_started(batch_size):
    """`useful_workers` (how many pool processes a sweep starts) never exceeds the number of
    batches the scheduler makes for them, so no process is started for nothing."""
    for runs in (1, 2, 5, 6, 17, 100, 999, 4_001, 50_000):
        for asked in (1, 2, 3, 8, 64, 256):
            workers = useful_workers(runs, asked, batch_size)
            assert 1 <= workers <= min(asked, runs)
            scheduler = BatchScheduler(range(runs), workers, batch_size)
            batches = 0
            while scheduler._fresh() is not None:
                batches += 1
            assert batches >= workers, (runs, asked, batch_size)
