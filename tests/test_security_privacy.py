"""Homes never reach managers: door-to-door stops lose their location, times and nearby road path;
no server path reaches a non-officer; contractors keep exact stops only for their own vehicles.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from fixtures_plan import make_plan
from schoolbus.planfile import NetworkSource, dumps, plan_to_dict
from schoolbus.service import privacy
from schoolbus.service.schemas import ManagerPlanDocument, PlanDocument
from security_figures import record
from security_service import SERVER_PATH, seeded_service

EARTH_RADIUS_M = 6_371_008.8


def distance_m(a, b) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def plan():
    return make_plan()


@pytest.fixture(scope="module")
def homes(plan):
    found = [s.location for s in plan.stops if s.is_door_to_door]
    assert found, "the fixture plan has a door-to-door stop"
    return found


def public_places(plan) -> set[tuple[float, float]]:
    stops = {tuple(s.location) for s in plan.stops if not s.is_door_to_door}
    return stops | {tuple(s.location) for s in plan.scenario.schools} | {tuple(d.location) for d in plan.scenario.fleet.depots}


def all_coordinates(value) -> list[tuple[float, float]]:
    """Every [lon, lat]-looking pair anywhere in a JSON value."""
    out = []
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(v, float) for v in value):
            out.append(tuple(value))
        for v in value:
            out.extend(all_coordinates(v))
    elif isinstance(value, dict):
        for v in value.values():
            out.extend(all_coordinates(v))
    return out


def test_manager_document_has_no_home_nor_server_path(plan, homes):
    source = NetworkSource(kind="osm", value=SERVER_PATH, sha256="0" * 64)
    document = ManagerPlanDocument.of(privacy.redacted_plan(plan, "manager"), source).model_dump(mode="json")
    points = all_coordinates(document)
    # Schools and shared stops are public places and may lie near a home; nothing else may.
    public = public_places(plan)
    close = [p for p in points for h in homes if distance_m(p, h) < privacy.HOME_RADIUS_M and p not in public]
    assert close == []
    assert not any(distance_m(p, h) < 1.0 for p in points for h in homes)
    # A door-to-door stop is a home: neither it nor its place in a trip's calls is listed.
    door_ids = {s.id for s in plan.stops if s.is_door_to_door}
    assert door_ids and not door_ids & {s["id"] for s in document["stops"]}
    assert not any(v.get("stop_id") in door_ids for t in document["trips"] for v in t["visits"])
    assert not any(s["is_door_to_door"] for s in document["stops"])
    assert document["redacted_for"] == "manager" and "students" not in document
    assert SERVER_PATH not in json.dumps(document)
    assert document["network"]["source"]["sha256"] == "0" * 64
    record("privacy_manager_document", points_checked=len(points), within_300m=len(close))


def test_manager_document_keeps_the_counts(plan):
    document = ManagerPlanDocument.of(privacy.redacted_plan(plan, "manager"), None).model_dump(mode="json")
    shared = [s for s in plan.stops if not s.is_door_to_door]
    assert [(s["id"], s["n_students"]) for s in document["stops"]] == [(s.id, len(s.student_ids)) for s in shared]
    unserved = [a for a in plan.assignments if a.status.value == "unserved"]
    assert sum(r["n_students"] for r in document["unserved_reasons"]) == len(unserved) > 0
    # Every pupil still arrives at school in the counts, door-to-door pupils included.
    at_school = sum(v["n_alight"] for t in document["trips"] for v in t["visits"] if "school_id" in v)
    assert at_school == sum(len(v.alight) for t in plan.trips for v in t.visits if v.school_id is not None) > 0
    assert privacy.ANONYMOUS_PUPIL not in json.dumps(document, ensure_ascii=False)


def test_officer_document_is_untouched(plan):
    source = NetworkSource(kind="osm", value=SERVER_PATH, sha256="0" * 64)
    document = PlanDocument.of(privacy.redacted_plan(plan, "officer"), source).model_dump(mode="json")
    assert document == json.loads(dumps(plan_to_dict(plan, source)))


def test_an_unknown_role_sees_nothing(plan):
    with pytest.raises(ValueError, match="role"):
        privacy.redacted_plan(plan, "guest")


def test_manager_map_view_has_no_home(plan, homes, tmp_path):
    from schoolbus.outputs.maps import render_map

    view = privacy.redacted_plan(plan, "manager")
    assert not any(s.is_door_to_door for s in view.stops)
    door_ids = {s.id for s in plan.stops if s.is_door_to_door}
    assert not any(v.stop_id in door_ids for t in view.trips for v in t.visits)
    assert all(a.pickup_s is None and a.dropoff_s is None for a in view.assignments)
    points = [c for t in view.trips for s in t.steps for c in s.coords]
    assert all(distance_m(p, h) >= privacy.HOME_RADIUS_M for p in points for h in homes)
    html = render_map(view, tmp_path / "map.html", language="en").read_text(encoding="utf-8")
    # Leaflet takes [lat, lon] pairs.
    pairs = [(float(lon), float(lat)) for lat, lon in re.findall(r"\[\s*(-?\d+\.\d+),\s*(-?\d+\.\d+)\s*\]", html)]
    assert pairs
    public = public_places(plan)
    assert not any(distance_m(p, h) < 1.0 for p in pairs for h in homes)
    assert all(distance_m(p, h) >= privacy.HOME_RADIUS_M for p in pairs for h in homes if p not in public)
    record("privacy_manager_map", road_points=len(points), pairs_in_map=len(pairs), homes_found=0)


def test_contractor_keeps_exact_stops_of_their_vehicles_only(plan):
    for vehicle in plan.vehicles:
        view = privacy.redacted_plan(plan, "contractor", [vehicle.id])
        theirs = {v.stop_id for t in plan.trips if t.vehicle_id == vehicle.id for v in t.visits if v.stop_id}
        assert {s.id for s in view.stops} == theirs
        assert {t.vehicle_id for t in view.trips} == {vehicle.id}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    with seeded_service(tmp_path_factory, "privacy") as s:
        yield s


def test_service_manager_plan_json_and_map(seeded, homes):
    s = seeded
    plan_id = s.plan_ids[0]
    officer = s.client.get(f"/api/v1/plans/{plan_id}", headers=s.headers("olga"))
    assert SERVER_PATH in officer.text  # the officer still sees where the network came from
    manager = s.client.get(f"/api/v1/plans/{plan_id}", headers=s.headers("mert"))
    assert manager.status_code == 200
    assert SERVER_PATH not in manager.text
    points = all_coordinates(manager.json())
    public = public_places(make_plan())
    assert all(distance_m(p, h) >= privacy.HOME_RADIUS_M for p in points for h in homes if p not in public)
    assert not any(distance_m(p, h) < 1.0 for p in points for h in homes)
    page = s.client.get(f"/api/v1/plans/{plan_id}/map", headers=s.headers("mert"))
    assert page.status_code == 200
    for lon, lat in homes:
        assert f"[{lat}, {lon}]" not in page.text


def property_names(schema: dict) -> set[str]:
    """Every property name anywhere in a JSON schema (its $defs included)."""
    names = set()
    if isinstance(schema, dict):
        names |= set(schema.get("properties", {}))
        for value in schema.values():
            names |= property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= property_names(value)
    return names


def test_manager_schema_has_no_field_for_pupils_times_or_paths():
    """The manager's document cannot carry these, whatever the plan holds: its schema lacks them."""
    manager = property_names(ManagerPlanDocument.model_json_schema())
    full = property_names(PlanDocument.model_json_schema())
    withheld = {"students", "student_ids", "board", "alight", "pickup_s", "dropoff_s", "ride_to_school_s", "value"}
    assert withheld <= full
    assert not withheld & manager


def test_manager_diff_shows_no_home_call(seeded):
    """Every call 60 s later in a new version: the officer sees the home's time move, the manager not."""
    from dataclasses import replace

    from sqlalchemy import select

    from schoolbus.service.db import PlanRecord, Project, ScenarioRecord

    s = seeded
    plan = make_plan()
    later = replace(plan, trips=tuple(
        replace(t, visits=tuple(replace(v, arrive_s=v.arrive_s + 60, depart_s=v.depart_s + 60) for v in t.visits))
        for t in plan.trips
    ))
    source = NetworkSource(kind="osm", value=SERVER_PATH, sha256="0" * 64)
    with s.app.state.sessions.begin() as session:
        scenario = session.scalar(select(ScenarioRecord).where(ScenarioRecord.public_id == s.scenario_id))
        project = session.scalar(select(Project).where(Project.public_id == s.project_id))
        record = PlanRecord(project_id=project.id, scenario_id=scenario.id, name="later", document=json.dumps(plan_to_dict(later, source)))
        session.add(record)
        session.flush()
        later_id = record.public_id
    url = f"/api/v1/plans/{s.plan_ids[0]}/diff/{later_id}"
    door_ids = {x.id for x in plan.stops if x.is_door_to_door}
    officer = s.client.get(url, headers=s.headers("olga")).json()
    manager = s.client.get(url, headers=s.headers("mert")).json()
    assert door_ids <= {c["stop_id"] for c in officer["stop_times"]}
    shared = {c["stop_id"] for c in officer["stop_times"]} - door_ids
    assert shared and {c["stop_id"] for c in manager["stop_times"]} == shared
    assert manager["vehicles_changed"] == officer["vehicles_changed"] != []
