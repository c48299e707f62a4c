"""Every incentive's cost to the centre (docs/costs.md): zero when the incentive is off, of the
documented size when it is on (checked against the formulas written out here, month by month),
the same on both hosts, and printed by `cbsim run`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cbsim import simulate
from cbsim.cli import main
from cbsim.inputs.reference import STANCES
from cbsim.model.costs import COMPONENTS, COST_OUTCOMES
from cbsim.model.host import DEVELOPING
from cbsim.model.kernel import Programme
from cbsim.model.model import CommunityBudgetModel

SEEDS = (0, 3, 11)
ALL_ON = {
    "offer.funding_boost_m": 0.6,
    "offer.payment_by_results": True,
    "offer.champions_network": True,
    "offer.reinvest_savings": True,
    "offer.national_pooling": True,
}
# each incentive alone, and the component it should cost
ALONE = {
    "boost": {"offer.funding_boost_m": 0.8},
    "pbr": {"offer.payment_by_results": True},
    "champions": {"offer.champions_network": True},
    "reinvest": {"offer.reinvest_savings": True},
}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def expected_month_m(programme: Programme) -> dict[str, float]:
    """This month's costs, written out from docs/costs.md (not from cbsim.model.costs)."""
    p = programme.params
    developing = programme.levels == DEVELOPING
    out = dict.fromkeys(COMPONENTS, 0.0)
    if programme.policy_active("offer.funding_boost"):
        out["boost"] = programme.funding_boost_m * developing.sum() / 12
    per_family_k = p["pbr.attachment_fee_k"] + p["pbr.results_payment_k"] * p["pbr.results_chance"]
    covered = programme.council_families * p["pbr.coverage"]
    incomes_m = covered * per_family_k / 1000 / p["pbr.years"]
    out["pbr"] = incomes_m[programme.pbr_signed].sum() / 12
    if programme.policy_active("offer.champions_network"):
        out["champions"] = p["costs.champions_m_per_year"] / 12
    if programme.policy_active("offer.reinvest_savings"):
        n = len(programme.levels)
        stances = [(d.poolable_m, STANCES[d.level]) for d in programme.departments]
        pooled = sum(m for m, s in stances if s == "pool") / n
        aligned = sum(m for m, s in stances if s == "align") / n
        money = p["council.cash_value"] * pooled + p["council.virtual_value"] * aligned
        spend = programme.council_sizes[developing].sum() * (p["council.own_spend_m"] + money)
        share = p["offer.reinvest_kept_share"] - p["council.savings_kept_share"]
        out["reinvest"] = share * p["council.savings_rate"] * spend / 12
    return out


def step_through(scenario: str, seed: int, **overrides) -> tuple[Programme, dict, dict]:
    """Run the kernel month by month, adding up the written-out costs over the run and up
    to and including the target month."""
    programme = Programme(scenario, rng=seed, **overrides)
    run = expected_month_m(programme)
    to_target = dict(run)
    while programme.month_index < programme.end_index:
        programme.step()
        month = expected_month_m(programme)
        for name, cost in month.items():
            run[name] += cost
            if programme.month_index <= programme.target_index:
                to_target[name] += cost
    return programme, run, to_target


def test_with_no_incentive_nothing_costs_anything():
    for scenario in ("baseline_2011", "dwp_engages"):
        for seed in SEEDS:
            o = simulate(scenario, seed=seed)
            assert all(o[key] == 0.0 for key in COST_OUTCOMES), (scenario, seed)


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_incentive_alone_costs_only_its_own_component(component):
    for seed in SEEDS:
        o = simulate("baseline_2011", seed=seed, **ALONE[component])
        assert o[f"cost_{component}_m"] > 0
        for other in COMPONENTS:
            if other != component:
                assert o[f"cost_{other}_m"] == 0.0, other
        assert close(o["central_cost_m"], o[f"cost_{component}_m"])


@pytest.mark.parametrize("overrides", [ALL_ON, *ALONE.values()], ids=["all", *ALONE])
def test_every_component_is_the_documented_formula_month_by_month(overrides):
    for seed in SEEDS:
        programme, run, to_target = step_through("baseline_2011", seed, **overrides)
        o = programme.outcomes()
        for name in COMPONENTS:
            assert close(o[f"cost_{name}_m"], run[name]), name
        assert close(o["central_cost_m"], sum(run.values()))
        assert close(o["central_cost_m_at_target"], sum(to_target.values()))


def test_the_champions_network_costs_its_yearly_rate_for_each_month_it_runs():
    o = simulate("baseline_2011", seed=1, **{"offer.champions_network": True})
    assert close(o["cost_champions_m"], 0.35 * 24 / 12)  # 2011-04 to 2013-03
    assert close(o["central_cost_m_at_target"], 0.35 * 13 / 12)  # 2011-04 to 2012-04
    half = simulate(
        "baseline_2011",
        seed=1,
        **{"offer.champions_network": True, "costs.champions_m_per_year": 0.175},
    )
    assert close(half["cost_champions_m"], 0.35)


def test_the_funding_boost_costs_the_boost_for_each_council_month_developing():
    model = CommunityBudgetModel("baseline_2011", rng=2, **{"offer.funding_boost_m": 1.2})
    model.run_to_end()
    council_months = sum(model.timeseries()["developing"])
    assert close(model.outcomes()["cost_boost_m"], 1.2 * council_months / 12)


def test_a_boost_that_stops_at_the_target_costs_nothing_after_it():
    stop = {"offer.funding_boost_m": 1.0, "offer.funding_boost_until": "2012-05"}
    o = simulate("baseline_2011", seed=4, **stop)
    assert close(o["cost_boost_m"], o["central_cost_m_at_target"])


def test_payment_by_results_costs_about_the_published_budget_at_full_take_up():
    o = simulate("troubled_families_2012", seed=0)
    assert o["pbr_share_final"] > 0.95
    yearly_full = 120_000 * 0.8333 * (2.4 + 1.6 * 0.5) / 1000 / 3  # £107m a year
    months_open = 16  # 2011-12 to 2013-03
    assert 0.6 * yearly_full * months_open / 12 < o["cost_pbr_m"] < yearly_full * 16 / 12


def test_national_pooling_is_a_transfer_not_a_cost():
    o = simulate("compelling_offer", seed=5, **{"offer.reinvest_savings": False})
    assert o["pooled_m_total"] > 0
    assert o["central_cost_m"] == 0.0


def test_reinvest_cost_is_zero_when_councils_keep_as_much_without_it():
    same = {"offer.reinvest_savings": True, "offer.reinvest_kept_share": 0.3}
    assert simulate("baseline_2011", seed=1, **same)["cost_reinvest_m"] == 0.0


def test_costs_are_identical_on_both_hosts():
    for seed in SEEDS:
        overrides = {**ALL_ON, "ministerial.sweeteners": ["funding_boost"]}
        model = CommunityBudgetModel("baseline_2011", rng=seed, **overrides)
        model.run_to_end()
        kernel = Programme("baseline_2011", rng=seed, **overrides)
        kernel.run_to_end()
        for key in COST_OUTCOMES:
            assert model.outcomes()[key] == kernel.outcomes()[key], key
        assert model.costs == kernel.costs


def test_the_cost_to_the_target_is_none_before_the_run_records_the_target_month():
    model = CommunityBudgetModel("baseline_2011", rng=1, **ALL_ON)
    model.run_for(5)  # outcomes read mid-run (the workshop view does)
    o = model.outcomes()
    assert o["count_at_target"] is None
    assert o["central_cost_m_at_target"] is None
    assert o["central_cost_m"] > 0


def test_costs_grow_with_the_boost():
    costs = [
        np.mean(
            [
                simulate("baseline_2011", seed=s, **{"offer.funding_boost_m": b})["cost_boost_m"]
                for s in SEEDS
            ]
        )
        for b in (0.2, 0.5, 1.0)
    ]
    assert costs[0] < costs[1] < costs[2]


def test_cbsim_run_prints_the_costs(tmp_path, capsys):
    args = ["run", "baseline_2011", "--seed", "3", "--out", str(tmp_path / "run")]
    assert main([*args, "--set", "offer.champions_network=true"]) == 0
    out = capsys.readouterr().out
    o = simulate("baseline_2011", seed=3, **{"offer.champions_network": True})
    assert (
        f"cost to the centre (£m): {o['central_cost_m']:.1f} over the run, "
        f"{o['central_cost_m_at_target']:.1f} to 2012-04"
    ) in out
    assert "champions network 0.7" in out
    assert "funding boost 0.0, payment by results 0.0" in out
    assert "money pooled is a transfer, not a cost" in out
