"""The PyVRP routing backend: search one :class:`~schoolbus.routing.problem.RoutingProblem`.

This is the only module of schoolbus that imports ``pyvrp``. ``solve_model`` translates the
problem into PyVRP's ``ProblemData`` and runs PyVRP's iterated local search for a deterministic
number of iterations; ``schoolbus.routing.solve`` does the solver-neutral rest (screening, repair,
times, checks), exactly as for ``ortools_backend``, whose model this one mirrors.

Model
-----
* Locations: 0 is the school, 1 a dummy, ``2..m+1`` the stops worth solving for. A ``TO_SCHOOL``
  route starts at the dummy depot and ends at the school depot; a ``FROM_SCHOOL`` route starts at
  the school and ends at the dummy. Arcs to and from the dummy cost nothing and take no time, so
  routes are open: the drive between depot and route (deadhead) is the scheduler's business.
* Vehicles: one PyVRP vehicle type per vehicle class of the fleet, with as many vehicles as the
  fleet lists; seats and wheelchair places are two load dimensions (places only when some stop
  needs one). A route costs the class's fixed cost plus its price per metre plus a tie-break per
  metre, in the same integer units as ``ortools_backend``.
* Time: travel ``i -> j`` is the drive ``time_s[i, j]``, after the service at ``i``. Ride limits
  are time windows on the arrival at a stop, on a clock where the school time is ``horizon``
  (``TO_SCHOOL``) or 0 (``FROM_SCHOOL``), as in ``ortools_backend``. PyVRP lets a bus wait; that
  loses nothing: ``TO_SCHOOL``, the latest schedule without waiting that arrives at the school
  exactly on time (what ``solve`` reports) leaves every stop no earlier than PyVRP's schedule,
  so every ride is no longer and the route no longer than PyVRP's; ``FROM_SCHOOL``, the earliest
  window opens at the departure, so a bus never has a reason to wait and PyVRP's schedule *is*
  the one reported. ``max_duration_s`` is each vehicle type's shift duration.
* Stops are optional (``required=False``) with a prize larger than any set of routes, weighted
  by the pupils the stop carries, so the search serves as many pupils as it can and reports the
  rest instead of failing.

Search
------
PyVRP's iterated local search (late acceptance hill climbing), tuned for a large fixed cost per
route and prizes larger still:

* Penalties for overloads, lateness and long routes start at the cost of the dearest route per
  unit of violation and adapt every ``PENALTY_UPDATE_EVERY`` candidates, up to the largest
  prize. With PyVRP's defaults (at most 100 000 cost units per unit, updated every 500
  candidates) against routes of 10^7 units, the search kept overloaded routes and left their
  stops to the one-stop repair of ``solve``: on RSRB01, CSCB01, RSRB03 and CSCB03 (2700 s ride
  limit, 100 iterations a school) 947 routes in all, against 404 with these penalties. A
  ceiling at the route cost did as well there (402) but never let the search drop a stop when
  the fleet is too small for all of them: prizes outweigh any violation, so it never became
  feasible and returned no route, leaving every stop to the one-stop repair.
* The search starts from serving no stop, not from PyVRP's random solution over every modelled
  vehicle: on a 120-stop problem with vans, midibuses and buses (``metric_problem`` of the
  OR-Tools tests; history 300) the random start gave 15-18 routes after 300-3000 iterations,
  the empty one 13-15.
* ``HISTORY_LENGTH`` 20 instead of PyVRP's 300: late acceptance compares a candidate with the
  solution that many iterations back and accepts anything until its history has filled, which
  with a few hundred iterations is most of the search. On the same 120-stop problem (5 seeds,
  both directions, 800 iterations) 300 gave 155 routes in all, 20 gave 139 (OR-Tools: 137);
  on the Park schools above it made no difference (plus or minus 2 routes in 400).

The search ends after a number of iterations, so the same problem and seed give the same routes
however busy the machine is: ``ITERATIONS_PER_STOP`` per stop, at most
``ITERATION_STOPS_PER_LIMIT_SECOND`` divided by the stops per second of
``SolverParams.time_limit_s``, at least ``MIN_ITERATIONS``. ``time_limit_s`` also caps the CPU
time of the search, only as a safety net.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from pyvrp import (
    Client,
    Depot,
    IteratedLocalSearch,
    IteratedLocalSearchParams,
    Location,
    PenaltyManager,
    PenaltyParams,
    ProblemData,
    RandomNumberGenerator,
    Solution,
    VehicleType,
)
from pyvrp.search import OPERATORS, LocalSearch, PerturbationManager, compute_neighbours
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

from schoolbus.model import Direction
from schoolbus.params import SolverParams
from schoolbus.routing.problem import (
    COST_UNITS_PER_MONEY,
    MAX_COST,
    SCHOOL_NODE,
    RoutingProblem,
    integer_costs,
)

SCHOOL_LOCATION = 0
DUMMY_LOCATION = 1
FIRST_STOP_LOCATION = 2
"""PyVRP location indices: the school, the open end of every route, then the stops in order. The
school and the dummy are also PyVRP's depots 0 and 1."""

PENALTY_UPDATE_EVERY = 50
"""Candidate solutions between two updates of PyVRP's penalties (PyVRP's default is 500)."""

MIN_PENALTY = 1.0
"""Floor of PyVRP's penalties per unit of violation, in cost units (a metre's tie-break)."""

ITERATIONS_PER_STOP = 50
"""Search iterations per stop in the model: the effort when ``time_limit_s`` is generous.

On the Park schools (RSRB01, CSCB01, RSRB03, CSCB03; 17-75 stops a school) the routes improved
little after a few hundred iterations a school: 405, 404 and 400 routes in all after 30, 100 and
300 iterations at a 2700 s ride limit, 341, 339 and 339 at 5400 s; 50 a stop leaves room beyond
that for larger problems and for shorter drives."""

MIN_ITERATIONS = 10
"""Floor of the search effort, in iterations: for time limits too small for more (ten iterations
took 0.02 s of CPU time on a Park school of 75 stops)."""

ITERATION_STOPS_PER_LIMIT_SECOND = 25_000
"""Ceiling of the search effort per second of ``SolverParams.time_limit_s``, in iterations
times stops (an iteration's local search grows about linearly with the stops).

Measured at 47 000 (Park school, 70 stops, 5400 s ride limit) to 185 000 (300 random stops, to
school) iterations times stops per second of CPU time, so the iteration limit, not the CPU-time
cap, ends the search, with a margin for slower CPUs."""

WALL_CLOCK_FACTOR = 10
"""The wall-clock limit, in multiples of ``time_limit_s``: a last guard that only a machine ten
times oversubscribed would reach (the CPU-time cap comes first)."""

HISTORY_LENGTH = 20
"""Iterations back that late acceptance compares a candidate with (see the module docstring)."""

NO_LIMIT = int(np.iinfo(np.int64).max)
"""PyVRP's value for an open time window or an uncapped shift duration."""

SEED_MODULUS = 2**32
"""PyVRP seeds its random numbers with an unsigned 32-bit integer."""


def solve_model(
    problem: RoutingProblem,
    params: SolverParams,
    candidates: Sequence[int],
    fleet: Sequence[int],
) -> tuple[list[tuple[int, tuple[int, ...]]], list[int], bool]:
    """Build and solve the PyVRP model; return ``(class, stops)`` per route and dropped stops.

    Parameters
    ----------
    problem : RoutingProblem
        The school, shift and direction; integer seconds and metres.
    params : SolverParams
        ``seed`` seeds PyVRP's random numbers; ``time_limit_s`` bounds the iterations and caps
        the CPU time of the search.
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
        Whether a time cap, not the iteration limit, ended the search (the routes may then
        differ between runs).

    Raises
    ------
    SolverError
        When the costs would overflow the integer objective.
    """
    data, class_of_type = _problem_data(problem, candidates, fleet)
    penalties = _penalties(problem, data, fleet)
    n_iterations = _iteration_budget(params, len(candidates))
    best, capped = _search(data, penalties, n_iterations, params)
    sequences: list[tuple[int, tuple[int, ...]]] = []
    served: set[int] = set()
    for route in best.routes():
        stops = tuple(candidates[a.idx] for a in route if a.is_client())
        if stops:
            sequences.append((class_of_type[route.vehicle_type()], stops))
            served.update(stops)
    dropped = [k for k in candidates if k not in served]
    return sequences, dropped, capped


def _problem_data(
    problem: RoutingProblem, candidates: Sequence[int], fleet: Sequence[int]
) -> tuple[ProblemData, list[int]]:
    """PyVRP's data for the candidates and fleet, and the vehicle class of each vehicle type.

    Raises
    ------
    SolverError
        When the costs would overflow the integer objective.
    """
    is_to_school = problem.direction is Direction.TO_SCHOOL
    stops = np.asarray(candidates, dtype=np.int64)
    nodes = np.asarray([SCHOOL_NODE, *candidates], dtype=np.int64)
    n_locations = FIRST_STOP_LOCATION + len(stops)
    # location -> problem node for every location but the dummy
    real = np.r_[SCHOOL_LOCATION, np.arange(FIRST_STOP_LOCATION, n_locations)]

    service_s = problem.service_s[stops].astype(np.int64)
    max_ride_s = problem.max_ride_s[stops].astype(np.int64)
    horizon = int((max_ride_s + service_s).max(initial=0))
    time_s = np.zeros((n_locations, n_locations), dtype=np.int64)
    # A drive longer than the horizon misses every window however long it is; capping it there
    # keeps PyVRP's durations far from its overflow limit when a matrix marks closed arcs with
    # huge times.
    time_s[np.ix_(real, real)] = np.minimum(problem.time_s[np.ix_(nodes, nodes)], horizon + 1)
    distance_m = np.zeros((n_locations, n_locations), dtype=np.int64)
    distance_m[np.ix_(real, real)] = problem.distance_m[np.ix_(nodes, nodes)]

    seats = problem.demand[stops].astype(np.int64)
    places = problem.wheelchair_demand[stops].astype(np.int64)
    has_places = bool(places.any())
    loads = np.c_[seats, places] if has_places else seats[:, None]

    costs = integer_costs(problem, candidates, fleet)
    class_ids = sorted(costs.fixed)

    # Windows on the arrival at each stop (see the module docstring): TO_SCHOOL on a clock where
    # the school time is `horizon`, FROM_SCHOOL on one where the bus leaves the school at 0.
    if is_to_school:
        tw_early = horizon - max_ride_s - service_s
        tw_late = horizon - service_s
    else:
        tw_early = np.zeros_like(max_ride_s)
        tw_late = max_ride_s
    clients = [
        Client(
            location=FIRST_STOP_LOCATION + i,
            delivery=[] if is_to_school else loads[i].tolist(),
            pickup=loads[i].tolist() if is_to_school else [],
            service_duration=int(service_s[i]),
            tw_early=int(tw_early[i]),
            tw_late=int(tw_late[i]),
            prize=costs.drop[i],
            required=False,
        )
        for i in range(len(stops))
    ]
    # A shift window says when routes may run: TO_SCHOOL, end at the school by `horizon`;
    # FROM_SCHOOL, leave the school at 0.
    if is_to_school:
        start, end, start_late, end_late = DUMMY_LOCATION, SCHOOL_LOCATION, horizon, horizon
    else:
        start, end, start_late, end_late = SCHOOL_LOCATION, DUMMY_LOCATION, 0, NO_LIMIT
    depots = [Depot(SCHOOL_LOCATION), Depot(DUMMY_LOCATION)]
    vehicle_types = [
        VehicleType(
            num_available=sum(1 for v in fleet if v == c),
            capacity=[vc.capacity, vc.wheelchair_places] if has_places else [vc.capacity],
            start_depot=start,
            end_depot=end,
            fixed_cost=costs.fixed[c],
            tw_late=end_late,
            start_late=start_late,
            shift_duration=NO_LIMIT if problem.max_duration_s is None else problem.max_duration_s,
            unit_distance_cost=costs.per_m[c],
        )
        for c, vc in ((c, problem.vehicle_classes[c]) for c in class_ids)
    ]
    locations = [Location(0.0, 0.0) for _ in range(n_locations)]
    # pyvrp's stubs type a matrix's shape parameter as ``int``; numpy's are shape tuples.
    data = ProblemData(locations, clients, depots, vehicle_types, [distance_m], [time_s])  # type: ignore[list-item]
    return data, class_ids


def _penalties(problem: RoutingProblem, data: ProblemData, fleet: Sequence[int]) -> PenaltyManager:
    """PyVRP's penalties: start at the dearest route per unit of violation, rise to any prize.

    Starting at the cost of a route makes one seat too many or one second late as bad as one
    route more, so the search neither drowns in overloaded routes (PyVRP's default penalties are
    far below our route costs) nor refuses every near miss. The ceiling is the largest prize:
    once the penalties reach it, dropping a stop beats any violation, so the search becomes
    feasible even when the fleet is too small for every stop. The ceiling is lowered where
    needed so that a penalty times the largest violation any solution can have stays below
    ``MAX_COST``: PyVRP turns each penalty into a 64-bit integer.
    """
    route_cost = max(problem.vehicle_classes[c].fixed_cost for c in fleet) * COST_UNITS_PER_MONEY
    clients = data.clients()
    max_prize = max(client.prize for client in clients)
    # Time warp and excess duration cannot exceed all drives and services together; excess load
    # cannot exceed all the load.
    max_violation = (
        data.num_locations * int(data.duration_matrix(profile=0).max())
        + sum(client.service_duration for client in clients)
        + sum(sum(client.pickup) + sum(client.delivery) for client in clients)
    )
    params = PenaltyParams(
        solutions_between_updates=PENALTY_UPDATE_EVERY,
        min_penalty=MIN_PENALTY,
        max_penalty=float(max(MIN_PENALTY, min(max_prize, MAX_COST // max(1, max_violation)))),
    )
    start = float(max(MIN_PENALTY, route_cost))
    return PenaltyManager(([start] * data.num_load_dimensions, start, start), params)


def _iteration_budget(params: SolverParams, n_stops: int) -> int:
    """Iterations the search may spend (see ``ITERATIONS_PER_STOP`` and its neighbours)."""
    by_size = ITERATIONS_PER_STOP * n_stops
    by_limit = ITERATION_STOPS_PER_LIMIT_SECOND * params.time_limit_s / max(1, n_stops)
    return max(MIN_ITERATIONS, min(by_size, int(by_limit)))


class _CpuTimeCap:
    """A PyVRP stopping criterion: true once the calling thread has used ``cap_s`` of CPU time.

    PyVRP's ``MaxRuntime`` reads the wall clock, which a busy machine makes run ahead of the
    search; CPU time of the searching thread does not depend on other programs.
    """

    def __init__(self, cap_s: float):
        self.cap_s = cap_s
        self._start_s = time.thread_time()

    def __call__(self, best_cost: int) -> bool:
        return time.thread_time() - self._start_s >= self.cap_s


def _search(
    data: ProblemData, penalties: PenaltyManager, n_iterations: int, params: SolverParams
) -> tuple[Solution, bool]:
    """Run PyVRP's iterated local search; return the best solution and whether a cap ended it."""
    rng = RandomNumberGenerator(seed=params.seed % SEED_MODULUS)
    local_search = LocalSearch(data, rng, compute_neighbours(data), PerturbationManager())
    for operator in OPERATORS:
        if operator.supports(data):
            local_search.add_operator(operator(data))
    # Start from serving no stop: every stop is optional, so that is feasible, and the search
    # keeps the best feasible solution it meets, so it never returns one that breaks a limit.
    # PyVRP's default start, a random solution spread over every vehicle of the fleet, began from
    # dozens of one-stop routes that the search seldom merged (see the module docstring).
    initial = Solution(data, [])
    # MaxIterations first: MultipleCriteria stops at the first criterion that holds, and the
    # iteration count must see every call.
    stop = MultipleCriteria(
        [
            MaxIterations(n_iterations),
            _CpuTimeCap(params.time_limit_s),
            MaxRuntime(WALL_CLOCK_FACTOR * params.time_limit_s),
        ]
    )
    ils_params = IteratedLocalSearchParams(history_length=HISTORY_LENGTH)
    ils = IteratedLocalSearch(data, penalties, local_search, initial, ils_params)
    result = ils.run(stop, collect_stats=False)
    return result.best, result.num_iterations < n_iterations
