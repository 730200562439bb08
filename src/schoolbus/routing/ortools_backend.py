"""The OR-Tools routing backend: search one :class:`~schoolbus.routing.problem.RoutingProblem`.

This is the only module of schoolbus that imports ``ortools``. ``solve_model`` builds the model in
the order of the OR-Tools samples (data, index manager, callbacks, dimensions, search) and solves
it with a deterministic work limit; ``schoolbus.routing.solve`` does the solver-neutral rest
(screening, repair, times, checks).

Model
-----
* Nodes: 0 is the school, ``1..m`` the stops worth solving for, ``m + 1`` a dummy node. A
  ``TO_SCHOOL`` route starts at the dummy and ends at the school; a ``FROM_SCHOOL`` route starts at
  the school and ends at the dummy. Arcs to and from the dummy cost nothing and take no time, so
  routes are open: the drive between depot and route (deadhead) is the scheduler's business.
* Vehicles: one OR-Tools vehicle per route a vehicle class may run, so a mixed fleet is a set of
  vehicles with different capacities, arc costs and fixed costs.
* Time: transit ``i -> j`` is the drive ``time_s[i, j]`` plus the service at ``i``; no waiting
  (slack 0). Ride limits become time windows because every pupil of a route shares the school
  time (see ``problem.py``), on a shifted clock that keeps every window non-negative.
* Stops the fleet cannot reach within its route limits are optional (a disjunction with a penalty
  larger than any route cost, weighted by the pupils the stop carries), so the solver serves as
  many pupils as it can and reports the rest instead of failing.

Search
------
``PATH_CHEAPEST_ARC`` first solution, then guided local search. Measured on seeded random metric
instances (12 km square, 30 km/h, 1-8 pupils a stop, vans/midibuses/buses: 120 and 150 stops,
both directions, ride limits 45 and 30 min, 3 seeds each, so 24 runs per strategy) after 400 000
limit checks (1-4 s wall clock on 2 cores at load 6): cheapest arc gave 12-22 routes, parallel
cheapest insertion 25-42, on every one of the 24 instances more than cheapest arc. On 120 stops
to school, savings (22-26), local cheapest insertion (25-28) and global cheapest arc (18) were
also worse. The insertion heuristics open many routes at once, and guided local search seldom
empties a route to win back its fixed cost.

The search ends on a deterministic amount of work (``_WorkLimit``), so the same problem and seed
give the same routes however busy the machine is; ``SolverParams.time_limit_s`` caps the CPU time
of the search only as a safety net.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from schoolbus.errors import SolverError
from schoolbus.model import Direction
from schoolbus.params import SolverParams
from schoolbus.routing.problem import SCHOOL_NODE, RoutingProblem, integer_costs

WORK_PER_SQUARED_SIZE = 10
"""Search effort per squared model size ``(nodes + vehicles)**2``, in limit checks (``_WorkLimit``).

Local-search neighbourhoods grow with the square of the model, so every problem gets about the
same number of sweeps over its neighbourhoods: about 370 000 checks for 120 stops and 70
vehicles, about 1 s of CPU time."""

MIN_WORK = 20_000
"""Floor of the search effort in limit checks: hundredths of a second, thorough on tiny cases."""

WORK_PER_LIMIT_SECOND = 100_000
"""Ceiling of the search effort per second of ``SolverParams.time_limit_s``, in limit checks.

Measured at 210 000 (300 stops, to school) to 1 000 000 (150 stops, from school) checks per second
of CPU time, so the work limit, not the CPU-time cap, ends the search, with a margin for slower
CPUs."""

WALL_CLOCK_FACTOR = 10
"""OR-Tools' wall-clock limit, in multiples of ``time_limit_s``: a last guard that only a machine
ten times oversubscribed would reach (see ``_WorkLimit``)."""

CPU_CLOCK_PERIOD = 1024
"""Limit checks between two readings of the CPU clock for the safety cap."""

# --------------------------------------------------------------------------------------------------
# The OR-Tools model
# --------------------------------------------------------------------------------------------------


def solve_model(
    problem: RoutingProblem,
    params: SolverParams,
    candidates: Sequence[int],
    fleet: Sequence[int],
) -> tuple[list[tuple[int, tuple[int, ...]]], list[int], bool]:
    """Build and solve the OR-Tools model; return ``(class, stops)`` per route, dropped stops, and
    whether a time cap rather than the work limit ended the search.

    ``fleet`` lists the vehicle class (index into ``problem.vehicle_classes``) of each vehicle.
    """
    # ---- data: model node i is problem node nodes[i]; the dummy is the last model node ----------
    nodes = [SCHOOL_NODE, *candidates]
    n_model = len(nodes) + 1
    dummy = n_model - 1
    is_to_school = problem.direction is Direction.TO_SCHOOL
    idx = np.asarray(nodes)

    service_s = np.zeros(n_model, dtype=np.int64)
    service_s[1:dummy] = problem.service_s[idx[1:]]
    time_s = np.zeros((n_model, n_model), dtype=np.int64)
    time_s[:dummy, :dummy] = problem.time_s[np.ix_(idx, idx)]
    transit_s = time_s + service_s[:, None]  # service at the from-node, zero at school and dummy
    transit_s[dummy, :] = 0
    distance_m = np.zeros((n_model, n_model), dtype=np.int64)
    distance_m[:dummy, :dummy] = problem.distance_m[np.ix_(idx, idx)]

    seats = np.zeros(n_model, dtype=np.int64)
    seats[1:dummy] = problem.demand[idx[1:]]
    places = np.zeros(n_model, dtype=np.int64)
    places[1:dummy] = problem.wheelchair_demand[idx[1:]]
    max_ride_s = np.zeros(n_model, dtype=np.int64)
    max_ride_s[1:dummy] = problem.max_ride_s[idx[1:]]

    costs = integer_costs(problem, candidates, fleet)
    class_ids = sorted(costs.fixed)
    arc_cost = {c: distance_m * costs.per_m[c] for c in class_ids}

    # ---- index manager --------------------------------------------------------------------------
    starts = [dummy if is_to_school else SCHOOL_NODE] * len(fleet)
    ends = [SCHOOL_NODE if is_to_school else dummy] * len(fleet)
    manager = pywrapcp.RoutingIndexManager(n_model, len(fleet), starts, ends)
    routing = pywrapcp.RoutingModel(manager)

    # ---- callbacks: matrices and vectors evaluated in C++, no Python call per arc ---------------
    time_cb = routing.RegisterTransitMatrix(transit_s.tolist())
    cost_cb = {c: routing.RegisterTransitMatrix(arc_cost[c].tolist()) for c in class_ids}
    seats_cb = routing.RegisterUnaryTransitVector(seats.tolist())
    places_cb = routing.RegisterUnaryTransitVector(places.tolist())
    for v, c in enumerate(fleet):
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[c], v)
        routing.SetFixedCostOfVehicle(costs.fixed[c], v)

    # ---- dimensions -----------------------------------------------------------------------------
    routing.AddDimensionWithVehicleCapacity(
        seats_cb, 0, [problem.vehicle_classes[v].capacity for v in fleet], True, "seats"
    )
    if places.any():
        routing.AddDimensionWithVehicleCapacity(
            places_cb,
            0,
            [problem.vehicle_classes[v].wheelchair_places for v in fleet],
            True,
            "wheelchair",
        )
    # The solver clock is shifted so every window is non-negative: TO_SCHOOL puts the school time at
    # `horizon`, FROM_SCHOOL puts the departure at 0. Slack 0: a bus never waits, which loses no
    # route (the latest no-wait schedule is feasible whenever any schedule is) and prunes harder.
    horizon = int((max_ride_s + service_s).max())
    routing.AddDimension(time_cb, 0, horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for i in range(1, dummy):
        index = manager.NodeToIndex(i)
        # Only the ride limits: a bound from the direct drive to or from the school would be wrong
        # when a path through other stops is faster (a matrix that breaks the triangle inequality).
        if is_to_school:
            # depart(i) >= arrive(school) - max_ride(i) and arrive(school) <= school time
            time_dim.CumulVar(index).SetRange(
                horizon - int(max_ride_s[i]) - int(service_s[i]), horizon - int(service_s[i])
            )
        else:
            time_dim.CumulVar(index).SetRange(0, int(max_ride_s[i]))
    for v in range(len(fleet)):
        if is_to_school:
            time_dim.CumulVar(routing.End(v)).SetMax(horizon)
        else:
            time_dim.CumulVar(routing.Start(v)).SetValue(0)
        if problem.max_duration_s is not None:
            # Span runs first stop -> school arrival (TO) or school -> last departure (FROM),
            # as the dummy arcs take no time and carry the last stop's service.
            time_dim.SetSpanUpperBoundForVehicle(problem.max_duration_s, v)

    for i in range(1, dummy):
        routing.AddDisjunction([manager.NodeToIndex(i)], costs.drop[i - 1])

    # ---- search ---------------------------------------------------------------------------------
    work = _WorkLimit(_work_budget(params, n_model, len(fleet)), cpu_cap_s=params.time_limit_s)
    routing.AddAtSolutionCallback(work.on_solution)
    routing.AddSearchMonitor(routing.solver().CustomLimit(work.is_reached))
    started_s = time.perf_counter()
    assignment = routing.SolveWithParameters(_search_parameters(params))
    wall_s = time.perf_counter() - started_s
    capped = work.is_capped or wall_s >= WALL_CLOCK_FACTOR * params.time_limit_s
    if assignment is None:
        raise SolverError(f"{problem.name}: OR-Tools found no solution (status {routing.status()})")

    sequences: list[tuple[int, tuple[int, ...]]] = []
    for v, c in enumerate(fleet):
        stops: list[int] = []
        index = assignment.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            stops.append(nodes[manager.IndexToNode(index)])
            index = assignment.Value(routing.NextVar(index))
        if stops:
            sequences.append((c, tuple(stops)))
    dropped = [
        nodes[i]
        for i in range(1, dummy)
        if assignment.Value(routing.NextVar(manager.NodeToIndex(i))) == manager.NodeToIndex(i)
    ]
    return sequences, dropped, capped


def _search_parameters(params: SolverParams) -> object:
    """Search settings: cheapest-arc first solution, then guided local search.

    ``PATH_CHEAPEST_ARC`` builds one route at a time and opens the next vehicle only when no stop
    can extend the current one, which suits a fixed cost per vehicle; the insertion heuristics
    open many routes at once and guided local search rarely merges them back (see the module
    docstring for the measurement). ``_WorkLimit`` ends the search; the wall-clock limit is only
    a last guard (``WALL_CLOCK_FACTOR``).
    """
    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    search.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    search.time_limit.FromMilliseconds(math.ceil(WALL_CLOCK_FACTOR * params.time_limit_s * 1000))
    return search


class _WorkLimit:
    """End the search on a deterministic amount of work, or on a CPU-time safety cap.

    OR-Tools checks its search limits at every branch and local-search neighbour, so the number of
    checks measures the work done and, unlike elapsed time, does not depend on how busy the machine
    is: the same problem gets the same search. The cap is CPU time of the solving thread, which
    other programs on the machine do not consume, so it ends only a search whose work limit is far
    too large for this machine; OR-Tools' own wall-clock limit would end searches early whenever
    the machine is busy and make the routes depend on the load. Neither limit applies before the
    first solution, so a tight time limit still gets routes (the first solution took 2-5 % of the
    CPU time of a default search on 120-300 stops).
    """

    def __init__(self, budget: int, cpu_cap_s: float):
        self.budget = budget
        self.n_checks = 0
        self.has_solution = False
        self.cpu_cap_s = cpu_cap_s
        self.is_capped = False
        self._cpu_start_s = time.thread_time()

    def on_solution(self) -> None:
        self.has_solution = True

    def is_reached(self) -> bool:
        if not self.has_solution:
            return False
        self.n_checks += 1
        # Reading the thread's CPU clock is a system call: look at it once in a while only.
        if self.n_checks % CPU_CLOCK_PERIOD == 0:
            self.is_capped = time.thread_time() - self._cpu_start_s >= self.cpu_cap_s
        return self.n_checks > self.budget or self.is_capped


def _work_budget(params: SolverParams, n_nodes: int, n_vehicles: int) -> int:
    """Limit checks the search may spend (see ``WORK_PER_SQUARED_SIZE`` and its neighbours)."""
    by_size = max(MIN_WORK, WORK_PER_SQUARED_SIZE * (n_nodes + n_vehicles) ** 2)
    return min(by_size, max(MIN_WORK, int(WORK_PER_LIMIT_SECOND * params.time_limit_s)))
