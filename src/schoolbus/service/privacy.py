"""What a manager and a contractor may see of a plan, made before anything is rendered or sent.

``plan.json`` never holds a home location; these views go further:

* **manager**: no student-level data at all. The ``students`` list is replaced by counts of
  unserved pupils per reason, stops carry ``n_students`` instead of ``student_ids``, and visits
  ``n_board``/``n_alight`` instead of who boards and alights. For the map, every pupil id is
  replaced by an anonymous dot, so popups give counts only.
* **contractor**: only their own vehicle-days, their trips, the stops those trips call at and the
  pupils aboard, by id and initials; each pupil's home location is replaced by their stop's
  location before the route sheet is rendered, so no sheet can show one.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from schoolbus.model import Plan, Status

ANONYMOUS_PUPIL = "•"
REDACTED_FOR = "redacted_for"


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
    for stop in out.get("stops", []):
        stop["n_students"] = len(stop.pop("student_ids", []))
    for trip in out.get("trips", []):
        for visit in trip.get("visits", []):
            visit["n_board"] = len(visit.pop("board", []))
            visit["n_alight"] = len(visit.pop("alight", []))
    out[REDACTED_FOR] = "manager"
    return out


def manager_plan(plan: Plan) -> Plan:
    """``plan`` with every pupil anonymous (for the manager's map): counts survive, ids do not."""

    def dots(ids: tuple[str, ...]) -> tuple[str, ...]:
        return (ANONYMOUS_PUPIL,) * len(ids)

    trips = tuple(
        replace(t, visits=tuple(replace(v, board=dots(v.board), alight=dots(v.alight)) for v in t.visits))
        for t in plan.trips
    )
    stops = tuple(replace(s, student_ids=dots(s.student_ids)) for s in plan.stops)
    assignments = tuple(replace(a, student_id=ANONYMOUS_PUPIL) for a in plan.assignments)
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

