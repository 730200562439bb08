"""schoolbus: school-transport route planning and scheduling over OpenStreetMap roads."""

from schoolbus.errors import InputError, PlanCheckError, RoadNetworkError, SchoolbusError, SolverError

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "PlanCheckError",
    "RoadNetworkError",
    "SchoolbusError",
    "SolverError",
    "__version__",
]
