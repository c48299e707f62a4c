"""`simulate`: one run of a scenario, as a plain function returning scalar outcomes."""

from __future__ import annotations

import os
from typing import Any

from cbsim.inputs.scenario import Scenario
from cbsim.model.kernel import Programme


def simulate(
    scenario: str | os.PathLike | Scenario = "baseline_2011",
    seed: int | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Run `scenario` with `seed` to its last month; return a flat dict of scalar outcomes.

    Overrides are dotted parameter paths, e.g. ``simulate("baseline_2011", seed=1,
    **{"offer.national_pooling": True})``. A plain function of keyword arguments, so
    SALib, EMA Workbench or a process pool can call it directly. The outcomes are exactly
    ``CommunityBudgetModel(scenario, rng=seed, **overrides)`` run to its end; the run uses
    the Mesa-free kernel (`cbsim.model.kernel.Programme`), which is faster and lighter.
    """
    programme = Programme(scenario=scenario, rng=seed, **overrides)
    programme.run_to_end()
    outcomes = programme.outcomes()
    programme.release()
    return outcomes
