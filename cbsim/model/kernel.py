"""The model without Mesa: the same rules on plain objects and arrays, for sweeps.

`Programme` runs `cbsim.model.rules` exactly as `CommunityBudgetModel` does, with the same random
draws in the same order, so a scenario and seed give identical outcomes on either host
(`tests/test_kernel.py` checks this over many scenarios, seeds and parameter values). It
skips what only the Mesa host needs (agent registries, a space, a DataCollector table) and
imports no Mesa, pandas or scipy, so a sweep worker starts small and each run is cheap.
`simulate` uses it; the workshop view and `cbsim run` use the Mesa model.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from cbsim.inputs.reference import STANCES, department_names
from cbsim.inputs.scenario import Scenario, load_scenario
from cbsim.model.rules import DepartmentRules, MinisterialRules, ProgrammeRules


class Programme(ProgrammeRules):
    """One run of the programme (see `CommunityBudgetModel` for the arguments)."""

    def __init__(
        self,
        scenario: str | os.PathLike | Scenario = "baseline_2011",
        rng: Any = None,
        *,
        copies: int = 1,
        **overrides: Any,
    ) -> None:
        self.rng = mesa_rng(rng)
        spec = load_scenario(scenario).with_overrides(overrides, source="override")
        self.setup_programme(spec, copies)
        self.levels = self.draw_councils().copy()
        self.departments = [_Department(self, **kwargs) for kwargs in self.department_specs()]
        self.ministerial_groups = [_Group(self, *spec) for spec in self.group_specs()]
        self.start_programme()
        self._stance_columns = [f"stance_{name}" for name in department_names()]
        self._series: dict[str, list] = {
            "month": [],
            "developing": [],
            "share_developing": [],
            **{column: [] for column in self._stance_columns},
        }
        self._record()

    def step(self) -> None:
        """One month, in the Mesa model's order: groups, departments, offer, councils."""
        self.begin_month()
        for group in self.ministerial_groups:
            group.step()
        gumbel = self.rng.gumbel(0.0, 1.0, size=3 * len(self.departments)).tolist()
        for k, department in enumerate(self.departments):  # each department's three draws
            department.step(gumbel[3 * k : 3 * k + 3])
        self.update_offer()
        self.levels += self.council_moves_now()
        self.update_peer_share()
        self._record()

    def run_to_end(self) -> None:
        """Run month by month up to the scenario's last month."""
        while self.month_index < self.end_index:
            self.step()

    def release(self) -> None:
        """Drop the agents, whose `model` points back here: without that reference cycle a
        finished run is freed at once, not at the next full garbage collection (a sweep
        worker would otherwise hold hundreds of dead runs between collections)."""
        self.departments = []
        self.ministerial_groups = []

    def series(self) -> dict[str, list]:
        """The recorded months: month, developing, share_developing, stance_<department>."""
        return self._series

    def _record(self) -> None:
        series = self._series
        count = self.count_developing
        series["month"].append(self.month)
        series["developing"].append(count)
        series["share_developing"].append(count / len(self.levels))
        for column, department in zip(self._stance_columns, self.departments, strict=True):
            series[column].append(STANCES[department.level])


class _Department(DepartmentRules):
    """A department as a plain object (the Mesa host's is an `Agent`)."""

    def __init__(self, model: Programme, **spec: Any) -> None:
        self.model = model
        self.setup_department(**spec)


class _Group(MinisterialRules):
    """A ministerial group as a plain object (the Mesa host's is an `Agent`)."""

    def __init__(self, model: Programme, name: str, role: str, active_from: int) -> None:
        self.model = model
        self.setup_group(name, role, active_from)


def mesa_rng(rng: Any) -> np.random.Generator:
    """The generator `mesa.Model(rng=rng)` makes, in the same state.

    Mesa seeds its stdlib `random` from an integer seed as given, or else from one draw of
    the generator (`rng.integers(2**31 - 1)`); that draw is made here too.
    """
    generator = np.random.default_rng(rng)
    if not isinstance(rng, (int, np.integer)):
        generator.integers(np.iinfo(np.int32).max)
    return generator
