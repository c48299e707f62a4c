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
    halves = stream.halves
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
            while product & _MASK32 < threshold:  # rare: about once in 2**32 / span draws
                stream.more(1)  # keeps enough halves ahead for the draws still to come
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
        self.more(expected // 2 + 2)

    def more(self, count: int) -> None:
        """Append the halves of `count` more raw outputs."""
        for raw in self.bitgen.random_raw(count).tolist():
            self.halves += (raw & _MASK32, raw >> 32)

    def close(self, used: int) -> None:
        """Leave the bit generator as `used` 32-bit draws from the start would have."""
        buffered = 1 if self.start["has_uint32"] else 0
        from_raw = used - buffered  # halves taken from fresh 64-bit outputs
        self.bitgen.state = self.start
        if from_raw <= 0:  # only the buffered half was used (or nothing)
            if used:
                state = self.bitgen.state
                state["has_uint32"] = 0
                self.bitgen.state = state
            return
        self.bitgen.random_raw((from_raw + 1) // 2)
        state = self.bitgen.state
        if from_raw % 2:  # the last output's high half is left over for the next draw
            state["has_uint32"] = 1
            state["uinteger"] = self.halves[used]
        else:
            state["has_uint32"] = 0
            state["uinteger"] = self.halves[used - 1]
        self.bitgen.state = state
