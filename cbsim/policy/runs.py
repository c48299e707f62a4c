"""Runs on common seeds, shared by `compare` and `search`.

The seed of run i is `cbsim.inputs.experiment.run_seed(master, i)` (as a sweep's), so two
scenarios, or two candidate packages, run on the same seeds see the same councils' thresholds,
capacities, network and monthly draws (common random numbers): their difference is the
incentive's effect, not luck.

A *parameter draw* (`Draw`, e.g. `Posterior.draw` of a calibrated posterior, loaded by the
CLI) gives each seed its own model parameters: run i uses ``draw(seed_i)``, the same values
for every scenario or candidate run on that seed. Values a caller fixes on purpose (`--set`,
a candidate's levers) win over the draw's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cbsim.inputs.errors import CbsimError
from cbsim.inputs.experiment import run_seed
from cbsim.inputs.scenario import Scenario
from cbsim.model.simulate import simulate

Draw = Callable[[int], dict[str, Any]]
MAX_RUNS = 1_000_000


def common_seeds(master: int, runs: int, first: int = 0) -> list[int]:
    """Seeds of runs `first` .. `first + runs - 1` derived from `master`."""
    return [run_seed(master, i) for i in range(first, first + runs)]


def draws_for(seeds: Sequence[int], draw: Draw | None) -> list[dict[str, Any]]:
    """Each seed's parameter draw (empty without a draw)."""
    return [dict(draw(seed)) if draw is not None else {} for seed in seeds]


def run_on_seeds(
    spec: Scenario,
    seeds: Sequence[int],
    draws: Sequence[dict[str, Any]],
    fixed: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """`simulate(spec)` on each seed with its draw, `fixed` values winning over the draw's."""
    fixed = fixed or {}
    results = []
    for seed, drawn in zip(seeds, draws, strict=True):
        overrides = {**{k: v for k, v in drawn.items() if k not in fixed}, **fixed}
        results.append(simulate(spec, seed=seed, **overrides))
    return results


def posterior_draw(folder: str | None) -> Draw | None:
    """The draw of the calibrated posterior in `folder` (`Posterior.load(folder).draw`, checked
    now: a bad folder is one line before any run), or None without a folder."""
    if folder is None:
        return None
    try:
        from cbsim.calibrate.posterior import Posterior
    except ImportError:
        raise CbsimError("--posterior: not available yet (no cbsim.calibrate.posterior)") from None
    return Posterior.load(folder).draw
