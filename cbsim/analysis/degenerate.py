"""Warnings for outcomes that leave the sensitivity indices with nothing to explain.

P(target met) is degenerate when it is about 0 or about 1 at every design point (no point's
95% interval lies wholly above `NEAR`, or wholly below 1 - `NEAR`), and either outcome is
when it varies between design points no more than the runs' own noise would make it vary
(the variance of the per-point values at most the mean squared standard error of a point).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cbsim.analysis.statistics import CONFIDENCE

NEAR = 0.02
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
        noise = float(np.mean(p * (1 - p) / (n - 1)))
        spread = float(np.var(p, ddof=1))
        if spread <= noise:
            found[P_LABEL] = _noise_text("P", spread, noise)
    share = _share_noise(valid)
    if share:
        found[SHARE_LABEL] = share
    return found


def _share_noise(valid: pd.DataFrame) -> str | None:
    """Why the mean share's indices are uninformative, if they are."""
    means = valid["share_mean"].to_numpy(dtype=float)
    lows = valid["share_lo"].to_numpy(dtype=float)
    n = (valid["runs"] - valid["failed"]).to_numpy(dtype=float)
    if len(means) < 2 or np.isnan(means).any() or np.isnan(lows).any() or (n < 2).any():
        return None
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)
    noise = float(np.mean(((means - lows) / t) ** 2))
    spread = float(np.var(means, ddof=1))
    return _noise_text("the mean share", spread, noise) if spread <= noise else None


def _noise_text(what: str, spread: float, noise: float) -> str:
    return (
        f"{what} varies between design points no more than the runs' own noise would make "
        f"it vary (variance across points {spread:.3g}, expected from the replicates alone "
        f"{noise:.3g})"
    )


def uninformative_line(label: str, why: str) -> str:
    """The report's warning line for one outcome's indices."""
    return (
        f"**Warning:** the indices for {label} are uninformative: {why}. They then measure "
        "noise, not what moves the outcome; widen the factors' ranges or add replicates."
    )
