"""The Mesa host's three kinds of agent; their decision rules are in cbsim.model.rules.

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

from mesa import Agent
from mesa.discrete_space import FixedAgent
from mesa.discrete_space.cell_agent import FixedCell

from cbsim.inputs.reference import Authority
from cbsim.model.host import DepartmentSpec
from cbsim.model.rules import (
    ALIGN,
    COUNCIL_STATES,
    DEVELOPING,
    EXPLORING,
    NONE,
    POOL,
    WITHHOLD,
    DepartmentRules,
    MinisterialRules,
    council_moves,
)

if TYPE_CHECKING:
    from cbsim.model.model import CommunityBudgetModel

__all__ = [
    "ALIGN",
    "COUNCIL_STATES",
    "DEVELOPING",
    "EXPLORING",
    "NONE",
    "POOL",
    "WITHHOLD",
    "Council",
    "Department",
    "MinisterialGroup",
    "council_moves",
]


class Council(FixedAgent):
    """An upper-tier authority deciding whether to develop a community budget."""

    model: CommunityBudgetModel

    def __init__(
        self,
        model: CommunityBudgetModel,
        index: int,
        authority: Authority,
        level: int,
        threshold_m: float,
        capacity: float,
        cell=None,
    ) -> None:
        super().__init__(model)
        self.index = index
        self.authority = authority  # ONS code, population, Total Place, centroid, deprivation
        self.name = authority.name
        self.kind = authority.type
        self.region = authority.region
        self.pilot_area = authority.pilot_area
        self.total_place = authority.total_place
        self.families = float(model.council_families[index])
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

    @property
    def pbr_signed(self) -> bool:
        """Whether the council is in the payment-by-results programme (a separate state)."""
        return bool(self.model.pbr_signed[self.index])

    def net_benefit_m(self) -> float:
        """What pooling is worth to this council this month, £m/yr equivalent."""
        model = self.model
        return float(
            model.offer_values_m[self.index] + model.peer_weight_m * model.peer_share[self.index]
        )

    def step(self) -> None:
        """Move one step toward a community budget with a chance that grows with the surplus.

        The month runs this same rule for all councils at once (`council_moves` on arrays,
        the same draws in the same order): see `ProgrammeRules.council_moves_now`.
        """
        draw = self.model.rng.random()  # drawn every month: common random numbers
        if council_moves(
            self.level,
            self.net_benefit_m(),
            self.threshold_m,
            self.capacity,
            self.model.council_speed,
            draw,
        ):
            self.level += 1


class Department(DepartmentRules, Agent):
    """A Whitehall department choosing to withhold, align or pool its funding streams.

    Its rules (`utilities`, `step`) are `cbsim.model.whitehall.DepartmentRules`.
    """

    model: CommunityBudgetModel

    def __init__(self, model: CommunityBudgetModel, spec: DepartmentSpec) -> None:
        super().__init__(model)
        self.setup_department(**spec)


class MinisterialGroup(MinisterialRules, Agent):
    """Bichard's officials' group (stocktakes, sweeteners) or Hanham's ministers (pressure).

    Its rules (`step`, `press_laggard`, `sweeten_offer`) are
    `cbsim.model.whitehall.MinisterialRules`.
    """

    model: CommunityBudgetModel

    def __init__(self, model: CommunityBudgetModel, name: str, role: str, active_from: int) -> None:
        super().__init__(model)
        self.setup_group(name, role, active_from)
