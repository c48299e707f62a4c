"""What the report's averages are taken over, and the required level of P it measures against.

An average over all runs of a sweep is an average over the design: the factors' ranges or
levels chosen, how the sampler spreads points over them, the replicates, and whatever the
parameters not varied were (the base scenario's values, or draws from a posterior).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

from cbsim.analysis.text import factor_text, value_text
from cbsim.inputs.factors import SCENARIO_FACTOR
from cbsim.sweep.manifest import Manifest

REQUIRED_P_DEFAULT = 0.9
SPREAD = {  # sampler method: how its design points spread over the factors' ranges
    "grid": "every combination of the factors' levels, each once",
    "lhs": "a Latin hypercube: an even sample of the factors' ranges",
    "saltelli": "a Saltelli (Sobol' sequence) design: a near-even sample of the factors' ranges",
    "morris": "Morris trajectories on a grid of levels over the factors' ranges: not an even "
    "sample of them, so read this average with care",
}


def required_level(manifest: Manifest, given: float | None = None) -> tuple[float, str]:
    """The P the report measures against, and where it came from (in words)."""
    if given is not None:
        return float(given), "as asked for"
    recorded: Any = manifest.extra.get("required_p")
    if (
        isinstance(recorded, Real)
        and not isinstance(recorded, bool)
        and 0 < float(recorded) < 1
        and not math.isnan(float(recorded))
    ):
        return float(recorded), "recorded in the sweep's manifest"
    return REQUIRED_P_DEFAULT, "the default: the sweep records no required level"


def parameters_text(manifest: Manifest) -> str:
    """Where the parameters that are not factors come from."""
    exp = manifest.experiment
    fixed = ""
    if exp.overrides:
        fixed = (
            " (with "
            + ", ".join(f"`{p}` = {value_text(v)}" for p, v in exp.overrides.items())
            + ")"
        )
    base = f"the base scenario `{manifest.scenario.name}`'s"
    if any(f.get("path") == SCENARIO_FACTOR for f in exp.factors):
        base = "each design point's scenario's"
    posterior = manifest.extra.get("posterior")
    if isinstance(posterior, dict) and posterior.get("folder"):
        digest = str(posterior.get("sha256", ""))[:12]
        return (
            f"every other parameter at {base} "
            f"values{fixed}, the calibrated ones drawn for each run from the posterior in "
            f"`{posterior['folder']}`" + (f" (sha256 {digest}…)" if digest else "")
        )
    return f"every other parameter at {base} values{fixed}; no posterior was used (point values)"


def averaged_over(manifest: Manifest, runs: int, finished: int | None = None) -> str:
    """A sentence: what an average over all of the sweep's `runs` successful runs is taken
    over (`finished`: the runs in the folder, failed or not, when fewer than planned)."""
    exp = manifest.experiment
    spread = SPREAD.get(exp.method, f"the {exp.method} design")
    planned = manifest.runs.planned
    points = f"{manifest.design_points:,} design point{'s' if manifest.design_points != 1 else ''}"
    design = (
        f"{exp.replicates} replicate seed{'s' if exp.replicates != 1 else ''} at each of "
        f"{points}, {spread}"
    )
    if finished is not None and finished < planned:
        head = (
            f"{runs:,} runs ({finished:,} of {planned:,} planned runs finished: the sweep "
            f"is incomplete, so some design points have fewer than {exp.replicates} runs, "
            f"or none); the design plans {design}"
        )
    else:
        head = f"{runs:,} runs: {design}"
    return (
        f"**What this is an average over.** {head}; factors: "
        + "; ".join(factor_text(f) for f in exp.factors)
        + f"; {parameters_text(manifest)}. It is the average over this design, not a "
        "forecast: other ranges or levels would give another value."
    )
