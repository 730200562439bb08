"""schoolbus: school-transport route planning and scheduling over OpenStreetMap roads.

The public API is the names in ``__all__``; everything else lives in submodules and may change.
Only the error classes are imported eagerly: the rest is imported on first use (PEP 562), so that
``import schoolbus`` stays light for the command line and the service.

Examples
--------
>>> import schoolbus
>>> scenario = schoolbus.load_scenario("students.csv", "schools.csv")  # doctest: +SKIP
>>> network = schoolbus.load_network(osm="district.osm.pbf")  # doctest: +SKIP
>>> result = schoolbus.plan(scenario, network, schoolbus.SolverParams(seed=0))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from schoolbus.errors import InputError, PlanCheckError, RoadNetworkError, SchoolbusError, SolverError

__version__ = "0.1.0"

# Public name -> module that defines it, imported when the name is first used.
_LAZY: dict[str, str] = {
    "load_scenario": "schoolbus.ingest",
    "load_network": "schoolbus.network",
    "plan": "schoolbus.pipeline",
    "write_outputs": "schoolbus.pipeline",
    "compare_scenarios": "schoolbus.pipeline",
    "check_plan": "schoolbus.check",
    "replan": "schoolbus.replan",
    "read_plan": "schoolbus.planfile",
    "read_changes": "schoolbus.changes",
    "make_executor": "schoolbus.executor",
    "Scenario": "schoolbus.model",
    "Plan": "schoolbus.model",
    "SolverParams": "schoolbus.params",
}

if TYPE_CHECKING:
    from schoolbus.changes import read_changes
    from schoolbus.check import check_plan
    from schoolbus.executor import make_executor
    from schoolbus.ingest import load_scenario
    from schoolbus.model import Plan, Scenario
    from schoolbus.network import load_network
    from schoolbus.params import SolverParams
    from schoolbus.pipeline import compare_scenarios, plan, write_outputs
    from schoolbus.planfile import read_plan
    from schoolbus.replan import replan

__all__ = [
    "InputError",
    "Plan",
    "PlanCheckError",
    "RoadNetworkError",
    "Scenario",
    "SchoolbusError",
    "SolverError",
    "SolverParams",
    "__version__",
    "check_plan",
    "compare_scenarios",
    "load_network",
    "load_scenario",
    "make_executor",
    "plan",
    "read_changes",
    "read_plan",
    "replan",
    "write_outputs",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'schoolbus' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(ModuleType):
    """Keeps ``schoolbus.replan`` the function when the submodule of that name is imported.

    Importing ``schoolbus.replan`` (the module) makes the import system set the package attribute
    ``replan`` to the module, which would hide the public function of the same name depending on
    import order. A submodule named like a public function therefore stands for that function,
    as if it had been imported eagerly (``from schoolbus.replan import replan``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and _LAZY.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
