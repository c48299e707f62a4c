"""One run with its monthly record: what a sweep with ``series = true`` runs in its workers.

`simulate_monthly` runs the Mesa-free kernel exactly as `cbsim.model.simulate.simulate`
does (`Programme` built, stepped to its last month, `outcomes` read), and reads a few numbers
after construction and after each step: the state the host has just recorded for that month.
Its outcomes are `simulate`'s, plus the record under `SERIES_KEY` (the first month's index
and one row of `VARIABLES` a month). A sweep without series never calls it.

No pyarrow, pandas or Mesa here: a worker needs only the kernel.
"""

from __future__ import annotations

from typing import Any

from cbsim.inputs.scenario import Scenario
from cbsim.model.host import ALIGN, POOL
from cbsim.model.kernel import Programme
from cbsim.sweep.spec import SERIES_KEY

VARIABLES = (
    "developing",  # councils developing a community budget
    "share_developing",  # ... as a share of the authorities
    "exploring",  # councils exploring one
    "pbr_signed",  # councils signed up to payment by results
    "evidence",  # the evidence base, 0 to 1
    "offer_value_m",  # the average council's net benefit of the offer (£m a year)
    "pooled_m_per_year",  # £m a year departments pool at the moment
    "aligned_m_per_year",  # £m a year departments align (virtual pooling)
    "pooled_m_to_date",  # £m pooled so far (a transfer to councils)
    "aligned_m_to_date",  # £m aligned so far
    "central_cost_m_to_date",  # the incentives' cost to the centre so far (£m)
    "departments_pooling",  # departments pooling their money
    "departments_aligning",  # departments aligning theirs
)

Record = tuple[int, list[tuple[float, ...]]]  # first month's index, a row of VARIABLES a month


def simulate_monthly(scenario: Scenario, seed: int, overrides: dict[str, Any]) -> dict[str, Any]:
    """`simulate(scenario, seed, **overrides)`'s outcomes, with the monthly record under
    `SERIES_KEY`."""
    programme = Programme(scenario=scenario, rng=seed, **overrides)
    rows = [_observe(programme)]
    programme.run_to_end(after_month=lambda month: rows.append(_observe(month)))
    outcomes = programme.outcomes()
    record: Record = (programme.start_index, rows)
    programme.release()
    outcomes[SERIES_KEY] = record
    return outcomes


def _observe(programme: Programme) -> tuple[float, ...]:
    """The month just recorded, in `VARIABLES` order."""
    departments = programme.departments
    developing = programme.count_developing
    return (
        float(developing),
        developing / len(programme.levels),
        float(programme.count_exploring),
        float(programme.count_pbr_signed),
        float(programme.evidence),
        programme.offer_value_m,
        float(programme.pooled_rate_m),
        float(programme.aligned_rate_m),
        float(sum(d.pooled_m for d in departments)),
        float(sum(d.aligned_m for d in departments)),
        float(sum(programme.costs.run_m.values())),
        float(sum(1 for d in departments if d.level == POOL)),
        float(sum(1 for d in departments if d.level == ALIGN)),
    )
