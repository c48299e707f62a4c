"""The model: the rules written once (`rules`, with construction and the month's order; what a
run shows in `observables`), the contract between rules and hosts (`host`), the Mesa host
(`agents`, `model`), the Mesa-free kernel (`kernel`) behind `simulate`, the peer network and
its planned draws.

Names are imported on first use, so a sweep worker that needs only the kernel never loads
Mesa or pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cbsim.model.model import CommunityBudgetModel
    from cbsim.model.simulate import simulate

_LAZY = {"CommunityBudgetModel": "cbsim.model.model", "simulate": "cbsim.model.simulate"}
__all__ = ["CommunityBudgetModel", "simulate"]


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
