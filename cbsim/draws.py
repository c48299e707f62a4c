"""Many small draws without replacement at once, identical to `Generator.choice`.

Building the peer network asks for ~450 tiny samples per run (a few of a group of ~30
councils), and each `rng.choice(count, size=k, replace=False)` call spends ~4 µs in
argument checks for ~10 ns of random numbers. `choices` gives the very same samples and
leaves the generator in the very same state, from one block of the bit generator's raw
output: numpy's algorithm for this case (Floyd's sampling, then a Fisher-Yates shuffle,
both with Lemire's bounded integers on 32-bit draws) replayed in Python.

Only a PCG64 generator (numpy's and Mesa's default) with groups of at most 10,000 takes
that path; anything else calls `rng.choice` one sample at a time. `tests/test_fast_paths.py`
checks the results and the generator's state against `rng.choice`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_FLOYD_POPULATION = 10_000  # numpy samples larger populations another way
_MASK32 = 0xFFFFFFFF


def choices(rng: np.random.Generator, requests: Sequence[tuple[int, int]]) -> list[list[int]]:
    """For each (count, size): ``rng.choice(count, size, replace=False).tolist()``, in order.

    Sizes must be between 1 and count (the caller skips empty requests, as numpy would
    draw nothing for them).
    """
    bitgen = rng.bit_generator
    if not isinstance(bitgen, np.random.PCG64) or any(
            count > MAX_FLOYD_POPULATION for count, _ in requests):
        return [rng.choice(count, size=size, replace=False).tolist()
                for count, size in requests]
    stream = _Uint32Stream(bitgen, sum(2 * size for _, size in requests))
    bounded = stream.bounded
    samples = []
    for count, size in requests:
        picked: list[int] = []
        seen: set[int] = set()
        for j in range(count - size, count):  # Floyd: a size-subset of range(count)
            value = bounded(j)
            if value in seen:
                value = j
            seen.add(value)
            picked.append(value)
        for i in range(size - 1, 0, -1):  # then shuffle it (Fisher-Yates)
            k = bounded(i)
            picked[k], picked[i] = picked[i], picked[k]
        samples.append(picked)
    stream.close()
    return samples


class _Uint32Stream:
    """The bit generator's `next_uint32` sequence, read from a block of raw 64-bit outputs.

    PCG64 serves 32-bit draws as the low then the high half of one 64-bit output, keeping
    the high half for the next call (`has_uint32`, `uinteger` in its state). `close` puts
    the generator exactly where as many `next_uint32` calls would have left it.
    """

    def __init__(self, bitgen: np.random.PCG64, expected: int) -> None:
        self.bitgen = bitgen
        self.start = bitgen.state
        self.halves: list[int] = []
        if self.start["has_uint32"]:
            self.halves.append(self.start["uinteger"])
        self.raw_used = 0
        self.next = 0
        self._more(expected // 2 + 8)

    def _more(self, count: int) -> None:
        for raw in self.bitgen.random_raw(count).tolist():
            self.halves += (raw & _MASK32, raw >> 32)

    def uint32(self) -> int:
        if self.next == len(self.halves):
            self._more(64)
        value = self.halves[self.next]
        self.next += 1
        return value

    def bounded(self, high: int) -> int:
        """A uniform integer in [0, high] (numpy's buffered_bounded_lemire_uint32)."""
        if high == 0:
            return 0
        span = high + 1
        product = self.uint32() * span
        if product & _MASK32 < span:
            threshold = (_MASK32 - high) % span
            while product & _MASK32 < threshold:
                product = self.uint32() * span
        return product >> 32

    def close(self) -> None:
        """Leave the bit generator as `next` 32-bit draws from the start would have."""
        buffered = 1 if self.start["has_uint32"] else 0
        from_raw = self.next - buffered  # halves taken from fresh 64-bit outputs
        if from_raw <= 0:  # only the buffered half was used (or nothing)
            state = dict(self.start)
            if from_raw == 0 and buffered:
                state["has_uint32"] = 0
            self.bitgen.state = state
            return
        raws = (from_raw + 1) // 2
        self.bitgen.state = self.start
        self.bitgen.random_raw(raws)
        state = self.bitgen.state
        if from_raw % 2:  # the last output's high half is left over for the next draw
            state["has_uint32"] = 1
            state["uinteger"] = self.halves[self.next]
        else:
            state["has_uint32"] = 0
            state["uinteger"] = self.halves[self.next - 1]
        self.bitgen.state = state
