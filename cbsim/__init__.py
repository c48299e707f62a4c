"""cbsim: an agent-based model of the UK community budgets programme (2010-13), on Mesa 3.5."""

from importlib.metadata import PackageNotFoundError, version

from cbsim.model import CommunityBudgetModel
from cbsim.parameters import Parameter, parameters
from cbsim.scenario import Scenario, load_scenario
from cbsim.simulate import simulate

try:
    __version__ = version("cbsim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["CommunityBudgetModel", "Parameter", "Scenario", "load_scenario", "parameters",
           "simulate", "__version__"]
