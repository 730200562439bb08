"""The solver-neutral routing problem: integer matrices and index maps in, ordered stops out.

One ``RoutingProblem`` is one school, one shift and one direction. Node 0 is the school; nodes
``1..n`` are stops. Nothing here knows about OR-Tools (or any solver); backends in this package
translate it.

Timing semantics (all integer seconds after midnight)
-----------------------------------------------------
``TO_SCHOOL``: a route visits stops ``p1 … pm`` and then the school. The bus arrives at the school
no later than ``school_time_s`` (bell minus arrival buffer). A stop's pupils ride from the moment
the bus *leaves* their stop (after its service) until it *arrives* at the school::

    ride(pk) = arrive(school) - (arrive(pk) + service(pk))  <=  max_ride_s[pk]

``FROM_SCHOOL``: the bus leaves the school at ``school_time_s`` (dismissal plus dwell) and visits
stops ``p1 … pm``; pupils ride from leaving school until the bus reaches their stop::

    ride(pk) = arrive(pk) - school_time_s  <=  max_ride_s[pk]

Because every pupil on a route shares the school time, each ride limit is exactly a time window
on its stop; backends may rely on that.

Route duration (for ``max_duration_s``) runs from the first arrival at a stop to the arrival at the
school (``TO_SCHOOL``), or from leaving the school to the last stop's departure (``FROM_SCHOOL``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schoolbus.errors import RoadNetworkError, SolverError
from schoolbus.model import Direction, Reason

SCHOOL_NODE = 0
"""Index of the school in every matrix of a ``RoutingProblem``."""

COST_UNITS_PER_MONEY = 100_000
"""Integer cost units per unit of ``fixed_cost`` in every backend (``cost_per_km`` is per 1000 m),
so that all backends weigh routes against driving alike."""

MAX_COST = 2**62
"""Largest total an integer objective may reach in any backend (int64 with a margin for sums)."""

DISTANCE_TIE_BREAK_PER_M = 1
"""Cost units every backend adds per metre driven, whatever the class's ``cost_per_km``.

It is 0.01 money units per km: too small to trade against a vehicle, large enough that a fleet
priced per day only (``cost_per_km`` 0) still gets short, sensible routes instead of arbitrary ones.
"""


def to_solver_seconds(seconds: float) -> int:
    """Round a float duration up to whole seconds for the solvers.

    This is the one place schoolbus rounds times for integer solvers. Rounding *up* keeps every
    integer plan feasible under the exact float rules (a tolerance of 1e-6 s absorbs float noise).
    """
    return int(math.ceil(seconds - 1e-6))


def seconds_matrix(seconds: np.ndarray) -> np.ndarray:
    """Vectorised :func:`to_solver_seconds` for travel-time matrices (returns ``int64``).

    Raises
    ------
    RoadNetworkError
        When an entry is infinite or NaN: some place cannot be reached from another, which the
        strongly connected road graphs rule out, so the caller has mixed up graphs.
    """
    values = np.asarray(seconds, dtype=float)
    if not np.isfinite(values).all():
        n_bad = int((~np.isfinite(values)).sum())
        raise RoadNetworkError(f"{n_bad} travel time(s) are unreachable (infinite) between planned places")
    return np.ceil(values - 1e-6).astype(np.int64)


@dataclass(frozen=True)
class VehicleClass:
    """A vehicle type as the solver sees it.

    ``fixed_cost`` is charged once per route that uses a vehicle of this class and dominates the
    distance cost, so that fewer vehicles win; ``max_routes`` bounds how many routes may use the
    class (``None``: unbounded).
    """

    type_id: str
    capacity: int
    wheelchair_places: int
    fixed_cost: int
    cost_per_km: int = 0
    max_routes: int | None = None


@dataclass(frozen=True)
class RoutingProblem:
    """One school, shift and direction as integer data.

    Attributes
    ----------
    name : str
        Label for logs, e.g. ``"S1/morning/to_school"``.
    direction : Direction
        ``TO_SCHOOL`` (stops then school) or ``FROM_SCHOOL`` (school then stops).
    time_s : ndarray of int64, shape (n+1, n+1)
        Drive time between nodes with pupils aboard, seconds; node 0 is the school. Finite and
        non-negative: an unreachable pair needs a finite time beyond every limit, since
        ``seconds_matrix`` turns ``inf`` into a huge negative number. It need not obey the
        triangle inequality (backends must not assume the direct drive is the fastest).
    distance_m : ndarray of int64, shape (n+1, n+1)
        Drive distance between nodes, metres.
    demand : ndarray of int64, shape (n+1,)
        Seats each stop needs (0 for the school).
    wheelchair_demand : ndarray of int64, shape (n+1,)
        Wheelchair places each stop needs (0 for the school); counted apart from ``demand``, so a
        pupil needing both a place and a seat appears in both.
    service_s : ndarray of int64, shape (n+1,)
        Service time at each stop, seconds; entry 0 is ignored (dwell is handled by scheduling).
    max_ride_s : ndarray of int64, shape (n+1,)
        Ride limit of each stop's pupils (the tightest among them), seconds; entry 0 is ignored.
    school_time_s : int
        ``TO_SCHOOL``: latest arrival at the school. ``FROM_SCHOOL``: departure from the school.
    vehicle_classes : tuple of VehicleClass
        The fleet available for this problem.
    max_duration_s : int or None
        Optional cap on every route's duration (see the module docstring).
    """

    name: str
    direction: Direction
    time_s: np.ndarray
    distance_m: np.ndarray
    demand: np.ndarray
    wheelchair_demand: np.ndarray
    service_s: np.ndarray
    max_ride_s: np.ndarray
    school_time_s: int
    vehicle_classes: tuple[VehicleClass, ...]
    max_duration_s: int | None = None

    @property
    def n_stops(self) -> int:
        """Number of stops (nodes ``1..n``)."""
        return int(self.time_s.shape[0]) - 1


@dataclass(frozen=True)
class IntegerCosts:
    """A problem's objective in integer cost units, the same for every backend.

    ``per_m`` and ``fixed`` map a vehicle class (index into ``vehicle_classes``) to its cost per
    metre (price per km plus ``DISTANCE_TIE_BREAK_PER_M``) and per route; ``drop`` is, per
    candidate stop in the order given, what leaving it unrouted costs.
    """

    per_m: dict[int, int]
    fixed: dict[int, int]
    drop: tuple[int, ...]


def integer_costs(
    problem: RoutingProblem, candidates: Sequence[int], fleet: Sequence[int]
) -> IntegerCosts:
    """The integer objective of routing ``candidates`` with ``fleet`` (a class index per route).

    Dropping a stop costs more than any set of routes (every route's fixed cost plus the dearest
    arc on every arc a model of the school, the stops, an open route end and the fleet can use),
    so a search drops only what it cannot carry; weighting by pupils makes it keep the fuller
    stops when the fleet runs short.

    Raises
    ------
    SolverError
        When the costs would overflow a 64-bit integer objective (``MAX_COST``).
    """
    class_ids = sorted(set(fleet))
    per_m = {
        c: problem.vehicle_classes[c].cost_per_km * COST_UNITS_PER_MONEY // 1000
        + DISTANCE_TIE_BREAK_PER_M
        for c in class_ids
    }
    fixed = {c: problem.vehicle_classes[c].fixed_cost * COST_UNITS_PER_MONEY for c in class_ids}
    nodes = np.asarray([SCHOOL_NODE, *candidates], dtype=np.int64)
    max_arc = int(problem.distance_m[np.ix_(nodes, nodes)].max(initial=0)) * max(
        per_m.values(), default=0
    )
    n_model_nodes = len(nodes) + 1  # the school, the stops and the open end of every route
    drop_unit = sum(fixed[c] for c in fleet) + (n_model_nodes + len(fleet)) * max_arc + 1
    stops = nodes[1:]
    weight = np.maximum(1, problem.demand[stops] + problem.wheelchair_demand[stops])
    if drop_unit * int(weight.sum()) > MAX_COST:
        raise SolverError(f"{problem.name}: costs too large for the integer solver")
    return IntegerCosts(per_m, fixed, tuple(drop_unit * int(w) for w in weight))


@dataclass(frozen=True)
class Route:
    """One vehicle's route in a solution.

    ``stops`` are node indices (``>= 1``) in visiting order; ``arrive_s[k]`` is the bus's arrival at
    ``stops[k]``; ``school_s`` is the arrival at (``TO_SCHOOL``) or departure from
    (``FROM_SCHOOL``) the school.
    """

    vehicle_class: str
    stops: tuple[int, ...]
    arrive_s: tuple[int, ...]
    school_s: int


@dataclass(frozen=True)
class Unrouted:
    """A stop the solver left out, with the reasons (at least one)."""

    stop: int
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class RoutingSolution:
    """Routes for one ``RoutingProblem`` plus the stops it could not serve."""

    problem_name: str
    routes: tuple[Route, ...]
    unrouted: tuple[Unrouted, ...] = ()
    is_time_capped: bool = False
    """A time cap (``SolverParams.time_limit_s``), not the deterministic work limit, ended a
    search: these routes may differ between runs on a busier or slower machine."""
