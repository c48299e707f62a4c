"""The Whitehall side of the rules: departments and ministerial groups.

Part of the rules written once for both hosts (see cbsim.model.rules for the month's order):

- `DepartmentRules`: a department weighs withholding, aligning (virtual pooling) or pooling
  its funding stream, and changes stance one step at a time after negotiating.
- `MinisterialRules`: the officials' and ministers' groups take stock and, when behind,
  sweeten the offer or press a department.

No Mesa, pandas or scipy here.
"""

from __future__ import annotations

from cbsim.inputs.reference import STANCES
from cbsim.model.host import ALIGN, POOL, WITHHOLD, ProgrammeHost


class DepartmentRules:
    """A Whitehall department choosing to withhold, align or pool its funding streams.

    The host class provides `model`, the programme (`cbsim.model.host.ProgrammeHost`).
    """

    model: ProgrammeHost

    def setup_department(
        self,
        name: str,
        poolable_m: float,
        stance: str,
        floor: str,
        return_share: float,
        risk_aversion: float,
        main: bool,
        pilots_asked: bool = False,
    ) -> None:
        """Set the department's traits and starting stance."""
        self.name = name
        self.poolable_m = poolable_m
        self.level = STANCES.index(stance)
        self.floor = STANCES.index(floor)
        self.return_share = return_share
        self.risk_aversion = risk_aversion
        self.main = main
        self.pilots_asked = pilots_asked
        self.pressure = 0.0
        self.wanted = self.level
        self.months_wanting = 0
        self.pooled_m = 0.0  # cumulative £m pooled over the run
        self.aligned_m = 0.0  # cumulative £m aligned over the run

    @property
    def stance(self) -> str:
        """withhold, align or pool."""
        return STANCES[self.level]

    def floor_now(self) -> int:
        """The lowest stance allowed this month: the department's floor while its dates
        apply, pool for a main department under national pooling, else withhold."""
        m = self.model
        floor = self.floor if m.policy_active(f"departments.{self.name}.floor") else WITHHOLD
        if self.main and m.national_pooling_active:
            floor = POOL
        return floor

    def utilities(self) -> tuple[float, float, float]:
        """Payoff of withholding, aligning and pooling this month, per £1 of its stream.

        Roman's wrong pocket: of the savings each £1 pooled is believed to produce (the
        savings per £1 times the pilots' evidence that they happen), the department gets back
        its `return_share`; evidence and ministers' pressure add to the pull; its risk
        aversion is the price of losing control. Withholding is worth 0.
        """
        m = self.model
        p = m.params
        benefit = (
            self.return_share * p["department.savings_per_pound"] * m.evidence
            + self.pressure
            + p["department.evidence_weight"] * m.evidence
        )
        pool = benefit - self.risk_aversion
        align = (
            p["department.align_benefit"] * benefit
            - p["department.align_risk"] * self.risk_aversion
        )
        return 0.0, align, pool

    def step(self, gumbel: list[float] | None = None) -> None:
        """Judge the best stance (with noise); take one step toward it after negotiating.

        `gumbel` is the month's three standard Gumbel draws (`ProgrammeRules.step` draws
        every department's at once), drawn here when not given: the same numbers.
        """
        if gumbel is None:
            gumbel = self.model.rng.gumbel(0.0, 1.0, size=3).tolist()
        noise = self.model.dept_noise
        scores = [u + e * noise for u, e in zip(self.utilities(), gumbel, strict=True)]
        floor = self.floor_now()
        best = floor
        for level in range(floor + 1, 3):  # the first best stance at or above the floor
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

    The host class provides `model`, the programme (`cbsim.model.host.ProgrammeHost`).
    """

    model: ProgrammeHost

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
        """Raise pressure on one department not pooling, by a stated rule.

        First the departments whose money the pilots asked for (`departments.X.pilots_asked`:
        DWP's ESF money, "the single biggest frustration", sources.md), then the others;
        among those, the least engaged (lowest stance, then least willing to pool).
        """
        m = self.model
        cap = m.params["ministerial.max_pressure"]
        candidates = [d for d in m.departments if d.level < POOL and d.pressure < cap]
        if not candidates:
            return
        target = min(
            candidates,
            key=lambda d: (not d.pilots_asked, d.level, d.utilities()[POOL], d.name),
        )
        target.pressure = min(cap, target.pressure + m.params["ministerial.pressure_step"])
        m.log_action(self.name, f"pressure on {target.name} raised to {target.pressure:.2f}")

    def sweeten_offer(self) -> None:
        """Pull the next lever allowed by the scenario that is not pulled yet."""
        m = self.model
        for lever in m.params["ministerial.sweeteners"]:
            if lever == "funding_boost":
                m.funding_boost_m += m.params["ministerial.boost_step_m"]
                m.open_window("offer.funding_boost")
                m.log_action(
                    self.name, f"funding boost raised to £{m.funding_boost_m:.1f}m per council"
                )
                return
            if not m.lever_on(lever):
                m.pull_lever(lever)
                m.log_action(self.name, f"offer sweetened: {lever.replace('_', ' ')}")
                return
