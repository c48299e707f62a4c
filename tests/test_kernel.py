"""The Mesa-free kernel (`cbsim.model.kernel.Programme`, behind `simulate`) is the Mesa model.

Both hosts run `cbsim.model.rules`; these tests check that they also make the same draws in the
same order and record the same months: identical outcomes, action logs, monthly series and
generator state, for every shipped scenario, many seeds and random parameter values drawn
across the declared ranges (levers switched, departments' stances, timelines, networks).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cbsim.inputs.months import format_month, parse_month
from cbsim.inputs.parameters import declared
from cbsim.inputs.reference import STANCES, department_names
from cbsim.inputs.scenario import available_scenarios, load_scenario
from cbsim.model.kernel import Programme, mesa_rng
from cbsim.model.model import CommunityBudgetModel
from cbsim.model.simulate import simulate

SCENARIOS = [s.name for s in available_scenarios()]


def both(scenario, seed, **overrides) -> tuple[CommunityBudgetModel, Programme]:
    model = CommunityBudgetModel(scenario, rng=seed, **overrides)
    kernel = Programme(scenario, rng=seed, **overrides)
    model.run_to_end()
    kernel.run_to_end()
    return model, kernel


def assert_same_run(model: CommunityBudgetModel, kernel: Programme) -> None:
    assert kernel.outcomes() == model.outcomes()
    assert kernel.action_log == model.action_log
    assert kernel.levels.tolist() == model.levels.tolist()
    for column, values in kernel.series().items():
        assert values == model.series()[column], column
    assert np.array_equal(kernel.peer_share, model.peer_share)
    assert kernel.rng.bit_generator.state == model.rng.bit_generator.state


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_gives_identical_runs_on_both_hosts(scenario):
    for seed in range(12):
        assert_same_run(*both(scenario, seed))


def random_overrides(rng: np.random.Generator, base: dict) -> dict:
    """Valid values for a random handful of numeric, bool, stance and month parameters."""
    params = declared()
    overrides: dict = {}
    numeric = [p for p in params.values() if p.numeric and not p.path.startswith("timeline.")]
    for p in rng.choice(numeric, size=8, replace=False):
        if p.kind == "int":
            hi = min(p.max, p.min + 12)
            overrides[p.path] = int(rng.integers(p.min, hi + 1))
        else:
            hi = min(p.max, p.min + 5 * max(abs(p.default), 0.5))
            overrides[p.path] = float(rng.uniform(p.min, hi))
    for lever in ("champions_network", "reinvest_savings", "national_pooling"):
        overrides[f"offer.{lever}"] = bool(rng.random() < 0.5)
    name = str(rng.choice(department_names()))
    floor = int(rng.integers(0, 3))
    overrides[f"departments.{name}.floor"] = STANCES[floor]
    overrides[f"departments.{name}.stance"] = STANCES[int(rng.integers(floor, 3))]
    start = parse_month(base["timeline.start"])
    target = parse_month(base["timeline.target_date"])
    overrides["timeline.end"] = format_month(target + int(rng.integers(0, 40)))
    overrides["offer.national_pooling_from"] = format_month(start + int(rng.integers(0, 24)))
    return overrides


def test_random_parameter_values_give_identical_runs_on_both_hosts():
    rng = np.random.default_rng(20111)
    for case in range(60):
        scenario = SCENARIOS[case % len(SCENARIOS)]
        overrides = random_overrides(rng, load_scenario(scenario).values)
        assert_same_run(*both(scenario, 1000 + case, **overrides))


def test_simulate_returns_the_mesa_models_outcomes():
    for seed in (0, 7, 2**40 + 3):
        model = CommunityBudgetModel("our_place_2013", rng=seed)
        model.run_to_end()
        assert simulate("our_place_2013", seed=seed) == model.outcomes()


def test_copies_give_identical_runs_on_both_hosts():
    model = CommunityBudgetModel("compelling_offer", rng=3, copies=3)
    kernel = Programme("compelling_offer", rng=3, copies=3)
    model.run_to_end()
    kernel.run_to_end()
    assert_same_run(model, kernel)
    assert len(kernel.levels) == 3 * 152


def test_the_generator_is_mesas_for_every_kind_of_seed():
    from mesa import Model

    for seed in (0, 5, np.random.SeedSequence(4), 2**63 + 1):
        assert mesa_rng(seed).bit_generator.state == Model(rng=seed).rng.bit_generator.state
    assert isinstance(mesa_rng(None).bit_generator, type(Model(rng=None).rng.bit_generator))


def test_the_kernel_imports_neither_mesa_nor_pandas_nor_scipy():
    code = (
        "import sys; import cbsim.model.simulate, cbsim.model.kernel; "
        "print(sorted(m for m in ('mesa', 'pandas', 'scipy', 'networkx', 'matplotlib', "
        "'solara') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
