"""The calibration problem as pyabc sees it: a model that runs the targets' scenarios for one
particle, and the distance of its result from history.

Each particle's runs have seeds derived from the calibration's seed and the particle's own
parameter values (`particle_seeds`), so one particle gives the same result wherever and
whenever it is evaluated; the scenarios of one particle share these seeds (common random
numbers). Targets on the same scenario share its runs: a scenario is run as many times as its
most demanding target asks, and each target averages over its own first `runs` of them.

Distance (`TargetDistance`): the sum over the fitted targets of the squared scaled deviation
`Target.deviation` — ((value - observed) / scale)^2 for an observed value; for bounds 0 inside
[min, max] and (distance to the nearer bound / scale)^2 outside.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cbsim.inputs.calibration import Calibration, Target, load_calibration
from cbsim.inputs.scenario import Scenario
from cbsim.model.simulate import simulate


def sample_outcomes(scenario: Scenario) -> dict[str, Any]:
    """One run's outcomes (seed 0), against which a calibration's targets are checked."""
    return simulate(scenario, seed=0)


def load(name_or_path: str | os.PathLike[str] | Calibration) -> Calibration:
    """Load and validate a calibration file by name or path (a Calibration is returned as it
    is); every problem is one InputError naming the file and the field."""
    if isinstance(name_or_path, Calibration):
        return name_or_path
    return load_calibration(name_or_path, sample_outcomes)


def particle_seeds(seed: int, values: Sequence[float], n: int) -> list[int]:
    """`n` run seeds (below 2**63) for the particle with parameter `values`: from
    `SeedSequence([seed, *bits of each value])`, so equal particles get equal seeds."""
    bits = [int(np.float64(v).view(np.uint64)) for v in values]
    state = np.random.SeedSequence([seed, *bits]).generate_state(n, dtype=np.uint64)
    return [int(s >> np.uint64(1)) for s in state]


@dataclass(frozen=True)
class ScenarioRuns:
    """One scenario, how many runs a particle makes of it, and the targets read from them."""

    scenario: Scenario
    runs: int
    targets: tuple[Target, ...]


class TargetModel:
    """The pyabc model: a particle's parameters -> {target name: mean over its runs}.

    A plain object of data (scenarios and targets), so pyabc's samplers can fork or pickle it.
    """

    def __init__(self, calibration: Calibration, targets: Sequence[Target]) -> None:
        self.seed = calibration.seed
        self.paths = tuple(calibration.paths)
        groups: dict[Any, list[Target]] = {}
        for target in targets:
            groups.setdefault(target.scenario_path, []).append(target)
        self.groups = tuple(
            ScenarioRuns(calibration.scenarios[path], max(t.runs for t in ts), tuple(ts))
            for path, ts in groups.items()
        )
        self.runs = max((g.runs for g in self.groups), default=0)

    @property
    def simulations(self) -> int:
        """Runs of `simulate` per particle."""
        return sum(g.runs for g in self.groups)

    def __call__(self, parameters: Mapping[str, Any]) -> dict[str, float]:
        """The targets' values for one particle, on the particle's own seeds."""
        values = {p: float(parameters[p]) for p in self.paths}
        return self.evaluate(values, particle_seeds(self.seed, list(values.values()), self.runs))

    def evaluate(self, values: Mapping[str, float], seeds: Sequence[int]) -> dict[str, float]:
        """The targets' values with parameter `values`, each scenario run on `seeds`."""
        result: dict[str, float] = {}
        for group in self.groups:
            sums = dict.fromkeys((t.name for t in group.targets), 0.0)
            for run in range(group.runs):
                outcomes = simulate(group.scenario, seed=seeds[run], **values)
                for target in group.targets:
                    if run < target.runs:
                        sums[target.name] += target.value(outcomes)
            for target in group.targets:
                result[target.name] = sums[target.name] / target.runs
        return result


class TargetDistance:
    """The pyabc distance: the sum of the fitted targets' squared scaled deviations."""

    def __init__(self, targets: Sequence[Target]) -> None:
        self.targets = tuple(targets)

    def __call__(self, x: Mapping[str, float], x_0: Any = None) -> float:
        """Distance of a particle's target values `x` from history (`x_0` is not used: what
        history says is in the targets themselves)."""
        return float(sum(t.deviation(float(x[t.name])) ** 2 for t in self.targets))
