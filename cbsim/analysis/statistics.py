"""Per-design-point statistics of a sweep's runs, with 95% intervals.

P(target met) with a Wilson score interval, and the mean share of authorities developing a
community budget at the target date with a Student-t interval.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (NaNs when n is 0)."""
    if n == 0:
        return (math.nan, math.nan)
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def mean_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and its Student-t confidence interval (NaN bounds with fewer than 2 values)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(values.mean())
    if len(values) < 2:
        return (mean, math.nan, math.nan)
    half = (
        stats.t.ppf(0.5 + confidence / 2, len(values) - 1)
        * values.std(ddof=1)
        / math.sqrt(len(values))
    )
    return (mean, mean - half, mean + half)


def pooled_estimates(runs: pd.DataFrame, paired: bool) -> dict[str, float]:
    """P(target met) and the mean share over `runs` (successful runs of several design
    points), with 95% intervals.

    Unpaired, the runs are independent: Wilson for P, Student t for the share. Paired, every
    design point ran the same seeds replicate by replicate, so the runs of one replicate are
    not independent: the replicate is the unit, and each interval is Student t over the
    replicates' own means (P clipped to [0, 1]; when P is 0 or 1 in every replicate, Wilson
    over the replicates)."""
    met = runs["target_met"].astype(bool)
    share = runs["share_at_target"].to_numpy(dtype=float)
    if not paired:
        lo, hi = wilson_interval(int(met.sum()), len(runs))
        mean, s_lo, s_hi = mean_interval(share)
        p = float(met.mean()) if len(runs) else math.nan
        return {"p": p, "p_lo": lo, "p_hi": hi, "share": mean, "share_lo": s_lo, "share_hi": s_hi}
    by_replicate = runs.assign(met=met.astype(float)).groupby("replicate")
    means = by_replicate["met"].mean().to_numpy()
    p, lo, hi = mean_interval(means)
    if len(means) and np.ptp(means) == 0 and p in (0.0, 1.0):
        # every replicate met it at every point, or none did: no spread for a t interval;
        # Wilson over the replicates, each counted once (the cautious reading)
        lo, hi = wilson_interval(int(round(p * len(means))), len(means))
    mean, s_lo, s_hi = mean_interval(by_replicate["share_at_target"].mean().to_numpy())
    return {
        "p": p,
        "p_lo": max(0.0, lo) if not math.isnan(lo) else lo,
        "p_hi": min(1.0, hi) if not math.isnan(hi) else hi,
        "share": mean,
        "share_lo": s_lo,
        "share_hi": s_hi,
    }


def design_points(runs: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """One row per design point: factor values, run counts, P(target met), mean share."""
    rows = []
    for _, group in runs.groupby("design_point", sort=True):
        ok = group[group["error"].isna()]
        k, n = int(ok["target_met"].astype(bool).sum()), len(ok)
        p_lo, p_hi = wilson_interval(k, n)
        mean, s_lo, s_hi = mean_interval(ok["share_at_target"].to_numpy(dtype=float))
        row: dict[str, Any] = {"design_point": int(group["design_point"].iloc[0])}
        row.update({f: group[f].iloc[0] for f in factors})
        row.update(
            {
                "runs": len(group),
                "failed": len(group) - n,
                "met": k,
                "p_target": k / n if n else math.nan,
                "p_target_lo": p_lo,
                "p_target_hi": p_hi,
                "share_mean": mean,
                "share_lo": s_lo,
                "share_hi": s_hi,
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)
