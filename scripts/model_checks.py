"""Print the figures docs/ODD.md quotes: the patterns, the council differences, the families
estimate and every mechanism's paired effect.

    .venv/bin/python scripts/model_checks.py          # about a minute on 2 cores
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_mechanisms import MECHANISMS, join_rates, paired  # noqa: E402

from cbsim import simulate  # noqa: E402
from cbsim.inputs.reference import authorities  # noqa: E402
from cbsim.model.kernel import Programme  # noqa: E402

SEEDS = range(200)
PUBLISHED = {
    "Birmingham": 4180,
    "Lancashire": 2630,
    "Sheffield": 1680,
    "Cornwall": 1270,
    "Wakefield": 930,
    "Somerset": 870,
    "Leicestershire": 810,
}


def patterns() -> None:
    print("Patterns over 200 seeds (mean, or share of seeds):")
    base = [simulate("baseline_2011", seed=s) for s in SEEDS]
    print(
        f"  baseline: P(target met) {np.mean([o['target_met'] for o in base]):.2f}, "
        f"share at 2012-04 {np.mean([o['share_at_target'] for o in base]):.3f}, "
        f"seeds with cash by 2012-04 "
        f"{np.mean([(o['first_cash_month'] or '9999') <= '2012-04' for o in base]):.2f}, "
        f"seeds with DWP money aligned {np.mean([o['aligned_m_DWP'] > 0 for o in base]):.2f}, "
        f"pooled {np.mean([o['pooled_m_DWP'] > 0 for o in base]):.2f}"
    )
    tf = [simulate("troubled_families_2012", seed=s) for s in SEEDS]
    signed = np.mean([o["pbr_share_at_check"] for o in tf])
    print(
        f"  troubled families: signed up by 2012-06 {signed:.3f}"
        f" (>= 95% in {np.mean([o['pbr_share_at_check'] >= 0.95 for o in tf]):.2f} of seeds); "
        f"P(community budget target met) {np.mean([o['target_met'] for o in tf]):.2f}"
    )
    co = [simulate("compelling_offer", seed=s) for s in SEEDS]
    print(f"  compelling offer: P(target met) {np.mean([o['target_met'] for o in co]):.2f}")


def council_differences() -> None:
    print("Join rates of non-pilot councils over 200 baseline seeds, top vs bottom quartile:")
    rates = join_rates(SEEDS)
    source = authorities()
    others = np.array([not a.pilot_area for a in source])
    run = Programme("baseline_2011", rng=0)
    columns = {
        "families in need (estimate)": run.council_families,
        "deprivation score": np.array(
            [np.nan if a.deprivation is None else a.deprivation for a in source]
        ),
        "population": np.array([a.population for a in source], dtype=float),
    }
    for label, values in columns.items():
        low, high = np.nanquantile(values[others], [0.25, 0.75])
        print(
            f"  {label:28s} top {rates[others & (values >= high)].mean():.3f}  "
            f"bottom {rates[others & (values <= low)].mean():.3f}"
        )
    total_place = np.array([a.total_place for a in source])
    print(
        f"  Total Place (non-pilots)     yes {rates[others & total_place].mean():.3f}  "
        f"no {rates[others & ~total_place].mean():.3f}  (15 councils: see the paired test)"
    )


def families_estimate() -> None:
    print("Families estimate (population x deprivation, 120,000 shared) against published:")
    run = Programme("baseline_2011", rng=0)
    names = [a.name for a in authorities()]
    for name, figure in PUBLISHED.items():
        estimate = run.council_families[names.index(name)]
        print(f"  {name:15s} {estimate:7.0f} vs {figure:5d}  ({estimate / figure - 1:+.1%})")


def mechanisms() -> None:
    print("Mechanisms, 100 paired seeds (with minus without; mean, standard error):")
    for name, (scenario, outcome, without, with_) in MECHANISMS.items():
        diff = paired(scenario, outcome, without, with_)
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        print(f"  {name:48s} {outcome:18s} {diff.mean():+9.3f} ± {se:.3f}")


if __name__ == "__main__":
    patterns()
    council_differences()
    families_estimate()
    mechanisms()
