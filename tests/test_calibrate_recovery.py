"""Recovery: ABC-SMC finds known parameter values again from targets the model itself made.

Two parameters, each tied to its own outcome: the councils' median threshold moves the share
developing at the target date (baseline), and the payment-by-results sign-up speed moves the
share signed up by February 2012 (Troubled Families, checked in February rather than June so
that the share is not yet near 1). The observed values are the model's means at the true
values over 40 seeds; the calibration then runs from wide uniform priors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cbsim import simulate
from cbsim.calibrate.predictive import weighted_quantiles
from cbsim.calibrate.run import run_calibration
from cbsim.inputs.scenario import load_scenario, scenario_dir

TRUE = {"council.threshold_median_m": 1.2, "pbr.signup_speed": 0.3}
PRIORS = {"council.threshold_median_m": (0.5, 3.0), "pbr.signup_speed": (0.05, 1.5)}


def _observed(scenario, outcome: str) -> float:
    return float(np.mean([simulate(scenario, seed=1000 + s, **TRUE)[outcome] for s in range(40)]))


def _files(tmp_path: Path) -> Path:
    tf = (scenario_dir() / "troubled_families_2012.toml").read_text()
    (tmp_path / "tf_february.toml").write_text(tf + '\n[pbr]\ncheck_month = "2012-02"\n')
    share = _observed(load_scenario("baseline_2011"), "share_at_target")
    signed = _observed(load_scenario(tmp_path / "tf_february.toml"), "pbr_share_at_check")
    priors = "\n".join(
        f'"{p}" = {{ dist = "uniform", min = {lo}, max = {hi} }}' for p, (lo, hi) in PRIORS.items()
    )
    text = f"""
    seed = 99
    [abc]
    population = 150
    max_generations = 5
    [priors]
    {priors}
    [[targets]]
    name = "share at the target date"
    scenario = "baseline_2011"
    outcome = "share_at_target"
    runs = 4
    observed = {share}
    scale = 0.03
    source = "the model at known values"
    [[targets]]
    name = "signed up by February 2012"
    scenario = "tf_february.toml"
    outcome = "pbr_share_at_check"
    runs = 4
    observed = {signed}
    scale = 0.03
    source = "the model at known values"
    """
    path = tmp_path / "recovery.toml"
    path.write_text(text.replace("\n    ", "\n"))
    return path


@pytest.mark.slow
def test_abc_smc_recovers_known_parameters_from_model_made_targets(tmp_path):
    out = tmp_path / "out"
    summary = run_calibration(_files(tmp_path), out, workers=2)
    assert summary.generations >= 3
    table = pd.read_parquet(out / "posterior.parquet")
    weights = table["weight"].to_numpy()
    for path, truth in TRUE.items():
        low, high = weighted_quantiles(table[path].to_numpy(), weights, [0.05, 0.95])
        prior_low, prior_high = PRIORS[path]
        prior_width = 0.9 * (prior_high - prior_low)
        assert low <= truth <= high, (path, low, truth, high)
        assert high - low < 0.5 * prior_width, (path, high - low, prior_width)
