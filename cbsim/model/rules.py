"""The model's rules, written once for its two hosts.

`CommunityBudgetModel` (cbsim.model.model) runs these rules with Mesa agents, a DataCollector
and a space, for the workshop view and anyone who wants a Mesa model; `Programme`
(cbsim.model.kernel) runs the very same rules on plain objects and arrays without importing
Mesa, for `simulate` and sweeps. Everything that decides what happens, and in what order,
lives here; a host supplies only the hooks of `cbsim.model.host.HostHooks` (how its agents
are made and stored, how council moves are applied, how a month is recorded), so both make
the same draws in the same order and give identical runs.

- `council_moves`: a council's decision, for one council or all at once (numpy arrays).
- `DepartmentRules`: a Whitehall department's stance (withhold, align or pool).
- `MinisterialRules`: the ministerial groups' stocktakes, pressure and sweeteners.
- `ProgrammeRules`: construction, the month, and the month-level state and rules (offer
  value, evidence, peers); its observables and outcomes are in cbsim.model.observables.

Construction (`ProgrammeRules.build_programme`, from each host's ``__init__`` once its
generator exists):

1. `setup_programme`: the scenario's values (overrides applied), the timeline and the offer.
2. `draw_councils`: the peer network, then the councils' thresholds and capacities; the host
   creates its councils at their starting levels (`place_councils`).
3. The host creates the departments (`add_department`, in `department_specs` order), then the
   ministerial groups (`add_group`, in `group_specs` order).
4. `start_programme`: totals, peers and the offer as they stand; the starting month's costs
   to the centre are paid (`costs`, cbsim.model.costs); the host records the starting month
   (`record_month`).

The month (`ProgrammeRules.step`, each host's ``step``):

1. `begin_month`: the calendar moves on one month; is it a stocktake month?
2. The ministerial groups, officials then ministers (`MinisterialRules.step`): at a
   stocktake, compare progress with the trajectory and, when behind, sweeten the offer or
   press the least engaged department.
3. The departments in order (`DepartmentRules.step`), each with three standard Gumbel draws;
   every department's are drawn in one call (the same numbers, in the same order, as each
   drawing its own three).
4. `update_offer`: the pilots' evidence, then the offer's value common to every council.
5. The councils decide (`council_moves_now`: one uniform draw per council, in order; every
   council reads last month's peers, so the update is synchronous); the host applies the
   moves (`apply_council_moves`).
6. While the payment-by-results offer is open, councils sign up
   (`sign_up_for_payment_by_results`: one uniform draw per council).
7. The month's costs to the centre are paid (`costs.accrue`, cbsim.model.costs).
8. `update_peer_share`: each council's weighted share of its peers developing.
9. The host records the month (`record_month`).

No Mesa, pandas or scipy here: importing this module stays cheap for sweep workers.
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np

from cbsim.inputs.months import parse_month
from cbsim.inputs.reference import Authority, authorities, department_names
from cbsim.inputs.scenario import Scenario, coerce, load_scenario
from cbsim.model.costs import CostLedger
from cbsim.model.councils import (
    capacities,
    estimated_families,
    pbr_income_m,
    results_payment_per_family_k,
    setup_costs,
)
from cbsim.model.host import (
    ALIGN,
    COUNCIL_STATES,
    DEVELOPING,
    EXPLORING,
    NONE,
    POOL,
    WITHHOLD,
    DepartmentSpec,
)
from cbsim.model.network import PeerNetwork, build_peer_network
from cbsim.model.observables import ProgrammeObservables
from cbsim.model.whitehall import DepartmentRules, MinisterialRules

__all__ = [
    "ALIGN",
    "COUNCIL_STATES",
    "DEVELOPING",
    "EXPLORING",
    "LEVERS",
    "NONE",
    "POOL",
    "WITHHOLD",
    "DepartmentRules",
    "MinisterialRules",
    "ProgrammeRules",
    "authorities_with_copies",
    "council_moves",
    "starting_levels",
]

LEVERS = ("champions_network", "reinvest_savings", "national_pooling", "payment_by_results")


def policy_windows() -> tuple[str, ...]:
    """The dated policies: each has `<key>_from` and `<key>_until` month parameters."""
    floors = tuple(f"departments.{name}.floor" for name in department_names())
    return (*(f"offer.{lever}" for lever in LEVERS), "offer.funding_boost", *floors)


def council_moves(level, net_benefit_m, threshold_m, capacity, speed, draw):
    """The council's decision rule, for one council or for all at once (numpy arrays).

    A council not yet developing moves one step on (none -> exploring -> developing) with a
    chance ``1 - exp(-speed * capacity * surplus)`` that grows with the surplus of its net
    benefit over its threshold; `draw` is its uniform draw for the month. Returns a bool
    (array): whether it moves.
    """
    surplus = net_benefit_m - threshold_m
    chance = 1.0 - np.exp(-speed * capacity * np.maximum(surplus, 0.0))
    return (level != DEVELOPING) & (surplus > 0) & (draw < chance)


class ProgrammeRules(ProgrammeObservables):
    """The programme: construction, the month, and its month-level state and rules.

    Both hosts inherit it and supply the hooks of `cbsim.model.host.HostHooks`; the order of
    construction (`build_programme`) and of a month (`step`) is in the module docstring.
    The host's `place_councils` and `apply_council_moves` keep `levels` (int8 array of council
    states) up to date; `rng` is the host's generator.
    """

    rng: np.random.Generator
    levels: np.ndarray
    departments: list[DepartmentRules]
    ministerial_groups: list[MinisterialRules]

    # ------------------------------------------------------------- construction
    def build_programme(
        self, scenario: str | os.PathLike | Scenario, copies: int, overrides: dict[str, Any]
    ) -> None:
        """Set the programme up and create its agents, in the order the module describes."""
        self.setup_programme(
            load_scenario(scenario).with_overrides(overrides, source="override"), copies
        )
        self.place_councils(self.draw_councils())
        self.departments = [self.add_department(spec) for spec in self.department_specs()]
        self.ministerial_groups = [self.add_group(*group) for group in self.group_specs()]
        self.start_programme()
        self.costs.accrue(self)
        self.record_month()

    def setup_programme(self, spec: Scenario, copies: int = 1) -> None:
        """Read the scenario's values: the timeline, the offer and its levers."""
        self.scenario_name = spec.name
        self.params: dict[str, Any] = dict(spec.values)  # own copy for set_parameter
        p = self.params
        self.copies = copies
        self.authority_source = authorities_with_copies(copies)
        self.start_index = parse_month(p["timeline.start"])
        self.end_index = parse_month(p["timeline.end"])
        self.target_index = parse_month(p["timeline.target_date"])
        self.month_index = self.start_index
        self.action_log: list[dict[str, str]] = []
        self.costs = CostLedger()  # what the incentives cost the centre (cbsim.model.costs)
        self._cache_params()
        self.evidence = p["evidence.initial"]
        self.funding_boost_m = p["offer.funding_boost_m"]
        self.levers = {lever: p[f"offer.{lever}"] for lever in LEVERS}
        self.windows = {key: self._read_window(key) for key in policy_windows()}
        self.stocktake_due = False

    def draw_councils(self) -> np.ndarray:
        """Draw the peer network and the councils' traits; return their starting levels."""
        p = self.params
        source = self.authority_source
        n = len(source)
        self.network: PeerNetwork = build_peer_network(
            source,
            self.rng,
            p["network.region_links"],
            p["network.type_links"],
            p["network.champion_links"],
            p["network.leader_weight"],
        )
        z = self.rng.standard_normal(n)
        self.council_families = estimated_families(source, p["council.families_total"])
        self.council_sizes = self.council_families / self.council_families.mean()
        self.council_thresholds_m = (
            p["council.threshold_median_m"]
            * np.exp(p["council.threshold_spread"] * z)
            * self.council_sizes ** p["council.threshold_size_elasticity"]
        )
        self.council_capacities = capacities(source, self.rng.uniform(0.0, 1.0, n), p)
        self.council_setup_costs_m = setup_costs(source, p)
        self.pbr_incomes_m = pbr_income_m(self.council_families, p)
        self.pbr_signed = np.zeros(n, dtype=bool)
        return starting_levels(self.copies, tuple(p["councils.developing_at_start"]))

    def department_specs(self) -> list[DepartmentSpec]:
        """Keyword arguments of `DepartmentRules.setup_department`, one per department."""
        p = self.params
        specs = []
        for name in department_names():
            base = f"departments.{name}"
            specs.append(
                DepartmentSpec(
                    name=name,
                    poolable_m=p[f"{base}.poolable_m"],
                    stance=p[f"{base}.stance"],
                    floor=p[f"{base}.floor"],
                    return_share=p[f"{base}.return_share"],
                    risk_aversion=p[f"{base}.risk_aversion"],
                    main=p[f"{base}.main"],
                    pilots_asked=p[f"{base}.pilots_asked"],
                )
            )
        return specs

    def group_specs(self) -> list[tuple[str, str, int]]:
        """(name, role, first active month) of the ministerial groups, in stepping order."""
        ministers_from = parse_month(self.params["ministerial.ministers_from"])
        return [
            ("Bichard group", "officials", self.start_index),
            ("Hanham group", "ministers", ministers_from),
        ]

    def start_programme(self) -> None:
        """After the agents exist: totals, peers and the offer as they stand at the start."""
        self.total_poolable_m = sum(d.poolable_m for d in self.departments) or 1.0
        self.update_peer_share()
        self._update_offer_value()

    # ------------------------------------------------------------- the month
    def step(self) -> None:
        """One month, in the order the module describes."""
        self.begin_month()
        for group in self.ministerial_groups:
            group.step()
        gumbel = self.rng.gumbel(0.0, 1.0, size=3 * len(self.departments)).tolist()
        for k, department in enumerate(self.departments):  # each department's three draws
            department.step(gumbel[3 * k : 3 * k + 3])
        self.update_offer()
        self.apply_council_moves(self.council_moves_now())
        self.sign_up_for_payment_by_results()
        self.costs.accrue(self)
        self.update_peer_share()
        self.record_month()

    def begin_month(self) -> None:
        """Move the calendar on one month; is it a stocktake month?"""
        self.month_index += 1
        since = self.month_index - self.first_stocktake
        self.stocktake_due = since >= 0 and since % self.params["ministerial.stocktake_months"] == 0

    def update_offer(self) -> None:
        """After the departments' moves: the pilots' evidence, then the offer's value."""
        self._update_evidence()
        self._update_offer_value()

    def council_moves_now(self) -> np.ndarray:
        """Which councils move on this month (one uniform draw per council, in order).

        Every council reads last month's peers (synchronous update).
        """
        draws = self.rng.random(len(self.levels))
        net_benefit_m = self.offer_values_m + self.peer_weight_m * self.peer_share
        return council_moves(
            self.levels,
            net_benefit_m,
            self.council_thresholds_m,
            self.council_capacities,
            self.council_speed,
            draws,
        )

    def sign_up_for_payment_by_results(self) -> None:
        """While the payment-by-results offer is open, councils not yet in sign up.

        One uniform draw per council every month (offer open or not: common random numbers).
        A council signs with chance ``1 - exp(-speed * capacity * surplus)``, the surplus
        being the expected payment per family worked with over the council's own extra cost
        per family (£k); signing up is a separate state from developing a community budget.
        """
        draws = self.rng.random(len(self.levels))
        if not self.policy_active("offer.payment_by_results"):
            return
        p = self.params
        surplus = results_payment_per_family_k(p) - p["pbr.council_cost_k"]
        if surplus <= 0:
            return
        chance = 1.0 - np.exp(-p["pbr.signup_speed"] * self.council_capacities * surplus)
        self.pbr_signed |= draws < chance

    def update_peer_share(self) -> None:
        """Each council's weighted share of its peers developing a community budget."""
        self.peer_share = self.network.peer_share(
            self.levels == DEVELOPING, self.policy_active("offer.champions_network")
        )

    def _update_evidence(self) -> None:
        """Pilots' evidence moves toward what their funding allows (cash counts fully)."""
        virtual = self.params["council.virtual_value"]
        funded = sum(
            d.poolable_m * (1.0 if d.level == POOL else virtual if d.level == ALIGN else 0.0)
            for d in self.departments
        )
        attainable = min(1.0, funded / self.total_poolable_m)
        self.evidence += self.params["evidence.learning_rate"] * (attainable - self.evidence)

    def _update_offer_value(self) -> None:
        """Each council's net benefit of a community budget before peers (£m/yr).

        Departmental money (pooled cash counts fully, aligned money at its virtual value) and
        the savings the council keeps are shared out by need (`council_sizes`); a council in
        the payment-by-results programme adds the share of its expected results income that
        a pooled budget would help it earn (`pbr.cb_spillover`); the funding boost and the
        pilots' evidence are the same for all; its set-up cost is its own.
        """
        p = self.params
        n = len(self.levels)
        pooled = sum(d.poolable_m for d in self.departments if d.level == POOL) / n
        aligned = sum(d.poolable_m for d in self.departments if d.level == ALIGN) / n
        money = p["council.cash_value"] * pooled + p["council.virtual_value"] * aligned
        kept = (
            p["offer.reinvest_kept_share"]
            if self.policy_active("offer.reinvest_savings")
            else p["council.savings_kept_share"]
        )
        self.pooled_spend_m = p["council.own_spend_m"] + money  # per average council
        savings = kept * p["council.savings_rate"] * self.pooled_spend_m
        boost = self.funding_boost_m if self.policy_active("offer.funding_boost") else 0.0
        spillover = p["pbr.cb_spillover"] * self.pbr_incomes_m * self.pbr_signed
        self.offer_values_m = (
            self.council_sizes * (money + savings)
            + spillover
            + (boost + p["council.evidence_weight_m"] * self.evidence)
            - self.council_setup_costs_m
        )

    @property
    def offer_value_m(self) -> float:
        """The average council's net benefit before peers (£m/yr), for display."""
        return float(self.offer_values_m.mean())

    # ------------------------------------------------------------- levers and log
    @property
    def national_pooling_active(self) -> bool:
        """True when national pooling is on and this month is within its dates."""
        return self.policy_active("offer.national_pooling")

    def policy_active(self, key: str) -> bool:
        """Whether a dated policy applies this month: its switch is on (for the offer's
        on/off levers) and the month is within its `_from`/`_until` dates."""
        lever = key.removeprefix("offer.")
        if lever in self.levers and not self.levers[lever]:
            return False
        start, stop = self.windows[key]
        return start <= self.month_index < stop

    def open_window(self, key: str) -> None:
        """Let a dated policy apply from this month on (if its dates start later)."""
        start, stop = self.windows[key]
        self.windows[key] = (min(start, self.month_index), max(stop, self.month_index + 1))

    def lever_on(self, lever: str) -> bool:
        """Whether an on/off lever of the offer is pulled (and applies this month)."""
        return self.policy_active(f"offer.{lever}")

    def pull_lever(self, lever: str) -> None:
        """Switch a lever of the offer on from this month."""
        self.levers[lever] = True
        self.open_window(f"offer.{lever}")

    def _read_window(self, key: str) -> tuple[int, int]:
        """A dated policy's first month and the month it stops (month indices)."""
        p = self.params
        return parse_month(p[f"{key}_from"]), parse_month(p[f"{key}_until"])

    def log_action(self, actor: str, action: str) -> None:
        """Record an action of a ministerial group or department for the log."""
        self.action_log.append({"month": self.month, "actor": actor, "action": action})

    def set_parameter(self, path: str, value: Any) -> None:
        """Change a parameter of the running model (validated), e.g. from a slider."""
        self.params[path] = coerce(path, value, "set_parameter")
        if path.startswith("offer.") and path.removeprefix("offer.") in self.levers:
            self.levers[path.removeprefix("offer.")] = bool(value)
        window = path.removesuffix("_from").removesuffix("_until")
        if window in self.windows:
            self.windows[window] = self._read_window(window)
        self._cache_params()
        if path == "offer.funding_boost_m":
            self.funding_boost_m = self.params[path]
        self._update_offer_value()

    def _cache_params(self) -> None:
        """Copy the values agents read every month out of the parameter table."""
        p = self.params
        self.council_speed = p["council.speed"]
        self.peer_weight_m = p["council.peer_weight_m"]
        self.dept_noise = p["department.choice_noise"]
        self.negotiation_months = p["department.negotiation_months"]
        self.first_stocktake = parse_month(p["ministerial.first_stocktake"])


@cache
def authorities_with_copies(copies: int) -> tuple[Authority, ...]:
    """The authorities, or `copies` synthetic copies of them in a row (scale benchmarks).

    Copy k > 1 of a council is named "<name> #k" and has its type, region and pilot area.
    """
    if not isinstance(copies, int) or isinstance(copies, bool) or copies < 1:
        raise ValueError(f"copies must be a whole number >= 1, got {copies!r}")
    real = authorities()
    return real + tuple(
        replace(a, name=f"{a.name} #{k}") for k in range(2, copies + 1) for a in real
    )


@cache
def starting_levels(copies: int, developing: tuple[str, ...]) -> np.ndarray:
    """Each council's state at the start: developing if named (or a copy of one named)."""
    named = set(developing)
    levels = np.array(
        [DEVELOPING if a.name in named else NONE for a in authorities()] * copies, dtype=np.int8
    )
    levels.setflags(write=False)
    return levels
