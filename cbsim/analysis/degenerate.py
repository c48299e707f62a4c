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

NEAR = 0.02
ALPHA = 0.05  # a test of no difference between design points above this: "flat"
P_LABEL, SHARE_LABEL = "P(target met)", "mean share at target"


def outcome_warnings(points: pd.DataFrame, runs: pd.DataFrame) -> dict[str, str]:
    """Per outcome label, why its sensitivity indices are uninformative (if they are), from
    the design points' table and the successful `runs` (design_point, share_at_target)."""
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
    share = _share_flat(runs[runs["design_point"].isin(valid["design_point"])])
    if share:
        found[SHARE_LABEL] = share
    return found


def _share_flat(runs: pd.DataFrame) -> str | None:
    """Why the mean share's indices are uninformative (a one-way ANOVA of the runs' shares
    finds no difference between design points), if they are."""
    shares = runs.dropna(subset=["share_at_target"])
    groups = [g.to_numpy(dtype=float) for _, g in shares.groupby("design_point")["share_at_target"]]
    if len(groups) < 2 or any(len(g) < 2 for g in groups):
        return None
    if all(np.ptp(g) == 0 for g in groups):  # no noise within points: ANOVA is undefined
        same = len({float(g[0]) for g in groups}) == 1
        return "the mean share is the same at every design point" if same else None
    pvalue = float(stats.f_oneway(*groups).pvalue)
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
