"""What a run shows: counts, shares, the trajectory to the target and the run's outcomes.

`ProgrammeObservables` is the read-only side of `cbsim.model.rules.ProgrammeRules` (which
inherits it): everything here reads the state the rules keep and the months the host records
(`series`, a `HostHooks` method), and changes nothing. No Mesa, pandas or scipy here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cbsim.inputs.months import format_month, parse_month
from cbsim.model.host import ALIGN, DEVELOPING, EXPLORING, POOL, HostBase

if TYPE_CHECKING:
    from cbsim.model.costs import CostLedger
    from cbsim.model.rules import DepartmentRules


class ProgrammeObservables(HostBase):
    """Observables of a programme run (see `ProgrammeRules` for the state they read)."""

    levels: np.ndarray
    departments: list[DepartmentRules]
    params: dict[str, Any]
    scenario_name: str
    month_index: int
    start_index: int
    target_index: int
    evidence: float
    pbr_signed: np.ndarray
    action_log: list[dict[str, str]]
    costs: CostLedger

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
    def count_pbr_signed(self) -> int:
        """Councils signed up to the payment-by-results programme (not a community budget)."""
        return int(np.count_nonzero(self.pbr_signed))

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
        """Flat dict of scalar outcomes of the run so far (see docs/ODD.md; the costs to
        the centre, `central_cost_m` and its parts, are defined in docs/costs.md)."""
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
            "pooled_m_total": sum(d.pooled_m for d in self.departments),  # a transfer
            "aligned_m_total": sum(d.aligned_m for d in self.departments),
            "ministerial_actions": sum(1 for a in self.action_log if "group" in a["actor"]),
            "pbr_signed_final": self.count_pbr_signed,
            "pbr_share_final": self.count_pbr_signed / n,
            "pbr_share_at_check": self._share_signed_at(series, self.params["pbr.check_month"]),
            "month_pbr_95": next(
                (months[i] for i, c in enumerate(series["pbr_signed"]) if c >= 0.95 * n), None
            ),
            **self.costs.outcomes(target_recorded=0 <= target_step < len(counts)),
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

    def _share_signed_at(self, series: dict[str, list], month: str) -> float | None:
        """Share of councils in the payment-by-results programme at `month` (None outside
        the run)."""
        step = parse_month(month) - self.start_index
        signed = series["pbr_signed"]
        return signed[step] / len(self.levels) if 0 <= step < len(signed) else None

    def _first_cash_month(self, series: dict[str, list]) -> str | None:
        months = series["month"]
        for i in range(len(months)):
            if any(series[f"stance_{d.name}"][i] == "pool" for d in self.departments):
                return months[i]
        return None
