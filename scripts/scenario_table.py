"""Print each shipped scenario's results over many seeds, and the funding-boost ladder.

Usage: .venv/bin/python scripts/scenario_table.py [SEEDS]   (default 200 seeds)
The README's scenario table and docs/ODD.md's calibration figures come from this script.
"""

from __future__ import annotations

import sys

import numpy as np

from cbsim import CommunityBudgetModel, load_scenario, simulate
from cbsim.inputs.scenario import available_scenarios


def main(seeds: int = 200) -> None:
    print(
        f"{'scenario':<24} {'P(target met)':>13} {'share at target':>16} "
        f"{'final share':>11} {'runs with cash':>14}"
    )
    for spec in available_scenarios():
        outcomes = []
        for seed in range(seeds):
            model = CommunityBudgetModel(scenario=spec, rng=seed)
            model.run_to_end()
            outcomes.append(model.outcomes())
        met = np.mean([o["target_met"] for o in outcomes])
        share = np.mean([o["share_at_target"] for o in outcomes])
        final = np.mean([o["final_share"] for o in outcomes])
        cash = np.mean([o["pooled_m_total"] > 0 for o in outcomes])
        print(f"{spec.name:<24} {met:>13.2f} {share:>16.1%} {final:>11.1%} {cash:>14.0%}")
    base = load_scenario("baseline_2011")
    print(f"\nbaseline_2011 with a funding boost (mean share at 2012-04, {seeds} seeds):")
    for boost in (0.0, 0.5, 1.0, 2.0, 4.0):
        shares = [
            simulate(base, seed=s, **{"offer.funding_boost_m": boost})["share_at_target"]
            for s in range(seeds)
        ]
        print(f"  offer.funding_boost_m = {boost:>3} £m/yr per council: {np.mean(shares):.1%}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
