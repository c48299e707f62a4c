"""The contract between the rules (cbsim.model.rules) and the two hosts that run them.

- `ProgrammeHost`: the programme as an agent's rules see it: `DepartmentRules.model` and
  `MinisterialRules.model` are one. Both hosts satisfy it through `ProgrammeRules`.
- `HostHooks`: what a host class adds to `ProgrammeRules`: how its councils, departments
  and groups are made, how a month's council moves are applied and how a month is
  recorded.
- `HostBase`: both protocols, the base of `ProgrammeRules` for mypy only: mypy checks
  `ProgrammeRules` against `ProgrammeHost` and refuses to build a host that lacks a hook.
- `DepartmentSpec`: a department's traits as read from the scenario.
- The state codes both hosts share: a council's level (`NONE`, `EXPLORING`, `DEVELOPING`) and a
  department's (`WITHHOLD`, `ALIGN`, `POOL`, indices into `cbsim.inputs.reference.STANCES`).

No Mesa here, and nothing imported at run time but numpy and typing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypedDict

import numpy as np

if TYPE_CHECKING:
    from cbsim.model.rules import DepartmentRules, MinisterialRules

COUNCIL_STATES = ("none", "exploring", "developing")
NONE, EXPLORING, DEVELOPING = 0, 1, 2
WITHHOLD, ALIGN, POOL = 0, 1, 2


class DepartmentSpec(TypedDict):
    """Keyword arguments of `DepartmentRules.setup_department` (one department)."""

    name: str
    poolable_m: float
    stance: str
    floor: str
    return_share: float
    risk_aversion: float
    main: bool
    pilots_asked: bool


class ProgrammeHost(Protocol):
    """The programme as its departments' and ministerial groups' rules see it."""

    rng: np.random.Generator
    params: dict[str, Any]
    levels: np.ndarray  # each council's state (int8: none, exploring, developing)
    departments: list[DepartmentRules]
    evidence: float  # the pilots' evidence, 0..1
    dept_noise: float  # scale of the departments' Gumbel noise
    negotiation_months: int  # months a department must want a change before it happens
    month_index: int
    stocktake_due: bool
    funding_boost_m: float

    @property
    def national_pooling_active(self) -> bool:
        """True when national pooling is on and its start month has come."""
        ...

    @property
    def share_developing(self) -> float:
        """Share of councils developing a community budget."""
        ...

    def needed_share(self) -> float:
        """The share the straight-line trajectory to the target needs by this month."""
        ...

    def policy_active(self, key: str) -> bool:
        """Whether a dated policy (`<key>_from`, `<key>_until`) applies this month."""
        ...

    def open_window(self, key: str) -> None:
        """Let a dated policy apply from this month on."""
        ...

    def lever_on(self, lever: str) -> bool:
        """Whether an on/off lever of the offer is pulled."""
        ...

    def pull_lever(self, lever: str) -> None:
        """Switch a lever of the offer on from this month."""
        ...

    def log_action(self, actor: str, action: str) -> None:
        """Record an action of a ministerial group or department for the log."""
        ...


class HostHooks(Protocol):
    """What a host class supplies to `ProgrammeRules` (construction, the month, the record).

    `ProgrammeRules.build_programme` and `ProgrammeRules.step` call these, and only these,
    at the points that cbsim.model.rules describes.
    """

    def place_councils(self, levels: np.ndarray) -> None:
        """Create the councils at their starting `levels` and set `self.levels`."""
        ...

    def add_department(self, spec: DepartmentSpec) -> DepartmentRules:
        """Create one department (`DepartmentRules.setup_department(**spec)`), return it."""
        ...

    def add_group(self, name: str, role: str, active_from: int) -> MinisterialRules:
        """Create one ministerial group (`MinisterialRules.setup_group`), return it."""
        ...

    def apply_council_moves(self, moves: np.ndarray) -> None:
        """Move each council with `moves[i]` one state on and update `self.levels`."""
        ...

    def record_month(self) -> None:
        """Record the month as it now stands (at the start, then after each month)."""
        ...

    def series(self) -> dict[str, list]:
        """The recorded months: "month", "developing", "share_developing",
        "pbr_signed" and "stance_<department>" lists, one entry per recorded month."""
        ...


if TYPE_CHECKING:

    class HostBase(ProgrammeHost, HostHooks, Protocol):
        """Both protocols at once: the base of `ProgrammeRules`, for mypy."""

else:
    # The base of `ProgrammeRules` (through `ProgrammeObservables`). For mypy it is both
    # protocols: `ProgrammeRules` is checked against `ProgrammeHost`, and the hooks are
    # abstract members, so a host that lacks one cannot be instantiated. At run time it is
    # `object`: a Protocol among a class's bases puts its no-op ``__init__`` ahead of
    # `mesa.Model.__init__` in the MRO, which would swallow `CommunityBudgetModel`'s
    # ``super().__init__(rng=rng)``.
    HostBase = object
