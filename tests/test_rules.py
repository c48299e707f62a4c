"""The rules of cbsim.model.rules, tested directly on small hand-built hosts and the kernel.

- `council_moves`: the council's decision (threshold, chance formula, its limits);
- `DepartmentRules`: utilities, negotiation (months of wanting, one level at a time, the
  floor, the log), and the month's bulk Gumbel draws equal each department drawing its own;
- `MinisterialRules`: the stocktake (officials log and sweeten, ministers press the least
  engaged department up to the cap; nothing off a stocktake month or before `active_from`);
- `ProgrammeRules`: construction and the month need nothing from a host but its hooks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cbsim.inputs.parameters import defaults
from cbsim.inputs.reference import STANCES
from cbsim.model.kernel import Programme, mesa_rng
from cbsim.model.rules import (
    ALIGN,
    DEVELOPING,
    EXPLORING,
    NONE,
    POOL,
    WITHHOLD,
    DepartmentRules,
    MinisterialRules,
    ProgrammeRules,
    council_moves,
)

# ----------------------------------------------------------------- hand-built hosts


class Host:
    """A programme reduced to what the departments' and groups' rules read (ProgrammeHost)."""

    def __init__(self, **params) -> None:
        self.rng = np.random.default_rng(0)
        self.params = {**defaults(), **params}
        self.levels = np.zeros(10, dtype=np.int8)
        self.departments: list[DepartmentRules] = []
        self.evidence = 0.0
        self.dept_noise = 1.0
        self.negotiation_months = 3
        self.month_index = 24_000
        self.stocktake_due = True
        self.funding_boost_m = 0.0
        self.national_pooling_active = False
        self.share_developing = 0.2
        self.needed = 0.3
        self.levers = {"national_pooling": False, "reinvest_savings": False}
        self.log: list[tuple[str, str]] = []
        self.opened: list[str] = []

    def needed_share(self) -> float:
        return self.needed

    def policy_active(self, key: str) -> bool:
        if key.startswith("offer."):
            return self.levers.get(key.removeprefix("offer."), True)
        return True  # a department's floor applies throughout

    def open_window(self, key: str) -> None:
        self.opened.append(key)

    def lever_on(self, lever: str) -> bool:
        return self.levers[lever]

    def pull_lever(self, lever: str) -> None:
        self.levers[lever] = True

    def log_action(self, actor: str, action: str) -> None:
        self.log.append((actor, action))


class PlainDepartment(DepartmentRules):
    def __init__(self, model, **spec) -> None:
        self.model = model
        self.setup_department(**spec)


class PlainGroup(MinisterialRules):
    def __init__(self, model, name: str, role: str, active_from: int) -> None:
        self.model = model
        self.setup_group(name, role, active_from)


def department(host: Host, **traits) -> PlainDepartment:
    """A department of `host` (DfE-like traits unless given), added to its departments."""
    spec = {"name": "DfE", "poolable_m": 120.0, "stance": "withhold", "floor": "withhold"}
    spec |= {"return_share": 0.2, "risk_aversion": 1.0, "main": False} | traits
    made = PlainDepartment(host, **spec)
    host.departments.append(made)
    return made


def group(host: Host, role: str, active_from: int = 0) -> PlainGroup:
    """The "<role> group" of `host`."""
    return PlainGroup(host, f"{role} group", role, active_from)


def wanting(level: int) -> list[float]:
    """Gumbel draws that make a department (noise 1) want `level` above all else."""
    return [100.0 if k == level else 0.0 for k in range(3)]


# ----------------------------------------------------------------- councils


def test_no_council_moves_at_or_below_its_threshold():
    levels = np.array([NONE, EXPLORING, NONE, EXPLORING])
    net = np.array([2.0, 2.0, 1.0, -5.0])
    threshold = np.full(4, 2.0)
    moves = council_moves(levels, net, threshold, 1.0, 50.0, np.zeros(4))
    assert moves.tolist() == [False] * 4


def test_a_huge_surplus_always_moves_a_council_on():
    levels = np.array([NONE, EXPLORING])
    moves = council_moves(levels, 1e6, 0.5, 1.0, 1.0, np.full(2, 1 - 1e-12))
    assert moves.tolist() == [True, True]


def test_developing_councils_never_move():
    assert not council_moves(DEVELOPING, 1e6, 0.0, 1.0, 10.0, 0.0)
    levels = np.full(5, DEVELOPING)
    assert not council_moves(levels, 1e6, 0.0, 1.0, 10.0, np.zeros(5)).any()


@pytest.mark.parametrize("surplus, capacity, speed", [(0.5, 0.3, 1.0), (2.0, 1.0, 0.2)])
def test_a_council_moves_with_chance_one_minus_exp_of_speed_capacity_surplus(
    surplus, capacity, speed
):
    chance = 1.0 - math.exp(-speed * capacity * surplus)
    assert 0.0 < chance < 1.0
    args = (NONE, 1.0 + surplus, 1.0, capacity, speed)
    assert council_moves(*args, draw=chance * (1 - 1e-9))
    assert not council_moves(*args, draw=chance * (1 + 1e-9))
    draws = np.random.default_rng(1).random(20_000)
    many = council_moves(np.full(draws.size, EXPLORING), *args[1:], draws)
    assert many.mean() == pytest.approx(chance, abs=0.015)
    singles = [bool(council_moves(EXPLORING, *args[1:], d)) for d in draws[:200]]
    assert singles == many[:200].tolist()  # one council or all at once: the same rule


# ----------------------------------------------------------------- departments


def test_utilities_weigh_returned_savings_pressure_and_evidence():
    host = Host()
    dept = department(host, return_share=0.4, risk_aversion=0.5)
    dept.pressure = 0.1
    host.evidence = 0.5
    p = host.params
    returned = 0.4 * p["department.savings_per_pound"] * 0.5  # its share of believed savings
    benefit = returned + 0.1 + p["department.evidence_weight"] * 0.5
    align = p["department.align_benefit"] * benefit - p["department.align_risk"] * 0.5
    assert dept.utilities() == pytest.approx((0.0, align, benefit - 0.5))
    dept.return_share = 0.0  # the wrong pocket: nothing comes back
    assert dept.utilities()[POOL] == pytest.approx(benefit - returned - 0.5)


def test_national_pooling_sets_a_main_departments_floor_to_pool():
    host = Host()
    dept = department(host, risk_aversion=5.0)  # would never choose to pool
    host.national_pooling_active = True
    assert dept.floor_now() == WITHHOLD  # not a main department
    dept.main = True
    assert dept.floor_now() == POOL
    for _ in range(2 * host.negotiation_months):
        dept.step(wanting(WITHHOLD))
    assert dept.level == POOL


def test_a_stance_changes_only_after_negotiation_months_of_wanting_it():
    host = Host()
    dept = department(host)
    for month in range(1, 3):
        dept.step(wanting(ALIGN))
        assert (dept.level, dept.months_wanting) == (WITHHOLD, month)
    dept.step(wanting(ALIGN))
    assert (dept.level, dept.months_wanting, dept.wanted) == (ALIGN, 0, ALIGN)
    assert host.log == [("DfE", "stance now align")]


def test_wanting_the_current_stance_or_another_restarts_the_negotiation():
    host = Host()
    dept = department(host, stance="align")
    dept.step(wanting(POOL))
    dept.step(wanting(POOL))
    dept.step(wanting(ALIGN))  # content for a month: back to zero
    assert (dept.level, dept.months_wanting) == (ALIGN, 0)
    dept.step(wanting(POOL))
    dept.step(wanting(POOL))
    dept.step(wanting(WITHHOLD))  # wants something else now: counting from one
    assert (dept.level, dept.months_wanting, dept.wanted) == (ALIGN, 1, WITHHOLD)
    assert host.log == []


def test_a_stance_moves_one_level_at_a_time():
    host = Host()
    dept = department(host)
    levels = []
    for _ in range(6):
        dept.step(wanting(POOL))
        levels.append(dept.level)
    assert levels == [WITHHOLD, WITHHOLD, ALIGN, ALIGN, ALIGN, POOL]
    assert host.log == [("DfE", "stance now align"), ("DfE", "stance now pool")]


def test_negotiation_months_of_one_moves_at_once():
    host = Host()
    host.negotiation_months = 1
    dept = department(host, stance="pool")
    dept.step(wanting(WITHHOLD))
    assert dept.stance == "align" and host.log == [("DfE", "stance now align")]


def test_a_department_never_goes_below_its_floor():
    host = Host()
    host.negotiation_months = 1
    dept = department(host, stance="pool", floor="align")
    for _ in range(5):
        dept.step(wanting(WITHHOLD))  # the best stance at or above the floor is align
    assert dept.level == ALIGN and dept.wanted == ALIGN
    dept.step(wanting(WITHHOLD))
    assert (dept.level, dept.months_wanting) == (ALIGN, 0)
    assert host.log == [("DfE", "stance now align")]


def test_money_pooled_and_aligned_accrues_at_the_stance_after_the_move():
    host = Host()
    host.negotiation_months = 1
    dept = department(host, poolable_m=120.0)
    dept.step(wanting(ALIGN))
    dept.step(wanting(POOL))
    dept.step(wanting(POOL))
    assert (dept.aligned_m, dept.pooled_m) == (10.0, 20.0)


def test_the_months_bulk_gumbel_draws_equal_each_department_drawing_its_own():
    hosts = Host(), Host()
    for host in hosts:
        host.dept_noise = 0.05
        for k, name in enumerate(("DCLG", "DWP", "DfE")):
            department(host, name=name, risk_aversion=0.01 * k)
    own, bulk = hosts
    for _ in range(30):
        for dept in own.departments:
            dept.step()
        draws = bulk.rng.gumbel(0.0, 1.0, size=9).tolist()
        for k, dept in enumerate(bulk.departments):
            dept.step(draws[3 * k : 3 * k + 3])
    assert [vars(d) | {"model": 0} for d in own.departments] == [
        vars(d) | {"model": 0} for d in bulk.departments
    ]
    assert own.rng.bit_generator.state == bulk.rng.bit_generator.state


def test_departments_keep_their_floors_through_whole_runs():
    floors = {"DfE": "align", "DH": "pool", "DWP": "align"}
    overrides = {f"departments.{name}.floor": floor for name, floor in floors.items()}
    overrides |= {f"departments.{name}.stance": "pool" for name in floors}
    for seed in range(5):
        kernel = Programme("baseline_2011", rng=seed, **overrides)
        kernel.run_to_end()
        for name, floor in floors.items():
            held = kernel.series()[f"stance_{name}"]
            assert min(STANCES.index(s) for s in held) >= STANCES.index(floor), name


# ----------------------------------------------------------------- ministerial groups


def test_officials_log_the_stocktake_and_sweeten_the_offer_when_behind():
    host = Host(**{"ministerial.sweeteners": ["national_pooling", "reinvest_savings"]})
    officials = group(host, "officials")
    officials.step()
    assert host.log == [
        ("officials group", "stocktake: 20% developing, 30% needed"),
        ("officials group", "offer sweetened: national pooling"),
    ]
    officials.step()
    assert host.levers == {"national_pooling": True, "reinvest_savings": True}
    officials.step()  # nothing left to pull: the stocktake only
    assert host.log[-1] == ("officials group", "stocktake: 20% developing, 30% needed")
    assert len(host.log) == 5


def test_officials_raise_the_funding_boost_every_time_it_is_allowed():
    host = Host(**{"ministerial.sweeteners": ["funding_boost"], "ministerial.boost_step_m": 0.5})
    officials = group(host, "officials")
    officials.step()
    officials.step()
    assert host.funding_boost_m == 1.0
    assert host.log[-1] == ("officials group", "funding boost raised to £1.0m per council")


def test_officials_only_log_when_within_tolerance():
    host = Host(**{"ministerial.sweeteners": ["national_pooling"], "ministerial.tolerance": 0.1})
    host.share_developing, host.needed = 0.2, 0.3  # 0.2 + 0.1 is not below 0.3
    group(host, "officials").step()
    assert host.log == [("officials group", "stocktake: 20% developing, 30% needed")]
    assert not host.levers["national_pooling"]


def test_ministers_press_the_least_engaged_department_up_to_the_cap():
    host = Host(**{"ministerial.pressure_step": 0.15, "ministerial.max_pressure": 0.4})
    keen = department(host, name="DCLG", stance="align")
    reluctant = department(host, name="MoJ", risk_aversion=2.0)
    willing = department(host, name="DH", risk_aversion=0.5)
    department(host, name="DWP", stance="pool")
    ministers = group(host, "ministers")
    for _ in range(3):
        ministers.step()
    assert reluctant.pressure == 0.4  # lowest stance, least willing to pool; then capped
    assert (willing.pressure, keen.pressure) == (0.0, 0.0)
    assert host.log == [
        ("ministers group", "pressure on MoJ raised to 0.15"),
        ("ministers group", "pressure on MoJ raised to 0.30"),
        ("ministers group", "pressure on MoJ raised to 0.40"),
    ]
    ministers.step()
    assert willing.pressure == 0.15  # next: the other withholding department
    for _ in range(5):
        ministers.step()
    assert [d.pressure for d in host.departments] == [0.4, 0.4, 0.4, 0.0]  # pool: never pressed
    ministers.step()
    assert len(host.log) == 9  # nobody left to press


def test_ministers_neither_log_nor_press_when_on_track():
    host = Host()
    host.share_developing = host.needed = 0.3
    dept = department(host)
    group(host, "ministers").step()
    assert host.log == [] and dept.pressure == 0.0


@pytest.mark.parametrize("role", ["officials", "ministers"])
def test_groups_do_nothing_off_a_stocktake_month_or_before_they_start(role):
    host = Host(**{"ministerial.sweeteners": ["funding_boost"]})
    dept = department(host)
    host.stocktake_due = False
    group(host, role).step()
    host.stocktake_due = True
    group(host, role, active_from=host.month_index + 1).step()
    assert host.log == [] and host.funding_boost_m == 0.0 and dept.pressure == 0.0
    group(host, role, active_from=host.month_index).step()
    assert host.log


# ----------------------------------------------------------------- the programme


class MinimalHost(ProgrammeRules):
    """A third host: nothing but the hooks, on plain lists (what a host must supply)."""

    def __init__(self, scenario, rng=None, **overrides) -> None:
        self.rng = mesa_rng(rng)
        self.calls: list[str] = []
        self.recorded: dict[str, list] = {}
        self.build_programme(scenario, 1, overrides)

    def place_councils(self, levels):
        self.calls.append("place_councils")
        self.levels = levels.copy()

    def add_department(self, spec):
        self.calls.append("add_department")
        return PlainDepartment(self, **spec)

    def add_group(self, name, role, active_from):
        self.calls.append("add_group")
        return PlainGroup(self, name, role, active_from)

    def apply_council_moves(self, moves):
        self.calls.append("apply_council_moves")
        self.levels = self.levels + moves.astype(np.int8)

    def record_month(self):
        self.calls.append("record_month")
        columns = {"month": self.month, "developing": self.count_developing}
        columns["share_developing"] = self.share_developing
        columns["pbr_signed"] = self.count_pbr_signed
        for d in self.departments:
            columns[f"stance_{d.name}"] = d.stance
        for column, value in columns.items():
            self.recorded.setdefault(column, []).append(value)

    def series(self):
        return self.recorded


def test_a_host_needs_only_the_hooks_to_run_the_rules():
    for scenario, seed in (("baseline_2011", 4), ("compelling_offer", 9)):
        minimal = MinimalHost(scenario, rng=seed)
        departments = len(minimal.departments)
        assert minimal.calls == (
            ["place_councils"] + ["add_department"] * departments + ["add_group"] * 2
        ) + ["record_month"]
        kernel = Programme(scenario, rng=seed)
        minimal.calls.clear()
        while minimal.month_index < minimal.end_index:
            minimal.step()
        kernel.run_to_end()
        months = len(kernel.series()["month"]) - 1
        assert minimal.calls == ["apply_council_moves", "record_month"] * months
        assert minimal.outcomes() == kernel.outcomes()
        assert minimal.action_log == kernel.action_log
        assert minimal.series() == kernel.series()
        assert minimal.rng.bit_generator.state == kernel.rng.bit_generator.state


def test_stocktakes_fall_from_the_first_every_few_months():
    kernel = Programme("baseline_2011", rng=0, **{"ministerial.stocktake_months": 4})
    due = []
    while kernel.month_index < kernel.end_index:
        kernel.begin_month()
        due.append((kernel.month, kernel.stocktake_due))
    assert [month for month, is_due in due if is_due] == [
        "2011-05",
        "2011-09",
        "2012-01",
        "2012-05",
        "2012-09",
        "2013-01",
    ]


def test_the_trajectory_runs_from_the_starting_share_to_the_target():
    kernel = Programme("baseline_2011", rng=0)
    start, target = kernel.share_developing, kernel.params["timeline.target_share"]
    assert kernel.needed_share() == start
    kernel.run_to_end()
    assert kernel.needed_share() == pytest.approx(target)  # after the target date: the target
    kernel.month_index = (kernel.start_index + kernel.target_index) // 2
    halfway = (kernel.month_index - kernel.start_index) / (kernel.target_index - kernel.start_index)
    assert kernel.needed_share() == pytest.approx(start + (target - start) * halfway)
