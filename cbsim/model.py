"""CommunityBudgetModel: will half of England's upper-tier councils pool budgets by April 2012?

An agent-based model of the UK "community budgets" programme (2010-13). Whitehall
departments decide whether to withhold, align or pool funding streams; 152 upper-tier
councils decide whether to develop a community budget given the offer, their peers and the
pilots' evidence; ministerial groups take stock and push. One step is one calendar month.
Sources and assumptions: docs/ODD.md and shared reference FACTS.
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import cache, cached_property, partial
from typing import Any

import numpy as np
import pandas as pd
from mesa import DataCollector, Model
from mesa.discrete_space import Network

from cbsim.agents import (
    ALIGN,
    COUNCIL_STATES,
    DEVELOPING,
    EXPLORING,
    NONE,
    POOL,
    Council,
    Department,
    MinisterialGroup,
    council_moves,
)
from cbsim.months import format_month, parse_month
from cbsim.network import build_peer_network, map_layout
from cbsim.reference import Authority, authorities, department_names
from cbsim.scenario import Scenario, coerce, load_scenario


class CommunityBudgetModel(Model):
    """The community budgets programme, month by month.

    Args:
        scenario: a scenario name (file in `scenarios/`), a path, or a loaded Scenario.
        rng: seed or numpy Generator; the same scenario and seed give identical runs.
        **overrides: parameter values by dotted path, e.g. ``**{"offer.national_pooling": True}``.
        copies: for scale benchmarks only: run with this many synthetic copies of the 152
            authorities (copy k > 1 of a council is named "<name> #k" and starts as it does).
    """

    def __init__(self, scenario: str | os.PathLike | Scenario = "baseline_2011",
                 rng: Any = None, *, copies: int = 1, **overrides: Any) -> None:
        super().__init__(rng=rng)
        self._copies = copies
        spec = load_scenario(scenario).with_overrides(overrides, source="override")
        self.scenario_name = spec.name
        self.params: dict[str, Any] = dict(spec.values)  # own copy for set_parameter
        p = self.params
        self.start_index = parse_month(p["timeline.start"])
        self.end_index = parse_month(p["timeline.end"])
        self.target_index = parse_month(p["timeline.target_date"])
        self.month_index = self.start_index
        self.action_log: list[dict[str, str]] = []
        self._cache_params()
        self.evidence = p["evidence.initial"]
        self.funding_boost_m = p["offer.funding_boost_m"]
        self.levers = {lever: p[f"offer.{lever}"]
                       for lever in ("champions_network", "reinvest_savings", "national_pooling")}
        self.national_pooling_from = parse_month(p["offer.national_pooling_from"])
        self.pbr_from = parse_month(p["offer.payment_by_results_from"])
        self.stocktake_due = False

        self._create_councils()
        self._create_departments()
        self._create_ministerial_groups()
        self.offer_value_m = 0.0
        self._update_peer_share()
        self._update_offer_value()

        self.datacollector = DataCollector(model_reporters=self._reporters())
        self.datacollector.collect(self)

    # ----------------------------------------------------------------- construction
    def _create_councils(self) -> None:
        p = self.params
        source = self._authorities = _authorities(self._copies)
        originals = authorities()
        n = len(source)
        self.network = build_peer_network(
            source, self.rng, p["network.region_links"], p["network.type_links"],
            p["network.champion_links"], p["network.leader_weight"])
        z = self.rng.standard_normal(n)
        thresholds = p["council.threshold_median_m"] * np.exp(p["council.threshold_spread"] * z)
        capacities = self.rng.uniform(p["council.capacity_min"], 1.0, n)
        starting = set(p["councils.developing_at_start"])
        for i, a in enumerate(source):
            Council(self, i, a.name, a.type, a.region, a.pilot_area,
                    DEVELOPING if originals[i % len(originals)].name in starting else NONE,
                    float(thresholds[i]), float(capacities[i]))
        # The councils' fixed traits as arrays, for deciding all councils at once.
        self.council_thresholds_m = thresholds
        self.council_capacities = capacities
        self.councils = self.agents_by_type[Council]
        self.council_list: list[Council] = list(self.councils)
        self._refresh_levels()

    def _create_departments(self) -> None:
        p = self.params
        for name in department_names():
            base = f"departments.{name}"
            Department(self, name, p[f"{base}.poolable_m"], p[f"{base}.stance"],
                       p[f"{base}.floor"], p[f"{base}.return_share"],
                       p[f"{base}.risk_aversion"], p[f"{base}.main"])
        self.departments: list[Department] = list(self.agents_by_type[Department])
        self.total_poolable_m = sum(d.poolable_m for d in self.departments) or 1.0

    def _create_ministerial_groups(self) -> None:
        p = self.params
        MinisterialGroup(self, "Bichard group", "officials", self.start_index)
        MinisterialGroup(self, "Hanham group", "ministers",
                         parse_month(p["ministerial.ministers_from"]))
        self.ministerial_groups = self.agents_by_type[MinisterialGroup]

    @cached_property
    def grid(self) -> Network:
        """The peer network as a Mesa space (node i = council i, on a map-like layout).

        Built on first use (the view, or `council.cell`): headless runs never need it.
        """
        grid = Network(self.network.graph, random=self.random,
                       layout=map_layout(self._authorities))
        for council in self.council_list:
            council.cell = grid[council.index]
        return grid

    # ----------------------------------------------------------------- the month
    def step(self) -> None:
        """One month: stocktakes, departments' stances, councils' decisions, then data."""
        self.month_index += 1
        self.stocktake_due = self._is_stocktake_month()
        self.ministerial_groups.do("step")
        self.agents_by_type[Department].do("step")
        self._update_evidence()
        self._update_offer_value()
        self.councils_step()  # synchronous: every council reads last month's peers
        self._refresh_levels()
        self._update_peer_share()
        self.datacollector.collect(self)
        if self.month_index >= self.end_index:
            self.running = False

    def councils_step(self) -> None:
        """Every council's `step` at once: the same rule (`council_moves`) on arrays.

        Equivalent to ``self.councils.do("step")`` (one uniform draw per council, in the
        same order) without a Python call per council.
        """
        draws = self.rng.random(len(self.council_list))
        net_benefit_m = self.offer_value_m + self.peer_weight_m * self.peer_share
        moves = council_moves(self.levels, net_benefit_m, self.council_thresholds_m,
                              self.council_capacities, self.council_speed, draws)
        for i in np.flatnonzero(moves):
            self.council_list[i].level += 1

    def _is_stocktake_month(self) -> bool:
        since = self.month_index - self.first_stocktake
        return since >= 0 and since % self.params["ministerial.stocktake_months"] == 0

    def _update_evidence(self) -> None:
        """Pilots' evidence moves toward what their funding allows (cash counts fully)."""
        virtual = self.params["council.virtual_value"]
        funded = sum(d.poolable_m * (1.0 if d.level == POOL else virtual if d.level == ALIGN
                                     else 0.0) for d in self.departments)
        attainable = min(1.0, funded / self.total_poolable_m)
        self.evidence += self.params["evidence.learning_rate"] * (attainable - self.evidence)

    def _update_offer_value(self) -> None:
        """The part of a council's net benefit that is the same for every council (£m/yr)."""
        p = self.params
        n = len(self.council_list)
        pooled = sum(d.poolable_m for d in self.departments if d.level == POOL) / n
        aligned = sum(d.poolable_m for d in self.departments if d.level == ALIGN) / n
        money = p["council.cash_value"] * pooled + p["council.virtual_value"] * aligned
        kept = (p["offer.reinvest_kept_share"] if self.levers["reinvest_savings"]
                else p["council.savings_kept_share"])
        savings = kept * p["council.savings_rate"] * (p["council.own_spend_m"] + money)
        pbr = p["offer.payment_by_results_m"] if self.month_index >= self.pbr_from else 0.0
        self.offer_value_m = (money + savings + p["council.pbr_value"] * pbr
                              + self.funding_boost_m
                              + p["council.evidence_weight_m"] * self.evidence
                              - p["council.setup_cost_m"])

    def _refresh_levels(self) -> None:
        self.levels = np.fromiter((c.level for c in self.council_list), dtype=np.int8,
                                  count=len(self.council_list))

    def _update_peer_share(self) -> None:
        matrix = (self.network.with_champions if self.levers["champions_network"]
                  else self.network.peers)
        self.peer_share = matrix @ (self.levels == DEVELOPING).astype(float)

    # ----------------------------------------------------------------- levers and log
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

    # ----------------------------------------------------------------- observables
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
        return self.count_developing / len(self.council_list)

    @property
    def target_count(self) -> int:
        """Councils needed to meet the target (76 of 152 for half)."""
        return int(np.ceil(self.params["timeline.target_share"] * len(self.council_list) - 1e-9))

    def needed_share(self) -> float:
        """The share the straight-line trajectory to the target needs by this month."""
        start = self.history[0] if self.history else self.share_developing
        span = max(1, self.target_index - self.start_index)
        progress = min(1.0, (self.month_index - self.start_index) / span)
        return start + (self.params["timeline.target_share"] - start) * progress

    @property
    def history(self) -> list[float]:
        """Share developing at each recorded month, from the start."""
        return self.datacollector.model_vars["share_developing"]

    @property
    def pooled_rate_m(self) -> float:
        """£m a year currently pooled by departments."""
        return sum(d.poolable_m for d in self.departments if d.level == POOL)

    @property
    def aligned_rate_m(self) -> float:
        """£m a year currently aligned (virtual pooling) by departments."""
        return sum(d.poolable_m for d in self.departments if d.level == ALIGN)

    def _reporters(self) -> dict[str, Any]:
        reporters: dict[str, Any] = {
            "month": "month",
            "developing": "count_developing",
            "exploring": "count_exploring",
            "share_developing": "share_developing",
            "evidence": "evidence",
            "offer_value_m": "offer_value_m",
            "pooled_m_per_year": "pooled_rate_m",
            "aligned_m_per_year": "aligned_rate_m",
        }
        for name in department_names():
            reporters[f"stance_{name}"] = partial(_department_stance, name=name)
        return reporters

    def timeseries(self) -> pd.DataFrame:
        """The monthly series collected so far, one row per month."""
        return self.datacollector.get_model_vars_dataframe().reset_index(drop=True)

    def outcomes(self) -> dict[str, Any]:
        """Flat dict of scalar outcomes of the run so far (see docs/ODD.md)."""
        months = self.datacollector.model_vars["month"]
        counts = self.datacollector.model_vars["developing"]
        target_step = self.target_index - self.start_index
        reached = next((months[i] for i, c in enumerate(counts) if c >= self.target_count),
                       None)
        at_target = counts[target_step] if target_step < len(counts) else None
        n = len(self.council_list)
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
            "first_cash_month": self._first_cash_month(),
            "pooled_m_total": sum(d.pooled_m for d in self.departments),
            "aligned_m_total": sum(d.aligned_m for d in self.departments),
            "ministerial_actions": sum(1 for a in self.action_log if "group" in a["actor"]),
        }
        series = self.datacollector.model_vars
        for d in self.departments:
            out[f"pooled_m_{d.name}"] = d.pooled_m
            out[f"aligned_m_{d.name}"] = d.aligned_m
            stances = series[f"stance_{d.name}"]
            out[f"stance_{d.name}_at_target"] = (stances[target_step]
                                                 if target_step < len(stances) else None)
            out[f"stance_{d.name}_final"] = d.stance
        return out

    def _first_cash_month(self) -> str | None:
        series = self.datacollector.model_vars
        months = series["month"]
        for i in range(len(months)):
            if any(series[f"stance_{d.name}"][i] == "pool" for d in self.departments):
                return months[i]
        return None

    def run_to_end(self) -> None:
        """Run month by month up to the scenario's last month."""
        remaining = self.end_index - self.month_index
        if remaining > 0:
            self.run_for(remaining)


@cache
def _authorities(copies: int) -> tuple[Authority, ...]:
    """The authorities, or `copies` synthetic copies of them in a row (scale benchmarks)."""
    if not isinstance(copies, int) or copies < 1:
        raise ValueError(f"copies must be a whole number >= 1, got {copies!r}")
    real = authorities()
    return real + tuple(replace(a, name=f"{a.name} #{k}")
                        for k in range(2, copies + 1) for a in real)


def _department_stance(model: CommunityBudgetModel, name: str) -> str:
    return next(d.stance for d in model.departments if d.name == name)


__all__ = ["CommunityBudgetModel", "COUNCIL_STATES"]
