"""What a posterior says: each parameter's median and 90% interval beside its prior's, and the
posterior predictive check of every target (fitted and held out).

The predictive check draws `PREDICTIVE_DRAWS` particles by weight and, for each, computes every
target's statistic as the fit does (the mean over the target's `runs` seeds) on fresh seeds, so
the 90% interval shows what the model predicts for history, noise included. A target is
*consistent* when its observed value lies inside that interval, or when the interval reaches
the bounds' allowed region; for bounds the share of draws inside the bounds is reported too.
The same is done for as many draws from the prior: a target that (nearly) every prior draw
already meets cannot tell parameter values apart.

A posterior interval is also given in prior quantiles: the shares of the prior below its two
ends. (0.05, 0.95) means the targets taught nothing about the parameter; (0.30, 0.95) means
they ruled out the lowest 30% of the prior.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cbsim.calibrate.priors import prior_cdf, prior_interval, prior_sample
from cbsim.calibrate.problem import TargetModel
from cbsim.inputs.calibration import Calibration, Target
from cbsim.inputs.parameters import declared

PREDICTIVE_DRAWS = 100
LEVEL = 0.9  # of the intervals shown
_PREDICTIVE_KEY = 0x99C  # mixed into the seeds of the predictive check's draws and runs


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: list[float]) -> list[float]:
    """Quantiles of weighted values (the weighted empirical distribution, interpolated)."""
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cumulative = (np.cumsum(w) - 0.5 * w) / w.sum()
    return [float(np.interp(q, cumulative, v)) for q in qs]


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of normalised or unnormalised weights."""
    return float(weights.sum() ** 2 / (weights**2).sum())


def posterior_summary(
    cal: Calibration, frame: pd.DataFrame, weights: np.ndarray
) -> list[dict[str, Any]]:
    """Per parameter: prior, its 90% interval, the posterior median and 90% interval, how
    much narrower the posterior interval is (width ratio), and the hand-set default."""
    tail = (1 - LEVEL) / 2
    rows = []
    for prior in cal.priors:
        low, median, high = weighted_quantiles(
            frame[prior.path].to_numpy(float), weights, [tail, 0.5, 1 - tail]
        )
        p_low, p_high = prior_interval(prior, LEVEL)
        rows.append(
            {
                "path": prior.path,
                "prior": prior.describe(),
                "prior_interval": [p_low, p_high],
                "median": median,
                "interval": [low, high],
                "prior_quantiles": [prior_cdf(prior, low), prior_cdf(prior, high)],
                "width_ratio": (high - low) / (p_high - p_low) if p_high > p_low else None,
                "default": declared()[prior.path].default,
            }
        )
    return rows


def draw_particles(cal: Calibration, weights: np.ndarray, n: int) -> np.ndarray:
    """`n` particle indices drawn by weight, reproducibly from the calibration's seed."""
    rng = np.random.default_rng(np.random.SeedSequence([cal.seed, _PREDICTIVE_KEY]))
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def predictive_check(
    cal: Calibration, frame: pd.DataFrame, weights: np.ndarray, draws: int = PREDICTIVE_DRAWS
) -> list[dict[str, Any]]:
    """The posterior predictive check of every target, beside the prior predictive one (see
    the module docstring)."""
    chosen = frame.iloc[draw_particles(cal, weights, draws)]
    posterior = _predict(cal, chosen, 0)
    rng = np.random.default_rng(np.random.SeedSequence([cal.seed, _PREDICTIVE_KEY, 1]))
    prior = _predict(cal, prior_sample(cal.priors, draws, rng), 1)
    checks = []
    for target in cal.targets:
        check = _check(target, posterior[target.name])
        before = _check(target, prior[target.name])
        check.update(prior_interval=before["interval"], prior_share_meeting=before["share_meeting"])
        checks.append(check)
    return checks


def _predict(cal: Calibration, rows: pd.DataFrame, stream: int) -> dict[str, np.ndarray]:
    """Every target's statistic for each row of parameter values, on fresh seeds."""
    model = TargetModel(cal, cal.targets)
    values: dict[str, list[float]] = {t.name: [] for t in cal.targets}
    for k in range(len(rows)):
        params = {p: float(rows[p].iloc[k]) for p in cal.paths}
        key = [cal.seed, _PREDICTIVE_KEY, stream, k]
        state = np.random.SeedSequence(key).generate_state(model.runs, dtype=np.uint64)
        result = model.evaluate(params, [int(s >> np.uint64(1)) for s in state])
        for name, value in result.items():
            values[name].append(value)
    return {name: np.asarray(v) for name, v in values.items()}


def _check(target: Target, values: np.ndarray) -> dict[str, Any]:
    tail = (1 - LEVEL) / 2
    low, median, high = (float(q) for q in np.quantile(values, [tail, 0.5, 1 - tail]))
    inside = np.array([target.deviation(float(v)) == 0 for v in values])
    if target.observed is not None:
        consistent = low <= target.observed <= high
        meeting = None
    else:
        reaches_low = target.low is None or high >= target.low
        reaches_high = target.high is None or low <= target.high
        consistent = reaches_low and reaches_high
        meeting = float(inside.mean())
    return {
        "name": target.name,
        "holdout": target.holdout,
        "scenario": target.scenario,
        "statistic": statistic(target),
        "wanted": wanted(target),
        "median": median,
        "interval": [low, high],
        "share_meeting": meeting,
        "consistent": bool(consistent),
        "values": [float(v) for v in values],
    }


def wanted(target: Target) -> str:
    """What the target asks for, e.g. `<= 0.5`, `= 1 (scale 0.05)`, `in [0.2, 0.4]`."""
    if target.observed is not None:
        return f"= {target.observed:g} (scale {target.scale:g})"
    if target.low is not None and target.high is not None:
        return f"in [{target.low:g}, {target.high:g}]"
    return f">= {target.low:g}" if target.low is not None else f"<= {target.high:g}"


def statistic(target: Target) -> str:
    """What is averaged over the target's runs, e.g. `share_at_target`."""
    if target.by is not None:
        return f"share of runs with {target.outcome} <= {target.by}"
    if target.equals is not None:
        return f"share of runs with {target.outcome} = {target.equals}"
    return f"mean {target.outcome}"
