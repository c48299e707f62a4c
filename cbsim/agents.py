"""The three kinds of agent and their decision rules.

- Council: none -> exploring -> developing a community budget, when the value of pooling
  (money on offer, savings it may keep, peers, pilots' evidence) beats its own threshold.
- Department: withhold, align (virtual pooling) or pool (devolve cash), weighing the share of
  savings that comes back to it (wrong pocket), evidence and ministerial pressure against
  the risk of losing control; a change of stance takes months of negotiation.
- MinisterialGroup: stocktakes progress against the trajectory the target needs and, when
  behind, presses the least engaged department or sweetens the offer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from mesa import Agent
from mesa.discrete_space import FixedAgent
from mesa.discrete_space.cell_agent import FixedCell

from cbsim.reference import STANCES

if TYPE_CHECKING:
    from cbsim.model import CommunityBudgetModel

COUNCIL_STATES = ("none", "exploring", "developing")
NONE, EXPLORING, DEVELOPING = 0, 1, 2
WITHHOLD, ALIGN, POOL = 0, 1, 2


def council_moves(level, net_benefit_m, threshold_m, capacity, speed, draw):
    """The council's decision rule, for one council or for all at once (numpy arrays).

    A council not yet developing moves one step on (none -> exploring -> developing) with a
    chance ``1 - exp(-speed * capacity * surplus)`` that grows with the surplus of its net
    benefit over its threshold; `draw` is its uniform draw for the month. Returns a bool
    (array): whether it moves.
    """
    surplus = net_benefit_m - threshold_m
    chance = 1.0 - np.exp(-speed * capacity * np.maximum(surplus, 0.0))
    return (level != DEVELOPING) & (surplus > 0) & (draw < chance)


class Council(FixedAgent):
    """An upper-tier authority deciding whether to develop a community budget."""

    model: CommunityBudgetModel

    def __init__(self, model: CommunityBudgetModel, index: int, name: str, kind: str,
                 region: str, pilot_area: str, level: int, threshold_m: float,
                 capacity: float, cell=None) -> None:
        super().__init__(model)
        self.index = index
        self.name = name
        self.kind = kind
        self.region = region
        self.pilot_area = pilot_area
        self.level = level
        self.threshold_m = threshold_m
        self.capacity = capacity
        if cell is not None:
            self.cell = cell

    @property
    def cell(self):
        """The council's node in `model.grid` (the model builds that space on first use)."""
        if self._mesa_cell is None:
            self.model.grid  # noqa: B018 - places every council in its cell
        return self._mesa_cell

    @cell.setter
    def cell(self, cell) -> None:
        FixedCell.cell.fset(self, cell)

    @property
    def state(self) -> str:
        """none, exploring or developing."""
        return COUNCIL_STATES[self.level]

    def net_benefit_m(self) -> float:
        """What pooling is worth to this council this month, £m/yr equivalent."""
        model = self.model
        return model.offer_value_m + model.peer_weight_m * model.peer_share[self.index]

    def step(self) -> None:
        """Move one step toward a community budget with a chance that grows with the surplus.

        The model runs this same rule for all councils at once (`council_moves` on arrays,
        the same draws in the same order), see `CommunityBudgetModel.councils_step`.
        """
        draw = self.model.rng.random()  # drawn every month: common random numbers
        if council_moves(self.level, self.net_benefit_m(), self.threshold_m, self.capacity,
                         self.model.council_speed, draw):
            self.level += 1


class Department(Agent):
    """A Whitehall department choosing to withhold, align or pool its funding streams."""

    model: CommunityBudgetModel

    def __init__(self, model: CommunityBudgetModel, name: str, poolable_m: float, stance: str,
                 floor: str, return_share: float, risk_aversion: float, main: bool) -> None:
        super().__init__(model)
        self.name = name
        self.poolable_m = poolable_m
        self.level = STANCES.index(stance)
        self.floor = STANCES.index(floor)
        self.return_share = return_share
        self.risk_aversion = risk_aversion
        self.main = main
        self.pressure = 0.0
        self.wanted = self.level
        self.months_wanting = 0
        self.pooled_m = 0.0  # cumulative £m pooled over the run
        self.aligned_m = 0.0  # cumulative £m aligned over the run

    @property
    def stance(self) -> str:
        """withhold, align or pool."""
        return STANCES[self.level]

    def utilities(self) -> tuple[float, float, float]:
        """Payoff of withholding, aligning and pooling this month (Roman's wrong pocket)."""
        m = self.model
        p = m.params
        benefit = (self.return_share * p["council.savings_rate"] + self.pressure
                   + p["department.evidence_weight"] * m.evidence)
        if self.main and m.national_pooling_active:
            benefit += p["offer.mandate"]
        pool = benefit - self.risk_aversion
        align = (p["department.align_benefit"] * benefit
                 - p["department.align_risk"] * self.risk_aversion)
        return 0.0, align, pool

    def step(self) -> None:
        """Judge the best stance (with noise); take one step toward it after negotiating."""
        noise = self.model.rng.gumbel(0.0, 1.0, size=3) * self.model.dept_noise
        scores = [u + e for u, e in zip(self.utilities(), noise, strict=True)]
        best = max(range(self.floor, 3), key=lambda level: scores[level])
        if best == self.level:
            self.months_wanting = 0
        else:
            self.months_wanting = self.months_wanting + 1 if best == self.wanted else 1
            if self.months_wanting >= self.model.negotiation_months:
                self.level += 1 if best > self.level else -1
                self.months_wanting = 0
                self.model.log_action(self.name, f"stance now {self.stance}")
        self.wanted = best
        self.pooled_m += self.poolable_m / 12 if self.level == POOL else 0.0
        self.aligned_m += self.poolable_m / 12 if self.level == ALIGN else 0.0


class MinisterialGroup(Agent):
    """Bichard's officials' group (stocktakes, sweeteners) or Hanham's ministers (pressure)."""

    model: CommunityBudgetModel

    def __init__(self, model: CommunityBudgetModel, name: str, role: str,
                 active_from: int) -> None:
        super().__init__(model)
        self.name = name
        self.role = role  # "officials" sweeten the offer; "ministers" press departments
        self.active_from = active_from

    def step(self) -> None:
        """At a stocktake, compare progress with the trajectory; act when behind."""
        m = self.model
        if not (m.stocktake_due and m.month_index >= self.active_from):
            return
        needed = m.needed_share()
        behind = m.share_developing + m.params["ministerial.tolerance"] < needed
        if self.role == "officials":
            m.log_action(self.name, f"stocktake: {m.share_developing:.0%} developing, "
                                    f"{needed:.0%} needed")
            if behind:
                self.sweeten_offer()
        elif behind:
            self.press_laggard()

    def press_laggard(self) -> None:
        """Raise pressure on the least engaged department (lowest stance, least willing)."""
        m = self.model
        cap = m.params["ministerial.max_pressure"]
        candidates = [d for d in m.departments if d.level < POOL and d.pressure < cap]
        if not candidates:
            return
        target = min(candidates, key=lambda d: (d.level, d.utilities()[POOL], d.name))
        target.pressure = min(cap, target.pressure + m.params["ministerial.pressure_step"])
        m.log_action(self.name, f"pressure on {target.name} raised to {target.pressure:.2f}")

    def sweeten_offer(self) -> None:
        """Pull the next lever allowed by the scenario that is not pulled yet."""
        m = self.model
        for lever in m.params["ministerial.sweeteners"]:
            if lever == "funding_boost":
                m.funding_boost_m += m.params["ministerial.boost_step_m"]
                m.log_action(self.name, f"funding boost raised to £{m.funding_boost_m:.1f}m "
                                        "per council")
                return
            if not m.lever_on(lever):
                m.pull_lever(lever)
                m.log_action(self.name, f"offer sweetened: {lever.replace('_', ' ')}")
                return
