"""Routing backends: what a search must offer (:class:`RoutingBackend`) and where each one lives.

A backend only searches; :func:`schoolbus.routing.solve.solve_routing` screens, repairs, times and
checks whatever it returns. Backends are modules, listed by name in :data:`BACKEND_MODULES` and
imported on first use, since each pulls in its solver (PyVRP, OR-Tools).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from schoolbus.errors import SolverError
from schoolbus.params import SolverParams
from schoolbus.routing.problem import RoutingProblem

BACKEND_MODULES: dict[str, str] = {
    "ortools": "schoolbus.routing.ortools_backend",
    "pyvrp": "schoolbus.routing.pyvrp_backend",
}
"""Backend name (``SolverParams.routing_backend``) → module implementing :class:`RoutingBackend`."""


@runtime_checkable
class RoutingBackend(Protocol):
    """A search over one routing problem (a module with this function is a backend)."""

    def solve_model(
        self,
        problem: RoutingProblem,
        params: SolverParams,
        candidates: Sequence[int],
        fleet: Sequence[int],
    ) -> tuple[list[tuple[int, tuple[int, ...]]], list[int], bool]:
        """Route ``candidates`` with ``fleet``; return sequences, dropped stops and ``is_time_capped``.

        Parameters
        ----------
        problem : RoutingProblem
            One school, shift and direction; integer seconds and metres.
        params : SolverParams
            ``seed`` and ``time_limit_s`` (turned by the backend into a fixed amount of work, with
            the CPU time as a safety cap).
        candidates : sequence of int
            Problem nodes of the stops to route, in the order they enter the model.
        fleet : sequence of int
            The vehicle class (index into ``problem.vehicle_classes``) of each vehicle.

        Returns
        -------
        sequences : list of (int, tuple of int)
            Vehicle class and stops in visiting order of every route that serves a stop.
        dropped : list of int
            The candidates no route serves.
        is_time_capped : bool
            Whether the time cap, not the work budget, ended the search.
        """
        ...


def routing_backend(name: str) -> RoutingBackend:
    """The backend registered as ``name``, imported on first use.

    Raises
    ------
    SolverError
        When no backend is registered under ``name``.
    """
    module = BACKEND_MODULES.get(name)
    if module is None:
        raise SolverError(f"unknown routing backend {name!r}; expected one of {', '.join(BACKEND_MODULES)}")
    backend: RoutingBackend = importlib.import_module(module)
    return backend
