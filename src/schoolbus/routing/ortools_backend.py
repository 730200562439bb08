"""Solve a :class:`~schoolbus.routing.problem.RoutingProblem` with the OR-Tools routing library.

This is the only module of schoolbus that imports ``ortools``. It builds the model in the order
of the OR-Tools samples (data, index manager, callbacks, dimensions, search), solves it with a
deterministic work limit, then recomputes every time the pupils experience from the problem's own
matrices and checks every limit before returning.

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

import logging
import math
import time
from collections.abc import Sequence

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from schoolbus.errors import SolverError
from schoolbus.model import Direction
from schoolbus.params import SolverParams
from schoolbus.routing.problem import (
    SCHOOL_NODE,
    Route,
    RoutingProblem,
    RoutingSolution,
    Unrouted,
    VehicleClass,
)

logger = logging.getLogger(__name__)

COST_UNITS_PER_MONEY = 100_000
"""Internal integer cost units per unit of ``fixed_cost`` (``cost_per_km`` is per 1000 m)."""

DISTANCE_TIE_BREAK_PER_M = 1
"""Cost units added per metre driven, whatever the class's ``cost_per_km``.

It is 0.01 money units per km: too small to trade against a vehicle, large enough that a fleet
priced per day only (``cost_per_km`` 0) still gets short, sensible routes instead of arbitrary ones.
"""

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

ROUTE_MARGIN = 2
"""Routes modelled per class at first beyond the class's lower bound (see ``_initial_routes``)."""

CPU_CLOCK_PERIOD = 1024
"""Limit checks between two readings of the CPU clock for the safety cap."""

MAX_COST = 2**62
"""Largest total the integer objective may reach (int64 with a margin for OR-Tools' sums)."""


def solve_routing(problem: RoutingProblem, params: SolverParams) -> RoutingSolution:
    """Plan the fewest, cheapest open routes that carry a school's pupils within their limits.

    Parameters
    ----------
    problem : RoutingProblem
        One school, shift and direction; times in integer seconds, distances in integer metres.
    params : SolverParams
        The search normally ends on a deterministic work limit that grows with the problem, so the
        same problem and ``seed`` give the same routes however busy the machine is.
        ``time_limit_s`` caps the work limit (``WORK_PER_LIMIT_SECOND`` per second) and the CPU
        time of each OR-Tools search (seconds of the solving thread, a safety net); wall-clock
        time is only capped at ``WALL_CLOCK_FACTOR`` times it. ``seed`` shuffles the order in
        which stops enter the model, which steers OR-Tools' otherwise seed-free search.

    Returns
    -------
    RoutingSolution
        Routes with the times pupils experience: ``TO_SCHOOL`` routes arrive at the school exactly
        at ``school_time_s`` without waiting anywhere (the latest pick-ups that arrive on time);
        ``FROM_SCHOOL`` routes leave at ``school_time_s`` and never wait. Every stop is on
        exactly one route or in ``unrouted`` with the reason in plain words.

    Raises
    ------
    SolverError
        When a matrix has negative entries (an unreachable pair rounded by ``seconds_matrix``
        turns into a huge negative number), OR-Tools returns no solution, or the returned routes
        break a limit (a bug, never a plan with a broken promise).
    """
    if min(problem.time_s.min(initial=0), problem.distance_m.min(initial=0)) < 0:
        raise SolverError(
            f"{problem.name}: negative drive times or distances; unreachable pairs must be "
            "finite and larger than any limit, not infinite"
        )
    screened = _screen_stops(problem)
    candidates = [k for k in range(1, problem.n_stops + 1) if k not in screened]
    rng = np.random.default_rng(params.seed)
    candidates = [candidates[i] for i in rng.permutation(len(candidates))]
    bounds = _route_bounds(problem, candidates)
    n_routes = _initial_routes(problem, candidates, bounds) if candidates else {}

    stop_sequences: list[tuple[int, tuple[int, ...]]] = []
    dropped = list(candidates)
    while candidates and any(n_routes.values()):
        fleet = [c for c in sorted(n_routes) for _ in range(n_routes[c])]
        stop_sequences, dropped = _solve_model(problem, params, candidates, fleet)
        # A class that used every vehicle it was given might use more: model more and solve again.
        used = _routes_used(problem, stop_sequences)
        saturated = [c for c, n in n_routes.items() if used[c] == n < bounds[c]]
        if not saturated:
            break
        for c in saturated:
            n_routes[c] = min(bounds[c], 2 * n_routes[c])
    stop_sequences, dropped = _serve_dropped_alone(problem, stop_sequences, dropped)

    routes = tuple(
        _timed_route(problem, problem.vehicle_classes[c], stops) for c, stops in stop_sequences
    )
    unrouted = dict(screened)
    for k in dropped:
        unrouted[k] = _dropped_reason(problem, k, stop_sequences)
    _check_solution(problem, routes, unrouted)
    return RoutingSolution(
        problem_name=problem.name,
        routes=_canonical_order(routes),
        unrouted=tuple(Unrouted(k, unrouted[k]) for k in sorted(unrouted)),
    )


# --------------------------------------------------------------------------------------------------
# Before solving: stops no route can serve, and the vehicles worth modelling
# --------------------------------------------------------------------------------------------------


def _usable_classes(problem: RoutingProblem) -> list[int]:
    """Indices of the vehicle classes that may run at least one route."""
    return [c for c, vc in enumerate(problem.vehicle_classes) if vc.max_routes != 0]


def _fits(vc: VehicleClass, problem: RoutingProblem, stop: int) -> bool:
    """Whether one vehicle of class ``vc`` has the seats and wheelchair places ``stop`` needs."""
    return (
        int(problem.demand[stop]) <= vc.capacity
        and int(problem.wheelchair_demand[stop]) <= vc.wheelchair_places
    )


def _alone_ride_s(problem: RoutingProblem, stop: int) -> int:
    """Ride of ``stop``'s pupils on a route serving that stop only (seconds)."""
    if problem.direction is Direction.TO_SCHOOL:
        return int(problem.time_s[stop, SCHOOL_NODE])
    return int(problem.time_s[SCHOOL_NODE, stop])


def _fastest_rides_s(problem: RoutingProblem) -> np.ndarray:
    """The shortest ride each stop's pupils could have on any route (seconds; entry 0 unused).

    A ride may pass other stops (paying their service), which beats the direct drive when the time
    matrix breaks the triangle inequality; with a metric matrix it equals the direct drive.
    Dijkstra over the dense matrix from the school (on reversed arcs for ``TO_SCHOOL``).
    """
    service_s = problem.service_s.astype(np.int64).copy()
    service_s[SCHOOL_NODE] = 0
    if problem.direction is Direction.TO_SCHOOL:
        # arc i -> j rides t[i, j] plus the service at j; search from the school backwards
        arc_s = (problem.time_s + service_s[None, :]).T
    else:
        # arc i -> j rides the service at i plus t[i, j]
        arc_s = problem.time_s + service_s[:, None]
    ride_s = np.full(problem.n_stops + 1, np.inf)
    ride_s[SCHOOL_NODE] = 0
    done = np.zeros(problem.n_stops + 1, dtype=bool)
    for _ in range(problem.n_stops + 1):
        node = int(np.argmin(np.where(done, np.inf, ride_s)))
        done[node] = True
        ride_s = np.minimum(ride_s, ride_s[node] + arc_s[node])
    return ride_s.astype(np.int64)


def _alone_problems(problem: RoutingProblem, stop: int) -> list[str]:
    """Why ``stop`` cannot have a route of its own (ride limit, duration cap); empty if it can."""
    found = []
    ride_s, limit_s = _alone_ride_s(problem, stop), int(problem.max_ride_s[stop])
    if ride_s > limit_s:
        found.append(f"alone it would ride {ride_s} s > limit {limit_s} s")
    duration_s = ride_s + int(problem.service_s[stop])
    if problem.max_duration_s is not None and duration_s > problem.max_duration_s:
        found.append(f"alone its route would last {duration_s} s > cap {problem.max_duration_s} s")
    return found


def _no_fleet_reason(problem: RoutingProblem) -> str:
    """Why nothing can be routed when no vehicle class may run a route."""
    if not problem.vehicle_classes:
        return "fleet ran out: the fleet has no vehicles"
    limits = ", ".join(f"{vc.type_id}: at most 0 routes" for vc in problem.vehicle_classes)
    return f"fleet ran out: no vehicle class may run a route ({limits})"


def _screen_stops(problem: RoutingProblem) -> dict[int, str]:
    """Reasons, by stop, why no route of this fleet could ever serve a stop."""
    usable = [problem.vehicle_classes[c] for c in _usable_classes(problem)]
    fastest_s = _fastest_rides_s(problem)
    reasons: dict[int, str] = {}
    for k in range(1, problem.n_stops + 1):
        found: list[str] = []
        seats, wheelchairs = int(problem.demand[k]), int(problem.wheelchair_demand[k])
        if not usable:
            found.append(_no_fleet_reason(problem))
        else:
            max_seats = max(vc.capacity for vc in usable)
            max_places = max(vc.wheelchair_places for vc in usable)
            if seats > max_seats:
                found.append(f"needs {seats} seats, largest vehicle has {max_seats}")
            if wheelchairs > 0 and max_places == 0:
                found.append("needs wheelchair places but no vehicle has any")
            elif wheelchairs > max_places:
                found.append(
                    f"needs {wheelchairs} wheelchair places, most accessible vehicle has "
                    f"{max_places}"
                )
            if not found and not any(_fits(vc, problem, k) for vc in usable):
                found.append(
                    f"needs {seats} seats and {wheelchairs} wheelchair places in one vehicle, "
                    "no vehicle has both"
                )
        ride_s, limit_s = int(fastest_s[k]), int(problem.max_ride_s[k])
        is_direct = ride_s == _alone_ride_s(problem, k)
        if ride_s > limit_s:
            found.append(
                f"ride limit impossible even alone (direct drive {ride_s} s > limit {limit_s} s)"
                if is_direct
                else "ride limit impossible on any route (fastest ride, through other stops, "
                f"{ride_s} s > limit {limit_s} s)"
            )
        duration_s = ride_s + int(problem.service_s[k])
        if problem.max_duration_s is not None and duration_s > problem.max_duration_s:
            found.append(
                "route duration cap impossible even alone (direct drive plus service "
                f"{duration_s} s > cap {problem.max_duration_s} s)"
                if is_direct
                else "route duration cap impossible on any route (fastest ride plus service "
                f"{duration_s} s > cap {problem.max_duration_s} s)"
            )
        if found:
            reasons[k] = "; ".join(found)
    return reasons


def _route_bounds(problem: RoutingProblem, candidates: Sequence[int]) -> dict[int, int]:
    """Most routes each usable class could ever run: one per stop it has room for, or fewer.

    A route serves at least one stop, so a class never needs more routes than the candidate stops
    it can carry; ``max_routes`` bounds it further.
    """
    bounds: dict[int, int] = {}
    for c in _usable_classes(problem):
        vc = problem.vehicle_classes[c]
        n_fitting = sum(_fits(vc, problem, k) for k in candidates)
        bounds[c] = n_fitting if vc.max_routes is None else min(vc.max_routes, n_fitting)
    return bounds


def _initial_routes(
    problem: RoutingProblem, candidates: Sequence[int], bounds: dict[int, int]
) -> dict[int, int]:
    """How many routes of each class to model first: a margin over two lower bounds.

    Every modelled vehicle slows the search (about 4x more local-search moves per second with 15
    instead of 120 vehicles per class on 120 stops), so the model starts from
    ``max(seat bound, wheelchair bound, time bound) + ROUTE_MARGIN`` routes per class: the routes
    the class would need to carry every stop it has room for on its own (bin packing), or to
    fit the time the stops need (service plus the cheapest drive in) into routes as long as the
    ride limits allow. ``solve_routing`` doubles a class that uses every vehicle it was given.
    """
    k = np.asarray(candidates, dtype=np.int64)
    sources = np.asarray([SCHOOL_NODE, *candidates], dtype=np.int64)
    time_in = problem.time_s[np.ix_(sources, k)].astype(float)
    time_in[np.arange(1, len(sources)), np.arange(len(k))] = np.inf  # no arc from a stop to itself
    cheapest_in_s = time_in.min(axis=0)
    route_s = float((problem.max_ride_s[k] + problem.service_s[k]).max())
    if problem.max_duration_s is not None:
        route_s = min(route_s, float(problem.max_duration_s))
    time_bound = math.ceil(
        float((problem.service_s[k] + cheapest_in_s).sum())
        / max(1.0, route_s + cheapest_in_s.max())
    )
    initial: dict[int, int] = {}
    for c, bound in bounds.items():
        vc = problem.vehicle_classes[c]
        fitting = [s for s in candidates if _fits(vc, problem, s)]
        seat_bound = math.ceil(int(problem.demand[fitting].sum()) / max(1, vc.capacity))
        place_bound = math.ceil(
            int(problem.wheelchair_demand[fitting].sum()) / max(1, vc.wheelchair_places)
        )
        lower = max(seat_bound, place_bound, time_bound)
        initial[c] = min(bound, lower + ROUTE_MARGIN)
    return initial


# --------------------------------------------------------------------------------------------------
# The OR-Tools model
# --------------------------------------------------------------------------------------------------


def _solve_model(
    problem: RoutingProblem,
    params: SolverParams,
    candidates: Sequence[int],
    fleet: Sequence[int],
) -> tuple[list[tuple[int, tuple[int, ...]]], list[int]]:
    """Build and solve the OR-Tools model; return ``(class, stops)`` per route and dropped stops.

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

    class_ids = sorted({v for v in fleet})
    arc_cost = {
        c: distance_m * (problem.vehicle_classes[c].cost_per_km * COST_UNITS_PER_MONEY // 1000)
        + distance_m * DISTANCE_TIE_BREAK_PER_M
        for c in class_ids
    }
    fixed_cost = {
        c: problem.vehicle_classes[c].fixed_cost * COST_UNITS_PER_MONEY for c in class_ids
    }
    # Dropping a stop must cost more than any set of routes, so the solver drops only what it
    # cannot carry; weighting by pupils makes it keep the fuller stops when the fleet runs short.
    max_arc = max(int(a.max()) for a in arc_cost.values())
    drop_unit = sum(fixed_cost[v] for v in fleet) + (n_model + len(fleet)) * max_arc + 1
    weight = np.maximum(1, seats + places)
    if drop_unit * int(weight.sum()) > MAX_COST:
        raise SolverError(f"{problem.name}: costs too large for the integer solver")

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
        routing.SetFixedCostOfVehicle(fixed_cost[c], v)

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
        routing.AddDisjunction([manager.NodeToIndex(i)], drop_unit * int(weight[i]))

    # ---- search ---------------------------------------------------------------------------------
    work = _WorkLimit(_work_budget(params, n_model, len(fleet)), cpu_cap_s=params.time_limit_s)
    routing.AddAtSolutionCallback(work.on_solution)
    routing.AddSearchMonitor(routing.solver().CustomLimit(work.is_reached))
    started_s = time.perf_counter()
    assignment = routing.SolveWithParameters(_search_parameters(params))
    wall_s = time.perf_counter() - started_s
    if work.is_capped or wall_s >= WALL_CLOCK_FACTOR * params.time_limit_s:
        logger.warning(
            "%s: a time cap (%.1f s of CPU time or %.0f s wall clock) ended the search before its "
            "work limit; the routes may differ between runs (raise time_limit_s)",
            problem.name,
            params.time_limit_s,
            WALL_CLOCK_FACTOR * params.time_limit_s,
        )
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
    return sequences, dropped


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


# --------------------------------------------------------------------------------------------------
# After solving: repair, times, reasons, checks
# --------------------------------------------------------------------------------------------------


def _serve_dropped_alone(
    problem: RoutingProblem,
    sequences: list[tuple[int, tuple[int, ...]]],
    dropped: list[int],
) -> tuple[list[tuple[int, tuple[int, ...]]], list[int]]:
    """Give each dropped stop a route of its own while some class that fits it has one left.

    Only stops whose ride and route duration fit on a route of their own get one, so this only
    undoes a search that stopped early and never breaks a limit.
    """
    sequences = list(sequences)
    still_dropped: list[int] = []
    for k in sorted(dropped):
        used = _routes_used(problem, sequences)
        if _alone_problems(problem, k):
            still_dropped.append(k)
            continue
        options = [
            c
            for c in _usable_classes(problem)
            if _fits(problem.vehicle_classes[c], problem, k)
            and (
                problem.vehicle_classes[c].max_routes is None
                or used[c] < problem.vehicle_classes[c].max_routes
            )
        ]
        if options:
            best = min(options, key=lambda c: (problem.vehicle_classes[c].fixed_cost, c))
            sequences.append((best, (k,)))
        else:
            still_dropped.append(k)
    return sequences, still_dropped


def _routes_used(
    problem: RoutingProblem, sequences: Sequence[tuple[int, tuple[int, ...]]]
) -> list[int]:
    """Routes per vehicle class (by class index)."""
    used = [0] * len(problem.vehicle_classes)
    for c, _ in sequences:
        used[c] += 1
    return used


def _dropped_reason(
    problem: RoutingProblem, stop: int, sequences: Sequence[tuple[int, tuple[int, ...]]]
) -> str:
    """Why the search left out a stop that some vehicle has room for, in plain words."""
    used = _routes_used(problem, sequences)
    fitting = [(c, vc) for c, vc in enumerate(problem.vehicle_classes) if _fits(vc, problem, stop)]
    if all(vc.max_routes is not None and used[c] >= vc.max_routes for c, vc in fitting):
        limits = ", ".join(
            f"{vc.type_id}: {used[c]} of at most {vc.max_routes} routes" for c, vc in fitting
        )
        return (
            "fleet ran out: every vehicle class with room for this stop runs all the routes it "
            f"may ({limits}) and none of those routes can take it within seats, wheelchair "
            "places, ride limits and the route-duration cap"
        )
    # A free vehicle was left, so the stop cannot ride alone (``_serve_dropped_alone``) and only
    # a route through other stops could have carried it.
    return (
        "no route found within its limits: "
        + " and ".join(_alone_problems(problem, stop))
        + ", and the search found no route through other stops that fits it"
    )


def _timed_route(problem: RoutingProblem, vc: VehicleClass, stops: tuple[int, ...]) -> Route:
    """The route with the times pupils experience, computed from the problem's matrices.

    ``TO_SCHOOL``: backwards from arriving at the school at ``school_time_s`` (as late as possible,
    no waiting). ``FROM_SCHOOL``: forwards from leaving the school at ``school_time_s``.
    """
    t, s = problem.time_s, problem.service_s
    arrive_s = [0] * len(stops)
    if problem.direction is Direction.TO_SCHOOL:
        clock, following = problem.school_time_s, SCHOOL_NODE
        for pos in range(len(stops) - 1, -1, -1):
            k = stops[pos]
            clock -= int(t[k, following]) + int(s[k])
            arrive_s[pos] = clock
            following = k
    else:
        clock, previous = problem.school_time_s, SCHOOL_NODE
        for pos, k in enumerate(stops):
            clock += int(t[previous, k])
            arrive_s[pos] = clock
            clock += int(s[k])
            previous = k
    return Route(vc.type_id, stops, tuple(arrive_s), problem.school_time_s)


def _check_solution(
    problem: RoutingProblem, routes: Sequence[Route], unrouted: dict[int, str]
) -> None:
    """Raise ``SolverError`` unless every stop is served once or explained and every limit holds."""
    violations: list[str] = []
    seen: dict[int, int] = {}
    by_id = {vc.type_id: vc for vc in problem.vehicle_classes}
    n_routes: dict[str, int] = {}
    for r, route in enumerate(routes):
        vc = by_id[route.vehicle_class]
        n_routes[vc.type_id] = n_routes.get(vc.type_id, 0) + 1
        for k in route.stops:
            seen[k] = seen.get(k, 0) + 1
        stops = list(route.stops)
        load = int(problem.demand[stops].sum())
        places = int(problem.wheelchair_demand[stops].sum())
        if load > vc.capacity or places > vc.wheelchair_places:
            violations.append(f"route {r}: {load} seats/{places} places in a {vc.type_id}")
        for k, arrive in zip(route.stops, route.arrive_s, strict=True):
            if problem.direction is Direction.TO_SCHOOL:
                ride = route.school_s - (arrive + int(problem.service_s[k]))
            else:
                ride = arrive - route.school_s
            if ride > int(problem.max_ride_s[k]):
                violations.append(f"route {r}: stop {k} rides {ride} s > {problem.max_ride_s[k]} s")
        if problem.direction is Direction.TO_SCHOOL:
            duration = route.school_s - route.arrive_s[0]
        else:
            duration = route.arrive_s[-1] + int(problem.service_s[route.stops[-1]]) - route.school_s
        if problem.max_duration_s is not None and duration > problem.max_duration_s:
            violations.append(f"route {r}: lasts {duration} s > {problem.max_duration_s} s")
        if route.school_s != problem.school_time_s:
            violations.append(f"route {r}: school at {route.school_s} s")
    for type_id, n in n_routes.items():
        limit = by_id[type_id].max_routes
        if limit is not None and n > limit:
            violations.append(f"{n} routes of {type_id} > max_routes {limit}")
    for k in range(1, problem.n_stops + 1):
        if seen.get(k, 0) + (k in unrouted) != 1:
            violations.append(f"stop {k} routed {seen.get(k, 0)} times, unrouted {k in unrouted}")
    if violations:
        raise SolverError(
            f"{problem.name}: the routing backend produced an invalid solution: "
            + "; ".join(violations)
        )


def _canonical_order(routes: Sequence[Route]) -> tuple[Route, ...]:
    """Routes in a fixed order (by first stop), so equal solutions compare equal."""
    return tuple(sorted(routes, key=lambda r: r.stops))
