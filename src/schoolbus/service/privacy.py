"""What each role may see of a plan: one redaction function over the domain plan.

``plan.json`` never holds a home location; :func:`redacted_plan` goes further, by role:

* **admin, officer**: the plan as it is.
* **manager**: no student-level data at all. Every pupil id becomes an anonymous dot
  (:data:`ANONYMOUS_PUPIL`), so stops and visits keep their counts but not who; assignments keep
  status and reason but no per-child time. A **door-to-door stop** is a home: it is left out with
  its visits (its place in a trip's order of calls would tell where the home lies), and every
  road-path point within :data:`HOME_RADIUS_M` of it is dropped from every trip.
* **contractor**: only their own vehicle-days, their trips, the stops those trips call at and the
  pupils aboard, by id and initials; each pupil's home location is replaced by their stop's
  location before the route sheet is rendered, so no sheet can show one.

Every output a role receives is made from this view: the map, the route sheets, and the API's
plan document (:mod:`schoolbus.service.schemas`: the manager's document is a typed model with no
field for pupil ids, per-child times or the network file's server path).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Literal

from schoolbus.model import Location, Plan, Trip

ANONYMOUS_PUPIL = "•"
HOME_RADIUS_M = 300.0
"""No road-path point a manager sees comes closer than this to a door-to-door stop (a home)."""
EARTH_RADIUS_M = 6_371_008.8
FULL_VIEW_ROLES = ("admin", "officer")

Role = Literal["admin", "officer", "manager", "contractor"]


def redacted_plan(plan: Plan, role: Role | str, vehicle_ids: Collection[str] = ()) -> Plan:
    """The view of ``plan`` that ``role`` may see: the one redaction function behind every output.

    Parameters
    ----------
    plan : Plan
        The stored plan.
    role : str
        ``admin``/``officer``: the plan itself; ``manager``: no student-level data and no home
        (see the module docstring); ``contractor``: the vehicle-days ``vehicle_ids`` only.
    vehicle_ids : collection of str
        A contractor's vehicle-days (ignored for other roles).

    Raises
    ------
    ValueError
        For a role that is none of the four (nothing is shown to an unknown role).
    """
    if role in FULL_VIEW_ROLES:
        return plan
    if role == "manager":
        return manager_view(plan)
    if role == "contractor":
        return contractor_view(plan, vehicle_ids)
    raise ValueError(f"no view of a plan for role {role!r}")


def distance_m(a: Location, b: Location) -> float:
    """Great-circle distance between two ``[lon, lat]`` points, metres."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def far_from_homes(coords: Sequence[Location], homes: Collection[Location]) -> tuple[Location, ...]:
    """The points of ``coords`` at least :data:`HOME_RADIUS_M` from every home."""
    return tuple(c for c in coords if all(distance_m(c, home) >= HOME_RADIUS_M for home in homes))


def manager_view(plan: Plan) -> Plan:
    """``plan`` without student-level data or homes (see the module docstring): counts survive, ids do not."""

    def dots(ids: tuple[str, ...]) -> tuple[str, ...]:
        return (ANONYMOUS_PUPIL,) * len(ids)

    homes = {s.id: s.location for s in plan.stops if s.is_door_to_door}

    def away_from_homes(trip: Trip) -> Trip:
        visits = tuple(
            replace(v, board=dots(v.board), alight=dots(v.alight)) for v in trip.visits if v.stop_id not in homes
        )
        steps = trip.steps
        if homes:
            steps = tuple(replace(s, coords=far_from_homes(s.coords, list(homes.values()))) for s in trip.steps)
        return replace(trip, visits=visits, steps=steps)

    trips = tuple(away_from_homes(t) for t in plan.trips)
    stops = tuple(replace(s, student_ids=dots(s.student_ids)) for s in plan.stops if s.id not in homes)
    # No per-child time either, nor which home a pupil is fetched from: only counts and reasons survive.
    assignments = tuple(
        replace(
            a,
            student_id=ANONYMOUS_PUPIL,
            stop_id=None if a.stop_id in homes else a.stop_id,
            pickup_s=None,
            dropoff_s=None,
            ride_to_school_s=None,
            ride_home_s=None,
        )
        for a in plan.assignments
    )
    scenario = replace(plan.scenario, students=())
    return replace(plan, scenario=scenario, trips=trips, stops=stops, assignments=assignments)


def contractor_view(plan: Plan, vehicle_ids: Collection[str]) -> Plan:
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
