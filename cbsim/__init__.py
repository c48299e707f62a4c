"""cbsim: an agent-based model of the UK community budgets programme (2010-13), on Mesa 3.5."""

# The public names are imported on first use (PEP 562), so that ``import cbsim.sweep`` or
# the ``cbsim`` command does not load the model, Mesa or pandas unless it needs them.

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cbsim.model import CommunityBudgetModel
    from cbsim.parameters import Parameter, parameters
    from cbsim.scenario import Scenario, load_scenario
    from cbsim.simulate import simulate

_LAZY = {  # public name: module it comes from
    "CommunityBudgetModel": "cbsim.model",
    "Parameter": "cbsim.parameters",
    "parameters": "cbsim.parameters",
    "Scenario": "cbsim.scenario",
    "load_scenario": "cbsim.scenario",
    "simulate": "cbsim.simulate",
}

__all__ = ["CommunityBudgetModel", "Parameter", "Scenario", "load_scenario", "parameters",
           "simulate", "__version__"]


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


class _Package(types.ModuleType):
    """`cbsim.simulate` and `cbsim.parameters` are functions, as before the imports were lazy.

    Importing the submodules of the same names makes Python set them as attributes of the
    package; the function of the same name is kept instead (the module stays importable).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if (isinstance(value, types.ModuleType) and value.__name__ == _LAZY.get(name)
                and hasattr(value, name)):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
