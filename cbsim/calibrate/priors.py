"""Priors as pyabc distributions: uniform, and log-normal truncated to a declared range.

pyabc draws from a prior with numpy's global random state (seeded from the calibration's
seed) and weighs particles by its density, so a prior needs `rvs`, `pdf` and `cdf`; scipy's
frozen distributions cannot be truncated, so the log-normal is written out here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyabc
from pyabc.random_variables import RVBase
from scipy.special import ndtri

from cbsim.inputs.calibration import Prior

_SQRT2 = math.sqrt(2.0)


def _phi(z: float) -> float:
    """The standard normal distribution function."""
    return 0.5 * (1.0 + math.erf(z / _SQRT2))


class TruncatedLogNormal(RVBase):
    """A log-normal variable (median, sigma of its logarithm) kept within [low, high]."""

    def __init__(self, median: float, sigma: float, low: float, high: float) -> None:
        self.median, self.sigma, self.low, self.high = median, sigma, low, high
        self.mu = math.log(median)
        self.z_low = -math.inf if low <= 0 else (math.log(low) - self.mu) / sigma
        self.z_high = math.inf if math.isinf(high) else (math.log(high) - self.mu) / sigma
        self.mass = _phi(self.z_high) - _phi(self.z_low)

    def copy(self) -> TruncatedLogNormal:
        """A copy (pyabc copies its priors)."""
        return TruncatedLogNormal(self.median, self.sigma, self.low, self.high)

    def rvs(self, *args: Any, **kwargs: Any) -> float:
        """One draw, from numpy's global random state (as pyabc's own variables do)."""
        return self.quantile(float(np.random.uniform()))

    def quantile(self, u: float) -> float:
        """The value below which a share `u` of the variable lies (inverse transform)."""
        p = _phi(self.z_low) + u * self.mass
        z = float(ndtri(min(max(p, 1e-300), 1.0 - 1e-16)))
        return min(max(math.exp(self.mu + self.sigma * z), self.low), self.high)

    def pdf(self, x: float, *args: Any, **kwargs: Any) -> float:
        """The density at `x` (0 outside [low, high])."""
        if not self.low <= x <= self.high or x <= 0:
            return 0.0
        z = (math.log(x) - self.mu) / self.sigma
        return math.exp(-0.5 * z * z) / (x * self.sigma * math.sqrt(2 * math.pi) * self.mass)

    def pmf(self, x: float, *args: Any, **kwargs: Any) -> float:
        """A continuous variable has no mass at a point."""
        return 0.0

    def cdf(self, x: float, *args: Any, **kwargs: Any) -> float:
        """The distribution function at `x`."""
        if x <= self.low or x <= 0:
            return 0.0
        if x >= self.high:
            return 1.0
        z = (math.log(x) - self.mu) / self.sigma
        return (_phi(z) - _phi(self.z_low)) / self.mass

    def __repr__(self) -> str:
        bounds = f"[{self.low}, {self.high}]"
        return f"<TruncatedLogNormal median={self.median} sigma={self.sigma} on {bounds}>"


def random_variable(prior: Prior) -> RVBase:
    """The pyabc random variable of one prior."""
    if prior.dist == "uniform":
        return pyabc.RV("uniform", prior.a, prior.b - prior.a)
    return TruncatedLogNormal(prior.a, prior.b, prior.low, prior.high)


def prior_distribution(priors: tuple[Prior, ...]) -> pyabc.Distribution:
    """The joint prior (independent parameters), keyed by dotted parameter path."""
    return pyabc.Distribution(**{p.path: random_variable(p) for p in priors})


def prior_interval(prior: Prior, level: float = 0.9) -> tuple[float, float]:
    """The central `level` interval of a prior (for comparing the posterior with it)."""
    tail = (1.0 - level) / 2.0
    if prior.dist == "uniform":
        width = prior.b - prior.a
        return prior.a + tail * width, prior.b - tail * width
    return prior_quantile(prior, tail), prior_quantile(prior, 1.0 - tail)


def prior_quantile(prior: Prior, u: float) -> float:
    """The value below which a share `u` of the prior lies."""
    if prior.dist == "uniform":
        return prior.a + u * (prior.b - prior.a)
    return TruncatedLogNormal(prior.a, prior.b, prior.low, prior.high).quantile(u)


def prior_cdf(prior: Prior, x: float) -> float:
    """The share of the prior below `x`."""
    return float(random_variable(prior).cdf(x))


def prior_sample(priors: tuple[Prior, ...], n: int, rng: np.random.Generator) -> pd.DataFrame:
    """`n` independent draws from the priors (inverse transform of `rng`'s uniforms)."""
    return pd.DataFrame({p.path: [prior_quantile(p, u) for u in rng.random(n)] for p in priors})


def prior_density(prior: Prior, x: np.ndarray) -> np.ndarray:
    """The prior density at each of `x` (for plots)."""
    rv = random_variable(prior)
    return np.array([float(rv.pdf(float(v))) for v in x])
