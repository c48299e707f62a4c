"""Warnings for outcomes that leave the sensitivity indices with nothing to explain.

P(target met) is degenerate when it is about 0 or about 1 at every design point (no point's
95% interval lies wholly above `NEAR`, or wholly below 1 - `NEAR`), and either outcome is
when its design points do not differ measurably (P: a chi-square test of homogeneity of the
met/not-met counts; mean share: a one-way ANOVA; both need two runs or more per point and
are "flat" at p > `ALPHA`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cbsim.analysis.statistics import CONFIDENCE

NEAR = 0.02
ALPHA = 0.05  # a test of no difference between design points above this: "flat"
P_LABEL, SHARE_LABEL = "P(target met)", "mean share at target"


def outcome_warnings(points: pd.DataFrame) -> dict[str, str]:
    """Per outcome label, why its sensitivity indices are uninformative (if they are)."""
    found: dict[str, str] = {}
    valid = points.dropna(subset=["p_target"])
    if valid.empty:
        return found
    p = valid["p_target"].to_numpy(dtype=float)
    n = (valid["runs"] - valid["failed"]).to_numpy(dtype=float)
    if (valid["p_target_hi"] >= 1 - NEAR).all():
        found[P_LABEL] = (
            f"P ≈ 1 at every design point: no point's P is measurably below {1 - NEAR:g} "
            f"(each 95% interval reaches it; lowest P {p.min():.3f})"
        )
    elif (valid["p_target_lo"] <= NEAR).all():
        found[P_LABEL] = (
            f"P ≈ 0 at every design point: no point's P is measurably above {NEAR:g} "
            f"(each 95% interval reaches it; highest P {p.max():.3f})"
        )
    elif len(p) > 1 and (n >= 2).all():
        met = valid["met"].to_numpy(dtype=float)
        pvalue = float(stats.chi2_contingency(np.column_stack([met, n - met]))[1])
        if pvalue > ALPHA:
            found[P_LABEL] = _flat_text("P", "chi-square test of homogeneity", pvalue)
    share = _share_flat(valid)
    if share:
        found[SHARE_LABEL] = share
    return found


def _share_flat(valid: pd.DataFrame) -> str | None:
    """Why the mean share's indices are uninformative (a one-way ANOVA finds no difference
    between design points), if they are."""
    means = valid["share_mean"].to_numpy(dtype=float)
    lows = valid["share_lo"].to_numpy(dtype=float)
    n = (valid["runs"] - valid["failed"]).to_numpy(dtype=float)
    if len(means) < 2 or np.isnan(means).any() or np.isnan(lows).any() or (n < 2).any():
        return None
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)
    sd = (means - lows) / t * np.sqrt(n)
    grand = float(np.sum(n * means) / np.sum(n))
    between = float(np.sum(n * (means - grand) ** 2)) / (len(means) - 1)
    within = float(np.sum((n - 1) * sd**2)) / float(np.sum(n) - len(means))
    if within == 0:
        return None if between > 0 else "the mean share is the same at every design point"
    pvalue = float(stats.f.sf(between / within, len(means) - 1, np.sum(n) - len(means)))
    return _flat_text("the mean share", "one-way ANOVA", pvalue) if pvalue > ALPHA else None


def _flat_text(what: str, test: str, pvalue: float) -> str:
    return (
        f"{what} does not differ measurably between design points ({test}: p = "
        f"{pvalue:.2f}, above {ALPHA:g}): what differences there are, the runs' own noise "
        "would make"
    )


def uninformative_line(label: str, why: str) -> str:
    """The report's warning line for one outcome's indices."""
    return (
        f"**Warning:** the indices for {label} are uninformative: {why}. They then measure "
        "noise, not what moves the outcome; widen the factors' ranges or add replicates."
    )
