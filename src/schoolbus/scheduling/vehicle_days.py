"""From chained routes to vehicle-days: the rules a school-transport day follows.

The pipeline and re-planning (:mod:`schoolbus.replan`) both build their ``VehicleDay`` values and
pupils' ``Assignment`` values here, so a rule is written once:

- **fleet counts**: a vehicle type with a ``count`` drives at most that many vehicle-days; the
  pupils of the days beyond it (fewest riders first) are not carried, with the reason
  ``fleet_too_small`` (:func:`over_fleet`);
- **escorts**: a vehicle carries an escort when its type always does or when any pupil it carries
  is young enough to need one (:func:`needs_escort`);
- **depots**: every vehicle-day starts and ends at one depot of the fleet, the one nearest to its
  day (least pull-out plus pull-in); re-planning keeps a vehicle's depot while it is still in the
  fleet (:func:`depot_for_day`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from schoolbus.matrix import travel_matrices
from schoolbus.model import (
    Assignment,
    Depot,
    Direction,
    Fleet,
    Policy,
    Reason,
    ReasonCode,
    Scenario,
    Status,
    Stop,
    Trip,
    VehicleDay,
    VehicleType,
)
from schoolbus.routing.problem import Route
from schoolbus.scheduling.chaining import Chain, ChainTrip
from schoolbus.trips import GroupKey, GroupProblem, route_distance_m, trip_from_route


@dataclass(frozen=True)
class RoutedTrip:
    """One route of one routing group, with its identity for chaining."""

    group: GroupProblem
    route: Route
    chain_trip: ChainTrip

    def rider_ids(self) -> list[str]:
        """The pupils the route carries, stop by stop."""
        return [i for k in self.route.stops for i in self.group.stops[k - 1].student_ids]


def chain_trip_from_route(
    group: GroupProblem, route: Route, place: Callable[[int], int], trip_id: str, policy: Policy
) -> ChainTrip:
    """The chainer's view of a route: when and where its vehicle starts and is free.

    ``place(node)`` numbers road nodes for the deadhead matrices. The trip ``covers`` its stops in
    its direction, so that alternative routes of one group can be mixed when choosing trips.
    """
    problem = group.problem
    dwell = policy.school_dwell_s
    school_place = place(group.nodes[0])
    distance = route_distance_m(problem, route.stops)
    covers = frozenset((problem.direction.value, group.stops[k - 1].id) for k in route.stops)
    if problem.direction is Direction.TO_SCHOOL:
        return ChainTrip(
            id=trip_id,
            start_place=place(group.nodes[route.stops[0]]),
            end_place=school_place,
            start_s=route.arrive_s[0],
            end_s=route.school_s + dwell,
            vehicle_class=route.vehicle_class,
            group=group.key,
            distance_m=distance,
            covers=covers,
        )
    last = route.stops[-1]
    return ChainTrip(
        id=trip_id,
        start_place=school_place,
        end_place=place(group.nodes[last]),
        start_s=route.school_s - dwell,
        end_s=route.arrive_s[-1] + int(problem.service_s[last]),
        vehicle_class=route.vehicle_class,
        group=group.key,
        distance_m=distance,
        covers=covers,
    )


def over_fleet(fleet: Fleet, chains: Sequence[Chain], chosen: Sequence[RoutedTrip]) -> dict[str, Reason]:
    """Pupils on the vehicle-days beyond a vehicle type's count (fewest riders dropped first)."""
    riders_of = {r.chain_trip.id: r.rider_ids() for r in chosen}
    where_of = {r.chain_trip.id: r.group.key for r in chosen}
    dropped: dict[str, Reason] = {}
    for vehicle_type in fleet.vehicle_types:
        mine = [c for c in chains if c.vehicle_class == vehicle_type.id]
        if vehicle_type.count is None or len(mine) <= vehicle_type.count:
            continue
        by_riders = sorted(mine, key=lambda c: (sum(len(riders_of[t]) for t in c.trip_ids), c.trip_ids))
        for chain in by_riders[: len(mine) - vehicle_type.count]:
            for trip_id in chain.trip_ids:
                key: GroupKey = where_of[trip_id]
                reason = Reason.make(
                    ReasonCode.FLEET_TOO_SMALL,
                    school_id=key.school_id,
                    shift=key.shift,
                    needed=len(mine),
                    vehicle_type=vehicle_type.id,
                    count=vehicle_type.count,
                    short=len(mine) - vehicle_type.count,
                )
                for student_id in riders_of[trip_id]:
                    dropped.setdefault(student_id, reason)
    return dropped


def needs_escort(policy: Policy, vehicle_type: VehicleType, rider_grades: Iterable[int]) -> bool:
    """Whether a vehicle of ``vehicle_type`` carrying pupils of ``rider_grades`` needs an escort."""
    return vehicle_type.always_escort or any(policy.needs_escort(grade) for grade in rider_grades)


def vehicle_day(
    scenario: Scenario,
    vehicle_id: str,
    vehicle_type_id: str,
    trips: Sequence[Trip],
    depot_id: str | None,
    deadhead_m: float,
) -> VehicleDay:
    """The ``VehicleDay`` driving ``trips`` (in order) from and back to ``depot_id``.

    ``deadhead_m`` is its empty driving, depot runs included, metres. Money is left at 0 for
    :func:`schoolbus.costing.cost_plan` to fill in.
    """
    vehicle_type = scenario.fleet.vehicle_type(vehicle_type_id)
    riders = {i for t in trips for v in t.visits for i in v.board}
    grades = (s.grade for s in scenario.students if s.id in riders)
    return VehicleDay(
        id=vehicle_id,
        vehicle_type=vehicle_type.id,
        seats=vehicle_type.seats,
        wheelchair_places=vehicle_type.wheelchair_places,
        escort=needs_escort(scenario.policy, vehicle_type, grades),
        trip_ids=tuple(t.id for t in trips),
        depot_id=depot_id,
        deadhead_m=round(float(deadhead_m), 1),
        distance_m=round(float(deadhead_m) + sum(t.distance_m for t in trips), 1),
        cost_per_day=0.0,
    )


def build_vehicle_days(
    scenario: Scenario,
    loaded_graph,
    chosen: Sequence[RoutedTrip],
    chains: Sequence[Chain],
    depot_of_place: Mapping[int, str],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Trip], list[VehicleDay]]:
    """Number vehicles (``V001``…) and trips (``T001``…) in a stable order and build their values.

    ``depot_of_place`` maps each depot's place (as numbered for chaining) to its depot id; a chain
    without a depot place gets no depot.
    """
    by_id = {r.chain_trip.id: r for r in chosen}
    ordered = sorted(chains, key=lambda c: (by_id[c.trip_ids[0]].chain_trip.start_s, c.trip_ids))
    trips: list[Trip] = []
    vehicles: list[VehicleDay] = []
    for v_index, chain in enumerate(ordered, start=1):
        vehicle_id = f"V{v_index:03d}"
        mine = []
        for chain_trip_id in chain.trip_ids:
            routed = by_id[chain_trip_id]
            trip = trip_from_route(
                routed.group,
                routed.route.stops,
                routed.route.arrive_s,
                routed.route.school_s,
                chain.vehicle_class,
                f"T{len(trips) + 1:03d}",
                vehicle_id,
                scenario.policy,
                loaded_graph,
            )
            trips.append(trip)
            mine.append(trip)
            if progress is not None:
                progress(len(trips), len(chosen))
        depot_id = depot_of_place.get(chain.depot_place) if chain.depot_place is not None else None
        vehicles.append(vehicle_day(scenario, vehicle_id, chain.vehicle_class, mine, depot_id, chain.deadhead_m))
    return trips, vehicles


def depot_for_day(
    drive_graph,
    depot_nodes: Mapping[str, int],
    first_node: int,
    last_node: int,
    keep: str | None = None,
) -> tuple[str | None, float]:
    """The depot of a vehicle-day from ``first_node`` to ``last_node``, and its depot runs in metres.

    ``keep`` (a depot id) is kept while it is one of ``depot_nodes``, so a re-planned vehicle
    stays where it is parked; otherwise the depot with the least pull-out plus pull-in, the first
    listed on a tie. ``(None, 0.0)`` without depots.
    """
    if not depot_nodes:
        return None, 0.0
    ids = [keep] if keep in depot_nodes else list(depot_nodes)
    nodes = [depot_nodes[d] for d in ids]
    out_m = travel_matrices(drive_graph, nodes, [first_node]).distance_m[:, 0]
    in_m = travel_matrices(drive_graph, [last_node], nodes).distance_m[0, :]
    runs_m = [float(a) + float(b) for a, b in zip(out_m, in_m, strict=True)]
    best = min(range(len(ids)), key=lambda k: (runs_m[k], k))
    return ids[best], runs_m[best]


def depot_places(depots: Sequence[Depot], depot_nodes: Sequence[int], place: Callable[[int], int]) -> dict[int, str]:
    """Each depot's place for chaining -> its id (two depots on one road node: the first listed)."""
    out: dict[int, str] = {}
    for depot, node in zip(depots, depot_nodes, strict=True):
        out.setdefault(place(int(node)), depot.id)
    return out


def assignments(
    scenario: Scenario,
    stops: Sequence[Stop],
    walk_m: Mapping[str, float],
    unserved: Mapping[str, Reason],
    trips: Sequence[Trip],
) -> tuple[Assignment, ...]:
    """One assignment per pupil, in the scenario's order: stop, walk and times, or the reason."""
    stop_of = {i: stop for stop in stops for i in stop.student_ids}
    times: dict[str, dict[str, int]] = defaultdict(dict)
    for trip in trips:
        school_visit = next(v for v in trip.visits if v.school_id is not None)
        for visit in trip.visits:
            if visit.stop_id is None:
                continue
            for i in visit.board:
                times[i]["pickup_s"] = visit.arrive_s
                times[i]["ride_to_school_s"] = school_visit.arrive_s - visit.depart_s
            for i in visit.alight:
                times[i]["dropoff_s"] = visit.arrive_s
                times[i]["ride_home_s"] = visit.arrive_s - school_visit.depart_s
    out = []
    for student in scenario.students:
        if student.id in unserved:
            out.append(
                Assignment(student.id, student.school_id, student.shift, Status.UNSERVED, reason=unserved[student.id])
            )
            continue
        stop = stop_of[student.id]
        out.append(
            Assignment(
                student.id,
                student.school_id,
                student.shift,
                Status.ROUTED,
                stop_id=stop.id,
                walk_m=walk_m[student.id],
                **times[student.id],
            )
        )
    return tuple(out)
