"""CommunityBudgetModel: will half of England's upper-tier councils pool budgets by April 2012?

An agent-based model of the UK "community budgets" programme (2010-13). Whitehall
departments decide whether to withhold, align or pool funding streams; 152 upper-tier
councils decide whether to develop a community budget given the offer, their peers and the
pilots' evidence; ministerial groups take stock and push. One step is one calendar month.
The rules, and the order of construction and of a month, live in cbsim.model.rules (shared
with the Mesa-free kernel that sweeps use); this module is their Mesa host: it supplies the
hooks of `cbsim.model.host.HostHooks` with agents, AgentSets, a DataCollector and a Network
space.
Sources and assumptions: docs/ODD.md and shared reference FACTS.
"""

from __future__ import annotations

import os
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mesa import DataCollector, Model
from mesa.discrete_space import Network

from cbsim.inputs.reference import department_names
from cbsim.inputs.scenario import Scenario
from cbsim.model.agents import COUNCIL_STATES, Council, Department, MinisterialGroup
from cbsim.model.host import DepartmentSpec, HostHooks
from cbsim.model.network import map_layout
from cbsim.model.rules import ProgrammeRules


class CommunityBudgetModel(ProgrammeRules, Model):
    """The community budgets programme, month by month.

    Args:
        scenario: a scenario name (file in `scenarios/`), a path, or a loaded Scenario.
        rng: seed or numpy Generator; the same scenario and seed give identical runs.
        **overrides: parameter values by dotted path, e.g. ``**{"offer.national_pooling": True}``.
        copies: for scale benchmarks only: run with this many synthetic copies of the 152
            authorities (copy k > 1 of a council is named "<name> #k" and starts as it does).
    """

    def __init__(
        self,
        scenario: str | os.PathLike | Scenario = "baseline_2011",
        rng: Any = None,
        *,
        copies: int = 1,
        **overrides: Any,
    ) -> None:
        super().__init__(rng=rng)
        self.datacollector = DataCollector(model_reporters=self._reporters())
        self.build_programme(scenario, copies, overrides)

    # ----------------------------------------------------------------- the hooks
    def place_councils(self, levels: np.ndarray) -> None:
        """A `Council` agent per authority, at its starting level."""
        for i, a in enumerate(self.authority_source):
            Council(
                self,
                i,
                a,
                int(levels[i]),
                float(self.council_thresholds_m[i]),
                float(self.council_capacities[i]),
            )
        self.councils = self.agents_by_type[Council]
        self.council_list: list[Council] = list(self.councils)
        self._refresh_levels()

    def add_department(self, spec: DepartmentSpec) -> Department:
        """A `Department` agent."""
        return Department(self, spec)

    def add_group(self, name: str, role: str, active_from: int) -> MinisterialGroup:
        """A `MinisterialGroup` agent."""
        return MinisterialGroup(self, name, role, active_from)

    def apply_council_moves(self, moves: np.ndarray) -> None:
        """Move the `Council` agents that move (`Council.step` is the same rule, agent by
        agent: the same draws in the same order), then read their levels back."""
        for i in np.flatnonzero(moves):
            self.council_list[i].level += 1
        self._refresh_levels()

    def record_month(self) -> None:
        """The DataCollector collects the month; the model stops after the last month."""
        self.datacollector.collect(self)
        self.running = self.month_index < self.end_index

    def _refresh_levels(self) -> None:
        self.levels = np.fromiter(
            (c.level for c in self.council_list), dtype=np.int8, count=len(self.council_list)
        )

    @cached_property
    def grid(self) -> Network:
        """The peer network as a Mesa space (node i = council i, on a map-like layout).

        Built on first use (the view, or `council.cell`): headless runs never need it.
        """
        grid = Network(
            self.network.graph, random=self.random, layout=map_layout(self.authority_source)
        )
        for council in self.council_list:
            council.cell = grid[council.index]
        return grid

    # ----------------------------------------------------------------- observables
    def series(self) -> dict[str, list]:
        """The DataCollector's monthly columns (what `outcomes` reads)."""
        return self.datacollector.model_vars

    def _reporters(self) -> dict[str, Any]:
        reporters: dict[str, Any] = {
            "month": "month",
            "developing": "count_developing",
            "exploring": "count_exploring",
            "share_developing": "share_developing",
            "pbr_signed": "count_pbr_signed",
            "evidence": "evidence",
            "offer_value_m": "offer_value_m",
            "pooled_m_per_year": "pooled_rate_m",
            "aligned_m_per_year": "aligned_rate_m",
        }
        for name in department_names():
            reporters[f"stance_{name}"] = partial(_department_stance, name=name)
        return reporters

    def timeseries(self) -> pd.DataFrame:
        """The monthly series collected so far, one row per month."""
        return self.datacollector.get_model_vars_dataframe().reset_index(drop=True)

    def run_to_end(self) -> None:
        """Run month by month up to the scenario's last month."""
        remaining = self.end_index - self.month_index
        if remaining > 0:
            self.run_for(remaining)


if TYPE_CHECKING:  # mypy: the Mesa host supplies every hook (it is no abstract class)
    _host: type[HostHooks] = CommunityBudgetModel


def _department_stance(model: CommunityBudgetModel, name: str) -> str:
    return next(d.stance for d in model.departments if d.name == name)


__all__ = ["CommunityBudgetModel", "COUNCIL_STATES"]
