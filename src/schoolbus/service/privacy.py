"""What a manager and a contractor may see of a plan, made before anything is rendered or sent.

``plan.json`` never holds a home location; these views go further:

* **manager**: no student-level data at all. The ``students`` list is replaced by counts of
  unserved pupils per reason, stops carry ``n_students`` instead of ``student_ids``, and visits
  ``n_board``/``n_alight`` instead of who boards and alights. For the map, every pupil id is
  replaced by an anonymous dot, so popups give counts only. A **door-to-door stop** is a home:
  it keeps no location, node or street name (``is_redacted: true``), its visits no times, and
  every road-path point within :data:`HOME_RADIUS_M` of it is dropped from every trip (in
  ``plan.json`` and on the map, where the stop and its visits are left out). The network's source
  keeps its kind and digest but not the server's file path.
* **contractor**: only their own vehicle-days, their trips, the stops those trips call at and the
  pupils aboard, by id and initials; each pupil's home location is replaced by their stop's
  location before the route sheet is rendered, so no sheet can show one.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from schoolbus.model import Location, Plan, RoadStep, Status, Trip

ANONYMOUS_PUPIL = "•"
REDACTED_FOR = "redacted_for"
HOME_RADIUS_M = 300.0
"""No road-path point a manager sees comes closer than this to a door-to-door stop (a home)."""
EARTH_RADIUS_M = 6_371_008.8
FULL_VIEW_ROLES = ("admin", "officer")


def redacted_plan(plan: Plan, role: str, vehicle_ids: Collection[str] = ()) -> Plan:
    """The view of ``plan`` a role may see: the one redaction function behind every rendered output.

    ``admin``/``officer``: the plan; ``manager``: :func:`manager_plan`; ``contractor``:
    :func:`contractor_plan` of ``vehicle_ids``.
    """
    if role in FULL_VIEW_ROLES:
        return plan
    if role == "manager":
        return manager_plan(plan)
    return contractor_plan(plan, vehicle_ids)


def redacted_plan_document(document: Mapping[str, Any], role: str) -> dict[str, Any]:
    """The ``plan.json`` a role may read (contractors read none: route sheets only)."""
    if role in FULL_VIEW_ROLES:
        return dict(document)
    if role == "manager":
        return manager_plan_document(document)
    raise PermissionError("contractors see route sheets only")


def _distance_m(a: Location, b: Location) -> float:
    """Great-circle distance between two ``[lon, lat]`` points, metres."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def _far_from_homes(coords, homes: Collection[Location]) -> list:
    return [c for c in coords if all(_distance_m(c, home) >= HOME_RADIUS_M for home in homes)]


def manager_plan_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The ``plan.json`` document without student-level data (see the module docstring)."""
    out = copy.deepcopy(dict(document))
    students = out.pop("students", [])
    reasons = Counter(
        (s.get("reason"), (s.get("reason_code") or {}).get("code"))
        for s in students
        if s.get("status") == Status.UNSERVED.value
    )
    out["unserved_reasons"] = [
        {"reason": r, "code": code, "n_students": n}
        for (r, code), n in sorted(reasons.items(), key=lambda kv: (-kv[1], str(kv[0])))
    ]
    homes = {}
    for stop in out.get("stops", []):
        stop["n_students"] = len(stop.pop("student_ids", []))
        if stop.get("is_door_to_door"):
            homes[stop["id"]] = stop["location"]
            stop.update(location=None, node_id=None, name="", where=None, is_redacted=True)
    for trip in out.get("trips", []):
        for visit in trip.get("visits", []):
            visit["n_board"] = len(visit.pop("board", []))
            visit["n_alight"] = len(visit.pop("alight", []))
            if visit.get("stop_id") in homes:
                visit["arrive_s"] = visit["depart_s"] = None
        if homes:
            for step in trip.get("steps", []):
                step["coords"] = _far_from_homes(step.get("coords", []), list(homes.values()))
    source = (out.get("network") or {}).get("source")
    if isinstance(source, dict):
        source.pop("value", None)
    out[REDACTED_FOR] = "manager"
    return out


def manager_plan(plan: Plan) -> Plan:
    """``plan`` with every pupil anonymous (for the manager's map): counts survive, ids do not."""

    def dots(ids: tuple[str, ...]) -> tuple[str, ...]:
        return (ANONYMOUS_PUPIL,) * len(ids)

    homes = {s.id: s.location for s in plan.stops if s.is_door_to_door}

    def away_from_homes(trip: Trip) -> Trip:
        visits = tuple(
            replace(v, board=dots(v.board), alight=dots(v.alight)) for v in trip.visits if v.stop_id not in homes
        )
        steps = trip.steps
        if homes:
            steps = tuple(
                RoadStep(s.street, s.distance_m, tuple(_far_from_homes(s.coords, list(homes.values()))))
                for s in trip.steps
            )
        return replace(trip, visits=visits, steps=steps)

    trips = tuple(away_from_homes(t) for t in plan.trips)
    stops = tuple(replace(s, student_ids=dots(s.student_ids)) for s in plan.stops if s.id not in homes)
    # No per-child time either: only counts and reasons survive.
    assignments = tuple(
        replace(a, student_id=ANONYMOUS_PUPIL, pickup_s=None, dropoff_s=None, ride_to_school_s=None, ride_home_s=None)
        for a in plan.assignments
    )
    scenario = replace(plan.scenario, students=())
    return replace(plan, scenario=scenario, trips=trips, stops=stops, assignments=assignments)


def contractor_plan(plan: Plan, vehicle_ids: Collection[str]) -> Plan:
    """Only the vehicle-days ``vehicle_ids`` of ``plan``, with pupils pseudonymised (see above)."""
    wanted = set(vehicle_ids)
    vehicles = tuple(v for v in plan.vehicles if v.id in wanted)
    trip_ids = {t for v in vehicles for t in v.trip_ids}
    trips = tuple(t for t in plan.trips if t.id in trip_ids)
    riders = {i for t in trips for visit in t.visits for i in (*visit.board, *visit.alight)}
    stop_ids = {visit.stop_id for t in trips for visit in t.visits if visit.stop_id is not None}
    stops = tuple(
        replace(s, student_ids=tuple(i for i in s.student_ids if i in riders)) for s in plan.stops if s.id in stop_ids
    )
    stop_location = {i: s.location for s in stops for i in s.student_ids}
    school_location = {s.id: s.location for s in plan.scenario.schools}
    students = tuple(
        replace(s, location=stop_location.get(s.id) or school_location[s.school_id])
        for s in plan.scenario.students
        if s.id in riders
    )
    assignments = tuple(a for a in plan.assignments if a.student_id in riders)
    scenario = replace(plan.scenario, students=students)
    return replace(plan, scenario=scenario, vehicles=vehicles, trips=trips, stops=stops, assignments=assignments)

