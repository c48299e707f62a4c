"""Sensitivity of P(target met) and of the mean share at the target date to each factor.

Sobol' S1 and ST with confidence intervals (SALib) for ``saltelli`` designs, Morris mu* and
sigma (SALib) for ``morris`` designs, RBD-FAST S1 (SALib) for ``lhs`` designs and, for
``grid`` designs, each factor's main-effect share of the variance across design points
(exact for a full factorial).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from cbsim.analysis.grid_effects import main_effect_shares
from cbsim.analysis.statistics import CONFIDENCE
from cbsim.analysis.sweep_data import Sweep

OUTCOMES = (("p_target", "P(target met)"), ("share_mean", "mean share at target"))
NOTES = {  # sampler method: how its indices are computed (a sentence of the report)
    "saltelli": "Sobol' first-order (S1) and total (ST) indices with 95% bootstrap "
    "confidence intervals (SALib `sobol.analyze`)",
    "morris": "Morris elementary effects: mu* (mean absolute effect, 95% bootstrap "
    "interval) and sigma (spread: interactions or non-linearity) "
    "(SALib `morris.analyze`)",
    "lhs": "RBD-FAST first-order indices (S1) with 95% bootstrap confidence intervals "
    "(SALib `rbd_fast.analyze` on the Latin hypercube)",
    "grid": "main-effect share of variance: Var over a factor's levels of the mean "
    "outcome, divided by the variance over all design points (exact on a full "
    "factorial; what is left is interaction), with a 95% interval from a parametric "
    "bootstrap of each design point's own noise",
}

Rows = list[dict[str, Any]]
WARNING = "warning: "  # a note that starts so is a warning line of the report
RBD_FAST_HARMONICS = 10  # SALib's default M
RBD_FAST_MIN_POINTS = 2 * RBD_FAST_HARMONICS + 1
SALIB_NAMES = (("saltelli", "Sobol' analysis"), ("morris", "Morris analysis"), ("lhs", "RBD-FAST"))


def sensitivity(sweep: Sweep, points: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """Sensitivity indices of P(target met) and mean share to each factor, and a note.

    The table has one row per outcome and factor (indices left empty for an outcome that
    does not vary); it is None, and the note says why, when a sampled design is incomplete,
    when a Latin hypercube has too few points for RBD-FAST (`RBD_FAST_MIN_POINTS`), or when
    SALib fails on the design (the last two notes start with `WARNING`).
    """
    method, manifest = sweep.method, sweep.manifest
    planned = manifest.design_points
    if method in ("saltelli", "morris", "lhs"):
        if len(points) < planned or points[["p_target", "share_mean"]].isna().any().any():
            return None, (
                f"needs every one of the {planned:,} design points with at least "
                "one finished run; resume the sweep first"
            )
    text_factor = _text_factor(sweep) if method in ("saltelli", "morris", "lhs") else None
    if text_factor:
        return None, (
            f"{WARNING}`{text_factor}` is a categorical factor (its sampled values are text), "
            f"and {dict(SALIB_NAMES)[method]} needs numbers for every factor: see the "
            "marginals for what each of its levels does"
        )
    if method == "lhs" and len(points) < RBD_FAST_MIN_POINTS:
        return None, (
            f"{WARNING}RBD-FAST needs at least {RBD_FAST_MIN_POINTS} design points "
            f"(twice its {RBD_FAST_HARMONICS} harmonics, and one), this sweep has "
            f"{len(points):,}: indices from fewer would mean nothing"
        )
    rows: Rows = []
    for key, label in OUTCOMES:
        y = points.sort_values("design_point")[key].to_numpy(dtype=float)
        finite = y[~np.isnan(y)]
        if len(finite) == 0 or np.var(finite) == 0:
            rows += [{"outcome": label, "factor": name} for name in sweep.factors]
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                rows += _indices(method, sweep, points, y, label)
            except (ArithmeticError, ValueError, IndexError, np.linalg.LinAlgError) as exc:
                name = dict(SALIB_NAMES).get(method, method)
                return None, (
                    f"{WARNING}{name} failed on this design "
                    f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
                )
    return pd.DataFrame(rows), NOTES[method]


def _indices(method: str, sweep: Sweep, points: pd.DataFrame, y: np.ndarray, label: str) -> Rows:
    """The indices of one outcome `y` (one value per design point, in order)."""
    if method == "saltelli":
        return _sobol(sweep, y, label)
    if method == "morris":
        return _morris(sweep, y, label)
    if method == "lhs":
        return _rbd_fast(sweep, y, label)
    return _main_effects(sweep, points, label)


def _sobol(sweep: Sweep, y: np.ndarray, label: str) -> Rows:
    from SALib.analyze import sobol

    problem, seed = sweep.manifest.problem, sweep.manifest.master_seed
    second = bool(sweep.manifest.experiment.sampler.get("second_order", False))
    res = sobol.analyze(problem, y, calc_second_order=second, conf_level=CONFIDENCE, seed=seed)
    return [
        {
            "outcome": label,
            "factor": n,
            "S1": res["S1"][i],
            "S1_conf": res["S1_conf"][i],
            "ST": res["ST"][i],
            "ST_conf": res["ST_conf"][i],
        }
        for i, n in enumerate(sweep.factors)
    ]


def _morris(sweep: Sweep, y: np.ndarray, label: str) -> Rows:
    from SALib.analyze import morris

    problem, seed = sweep.manifest.problem, sweep.manifest.master_seed
    levels = int(sweep.manifest.experiment.sampler.get("levels", 4))
    x = _design_matrix(sweep)
    res = morris.analyze(problem, x, y, num_levels=levels, conf_level=CONFIDENCE, seed=seed)
    return [
        {
            "outcome": label,
            "factor": n,
            "mu_star": res["mu_star"][i],
            "mu_star_conf": res["mu_star_conf"][i],
            "sigma": res["sigma"][i],
            "mu": res["mu"][i],
        }
        for i, n in enumerate(sweep.factors)
    ]


def _rbd_fast(sweep: Sweep, y: np.ndarray, label: str) -> Rows:
    from SALib.analyze import rbd_fast

    problem, seed = sweep.manifest.problem, sweep.manifest.master_seed
    x = _design_matrix(sweep)
    res = rbd_fast.analyze(problem, x, y, M=RBD_FAST_HARMONICS, conf_level=CONFIDENCE, seed=seed)
    return [
        {"outcome": label, "factor": n, "S1": res["S1"][i], "S1_conf": res["S1_conf"][i]}
        for i, n in enumerate(sweep.factors)
    ]


def _main_effects(sweep: Sweep, points: pd.DataFrame, label: str) -> Rows:
    """Each factor's main-effect share (Var over its levels of the mean outcome / Var(y)),
    with a 95% bootstrap ± (`cbsim.analysis.grid_effects`)."""
    key = dict((lab, key) for key, lab in OUTCOMES)[label]
    shares = main_effect_shares(points, sweep.factors, key, sweep.manifest.master_seed)
    return [
        {"outcome": label, "factor": n, "S1": shares[n][0], "S1_conf": shares[n][1]}
        for n in sweep.factors
    ]


def _text_factor(sweep: Sweep) -> str | None:
    """The first factor whose sampled values are not numbers (e.g. scenario names)."""
    if sweep.design is None:
        return None
    for name in sweep.factors:
        if not pd.api.types.is_numeric_dtype(sweep.design[name]):
            return name
    return None


def _design_matrix(sweep: Sweep) -> np.ndarray | None:
    """The sampled (raw) factor values, one row per design point (None without a design)."""
    if sweep.design is None:
        return None
    return sweep.design[sweep.factors].to_numpy(dtype=float)
