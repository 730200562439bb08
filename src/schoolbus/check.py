"""The independent plan checker: recompute everything a plan promises from the raw inputs.

:func:`check_plan` trusts nothing the solver computed. From the scenario (students, schools,
fleet, policy, prices) and the road network it recomputes every leg's drive time and distance on
the ``loaded`` graph, every deadhead on the ``drive`` graph, every walk on the ``walk`` graph,
loads, ride times, bell times, chaining, coverage, escorts, fleet limits and costs, and reports
each disagreement in plain words naming the trip, vehicle, student or stop. It imports no
routing, stop-selection or scheduling code, so a bug there cannot hide itself here.

The rules (see also ``docs/plan-format.md``)
--------------------------------------------
* **Service.** At a stop a bus needs ``policy.stop_service_s + policy.stop_service_per_student_s *
  (pupils boarding + pupils alighting)``; at a school it stands ``policy.school_dwell_s``. So
  ``depart_s - arrive_s`` must be at least that. Waiting is allowed **only at a visit** (a larger
  ``depart_s - arrive_s``), never on the road.
* **Driving.** Between consecutive visits the bus drives the fastest ``loaded`` path: ``arrive_s``
  of the next visit equals ``depart_s`` plus that path's time, within :data:`TIME_TOLERANCE_S`
  (plan times are whole seconds and legs are rounded up, see
  ``routing.problem.to_solver_seconds``). A trip's ``distance_m`` is the sum of its legs' lengths,
  within :data:`DISTANCE_TOLERANCE_M` per leg (producers may round each leg to a metre).
* **Loads.** Pupils who use a wheelchair take a wheelchair place, the others a seat; neither may
  exceed the vehicle type's ``seats`` and ``wheelchair_places`` at any point of a trip.
* **Rides.** Morning: from leaving the pupil's stop (``depart_s``) to arriving at school
  (``arrive_s``). Afternoon: from leaving school (``depart_s``) to arriving at the pupil's stop
  (``arrive_s``). Each at most the student's ``max_ride_s`` or else ``policy.max_ride_s``.
* **Bells.** A morning trip reaches its school by ``bell_s - policy.arrival_buffer_s``; an afternoon
  trip leaves it no earlier than ``dismissal_s + policy.school_dwell_s``.
* **Walks.** To a shared stop: the straight line from home to the nearest ``walk`` node plus the
  shortest ``walk`` path to the stop's node, at most the grade's walk limit. To a door-to-door stop:
  the straight line from home to the stop's node, which must be a nearest ``loaded`` node to the home
  and at most ``policy.snap_limit_m`` away. ``walk_m`` must match within :data:`WALK_TOLERANCE_M`.
* **Chaining.** On a vehicle, trips run in time order and ``end_s + deadhead time (drive graph) <=
  next start_s`` (within :data:`TIME_TOLERANCE_S`). ``deadhead_m`` is the drive-graph distance
  between consecutive trips plus, when the vehicle has a depot, from the depot to the first trip
  and from the last trip back.
* **Money** is recomputed here, from the prices, the vehicle types and the plan's distances and
  durations, with none of :mod:`schoolbus.costing`'s code (see ``_check_costs``), and compared to
  the cent: vehicle-days, the summary (per day, per year, per routed pupil) and the breakdown.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Protocol, TypeVar

import networkx as nx
import numpy as np

from schoolbus.matrix import travel_matrices, walk_distances
from schoolbus.model import (
    Assignment,
    Depot,
    Direction,
    Plan,
    School,
    Status,
    Stop,
    Student,
    Trip,
    VehicleDay,
    VehicleType,
    ViolationCode,
    Visit,
)
from schoolbus.network import RoadNetwork, snap_points

TIME_TOLERANCE_S = 1.0
"""Recomputed drive times may differ from plan times by this much: plan times are whole seconds
and each leg is rounded up once (``routing.problem.to_solver_seconds``)."""

DISTANCE_TOLERANCE_M = 1.0
"""Per leg: producers may round each leg's length to whole metres."""

WALK_TOLERANCE_M = 1.0
"""``walk_m`` may differ from the recomputed walk by this much (rounding, float sums)."""

_COST_GROUPS = ("school", "shift", "funding_line")
"""Breakdown groups of ``Plan.costs`` (docs/plan-format.md)."""
_UNATTRIBUTED = "(unattributed)"
_NO_FUNDING_LINE = "(none)"

MONEY_TOLERANCE = 0.01
"""A cent: the plan's money is rounded to cents, the checker's is not and sums in its own order."""

FIGURE_REL_TOLERANCE = 1e-9
"""Relative tolerance for non-money float figures of the summary (means, sums)."""

EARTH_RADIUS_M = 6_371_009.0
"""Earth radius (as osmnx and ``network.snap_points`` use), metres, for straight-line distances."""

LIMIT_EPSILON = 1e-6
"""Float noise allowed when holding a recomputed walk to its limit, metres."""


_Leg = tuple[float, float]
"""A drive between two nodes: ``(time_s, distance_m)``; ``inf`` when there is no road."""

_EmptyRun = tuple[Hashable, Hashable, "Trip | None", "Trip | None"]
"""An empty run of a vehicle: from node, to node, the trip before and the trip after (``None``
for a run from or to the depot)."""


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_WithId = TypeVar("_WithId", bound=_HasId)


@dataclass(frozen=True)
class _Boarding:
    """Where one pupil boards and alights on one trip (indices into ``trip.visits``)."""

    trip: Trip
    board: int
    alight: int | None


class Violation(str):
    """One broken rule: the English sentence (it *is* the string), its ``code`` and its ``subject``.

    A ``str`` so every reader of violations as text keeps working; tools match on ``code``
    (a :class:`~schoolbus.model.ViolationCode`) and group by it. ``subject`` is what the sentence
    is about ("trip T003", "student s6", "vehicle type midi"), the part before its first colon.
    """

    code: ViolationCode
    subject: str

    def __new__(cls, text: str, code: ViolationCode) -> Violation:
        violation = super().__new__(cls, text)
        violation.code = code
        violation.subject = text.split(": ", 1)[0] if ": " in text else ""
        return violation


def check_plan(plan: Plan, network: RoadNetwork) -> list[Violation]:
    """Every way ``plan`` breaks the rules of its scenario, in plain words.

    Parameters
    ----------
    plan : Plan
        The plan to check; ``plan.scenario`` supplies the inputs.
    network : RoadNetwork
        The road network the plan was made on: ``loaded`` for trips, ``drive`` for deadheads,
        ``walk`` for walks.

    Returns
    -------
    list of Violation
        One message per violation (a ``str`` with a ``code`` and a ``subject``), naming the trip,
        vehicle, student or stop; empty when the plan keeps every rule listed in the module
        docstring. The order is deterministic.
    """
    return _Checker(plan, network).run()


class _Checker:
    """One run of the checks; holds the indices every check needs."""

    def __init__(self, plan: Plan, network: RoadNetwork) -> None:
        self.plan = plan
        self.network = network
        self.scenario = plan.scenario
        self.policy = plan.scenario.policy
        self.violations: list[Violation] = []
        self.students = {s.id: s for s in self.scenario.students}
        self.schools = {s.id: s for s in self.scenario.schools}
        self.types = {v.id: v for v in self.scenario.fleet.vehicle_types}
        self.stops = self._unique("stop", plan.stops)
        self.trips = self._unique("trip", plan.trips)
        self.vehicles = self._unique("vehicle", plan.vehicles)
        self.school_nodes = self._snapped(self.network.loaded, self.scenario.schools)
        self.depot_nodes = self._snapped(self.network.drive, self.scenario.fleet.depots)
        # Filled by _check_trips: where each pupil boards, per direction.
        self.boardings: dict[Direction, dict[str, list[_Boarding]]] = {
            d: defaultdict(list) for d in Direction
        }

    def run(self) -> list[Violation]:
        self._check_trips()
        self._check_students()
        self._check_stops()
        self._check_walks()
        self._check_vehicles()
        self._check_costs()
        self.violations += [Violation(m, ViolationCode.PIN_BROKEN) for m in check_pins(self.plan, self.network)]
        return self.violations

    def add(self, code: ViolationCode, message: str) -> None:
        self.violations.append(Violation(message, code))

    def _unique(self, noun: str, items: Sequence[_WithId]) -> dict[str, _WithId]:
        by_id: dict[str, _WithId] = {}
        for item_id, n in Counter(item.id for item in items).items():
            if n > 1:
                self.add(ViolationCode.DUPLICATE_ID, f"{noun} {item_id}: the id is used {n} times")
        for item in items:
            by_id.setdefault(item.id, item)
        return by_id

    def _snapped(self, graph: nx.Graph, places: Sequence[School | Depot]) -> dict[str, Hashable]:
        """Each place's (school's, depot's) nearest node of ``graph``, by id."""
        if not places:
            return {}
        snapped = snap_points(graph, [p.location for p in places])
        return {p.id: _node(n) for p, n in zip(places, snapped.node_ids, strict=True)}

    # ---- trips -----------------------------------------------------------------------------------

    def _check_trips(self) -> None:
        legs = self._leg_matrices()
        for trip in self.plan.trips:
            where = f"trip {trip.id}"
            school = self.schools.get(trip.school_id)
            if school is None:
                self.add(ViolationCode.TRIP_UNKNOWN_SCHOOL, f"{where}: school {trip.school_id} is not in the scenario")
                continue
            shift = next((s for s in school.shifts if s.name == trip.shift), None)
            if shift is None:
                self.add(ViolationCode.TRIP_UNKNOWN_SHIFT, f"{where}: school {school.id} has no shift {trip.shift!r}")
                continue
            if not self._trip_shape_ok(trip):
                continue
            self._check_trip_vehicle(trip)
            self._check_trip_stops(trip)
            self._check_trip_times(trip, legs)
            self._check_trip_loads(trip)
            school_visit = trip.visits[-1] if trip.direction is Direction.TO_SCHOOL else trip.visits[0]
            if trip.direction is Direction.TO_SCHOOL:
                latest_s = shift.bell_s - self.policy.arrival_buffer_s
                if school_visit.arrive_s > latest_s:
                    self.add(ViolationCode.LATE_AT_SCHOOL,
                        f"{where}: arrives at school {school.id} at {_clock(school_visit.arrive_s)}, "
                        f"late: the {shift.name} bell is {_clock(shift.bell_s)} and buses must "
                        f"arrive by {_clock(latest_s)}"
                    )
            else:
                earliest_s = shift.dismissal_s + self.policy.school_dwell_s
                if school_visit.depart_s < earliest_s:
                    self.add(ViolationCode.EARLY_FROM_SCHOOL,
                        f"{where}: leaves school {school.id} at {_clock(school_visit.depart_s)}, "
                        f"too early: dismissal is {_clock(shift.dismissal_s)} and buses may leave "
                        f"from {_clock(earliest_s)}"
                    )

    def _trip_shape_ok(self, trip: Trip) -> bool:
        """Morning: stops then its school; afternoon: its school then stops."""
        where = f"trip {trip.id}"
        problems = []
        for k, visit in enumerate(trip.visits):
            if (visit.stop_id is None) == (visit.school_id is None):
                problems.append(f"{where}: visit {k + 1} must name exactly one of a stop and a school")
        if len(trip.visits) < 2:
            problems.append(f"{where}: has {len(trip.visits)} visit(s); a trip needs a school and a stop")
        if not problems:
            school_at = len(trip.visits) - 1 if trip.direction is Direction.TO_SCHOOL else 0
            for k, visit in enumerate(trip.visits):
                if k == school_at and visit.school_id != trip.school_id:
                    problems.append(
                        f"{where}: a {trip.direction.value} trip must "
                        f"{'end' if school_at else 'start'} at its school {trip.school_id}"
                    )
                elif k != school_at and visit.school_id is not None:
                    problems.append(f"{where}: visits school {visit.school_id} in the middle of the trip")
        for k, visit in enumerate(trip.visits):
            if visit.stop_id is not None and visit.stop_id not in self.stops:
                problems.append(
                    f"{where}: visit {k + 1} names stop {visit.stop_id}, which is not in the plan"
                )
        self.violations.extend(Violation(text, ViolationCode.TRIP_SHAPE) for text in problems)
        return not problems

    def _check_trip_vehicle(self, trip: Trip) -> None:
        where = f"trip {trip.id}"
        vehicle = self.vehicles.get(trip.vehicle_id)
        if vehicle is None:
            self.add(ViolationCode.TRIP_UNKNOWN_VEHICLE, f"{where}: vehicle {trip.vehicle_id} is not in the plan")
            return
        if trip.id not in vehicle.trip_ids:
            self.add(ViolationCode.TRIP_NOT_LISTED_BY_VEHICLE, f"{where}: says it is driven by vehicle {vehicle.id}, whose trip list lacks it")
        if trip.vehicle_type != vehicle.vehicle_type:
            self.add(ViolationCode.TRIP_VEHICLE_TYPE_MISMATCH,
                f"{where}: vehicle type {trip.vehicle_type} differs from its vehicle "
                f"{vehicle.id}'s type {vehicle.vehicle_type}"
            )

    def _check_trip_stops(self, trip: Trip) -> None:
        """Stops of the trip's school and shift; who boards and alights where."""
        where = f"trip {trip.id}"
        for visit in trip.visits:
            if visit.stop_id is None:
                continue
            stop = self.stops[visit.stop_id]
            if (stop.school_id, stop.shift) != (trip.school_id, trip.shift):
                self.add(ViolationCode.STOP_OF_OTHER_GROUP,
                    f"{where}: visits stop {stop.id} of school {stop.school_id} shift {stop.shift}, "
                    f"but the trip serves school {trip.school_id} shift {trip.shift}"
                )
            wrong = visit.alight if trip.direction is Direction.TO_SCHOOL else visit.board
            if wrong:
                verb = "alight" if trip.direction is Direction.TO_SCHOOL else "board"
                self.add(ViolationCode.BOARD_ALIGHT_WRONG_WAY_AT_STOP,
                    f"{where}: pupils {', '.join(wrong)} {verb} at stop {stop.id}, but a "
                    f"{trip.direction.value} trip only lets pupils "
                    f"{'board' if verb == 'alight' else 'alight'} at stops"
                )
        school_visit = trip.visits[-1] if trip.direction is Direction.TO_SCHOOL else trip.visits[0]
        wrong = school_visit.board if trip.direction is Direction.TO_SCHOOL else school_visit.alight
        if wrong:
            self.add(ViolationCode.BOARD_ALIGHT_WRONG_WAY_AT_SCHOOL, f"{where}: pupils {', '.join(wrong)} board or alight at the school the wrong way")

    def _check_trip_times(self, trip: Trip, legs: dict[tuple[Hashable, Hashable], _Leg]) -> None:
        where = f"trip {trip.id}"
        for visit in trip.visits:
            needed_s = self._service_s(visit)
            if visit.depart_s - visit.arrive_s < needed_s:
                self.add(ViolationCode.SERVICE_TOO_SHORT,
                    f"{where}: stands {visit.depart_s - visit.arrive_s} s at {_place(visit)}, "
                    f"less than the {needed_s} s its service needs"
                )
        distance_m = 0.0
        nodes = [self._visit_node(v) for v in trip.visits]
        for a, b, u, v in zip(trip.visits, trip.visits[1:], nodes, nodes[1:]):
            if u is None or v is None:
                return
            time_s, leg_m = legs[(u, v)]
            if not math.isfinite(time_s):
                self.add(ViolationCode.NO_LOADED_ROAD, f"{where}: no road a loaded bus may use leads from {_place(a)} to {_place(b)}")
                return
            distance_m += leg_m
            gap_s = b.arrive_s - a.depart_s
            if gap_s < time_s - TIME_TOLERANCE_S:
                self.add(ViolationCode.FASTER_THAN_ROAD,
                    f"{where}: reaches {_place(b)} {gap_s} s after leaving {_place(a)}, faster than "
                    f"the {time_s:.0f} s the loaded road takes"
                )
            elif gap_s > time_s + TIME_TOLERANCE_S:
                self.add(ViolationCode.WAITS_BETWEEN_VISITS,
                    f"{where}: reaches {_place(b)} {gap_s} s after leaving {_place(a)}, but the "
                    f"loaded road takes {time_s:.0f} s; waiting is only allowed at a visit "
                    f"(depart_s later than arrive_s plus service)"
                )
        n_legs = len(trip.visits) - 1
        if abs(trip.distance_m - distance_m) > DISTANCE_TOLERANCE_M * n_legs + LIMIT_EPSILON:
            self.add(ViolationCode.TRIP_DISTANCE_MISMATCH,
                f"{where}: distance_m is {trip.distance_m:.1f} but its legs on the loaded road "
                f"add up to {distance_m:.1f} m"
            )
        if trip.duration_s != trip.end_s - trip.start_s:
            self.add(ViolationCode.TRIP_DURATION_MISMATCH,
                f"{where}: duration_s is {trip.duration_s} but it runs from "
                f"{_clock(trip.start_s)} to {_clock(trip.end_s)} ({trip.end_s - trip.start_s} s)"
            )

    def _check_trip_loads(self, trip: Trip) -> None:
        """Seats and wheelchair places along the trip; each pupil boards once and gets off."""
        where = f"trip {trip.id}"
        vehicle_type = self.types.get(trip.vehicle_type)
        aboard: dict[str, int] = {}
        for k, visit in enumerate(trip.visits):
            for sid in visit.alight:
                if sid not in aboard:
                    self.add(ViolationCode.ALIGHTS_WITHOUT_BOARDING, f"{where}: student {sid} alights at {_place(visit)} without having boarded")
                    continue
                self.boardings[trip.direction][sid][-1] = _Boarding(trip, aboard.pop(sid), k)
            for sid in visit.board:
                student = self.students.get(sid)
                if student is None:
                    self.add(ViolationCode.BOARDS_UNKNOWN_STUDENT, f"{where}: boards student {sid}, who is not in the scenario")
                    continue
                if sid in aboard:
                    self.add(ViolationCode.BOARDS_TWICE, f"{where}: student {sid} boards twice")
                    continue
                if (student.school_id, student.shift) != (trip.school_id, trip.shift):
                    self.add(ViolationCode.CARRIES_OTHER_GROUP,
                        f"{where}: carries student {sid} of school {student.school_id} shift "
                        f"{student.shift}, but the trip serves school {trip.school_id} shift {trip.shift}"
                    )
                aboard[sid] = k
                self.boardings[trip.direction][sid].append(_Boarding(trip, k, None))
            if vehicle_type is None:
                continue
            n_wheelchair = sum(self.students[sid].needs_wheelchair for sid in aboard)
            n_seated = len(aboard) - n_wheelchair
            if n_seated > vehicle_type.seats:
                self.add(ViolationCode.OVER_CAPACITY,
                    f"{where}: over capacity after {_place(visit)}: {n_seated} pupils seated, "
                    f"vehicle type {vehicle_type.id} has {vehicle_type.seats} seats"
                )
            if n_wheelchair > vehicle_type.wheelchair_places:
                self.add(ViolationCode.OVER_WHEELCHAIR_CAPACITY,
                    f"{where}: over wheelchair capacity after {_place(visit)}: {n_wheelchair} "
                    f"wheelchair users, vehicle type {vehicle_type.id} has "
                    f"{vehicle_type.wheelchair_places} wheelchair places"
                )
        if aboard:
            self.add(ViolationCode.NEVER_ALIGHTS, f"{where}: students {', '.join(sorted(aboard))} never alight")

    def _service_s(self, visit: Visit) -> int:
        if visit.school_id is not None:
            return self.policy.school_dwell_s
        n_pupils = len(visit.board) + len(visit.alight)
        return self.policy.stop_service_s + self.policy.stop_service_per_student_s * n_pupils

    def _visit_node(self, visit: Visit) -> Hashable | None:
        if visit.school_id is not None:
            return self.school_nodes.get(visit.school_id)
        stop = self.stops.get(visit.stop_id) if visit.stop_id is not None else None
        if stop is None or stop.node_id not in self.network.loaded:
            return None
        return stop.node_id

    def _leg_matrices(self) -> dict[tuple[Hashable, Hashable], _Leg]:
        """``(from node, to node) -> (time_s, distance_m)`` on ``loaded`` for every trip leg.

        One matrix per school and shift over the nodes its trips visit keeps both the number of
        shortest-path searches and the matrices small.
        """
        for stop in self.plan.stops:
            if stop.node_id not in self.network.loaded:
                self.add(ViolationCode.STOP_NOT_ON_LOADED_ROADS, f"stop {stop.id}: node {stop.node_id} is not on the roads a loaded bus may use")
        nodes_by_group: dict[tuple[str, str], dict[Hashable, None]] = defaultdict(dict)
        pairs_by_group: dict[tuple[str, str], set[tuple[Hashable, Hashable]]] = defaultdict(set)
        for trip in self.plan.trips:
            nodes = [self._visit_node(v) if _visit_ok(v) else None for v in trip.visits]
            for u, v in zip(nodes, nodes[1:]):
                if u is not None and v is not None:
                    group = (trip.school_id, trip.shift)
                    nodes_by_group[group].update({u: None, v: None})
                    pairs_by_group[group].add((u, v))
        legs: dict[tuple[Hashable, Hashable], _Leg] = {}
        for group in sorted(nodes_by_group):
            nodes = list(nodes_by_group[group])
            index = {node: i for i, node in enumerate(nodes)}
            matrices = travel_matrices(self.network.loaded, nodes, nodes)
            for u, v in pairs_by_group[group]:
                legs[(u, v)] = (
                    float(matrices.time_s[index[u], index[v]]),
                    float(matrices.distance_m[index[u], index[v]]),
                )
        return legs

    # ---- students --------------------------------------------------------------------------------

    def _check_students(self) -> None:
        by_student: dict[str, list[Assignment]] = defaultdict(list)
        for a in self.plan.assignments:
            by_student[a.student_id].append(a)
        for sid in by_student:
            if sid not in self.students:
                self.add(ViolationCode.ASSIGNMENT_UNKNOWN_STUDENT, f"student {sid}: has an assignment but is not in the scenario")
        for student in self.scenario.students:
            found = by_student.get(student.id, [])
            if not found:
                self.add(ViolationCode.NO_ASSIGNMENT, f"student {student.id}: has no assignment")
                continue
            if len(found) > 1:
                self.add(ViolationCode.SEVERAL_ASSIGNMENTS, f"student {student.id}: has {len(found)} assignments")
                continue
            a = found[0]
            where = f"student {student.id}"
            if (a.school_id, a.shift) != (student.school_id, student.shift):
                self.add(ViolationCode.ASSIGNMENT_GROUP_MISMATCH,
                    f"{where}: assignment says school {a.school_id} shift {a.shift}, but the "
                    f"student attends school {student.school_id} shift {student.shift}"
                )
            rides = {d: self.boardings[d].get(student.id, []) for d in Direction}
            if a.status is Status.UNSERVED:
                if not a.reason:
                    self.add(ViolationCode.UNSERVED_WITHOUT_REASON, f"{where}: unserved without a reason")
                for trips in rides.values():
                    for boarding in trips:
                        self.add(ViolationCode.UNSERVED_RIDES, f"{where}: unserved but rides trip {boarding.trip.id}")
                continue
            if a.reason is not None:
                self.add(ViolationCode.ROUTED_WITH_REASON,
                    f"{where}: routed but has a reason ({a.reason.code}); reasons are for unserved students"
                )
            if a.stop_id is None:
                self.add(ViolationCode.ROUTED_WITHOUT_STOP, f"{where}: routed but has no stop")
                continue
            stop = self.stops.get(a.stop_id)
            if stop is None:
                self.add(ViolationCode.ROUTED_STOP_MISSING, f"{where}: routed but its stop {a.stop_id} is not in the plan")
                continue
            if (stop.school_id, stop.shift) != (student.school_id, student.shift):
                self.add(ViolationCode.STOP_GROUP_MISMATCH,
                    f"{where}: assigned to stop {stop.id} of school {stop.school_id} shift "
                    f"{stop.shift}, but attends school {student.school_id} shift {student.shift}"
                )
            if student.id not in stop.student_ids:
                self.add(ViolationCode.STOP_DOES_NOT_LIST_STUDENT, f"{where}: assigned to stop {stop.id}, which does not list the student")
            limit_s = student.max_ride_s if student.max_ride_s is not None else self.policy.max_ride_s
            self._check_ride(a, stop, rides[Direction.TO_SCHOOL], Direction.TO_SCHOOL, limit_s)
            self._check_ride(a, stop, rides[Direction.FROM_SCHOOL], Direction.FROM_SCHOOL, limit_s)

    def _check_ride(
        self, a: Assignment, stop: Stop, rides: list[_Boarding], direction: Direction, limit_s: int
    ) -> None:
        """One direction of a routed pupil: one ride, from/to the right stop, timed as recorded."""
        where = f"student {a.student_id}"
        if not rides:
            self.add(ViolationCode.RIDES_NO_TRIP, f"{where}: routed but rides no {direction.value} trip")
            return
        if len(rides) > 1:
            self.add(ViolationCode.RIDES_SEVERAL_TRIPS,
                f"{where}: rides {len(rides)} {direction.value} trips "
                f"({', '.join(r.trip.id for r in rides)}); expected exactly one"
            )
            return
        ride = rides[0]
        if ride.alight is None:
            return  # reported by the load check: the pupil never alights
        trip, board, alight = ride.trip, ride.trip.visits[ride.board], ride.trip.visits[ride.alight]
        ride_s = alight.arrive_s - board.depart_s
        if direction is Direction.TO_SCHOOL:
            at_stop, verb, label, recorded = board, "boards", "ride_to_school_s", a.ride_to_school_s
            time_label, recorded_time, way = "pickup_s", a.pickup_s, "to school"
        else:
            at_stop, verb, label, recorded = alight, "alights from", "ride_home_s", a.ride_home_s
            time_label, recorded_time, way = "dropoff_s", a.dropoff_s, "home"
        if at_stop.stop_id != stop.id:
            self.add(ViolationCode.RIDES_FROM_OTHER_STOP,
                f"{where}: {verb} trip {trip.id} at {_place(at_stop)}, not at the assigned stop {stop.id}"
            )
        if recorded != ride_s:
            self.add(ViolationCode.RIDE_TIME_MISMATCH, f"{where}: {label} is {recorded} but trip {trip.id} gives {ride_s} s")
        if ride_s > limit_s:
            self.add(ViolationCode.RIDE_LIMIT_EXCEEDED, f"{where}: ride {way} of {ride_s} s on trip {trip.id} exceeds the limit of {limit_s} s")
        if recorded_time != at_stop.arrive_s:
            self.add(ViolationCode.STOP_TIME_MISMATCH,
                f"{where}: {time_label} is {_clock(recorded_time)} but trip {trip.id} reaches "
                f"{_place(at_stop)} at {_clock(at_stop.arrive_s)}"
            )

    def _check_stops(self) -> None:
        assigned = {a.student_id: a for a in self.plan.assignments}
        for stop in self.plan.stops:
            for sid in stop.student_ids:
                student = self.students.get(sid)
                if student is None:
                    self.add(ViolationCode.STOP_LISTS_UNKNOWN_STUDENT, f"stop {stop.id}: lists student {sid}, who is not in the scenario")
                    continue
                a = assigned.get(sid)
                if a is None or a.status is not Status.ROUTED or a.stop_id != stop.id:
                    self.add(ViolationCode.STOP_LISTS_UNROUTED_STUDENT, f"stop {stop.id}: lists student {sid}, who is not routed to this stop")
                if (student.school_id, student.shift) != (stop.school_id, stop.shift):
                    self.add(ViolationCode.STOP_SERVES_OTHER_GROUP,
                        f"stop {stop.id}: serves school {stop.school_id} shift {stop.shift}, but "
                        f"lists student {sid} of school {student.school_id} shift {student.shift}"
                    )

    # ---- walks -----------------------------------------------------------------------------------

    def _check_walks(self) -> None:
        """Recompute each routed pupil's walk on the walk graph and hold it to the limits."""
        routed = [
            (self.students[a.student_id], a, self.stops[a.stop_id])
            for a in _single_assignments(self.plan.assignments, self.students)
            if a.status is Status.ROUTED and a.stop_id in self.stops
        ]
        shared = [(s, a, stop) for s, a, stop in routed if not stop.is_door_to_door]
        door = [(s, a, stop) for s, a, stop in routed if stop.is_door_to_door]
        for (student, a, stop), walk_m in zip(shared, self._shared_walks_m(shared), strict=True):
            limit_m = self.policy.walk_limit_for_grade_m(student.grade)
            self._hold_walk(student, a, stop, walk_m, limit_m, f"the grade {student.grade} limit")
        if door:
            nearest = snap_points(self.network.loaded, [s.location for s, _, _ in door])
            for (student, a, stop), nearest_m in zip(door, nearest.snap_m, strict=True):
                if stop.node_id not in self.network.loaded:
                    continue
                data = self.network.loaded.nodes[stop.node_id]
                walk_m = _great_circle_m(student.location, (float(data["x"]), float(data["y"])))
                if walk_m > float(nearest_m) + WALK_TOLERANCE_M:
                    self.add(ViolationCode.DOOR_STOP_TOO_FAR,
                        f"student {student.id}: door-to-door stop {stop.id} is {walk_m:.0f} m from "
                        f"home, but a road the bus may use passes {float(nearest_m):.0f} m away"
                    )
                limit_m = self.policy.snap_limit_m
                self._hold_walk(student, a, stop, walk_m, limit_m, "the door-to-door (snap) limit")
        for student, _assignment, stop in shared:
            needs_door = student.needs_door_to_door or (
                student.needs_wheelchair and self.policy.wheelchair_door_to_door
            )
            if needs_door:
                self.add(ViolationCode.DOOR_PUPIL_AT_SHARED_STOP,
                    f"student {student.id}: needs door-to-door pickup but stop {stop.id} is a shared stop"
                )

    def _hold_walk(
        self, student: Student, a: Assignment, stop: Stop, walk_m: float, limit_m: float, rule: str
    ) -> None:
        """Compare a recomputed walk with ``walk_m`` and hold it to ``limit_m`` (``rule`` names it)."""
        where = f"student {student.id}"
        if not math.isfinite(walk_m):
            self.add(ViolationCode.NO_WALK_PATH, f"{where}: cannot walk from home to stop {stop.id} on the walk network")
            return
        if a.walk_m is None or not abs(a.walk_m - walk_m) <= WALK_TOLERANCE_M:
            shown = "missing" if a.walk_m is None else f"{a.walk_m:.1f}"
            self.add(ViolationCode.WALK_MISMATCH, f"{where}: walk_m is {shown} but the walk to stop {stop.id} is {walk_m:.1f} m")
        if walk_m > limit_m + LIMIT_EPSILON:
            self.add(ViolationCode.WALK_LIMIT_EXCEEDED, f"{where}: walk of {walk_m:.0f} m to stop {stop.id} exceeds {rule} of {limit_m:.0f} m")

    def _shared_walks_m(self, shared: list[tuple[Student, Assignment, Stop]]) -> list[float]:
        """Home snap plus walk-graph path to the stop's node, metres (``inf`` if unreachable)."""
        if not shared:
            return []
        walk = self.network.walk
        homes = snap_points(walk, [s.location for s, _, _ in shared])
        walks = np.full(len(shared), np.inf)
        by_group: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, (_, _, stop) in enumerate(shared):
            if stop.node_id in walk:
                by_group[(stop.school_id, stop.shift)].append(i)
            else:
                self.add(ViolationCode.STOP_NOT_ON_WALK_NETWORK, f"stop {stop.id}: node {stop.node_id} is not on the walk network")
        # A search bound well past every limit and every claimed walk keeps searches short while
        # still measuring walks that are too long or misreported.
        bound_m = 2.0 * max(
            [self.policy.walk_limit_m, self.policy.snap_limit_m]
            + [g.walk_limit_m for g in self.policy.grade_walk_limits]
            + [a.walk_m for _, a, _ in shared if a.walk_m is not None]
        )
        for group in sorted(by_group):
            members = by_group[group]
            stop_nodes = list(dict.fromkeys(shared[i][2].node_id for i in members))
            home_nodes = list(dict.fromkeys(_node(homes.node_ids[i]) for i in members))
            path_m = walk_distances(walk, stop_nodes, home_nodes, limit_m=bound_m)
            row = {n: k for k, n in enumerate(stop_nodes)}
            col = {n: k for k, n in enumerate(home_nodes)}
            for i in members:
                path = path_m[row[shared[i][2].node_id], col[_node(homes.node_ids[i])]]
                walks[i] = float(homes.snap_m[i]) + float(path)
        return walks.tolist()

    # ---- vehicles --------------------------------------------------------------------------------

    def _check_vehicles(self) -> None:
        on_vehicles: Counter[str] = Counter(tid for v in self.plan.vehicles for tid in v.trip_ids)
        for trip in self.plan.trips:
            if on_vehicles[trip.id] == 0:
                self.add(ViolationCode.TRIP_WITHOUT_VEHICLE, f"trip {trip.id}: no vehicle drives it")
            elif on_vehicles[trip.id] > 1:
                self.add(ViolationCode.TRIP_ON_SEVERAL_VEHICLES, f"trip {trip.id}: listed by {on_vehicles[trip.id]} vehicles")
        days = []
        for vehicle in self.plan.vehicles:
            where = f"vehicle {vehicle.id}"
            vehicle_type = self.types.get(vehicle.vehicle_type)
            if vehicle_type is None:
                self.add(ViolationCode.VEHICLE_UNKNOWN_TYPE, f"{where}: vehicle type {vehicle.vehicle_type} is not in the fleet")
                continue
            capacity = (vehicle_type.seats, vehicle_type.wheelchair_places)
            if (vehicle.seats, vehicle.wheelchair_places) != capacity:
                self.add(ViolationCode.VEHICLE_CAPACITY_MISMATCH,
                    f"{where}: says {vehicle.seats} seats and {vehicle.wheelchair_places} wheelchair "
                    f"places, but type {vehicle_type.id} has {vehicle_type.seats} and "
                    f"{vehicle_type.wheelchair_places}"
                )
            missing = [tid for tid in vehicle.trip_ids if tid not in self.trips]
            if missing:
                self.add(ViolationCode.VEHICLE_TRIPS_MISSING, f"{where}: trips {', '.join(missing)} are not in the plan")
                continue
            trips = [self.trips[tid] for tid in vehicle.trip_ids]
            for trip in trips:
                if trip.vehicle_id != vehicle.id:
                    self.add(ViolationCode.VEHICLE_TRIP_NAMES_OTHER_VEHICLE, f"{where}: lists trip {trip.id}, which says vehicle {trip.vehicle_id} drives it")
            self._check_escort(vehicle, vehicle_type, trips)
            trips_m = sum(t.distance_m for t in trips)
            if abs(vehicle.distance_m - (trips_m + vehicle.deadhead_m)) > DISTANCE_TOLERANCE_M:
                self.add(ViolationCode.VEHICLE_DISTANCE_MISMATCH,
                    f"{where}: distance_m is {vehicle.distance_m:.1f} but its trips and deadhead "
                    f"add up to {trips_m + vehicle.deadhead_m:.1f} m"
                )
            days.append((vehicle, self._empty_runs(vehicle, trips)))
        deadheads = self._deadhead_matrices(
            (u, v) for _, runs in days if runs is not None for u, v, _, _ in runs
        )
        for vehicle, runs in days:
            if runs is not None:
                self._check_chain(vehicle, runs, deadheads)
        used = Counter(v.vehicle_type for v in self.plan.vehicles)
        for type_id, n in sorted(used.items()):
            vehicle_type = self.types.get(type_id)
            if vehicle_type is not None and vehicle_type.count is not None and n > vehicle_type.count:
                self.add(ViolationCode.FLEET_COUNT_EXCEEDED,
                    f"vehicle type {type_id}: the plan uses {n} vehicle(s), only "
                    f"{vehicle_type.count} are available"
                )

    def _check_chain(
        self, vehicle: VehicleDay, runs: list[_EmptyRun], deadheads: Mapping[tuple[Hashable, Hashable], _Leg]
    ) -> None:
        """Time order, time to reach the next trip, and the deadhead distance of one vehicle."""
        where = f"vehicle {vehicle.id}"
        deadhead_m = 0.0
        for u, v, before, after in runs:
            time_s, leg_m = deadheads[(u, v)]
            if not math.isfinite(time_s):
                self.add(ViolationCode.NO_DEADHEAD_ROAD, f"{where}: cannot drive from node {u} to node {v} (deadhead)")
                return
            deadhead_m += leg_m
            if before is None or after is None:
                continue  # depot runs never constrain time: a vehicle leaves its depot at will
            if after.start_s < before.start_s:
                self.add(ViolationCode.TRIPS_OUT_OF_ORDER,
                    f"{where}: trip {after.id} starts before trip {before.id}; trips must be in time order"
                )
            elif before.end_s + time_s > after.start_s + TIME_TOLERANCE_S:
                self.add(ViolationCode.CANNOT_REACH_NEXT_TRIP,
                    f"{where}: trip {before.id} ends at {_clock(before.end_s)} and the drive to "
                    f"trip {after.id} takes {time_s:.0f} s, but {after.id} starts at "
                    f"{_clock(after.start_s)}: the gap between chained trips is too small"
                )
        if abs(vehicle.deadhead_m - deadhead_m) > DISTANCE_TOLERANCE_M * max(1, len(runs)) + LIMIT_EPSILON:
            self.add(ViolationCode.DEADHEAD_MISMATCH,
                f"{where}: deadhead_m is {vehicle.deadhead_m:.1f} but the empty runs on the drive "
                f"network add up to {deadhead_m:.1f} m"
            )

    def _empty_runs(self, vehicle: VehicleDay, trips: list[Trip]) -> list[_EmptyRun] | None:
        """A vehicle's empty runs in order, depot runs included; ``None`` if a place is unknown."""
        ends = [e for t in trips if (e := self._trip_end_nodes(t)) is not None]
        if len(ends) < len(trips):
            return None
        runs: list[_EmptyRun] = [
            (ends[k][1], ends[k + 1][0], trips[k], trips[k + 1]) for k in range(len(trips) - 1)
        ]
        if vehicle.depot_id is not None:
            depot_node = self.depot_nodes.get(vehicle.depot_id)
            if depot_node is None:
                self.add(ViolationCode.VEHICLE_UNKNOWN_DEPOT, f"vehicle {vehicle.id}: depot {vehicle.depot_id} is not in the fleet")
                return None
            if trips:
                pull_out = (depot_node, ends[0][0], None, trips[0])
                pull_in = (ends[-1][1], depot_node, trips[-1], None)
                runs = [pull_out, *runs, pull_in]
        return runs

    def _trip_end_nodes(self, trip: Trip) -> tuple[Hashable, Hashable] | None:
        """Nodes of a trip's first and last visit, or ``None`` if either is unknown."""
        if not trip.visits or not all(_visit_ok(v) for v in trip.visits):
            return None
        first, last = self._visit_node(trip.visits[0]), self._visit_node(trip.visits[-1])
        if first is None or last is None:
            return None
        return first, last

    def _deadhead_matrices(
        self, pairs: Iterable[tuple[Hashable, Hashable]]
    ) -> dict[tuple[Hashable, Hashable], _Leg]:
        """``(from, to) -> (time_s, distance_m)`` on ``drive`` (an empty bus may use any road)."""
        pairs = list(dict.fromkeys(pairs))
        if not pairs:
            return {}
        sources = list(dict.fromkeys(u for u, _ in pairs))
        targets = list(dict.fromkeys(v for _, v in pairs))
        matrices = travel_matrices(self.network.drive, sources, targets)
        row = {n: k for k, n in enumerate(sources)}
        col = {n: k for k, n in enumerate(targets)}
        return {
            (u, v): (float(matrices.time_s[row[u], col[v]]), float(matrices.distance_m[row[u], col[v]]))
            for u, v in pairs
        }

    def _check_escort(self, vehicle: VehicleDay, vehicle_type: VehicleType, trips: list[Trip]) -> None:
        if vehicle.escort:
            return
        where = f"vehicle {vehicle.id}"
        if vehicle_type.always_escort:
            self.add(ViolationCode.ESCORT_MISSING_ALWAYS, f"{where}: type {vehicle_type.id} always carries an escort, but the vehicle has none")
            return
        young = sorted(
            {
                sid
                for trip in trips
                for sid in _riders(trip)
                if sid in self.students and self.policy.needs_escort(self.students[sid].grade)
            }
        )
        if young:
            grades = ", ".join(f"{sid} (grade {self.students[sid].grade})" for sid in young)
            self.add(ViolationCode.ESCORT_MISSING_FOR_GRADE,
                f"{where}: has no escort but carries pupils up to grade "
                f"{self.policy.escort_max_grade}, who need one: {grades}"
            )

    # ---- costs -----------------------------------------------------------------------------------

    def _check_costs(self) -> None:
        """Recompute every money figure from the prices and compare it with the plan's, to the cent.

        The checker's own few lines, sharing no code with :mod:`schoolbus.costing`: a vehicle-day
        costs ``(day_rate + km_rate * km driven + escort_day_rate if an escort rides) * (1 +
        overhead_share)``, km driven being its trips' and deadhead distance; a year has
        ``school_days_per_year`` days. A vehicle's cost is shared among its trips by duration
        (equally when all last 0 s), a trip's among its riders equally; cost no pupil caused
        (a vehicle without trips, a trip without riders) is keyed ``(unattributed)``.
        """
        resolvable = all(
            v.vehicle_type in self.types and all(tid in self.trips for tid in v.trip_ids)
            for v in self.plan.vehicles
        )
        if not resolvable:
            self.add(ViolationCode.COSTS_NOT_RECOMPUTED, "costs: not recomputed, because vehicles name unknown trips or vehicle types")
            return
        prices = self.scenario.prices
        days = prices.school_days_per_year
        per_key: dict[tuple[str, str], float] = defaultdict(float)
        total = driven_total_m = 0.0
        for vehicle in self.plan.vehicles:
            trips = [self.trips[tid] for tid in vehicle.trip_ids]
            driven_m = vehicle.deadhead_m + sum(trip.distance_m for trip in trips)
            vehicle_type = self.types[vehicle.vehicle_type]
            direct = vehicle_type.day_rate + vehicle_type.km_rate * driven_m / 1000.0
            if vehicle.escort:
                direct += prices.escort_day_rate
            cost = direct * (1.0 + prices.overhead_share)
            total += cost
            driven_total_m += driven_m
            if not _money_equal(vehicle.cost_per_day, cost):
                self.add(ViolationCode.VEHICLE_COST_MISMATCH,
                    f"vehicle {vehicle.id}: cost_per_day is {vehicle.cost_per_day:.2f} but its prices "
                    f"give {cost:.2f}"
                )
            if not trips and cost:
                for group in _COST_GROUPS:
                    per_key[group, _UNATTRIBUTED] += cost
            duration_s = sum(trip.duration_s for trip in trips)
            for trip in trips:
                share = cost * (trip.duration_s / duration_s if duration_s > 0 else 1.0 / len(trips))
                per_key["school", trip.school_id] += share
                per_key["shift", f"{trip.school_id}/{trip.shift}"] += share
                riders = _riders(trip)
                if not riders:
                    per_key["funding_line", _UNATTRIBUTED] += share
                for sid in riders:
                    line = self.students[sid].funding_line if sid in self.students else None
                    per_key["funding_line", line or _NO_FUNDING_LINE] += share / len(riders)

        routed = [a for a in self.plan.assignments if a.status is Status.ROUTED]
        n_routed: dict[tuple[str, str], int] = defaultdict(int)
        for school in self.scenario.schools:
            n_routed["school", school.id] += 0
            for shift in school.shifts:
                n_routed["shift", f"{school.id}/{shift.name}"] += 0
        for a in routed:
            line = self.students[a.student_id].funding_line if a.student_id in self.students else None
            n_routed["school", a.school_id] += 1
            n_routed["shift", f"{a.school_id}/{a.shift}"] += 1
            n_routed["funding_line", line or _NO_FUNDING_LINE] += 1

        rides = [r for a in routed for r in (a.ride_to_school_s, a.ride_home_s) if r is not None]
        walks = [a.walk_m for a in routed if a.walk_m is not None]
        recomputed_summary = {
            "n_vehicles": len(self.plan.vehicles),
            "n_trips": len(self.plan.trips),
            "n_students": len(self.scenario.students),
            "n_routed": len(routed),
            "n_unserved": sum(1 for a in self.plan.assignments if a.status is Status.UNSERVED),
            "distance_m": driven_total_m,
            "deadhead_m": sum(v.deadhead_m for v in self.plan.vehicles),
            "cost_per_day": total,
            "cost_per_year": total * days,
            "cost_per_student_per_day": total / len(routed) if routed else None,
            "cost_per_student_per_year": total * days / len(routed) if routed else None,
            "max_ride_s": max(rides) if rides else None,
            "mean_ride_s": float(np.mean(rides)) if rides else None,
            "p95_ride_s": float(np.percentile(rides, 95.0)) if rides else None,
            "mean_walk_m": float(np.mean(walks)) if walks else None,
            "max_walk_m": float(max(walks)) if walks else None,
        }
        for f in fields(self.plan.summary):
            given, recomputed = getattr(self.plan.summary, f.name), recomputed_summary.get(f.name)
            is_money = f.name.startswith("cost")
            if not _figure_equal(given, recomputed, is_money):
                self.add(ViolationCode.SUMMARY_MISMATCH,
                    f"summary: {f.name} is {_figure(given)} but the plan's trips, vehicles and "
                    f"students give {_figure(recomputed)}"
                )

        given_lines = {(x.group, x.key): x for x in self.plan.costs}
        for key in sorted(set(given_lines) | set(per_key) | set(n_routed)):
            given = given_lines.get(key)
            cost, n_students = per_key.get(key, 0.0), n_routed.get(key, 0)
            label = f"costs: {key[0]} {key[1]}"
            if given is None:
                self.add(ViolationCode.COST_LINE_MISSING, f"{label}: missing from the plan (recomputed {cost:.2f} a day)")
            elif key not in per_key and key not in n_routed:
                self.add(ViolationCode.COST_LINE_EXTRA, f"{label}: in the plan but nothing costs there")
            elif not (
                given.n_students == n_students
                and _money_equal(given.cost_per_day, cost)
                and _money_equal(given.cost_per_year, cost * days)
            ):
                self.add(ViolationCode.COST_LINE_MISMATCH,
                    f"{label}: plan says {given.n_students} students, {given.cost_per_day:.2f} a day, "
                    f"{given.cost_per_year:.2f} a year; recomputed {n_students}, "
                    f"{cost:.2f}, {cost * days:.2f}"
                )


# ---- helpers -------------------------------------------------------------------------------------


def _visit_ok(visit: Visit) -> bool:
    """Whether a visit names exactly one of a stop and a school."""
    return (visit.stop_id is None) != (visit.school_id is None)


def _single_assignments(assignments: Sequence[Assignment], students: dict[str, Student]) -> list[Assignment]:
    """Assignments of known students that have exactly one (the others are reported already)."""
    counts = Counter(a.student_id for a in assignments)
    return [a for a in assignments if counts[a.student_id] == 1 and a.student_id in students]


def _node(value: object) -> Hashable:
    """A node id from a numpy scalar as networkx stores it (plain ``int`` for integer ids)."""
    return value.item() if isinstance(value, np.generic) else value


def _place(visit: Visit) -> str:
    return f"stop {visit.stop_id}" if visit.stop_id is not None else f"school {visit.school_id}"


def _clock(seconds: int | None) -> str:
    """``HH:MM:SS`` for seconds after midnight (``None`` shows as ``none``)."""
    if seconds is None:
        return "none"
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(int(seconds)), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _great_circle_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance between two ``(lon, lat)`` points, metres."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _figure(value: object) -> str:
    """A summary figure for a message: floats to 2 decimals, the rest as they are."""
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _riders(trip: Trip) -> list[str]:
    """Ids of the pupils a trip carries, each once, in boarding order."""
    return list(dict.fromkeys(sid for visit in trip.visits for sid in visit.board))


def _money_equal(a: float, b: float) -> bool:
    return abs(a - b) <= MONEY_TOLERANCE + 1e-9


def _figure_equal(given: float | None, recomputed: float | None, is_money: bool) -> bool:
    if given is None or recomputed is None:
        return given is None and recomputed is None
    if isinstance(recomputed, int) and not isinstance(recomputed, bool) and isinstance(given, int):
        return given == recomputed
    if is_money:
        return _money_equal(float(given), float(recomputed))
    return math.isclose(float(given), float(recomputed), rel_tol=FIGURE_REL_TOLERANCE, abs_tol=1e-6)


def check_pins(plan: Plan, network: RoadNetwork) -> list[str]:
    """Every manual decision (``scenario.pins``) the plan breaks, in plain words.

    A pupil pinned to a stop must be carried from that stop; a stop pinned to a place must stand
    at the ``loaded`` node nearest it; a locked trip must keep its vehicle and exactly its visits
    (places, times, riders); a locked vehicle-day exactly its trips.
    """
    pins = plan.scenario.pins
    if not pins:
        return []
    messages: list[str] = []
    # looked up by a pin's ids, which are ``None`` where its kind does not use them
    assignments: dict[str | None, Assignment] = {a.student_id: a for a in plan.assignments}
    stops: dict[str | None, Stop] = {s.id: s for s in plan.stops}
    trips: dict[str | None, Trip] = {t.id: t for t in plan.trips}
    vehicles: dict[str | None, VehicleDay] = {v.id: v for v in plan.vehicles}
    for pin in pins:
        if pin.kind == "pupil_stop":
            a = assignments.get(pin.student_id)
            if a is None or a.status is not Status.ROUTED or a.stop_id != pin.stop_id:
                got = "not carried" if a is None or a.status is not Status.ROUTED else f"at stop {a.stop_id}"
                messages.append(f"pin: student {pin.student_id} is pinned to stop {pin.stop_id} but is {got}")
        elif pin.kind == "stop_location":
            stop = stops.get(pin.stop_id)
            if stop is None or pin.location is None:
                continue  # a pinned place no pupil uses in this plan
            node = int(snap_points(network.loaded, [pin.location]).node_ids[0])
            if stop.node_id != node:
                messages.append(
                    f"pin: stop {pin.stop_id} is pinned to ({pin.location[0]:.6f}, {pin.location[1]:.6f}) "
                    f"(node {node}) but stands at node {stop.node_id}"
                )
        elif pin.kind == "trip_locked":
            trip = trips.get(pin.trip_id)
            if trip is None:
                messages.append(f"lock: trip {pin.trip_id} is locked but is not in the plan")
            elif trip.visits != pin.visits or trip.vehicle_id != pin.vehicle_id:
                messages.append(f"lock: trip {pin.trip_id} is locked but its vehicle, stops, times or riders changed")
        elif pin.kind == "vehicle_locked":
            vehicle = vehicles.get(pin.vehicle_id)
            if vehicle is None or vehicle.trip_ids != pin.trip_ids:
                messages.append(f"lock: vehicle {pin.vehicle_id} is locked but its trips changed")
    return messages
