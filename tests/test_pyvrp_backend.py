"""The PyVRP routing backend: the same known answers as OR-Tools, exact limits, invariants.

Every solve goes through ``solve_routing`` with ``routing_backend="pyvrp"``, so the solver-neutral
checks of ``schoolbus.routing.solve`` run too; ``check_solution`` of the OR-Tools tests then
recomputes every time, load and limit from the matrices on its own.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_routing import (
    BIG,
    SCHOOL_TIME_S,
    check_solution,
    fewest_routes,
    groups,
    make_problem,
    metric_problem,
    morning_order,
    pairs_matrix,
    small_problems,
)

from schoolbus.errors import SolverError
from schoolbus.model import Direction
from schoolbus.params import SolverParams
from schoolbus.routing import pyvrp_backend
from schoolbus.routing.problem import (
    SCHOOL_NODE,
    RoutingProblem,
    RoutingSolution,
    VehicleClass,
)
from schoolbus.routing.solve import solve_routing

PYVRP = SolverParams(routing_backend="pyvrp")
ORTOOLS = SolverParams(routing_backend="ortools")
BOTH_DIRECTIONS = pytest.mark.parametrize("direction", list(Direction))


def solve(problem: RoutingProblem, params: SolverParams = PYVRP) -> RoutingSolution:
    solution = solve_routing(problem, params)
    check_solution(problem, solution)
    return solution


# ---- the known optimum on tiny cases -------------------------------------------------------------


@BOTH_DIRECTIONS
def test_capacity_forces_two_routes_on_a_line(direction: Direction) -> None:
    # school at 0 km, stops at 1, 2, 3, 4 km on one road; 5 pupils each, 10 seats per van
    km = np.arange(5)
    time = np.abs(km[:, None] - km[None, :]) * 100
    problem = make_problem(time, direction=direction, demand=[5] * 4)
    solution = solve(problem)
    assert not solution.unrouted
    # the far pair rides together, each route picks up from the far end towards the school
    assert sorted(morning_order(problem, r.stops) for r in solution.routes) == [(2, 1), (4, 3)]


@BOTH_DIRECTIONS
@pytest.mark.parametrize(
    ("max_ride_s", "expected"),
    [
        # a pair rides 50 s between its stops and 100 s to the school: 150 s
        ([150, 150, 150, 150], {(1, 2), (3, 4)}),
        # stops 3 and 4 may ride 149 s only: one second short of sharing a vehicle
        ([150, 150, 149, 149], {(1, 2), (3,), (4,)}),
    ],
)
def test_ride_limit_splits_a_pair(
    direction: Direction, max_ride_s: list[int], expected: set[tuple[int, ...]]
) -> None:
    problem = make_problem(pairs_matrix(), direction=direction, max_ride_s=max_ride_s)
    assert groups(solve(problem)) == expected


@BOTH_DIRECTIONS
@pytest.mark.parametrize(("limit_s", "n_routes"), [(330, 1), (329, 2)])
def test_ride_limit_binds_to_the_second(direction: Direction, limit_s: int, n_routes: int) -> None:
    # morning: stop 1 -> stop 2 (100 s) + service at 2 (30 s) + stop 2 -> school (200 s) = 330 s;
    # stop 1 alone rides 250 s; the reverse order is closed. Afternoon mirrors it.
    time = [
        [0, 250, 200],
        [250, 0, 100],
        [200, BIG, 0],
    ]
    problem = make_problem(
        time, direction=direction, service_s=[40, 30], max_ride_s=[limit_s, 3600]
    )
    solution = solve(problem)
    assert len(solution.routes) == n_routes
    if n_routes == 1:
        (route,) = solution.routes
        assert morning_order(problem, route.stops) == (1, 2)
        # PyVRP may wait; the reported times never do: school at 08:00 exactly in the morning
        if direction is Direction.TO_SCHOOL:
            assert route.arrive_s == (SCHOOL_TIME_S - 200 - 30 - 100 - 40, SCHOOL_TIME_S - 230)
        else:
            assert route.arrive_s == (SCHOOL_TIME_S + 200, SCHOOL_TIME_S + 200 + 30 + 100)


@BOTH_DIRECTIONS
@pytest.mark.parametrize(("cap_s", "n_routes"), [(360, 1), (359, 2)])
def test_route_duration_cap_binds_to_the_second(
    direction: Direction, cap_s: int, n_routes: int
) -> None:
    # one route lasts service 1 (40) + drive (100) + service 2 (30) + drive to school (190) = 360 s
    # in the morning; afternoon: drive (190) + service (30) + drive (100) + last service (40)
    time = [
        [0, 150, 190],
        [150, 0, 100],
        [190, BIG, 0],
    ]
    problem = make_problem(
        time, direction=direction, service_s=[40, 30], max_ride_s=3600, max_duration_s=cap_s
    )
    assert len(solve(problem).routes) == n_routes


@BOTH_DIRECTIONS
def test_wheelchair_pupil_rides_the_accessible_class(direction: Direction) -> None:
    classes = (
        VehicleClass("van", capacity=10, wheelchair_places=0, fixed_cost=1000),
        VehicleClass("accessible", capacity=6, wheelchair_places=1, fixed_cost=1500),
    )
    problem = make_problem(
        pairs_matrix(),
        direction=direction,
        wheelchair=[0, 0, 1, 0],
        max_ride_s=150,
        classes=classes,
    )
    by_class = {r.vehicle_class: tuple(sorted(r.stops)) for r in solve(problem).routes}
    assert by_class == {"van": (1, 2), "accessible": (3, 4)}


@BOTH_DIRECTIONS
def test_wheelchair_places_are_a_capacity_of_their_own(direction: Direction) -> None:
    # one wheelchair pupil at each of the four stops, two places per vehicle, seats to spare:
    # the places, not the seats, need two routes
    accessible = VehicleClass("accessible", capacity=40, wheelchair_places=2, fixed_cost=1000)
    problem = make_problem(
        pairs_matrix(), direction=direction, wheelchair=[1] * 4, classes=(accessible,)
    )
    solution = solve(problem)
    assert groups(solution) == {(1, 2), (3, 4)}


@BOTH_DIRECTIONS
@pytest.mark.parametrize(("big_fixed", "expected"), [(1500, ["big"]), (2500, ["small", "small"])])
def test_mixed_fleet_picks_the_cheaper_vehicles(
    direction: Direction, big_fixed: int, expected: list[str]
) -> None:
    # 16 pupils: one 20-seat bus, or two 10-seat vans at 1000 each
    classes = (
        VehicleClass("small", capacity=10, wheelchair_places=0, fixed_cost=1000),
        VehicleClass("big", capacity=20, wheelchair_places=0, fixed_cost=big_fixed),
    )
    problem = make_problem(
        [row[:3] for row in pairs_matrix()[:3]], direction=direction, demand=[8, 8], classes=classes
    )
    assert sorted(r.vehicle_class for r in solve(problem).routes) == expected


@BOTH_DIRECTIONS
def test_price_per_km_picks_the_shorter_drive(direction: Direction) -> None:
    # the same vehicle count either way: stop 1 -> stop 2 -> school drives 300 m (morning),
    # stop 2 -> stop 1 -> school 1100 m, so the priced kilometres decide the order
    time = [[0, 100, 100], [100, 0, 100], [100, 100, 0]]
    distance = [[0, 500, 100], [500, 0, 200], [100, 600, 0]]
    van = VehicleClass("van", capacity=10, wheelchair_places=0, fixed_cost=1000, cost_per_km=5)
    problem = make_problem(time, direction=direction, classes=(van,), distance_m=distance)
    (route,) = solve(problem).routes
    assert morning_order(problem, route.stops) == (1, 2)


# ---- stops that cannot be served are reported ----------------------------------------------------


@BOTH_DIRECTIONS
def test_a_stop_impossible_even_alone_is_reported(direction: Direction) -> None:
    problem = make_problem(
        [[0, 100, 900], [100, 0, 900], [900, 900, 0]], direction=direction, max_ride_s=600
    )
    solution = solve(problem)
    assert [r.stops for r in solution.routes] == [(1,)]
    assert [(u.stop, u.reason) for u in solution.unrouted] == [
        (2, "ride limit impossible even alone (direct drive 900 s > limit 600 s)")
    ]


@BOTH_DIRECTIONS
def test_a_stop_that_needs_a_full_route_is_reported(direction: Direction) -> None:
    # stop 1 could ride in time only through stop 2, but the two do not fit in one van
    time = [
        [0, 900, 100],
        [900, 0, 100],
        [100, 100, 0],
    ]
    problem = make_problem(
        time, direction=direction, demand=[6, 6], service_s=[0, 30], max_ride_s=[300, 3600]
    )
    solution = solve(problem)
    assert [r.stops for r in solution.routes] == [(2,)]
    (unrouted,) = solution.unrouted
    assert unrouted.reason.startswith("no route found within its limits")


@BOTH_DIRECTIONS
def test_fleet_running_out_keeps_the_most_pupils(direction: Direction) -> None:
    # one van of 10 seats may run: 4 + 5 pupils beat 7 pupils alone
    van = VehicleClass("van", capacity=10, wheelchair_places=0, fixed_cost=1000, max_routes=1)
    time = [[0, 100, 100, 100], [100, 0, 50, 50], [100, 50, 0, 50], [100, 50, 50, 0]]
    problem = make_problem(time, direction=direction, demand=[7, 4, 5], classes=(van,))
    solution = solve(problem)
    assert groups(solution) == {(2, 3)}
    (unrouted,) = solution.unrouted
    assert unrouted.stop == 1
    assert unrouted.reason.startswith("fleet ran out")
    assert "van: 1 of at most 1 routes" in unrouted.reason


@BOTH_DIRECTIONS
def test_max_routes_too_small_leaves_whole_pairs_unrouted(direction: Direction) -> None:
    # two pairs need two vans (each pair fills one), only one may run
    van = VehicleClass("van", capacity=10, wheelchair_places=0, fixed_cost=1000, max_routes=1)
    problem = make_problem(pairs_matrix(), direction=direction, demand=[5] * 4, classes=(van,))
    solution = solve(problem)
    assert len(solution.routes) == 1
    assert len(solution.routes[0].stops) == 2
    assert len(solution.unrouted) == 2
    assert all(u.reason.startswith("fleet ran out") for u in solution.unrouted)


def test_closed_arcs_with_huge_times_solve_without_scaling_warnings() -> None:
    # far beyond PyVRP's largest safe duration (2**44): the backend caps them at its horizon
    time = [[0, 100, 100], [100, 0, 2**50], [100, 2**50, 0]]
    problem = make_problem(time, max_ride_s=150)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solution = solve(problem)
    assert groups(solution) == {(1,), (2,)}


def test_costs_beyond_the_integer_objective_are_refused() -> None:
    huge = VehicleClass("van", capacity=10, wheelchair_places=0, fixed_cost=10**15)
    with pytest.raises(SolverError, match="costs too large"):
        solve_routing(make_problem(pairs_matrix(), classes=(huge,)), PYVRP)


# ---- determinism and scale -----------------------------------------------------------------------


@BOTH_DIRECTIONS
def test_same_problem_and_seed_give_the_same_routes(direction: Direction) -> None:
    problem = metric_problem(40, seed=7, direction=direction)
    params = SolverParams(routing_backend="pyvrp", time_limit_s=0.5, seed=3)
    first = solve(problem, params)
    assert first == solve(problem, params)
    assert not first.unrouted


def test_real_scale_problem_is_solved_within_its_limits() -> None:
    problem = metric_problem(120, seed=3)
    solution = solve(problem)
    assert not solution.unrouted
    # 552 pupils need at least 13 of the 45-seat buses; at the default effort the search made
    # 13-15 routes over six seeds in both directions (OR-Tools 13-14)
    seat_bound = int(np.ceil(problem.demand.sum() / 45))
    assert seat_bound <= len(solution.routes) <= seat_bound + 2


def test_a_time_cap_that_ends_the_search_still_returns_checked_routes_and_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # an iteration limit far beyond what 10 ms of CPU time can do: the safety cap ends the search
    monkeypatch.setattr(pyvrp_backend, "MIN_ITERATIONS", 10**9)
    problem = metric_problem(20, seed=1)
    with caplog.at_level(logging.WARNING, logger=pyvrp_backend.__name__):
        solution = solve(problem, SolverParams(routing_backend="pyvrp", time_limit_s=0.01))
    assert not solution.unrouted
    assert "the routes may differ between runs" in caplog.text


# ---- invariants on random small problems ---------------------------------------------------------


@settings(max_examples=150, deadline=None, derandomize=True)
@given(problem=small_problems())
def test_random_problems_keep_every_promise(problem: RoutingProblem) -> None:
    solve(problem)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(1, 5), direction=st.sampled_from(list(Direction)), data=st.data())
def test_both_backends_serve_every_stop_with_the_fewest_routes(
    n: int, direction: Direction, data: st.DataObject
) -> None:
    cells = st.lists(st.integers(1, 300), min_size=(n + 1) ** 2, max_size=(n + 1) ** 2)
    time = np.array(data.draw(cells)).reshape(n + 1, n + 1)
    np.fill_diagonal(time, 0)
    per_stop = st.lists(st.integers(0, 400), min_size=n, max_size=n)
    demand = [1 + d % 6 for d in data.draw(per_stop)]
    service = [d % 61 for d in data.draw(per_stop)]
    # a feasible solution obviously exists: every stop can have a route of its own
    ride_slack = data.draw(per_stop)
    max_ride = [int(time[k, SCHOOL_NODE]) + ride_slack[k - 1] for k in range(1, n + 1)]
    alone_max = max(int(time[k, SCHOOL_NODE]) + service[k - 1] for k in range(1, n + 1))
    max_duration = data.draw(st.none() | st.integers(alone_max, alone_max + 600))
    van = VehicleClass("van", capacity=10, wheelchair_places=0, fixed_cost=100_000)
    problem = make_problem(
        time,
        direction=direction,
        demand=demand,
        service_s=service,
        max_ride_s=max_ride,
        classes=(van,),
        max_duration_s=max_duration,
    )
    fewest = fewest_routes(problem, van.capacity)
    for params in (PYVRP, ORTOOLS):
        solution = solve(problem, params)
        assert not solution.unrouted
        assert len(solution.routes) == fewest
