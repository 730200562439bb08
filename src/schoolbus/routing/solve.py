"""Solve a :class:`~schoolbus.routing.problem.RoutingProblem`: the steps every backend shares.

A backend (``ortools_backend``, ``pyvrp_backend``) only searches: given the stops worth solving
for and a fleet (one vehicle class per route it may run), it returns stop sequences and the stops
it dropped. Everything around the search is here, solver-neutral, so every backend's routes are
screened, repaired, timed and checked the same way:

1. screen out stops no route of the fleet could ever serve, with the reasons as codes;
2. shuffle the other stops by the seed (steering searches that have no seed of their own);
3. model a few routes per class beyond simple lower bounds, and double a class that uses them all;
4. give a dropped stop a route of its own while the fleet allows;
5. recompute every time pupils experience from the problem's own matrices and check every limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from schoolbus.errors import SolverError
from schoolbus.model import Direction, Reason, ReasonCode
from schoolbus.params import SolverParams
from schoolbus.routing.backends import routing_backend
from schoolbus.routing.problem import (
    SCHOOL_NODE,
    Route,
    RoutingProblem,
    RoutingSolution,
    Unrouted,
    VehicleClass,
)

ROUTE_MARGIN = 6
"""Routes modelled per class at first beyond the class's lower bound (see ``_initial_routes``).

Measured on the 100 schools of Park's CSCB08 (2700 s, 2 seeds): with a margin of 2 the search used
every modelled route on 82 % of schools and was solved again with twice the routes (365 solves,
11.2 s of CPU); with 6, on 2 % (204 solves, 6.5 s), with the same routes."""

ROUTE_MARGIN_SHARE = 0.25
"""Further routes modelled at first, as a share of the lower bound (large schools' bounds are
looser in absolute terms)."""


def solve_routing(problem: RoutingProblem, params: SolverParams) -> RoutingSolution:
    """Plan the fewest, cheapest open routes that carry a school's pupils within their limits.

    Parameters
    ----------
    problem : RoutingProblem
        One school, shift and direction; times in integer seconds, distances in integer metres.
    params : SolverParams
        ``routing_backend`` names the search. Every backend ends on a deterministic amount of
        work that grows with the problem, so the same problem and ``seed`` give the same routes
        however busy the machine is; ``time_limit_s`` caps that work (each backend turns it into
        its own effort: limit checks for OR-Tools, iterations for PyVRP) and the CPU time of each
        search, a safety net. ``seed`` shuffles the order in which stops enter the model (which
        steers OR-Tools' otherwise seed-free search) and seeds the backend where it has seeds.

    Returns
    -------
    RoutingSolution
        Routes with the times pupils experience: ``TO_SCHOOL`` routes arrive at the school exactly
        at ``school_time_s`` without waiting anywhere (the latest pick-ups that arrive on time);
        ``FROM_SCHOOL`` routes leave at ``school_time_s`` and never wait. Every stop is on
        exactly one route or in ``unrouted`` with its reasons.

    Raises
    ------
    SolverError
        When a matrix has negative entries (an unreachable pair rounded by ``seconds_matrix``
        turns into a huge negative number), the backend returns no solution, or the returned routes
        break a limit (a bug, never a plan with a broken promise).
    """
    if min(problem.time_s.min(initial=0), problem.distance_m.min(initial=0)) < 0:
        raise SolverError(
            f"{problem.name}: negative drive times or distances; unreachable pairs must be "
            "finite and larger than any limit, not infinite"
        )
    backend = routing_backend(params.routing_backend)
    screened = _screen_stops(problem)
    candidates = [k for k in range(1, problem.n_stops + 1) if k not in screened]
    rng = np.random.default_rng(params.seed)
    candidates = [candidates[i] for i in rng.permutation(len(candidates))]
    bounds = _route_bounds(problem, candidates)
    n_routes = _initial_routes(problem, candidates, bounds) if candidates else {}

    stop_sequences: list[tuple[int, tuple[int, ...]]] = []
    dropped = list(candidates)
    is_time_capped = False
    while candidates and any(n_routes.values()):
        fleet = [c for c in sorted(n_routes) for _ in range(n_routes[c])]
        stop_sequences, dropped, capped = backend.solve_model(problem, params, candidates, fleet)
        is_time_capped = is_time_capped or capped
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
        is_time_capped=is_time_capped,
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


def _alone_problems(problem: RoutingProblem, stop: int) -> list[Reason]:
    """Why ``stop`` cannot have a route of its own (ride limit, duration cap); empty if it can."""
    found = []
    ride_s, limit_s = _alone_ride_s(problem, stop), int(problem.max_ride_s[stop])
    if ride_s > limit_s:
        found.append(Reason.make(ReasonCode.RIDE_LIMIT_ALONE, ride_s=ride_s, limit_s=limit_s))
    duration_s = ride_s + int(problem.service_s[stop])
    if problem.max_duration_s is not None and duration_s > problem.max_duration_s:
        found.append(
            Reason.make(ReasonCode.DURATION_CAP_ALONE, duration_s=duration_s, cap_s=int(problem.max_duration_s))
        )
    return found


FLEET_CODES = frozenset(
    {ReasonCode.FLEET_EMPTY, ReasonCode.FLEET_NO_ROUTES_ALLOWED, ReasonCode.FLEET_ROUTES_USED}
)
"""Codes saying the fleet had no vehicle left for a stop (the pipeline counts the shortfall)."""


def _no_fleet_reason(problem: RoutingProblem) -> Reason:
    """Why nothing can be routed when no vehicle class may run a route."""
    if not problem.vehicle_classes:
        return Reason.make(ReasonCode.FLEET_EMPTY)
    types = ", ".join(vc.type_id for vc in problem.vehicle_classes)
    return Reason.make(ReasonCode.FLEET_NO_ROUTES_ALLOWED, types=types)


def _screen_stops(problem: RoutingProblem) -> dict[int, tuple[Reason, ...]]:
    """Reasons, by stop, why no route of this fleet could ever serve a stop."""
    usable = [problem.vehicle_classes[c] for c in _usable_classes(problem)]
    fastest_s = _fastest_rides_s(problem)
    reasons: dict[int, tuple[Reason, ...]] = {}
    for k in range(1, problem.n_stops + 1):
        found: list[Reason] = []
        seats, wheelchairs = int(problem.demand[k]), int(problem.wheelchair_demand[k])
        if not usable:
            found.append(_no_fleet_reason(problem))
        else:
            max_seats = max(vc.capacity for vc in usable)
            max_places = max(vc.wheelchair_places for vc in usable)
            if seats > max_seats:
                found.append(Reason.make(ReasonCode.STOP_NEEDS_SEATS, seats=seats, max_seats=max_seats))
            if wheelchairs > 0 and max_places == 0:
                found.append(Reason.make(ReasonCode.STOP_NEEDS_WHEELCHAIR_PLACES))
            elif wheelchairs > max_places:
                found.append(
                    Reason.make(
                        ReasonCode.STOP_NEEDS_MORE_WHEELCHAIR_PLACES, places=wheelchairs, max_places=max_places
                    )
                )
            if not found and not any(_fits(vc, problem, k) for vc in usable):
                found.append(
                    Reason.make(ReasonCode.STOP_NEEDS_SEATS_AND_PLACES, seats=seats, places=wheelchairs)
                )
        ride_s, limit_s = int(fastest_s[k]), int(problem.max_ride_s[k])
        is_direct = ride_s == _alone_ride_s(problem, k)
        if ride_s > limit_s:
            code = ReasonCode.RIDE_LIMIT_ALONE if is_direct else ReasonCode.RIDE_LIMIT_ANY_ROUTE
            found.append(Reason.make(code, ride_s=ride_s, limit_s=limit_s))
        duration_s = ride_s + int(problem.service_s[k])
        if problem.max_duration_s is not None and duration_s > problem.max_duration_s:
            code = ReasonCode.DURATION_CAP_ALONE if is_direct else ReasonCode.DURATION_CAP_ANY_ROUTE
            found.append(Reason.make(code, duration_s=duration_s, cap_s=int(problem.max_duration_s)))
        if found:
            reasons[k] = tuple(found)
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
    ``max(seat bound, wheelchair bound, time bound)`` plus a margin (``ROUTE_MARGIN`` or
    ``ROUTE_MARGIN_SHARE`` of that bound, the larger) routes per class: the routes
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
        margin = max(ROUTE_MARGIN, math.ceil(ROUTE_MARGIN_SHARE * lower))
        initial[c] = min(bound, lower + margin)
    return initial



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
            and ((max_routes := problem.vehicle_classes[c].max_routes) is None or used[c] < max_routes)
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
) -> tuple[Reason, ...]:
    """Why the search left out a stop that some vehicle has room for."""
    used = _routes_used(problem, sequences)
    fitting = [(c, vc) for c, vc in enumerate(problem.vehicle_classes) if _fits(vc, problem, stop)]
    if all(vc.max_routes is not None and used[c] >= vc.max_routes for c, vc in fitting):
        limits = ", ".join(f"{vc.type_id} {used[c]}/{vc.max_routes}" for c, vc in fitting)
        return (Reason.make(ReasonCode.FLEET_ROUTES_USED, types=limits),)
    # A free vehicle was left, so the stop cannot ride alone (``_serve_dropped_alone``) and only
    # a route through other stops could have carried it.
    return (Reason.make(ReasonCode.NO_ROUTE_FOUND, tuple(_alone_problems(problem, stop))),)


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
    problem: RoutingProblem, routes: Sequence[Route], unrouted: dict[int, tuple[Reason, ...]]
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
