"""Experiment files for the sweep tests (tests/test_sweep.py, tests/test_sweep_faults.py).

Four design points (funding boost off/on x national pooling off/on) to 2012-04, so a run
takes about a millisecond; `longer` has six boost levels (12 design points).
"""

from __future__ import annotations

TWO_LEVELS = "[0.0, 1.0]"
SIX_LEVELS = "{ min = 0.0, max = 1.5, levels = 6 }"


def experiment_text(replicates: int, seed: int, boost_levels: str = TWO_LEVELS) -> str:
    """A grid experiment on baseline_2011 with this many replicates and master seed."""
    return f"""
description = "sweep test design"
scenario = "baseline_2011"
replicates = {replicates}
seed = {seed}

[sampler]
method = "grid"

[factors]
"offer.funding_boost_m" = {boost_levels}
"offer.national_pooling" = [false, true]

[overrides]
"timeline.end" = "2012-04"
"""


def longer(seed: int, replicates: int = 25) -> str:
    """300 runs at the default: a second or two on 2 workers, long enough to kill mid-way."""
    return experiment_text(replicates, seed, SIX_LEVELS)
