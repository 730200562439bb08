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

import functools
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
    Violation,
    ViolationCode,
    Visit,
)
from schoolbus.network import RoadNetwork, snap_points


def N_(message: str) -> str:  # noqa: N802 - gettext's marker name, found by pybabel's extractor
    """Mark a sentence for the catalogue; renderers translate it (the checker imports no outputs)."""
    return message


TIME_TOLERANCE_S = 1.0
"""Recomputed drive times may differ from plan times by this much: plan times are whole seconds
and each leg is rounded up once (``routing.problem.to_solver_seconds``)."""

DISTANCE_TOLERANCE_M = 1.0
"""Per leg: producers may round each leg's length to whole metres."""

WALK_TOLERANCE_M = 1.0
"""``walk_m`` may differ from the recomputed walk by this much (rounding, float sums)."""

DUPLICATE_SENTENCES = {
    "stop": N_("stop %(id)s: the id is used %(n)s times"),
    "trip": N_("trip %(id)s: the id is used %(n)s times"),
    "vehicle": N_("vehicle %(id)s: the id is used %(n)s times"),
}

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
        self.violations += check_pins(self.plan, self.network)
        return self.violations

    def add(self, code: ViolationCode, message: str, **params: object) -> None:
        """Report a violation: ``message`` is an ``N_`` sentence with ``%(name)s`` for ``params``."""
        self.violations.append(Violation.make(code, message, **params))

    def _unique(self, noun: str, items: Sequence[_WithId]) -> dict[str, _WithId]:
        by_id: dict[str, _WithId] = {}
        for item_id, n in Counter(item.id for item in items).items():
            if n > 1:
                self.add(ViolationCode.DUPLICATE_ID, DUPLICATE_SENTENCES[noun], id=item_id, n=n)
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
            school = self.schools.get(trip.school_id)
            if school is None:
                self.add(ViolationCode.TRIP_UNKNOWN_SCHOOL, N_("trip %(trip)s: school %(school)s is not in the scenario"), trip=trip.id, school=trip.school_id)
                continue
            shift = next((s for s in school.shifts if s.name == trip.shift), None)
            if shift is None:
                self.add(ViolationCode.TRIP_UNKNOWN_SHIFT, N_("trip %(trip)s: school %(school)s has no shift '%(shift)s'"), trip=trip.id, school=school.id, shift=trip.shift)
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
                        N_("trip %(trip)s: arrives at school %(school)s at %(arrive)s, late: the %(shift)s "
                           "bell is %(bell)s and buses must arrive by %(latest)s"),
                        trip=trip.id, school=school.id, arrive=_clock(school_visit.arrive_s), shift=shift.name,
                        bell=_clock(shift.bell_s), latest=_clock(latest_s),
                    )
            else:
                earliest_s = shift.dismissal_s + self.policy.school_dwell_s
                if school_visit.depart_s < earliest_s:
                    self.add(ViolationCode.EARLY_FROM_SCHOOL,
                        N_("trip %(trip)s: leaves school %(school)s at %(depart)s, too early: dismissal is "
                           "%(dismissal)s and buses may leave from %(earliest)s"),
                        trip=trip.id, school=school.id, depart=_clock(school_visit.depart_s),
                        dismissal=_clock(shift.dismissal_s), earliest=_clock(earliest_s),
                    )

    def _trip_shape_ok(self, trip: Trip) -> bool:
        """Morning: stops then its school; afternoon: its school then stops."""
        problems = []
        shape = functools.partial(Violation.make, ViolationCode.TRIP_SHAPE, trip=trip.id)
        for k, visit in enumerate(trip.visits):
            if (visit.stop_id is None) == (visit.school_id is None):
                problems.append(shape(N_("trip %(trip)s: visit %(visit)s must name exactly one of a stop and a school"), visit=k + 1))
        if len(trip.visits) < 2:
            problems.append(shape(N_("trip %(trip)s: has %(n)s visit(s); a trip needs a school and a stop"), n=len(trip.visits)))
        if not problems:
            school_at = len(trip.visits) - 1 if trip.direction is Direction.TO_SCHOOL else 0
            for k, visit in enumerate(trip.visits):
                if k == school_at and visit.school_id != trip.school_id:
                    sentence = (
                        N_("trip %(trip)s: a to_school trip must end at its school %(school)s")
                        if school_at
                        else N_("trip %(trip)s: a from_school trip must start at its school %(school)s")
                    )
                    problems.append(shape(sentence, school=trip.school_id))
                elif k != school_at and visit.school_id is not None:
                    problems.append(shape(N_("trip %(trip)s: visits school %(school)s in the middle of the trip"), school=visit.school_id))
        for k, visit in enumerate(trip.visits):
            if visit.stop_id is not None and visit.stop_id not in self.stops:
                problems.append(shape(N_("trip %(trip)s: visit %(visit)s names stop %(stop)s, which is not in the plan"), visit=k + 1, stop=visit.stop_id))
        self.violations.extend(problems)
        return not problems

    def _check_trip_vehicle(self, trip: Trip) -> None:
        vehicle = self.vehicles.get(trip.vehicle_id)
        if vehicle is None:
            self.add(ViolationCode.TRIP_UNKNOWN_VEHICLE, N_("trip %(trip)s: vehicle %(vehicle)s is not in the plan"), trip=trip.id, vehicle=trip.vehicle_id)
            return
        if trip.id not in vehicle.trip_ids:
            self.add(ViolationCode.TRIP_NOT_LISTED_BY_VEHICLE, N_("trip %(trip)s: says it is driven by vehicle %(vehicle)s, whose trip list lacks it"), trip=trip.id, vehicle=vehicle.id)
        if trip.vehicle_type != vehicle.vehicle_type:
            self.add(ViolationCode.TRIP_VEHICLE_TYPE_MISMATCH,
                N_("trip %(trip)s: vehicle type %(type)s differs from its vehicle %(vehicle)s's type %(vehicle_type)s"),
                trip=trip.id, type=trip.vehicle_type, vehicle=vehicle.id, vehicle_type=vehicle.vehicle_type,
            )

    def _check_trip_stops(self, trip: Trip) -> None:
        """Stops of the trip's school and shift; who boards and alights where."""
        for visit in trip.visits:
            if visit.stop_id is None:
                continue
            stop = self.stops[visit.stop_id]
            if (stop.school_id, stop.shift) != (trip.school_id, trip.shift):
                self.add(ViolationCode.STOP_OF_OTHER_GROUP,
                    N_("trip %(trip)s: visits stop %(stop)s of school %(stop_school)s shift %(stop_shift)s, "
                       "but the trip serves school %(school)s shift %(shift)s"),
                    trip=trip.id, stop=stop.id, stop_school=stop.school_id, stop_shift=stop.shift,
                    school=trip.school_id, shift=trip.shift,
                )
            wrong = visit.alight if trip.direction is Direction.TO_SCHOOL else visit.board
            if wrong:
                sentence = (
                    N_("trip %(trip)s: pupils %(students)s alight at stop %(stop)s, but a to_school trip only lets pupils board at stops")
                    if trip.direction is Direction.TO_SCHOOL
                    else N_("trip %(trip)s: pupils %(students)s board at stop %(stop)s, but a from_school trip only lets pupils alight at stops")
                )
                self.add(ViolationCode.BOARD_ALIGHT_WRONG_WAY_AT_STOP, sentence, trip=trip.id, students=", ".join(wrong), stop=stop.id)
        school_visit = trip.visits[-1] if trip.direction is Direction.TO_SCHOOL else trip.visits[0]
        wrong = school_visit.board if trip.direction is Direction.TO_SCHOOL else school_visit.alight
        if wrong:
            self.add(ViolationCode.BOARD_ALIGHT_WRONG_WAY_AT_SCHOOL, N_("trip %(trip)s: pupils %(students)s board or alight at the school the wrong way"), trip=trip.id, students=", ".join(wrong))

    def _check_trip_times(self, trip: Trip, legs: dict[tuple[Hashable, Hashable], _Leg]) -> None:
        for visit in trip.visits:
            needed_s = self._service_s(visit)
            if visit.depart_s - visit.arrive_s < needed_s:
                self.add(ViolationCode.SERVICE_TOO_SHORT,
                    N_("trip %(trip)s: stands %(stand_s)s s at %(place)s, less than the %(needed_s)s s its service needs"),
                    trip=trip.id, stand_s=visit.depart_s - visit.arrive_s, place=_place(visit), needed_s=needed_s,
                )
        distance_m = 0.0
        nodes = [self._visit_node(v) for v in trip.visits]
        for a, b, u, v in zip(trip.visits, trip.visits[1:], nodes, nodes[1:]):
            if u is None or v is None:
                return
            time_s, leg_m = legs[(u, v)]
            if not math.isfinite(time_s):
                self.add(ViolationCode.NO_LOADED_ROAD, N_("trip %(trip)s: no road a loaded bus may use leads from %(from_place)s to %(to_place)s"), trip=trip.id, from_place=_place(a), to_place=_place(b))
                return
            distance_m += leg_m
            gap_s = b.arrive_s - a.depart_s
            if gap_s < time_s - TIME_TOLERANCE_S:
                self.add(ViolationCode.FASTER_THAN_ROAD,
                    N_("trip %(trip)s: reaches %(to_place)s %(gap_s)s s after leaving %(from_place)s, faster than the %(road_s)s s the loaded road takes"),
                    trip=trip.id, to_place=_place(b), gap_s=gap_s, from_place=_place(a), road_s=f"{time_s:.0f}",
                )
            elif gap_s > time_s + TIME_TOLERANCE_S:
                self.add(ViolationCode.WAITS_BETWEEN_VISITS,
                    N_("trip %(trip)s: reaches %(to_place)s %(gap_s)s s after leaving %(from_place)s, but the loaded road takes "
                       "%(road_s)s s; waiting is only allowed at a visit (depart_s later than arrive_s plus service)"),
                    trip=trip.id, to_place=_place(b), gap_s=gap_s, from_place=_place(a), road_s=f"{time_s:.0f}",
                )
        n_legs = len(trip.visits) - 1
        if abs(trip.distance_m - distance_m) > DISTANCE_TOLERANCE_M * n_legs + LIMIT_EPSILON:
            self.add(ViolationCode.TRIP_DISTANCE_MISMATCH,
                N_("trip %(trip)s: distance_m is %(given_m)s but its legs on the loaded road add up to %(legs_m)s m"),
                trip=trip.id, given_m=f"{trip.distance_m:.1f}", legs_m=f"{distance_m:.1f}",
            )
        if trip.duration_s != trip.end_s - trip.start_s:
            self.add(ViolationCode.TRIP_DURATION_MISMATCH,
                N_("trip %(trip)s: duration_s is %(given_s)s but it runs from %(start)s to %(end)s (%(runs_s)s s)"),
                trip=trip.id, given_s=trip.duration_s, start=_clock(trip.start_s), end=_clock(trip.end_s),
                runs_s=trip.end_s - trip.start_s,
            )

    def _check_trip_loads(self, trip: Trip) -> None:
        """Seats and wheelchair places along the trip; each pupil boards once and gets off."""
        vehicle_type = self.types.get(trip.vehicle_type)
        aboard: dict[str, int] = {}
        for k, visit in enumerate(trip.visits):
            for sid in visit.alight:
                if sid not in aboard:
                    self.add(ViolationCode.ALIGHTS_WITHOUT_BOARDING, N_("trip %(trip)s: student %(student)s alights at %(place)s without having boarded"), trip=trip.id, student=sid, place=_place(visit))
                    continue
                self.boardings[trip.direction][sid][-1] = _Boarding(trip, aboard.pop(sid), k)
            for sid in visit.board:
                student = self.students.get(sid)
                if student is None:
                    self.add(ViolationCode.BOARDS_UNKNOWN_STUDENT, N_("trip %(trip)s: boards student %(student)s, who is not in the scenario"), trip=trip.id, student=sid)
                    continue
                if sid in aboard:
                    self.add(ViolationCode.BOARDS_TWICE, N_("trip %(trip)s: student %(student)s boards twice"), trip=trip.id, student=sid)
                    continue
                if (student.school_id, student.shift) != (trip.school_id, trip.shift):
                    self.add(ViolationCode.CARRIES_OTHER_GROUP,
                        N_("trip %(trip)s: carries student %(student)s of school %(student_school)s shift "
                           "%(student_shift)s, but the trip serves school %(school)s shift %(shift)s"),
                        trip=trip.id, student=sid, student_school=student.school_id, student_shift=student.shift,
                        school=trip.school_id, shift=trip.shift,
                    )
                aboard[sid] = k
                self.boardings[trip.direction][sid].append(_Boarding(trip, k, None))
            if vehicle_type is None:
                continue
            n_wheelchair = sum(self.students[sid].needs_wheelchair for sid in aboard)
            n_seated = len(aboard) - n_wheelchair
            if n_seated > vehicle_type.seats:
                self.add(ViolationCode.OVER_CAPACITY,
                    N_("trip %(trip)s: over capacity after %(place)s: %(n)s pupils seated, vehicle type %(type)s has %(seats)s seats"),
                    trip=trip.id, place=_place(visit), n=n_seated, type=vehicle_type.id, seats=vehicle_type.seats,
                )
            if n_wheelchair > vehicle_type.wheelchair_places:
                self.add(ViolationCode.OVER_WHEELCHAIR_CAPACITY,
                    N_("trip %(trip)s: over wheelchair capacity after %(place)s: %(n)s wheelchair users, vehicle type "
                       "%(type)s has %(places)s wheelchair places"),
                    trip=trip.id, place=_place(visit), n=n_wheelchair, type=vehicle_type.id, places=vehicle_type.wheelchair_places,
                )
        if aboard:
            self.add(ViolationCode.NEVER_ALIGHTS, N_("trip %(trip)s: students %(students)s never alight"), trip=trip.id, students=", ".join(sorted(aboard)))

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

        One search from each node a leg starts at. The plan's own gap between the two visits
        bounds how far that search goes first (on a large graph most legs are short); a target it
        did not reach is searched for again over the whole graph. ``matrix`` gives the same time,
        length and path whatever the bound, so the plan's figures decide only how long the check
        takes, never its verdict.
        """
        for stop in self.plan.stops:
            if stop.node_id not in self.network.loaded:
                self.add(ViolationCode.STOP_NOT_ON_LOADED_ROADS, N_("stop %(stop)s: node %(node)s is not on the roads a loaded bus may use"), stop=stop.id, node=stop.node_id)
        targets: dict[Hashable, dict[Hashable, None]] = defaultdict(dict)
        bound_s: dict[Hashable, float] = defaultdict(float)
        for trip in self.plan.trips:
            nodes = [self._visit_node(v) if _visit_ok(v) else None for v in trip.visits]
            for a, b, u, v in zip(trip.visits, trip.visits[1:], nodes, nodes[1:]):
                if u is not None and v is not None:
                    targets[u][v] = None
                    bound_s[u] = max(bound_s[u], float(b.arrive_s - a.depart_s) + TIME_TOLERANCE_S + 1.0)
        legs: dict[tuple[Hashable, Hashable], _Leg] = {}
        for u, reached_from_u in targets.items():
            ends = list(reached_from_u)
            limit = bound_s[u] if bound_s[u] > 0 else None
            found = travel_matrices(self.network.loaded, [u], ends, limit_s=limit)
            farther = np.flatnonzero(np.isinf(found.time_s[0]))
            if len(farther) and limit is not None:
                again = travel_matrices(self.network.loaded, [u], [ends[k] for k in farther])
                found.time_s[0, farther], found.distance_m[0, farther] = again.time_s[0], again.distance_m[0]
            for k, v in enumerate(ends):
                legs[(u, v)] = (float(found.time_s[0, k]), float(found.distance_m[0, k]))
        return legs

    # ---- students --------------------------------------------------------------------------------

    def _check_students(self) -> None:
        by_student: dict[str, list[Assignment]] = defaultdict(list)
        for a in self.plan.assignments:
            by_student[a.student_id].append(a)
        for sid in by_student:
            if sid not in self.students:
                self.add(ViolationCode.ASSIGNMENT_UNKNOWN_STUDENT, N_("student %(student)s: has an assignment but is not in the scenario"), student=sid)
        for student in self.scenario.students:
            found = by_student.get(student.id, [])
            if not found:
                self.add(ViolationCode.NO_ASSIGNMENT, N_("student %(student)s: has no assignment"), student=student.id)
                continue
            if len(found) > 1:
                self.add(ViolationCode.SEVERAL_ASSIGNMENTS, N_("student %(student)s: has %(n)s assignments"), student=student.id, n=len(found))
                continue
            a = found[0]
            if (a.school_id, a.shift) != (student.school_id, student.shift):
                self.add(ViolationCode.ASSIGNMENT_GROUP_MISMATCH,
                    N_("student %(student)s: assignment says school %(school)s shift %(shift)s, but the student attends "
                       "school %(student_school)s shift %(student_shift)s"),
                    student=student.id, school=a.school_id, shift=a.shift, student_school=student.school_id,
                    student_shift=student.shift,
                )
            rides = {d: self.boardings[d].get(student.id, []) for d in Direction}
            if a.status is Status.UNSERVED:
                if not a.reason:
                    self.add(ViolationCode.UNSERVED_WITHOUT_REASON, N_("student %(student)s: unserved without a reason"), student=student.id)
                for trips in rides.values():
                    for boarding in trips:
                        self.add(ViolationCode.UNSERVED_RIDES, N_("student %(student)s: unserved but rides trip %(trip)s"), student=student.id, trip=boarding.trip.id)
                continue
            if a.reason is not None:
                self.add(ViolationCode.ROUTED_WITH_REASON,
                    N_("student %(student)s: routed but has a reason (%(reason)s); reasons are for unserved students"),
                    student=student.id, reason=a.reason.code,
                )
            if a.stop_id is None:
                self.add(ViolationCode.ROUTED_WITHOUT_STOP, N_("student %(student)s: routed but has no stop"), student=student.id)
                continue
            stop = self.stops.get(a.stop_id)
            if stop is None:
                self.add(ViolationCode.ROUTED_STOP_MISSING, N_("student %(student)s: routed but its stop %(stop)s is not in the plan"), student=student.id, stop=a.stop_id)
                continue
            if (stop.school_id, stop.shift) != (student.school_id, student.shift):
                self.add(ViolationCode.STOP_GROUP_MISMATCH,
                    N_("student %(student)s: assigned to stop %(stop)s of school %(stop_school)s shift %(stop_shift)s, but "
                       "attends school %(school)s shift %(shift)s"),
                    student=student.id, stop=stop.id, stop_school=stop.school_id, stop_shift=stop.shift,
                    school=student.school_id, shift=student.shift,
                )
            if student.id not in stop.student_ids:
                self.add(ViolationCode.STOP_DOES_NOT_LIST_STUDENT, N_("student %(student)s: assigned to stop %(stop)s, which does not list the student"), student=student.id, stop=stop.id)
            limit_s = student.max_ride_s if student.max_ride_s is not None else self.policy.max_ride_s
            self._check_ride(a, stop, rides[Direction.TO_SCHOOL], Direction.TO_SCHOOL, limit_s)
            self._check_ride(a, stop, rides[Direction.FROM_SCHOOL], Direction.FROM_SCHOOL, limit_s)

    def _check_ride(
        self, a: Assignment, stop: Stop, rides: list[_Boarding], direction: Direction, limit_s: int
    ) -> None:
        """One direction of a routed pupil: one ride, from/to the right stop, timed as recorded."""
        sid = a.student_id
        if not rides:
            self.add(ViolationCode.RIDES_NO_TRIP, N_("student %(student)s: routed but rides no %(direction)s trip"), student=sid, direction=direction.value)
            return
        if len(rides) > 1:
            self.add(ViolationCode.RIDES_SEVERAL_TRIPS,
                N_("student %(student)s: rides %(n)s %(direction)s trips (%(trips)s); expected exactly one"),
                student=sid, n=len(rides), direction=direction.value, trips=", ".join(r.trip.id for r in rides),
            )
            return
        ride = rides[0]
        if ride.alight is None:
            return  # reported by the load check: the pupil never alights
        trip, board, alight = ride.trip, ride.trip.visits[ride.board], ride.trip.visits[ride.alight]
        ride_s = alight.arrive_s - board.depart_s
        if direction is Direction.TO_SCHOOL:
            at_stop, label, recorded = board, "ride_to_school_s", a.ride_to_school_s
            time_label, recorded_time = "pickup_s", a.pickup_s
            other_stop = N_("student %(student)s: boards trip %(trip)s at %(place)s, not at the assigned stop %(stop)s")
            too_long = N_("student %(student)s: ride to school of %(ride_s)s s on trip %(trip)s exceeds the limit of %(limit_s)s s")
        else:
            at_stop, label, recorded = alight, "ride_home_s", a.ride_home_s
            time_label, recorded_time = "dropoff_s", a.dropoff_s
            other_stop = N_("student %(student)s: alights from trip %(trip)s at %(place)s, not at the assigned stop %(stop)s")
            too_long = N_("student %(student)s: ride home of %(ride_s)s s on trip %(trip)s exceeds the limit of %(limit_s)s s")
        if at_stop.stop_id != stop.id:
            self.add(ViolationCode.RIDES_FROM_OTHER_STOP, other_stop, student=sid, trip=trip.id, place=_place(at_stop), stop=stop.id)
        if recorded != ride_s:
            self.add(ViolationCode.RIDE_TIME_MISMATCH,
                N_("student %(student)s: %(field)s is %(given)s but trip %(trip)s gives %(ride_s)s s"),
                student=sid, field=label, given=recorded, trip=trip.id, ride_s=ride_s,
            )
        if ride_s > limit_s:
            self.add(ViolationCode.RIDE_LIMIT_EXCEEDED, too_long, student=sid, ride_s=ride_s, trip=trip.id, limit_s=limit_s)
        if recorded_time != at_stop.arrive_s:
            self.add(ViolationCode.STOP_TIME_MISMATCH,
                N_("student %(student)s: %(field)s is %(given)s but trip %(trip)s reaches %(place)s at %(arrive)s"),
                student=sid, field=time_label, given=_clock(recorded_time), trip=trip.id, place=_place(at_stop),
                arrive=_clock(at_stop.arrive_s),
            )

    def _check_stops(self) -> None:
        assigned = {a.student_id: a for a in self.plan.assignments}
        for stop in self.plan.stops:
            for sid in stop.student_ids:
                student = self.students.get(sid)
                if student is None:
                    self.add(ViolationCode.STOP_LISTS_UNKNOWN_STUDENT, N_("stop %(stop)s: lists student %(student)s, who is not in the scenario"), stop=stop.id, student=sid)
                    continue
                a = assigned.get(sid)
                if a is None or a.status is not Status.ROUTED or a.stop_id != stop.id:
                    self.add(ViolationCode.STOP_LISTS_UNROUTED_STUDENT, N_("stop %(stop)s: lists student %(student)s, who is not routed to this stop"), stop=stop.id, student=sid)
                if (student.school_id, student.shift) != (stop.school_id, stop.shift):
                    self.add(ViolationCode.STOP_SERVES_OTHER_GROUP,
                        N_("stop %(stop)s: serves school %(school)s shift %(shift)s, but lists student %(student)s of school "
                           "%(student_school)s shift %(student_shift)s"),
                        stop=stop.id, school=stop.school_id, shift=stop.shift, student=sid,
                        student_school=student.school_id, student_shift=student.shift,
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
            self._hold_walk(student, a, stop, walk_m, limit_m, grade=student.grade)
        if door:
            nearest = snap_points(self.network.loaded, [s.location for s, _, _ in door])
            for (student, a, stop), nearest_m in zip(door, nearest.snap_m, strict=True):
                if stop.node_id not in self.network.loaded:
                    continue
                data = self.network.loaded.nodes[stop.node_id]
                walk_m = _great_circle_m(student.location, (float(data["x"]), float(data["y"])))
                if walk_m > float(nearest_m) + WALK_TOLERANCE_M:
                    self.add(ViolationCode.DOOR_STOP_TOO_FAR,
                        N_("student %(student)s: door-to-door stop %(stop)s is %(walk_m)s m from home, but a road the bus "
                           "may use passes %(nearest_m)s m away"),
                        student=student.id, stop=stop.id, walk_m=f"{walk_m:.0f}", nearest_m=f"{float(nearest_m):.0f}",
                    )
                limit_m = self.policy.snap_limit_m
                self._hold_walk(student, a, stop, walk_m, limit_m)
        for student, _assignment, stop in shared:
            needs_door = student.needs_door_to_door or (
                student.needs_wheelchair and self.policy.wheelchair_door_to_door
            )
            if needs_door:
                self.add(ViolationCode.DOOR_PUPIL_AT_SHARED_STOP,
                    N_("student %(student)s: needs door-to-door pickup but stop %(stop)s is a shared stop"),
                    student=student.id, stop=stop.id,
                )

    def _hold_walk(
        self, student: Student, a: Assignment, stop: Stop, walk_m: float, limit_m: float, grade: int | None = None
    ) -> None:
        """Compare a recomputed walk with ``walk_m`` and hold it to ``limit_m``: the grade's walk
        limit when ``grade`` is given, else the door-to-door (snap) limit."""
        ids = {"student": student.id, "stop": stop.id}
        if not math.isfinite(walk_m):
            self.add(ViolationCode.NO_WALK_PATH, N_("student %(student)s: cannot walk from home to stop %(stop)s on the walk network"), **ids)
            return
        if a.walk_m is None:
            self.add(ViolationCode.WALK_MISMATCH,
                N_("student %(student)s: walk_m is missing but the walk to stop %(stop)s is %(walk_m)s m"), **ids, walk_m=f"{walk_m:.1f}"
            )
        elif not abs(a.walk_m - walk_m) <= WALK_TOLERANCE_M:
            self.add(ViolationCode.WALK_MISMATCH,
                N_("student %(student)s: walk_m is %(given_m)s but the walk to stop %(stop)s is %(walk_m)s m"),
                **ids, given_m=f"{a.walk_m:.1f}", walk_m=f"{walk_m:.1f}",
            )
        if walk_m > limit_m + LIMIT_EPSILON:
            if grade is None:
                sentence = N_("student %(student)s: walk of %(walk_m)s m to stop %(stop)s exceeds the door-to-door (snap) limit of %(limit_m)s m")
            else:
                sentence = N_("student %(student)s: walk of %(walk_m)s m to stop %(stop)s exceeds the grade %(grade)s limit of %(limit_m)s m")
            self.add(ViolationCode.WALK_LIMIT_EXCEEDED, sentence, **ids, walk_m=f"{walk_m:.0f}", limit_m=f"{limit_m:.0f}",
                     **({} if grade is None else {"grade": grade}))

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
                self.add(ViolationCode.STOP_NOT_ON_WALK_NETWORK, N_("stop %(stop)s: node %(node)s is not on the walk network"), stop=stop.id, node=stop.node_id)
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
                self.add(ViolationCode.TRIP_WITHOUT_VEHICLE, N_("trip %(trip)s: no vehicle drives it"), trip=trip.id)
            elif on_vehicles[trip.id] > 1:
                self.add(ViolationCode.TRIP_ON_SEVERAL_VEHICLES, N_("trip %(trip)s: listed by %(n)s vehicles"), trip=trip.id, n=on_vehicles[trip.id])
        days = []
        for vehicle in self.plan.vehicles:
            vehicle_type = self.types.get(vehicle.vehicle_type)
            if vehicle_type is None:
                self.add(ViolationCode.VEHICLE_UNKNOWN_TYPE, N_("vehicle %(vehicle)s: vehicle type %(type)s is not in the fleet"), vehicle=vehicle.id, type=vehicle.vehicle_type)
                continue
            capacity = (vehicle_type.seats, vehicle_type.wheelchair_places)
            if (vehicle.seats, vehicle.wheelchair_places) != capacity:
                self.add(ViolationCode.VEHICLE_CAPACITY_MISMATCH,
                    N_("vehicle %(vehicle)s: says %(seats)s seats and %(places)s wheelchair places, but type %(type)s has "
                       "%(type_seats)s and %(type_places)s"),
                    vehicle=vehicle.id, seats=vehicle.seats, places=vehicle.wheelchair_places, type=vehicle_type.id,
                    type_seats=vehicle_type.seats, type_places=vehicle_type.wheelchair_places,
                )
            missing = [tid for tid in vehicle.trip_ids if tid not in self.trips]
            if missing:
                self.add(ViolationCode.VEHICLE_TRIPS_MISSING, N_("vehicle %(vehicle)s: trips %(trips)s are not in the plan"), vehicle=vehicle.id, trips=", ".join(missing))
                continue
            trips = [self.trips[tid] for tid in vehicle.trip_ids]
            for trip in trips:
                if trip.vehicle_id != vehicle.id:
                    self.add(ViolationCode.VEHICLE_TRIP_NAMES_OTHER_VEHICLE, N_("vehicle %(vehicle)s: lists trip %(trip)s, which says vehicle %(other)s drives it"), vehicle=vehicle.id, trip=trip.id, other=trip.vehicle_id)
            self._check_escort(vehicle, vehicle_type, trips)
            trips_m = sum(t.distance_m for t in trips)
            if abs(vehicle.distance_m - (trips_m + vehicle.deadhead_m)) > DISTANCE_TOLERANCE_M:
                self.add(ViolationCode.VEHICLE_DISTANCE_MISMATCH,
                    N_("vehicle %(vehicle)s: distance_m is %(given_m)s but its trips and deadhead add up to %(sum_m)s m"),
                    vehicle=vehicle.id, given_m=f"{vehicle.distance_m:.1f}", sum_m=f"{trips_m + vehicle.deadhead_m:.1f}",
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
                    N_("vehicle type %(type)s: the plan uses %(n)s vehicle(s), only %(count)s are available"),
                    type=type_id, n=n, count=vehicle_type.count,
                )

    def _check_chain(
        self, vehicle: VehicleDay, runs: list[_EmptyRun], deadheads: Mapping[tuple[Hashable, Hashable], _Leg]
    ) -> None:
        """Time order, time to reach the next trip, and the deadhead distance of one vehicle."""
        deadhead_m = 0.0
        for u, v, before, after in runs:
            time_s, leg_m = deadheads[(u, v)]
            if not math.isfinite(time_s):
                self.add(ViolationCode.NO_DEADHEAD_ROAD, N_("vehicle %(vehicle)s: cannot drive from node %(from_node)s to node %(to_node)s (deadhead)"), vehicle=vehicle.id, from_node=u, to_node=v)
                return
            deadhead_m += leg_m
            if before is None or after is None:
                continue  # depot runs never constrain time: a vehicle leaves its depot at will
            if after.start_s < before.start_s:
                self.add(ViolationCode.TRIPS_OUT_OF_ORDER,
                    N_("vehicle %(vehicle)s: trip %(after)s starts before trip %(before)s; trips must be in time order"),
                    vehicle=vehicle.id, after=after.id, before=before.id,
                )
            elif before.end_s + time_s > after.start_s + TIME_TOLERANCE_S:
                self.add(ViolationCode.CANNOT_REACH_NEXT_TRIP,
                    N_("vehicle %(vehicle)s: trip %(before)s ends at %(end)s and the drive to trip %(after)s takes %(drive_s)s s, "
                       "but %(after)s starts at %(start)s: the gap between chained trips is too small"),
                    vehicle=vehicle.id, before=before.id, end=_clock(before.end_s), after=after.id,
                    drive_s=f"{time_s:.0f}", start=_clock(after.start_s),
                )
        if abs(vehicle.deadhead_m - deadhead_m) > DISTANCE_TOLERANCE_M * max(1, len(runs)) + LIMIT_EPSILON:
            self.add(ViolationCode.DEADHEAD_MISMATCH,
                N_("vehicle %(vehicle)s: deadhead_m is %(given_m)s but the empty runs on the drive network add up to %(runs_m)s m"),
                vehicle=vehicle.id, given_m=f"{vehicle.deadhead_m:.1f}", runs_m=f"{deadhead_m:.1f}",
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
                self.add(ViolationCode.VEHICLE_UNKNOWN_DEPOT, N_("vehicle %(vehicle)s: depot %(depot)s is not in the fleet"), vehicle=vehicle.id, depot=vehicle.depot_id)
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
        if vehicle_type.always_escort:
            self.add(ViolationCode.ESCORT_MISSING_ALWAYS, N_("vehicle %(vehicle)s: type %(type)s always carries an escort, but the vehicle has none"), vehicle=vehicle.id, type=vehicle_type.id)
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
                N_("vehicle %(vehicle)s: has no escort but carries pupils up to grade %(max_grade)s, who need one: %(pupils)s"),
                vehicle=vehicle.id, max_grade=self.policy.escort_max_grade, pupils=grades,
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
            self.add(ViolationCode.COSTS_NOT_RECOMPUTED, N_("costs: not recomputed, because vehicles name unknown trips or vehicle types"))
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
                    N_("vehicle %(vehicle)s: cost_per_day is %(given)s but its prices give %(cost)s"),
                    vehicle=vehicle.id, given=f"{vehicle.cost_per_day:.2f}", cost=f"{cost:.2f}",
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
                    N_("summary: %(field)s is %(given)s but the plan's trips, vehicles and students give %(recomputed)s"),
                    field=f.name, given=_figure(given), recomputed=_figure(recomputed),
                )

        given_lines = {(x.group, x.key): x for x in self.plan.costs}
        for key in sorted(set(given_lines) | set(per_key) | set(n_routed)):
            given = given_lines.get(key)
            cost, n_students = per_key.get(key, 0.0), n_routed.get(key, 0)
            cost_key = {"group": key[0], "key": key[1]}
            if given is None:
                self.add(ViolationCode.COST_LINE_MISSING,
                         N_("costs: %(group)s %(key)s: missing from the plan (recomputed %(cost)s a day)"), **cost_key, cost=f"{cost:.2f}")
            elif key not in per_key and key not in n_routed:
                self.add(ViolationCode.COST_LINE_EXTRA, N_("costs: %(group)s %(key)s: in the plan but nothing costs there"), **cost_key)
            elif not (
                given.n_students == n_students
                and _money_equal(given.cost_per_day, cost)
                and _money_equal(given.cost_per_year, cost * days)
            ):
                self.add(ViolationCode.COST_LINE_MISMATCH,
                    N_("costs: %(group)s %(key)s: plan says %(given_n)s students, %(given_day)s a day, %(given_year)s a year; "
                       "recomputed %(n)s, %(day)s, %(year)s"),
                    **cost_key, given_n=given.n_students, given_day=f"{given.cost_per_day:.2f}",
                    given_year=f"{given.cost_per_year:.2f}", n=n_students, day=f"{cost:.2f}", year=f"{cost * days:.2f}",
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
    """``stop P1`` or ``school A``: a ``place`` parameter (renderers translate its first word)."""
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


def check_pins(plan: Plan, network: RoadNetwork) -> list[Violation]:
    """Every manual decision (``scenario.pins``) the plan breaks, in plain words.

    A pupil pinned to a stop must be carried from that stop; a stop pinned to a place must stand
    at the ``loaded`` node nearest it; a locked trip must keep its vehicle and exactly its visits
    (places, times, riders); a locked vehicle-day exactly its trips.
    """
    pins = plan.scenario.pins
    if not pins:
        return []
    messages: list[Violation] = []
    # looked up by a pin's ids, which are ``None`` where its kind does not use them
    assignments: dict[str | None, Assignment] = {a.student_id: a for a in plan.assignments}
    stops: dict[str | None, Stop] = {s.id: s for s in plan.stops}
    trips: dict[str | None, Trip] = {t.id: t for t in plan.trips}
    vehicles: dict[str | None, VehicleDay] = {v.id: v for v in plan.vehicles}
    for pin in pins:
        if pin.kind == "pupil_stop":
            a = assignments.get(pin.student_id)
            if a is None or a.status is not Status.ROUTED or a.stop_id != pin.stop_id:
                if a is None or a.status is not Status.ROUTED:
                    messages.append(Violation.make(ViolationCode.PIN_BROKEN,
                        N_("pin: student %(student)s is pinned to stop %(stop)s but is not carried"),
                        student=pin.student_id, stop=pin.stop_id))
                else:
                    messages.append(Violation.make(ViolationCode.PIN_BROKEN,
                        N_("pin: student %(student)s is pinned to stop %(stop)s but is at stop %(other)s"),
                        student=pin.student_id, stop=pin.stop_id, other=a.stop_id))
        elif pin.kind == "stop_location":
            stop = stops.get(pin.stop_id)
            if stop is None or pin.location is None:
                continue  # a pinned place no pupil uses in this plan
            node = int(snap_points(network.loaded, [pin.location]).node_ids[0])
            if stop.node_id != node:
                messages.append(Violation.make(ViolationCode.PIN_BROKEN,
                    N_("pin: stop %(stop)s is pinned to (%(lon)s, %(lat)s) (node %(node)s) but stands at node %(stop_node)s"),
                    stop=pin.stop_id, lon=f"{pin.location[0]:.6f}", lat=f"{pin.location[1]:.6f}", node=node,
                    stop_node=stop.node_id,
                ))
        elif pin.kind == "trip_locked":
            trip = trips.get(pin.trip_id)
            if trip is None:
                messages.append(Violation.make(ViolationCode.LOCK_BROKEN, N_("lock: trip %(trip)s is locked but is not in the plan"), trip=pin.trip_id))
            elif trip.visits != pin.visits or trip.vehicle_id != pin.vehicle_id:
                messages.append(Violation.make(ViolationCode.LOCK_BROKEN, N_("lock: trip %(trip)s is locked but its vehicle, stops, times or riders changed"), trip=pin.trip_id))
        elif pin.kind == "vehicle_locked":
            vehicle = vehicles.get(pin.vehicle_id)
            if vehicle is None or vehicle.trip_ids != pin.trip_ids:
                messages.append(Violation.make(ViolationCode.LOCK_BROKEN, N_("lock: vehicle %(vehicle)s is locked but its trips changed"), vehicle=pin.vehicle_id))
    return messages
