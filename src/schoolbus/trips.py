"""From solver routes to timed trips: routing problems per school, shift and direction, and back.

This module turns a stop selection into one ``RoutingProblem`` per (school, shift, direction),
and a solver's ``Route`` into a ``model.Trip`` with visits, boarding lists and its road path.
The only source of times is the problem data (travel matrices plus service rules), so a trip
says exactly what the solver was asked to respect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from schoolbus.matrix import SearchGraph, fastest_path, travel_matrices
from schoolbus.model import Direction, Fleet, Policy, RoadStep, Scenario, School, Shift, Stop, Trip, Visit
from schoolbus.routing.problem import SCHOOL_NODE, RoutingProblem, VehicleClass, seconds_matrix

FIXED_COST_PER_VEHICLE = 1_000_000
"""Solver cost of using one more vehicle, in money units like the day rate added on top of it (the
backends scale both by ``routing.problem.COST_UNITS_PER_MONEY``): far above what any route's
kilometres cost, so the solver always prefers fewer vehicles, and the day rate ranks classes."""

UNLIMITED_RIDE_S = 24 * 3600


@dataclass(frozen=True)
class GroupKey:
    """One routing problem's identity: a school's shift in one direction."""

    school_id: str
    shift: str
    direction: Direction

    def label(self) -> str:
        """``school/shift/direction``, for logs and trip ids."""
        return f"{self.school_id}/{self.shift}/{self.direction.value}"


@dataclass(frozen=True)
class GroupProblem:
    """A routing problem with what is needed to turn its solution back into trips.

    ``nodes[k]`` is the road-graph node of problem node ``k`` (0 = the school), ``stops[k-1]`` the
    stop of node ``k``.
    """

    key: GroupKey
    problem: RoutingProblem
    nodes: tuple[int, ...]
    stops: tuple[Stop, ...]
    school: School
    shift: Shift


def vehicle_classes(fleet: Fleet) -> tuple[VehicleClass, ...]:
    """The fleet as the solver sees it: fewer vehicles first, then cheaper classes and kilometres."""
    return tuple(
        VehicleClass(
            type_id=v.id,
            capacity=v.seats,
            wheelchair_places=v.wheelchair_places,
            fixed_cost=FIXED_COST_PER_VEHICLE + int(round(v.day_rate)),
            cost_per_km=int(round(v.km_rate)),
            max_routes=v.count,
        )
        for v in fleet.vehicle_types
    )


def stop_service_s(policy: Policy, n_students: int) -> int:
    """Time a bus stands at a stop for ``n_students`` pupils, seconds."""
    return int(policy.stop_service_s + policy.stop_service_per_student_s * n_students)


@dataclass(frozen=True)
class GroupSpec:
    """A school's shift to route, all but its travel matrices: what a worker needs to compute them.

    ``nodes[k]`` is the road-graph node of problem node ``k`` (0 = the school), ``stops[k-1]`` the
    stop of node ``k``; the arrays are per problem node as :class:`RoutingProblem` wants them.
    ``arrive_by_s`` is when a morning trip must reach school, ``leave_at_s`` when an afternoon trip
    leaves it.
    """

    school: School
    shift: Shift
    nodes: tuple[int, ...]
    stops: tuple[Stop, ...]
    demand: np.ndarray
    wheelchair: np.ndarray
    service: np.ndarray
    max_ride: np.ndarray
    arrive_by_s: int
    leave_at_s: int
    vehicle_classes: tuple[VehicleClass, ...]


def group_specs(scenario: Scenario, stops: Sequence[Stop], school_nodes: dict[str, int]) -> list[GroupSpec]:
    """One :class:`GroupSpec` per (school, shift) that has stops, in a stable order.

    ``school_nodes`` maps ``school_id -> node`` of the school on the loaded (children aboard) graph.
    """
    students = {s.id: s for s in scenario.students}
    policy = scenario.policy
    classes = vehicle_classes(scenario.fleet)
    by_group: dict[tuple[str, str], list[Stop]] = {}
    for stop in stops:
        by_group.setdefault((stop.school_id, stop.shift), []).append(stop)
    specs = []
    for (school_id, shift_name), group_stops in sorted(by_group.items()):
        group_stops = sorted(group_stops, key=lambda s: s.id)
        school = scenario.school(school_id)
        shift = school.shift(shift_name)
        specs.append(
            GroupSpec(
                school=school,
                shift=shift,
                nodes=(school_nodes[school_id], *(s.node_id for s in group_stops)),
                stops=tuple(group_stops),
                demand=np.array(
                    [0] + [sum(not students[i].needs_wheelchair for i in s.student_ids) for s in group_stops],
                    dtype=np.int64,
                ),
                wheelchair=np.array(
                    [0] + [sum(students[i].needs_wheelchair for i in s.student_ids) for s in group_stops],
                    dtype=np.int64,
                ),
                service=np.array(
                    [0] + [stop_service_s(policy, len(s.student_ids)) for s in group_stops], dtype=np.int64
                ),
                max_ride=np.array(
                    [UNLIMITED_RIDE_S]
                    + [
                        min(
                            students[i].max_ride_s if students[i].max_ride_s is not None else policy.max_ride_s
                            for i in s.student_ids
                        )
                        for s in group_stops
                    ],
                    dtype=np.int64,
                ),
                arrive_by_s=int(shift.bell_s - policy.arrival_buffer_s),
                leave_at_s=int(shift.dismissal_s + policy.school_dwell_s),
                vehicle_classes=classes,
            )
        )
    return specs


GROUP_CHUNK_BYTES = 64 * 2**20
"""Working memory of one group's searches (see ``matrix``): small, as workers run them side by side."""


def group_matrices(graph: nx.MultiDiGraph | SearchGraph, spec: GroupSpec) -> tuple[np.ndarray, np.ndarray]:
    """Drive seconds (rounded up as the solver counts them) and metres among a group's nodes.

    A top-level function of plain data, so executor workers can run it on a :class:`SearchGraph`.
    """
    matrices = travel_matrices(graph, list(spec.nodes), list(spec.nodes), chunk_bytes=GROUP_CHUNK_BYTES)
    return seconds_matrix(matrices.time_s), np.rint(matrices.distance_m).astype(np.int64)


def group_problems(
    spec: GroupSpec, time_s: np.ndarray, distance_m: np.ndarray, *, max_duration_s: int | None = None
) -> list[GroupProblem]:
    """The group's two routing problems, to school and from school, on its matrices.

    ``max_duration_s`` caps every route's duration (for alternative route sets).
    """
    problems = []
    for direction in (Direction.TO_SCHOOL, Direction.FROM_SCHOOL):
        key = GroupKey(spec.school.id, spec.shift.name, direction)
        problem = RoutingProblem(
            name=key.label(),
            direction=direction,
            time_s=time_s,
            distance_m=distance_m,
            demand=spec.demand,
            wheelchair_demand=spec.wheelchair,
            service_s=spec.service,
            max_ride_s=spec.max_ride,
            school_time_s=spec.arrive_by_s if direction is Direction.TO_SCHOOL else spec.leave_at_s,
            vehicle_classes=spec.vehicle_classes,
            max_duration_s=max_duration_s,
        )
        problems.append(GroupProblem(key, problem, spec.nodes, spec.stops, spec.school, spec.shift))
    return problems


def build_group_problems(
    scenario: Scenario,
    stops: Sequence[Stop],
    school_nodes: dict[str, int],
    loaded_graph,
    *,
    max_duration_s: int | None = None,
) -> list[GroupProblem]:
    """One routing problem per (school, shift, direction) that has stops, in a stable order.

    Parameters
    ----------
    school_nodes : dict
        ``school_id -> node`` of the school on the loaded (children aboard) graph.
    loaded_graph : networkx.MultiDiGraph
        The graph trips with pupils aboard drive on.
    max_duration_s : int, optional
        A cap on every route's duration (for alternative route sets).
    """
    return [
        problem
        for spec in group_specs(scenario, stops, school_nodes)
        for problem in group_problems(spec, *group_matrices(loaded_graph, spec), max_duration_s=max_duration_s)
    ]


def route_path(problem: RoutingProblem, route_stops: Sequence[int]) -> list[int]:
    """Problem nodes a route drives through in order: stops then school, or school then stops."""
    if problem.direction is Direction.TO_SCHOOL:
        return [*route_stops, SCHOOL_NODE]
    return [SCHOOL_NODE, *route_stops]


def route_distance_m(problem: RoutingProblem, route_stops: Sequence[int]) -> float:
    """Metres a route drives with pupils aboard (first place to last), from the problem's matrix."""
    path = route_path(problem, route_stops)
    return float(sum(problem.distance_m[a, b] for a, b in zip(path, path[1:])))


def road_steps(graph, nodes: Sequence[int], leg_s: Sequence[float] | None = None) -> tuple[RoadStep, ...]:
    """The road path through ``nodes`` (visit after visit), merged street by street.

    Each leg follows the fastest path on ``graph``; consecutive edges on the same street (or, when
    unnamed, of the same road class) become one ``RoadStep`` whose coordinates follow the edges'
    geometry. ``leg_s``, each leg's drive time when known (seconds, as the matrices gave it), lets
    each search stop that far from the leg's start instead of covering the whole graph; the path
    is the same either way.
    """
    steps: list[RoadStep] = []
    for k, (a, b) in enumerate(zip(nodes, nodes[1:])):
        if a == b:
            continue
        # Matrix seconds are rounded up after taking 1e-6 off; one second more is a safe bound.
        path = fastest_path(graph, a, b, limit_s=None if leg_s is None else float(leg_s[k]) + 1.0)
        for u, v in zip(path, path[1:]):
            data = min(graph[u][v].values(), key=lambda d: (d["travel_time"], d["length"]))
            street = data.get("name") or ""
            street = street[0] if isinstance(street, list) else str(street)
            geometry = data.get("geometry")
            if geometry is not None:
                coords = tuple((round(x, 7), round(y, 7)) for x, y in geometry.coords)
            else:
                coords = (
                    (round(graph.nodes[u]["x"], 7), round(graph.nodes[u]["y"], 7)),
                    (round(graph.nodes[v]["x"], 7), round(graph.nodes[v]["y"], 7)),
                )
            highway = data.get("highway") or ""
            road_class = "" if street else str(highway[0] if isinstance(highway, list) else highway)
            if steps and (steps[-1].street, steps[-1].road_class) == (street, road_class):
                last = steps[-1]
                steps[-1] = RoadStep(
                    street, last.distance_m + float(data["length"]), last.coords + coords[1:], road_class
                )
            else:
                steps.append(RoadStep(street, float(data["length"]), coords, road_class))
    return tuple(RoadStep(s.street, round(s.distance_m, 1), s.coords, s.road_class) for s in steps)


def trip_from_route(
    group: GroupProblem,
    route_stops: Sequence[int],
    route_arrive_s: Sequence[int],
    school_s: int,
    vehicle_type: str,
    trip_id: str,
    vehicle_id: str,
    policy: Policy,
    loaded_graph,
) -> Trip:
    """A timed ``Trip`` from a solver route (problem node indices, arrival times, school time).

    ``policy.school_dwell_s`` is how long the bus stands at school.
    """
    problem = group.problem
    dwell = policy.school_dwell_s
    stop_visits = []
    for k, arrive in zip(route_stops, route_arrive_s):
        stop = group.stops[k - 1]
        depart = int(arrive) + int(problem.service_s[k])
        if problem.direction is Direction.TO_SCHOOL:
            stop_visits.append(Visit(int(arrive), depart, stop_id=stop.id, board=stop.student_ids))
        else:
            stop_visits.append(Visit(int(arrive), depart, stop_id=stop.id, alight=stop.student_ids))
    riders = tuple(i for k in route_stops for i in group.stops[k - 1].student_ids)
    if problem.direction is Direction.TO_SCHOOL:
        school_visit = Visit(int(school_s), int(school_s) + dwell, school_id=group.school.id, alight=riders)
        visits = (*stop_visits, school_visit)
    else:
        school_visit = Visit(int(school_s) - dwell, int(school_s), school_id=group.school.id, board=riders)
        visits = (school_visit, *stop_visits)
    problem_path = route_path(problem, route_stops)
    node_path = [group.nodes[k] for k in problem_path]
    leg_s = [float(problem.time_s[a, b]) for a, b in zip(problem_path, problem_path[1:])]
    distance = route_distance_m(problem, route_stops)
    return Trip(
        id=trip_id,
        vehicle_id=vehicle_id,
        vehicle_type=vehicle_type,
        school_id=group.school.id,
        shift=group.shift.name,
        direction=problem.direction,
        visits=visits,
        distance_m=distance,
        duration_s=visits[-1].depart_s - visits[0].arrive_s,
        steps=road_steps(loaded_graph, node_path, leg_s),
    )
