"""Main-effect shares of a grid, with a 95% bootstrap interval.

A factor's main-effect share is the variance over its levels of the mean outcome divided by
the variance over all design points (exact on a full factorial). Its interval comes from a
parametric bootstrap of the design points' own noise: each point's P is drawn again as
Binomial(n, P)/n and its mean share as Normal(mean, standard error), `BOOTSTRAP` times with
the sweep's master seed, and the interval is ± 1.96 standard deviations of the shares drawn
(as SALib reports its own). With one run per design point there is no noise to draw from,
and the interval is not computed (the report says so).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cbsim.analysis.statistics import CONFIDENCE

BOOTSTRAP = 500


def main_effect_shares(
    points: pd.DataFrame, factors: list[str], key: str, seed: int
) -> dict[str, tuple[float, float]]:
    """Per factor, (main-effect share of `key`, its 95% ± half-width or NaN)."""
    points = points.dropna(subset=[key])
    y = points[key].to_numpy(dtype=float)
    codes = {f: pd.factorize(points[f])[0] for f in factors}
    shares = {f: float(_shares(y[None, :], codes[f])[0]) for f in factors}
    draws = _draws(points, key, seed)
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    return {
        f: (
            shares[f],
            float("nan") if draws is None else float(z * np.nanstd(_shares(draws, codes[f]))),
        )
        for f in factors
    }


def _shares(y: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Main-effect share of one factor for each row of `y` (rows: draws, columns: points)."""
    counts = np.bincount(code)
    level_means = np.stack([np.bincount(code, weights=row) / counts for row in y])
    total = np.var(y, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.var(level_means, axis=1) / total, np.nan)


def _draws(points: pd.DataFrame, key: str, seed: int) -> np.ndarray | None:
    """`BOOTSTRAP` draws of every point's outcome from its own noise (None if any point
    has fewer than 2 runs)."""
    n = (points["runs"] - points["failed"]).to_numpy(dtype=int)
    if (n < 2).any():
        return None
    rng = np.random.default_rng(seed)
    if key == "p_target":
        p = points["p_target"].to_numpy(dtype=float)
        return rng.binomial(n, p, size=(BOOTSTRAP, len(p))) / n
    mean = points["share_mean"].to_numpy(dtype=float)
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)
    se = (mean - points["share_lo"].to_numpy(dtype=float)) / t
    return rng.normal(mean, np.nan_to_num(se), size=(BOOTSTRAP, len(mean)))
