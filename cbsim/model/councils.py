"""What makes councils differ: need, capacity and history, from their 2011 attributes.

Internal determinants in Berry & Berry's sense (docs/ODD.md §7), each a stated mechanism:

- **Need** sets the size of the prize. A council's families with multiple problems are
  estimated as the national total shared in proportion to population x deprivation score
  (a proportional indicator chosen a priori, not fitted: docs/ODD.md checks it against the
  seven published council figures). Money on offer and the savings a council can make scale
  with its share of families (`size`, 1 for the average council).
- **Capacity** to act grows with population: a council's capacity mixes its population rank
  with an idiosyncratic draw (`council.capacity_size_weight`).
- **History**: councils that ran a Total Place pilot (2009-10) had already mapped their
  area's spend, so setting up a community budget costs them less
  (`council.total_place_discount`).

No Mesa, pandas or scipy here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from cbsim.inputs.reference import Authority


@cache
def need_weights(source: tuple[Authority, ...]) -> np.ndarray:
    """Each council's population x deprivation score (missing scores: its region's
    population-weighted mean), the weight by which families are shared out."""
    population = np.array([a.population for a in source], dtype=float)
    score = np.array([np.nan if a.deprivation is None else a.deprivation for a in source])
    regions = np.array([a.region for a in source])
    for region in set(regions[np.isnan(score)]):
        known = (regions == region) & ~np.isnan(score)
        missing = (regions == region) & np.isnan(score)
        score[missing] = np.average(score[known], weights=population[known])
    weights = population * score
    weights.setflags(write=False)
    return weights


def estimated_families(source: tuple[Authority, ...], families_total: float) -> np.ndarray:
    """Families with multiple problems per council: the total shared by need weight.

    With copies of the authorities (scale benchmarks), each copy has the same share of its own
    copy of the total, so a council's estimate does not depend on the number of copies.
    """
    weights = need_weights(source)
    copies = max(1, len(source) // len(set(a.name.split(" #")[0] for a in source)))
    return families_total * copies * weights / weights.sum()


def population_rank(source: Sequence[Authority]) -> np.ndarray:
    """Each council's population as a rank between 0 (smallest) and 1 (largest)."""
    population = np.array([a.population for a in source], dtype=float)
    order = population.argsort(kind="stable").argsort(kind="stable")
    return order / max(1, len(source) - 1)


def capacities(source: Sequence[Authority], draws: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """Capacity to act, in [capacity_min, 1]: population rank mixed with the uniform `draws`."""
    weight = p["council.capacity_size_weight"]
    mix = weight * population_rank(source) + (1.0 - weight) * draws
    low = p["council.capacity_min"]
    return low + (1.0 - low) * mix


def setup_costs(source: Sequence[Authority], p: dict[str, Any]) -> np.ndarray:
    """Yearly cost of running a community budget (£m/yr), lower after Total Place."""
    total_place = np.array([a.total_place for a in source], dtype=bool)
    return p["council.setup_cost_m"] * np.where(
        total_place, 1.0 - p["council.total_place_discount"], 1.0
    )


def results_payment_per_family_k(p: dict[str, Any]) -> float:
    """Expected payment-by-results money per family worked with (£k): the attachment fee
    plus the results payment times the chance of results."""
    return p["pbr.attachment_fee_k"] + p["pbr.results_payment_k"] * p["pbr.results_chance"]


def pbr_income_m(families: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """A council's expected payment-by-results income (£m/yr): the families the offer covers,
    worked with over the programme's years, times the expected payment per family."""
    covered = families * p["pbr.coverage"]
    return covered * results_payment_per_family_k(p) / (1000.0 * p["pbr.years"])
