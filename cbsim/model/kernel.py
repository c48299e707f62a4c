"""The model without Mesa: the same rules on plain objects and arrays, for sweeps.

`Programme` runs `cbsim.model.rules` exactly as `CommunityBudgetModel` does (construction and
the month are `ProgrammeRules.build_programme` and `ProgrammeRules.step`; this module supplies
only the hooks of `cbsim.model.host.HostHooks`), so the same random draws are made in the same
order and a scenario and seed give identical outcomes on either host
(`tests/test_kernel.py` checks this over many scenarios, seeds and parameter values). It
skips what only the Mesa host needs (agent registries, a space, a DataCollector table) and
imports no Mesa, pandas or scipy, so a sweep worker starts small and each run is cheap.
`simulate` uses it; the workshop view and `cbsim run` use the Mesa model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from cbsim.inputs.reference import STANCES, department_names
from cbsim.inputs.scenario import Scenario
from cbsim.model.host import DepartmentSpec
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
        self._stance_columns = [f"stance_{name}" for name in department_names()]
        self._series: dict[str, list] = {
            "month": [],
            "developing": [],
            "share_developing": [],
            "pbr_signed": [],
            **{column: [] for column in self._stance_columns},
        }
        self.build_programme(scenario, copies, overrides)

    def run_to_end(self, after_month: Callable[[Programme], None] | None = None) -> None:
        """Run month by month up to the scenario's last month; `after_month(self)` after
        each step, when given (a sweep keeping monthly series reads the month there)."""
        while self.month_index < self.end_index:
            self.step()
            if after_month is not None:
                after_month(self)

    def release(self) -> None:
        """Drop the agents, whose `model` points back here: without that reference cycle a
        finished run is freed at once, not at the next full garbage collection (a sweep
        worker would otherwise hold hundreds of dead runs between collections)."""
        self.departments = []
        self.ministerial_groups = []

    # ------------------------------------------------------------- the hooks
    def place_councils(self, levels: np.ndarray) -> None:
        """The councils are their levels: an array of their states."""
        self.levels = levels.copy()

    def add_department(self, spec: DepartmentSpec) -> DepartmentRules:
        """A department as a plain object."""
        return _Department(self, spec)

    def add_group(self, name: str, role: str, active_from: int) -> MinisterialRules:
        """A ministerial group as a plain object."""
        return _Group(self, name, role, active_from)

    def apply_council_moves(self, moves: np.ndarray) -> None:
        """Each council that moves goes one state on."""
        self.levels += moves

    def record_month(self) -> None:
        """Append the month to the series (only the columns `outcomes` reads)."""
        series = self._series
        count = self.count_developing
        series["month"].append(self.month)
        series["developing"].append(count)
        series["share_developing"].append(count / len(self.levels))
        series["pbr_signed"].append(self.count_pbr_signed)
        for column, department in zip(self._stance_columns, self.departments, strict=True):
            series[column].append(STANCES[department.level])

    def series(self) -> dict[str, list]:
        """The recorded months: month, developing, share_developing, stance_<department>."""
        return self._series


class _Department(DepartmentRules):
    """A department as a plain object (the Mesa host's is an `Agent`)."""

    def __init__(self, model: Programme, spec: DepartmentSpec) -> None:
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
