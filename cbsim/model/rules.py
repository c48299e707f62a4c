"""The model's rules, written once for its two hosts.

`CommunityBudgetModel` (cbsim.model.model) runs these rules with Mesa agents, a DataCollector and a
space, for the workshop view and anyone who wants a Mesa model; `Programme` (cbsim.model.kernel)
runs the very same rules on plain objects and arrays without importing Mesa, for `simulate`
and sweeps. Each host supplies the parts that differ (how agents are stored, how a month is
recorded); everything that decides what happens lives here, so both give identical runs.

- `council_moves`: a council's decision, for one council or all at once (numpy arrays).
- `DepartmentRules`: a Whitehall department's stance (withhold, align or pool).
- `MinisterialRules`: the ministerial groups' stocktakes, pressure and sweeteners.
- `ProgrammeRules`: the month-level state and rules (offer value, evidence, peers, outcomes).

No Mesa, pandas or scipy here: importing this module stays cheap for sweep workers.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np

from cbsim.inputs.months import format_month, parse_month
from cbsim.inputs.reference import STANCES, Authority, authorities, department_names
from cbsim.inputs.scenario import Scenario, coerce
from cbsim.model.network import PeerNetwork, build_peer_network

COUNCIL_STATES = ("none", "exploring", "developing")
NONE, EXPLORING, DEVELOPING = 0, 1, 2
WITHHOLD, ALIGN, POOL = 0, 1, 2
LEVERS = ("champions_network", "reinvest_savings", "national_pooling")


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


class DepartmentRules:
    """A Whitehall department choosing to withhold, align or pool its funding streams.

    The host class provides `model` (with `rng`, `params`, `evidence`, `dept_noise`,
    `negotiation_months`, `national_pooling_active` and `log_action`).
    """

    def setup_department(
        self,
        name: str,
        poolable_m: float,
        stance: str,
        floor: str,
        return_share: float,
        risk_aversion: float,
        main: bool,
    ) -> None:
        """Set the department's traits and starting stance."""
        self.name = name
        self.poolable_m = poolable_m
        self.level = STANCES.index(stance)
        self.floor = STANCES.index(floor)
        self.return_share = return_share
        self.risk_aversion = risk_aversion
        self.main = main
        self.pressure = 0.0
        self.wanted = self.level
        self.months_wanting = 0
        self.pooled_m = 0.0  # cumulative £m pooled over the run
        self.aligned_m = 0.0  # cumulative £m aligned over the run

    @property
    def stance(self) -> str:
        """withhold, align or pool."""
        return STANCES[self.level]

    def utilities(self) -> tuple[float, float, float]:
        """Payoff of withholding, aligning and pooling this month (Roman's wrong pocket)."""
        m = self.model
        p = m.params
        benefit = (
            self.return_share * p["council.savings_rate"]
            + self.pressure
            + p["department.evidence_weight"] * m.evidence
        )
        if self.main and m.national_pooling_active:
            benefit += p["offer.mandate"]
        pool = benefit - self.risk_aversion
        align = (
            p["department.align_benefit"] * benefit
            - p["department.align_risk"] * self.risk_aversion
        )
        return 0.0, align, pool

    def step(self, gumbel: list[float] | None = None) -> None:
        """Judge the best stance (with noise); take one step toward it after negotiating.

        `gumbel` is the month's three standard Gumbel draws, drawn here when not given (a
        host may draw every department's at once: the same numbers in the same order).
        """
        if gumbel is None:
            gumbel = self.model.rng.gumbel(0.0, 1.0, size=3).tolist()
        noise = self.model.dept_noise
        scores = [u + e * noise for u, e in zip(self.utilities(), gumbel, strict=True)]
        best = self.floor
        for level in range(self.floor + 1, 3):  # the first best stance at or above the floor
            if scores[level] > scores[best]:
                best = level
        if best == self.level:
            self.months_wanting = 0
        else:
            self.months_wanting = self.months_wanting + 1 if best == self.wanted else 1
            if self.months_wanting >= self.model.negotiation_months:
                self.level += 1 if best > self.level else -1
                self.months_wanting = 0
                self.model.log_action(self.name, f"stance now {self.stance}")
        self.wanted = best
        self.pooled_m += self.poolable_m / 12 if self.level == POOL else 0.0
        self.aligned_m += self.poolable_m / 12 if self.level == ALIGN else 0.0


class MinisterialRules:
    """Bichard's officials' group (stocktakes, sweeteners) or Hanham's ministers (pressure).

    The host class provides `model` (a `ProgrammeRules`).
    """

    def setup_group(self, name: str, role: str, active_from: int) -> None:
        """Set the group's name, role and first active month."""
        self.name = name
        self.role = role  # "officials" sweeten the offer; "ministers" press departments
        self.active_from = active_from

    def step(self) -> None:
        """At a stocktake, compare progress with the trajectory; act when behind."""
        m = self.model
        if not (m.stocktake_due and m.month_index >= self.active_from):
            return
        needed = m.needed_share()
        behind = m.share_developing + m.params["ministerial.tolerance"] < needed
        if self.role == "officials":
            m.log_action(
                self.name, f"stocktake: {m.share_developing:.0%} developing, {needed:.0%} needed"
            )
            if behind:
                self.sweeten_offer()
        elif behind:
            self.press_laggard()

    def press_laggard(self) -> None:
        """Raise pressure on the least engaged department (lowest stance, least willing)."""
        m = self.model
        cap = m.params["ministerial.max_pressure"]
        candidates = [d for d in m.departments if d.level < POOL and d.pressure < cap]
        if not candidates:
            return
        target = min(candidates, key=lambda d: (d.level, d.utilities()[POOL], d.name))
        target.pressure = min(cap, target.pressure + m.params["ministerial.pressure_step"])
        m.log_action(self.name, f"pressure on {target.name} raised to {target.pressure:.2f}")

    def sweeten_offer(self) -> None:
        """Pull the next lever allowed by the scenario that is not pulled yet."""
        m = self.model
        for lever in m.params["ministerial.sweeteners"]:
            if lever == "funding_boost":
                m.funding_boost_m += m.params["ministerial.boost_step_m"]
                m.log_action(
                    self.name, f"funding boost raised to £{m.funding_boost_m:.1f}m per council"
                )
                return
            if not m.lever_on(lever):
                m.pull_lever(lever)
                m.log_action(self.name, f"offer sweetened: {lever.replace('_', ' ')}")
                return


class ProgrammeRules:
    """The programme's month-level state and rules, shared by both hosts.

    A host calls `setup_programme`, `draw_councils`, creates its departments (in
    `department_specs` order) and groups (`group_specs`), then `start_programme`; each month
    it calls `begin_month`, steps the groups then the departments, calls `update_offer`,
    applies `council_moves_now` to its councils, then `update_peer_share` and records the
    month. It provides `rng`, `levels` (int8 array of council states), `departments` and
    `series()` (the recorded months: "month", "developing", "share_developing" and
    "stance_<department>" lists).
    """

    rng: np.random.Generator
    levels: np.ndarray
    departments: list

    # ------------------------------------------------------------- construction
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
        self._cache_params()
        self.evidence = p["evidence.initial"]
        self.funding_boost_m = p["offer.funding_boost_m"]
        self.levers = {lever: p[f"offer.{lever}"] for lever in LEVERS}
        self.national_pooling_from = parse_month(p["offer.national_pooling_from"])
        self.pbr_from = parse_month(p["offer.payment_by_results_from"])
        self.stocktake_due = False
        self.offer_value_m = 0.0

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
        self.council_thresholds_m = p["council.threshold_median_m"] * np.exp(
            p["council.threshold_spread"] * z
        )
        self.council_capacities = self.rng.uniform(p["council.capacity_min"], 1.0, n)
        return starting_levels(self.copies, tuple(p["councils.developing_at_start"]))

    def department_specs(self) -> list[dict[str, Any]]:
        """Keyword arguments of `DepartmentRules.setup_department`, one per department."""
        p = self.params
        specs = []
        for name in department_names():
            base = f"departments.{name}"
            specs.append(
                dict(
                    name=name,
                    poolable_m=p[f"{base}.poolable_m"],
                    stance=p[f"{base}.stance"],
                    floor=p[f"{base}.floor"],
                    return_share=p[f"{base}.return_share"],
                    risk_aversion=p[f"{base}.risk_aversion"],
                    main=p[f"{base}.main"],
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
        net_benefit_m = self.offer_value_m + self.peer_weight_m * self.peer_share
        return council_moves(
            self.levels,
            net_benefit_m,
            self.council_thresholds_m,
            self.council_capacities,
            self.council_speed,
            draws,
        )

    def update_peer_share(self) -> None:
        """Each council's weighted share of its peers developing a community budget."""
        self.peer_share = self.network.peer_share(
            self.levels == DEVELOPING, self.levers["champions_network"]
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
        """The part of a council's net benefit that is the same for every council (£m/yr)."""
        p = self.params
        n = len(self.levels)
        pooled = sum(d.poolable_m for d in self.departments if d.level == POOL) / n
        aligned = sum(d.poolable_m for d in self.departments if d.level == ALIGN) / n
        money = p["council.cash_value"] * pooled + p["council.virtual_value"] * aligned
        kept = (
            p["offer.reinvest_kept_share"]
            if self.levers["reinvest_savings"]
            else p["council.savings_kept_share"]
        )
        savings = kept * p["council.savings_rate"] * (p["council.own_spend_m"] + money)
        pbr = p["offer.payment_by_results_m"] if self.month_index >= self.pbr_from else 0.0
        self.offer_value_m = (
            money
            + savings
            + p["council.pbr_value"] * pbr
            + self.funding_boost_m
            + p["council.evidence_weight_m"] * self.evidence
            - p["council.setup_cost_m"]
        )

    # ------------------------------------------------------------- levers and log
    @property
    def national_pooling_active(self) -> bool:
        """True when national pooling is on and its start month has come."""
        return self.levers["national_pooling"] and self.month_index >= self.national_pooling_from

    def lever_on(self, lever: str) -> bool:
        """Whether an on/off lever of the offer is pulled."""
        return self.levers[lever]

    def pull_lever(self, lever: str) -> None:
        """Switch a lever of the offer on from this month."""
        self.levers[lever] = True
        if lever == "national_pooling":
            self.national_pooling_from = min(self.national_pooling_from, self.month_index)

    def log_action(self, actor: str, action: str) -> None:
        """Record an action of a ministerial group or department for the log."""
        self.action_log.append({"month": self.month, "actor": actor, "action": action})

    def set_parameter(self, path: str, value: Any) -> None:
        """Change a parameter of the running model (validated), e.g. from a slider."""
        self.params[path] = coerce(path, value, "set_parameter")
        if path.startswith("offer.") and path.removeprefix("offer.") in self.levers:
            self.levers[path.removeprefix("offer.")] = bool(value)
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

    # ------------------------------------------------------------- observables
    def series(self) -> dict[str, list]:
        """The recorded months so far (provided by the host)."""
        raise NotImplementedError

    @property
    def month(self) -> str:
        """The current calendar month, `YYYY-MM`."""
        return format_month(self.month_index)

    @property
    def count_developing(self) -> int:
        """Councils developing a community budget (counts toward the target)."""
        return int(np.count_nonzero(self.levels == DEVELOPING))

    @property
    def count_exploring(self) -> int:
        """Councils exploring a community budget."""
        return int(np.count_nonzero(self.levels == EXPLORING))

    @property
    def share_developing(self) -> float:
        """Share of authorities developing a community budget."""
        return self.count_developing / len(self.levels)

    @property
    def target_count(self) -> int:
        """Councils needed to meet the target (76 of 152 for half)."""
        return int(np.ceil(self.params["timeline.target_share"] * len(self.levels) - 1e-9))

    @property
    def history(self) -> list[float]:
        """Share developing at each recorded month, from the start."""
        return self.series()["share_developing"]

    def needed_share(self) -> float:
        """The share the straight-line trajectory to the target needs by this month."""
        start = self.history[0] if self.history else self.share_developing
        span = max(1, self.target_index - self.start_index)
        progress = min(1.0, (self.month_index - self.start_index) / span)
        return start + (self.params["timeline.target_share"] - start) * progress

    @property
    def pooled_rate_m(self) -> float:
        """£m a year currently pooled by departments."""
        return sum(d.poolable_m for d in self.departments if d.level == POOL)

    @property
    def aligned_rate_m(self) -> float:
        """£m a year currently aligned (virtual pooling) by departments."""
        return sum(d.poolable_m for d in self.departments if d.level == ALIGN)

    def outcomes(self) -> dict[str, Any]:
        """Flat dict of scalar outcomes of the run so far (see docs/ODD.md)."""
        series = self.series()
        months = series["month"]
        counts = series["developing"]
        target_step = self.target_index - self.start_index
        reached = next((months[i] for i, c in enumerate(counts) if c >= self.target_count), None)
        at_target = counts[target_step] if target_step < len(counts) else None
        n = len(self.levels)
        out: dict[str, Any] = {
            "scenario": self.scenario_name,
            "target_date": format_month(self.target_index),
            "target_count": self.target_count,
            "count_at_target": at_target,
            "share_at_target": None if at_target is None else at_target / n,
            "target_met": at_target is not None and at_target >= self.target_count,
            "month_target_reached": reached,
            "final_month": self.month,
            "final_count": self.count_developing,
            "final_share": self.share_developing,
            "final_exploring": self.count_exploring,
            "evidence_final": self.evidence,
            "first_cash_month": self._first_cash_month(series),
            "pooled_m_total": sum(d.pooled_m for d in self.departments),
            "aligned_m_total": sum(d.aligned_m for d in self.departments),
            "ministerial_actions": sum(1 for a in self.action_log if "group" in a["actor"]),
        }
        for d in self.departments:
            out[f"pooled_m_{d.name}"] = d.pooled_m
            out[f"aligned_m_{d.name}"] = d.aligned_m
            stances = series[f"stance_{d.name}"]
            out[f"stance_{d.name}_at_target"] = (
                stances[target_step] if target_step < len(stances) else None
            )
            out[f"stance_{d.name}_final"] = d.stance
        return out

    def _first_cash_month(self, series: dict[str, list]) -> str | None:
        months = series["month"]
        for i in range(len(months)):
            if any(series[f"stance_{d.name}"][i] == "pool" for d in self.departments):
                return months[i]
        return None


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
