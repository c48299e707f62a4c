"""What a sweep's workers run: the design points' base scenarios by name, and whether each
run keeps its monthly series.

An engine is handed either a plain `Scenario` (one base scenario, no series: the path every
sweep took before scenario factors and series, unchanged) or a `Workload`. The scenarios are
loaded once, in the sweep's process, and reach each worker once (a forked pool worker shares
them; a Dask batch carries them, a few kB each). A run's overrides may name its base
scenario under ``scenario`` (the scenario factor's value); the rest are parameter values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cbsim.inputs.factors import SCENARIO_FACTOR
from cbsim.inputs.scenario import Scenario
from cbsim.sweep.monthly import simulate_monthly


@dataclass(frozen=True)
class Workload:
    """The base scenarios by name (`default` when a run names none), and `series`."""

    scenarios: dict[str, Scenario]
    default: str
    series: bool = False

    def run(
        self, seed: int, overrides: dict[str, Any], simulate: Callable[..., dict[str, Any]]
    ) -> dict[str, Any]:
        """One run's outcomes (with its monthly record when `series`); `simulate` is the
        engine's `simulate` (tests replace it to inject faults)."""
        scenario, values = self.split(overrides)
        if self.series:
            return simulate_monthly(scenario, seed, values)
        return simulate(scenario, seed=seed, **values)

    def split(self, overrides: dict[str, Any]) -> tuple[Scenario, dict[str, Any]]:
        """A run's base scenario and its parameter overrides."""
        if SCENARIO_FACTOR not in overrides:
            return self.scenarios[self.default], overrides
        values = dict(overrides)
        return self.scenarios[values.pop(SCENARIO_FACTOR)], values


Work = Scenario | Workload  # what an engine is handed


def workload(scenarios: dict[str, Scenario], default: str, series: bool) -> Work:
    """The engines' work: the plain scenario when there is one and no series, else a
    `Workload`."""
    if len(scenarios) == 1 and not series:
        return scenarios[default]
    return Workload(scenarios, default, series)
