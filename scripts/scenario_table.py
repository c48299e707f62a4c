"""Print each shipped scenario's results over many seeds, and the funding-boost ladder.

Usage: .venv/bin/python scripts/scenario_table.py [SEEDS] [POSTERIOR_DIR]   (default 200 seeds)
With a posterior folder (`cbsim calibrate history --out DIR`), run i takes its calibrated
parameters from the posterior, drawn by weight with seed i: the figures then carry the
calibration's uncertainty as well as the seeds'.
The README's scenario table comes from this script. Each headline scenario says what it is
to the model (docs/ODD.md §1): a calibration target (history the calibrated values were set to
reproduce), validation (history not used for setting anything) or a projection.
"""

from __future__ import annotations

import sys

import numpy as np

from cbsim import load_scenario, simulate
from cbsim.analysis.statistics import wilson_interval
from cbsim.calibrate.posterior import Posterior, load_posterior

HEADLINE = {
    "baseline_2011": "calibration target: target missed, no cash, ESF aligned",
    "troubled_families_2012": "calibration target: >= 95% signed up by 2012-06",
    "compelling_offer": "projection",
    "dwp_engages": "projection",
}
EXPLORATORY = {"our_place_2013": "exploratory: a neighbourhood programme, no council target"}


POSTERIOR: Posterior | None = None


def runs(name: str, seeds: int, **overrides: object) -> list[dict]:
    """Outcomes of `name` on seeds 0..seeds-1 (parameters from the posterior if one is set)."""
    draw = (lambda s: {}) if POSTERIOR is None else POSTERIOR.draw
    return [simulate(name, seed=s, **{**draw(s), **overrides}) for s in range(seeds)]


def row(name: str, seeds: int, judged: bool = True) -> str:
    outcomes = runs(name, seeds)
    met = sum(bool(o["target_met"]) for o in outcomes)
    low, high = wilson_interval(met, seeds)
    share = np.mean([o["share_at_target"] for o in outcomes])
    cash = np.mean([o["pooled_m_total"] > 0 for o in outcomes])
    signed = np.mean([o["pbr_share_at_check"] or 0.0 for o in outcomes])
    p = f"{met / seeds:.2f} [{low:.2f}, {high:.2f}]" if judged else "n/a"
    return f"{name:<24} {p:>18} {share:>9.1%} {cash:>10.0%} {signed:>11.1%}"


def main(seeds: int = 200) -> None:
    header = (
        f"{'scenario':<24} {'P(target met) 95%':>18} {'share':>9} {'with cash':>10} "
        f"{'PbR signed':>11}"
    )
    source = "point values" if POSTERIOR is None else f"the posterior in {POSTERIOR.folder}"
    print(f"{seeds} seeds each, parameters from {source};")
    print("share = mean share developing a CB at the target date;")
    print("PbR signed = mean share in the payment-by-results programme at 2012-06\n")
    print(header)
    for name, role in HEADLINE.items():
        print(f"{row(name, seeds)}   {role}")
    print()
    for name, role in EXPLORATORY.items():
        print(f"{row(name, seeds, judged=False)}   {role}")
    base = load_scenario("baseline_2011")
    print(f"\nbaseline_2011 with a funding boost ({seeds} seeds):")
    for boost in (0.0, 0.5, 1.0, 2.0, 4.0):
        outcomes = runs(base.name, seeds, **{"offer.funding_boost_m": boost})
        met = sum(bool(o["target_met"]) for o in outcomes)
        low, high = wilson_interval(met, seeds)
        share = np.mean([o["share_at_target"] for o in outcomes])
        print(
            f"  offer.funding_boost_m = {boost:>3} £m/yr per council: mean share {share:.1%}, "
            f"P(target met) {met / seeds:.2f} [{low:.2f}, {high:.2f}]"
        )


if __name__ == "__main__":
    if len(sys.argv) > 2:
        POSTERIOR = load_posterior(sys.argv[2])
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
