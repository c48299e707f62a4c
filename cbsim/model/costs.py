"""What the incentives cost the centre, in £m, month by month (docs/costs.md).

Every recorded month of a run (the starting month, then each month stepped) is paid for once,
on the state recorded for it; a month's cost is a twelfth of the yearly rate:

- **funding boost**: `offer.funding_boost_m` (£m a year, raised by the officials'
  sweetener when allowed) to each council developing a community budget, while the boost
  applies (`offer.funding_boost_from`/`_until`).
- **payment by results**: each signed-up council's expected income from the offer, the
  attachment fee plus the results payment times the chance of results for the families it
  covers (`pbr_incomes_m`, £m a year: `cbsim.model.councils.pbr_income_m`), for every month it
  is signed up.
- **champions network**: `costs.champions_m_per_year` (£m a year, the peer-support money Our
  Place gave the pilots) while the network runs.
- **freedom to reinvest**: the savings the centre forgoes, ``(offer.reinvest_kept_share -
  council.savings_kept_share) x council.savings_rate x pooled spend`` summed over the councils
  developing, the pooled spend of each being its share of need times (its own spend plus the
  departments' money on offer) -- exactly the extra savings the freedom adds to the councils'
  offer value (`ProgrammeRules.pooled_spend_m`), while the freedom applies.
- **national pooling** costs the centre nothing as a whole: pooled money is a transfer from
  departments to councils (reported apart, as `pooled_m_total`).

`CostLedger` keeps the totals over the run and over the months up to and including the target
month; `ProgrammeRules` accrues one month at the end of construction and of each `step`, so
both hosts pay the same. No Mesa, pandas or scipy here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cbsim.model.host import DEVELOPING

if TYPE_CHECKING:
    from cbsim.model.rules import ProgrammeRules

COMPONENTS = ("boost", "pbr", "champions", "reinvest")
COST_OUTCOMES = (
    "central_cost_m",
    "central_cost_m_at_target",
    *(f"cost_{name}_m" for name in COMPONENTS),
)
MONTHS_PER_YEAR = 12.0


def monthly_costs_m(programme: ProgrammeRules) -> dict[str, float]:
    """This month's cost to the centre of each incentive (£m), in `COMPONENTS` order."""
    p = programme.params
    developing = programme.levels == DEVELOPING
    boost = 0.0
    if programme.policy_active("offer.funding_boost"):
        boost = programme.funding_boost_m * int(np.count_nonzero(developing))
    pbr = float(programme.pbr_incomes_m[programme.pbr_signed].sum())
    champions = 0.0
    if programme.policy_active("offer.champions_network"):
        champions = p["costs.champions_m_per_year"]
    reinvest = 0.0
    if programme.policy_active("offer.reinvest_savings"):
        extra_share = p["offer.reinvest_kept_share"] - p["council.savings_kept_share"]
        need = float(programme.council_sizes[developing].sum())
        reinvest = extra_share * p["council.savings_rate"] * programme.pooled_spend_m * need
    yearly = (boost, pbr, champions, reinvest)
    return {name: rate / MONTHS_PER_YEAR for name, rate in zip(COMPONENTS, yearly, strict=True)}


@dataclass
class CostLedger:
    """Costs to the centre so far (£m by component): over the run, and over the months up to
    and including the target month."""

    run_m: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0.0))
    to_target_m: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0.0))

    def accrue(self, programme: ProgrammeRules) -> None:
        """Pay the month the programme has just recorded (or is about to record)."""
        month = monthly_costs_m(programme)
        by_target = programme.month_index <= programme.target_index
        for name, cost in month.items():
            self.run_m[name] += cost
            if by_target:
                self.to_target_m[name] += cost

    def outcomes(self, target_recorded: bool) -> dict[str, Any]:
        """The cost outcomes (`COST_OUTCOMES`); the cost to the target is None when the run
        does not record the target month (as `count_at_target` is)."""
        out: dict[str, Any] = {
            "central_cost_m": sum(self.run_m.values()),
            "central_cost_m_at_target": sum(self.to_target_m.values()) if target_recorded else None,
        }
        for name in COMPONENTS:
            out[f"cost_{name}_m"] = self.run_m[name]
        return out
