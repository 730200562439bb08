"""Stability-first re-planning: apply a change set to a finished plan and move as little as possible.

The re-planner starts from the base plan's stops, trips and vehicle-days and touches only what a
change forces:

1. Pupils who left, moved, changed school, or whose stop closed (by a change, or because a closed
   road cut its node off) leave their stops; stops left empty leave their trips.
2. Every trip whose stops or legs changed is re-timed on the (possibly closed) road network with
   the base times as targets: buses wait at a visit where that keeps a stop's old time, within
   ride limits and bell times. A trip that cannot be re-timed is re-optimised: its stops go back
   to the routing search for their school, shift and direction.
3. Pupils to place join an existing stop of their school and shift within their walk limit when
   its trips stay feasible; otherwise they get a new stop (chosen by :mod:`schoolbus.stops`),
   inserted at the cheapest feasible position of an existing trip of the same group (seats,
   wheelchair places, ride limits, bell time, the vehicle's next trip, and the old pupils' times
   within ``tolerance_s``).
4. Stops no insertion fits are routed by the solver on their own; their trips, and the trips of a
   withdrawn vehicle or of a vehicle whose day no longer chains, go onto an existing vehicle with
   room in its day first and onto a new vehicle only when none has.

The result passes :func:`schoolbus.check.check_plan` on the changed roads, and says what moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from schoolbus.changes import (
    ADD_PUPIL,
    CHANGE_SCHOOL,
    CLOSE_STOP,
    MOVE_PUPIL,
    REMOVE_PUPIL,
    WITHDRAW_VEHICLE,
    ChangeSet,
    ClosedRoads,
    apply_to_scenario,
    close_roads,
    closed_edges,
)
from schoolbus.check import check_plan
from schoolbus.costing import cost_plan
from schoolbus.errors import InputError, PlanCheckError, Problem
from schoolbus.locations import locate
from schoolbus.matrix import travel_matrices, walk_distances
from schoolbus.model import (
    Direction,
    Located,
    Pin,
    Plan,
    Reason,
    ReasonCode,
    Scenario,
    Status,
    Stop,
    Student,
    Trip,
    Visit,
)
from schoolbus.network import RoadNetwork
from schoolbus.params import SolverParams
from schoolbus.pins import locked_trips, locked_vehicles, merge_pins, pinned_stop_of
from schoolbus.routing.problem import to_solver_seconds
from schoolbus.routing.solve import solve_routing
from schoolbus.scheduling.vehicle_days import assignments as pupil_assignments
from schoolbus.scheduling.vehicle_days import depot_for_day, needs_escort, vehicle_day
from schoolbus.stops import select_stops
from schoolbus.trips import build_group_problems, road_steps, stop_service_s

TOLERANCE_POLICY_KEY = "replan_tolerance_min"
"""Policy-file key (minutes) that sets the tolerance (``Policy.replan_tolerance_s``, ±5 min by
default); see ``docs/changes.md``."""

# Why a pupil's stop or time changed (codes; words are for renderers).
REASON_ADDED = "added"
REASON_REMOVED = "removed"
REASON_MOVED_HOME = "moved_home"
REASON_SCHOOL_CHANGED = "school_changed"
REASON_STOP_CLOSED = "stop_closed"
REASON_ROAD_CLOSED = "road_closed"
REASON_VEHICLE_WITHDRAWN = "vehicle_withdrawn"
REASON_ROUTE_CHANGED = "route_changed"
REASON_NOW_UNSERVED = "now_unserved"
REASON_PINNED = "pinned"

_CHANGE_REASONS = {
    ADD_PUPIL: REASON_ADDED,
    REMOVE_PUPIL: REASON_REMOVED,
    MOVE_PUPIL: REASON_MOVED_HOME,
    CHANGE_SCHOOL: REASON_SCHOOL_CHANGED,
}

NEW_STOP_TAG = "N"
"""New stops read ``<school>-<shift>-N001`` (shared and door-to-door alike)."""


@dataclass(frozen=True)
class PupilChange:
    """One pupil whose stop, pickup or drop-off changed; times are seconds after midnight."""

    student_id: str
    reason: str
    old_stop_id: str | None
    new_stop_id: str | None
    old_pickup_s: int | None
    new_pickup_s: int | None
    old_dropoff_s: int | None
    new_dropoff_s: int | None

    def moved_s(self) -> int:
        """The larger of the pickup and drop-off shifts, seconds (0 when either side is missing)."""
        shifts = [
            abs(a - b)
            for a, b in ((self.old_pickup_s, self.new_pickup_s), (self.old_dropoff_s, self.new_dropoff_s))
            if a is not None and b is not None
        ]
        return max(shifts, default=0)


@dataclass(frozen=True)
class Replan:
    """A re-planned, checked plan and what it changed against its base.

    ``pupils`` lists every pupil whose stop or time changed, with the reason code;
    ``forced`` the pupils a change named (or whose stop a change closed); ``vehicles_changed`` and
    ``trips_changed`` the vehicle-day and trip ids that differ (added, removed or altered);
    ``new_vehicles`` those the base did not have. Money is in the scenario's currency.
    """

    plan: Plan
    base: Plan
    closed: ClosedRoads
    pupils: tuple[PupilChange, ...]
    forced: frozenset[str]
    vehicles_changed: tuple[str, ...]
    trips_changed: tuple[str, ...]
    new_vehicles: tuple[str, ...]
    tolerance_s: int

    @property
    def cost_per_day_delta(self) -> float:
        """New cost per day minus the base's."""
        return round(self.plan.summary.cost_per_day - self.base.summary.cost_per_day, 2)

    @property
    def cost_per_year_delta(self) -> float:
        """New cost per year minus the base's."""
        return round(self.plan.summary.cost_per_year - self.base.summary.cost_per_year, 2)

    def unaffected_moved(self, threshold_s: int = 0) -> tuple[PupilChange, ...]:
        """Pupils no change named whose stop changed or whose time moved more than ``threshold_s``."""
        return tuple(
            p
            for p in self.pupils
            if p.student_id not in self.forced
            and (p.old_stop_id != p.new_stop_id or p.moved_s() > threshold_s)
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (``replan.json``)."""
        return {
            "tolerance_s": self.tolerance_s,
            "cost_per_day": {"base": self.base.summary.cost_per_day, "new": self.plan.summary.cost_per_day,
                             "delta": self.cost_per_day_delta},
            "cost_per_year": {"base": self.base.summary.cost_per_year, "new": self.plan.summary.cost_per_year,
                              "delta": self.cost_per_year_delta},
            "n_vehicles": {"base": self.base.summary.n_vehicles, "new": self.plan.summary.n_vehicles},
            "vehicles_changed": list(self.vehicles_changed),
            "new_vehicles": list(self.new_vehicles),
            "trips_changed": list(self.trips_changed),
            "pupils": [p.__dict__ for p in self.pupils],
            "n_unaffected_moved_beyond_tolerance": len(self.unaffected_moved(self.tolerance_s)),
            "closed_road_edges": len(self.closed.edges),
        }


# --------------------------------------------------------------------------------------------------
# Working state
# --------------------------------------------------------------------------------------------------


@dataclass
class _Timed:
    """A trip's times: per stop arrival and departure, and the school visit."""

    arrive_s: list[int]
    depart_s: list[int]
    school_arrive_s: int
    school_depart_s: int
    is_to_school: bool

    @property
    def start_s(self) -> int:
        """When the trip reaches its first place: its first stop (morning) or the school."""
        return self.arrive_s[0] if self.is_to_school else self.school_arrive_s

    @property
    def end_s(self) -> int:
        """When the trip leaves its last place: the school (morning) or its last stop."""
        return self.school_depart_s if self.is_to_school else self.depart_s[-1]


@dataclass
class _Route:
    """A trip being re-planned: its stops in order, its vehicle and the times it aims for."""

    trip_id: str
    vehicle_id: str | None
    vehicle_type: str
    school_id: str
    shift: str
    direction: Direction
    stop_ids: list[str]
    school_s: int
    """``TO_SCHOOL``: the latest school arrival (bell minus buffer). ``FROM_SCHOOL``: the earliest
    departure from school (the base trip's, or dismissal plus dwell)."""
    targets: dict[str, int]
    base: Trip | None
    timed: _Timed | None = None
    dirty: bool = False


class _Legs:
    """Integer drive legs ``(time_s, distance_m)`` on one graph, computed a source row at a time."""

    def __init__(self, graph, nodes) -> None:
        self.graph = graph
        self.universe = list(dict.fromkeys(int(n) for n in nodes))
        self.rows: dict[int, dict[int, tuple[int, int]]] = {}
        if self.universe:
            m = travel_matrices(graph, self.universe, self.universe)
            for i, a in enumerate(self.universe):
                self.rows[a] = self._row(m.time_s[i], m.distance_m[i], self.universe)

    @staticmethod
    def _row(times, distances, targets) -> dict[int, tuple[int, int]]:
        return {
            b: (to_solver_seconds(float(t)) if np.isfinite(t) else 10**9, int(np.rint(d)) if np.isfinite(d) else 10**9)
            for b, t, d in zip(targets, times, distances)
        }

    def __call__(self, a: int, b: int) -> tuple[int, int]:
        row = self.rows.get(a)
        if row is None or b not in row:
            if b not in self.universe:
                self.universe.append(b)
            m = travel_matrices(self.graph, [a], self.universe)
            self.rows[a] = self._row(m.time_s[0], m.distance_m[0], self.universe)
            row = self.rows[a]
        return row[b]


@dataclass
class _State:
    base: Plan
    scenario: Scenario
    network: RoadNetwork
    params: SolverParams
    tolerance_s: int
    students: dict[str, Student]
    stops: dict[str, Stop]
    routes: dict[str, _Route]
    vehicles: dict[str, list[str]]
    vehicle_types: dict[str, str]
    located: Located
    school_nodes: dict[str, int]
    legs: _Legs
    deadheads: _Legs
    forced: dict[str, str] = field(default_factory=dict)
    walk_m: dict[str, float] = field(default_factory=dict)
    unserved: dict[str, str] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)
    pools: dict[tuple[str, str, Direction], list[str]] = field(default_factory=lambda: defaultdict(list))
    n_new_stops: int = 0
    n_new_trips: int = 0
    n_new_vehicles: int = 0

    # ---- a route's geometry and times ----------------------------------------------------------

    def route_of_stop(self, stop_id: str, direction: Direction) -> _Route | None:
        for route in self.routes.values():
            if route.direction is direction and stop_id in route.stop_ids:
                return route
        return None

    def service_s(self, stop_id: str) -> int:
        return stop_service_s(self.scenario.policy, len(self.stops[stop_id].student_ids))

    def ride_limit_s(self, stop_id: str) -> int:
        policy = self.scenario.policy
        return min(
            self.students[i].max_ride_s if self.students[i].max_ride_s is not None else policy.max_ride_s
            for i in self.stops[stop_id].student_ids
        )

    def load(self, stop_ids: list[str]) -> tuple[int, int]:
        pupils = [self.students[i] for s in stop_ids for i in self.stops[s].student_ids]
        wheelchairs = sum(p.needs_wheelchair for p in pupils)
        return len(pupils) - wheelchairs, wheelchairs

    def fits_vehicle_type(self, stop_ids: list[str], type_id: str) -> bool:
        seats, wheelchairs = self.load(stop_ids)
        vehicle_type = self.scenario.fleet.vehicle_type(type_id)
        return seats <= vehicle_type.seats and wheelchairs <= vehicle_type.wheelchair_places

    def schedule(self, route: _Route, stop_ids: list[str]) -> _Timed | None:
        """Times for ``stop_ids`` in order, closest to the targets; ``None`` when infeasible."""
        if not stop_ids:
            return None
        nodes = [self.stops[s].node_id for s in stop_ids]
        school = self.school_nodes[route.school_id]
        service = [self.service_s(s) for s in stop_ids]
        limits = [self.ride_limit_s(s) for s in stop_ids]
        targets = [route.targets.get(s) for s in stop_ids]
        hop = [self.legs(a, b)[0] for a, b in zip(nodes, nodes[1:])]
        dwell = self.scenario.policy.school_dwell_s
        m = len(stop_ids)
        if route.direction is Direction.TO_SCHOOL:
            latest = [0] * m
            latest[-1] = route.school_s - self.legs(nodes[-1], school)[0] - service[-1]
            for k in range(m - 2, -1, -1):
                latest[k] = latest[k + 1] - hop[k] - service[k]
            for wait in (True, False):
                arrive = [0] * m
                for k in range(m):
                    if not wait:
                        arrive[k] = latest[k]
                        continue
                    earliest = arrive[k - 1] + service[k - 1] + hop[k - 1] if k else None
                    goal = targets[k]
                    if earliest is None:
                        arrive[k] = min(latest[k], goal) if goal is not None else latest[k]
                    else:
                        arrive[k] = min(latest[k], max(earliest, goal)) if goal is not None else earliest
                depart = [arrive[k + 1] - hop[k] for k in range(m - 1)] + [arrive[-1] + service[-1]]
                school_arrive = depart[-1] + self.legs(nodes[-1], school)[0]
                if all(school_arrive - depart[k] <= limits[k] for k in range(m)):
                    return _Timed(arrive, depart, school_arrive, school_arrive + dwell, is_to_school=True)
            return None
        first = self.legs(school, nodes[0])[0]
        for wait in (True, False):
            arrive = [0] * m
            arrive[0] = route.school_s + first
            if wait and targets[0] is not None:
                arrive[0] = max(arrive[0], targets[0])
            for k in range(1, m):
                arrive[k] = arrive[k - 1] + service[k - 1] + hop[k - 1]
                if wait and targets[k] is not None:
                    arrive[k] = max(arrive[k], targets[k])
            depart = [arrive[k + 1] - hop[k] for k in range(m - 1)] + [arrive[-1] + service[-1]]
            school_depart = arrive[0] - first
            if all(arrive[k] - school_depart <= limits[k] for k in range(m)):
                return _Timed(arrive, depart, school_depart - dwell, school_depart, is_to_school=False)
        return None

    def end_nodes(self, route: _Route, stop_ids: list[str]) -> tuple[int, int]:
        school = self.school_nodes[route.school_id]
        if route.direction is Direction.TO_SCHOOL:
            return self.stops[stop_ids[0]].node_id, school
        return school, self.stops[stop_ids[-1]].node_id

    def within_tolerance(self, route: _Route, stop_ids: list[str], timed: _Timed) -> bool:
        """Whether every unforced pupil on the route keeps its base time within the tolerance."""
        for k, stop_id in enumerate(stop_ids):
            target = route.targets.get(stop_id)
            if target is None:
                continue
            if any(i not in self.forced for i in self.stops[stop_id].student_ids):
                if abs(timed.arrive_s[k] - target) > self.tolerance_s:
                    return False
        return True

    def fits_day(self, vehicle_id: str, route: _Route, stop_ids: list[str], timed: _Timed) -> int | None:
        """Extra deadhead seconds if the trip fits ``vehicle_id``'s day as timed, else ``None``."""
        start_node, end_node = self.end_nodes(route, stop_ids)
        others = [self.routes[t] for t in self.vehicles[vehicle_id] if t != route.trip_id]
        others.sort(key=lambda r: r.timed.start_s)
        before = [r for r in others if r.timed.start_s <= timed.start_s]
        after = [r for r in others if r.timed.start_s > timed.start_s]
        extra = 0
        if before:
            prev = before[-1]
            gap = self.deadheads(self.end_nodes(prev, prev.stop_ids)[1], start_node)[0]
            if prev.timed.end_s + gap > timed.start_s:
                return None
            extra += gap
        if after:
            nxt = after[0]
            gap = self.deadheads(end_node, self.end_nodes(nxt, nxt.stop_ids)[0])[0]
            if timed.end_s + gap > nxt.timed.start_s:
                return None
            extra += gap
        return extra

    def drive_s(self, route: _Route, stop_ids: list[str]) -> int:
        school = self.school_nodes[route.school_id]
        nodes = [self.stops[s].node_id for s in stop_ids]
        path = [*nodes, school] if route.direction is Direction.TO_SCHOOL else [school, *nodes]
        return sum(self.legs(a, b)[0] for a, b in zip(path, path[1:]))

    def try_route(self, route: _Route, stop_ids: list[str], *, keep_times: bool) -> _Timed | None:
        """Times for ``route`` with ``stop_ids`` if every rule (and, if asked, the tolerance) holds."""
        if not self.fits_vehicle_type(stop_ids, route.vehicle_type):
            return None
        timed = self.schedule(route, stop_ids)
        if timed is None or (keep_times and not self.within_tolerance(route, stop_ids, timed)):
            return None
        if route.vehicle_id is not None and self.fits_day(route.vehicle_id, route, stop_ids, timed) is None:
            return None
        return timed


def replan(
    base: Plan,
    changes: ChangeSet,
    network: RoadNetwork,
    params: SolverParams | None = None,
    *,
    tolerance_s: int | None = None,
    pins: Sequence[Pin] = (),
) -> Replan:
    """Apply ``changes`` to the checked plan ``base``, moving as little as the changes allow.

    Parameters
    ----------
    base : Plan
        The plan in force (from :func:`schoolbus.planfile.read_plan`).
    changes : ChangeSet
        Validated changes (:func:`schoolbus.changes.read_changes`).
    network : RoadNetwork
        The network ``base`` was planned on; closed roads are taken out of a copy.
    params : SolverParams, optional
        For the stops of new pupils and for routing what no existing trip can take.
    tolerance_s : int, optional
        How far an unaffected pupil's time may move to make room for a change, seconds; by
        default the policy's ``replan_tolerance_s`` (policy file key ``replan_tolerance_min``).
    pins : sequence of Pin
        New manual decisions (:func:`schoolbus.pins.read_pins`), kept with the base's own: a
        pupil pinned to another stop moves there; locked trips and vehicle-days are not touched.

    Returns
    -------
    Replan
        The new plan (checked on the changed roads) and what it changed.

    Raises
    ------
    InputError
        A closed road the network does not have, or a change that breaks a pin or lock (unlock
        or unpin first). PlanCheckError if the result breaks a rule (a bug).
    """
    params = params or SolverParams()
    closed = closed_edges(network, changes)
    roads = close_roads(network, closed)
    scenario = apply_to_scenario(base.scenario, changes, base)
    scenario = replace(scenario, pins=merge_pins(base.scenario.pins, pins))
    if tolerance_s is None:
        tolerance_s = scenario.policy.replan_tolerance_s
    state = _initial_state(base, scenario, roads, params, tolerance_s)
    _check_pins_against_changes(state, changes)
    _take_out_changed(state, changes)
    _retime(state)
    _check_locks_kept(state, changes)
    _reinsert_pooled(state)
    _place_pupils(state)
    _route_pools(state)
    _withdraw(state, changes)
    _place_orphans(state)
    _eliminate_vehicles(state)
    plan = _finish(state)
    violations = check_plan(plan, roads)
    if violations:
        raise PlanCheckError(violations)
    return _report(state, plan, closed)


def _initial_state(base: Plan, scenario: Scenario, roads: RoadNetwork, params, tolerance_s: int) -> _State:
    stops = {s.id: s for s in base.stops}
    located = locate(scenario, roads)
    school_nodes = located.school_nodes()
    routes: dict[str, _Route] = {}
    vehicles: dict[str, list[str]] = {}
    policy = scenario.policy
    for trip in base.trips:
        stop_visits = [v for v in trip.visits if v.stop_id is not None]
        school_visit = next(v for v in trip.visits if v.school_id is not None)
        shift = scenario.school(trip.school_id).shift(trip.shift)
        if trip.direction is Direction.TO_SCHOOL:
            school_s = shift.bell_s - policy.arrival_buffer_s
        else:
            school_s = school_visit.depart_s
        route = _Route(
            trip_id=trip.id,
            vehicle_id=trip.vehicle_id,
            vehicle_type=trip.vehicle_type,
            school_id=trip.school_id,
            shift=trip.shift,
            direction=trip.direction,
            stop_ids=[v.stop_id for v in stop_visits],
            school_s=school_s,
            targets={v.stop_id: v.arrive_s for v in stop_visits},
            base=trip,
            timed=_Timed(
                [v.arrive_s for v in stop_visits],
                [v.depart_s for v in stop_visits],
                school_visit.arrive_s,
                school_visit.depart_s,
                is_to_school=trip.direction is Direction.TO_SCHOOL,
            ),
        )
        routes[trip.id] = route
    for vehicle in base.vehicles:
        vehicles[vehicle.id] = list(vehicle.trip_ids)
    nodes = [s.node_id for s in base.stops] + list(school_nodes.values())
    depot_nodes = list(located.depot_nodes().values())
    state = _State(
        base=base,
        scenario=scenario,
        network=roads,
        params=params,
        tolerance_s=tolerance_s,
        students={s.id: s for s in scenario.students},
        stops=stops,
        routes=routes,
        vehicles=vehicles,
        vehicle_types={v.id: v.vehicle_type for v in base.vehicles},
        located=located,
        school_nodes=school_nodes,
        legs=_Legs(roads.loaded, [n for n in nodes if n in roads.loaded]),
        deadheads=_Legs(roads.drive, [n for n in nodes + depot_nodes if n in roads.drive]),
    )
    state.walk_m = {a.student_id: a.walk_m for a in base.assignments if a.walk_m is not None}
    state.unserved = {
        a.student_id: a.reason or Reason.make(ReasonCode.NO_ROUTE_FOUND)
        for a in base.assignments
        if a.status is Status.UNSERVED
    }
    # Legs whose drive changed (a closed road) make their trips dirty.
    for route in routes.values():
        if any(stops[s].node_id not in roads.loaded for s in route.stop_ids):
            continue  # handled with the closed stops
        visits = route.base.visits
        distance_m = 0
        for a, b in zip(visits, visits[1:]):
            na, nb = _visit_node(a, stops, school_nodes), _visit_node(b, stops, school_nodes)
            time_s, leg_m = state.legs(na, nb)
            distance_m += leg_m
            if abs(time_s - (b.arrive_s - a.depart_s)) > 1:
                route.dirty = True
                break
        # A closed road can leave a leg as fast but longer (or shorter): its trip is redrawn too.
        if abs(distance_m - route.base.distance_m) > len(visits) - 1:
            route.dirty = True
    return state


def _visit_node(visit: Visit, stops: dict[str, Stop], school_nodes: dict[str, int]) -> int:
    return stops[visit.stop_id].node_id if visit.stop_id is not None else school_nodes[visit.school_id]


def _check_pins_against_changes(state: _State, changes: ChangeSet) -> None:
    """Refuse changes that contradict a pin or lock; move pupils newly pinned to another stop."""
    problems: list[Problem] = []
    locked = locked_trips(state.scenario)
    closed_stops = {c.stop_id: c for c in changes.of_kind(CLOSE_STOP)}
    for pin in state.scenario.pins:
        if pin.kind == "stop_location" and pin.stop_id in state.stops:
            node = state.located.pinned_places_loaded[pin.stop_id].node_id
            if node != state.stops[pin.stop_id].node_id:
                problems.append(Problem("pins", None, "stop_id", pin.stop_id,
                                        "a stop pinned where it stands: a re-plan does not move stops (plan afresh)"))
    for student_id, stop_id in pinned_stop_of(state.scenario).items():
        if stop_id in closed_stops:
            problems.append(Problem(changes.source, closed_stops[stop_id].row, "stop_id", stop_id,
                                    f"a stop no pupil is pinned to (unpin {student_id} first)"))
        elif stop_id not in state.stops:
            problems.append(Problem("pins", None, "stop_id", stop_id, "a stop of the plan"))
        elif student_id in state.students and student_id not in state.stops[stop_id].student_ids:
            state.forced.setdefault(student_id, REASON_PINNED)
    for change in changes.of_kind(WITHDRAW_VEHICLE):
        if change.vehicle_id in locked_vehicles(state.scenario) or any(
            p.vehicle_id == change.vehicle_id for p in locked.values()
        ):
            problems.append(Problem(changes.source, change.row, "vehicle_id", change.vehicle_id,
                                    "a vehicle without locked trips (unlock it first)"))
    _raise_if_any(problems)


def _check_locks_kept(state: _State, changes: ChangeSet) -> None:
    """A change that would alter a locked trip is refused, naming the lock."""
    problems = []
    for trip_id, pin in sorted(locked_trips(state.scenario).items()):
        route = state.routes.get(trip_id)
        if route is None or route.dirty or route.vehicle_id != pin.vehicle_id:
            problems.append(Problem(changes.source, None, "trip_id", trip_id,
                                    "changes that leave this locked trip as it is (unlock it first)"))
    _raise_if_any(problems)


def _raise_if_any(problems: list[Problem]) -> None:
    if problems:
        raise InputError(problems, f"{len(problems)} change(s) contradict a pin or lock")


def _take_out_changed(state: _State, changes: ChangeSet) -> None:
    """Pupils a change names, and the pupils of closed or cut-off stops, leave their stops."""
    for change in changes.changes:
        if change.kind in _CHANGE_REASONS:
            state.forced[change.student_id] = _CHANGE_REASONS[change.kind]
    closed_stops = {c.stop_id for c in changes.of_kind(CLOSE_STOP)}
    for stop in list(state.stops.values()):
        if stop.id in closed_stops or stop.node_id not in state.network.loaded:
            reason = REASON_STOP_CLOSED if stop.id in closed_stops else REASON_ROAD_CLOSED
            for i in stop.student_ids:
                state.forced.setdefault(i, reason)
            _drop_stop(state, stop.id)
    for student_id in state.forced:
        state.unserved.pop(student_id, None)
        state.walk_m.pop(student_id, None)
        for stop in list(state.stops.values()):
            if student_id in stop.student_ids:
                _set_riders(state, stop.id, tuple(i for i in stop.student_ids if i != student_id))


def _set_riders(state: _State, stop_id: str, riders: tuple[str, ...]) -> None:
    if not riders:
        _drop_stop(state, stop_id)
        return
    state.stops[stop_id] = replace(state.stops[stop_id], student_ids=riders)
    for route in state.routes.values():
        if stop_id in route.stop_ids:
            route.dirty = True


def _drop_stop(state: _State, stop_id: str) -> None:
    for route in list(state.routes.values()):
        if stop_id in route.stop_ids:
            route.stop_ids.remove(stop_id)
            route.dirty = True
            if not route.stop_ids:
                _drop_route(state, route)
    state.stops.pop(stop_id, None)


def _drop_route(state: _State, route: _Route) -> None:
    state.routes.pop(route.trip_id, None)
    if route.vehicle_id is not None:
        state.vehicles[route.vehicle_id].remove(route.trip_id)
    if route.trip_id in state.orphans:
        state.orphans.remove(route.trip_id)


def _retime(state: _State) -> None:
    """Re-time every dirty route; one that no longer works goes back to the routing search."""
    for route in sorted(state.routes.values(), key=lambda r: r.trip_id):
        if not route.dirty:
            continue
        timed = state.schedule(route, route.stop_ids) if state.fits_vehicle_type(route.stop_ids, route.vehicle_type) else None
        if timed is None:
            state.pools[(route.school_id, route.shift, route.direction)].extend(route.stop_ids)
            for stop_id in route.stop_ids:
                for i in state.stops[stop_id].student_ids:
                    state.forced.setdefault(i, REASON_ROUTE_CHANGED)
            route.stop_ids = []
            _drop_route(state, route)
            continue
        route.timed = timed
    for vehicle_id in sorted(state.vehicles):
        day = sorted((state.routes[t] for t in state.vehicles[vehicle_id]), key=lambda r: (r.timed.start_s, r.trip_id))
        kept: list[_Route] = []
        locked = locked_trips(state.scenario)
        for route in day:
            while kept and not _chains(state, kept[-1], route):
                # Move whichever of the two finds a better place elsewhere (no new escort, no new
                # vehicle, least empty driving); on a tie the trip that changed moves.
                before = kept[-1]
                if route.trip_id in locked or (before.trip_id not in locked and _move_key(state, before) < _move_key(state, route)):
                    _detach(state, kept.pop())
                    continue
                _detach(state, route)
                break
            else:
                kept.append(route)


def _move_key(state: _State, route: _Route) -> tuple:
    best = _best_vehicle(state, route, exclude=route.vehicle_id)
    return (best is None, *(best[0] if best else ()), not route.dirty)


def _best_vehicle(state: _State, route: _Route, exclude: str | None = None) -> tuple[tuple, str] | None:
    """The vehicle whose day takes ``route`` best: no new escort, same type, least extra deadhead."""
    best = None
    for vehicle_id in sorted(state.vehicles):
        if vehicle_id == exclude or vehicle_id in locked_vehicles(state.scenario):
            continue
        type_id = state.vehicle_types[vehicle_id]
        if not state.fits_vehicle_type(route.stop_ids, type_id):
            continue
        extra = state.fits_day(vehicle_id, route, route.stop_ids, route.timed)
        if extra is None:
            continue
        key = (_adds_escort(state, vehicle_id, route), type_id != route.vehicle_type, extra)
        if best is None or key < best[0]:
            best = (key, vehicle_id)
    return best


def _chains(state: _State, before: _Route, after: _Route) -> bool:
    """Whether ``after`` can follow ``before`` on one vehicle (deadhead on the drive graph)."""
    gap = state.deadheads(state.end_nodes(before, before.stop_ids)[1], state.end_nodes(after, after.stop_ids)[0])[0]
    return before.timed.end_s + gap <= after.timed.start_s


def _detach(state: _State, route: _Route) -> None:
    """Take a route off its vehicle; it will be placed on one with room (or a new one)."""
    state.vehicles[route.vehicle_id].remove(route.trip_id)
    route.vehicle_id = None
    route.dirty = True
    state.orphans.append(route.trip_id)


# --------------------------------------------------------------------------------------------------
# Placing pupils
# --------------------------------------------------------------------------------------------------


def _place_pupils(state: _State) -> None:
    """Existing stops first, then new stops inserted into existing trips, else a routing pool."""
    to_place = [s for s in state.scenario.students if s.id in state.forced and not _is_on_stop(state, s.id)]
    if not to_place:
        return
    mini = replace(state.scenario, students=tuple(to_place))
    selection = select_stops(mini, state.network, state.params, located=state.located)
    state.unserved.update(selection.unserved)
    new_stops = {s.id: s for s in selection.stops}
    walk_m = dict(selection.walk_m)
    for student in to_place:
        if student.id not in walk_m:
            continue
        stop = next(s for s in new_stops.values() if student.id in s.student_ids)
        if stop.is_door_to_door:
            continue
        joined = _join_existing_stop(state, student)
        if joined is None and student.id in pinned_stop_of(state.scenario):
            raise InputError([Problem("pins", None, "student_id", student.id,
                                      f"a pinned stop whose trips can take one more pupil "
                                      f"({pinned_stop_of(state.scenario)[student.id]} cannot)")])
        if joined is not None:
            _, walk = joined
            state.walk_m[student.id] = walk
            riders = tuple(i for i in stop.student_ids if i != student.id)
            new_stops[stop.id] = replace(stop, student_ids=riders)
    for stop in sorted(new_stops.values(), key=lambda s: s.id):
        if not stop.student_ids:
            continue
        state.n_new_stops += 1
        stop_id = f"{stop.school_id}-{stop.shift}-{NEW_STOP_TAG}{state.n_new_stops:03d}"
        while stop_id in state.stops:
            state.n_new_stops += 1
            stop_id = f"{stop.school_id}-{stop.shift}-{NEW_STOP_TAG}{state.n_new_stops:03d}"
        state.stops[stop_id] = replace(stop, id=stop_id)
        for i in stop.student_ids:
            state.walk_m[i] = walk_m[i]
        _insert_stop(state, stop_id)


def _is_on_stop(state: _State, student_id: str) -> bool:
    return any(student_id in s.student_ids for s in state.stops.values())


def _join_existing_stop(state: _State, student: Student) -> tuple[str, float] | None:
    """Add ``student`` to the nearest shared stop of its group whose trips stay within every rule."""
    pinned = pinned_stop_of(state.scenario).get(student.id)
    locked = locked_trips(state.scenario)
    candidates = [
        s
        for s in state.stops.values()
        if s.school_id == student.school_id
        and s.shift == student.shift
        and not s.is_door_to_door
        and (pinned is None or s.id == pinned)
        and not any(r.trip_id in locked for r in state.routes.values() if s.id in r.stop_ids)
    ]
    if not candidates:
        return None
    limit = state.scenario.policy.walk_limit_for_grade_m(student.grade)
    home_node, snap_m = state.located.homes_walk[student.id].node_id, state.located.homes_walk[student.id].snap_m
    walks = walk_distances(state.network.walk, [home_node], [s.node_id for s in candidates], limit_m=limit)[0] + snap_m
    order = sorted((float(w), s.id) for w, s in zip(walks, candidates) if w <= limit)
    if pinned is not None and not order:
        raise InputError([Problem("pins", None, "student_id", student.id,
                                  f"a pinned stop within the pupil's walk limit of {limit:,.0f} m ({pinned})")])
    for walk, stop_id in order:
        stop = state.stops[stop_id]
        state.stops[stop_id] = replace(stop, student_ids=(*stop.student_ids, student.id))
        trial = {}
        for direction in Direction:
            route = state.route_of_stop(stop_id, direction)
            if route is None:
                trial = None
                break
            timed = state.try_route(route, route.stop_ids, keep_times=True)
            if timed is None:
                trial = None
                break
            trial[route.trip_id] = timed
        if trial is None:
            state.stops[stop_id] = stop
            continue
        for trip_id, timed in trial.items():
            state.routes[trip_id].timed = timed
            state.routes[trip_id].dirty = True
        return stop_id, walk
    return None


def _insert_stop(state: _State, stop_id: str, directions: Sequence[Direction] = tuple(Direction)) -> bool:
    """Cheapest feasible insertion of a stop into its group's trips, each direction apart.

    Returns whether every direction found a trip; a direction that found none pools the stop.
    """
    stop = state.stops[stop_id]
    placed_all = True
    for direction in directions:
        best = None
        for route in sorted(state.routes.values(), key=lambda r: r.trip_id):
            if (route.school_id, route.shift, route.direction) != (stop.school_id, stop.shift, direction):
                continue
            if route.vehicle_id is None or route.trip_id in locked_trips(state.scenario):
                continue
            before = state.drive_s(route, route.stop_ids)
            escort = _adds_escort(state, route.vehicle_id, _Route(**{**route.__dict__, "stop_ids": [stop_id]}))
            for position in range(len(route.stop_ids) + 1):
                trial = [*route.stop_ids[:position], stop_id, *route.stop_ids[position:]]
                timed = state.try_route(route, trial, keep_times=True)
                if timed is None:
                    continue
                cost = (escort, state.drive_s(route, trial) - before)
                if best is None or cost < best[0]:
                    best = (cost, route.trip_id, trial, timed)
        if best is None:
            state.pools[(stop.school_id, stop.shift, direction)].append(stop_id)
            placed_all = False
            continue
        _, trip_id, trial, timed = best
        route = state.routes[trip_id]
        route.stop_ids = trial
        route.timed = timed
        route.dirty = True
    return placed_all


def _reinsert_pooled(state: _State) -> None:
    """Stops of trips that no longer work try the group's other trips before any new route."""
    pooled = dict(state.pools)
    state.pools = defaultdict(list)
    for (_school_id, _shift, direction), stop_ids in sorted(pooled.items()):
        for stop_id in sorted(dict.fromkeys(stop_ids)):
            if stop_id in state.stops:
                _insert_stop(state, stop_id, (direction,))


def _route_pools(state: _State) -> None:
    """Route what no existing trip could take, school by school, as new trips (no vehicle yet)."""
    for (school_id, shift, direction), stop_ids in sorted(state.pools.items()):
        stop_ids = sorted(dict.fromkeys(s for s in stop_ids if s in state.stops))
        if not stop_ids:
            continue
        stops = [state.stops[s] for s in stop_ids]
        groups = build_group_problems(state.scenario, stops, state.school_nodes, state.network.loaded)
        group = next(g for g in groups if g.key.direction is direction)
        solution = solve_routing(group.problem, state.params)
        for unrouted in solution.unrouted:
            _make_unserved(state, group.stops[unrouted.stop - 1].student_ids, unrouted.reason)
        for route in solution.routes:
            state.n_new_trips += 1
            trip_id = f"R{state.n_new_trips:03d}"
            ids = [group.stops[k - 1].id for k in route.stops]
            ids = [s for s in ids if s in state.stops]
            if not ids:
                continue
            new = _Route(
                trip_id=trip_id,
                vehicle_id=None,
                vehicle_type=route.vehicle_class,
                school_id=school_id,
                shift=shift,
                direction=direction,
                stop_ids=ids,
                school_s=int(group.problem.school_time_s),
                targets={},
                base=None,
                dirty=True,
            )
            new.timed = state.schedule(new, ids)
            if new.timed is None:
                _make_unserved(
                    state, [i for s in ids for i in state.stops[s].student_ids], Reason.make(ReasonCode.NO_ROUTE_FOUND)
                )
                continue
            state.routes[trip_id] = new
            state.orphans.append(trip_id)


def _make_unserved(state: _State, student_ids, reason: Reason) -> None:
    """Take pupils off every trip (both directions) and record them unserved."""
    for student_id in list(student_ids):
        state.unserved[student_id] = reason
        state.forced.setdefault(student_id, REASON_NOW_UNSERVED)
        state.walk_m.pop(student_id, None)
        for stop in list(state.stops.values()):
            if student_id in stop.student_ids:
                _set_riders(state, stop.id, tuple(i for i in stop.student_ids if i != student_id))
    for route in list(state.routes.values()):
        if route.dirty and route.stop_ids:
            route.timed = state.schedule(route, route.stop_ids)


def _withdraw(state: _State, changes: ChangeSet) -> None:
    for change in changes.of_kind(WITHDRAW_VEHICLE):
        for trip_id in list(state.vehicles.get(change.vehicle_id, [])):
            route = state.routes[trip_id]
            _detach(state, route)
            for stop_id in route.stop_ids:
                for i in state.stops[stop_id].student_ids:
                    state.forced.setdefault(i, REASON_VEHICLE_WITHDRAWN)
        state.vehicles.pop(change.vehicle_id, None)
        state.vehicle_types.pop(change.vehicle_id, None)


def _place_orphans(state: _State) -> None:
    """Every trip without a vehicle goes where it adds least deadhead, or onto a new vehicle."""
    for trip_id in sorted(state.orphans, key=lambda t: (state.routes[t].timed.start_s, t)):
        route = state.routes[trip_id]
        best = _best_vehicle(state, route)
        if best is None:
            vehicle_id = _new_vehicle(state, route)
            if vehicle_id is None:
                riders = [i for s in route.stop_ids for i in state.stops[s].student_ids]
                _drop_route(state, route)
                _make_unserved(state, riders, Reason.make(ReasonCode.FLEET_NONE_FREE))
                continue
        else:
            vehicle_id = best[1]
        route.vehicle_id = vehicle_id
        route.vehicle_type = state.vehicle_types[vehicle_id]
        route.dirty = True
        state.vehicles[vehicle_id].append(trip_id)
    state.orphans = []


def _grades(state: _State, route: _Route):
    return (state.students[i].grade for s in route.stop_ids for i in state.stops[s].student_ids)


def _adds_escort(state: _State, vehicle_id: str, route: _Route) -> bool:
    """Whether putting ``route`` on ``vehicle_id`` makes it pay for an escort it does not pay for now."""
    vehicle_type = state.scenario.fleet.vehicle_type(state.vehicle_types[vehicle_id])
    policy = state.scenario.policy
    now = needs_escort(policy, vehicle_type, (g for t in state.vehicles[vehicle_id] for g in _grades(state, state.routes[t])))
    return not now and needs_escort(policy, vehicle_type, _grades(state, route))


def _eliminate_vehicles(state: _State) -> None:
    """Empty a vehicle-day whose trips all fit, unchanged, into the other vehicles' days.

    Trips keep their stops and times, so no pupil moves; only their vehicle changes. Vehicles
    with the fewest trips are tried first; locked vehicles and locked trips stay.
    """
    locked = locked_vehicles(state.scenario) | {p.vehicle_id for p in locked_trips(state.scenario).values()}
    for vehicle_id in sorted(state.vehicles, key=lambda v: (len(state.vehicles[v]), v)):
        if vehicle_id in locked or not state.vehicles.get(vehicle_id):
            continue
        moves = []
        for trip_id in sorted(state.vehicles[vehicle_id], key=lambda t: (state.routes[t].timed.start_s, t)):
            route = state.routes[trip_id]
            best = None
            for other in sorted(state.vehicles):
                if other == vehicle_id or other in locked:
                    continue
                if state.vehicle_types[other] != state.vehicle_types[vehicle_id]:
                    continue
                extra = state.fits_day(other, route, route.stop_ids, route.timed)
                if extra is not None and (best is None or extra < best[0]):
                    best = (extra, other)
            if best is None:
                break
            state.vehicles[vehicle_id].remove(trip_id)
            state.vehicles[best[1]].append(trip_id)
            route.vehicle_id = best[1]
            moves.append((trip_id, best[1]))
        if state.vehicles[vehicle_id]:
            for trip_id, other in moves:  # not every trip found room: undo
                state.vehicles[other].remove(trip_id)
                state.vehicles[vehicle_id].append(trip_id)
                state.routes[trip_id].vehicle_id = vehicle_id
            continue
        del state.vehicles[vehicle_id]
        del state.vehicle_types[vehicle_id]


def _new_vehicle(state: _State, route: _Route) -> str | None:
    used = defaultdict(int)
    for type_id in state.vehicle_types.values():
        used[type_id] += 1
    types = sorted(state.scenario.fleet.vehicle_types, key=lambda v: (v.id != route.vehicle_type, v.day_rate, v.id))
    for vehicle_type in types:
        if vehicle_type.count is not None and used[vehicle_type.id] >= vehicle_type.count:
            continue
        if not state.fits_vehicle_type(route.stop_ids, vehicle_type.id):
            continue
        n = len(state.base.vehicles) + state.n_new_vehicles + 1
        vehicle_id = f"V{n:03d}"
        while vehicle_id in state.vehicles or any(v.id == vehicle_id for v in state.base.vehicles):
            n += 1
            vehicle_id = f"V{n:03d}"
        state.n_new_vehicles += 1
        state.vehicles[vehicle_id] = []
        state.vehicle_types[vehicle_id] = vehicle_type.id
        return vehicle_id
    return None


# --------------------------------------------------------------------------------------------------
# The new plan and the report
# --------------------------------------------------------------------------------------------------


def _build_trip(state: _State, route: _Route, trip_id: str) -> Trip:
    timed = route.timed
    school = state.scenario.school(route.school_id)
    stop_visits = []
    for k, stop_id in enumerate(route.stop_ids):
        riders = state.stops[stop_id].student_ids
        if route.direction is Direction.TO_SCHOOL:
            stop_visits.append(Visit(timed.arrive_s[k], timed.depart_s[k], stop_id=stop_id, board=riders))
        else:
            stop_visits.append(Visit(timed.arrive_s[k], timed.depart_s[k], stop_id=stop_id, alight=riders))
    riders = tuple(i for s in route.stop_ids for i in state.stops[s].student_ids)
    school_node = state.school_nodes[route.school_id]
    nodes = [state.stops[s].node_id for s in route.stop_ids]
    if route.direction is Direction.TO_SCHOOL:
        visits = (*stop_visits, Visit(timed.school_arrive_s, timed.school_depart_s, school_id=school.id, alight=riders))
        path = [*nodes, school_node]
    else:
        visits = (Visit(timed.school_arrive_s, timed.school_depart_s, school_id=school.id, board=riders), *stop_visits)
        path = [school_node, *nodes]
    return Trip(
        id=trip_id,
        vehicle_id=route.vehicle_id,
        vehicle_type=route.vehicle_type,
        school_id=route.school_id,
        shift=route.shift,
        direction=route.direction,
        visits=visits,
        distance_m=float(sum(state.legs(a, b)[1] for a, b in zip(path, path[1:]))),
        duration_s=visits[-1].depart_s - visits[0].arrive_s,
        steps=road_steps(state.network.loaded, path),
    )


def _finish(state: _State) -> Plan:
    scenario = state.scenario
    used_trip_ids = {r.trip_id for r in state.routes.values() if r.base is not None}
    n = max((int(t[1:]) for t in used_trip_ids if t[1:].isdigit()), default=0)
    n = max(n, max((int(t.id[1:]) for t in state.base.trips if t.id[1:].isdigit()), default=0))
    trips: dict[str, Trip] = {}
    for route in sorted(state.routes.values(), key=lambda r: (r.base is None, r.trip_id)):
        if route.base is None:
            n += 1
            trip_id = f"T{n:03d}"
        else:
            trip_id = route.trip_id
        if route.dirty or route.base is None:
            trip = _build_trip(state, route, trip_id)
        else:
            trip = replace(route.base, vehicle_id=route.vehicle_id, vehicle_type=route.vehicle_type)
        trips[route.trip_id] = trip
    depot_nodes = state.located.depot_nodes()
    base_depot = {v.id: v.depot_id for v in state.base.vehicles}
    vehicles = []
    for vehicle_id in sorted(state.vehicles):
        mine = sorted((trips[t] for t in state.vehicles[vehicle_id]), key=lambda t: (t.start_s, t.id))
        if not mine:
            continue
        ends = [_trip_ends(state, t) for t in mine]
        runs = [(ends[k][1], ends[k + 1][0]) for k in range(len(ends) - 1)]
        between = travel_matrices(state.network.drive, [u for u, _ in runs], [v for _, v in runs]).distance_m
        depot_id, depot_runs_m = depot_for_day(
            state.network.drive, depot_nodes, ends[0][0], ends[-1][1], keep=base_depot.get(vehicle_id)
        )
        deadhead_m = depot_runs_m + float(sum(between[k, k] for k in range(len(runs))))
        vehicles.append(
            vehicle_day(scenario, vehicle_id, state.vehicle_types[vehicle_id], mine, depot_id, deadhead_m)
        )
    trip_list = sorted(trips.values(), key=lambda t: int(t.id[1:]) if t.id[1:].isdigit() else 0)
    stops = tuple(sorted(state.stops.values(), key=lambda s: (s.school_id, s.shift, s.id)))
    walk_m = {i: state.walk_m[i] for s in stops for i in s.student_ids}
    assignments = pupil_assignments(scenario, stops, walk_m, state.unserved, trip_list)
    costs = cost_plan(scenario, trip_list, vehicles, assignments)
    return replace(
        state.base,
        scenario=scenario,
        stops=stops,
        assignments=assignments,
        trips=tuple(trip_list),
        vehicles=costs.vehicles,
        summary=costs.summary,
        costs=costs.lines,
        network_name=state.network.name,
    )


def _trip_ends(state: _State, trip: Trip) -> tuple[int, int]:
    def node(visit: Visit) -> int:
        return state.stops[visit.stop_id].node_id if visit.stop_id else state.school_nodes[visit.school_id]

    return node(trip.visits[0]), node(trip.visits[-1])


def _report(state: _State, plan: Plan, closed: ClosedRoads) -> Replan:
    base = state.base
    old = {a.student_id: a for a in base.assignments}
    new = {a.student_id: a for a in plan.assignments}
    base_trips = {t.id: t for t in base.trips}
    new_trips = {t.id: t for t in plan.trips}
    trips_changed = sorted(
        (set(base_trips) ^ set(new_trips)) | {t for t in set(base_trips) & set(new_trips) if base_trips[t] != new_trips[t]}
    )
    changed_trip_set = set(trips_changed)
    base_vehicles = {v.id: v for v in base.vehicles}
    new_vehicles = {v.id: v for v in plan.vehicles}
    vehicles_changed = sorted(
        (set(base_vehicles) ^ set(new_vehicles))
        | {
            v
            for v in set(base_vehicles) & set(new_vehicles)
            if base_vehicles[v].trip_ids != new_vehicles[v].trip_ids
            or any(t in changed_trip_set for t in new_vehicles[v].trip_ids)
        }
    )
    pupils = []
    for student_id in [*old, *(i for i in new if i not in old)]:
        a, b = old.get(student_id), new.get(student_id)
        before = (a.stop_id, a.pickup_s, a.dropoff_s) if a else (None, None, None)
        after = (b.stop_id, b.pickup_s, b.dropoff_s) if b else (None, None, None)
        if before == after and (a is None) == (b is None):
            continue
        reason = state.forced.get(student_id, REASON_ROUTE_CHANGED)
        if b is None:
            reason = REASON_REMOVED
        elif b.status is Status.UNSERVED and (a is None or a.status is Status.ROUTED) and student_id not in state.forced:
            reason = REASON_NOW_UNSERVED
        pupils.append(PupilChange(student_id, reason, before[0], after[0], before[1], after[1], before[2], after[2]))
    return Replan(
        plan=plan,
        base=base,
        closed=closed,
        pupils=tuple(pupils),
        forced=frozenset(state.forced),
        vehicles_changed=tuple(vehicles_changed),
        trips_changed=tuple(trips_changed),
        new_vehicles=tuple(sorted(set(new_vehicles) - set(base_vehicles))),
        tolerance_s=state.tolerance_s,
    )


# --------------------------------------------------------------------------------------------------
# Plan directories
# --------------------------------------------------------------------------------------------------

REPORT_FILE = "replan.json"
"""In a re-planned plan directory: what the re-plan cost and moved (:meth:`Replan.to_dict`)."""

REISSUE_DIR = "reissue"
"""In a re-planned plan directory: copies of the route sheets and notice booklets that changed."""

VERSION_FILE = "version.json"
"""In a plan directory: its version number, parent plan and author (absent: version 1, no parent)."""


@dataclass(frozen=True)
class ReplanOutputs:
    """What :func:`replan_directory` produced: the re-plan, its outputs and what to re-issue."""

    replan: Replan
    outputs: Any
    reissue_sheets: tuple[str, ...]
    reissue_notices: tuple[str, ...]
    version: int


def read_version(plan_dir) -> dict[str, Any]:
    """``version.json`` of a plan directory, or version 1 without parent when it has none."""
    import json
    from pathlib import Path

    path = Path(plan_dir) / VERSION_FILE
    if not path.is_file():
        return {"version": 1, "parent": None, "author": None}
    return json.loads(path.read_text(encoding="utf-8"))


def replan_directory(
    base_dir,
    changes_path,
    out_dir,
    *,
    params: SolverParams | None = None,
    tolerance_s: int | None = None,
    network_path=None,
    cache_dir=None,
    language: str = "tr",
    author: str | None = None,
    pins_path=None,
    progress=None,
) -> ReplanOutputs:
    """Re-plan the plan in ``base_dir`` with the change file ``changes_path`` into ``out_dir``.

    Writes everything :func:`schoolbus.pipeline.write_outputs` writes, plus ``replan.json`` (the
    report and the documents to re-issue), ``reissue/`` (copies of just those documents),
    ``version.json`` (version, parent, author) and, when
    roads were closed, ``closures.json`` (read back by ``schoolbus validate``).

    Raises
    ------
    InputError
        A base plan or change file that cannot be read, or a network file that changed.
    """
    import datetime as dt
    import json
    import shutil
    from pathlib import Path

    from schoolbus.changes import CLOSURES_FILE, read_changes
    from schoolbus.errors import InputError, Problem
    from schoolbus.pipeline import write_outputs
    from schoolbus.planfile import PLAN_FILE, dumps, file_sha256, read_network_source, read_plan

    base_dir, out = Path(base_dir), Path(out_dir)
    base = read_plan(base_dir)
    source = read_network_source(base_dir)
    if source is None:
        raise InputError([Problem(str(base_dir / PLAN_FILE), None, "network.source", None, "a road network")])
    roads = source.load(base.scenario.policy.forbidden_road_classes, path=network_path, cache_dir=cache_dir)
    closures = base_dir / CLOSURES_FILE
    if closures.is_file():
        roads = close_roads(roads, ClosedRoads.from_dict(json.loads(closures.read_text(encoding="utf-8"))))
    changes = read_changes(changes_path, base) if changes_path is not None else ChangeSet("no changes", ())
    pins = ()
    if pins_path is not None:
        from schoolbus.pins import read_pins

        pins = read_pins(pins_path, base.scenario, base)
    result = replan(base, changes, roads, params, tolerance_s=tolerance_s, pins=pins)
    outputs = write_outputs(result.plan, out, source, language=language, progress=progress)
    all_closed = ClosedRoads(
        tuple(sorted(set(result.closed.edges) | set(ClosedRoads.from_dict(
            json.loads(closures.read_text(encoding="utf-8"))).edges if closures.is_file() else ())))
    )
    if all_closed.edges:
        (out / CLOSURES_FILE).write_text(dumps(all_closed.to_dict()), encoding="utf-8")
    sheets = tuple(
        p.name for p in outputs.route_sheets if any(f"_{v}." in p.name for v in result.vehicles_changed)
    )
    groups = {
        (a.school_id, a.shift)
        for a in result.plan.assignments
        if a.student_id in {p.student_id for p in result.pupils}
    }
    notices = tuple(
        p.name
        for p in outputs.parent_notices
        if any(p.name.startswith(f"notices_{school}_{shift}") for school, shift in groups)
    )
    reissue = out / REISSUE_DIR
    reissue.mkdir(exist_ok=True)
    for path in (*outputs.route_sheets, *outputs.parent_notices):
        if path.name in sheets or path.name in notices:
            shutil.copyfile(path, reissue / path.name)
    parent = read_version(base_dir)
    version = int(parent.get("version", 1)) + 1
    report = result.to_dict() | {"reissue": {"sheets": list(sheets), "notices": list(notices)}}
    (out / REPORT_FILE).write_text(dumps(report), encoding="utf-8")
    (out / VERSION_FILE).write_text(
        dumps({
            "version": version,
            "parent": {"dir": str(base_dir.resolve()), "plan_sha256": file_sha256(base_dir / PLAN_FILE)},
            "author": author,
            "changes": str(Path(changes_path).name) if changes_path is not None else None,
            "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }),
        encoding="utf-8",
    )
    return ReplanOutputs(result, outputs, sheets, notices, version)
