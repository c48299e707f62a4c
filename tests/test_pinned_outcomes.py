"""Pinned outcomes: a fixed set of seeded runs must give exactly the recorded results.

Guards every refactoring and optimisation of the model: same scenario + seed + overrides
-> the same outcomes, monthly series, action log, peer network and final council states.
The records live in `tests/data/pinned_outcomes.json`. Regenerate them ONLY for an
intended change of behaviour (and say so in the commit):

    .venv/bin/python tests/test_pinned_outcomes.py --write
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from cbsim import CommunityBudgetModel, load_scenario, simulate

DATA = Path(__file__).parent / "data" / "pinned_outcomes.json"
SCENARIOS = (
    "baseline_2011",
    "compelling_offer",
    "dwp_engages",
    "our_place_2013",
    "troubled_families_2012",
)
SEEDS = (0, 1, 7, 42, 2011)
OVERRIDE_RUNS: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("baseline_2011", 3, {"offer.funding_boost_m": 1.0}),
    ("baseline_2011", 5, {"offer.champions_network": True}),
    (
        "baseline_2011",
        11,
        {
            "offer.national_pooling": True,
            "offer.reinvest_savings": True,
            "departments.DWP.stance": "align",
        },
    ),
    (
        "baseline_2011",
        13,
        {
            "ministerial.sweeteners": ["champions_network", "funding_boost"],
            "timeline.end": "2014-03",
        },
    ),
    ("dwp_engages", 17, {"council.peer_weight_m": 4.0, "network.champion_links": 4}),
)
# Full traces (series, log, network, councils) for a few runs, with one mid-run change.
TRACE_RUNS: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("baseline_2011", 1, {}),
    ("compelling_offer", 2, {}),
    ("our_place_2013", 3, {"offer.champions_network": True}),
    OVERRIDE_RUNS[3],
)
SET_PARAMETER_RUN = (
    "baseline_2011",
    4,
    6,
    {"offer.champions_network": True, "offer.funding_boost_m": 0.8},
)


def _key(scenario: str, seed: int, overrides: dict[str, Any]) -> str:
    return f"{scenario}|{seed}|{json.dumps(overrides, sort_keys=True)}"


def _trace(model: CommunityBudgetModel) -> dict[str, Any]:
    edges = sorted(
        (int(min(a, b)), int(max(a, b)), d["kind"])
        for a, b, d in model.network.graph.edges(data=True)
    )
    return {
        "outcomes": model.outcomes(),
        "timeseries": model.timeseries().to_dict(orient="list"),
        "action_log": model.action_log,
        "network_sha256": hashlib.sha256(json.dumps(edges).encode()).hexdigest(),
        "council_levels": [c.level for c in model.council_list],
        "council_thresholds": [c.threshold_m for c in model.council_list],
        "council_capacities": [c.capacity for c in model.council_list],
        "departments": {
            d.name: [d.level, d.pressure, d.pooled_m, d.aligned_m] for d in model.departments
        },
    }


def _run_trace(scenario: str, seed: int, overrides: dict[str, Any]) -> dict[str, Any]:
    model = CommunityBudgetModel(scenario=scenario, rng=seed, **overrides)
    model.run_to_end()
    return _trace(model)


def _run_set_parameter() -> dict[str, Any]:
    scenario, seed, after, changes = SET_PARAMETER_RUN
    model = CommunityBudgetModel(scenario=scenario, rng=seed)
    model.run_for(after)
    for path, value in changes.items():
        model.set_parameter(path, value)
    model.run_to_end()
    return _trace(model)


def compute() -> dict[str, Any]:
    """Every pinned record, computed by the current code."""
    outcomes = {}
    for name in SCENARIOS:
        spec = load_scenario(name)
        for seed in SEEDS:
            outcomes[_key(name, seed, {})] = simulate(spec, seed=seed)
    for name, seed, overrides in OVERRIDE_RUNS:
        outcomes[_key(name, seed, overrides)] = simulate(name, seed=seed, **overrides)
    traces = {_key(*run): _run_trace(*run) for run in TRACE_RUNS}
    traces["set_parameter"] = _run_set_parameter()
    return {"outcomes": outcomes, "traces": traces}


def _same(a: Any, b: Any, where: str) -> None:
    """Equal, floats to 1e-12 (room for a changed summation order, nothing more)."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def pinned() -> dict[str, Any]:
    return json.loads(DATA.read_text("utf-8"))


@pytest.fixture(scope="module")
def current() -> dict[str, Any]:
    # Through JSON so that tuples/numpy scalars compare as the stored records do.
    return json.loads(json.dumps(compute()))


def test_pinned_outcomes_of_every_scenario_and_seed(pinned, current):
    assert len(current["outcomes"]) == len(SCENARIOS) * len(SEEDS) + len(OVERRIDE_RUNS)
    _same(current["outcomes"], pinned["outcomes"], "outcomes")


@pytest.mark.parametrize("key", [_key(*run) for run in TRACE_RUNS] + ["set_parameter"])
def test_pinned_traces(pinned, current, key):
    _same(current["traces"][key], pinned["traces"][key], key)


def test_pinned_runs_differ_between_seeds(pinned):
    """The pins are not vacuous: seeds and scenarios give different outcomes."""
    baseline = [pinned["outcomes"][_key("baseline_2011", s, {})] for s in SEEDS]
    assert len({json.dumps(o, sort_keys=True) for o in baseline}) == len(SEEDS)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_pinned_outcomes.py --write")
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n", "utf-8")
    print(f"wrote {DATA}")
