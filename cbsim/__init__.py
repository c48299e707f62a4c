"""cbsim: an agent-based model of the UK community budgets programme (2010-13), on Mesa 3.5."""

# The public names are imported on first use (PEP 562), so that ``import cbsim.sweep.run`` or
# the ``cbsim`` command does not load the model, Mesa or pandas unless it needs them.

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cbsim.inputs.parameters import Parameter, parameters
    from cbsim.inputs.scenario import Scenario, load_scenario
    from cbsim.model.model import CommunityBudgetModel
    from cbsim.model.simulate import simulate

_LAZY = {  # public name: module it comes from
    "CommunityBudgetModel": "cbsim.model.model",
    "Parameter": "cbsim.inputs.parameters",
    "parameters": "cbsim.inputs.parameters",
    "Scenario": "cbsim.inputs.scenario",
    "load_scenario": "cbsim.inputs.scenario",
    "simulate": "cbsim.model.simulate",
}

__all__ = [
    "CommunityBudgetModel",
    "Parameter",
    "Scenario",
    "load_scenario",
    "parameters",
    "simulate",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use, and keep it."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    elif name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("cbsim")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0+unknown"
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
