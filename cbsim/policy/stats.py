"""The intervals policy comparisons report: paired and unpaired differences of means, a ratio
of mean differences (bootstrap), and a proportion (Wilson). numpy and scipy only."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95  # every interval here is a 95% interval
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95% interval (`low`, `high`; ±inf when unbounded)."""

    estimate: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float | None]:
        """JSON-friendly: an unbounded end is None."""
        return {
            "estimate": self.estimate,
            "low": _finite_or_none(self.low),
            "high": _finite_or_none(self.high),
        }


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def t_quantile(df: float) -> float:
    """The two-sided 95% quantile of Student's t with `df` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.5 + LEVEL / 2, df))


def paired_interval(a: np.ndarray, b: np.ndarray) -> Interval:
    """Mean of the seed-by-seed differences b - a, ± t(n-1) · sd / √n (common seeds)."""
    diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    n = len(diff)
    mean = float(diff.mean())
    sd = float(diff.std(ddof=1))
    half = t_quantile(n - 1) * sd / math.sqrt(n) if sd > 0 else 0.0
    return Interval(mean, mean - half, mean + half)


def unpaired_interval(a: np.ndarray, b: np.ndarray) -> Interval:
    """Mean of b minus mean of a as if the seeds were independent (Welch): ± t(ν) ·
    √(s²_a/n_a + s²_b/n_b), ν by Welch–Satterthwaite. For contrast with the paired one."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    mean = float(b.mean() - a.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(mean, mean, mean)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile(df) * se
    return Interval(mean, mean - half, mean + half)


def ratio_of_mean_differences(
    numerator: np.ndarray, denominator: np.ndarray, seed: int
) -> Interval | None:
    """mean(numerator) / mean(denominator) (e.g. extra cost per extra authority, seed-paired
    differences), with a percentile bootstrap interval over the seeds (`BOOTSTRAP_RESAMPLES`
    resamples of the seeds, generator seeded by `seed`). None when the mean denominator is
    not positive; a resample whose mean denominator is not positive counts as +inf, so the
    upper end is unbounded when more than 2.5% of them are."""
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    if den.mean() <= 0:
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(den), size=(BOOTSTRAP_RESAMPLES, len(den)))
    num_b, den_b = num[picks].mean(axis=1), den[picks].mean(axis=1)
    safe = np.where(den_b > 0, den_b, 1.0)
    ratios = np.where(den_b > 0, num_b / safe, np.inf)
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail], method="inverted_cdf")
    return Interval(float(num.mean() / den.mean()), float(low), float(high))


def wilson_interval(successes: int, n: int) -> Interval:
    """A proportion with its 95% Wilson score interval."""
    if n <= 0:
        raise ValueError("a proportion needs at least one trial")
    z = 1.959963984540054
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return Interval(p, min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))
