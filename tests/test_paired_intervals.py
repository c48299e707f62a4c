"""Pooled P and share over several design points: with paired seeds the replicate is the
unit (the runs of one replicate share a seed and are not independent)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from cbsim.analysis.marginals import marginals
from cbsim.analysis.statistics import pooled_estimates, wilson_interval


def runs(met: np.ndarray, share: np.ndarray) -> pd.DataFrame:
    """`met` and `share` as [replicate, design point] arrays, one run per cell."""
    reps, points = met.shape
    return pd.DataFrame(
        {
            "replicate": np.repeat(np.arange(reps), points),
            "design_point": np.tile(np.arange(points), reps),
            "target_met": met.ravel().astype(bool),
            "share_at_target": share.ravel(),
        }
    )


def test_unpaired_is_wilson_and_t_over_runs():
    rng = np.random.default_rng(1)
    frame = runs(rng.random((30, 4)) < 0.4, rng.random((30, 4)))
    est = pooled_estimates(frame, paired=False)
    k, n = int(frame["target_met"].sum()), len(frame)
    assert (est["p_lo"], est["p_hi"]) == wilson_interval(k, n)
    assert est["p"] == k / n


def test_paired_is_t_over_the_replicates_means_worked_by_hand():
    rng = np.random.default_rng(2)
    met = rng.random((25, 3)) < 0.5
    share = rng.random((25, 3))
    est = pooled_estimates(runs(met, share), paired=True)
    means = met.mean(axis=1)
    half = stats.t.ppf(0.975, 24) * means.std(ddof=1) / math.sqrt(25)
    assert math.isclose(est["p"], means.mean())
    assert math.isclose(est["p_lo"], max(0.0, means.mean() - half))
    assert math.isclose(est["p_hi"], min(1.0, means.mean() + half))
    s_means = share.mean(axis=1)
    assert math.isclose(est["share"], s_means.mean())


def test_when_a_replicate_decides_every_design_point_the_paired_interval_is_wider():
    # the seed decides: replicate r meets the target at all 8 design points or at none, so
    # there are 40 independent outcomes, not 320; Wilson over 320 runs is too narrow
    met = np.repeat((np.random.default_rng(3).random(40) < 0.5)[:, None], 8, axis=1)
    frame = runs(met, met * 0.6)
    paired = pooled_estimates(frame, paired=True)
    unpaired = pooled_estimates(frame, paired=False)
    assert paired["p_hi"] - paired["p_lo"] > 2 * (unpaired["p_hi"] - unpaired["p_lo"])


def test_marginals_take_the_replicate_as_the_unit_when_paired():
    rng = np.random.default_rng(4)
    met = np.repeat((rng.random(30) < 0.5)[:, None], 4, axis=1)
    frame = runs(met, rng.random((30, 4))).assign(f=lambda d: d["design_point"] % 2)
    paired = marginals(frame, ["f"], paired=True)
    unpaired = marginals(frame, ["f"])
    width = (paired["p_target_hi"] - paired["p_target_lo"]).to_numpy()
    assert (width > (unpaired["p_target_hi"] - unpaired["p_target_lo"]).to_numpy()).all()


def test_paired_p_of_zero_everywhere_still_has_an_interval_of_the_replicates():
    frame = runs(np.zeros((50, 3), dtype=bool), np.full((50, 3), 0.2))
    est = pooled_estimates(frame, paired=True)
    assert est["p"] == 0.0 and est["p_lo"] == 0.0
    assert est["p_hi"] == wilson_interval(0, 50)[1] > 0.05
