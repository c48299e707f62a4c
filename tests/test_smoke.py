"""Smoke: the package imports and the baseline runs to its horizon."""

from cbsim import simulate


def test_baseline_runs_to_horizon():
    outcomes = simulate("baseline_2011", seed=1)
    assert outcomes["final_month"] == "2013-03"
    assert 28 <= outcomes["count_at_target"] <= 152
