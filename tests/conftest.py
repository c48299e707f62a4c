"""Shared fixtures: many-seed ensembles of the shipped scenarios, computed once per session."""

from __future__ import annotations

import pytest

from cbsim import CommunityBudgetModel, load_scenario

SEEDS = range(200)


def run(scenario, seed, **overrides) -> CommunityBudgetModel:
    """A finished run of `scenario` with `seed`."""
    model = CommunityBudgetModel(scenario=scenario, rng=seed, **overrides)
    model.run_to_end()
    return model


@pytest.fixture(scope="session")
def ensemble():
    """Finished runs per shipped scenario name, 200 seeds each (built lazily, then cached)."""
    cache: dict[str, list] = {}

    def get(name: str) -> list:
        if name not in cache:
            spec = load_scenario(name)
            cache[name] = [(seed, run(spec, seed)) for seed in SEEDS]
        return cache[name]

    return get
