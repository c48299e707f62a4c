"""Many small draws without replacement at once, identical to `Generator.choice`.

Building the peer network asks for ~450 tiny samples per run (a few of a group of ~30
councils), and each `rng.choice(count, size=k, replace=False)` call spends ~4 µs in
argument checks for ~10 ns of random numbers. A `SamplePlan` gives the very same samples
and leaves the generator in the very same state, from one block of the bit generator's
raw output: numpy's algorithm for this case (Floyd's sampling, then a Fisher-Yates
shuffle, both with Lemire's bounded integers on 32-bit draws) replayed on arrays.

The plan is fixed by the list of (count, size) requests, so it is made once per process:
which 32-bit draw serves which step, and each step's range. Each run then draws the raw
block, scales it by the ranges (one numpy expression) and replays the sampling on arrays,
one array per sample size. When a draw would be rejected by Lemire's method (about once in
10^4 runs here) or the generator is not numpy's default PCG64, or a population exceeds
10,000 (numpy samples those another way), it falls back to the same steps one at a time or
to `rng.choice` itself. `tests/test_fast_paths.py` checks results and generator state
against `rng.choice`, on every path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

MAX_FLOYD_POPULATION = 10_000  # numpy samples larger populations another way
_MASK32 = 0xFFFFFFFF
_NO_DRAW = -1  # Floyd's first step when its range is [0, 0]: numpy draws nothing


@dataclass(frozen=True)
class SizeGroup:
    """The requests of one sample size, and where their draws sit in the block."""

    size: int
    requests: np.ndarray  # (m,) request indices, ascending
    floyd: np.ndarray  # (m, size) draw index of each Floyd step (or the index of a zero)
    floyd_top: np.ndarray  # (m, size) the step's j: taken instead when the draw repeats
    shuffle: np.ndarray  # (m, size - 1) draw index of the shuffle step for i = 1 .. size-1


class SamplePlan:
    """`rng.choice(count, size, replace=False)` for a fixed list of requests, planned once.

    Sizes must be between 1 and count (skip empty requests: numpy draws nothing for them).
    """

    def __init__(self, requests: Sequence[tuple[int, int]]) -> None:
        self.requests = tuple((int(c), int(s)) for c, s in requests)
        highs: list[int] = []  # each draw is a uniform integer in [0, high]
        rows: dict[int, list[tuple[int, list[int], list[int], list[int]]]] = {}
        for r, (count, size) in enumerate(self.requests):
            if not 1 <= size <= count:
                raise ValueError(f"request {r}: size {size} must be 1..{count}")
            floyd, tops = [], []
            for j in range(count - size, count):
                tops.append(j)
                floyd.append(_NO_DRAW if j == 0 else len(highs))
                if j:
                    highs.append(j)
            shuffle = []
            for i in range(size - 1, 0, -1):
                shuffle.append(len(highs))
                highs.append(i)
            rows.setdefault(size, []).append((r, floyd, tops, shuffle[::-1]))
        self.draws = len(highs)
        spans = np.array(highs, dtype=np.uint64) + np.uint64(1)
        self.spans = spans
        self.thresholds = (np.uint64(2**32) % spans) if self.draws else spans
        self.fast = all(count <= MAX_FLOYD_POPULATION for count, _ in self.requests)
        zero = self.draws  # index of an appended 0: the value of a step that draws nothing
        self.groups = tuple(_size_group(size, group, zero) for size, group in sorted(rows.items()))

    def sample(self, rng: np.random.Generator) -> list[tuple[SizeGroup, np.ndarray]]:
        """Draw every request: per sample size, (its group, an (m, size) array of samples).

        Row k of a group's array is ``rng.choice(count, size, replace=False)`` for request
        ``group.requests[k]``, as if the requests were drawn one after another in order.
        """
        bitgen = rng.bit_generator
        if self.fast and isinstance(bitgen, np.random.PCG64):
            stream = _Block(bitgen, self.draws)
            products = stream.halves * self.spans
            if not np.any((products & np.uint64(_MASK32)) < self.thresholds):
                stream.close()
                values = np.append((products >> np.uint64(32)).astype(np.int64), 0)
                return [(group, _replay(group, values)) for group in self.groups]
            stream.rewind()  # a draw Lemire's method rejects: take the steps one at a time
            samples = _one_at_a_time(bitgen, self.requests)
        else:
            samples = [rng.choice(c, size=s, replace=False).tolist() for c, s in self.requests]
        return [
            (
                group,
                np.array([samples[r] for r in group.requests], dtype=np.int64).reshape(
                    -1, group.size
                ),
            )
            for group in self.groups
        ]


def _size_group(size: int, group: list, zero: int) -> SizeGroup:
    """Arrays of one size's requests: (request, Floyd draws, Floyd tops, shuffle draws)."""
    m = len(group)
    return SizeGroup(
        size,
        np.array([r for r, *_ in group], dtype=np.intp),
        np.array(
            [[zero if d == _NO_DRAW else d for d in floyd] for _, floyd, _, _ in group],
            dtype=np.intp,
        ).reshape(m, size),
        np.array([tops for _, _, tops, _ in group], dtype=np.int64).reshape(m, size),
        np.array([shuffle for *_, shuffle in group], dtype=np.intp).reshape(m, size - 1),
    )


def choices(rng: np.random.Generator, requests: Sequence[tuple[int, int]]) -> list[list[int]]:
    """For each (count, size): ``rng.choice(count, size, replace=False).tolist()``, in order."""
    out: list[list[int]] = [[] for _ in requests]
    for group, picked in planned(tuple(requests)).sample(rng):
        for r, row in zip(group.requests.tolist(), picked.tolist(), strict=True):
            out[r] = row
    return out


@cache
def planned(requests: tuple[tuple[int, int], ...]) -> SamplePlan:
    """The plan for these requests (made once per process)."""
    return SamplePlan(requests)


def _replay(group: SizeGroup, values: np.ndarray) -> np.ndarray:
    """Floyd's sampling then the Fisher-Yates shuffle, for all requests of one size at once."""
    drawn = values[group.floyd]
    picked = np.empty_like(drawn)
    for c in range(group.size):  # a value already picked is replaced by the step's j
        column = drawn[:, c]
        repeat = (picked[:, :c] == column[:, None]).any(axis=1)
        picked[:, c] = np.where(repeat, group.floyd_top[:, c], column)
    rows = np.arange(len(picked))
    for i in range(group.size - 1, 0, -1):  # swap position i with a position in [0, i]
        k = values[group.shuffle[:, i - 1]]
        kept = picked[rows, k]
        picked[rows, k] = picked[:, i]
        picked[:, i] = kept
    return picked


def _one_at_a_time(bitgen: np.random.PCG64, requests: Sequence[tuple[int, int]]) -> list[list[int]]:
    """The same algorithm step by step (the rare case of a rejected draw)."""
    stream = _Block(bitgen, sum(2 * size for _, size in requests))
    halves = stream.all_halves.tolist()  # a margin of one draw per request
    position = 0

    def bounded(high: int) -> int:
        """A uniform integer in [0, high] (numpy's buffered_bounded_lemire_uint32)."""
        nonlocal position
        if high == 0:
            return 0
        span = high + 1
        product = halves[position] * span
        position += 1
        if product & _MASK32 < span:
            threshold = (_MASK32 - high) % span
            while product & _MASK32 < threshold:  # rejected: draw again
                halves.extend(stream.more(1).tolist())  # and keep the margin
                product = halves[position] * span
                position += 1
        return product >> 32

    samples = []
    for count, size in requests:
        picked: list[int] = []
        for j in range(count - size, count):  # Floyd: a size-subset of range(count)
            value = bounded(j)
            picked.append(j if value in picked else value)
        for i in range(size - 1, 0, -1):  # then shuffle it (Fisher-Yates)
            k = bounded(i)
            picked[k], picked[i] = picked[i], picked[k]
        samples.append(picked)
    stream.close(position)
    return samples


class _Block:
    """The bit generator's next `count` 32-bit draws, from a block of raw 64-bit outputs.

    PCG64 serves 32-bit draws as the low then the high half of one 64-bit output, keeping
    the high half for the next call (`has_uint32`, `uinteger` in its state). `close` puts
    the generator exactly where that many `next_uint32` calls would have left it.
    """

    def __init__(self, bitgen: np.random.PCG64, count: int) -> None:
        self.bitgen = bitgen
        self.start = bitgen.state
        self.buffered = 1 if self.start["has_uint32"] else 0
        self.raw = np.empty(0, dtype=np.uint64)
        halves = self.more((count - self.buffered + 1) // 2) if count > self.buffered else None
        head = np.array([self.start["uinteger"]] * self.buffered, dtype=np.uint64)
        self.all_halves = np.concatenate([head, halves]) if halves is not None else head
        self.halves = self.all_halves[:count]
        self.count = count

    def more(self, raws: int) -> np.ndarray:
        """The halves (low, high) of `raws` more raw outputs."""
        raw = self.bitgen.random_raw(raws)
        self.raw = np.concatenate([self.raw, raw])
        halves = np.empty(2 * raws, dtype=np.uint64)
        halves[0::2] = raw & np.uint64(_MASK32)
        halves[1::2] = raw >> np.uint64(32)
        return halves

    def rewind(self) -> None:
        """Put the generator back where it was."""
        self.bitgen.state = self.start
        self.raw = np.empty(0, dtype=np.uint64)

    def close(self, used: int | None = None) -> None:
        """Leave the generator as `used` (default: `count`) 32-bit draws would have."""
        used = self.count if used is None else used
        from_raw = used - self.buffered  # halves taken from fresh 64-bit outputs
        raws = max(0, (from_raw + 1) // 2)
        if raws != len(self.raw):  # drew more than was used: replay exactly `raws`
            self.bitgen.state = self.start
            self.bitgen.random_raw(raws)
        state = self.bitgen.state
        if from_raw <= 0:  # the buffered half was used (or nothing)
            state["has_uint32"] = int(self.buffered and not used)
            state["uinteger"] = self.start["uinteger"]
        else:  # the last output's high half is left over if only its low half was used
            state["has_uint32"] = from_raw % 2
            state["uinteger"] = int(self.raw[raws - 1]) >> 32
        self.bitgen.state = state
