"""Ordered text levels in the report: calendar months and department stances are neighbours
in their order on the frontier and listed in it in the marginals; scenarios are not ordered."""

from __future__ import annotations

import pandas as pd

from cbsim.analysis.frontier import grid_crossings, level_order
from cbsim.analysis.marginals import marginals

MONTHS = ["2012-10", "2011-06", "2011-10"]  # as an experiment might list them


def points(factor: str, levels: list[str], ps: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "design_point": range(len(levels)),
            factor: levels,
            "p_target": ps,
            "p_target_lo": [max(0.0, p - 0.1) for p in ps],
            "p_target_hi": [min(1.0, p + 0.1) for p in ps],
            "runs": 40,
            "failed": 0,
        }
    )


def test_months_and_stances_have_their_order_and_scenarios_none():
    assert level_order(pd.Series(MONTHS)) == ["2011-06", "2011-10", "2012-10"]
    assert level_order(pd.Series(["pool", "withhold", "align"])) == ["withhold", "align", "pool"]
    assert level_order(pd.Series(["baseline_2011", "dwp_engages"])) is None
    assert level_order(pd.Series([True, False])) is None
    assert level_order(pd.Series([1.0, 0.5])) == [0.5, 1.0]


def test_the_frontier_pairs_months_one_month_level_apart():
    # P falls as the pooling floor comes later: 2011-06 -> 0.95, 2011-10 -> 0.92, 2012-10 -> 0.1
    frame = points("departments.DWP.floor_from", MONTHS, [0.1, 0.95, 0.92])
    crossings = grid_crossings(frame, ["departments.DWP.floor_from"], 0.9)
    pairs = list(zip(crossings["below_level"], crossings["above_level"], strict=True))
    assert pairs == [("2012-10", "2011-10")]  # not 2012-10 against 2011-06 (two levels apart)


def test_unordered_levels_are_all_neighbours():
    frame = points("scenario", ["a", "b", "c"], [0.1, 0.95, 0.92])
    crossings = grid_crossings(frame, ["scenario"], 0.9)
    assert len(crossings) == 2


def test_marginals_list_months_in_calendar_order():
    runs = pd.DataFrame(
        {
            "departments.DWP.floor_from": MONTHS * 4,
            "target_met": [False, True, True] * 4,
            "share_at_target": [0.3, 0.6, 0.55] * 4,
        }
    )
    table = marginals(runs, ["departments.DWP.floor_from"])
    assert table["level"].tolist() == ["2011-06", "2011-10", "2012-10"]
    assert table["met"].tolist() == [4, 4, 0]
