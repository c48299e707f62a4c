"""`compare`: two scenarios on common seeds, their paired differences and what B's extra
authorities cost (docs/policy.md).

Seed i of A and of B is the same (`cbsim.policy.runs.common_seeds`), so the difference B - A
seed by seed removes the luck both share: the paired 95% interval (mean difference ±
t·sd/√n) is narrower than the unpaired one (Welch, as if the seeds were independent), which
is reported beside it for contrast. P(target met) is compared as the paired difference of
0/1 indicators. The cost per extra authority developing a community budget is the mean
difference in `central_cost_m_at_target` over the mean difference in `count_at_target`
(costs and count both judged at the target date), with a bootstrap interval over the seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cbsim.inputs.errors import InputError
from cbsim.inputs.scenario import Scenario, load_scenario, parse_set_options
from cbsim.model.simulate import simulate
from cbsim.policy.runs import (
    MAX_RUNS,
    Draw,
    common_seeds,
    draws_for,
    posterior_draw,
    run_on_seeds,
)
from cbsim.policy.stats import (
    Interval,
    paired_interval,
    ratio_of_mean_differences,
    unpaired_interval,
)

# outcome: label, in the order the comparison reports them
COMPARED = {
    "target_met": "P(target met)",
    "share_at_target": "share at the target date",
    "count_at_target": "authorities at the target date",
    "central_cost_m_at_target": "cost to the centre to the target date (£m)",
    "central_cost_m": "cost to the centre over the run (£m)",
}


@dataclass(frozen=True)
class Difference:
    """One outcome compared: means under A and B, and B - A paired and unpaired."""

    outcome: str
    label: str
    mean_a: float
    mean_b: float
    paired: Interval
    unpaired: Interval

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "outcome": self.outcome,
            "label": self.label,
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "paired": self.paired.as_dict(),
            "unpaired": self.unpaired.as_dict(),
        }


@dataclass(frozen=True)
class Comparison:
    """A finished comparison of scenario B against scenario A."""

    name_a: str
    name_b: str
    runs: int
    seed: int
    posterior: str | None
    differences: tuple[Difference, ...]
    cost_per_extra: Interval | None  # £m per extra authority at the target date; None: no extra
    rows: list[dict[str, Any]] = field(repr=False)

    def difference(self, outcome: str) -> Difference:
        """The comparison of one outcome."""
        return next(d for d in self.differences if d.outcome == outcome)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (what `--out` writes as compare_summary.json)."""
        return {
            "a": self.name_a,
            "b": self.name_b,
            "runs": self.runs,
            "seed": self.seed,
            "posterior": self.posterior,
            "seeds": "cbsim.inputs.experiment.run_seed(seed, i), i = 0 .. runs-1, for A and B",
            "differences": [d.as_dict() for d in self.differences],
            "cost_per_extra_authority_m": None
            if self.cost_per_extra is None
            else self.cost_per_extra.as_dict(),
        }


def compare(
    spec_a: Scenario,
    spec_b: Scenario,
    *,
    runs: int = 200,
    seed: int = 0,
    fixed_b: dict[str, Any] | None = None,
    draw: Draw | None = None,
    posterior: str | None = None,
    name_b: str | None = None,
) -> Comparison:
    """Run `spec_a` and `spec_b` on the same `runs` seeds (from `seed`) and compare them.

    `fixed_b` are values set on purpose for B (`--set`: they win over a parameter draw);
    `draw` gives each seed its parameters (the same for A and B); `posterior` names where the
    draw came from (for the summary).
    """
    if not 2 <= runs <= MAX_RUNS:
        raise InputError("--runs", None, f"must be between 2 and {MAX_RUNS:,}, got {runs}")
    seeds = common_seeds(seed, runs)
    draws = draws_for(seeds, draw)
    out_a = run_on_seeds(spec_a, seeds, draws)
    out_b = run_on_seeds(spec_b, seeds, draws, fixed_b)
    rows = _rows(seeds, out_a, out_b)
    differences = []
    for outcome, label in COMPARED.items():
        a, b = _column(rows, f"{outcome}_a"), _column(rows, f"{outcome}_b")
        differences.append(
            Difference(
                outcome,
                label,
                float(a.mean()),
                float(b.mean()),
                paired_interval(a, b),
                unpaired_interval(a, b),
            )
        )
    extra_cost = _column(rows, "central_cost_m_at_target_b") - _column(
        rows, "central_cost_m_at_target_a"
    )
    extra_count = _column(rows, "count_at_target_b") - _column(rows, "count_at_target_a")
    return Comparison(
        spec_a.name,
        name_b or spec_b.name,
        runs,
        seed,
        posterior,
        tuple(differences),
        ratio_of_mean_differences(extra_cost, extra_count, seed),
        rows,
    )


def compare_scenarios(
    a: str,
    b: str,
    sets: list[str],
    runs: int = 200,
    seed: int = 0,
    posterior: str | None = None,
) -> Comparison:
    """`cbsim compare A B`: scenarios by name or path, `--set PATH=VALUE` texts for B, and a
    posterior folder (or None); everything is checked before the first run."""
    spec_a = load_scenario(a)
    fixed = parse_set_options(sets)
    spec_b = load_scenario(b).with_overrides(fixed, source="--set")
    draw = posterior_draw(posterior)
    shown = ", ".join(f"{path}={value}" for path, value in fixed.items())
    return compare(
        spec_a,
        spec_b,
        runs=runs,
        seed=seed,
        fixed_b=fixed,
        draw=draw,
        posterior=posterior,
        name_b=spec_b.name + (f" with {shown}" if fixed else ""),
    )


def _rows(
    seeds: list[int], out_a: list[dict[str, Any]], out_b: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The per-seed table: run, seed, each compared outcome under A and B."""
    rows = []
    for i, (seed, a, b) in enumerate(zip(seeds, out_a, out_b, strict=True)):
        row: dict[str, Any] = {"run": i, "seed": seed}
        for outcome in COMPARED:
            row[f"{outcome}_a"] = _number(a[outcome])
            row[f"{outcome}_b"] = _number(b[outcome])
        rows.append(row)
    return rows


def _number(value: Any) -> float:
    """An outcome as a number (a bool as 0/1)."""
    return float(value)


def _column(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([row[key] for row in rows], dtype=float)


def cost_per_extra_authority(
    outcomes_b: dict[str, Any], outcomes_a: dict[str, Any]
) -> tuple[int, float, float | None]:
    """One seed's (extra authorities at the target date, extra cost to it (£m), £m per
    extra authority or None when B adds none): B's run against A's on the same seed."""
    extra = int(outcomes_b["count_at_target"]) - int(outcomes_a["count_at_target"])
    cost = float(outcomes_b["central_cost_m_at_target"]) - float(
        outcomes_a["central_cost_m_at_target"]
    )
    return extra, cost, (cost / extra if extra > 0 else None)


def against_line(outcomes: dict[str, Any], against: Scenario, seed: int) -> str:
    """`cbsim run --against`: `against` run on the same seed, and what the run's extra
    authorities at the target date cost (one seed: `compare` gives an interval)."""
    extra, cost, ratio = cost_per_extra_authority(outcomes, simulate(against, seed=seed))
    per = f"£{ratio:.2f}m per extra authority" if ratio is not None else "no extra authority"
    return (
        f"against {against.name} (seed {seed}): {extra:+d} authorities at "
        f"{outcomes['target_date']}, {cost:+.1f} £m to the target date: {per} "
        "(one seed; cbsim compare gives an interval)"
    )
