"""Plan versions and publishing in the service: officer drafts → manager approves → published.

A Helsinki demo plan is stored as a project's first plan (published version 1, as every plan
from before versions); an officer re-plans it with a change file (a draft), a manager approves it
seeing the cost change, and contractors and parent notices only ever see published versions.
Includes the role matrix of the new routes and a Chromium run of the whole flow.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from schoolbus.network import load_network
from schoolbus.pipeline import plan
from schoolbus.planfile import NetworkSource, dumps, file_sha256, plan_to_dict, scenario_to_dict
from schoolbus.service import auth, store
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig
from schoolbus.service.db import AuditEntry, PlanRecord, Project, ScenarioRecord, VehicleContractor
from schoolbus.synthetic import demo_scenario, read_osm_schools

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CHROMIUM = Path("/usr/bin/chromium")
USERS = [("olga", "officer"), ("mert", "manager"), ("cem", "contractor"), ("root", "admin")]


@pytest.fixture(scope="module")
def base_plan(helsinki_pbf, tmp_path_factory):
    network = load_network(osm=helsinki_pbf, cache_dir=tmp_path_factory.mktemp("cache"))
    scenario = demo_scenario(read_osm_schools(helsinki_pbf), network.drive, n_students=120, seed=3)
    return plan(scenario, network)


def make_app(data_dir: Path, helsinki_pbf: Path, base_plan, **config):
    """A service with the four roles, a project whose plan 1 is ``base_plan``, cem driving every vehicle."""
    app = create_app(ServiceConfig(data_dir=data_dir, preload_demo=False, print_admin_password=lambda u, p: None, **config))
    return app


def seed(app, helsinki_pbf: Path, base_plan) -> str:
    """Seed the store; the public id of plan 1 (URLs and JSON name plans by it)."""
    source = NetworkSource.from_file("osm", helsinki_pbf)
    with app.state.sessions.begin() as session:
        users = {name: auth.create_user(session, name, role, PASSWORD)[0] for name, role in USERS}
        project = store.create_project(session, users["olga"], "Helsinki")
        project.network_kind, project.network_path, project.network_sha256 = "osm", str(helsinki_pbf), file_sha256(helsinki_pbf)
        auth.add_member(session, project, users["mert"])
        scenario = ScenarioRecord(project_id=project.id, name="demo", document=json.dumps(scenario_to_dict(base_plan.scenario)),
                                  n_students=len(base_plan.scenario.students), n_schools=len(base_plan.scenario.schools))
        session.add(scenario)
        session.flush()
        record = PlanRecord(project_id=project.id, scenario_id=scenario.id, job_id=None, name="demo #1",
                            document=dumps(plan_to_dict(base_plan, source)))
        session.add(record)
        session.flush()
        for vehicle in base_plan.vehicles:
            session.add(VehicleContractor(plan_id=record.id, vehicle_id=vehicle.id, user_id=users["cem"].id))
        return record.public_id


def changes_csv(base_plan) -> bytes:
    """Two new pupils beside enrolled ones and one leaver."""
    routed = [a for a in base_plan.assignments if a.student_id and a.stop_id]
    rows = ["change,student_id,lon,lat,school_id,shift,grade"]
    for k in (0, 30):
        s = next(x for x in base_plan.scenario.students if x.id == routed[k].student_id)
        rows.append(f"add_pupil,NEW{k},{s.location[0] + 0.0003},{s.location[1]},{s.school_id},{s.shift},6")
    rows.append(f"remove_pupil,{routed[5].student_id},,,,,")
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture(scope="module")
def service(helsinki_pbf, base_plan, tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("versions"), helsinki_pbf, base_plan)
    with TestClient(app, base_url="https://testserver"):
        plan_id = seed(app, helsinki_pbf, base_plan)
        yield app, plan_id


def api(app, username: str) -> TestClient:
    client = TestClient(app, base_url="https://testserver")
    token = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_draft_approve_publish_and_who_sees_what(service, base_plan):
    app, v1 = service
    officer, manager, contractor = api(app, "olga"), api(app, "mert"), api(app, "cem")
    bad = officer.post(f"/api/v1/plans/{v1}/replan", files={"file": ("changes.csv", b"change,student_id\nteleport,X\n")})
    assert bad.status_code == 422 and "changes.csv" in bad.text
    created = officer.post(f"/api/v1/plans/{v1}/replan", files={"file": ("changes.csv", changes_csv(base_plan))})
    assert created.status_code == 201, created.text
    draft = created.json()
    v2 = draft["plan_id"]
    assert (draft["version"], draft["parent_plan_id"], draft["author"], draft["status"]) == (2, v1, "olga", "draft")
    assert draft["report"]["n_unaffected_moved_beyond_tolerance"] == 0

    assert isinstance(v2, str) and len(v2) == 16 and draft["parent_plan_id"] == v1  # public ids, never row numbers
    assert officer.get(f"/api/v1/plans/{v2}/version").json()["project_id"] == officer.get(f"/api/v1/plans/{v1}/version").json()["project_id"]

    # Drafts are hidden from contractors (the same 403 as a plan that is not there) and from parent notices.
    assert v2 not in [p["id"] for p in contractor.get("/api/v1/plans").json()]
    draft_sheets = contractor.get(f"/api/v1/plans/{v2}/sheets")
    missing_sheets = contractor.get("/api/v1/plans/no-such-id-0000/sheets")
    assert draft_sheets.status_code == missing_sheets.status_code == 403
    assert draft_sheets.json()["message"].replace(v2, "N") == missing_sheets.json()["message"].replace("no-such-id-0000", "N")
    assert contractor.get(f"/api/v1/plans/{v2}/version").status_code == 403
    assert officer.get(f"/api/v1/plans/{v2}/notices.pdf").status_code == 403
    assert officer.post(f"/api/v1/plans/{v2}/approve").status_code == 403  # officers draft, managers approve

    seen = manager.get(f"/api/v1/plans/{v2}/version").json()
    assert seen["cost_per_day_delta"] == round(seen["cost_per_day"] - base_plan.summary.cost_per_day, 2)
    diff = manager.get(f"/api/v1/plans/{v1}/diff/{v2}").json()
    assert diff["n_added"] == 2 and diff["added"] == []  # managers see counts, not pupil ids
    assert officer.get(f"/api/v1/plans/{v1}/diff/{v2}").json()["added"] == ["NEW0", "NEW30"]

    published = manager.post(f"/api/v1/plans/{v2}/approve")
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert manager.post(f"/api/v1/plans/{v2}/approve").status_code == 422  # not a draft any more
    assert officer.get(f"/api/v1/plans/{v1}/version").json()["status"] == "superseded"
    visible = [p["id"] for p in contractor.get("/api/v1/plans").json()]
    assert v1 in visible and v2 in visible  # the previous published version stays downloadable
    sheets = contractor.get(f"/api/v1/plans/{v2}/sheets").json()
    assert sheets and contractor.get(sheets[0]["pdf_url"]).status_code == 200
    assert contractor.get(f"/api/v1/plans/{v1}/sheets").status_code == 200
    assert officer.get(f"/api/v1/plans/{v2}/notices.pdf").status_code == 200
    with app.state.sessions() as session:
        actions = [(e.username, e.action) for e in session.query(AuditEntry).order_by(AuditEntry.id)]
    assert ("olga", "replan") in actions and ("mert", "publish_plan") in actions


ROLE_MATRIX = [
    # (method, path template, role, expected status); {v1} is the project's published plan.
    ("GET", "/api/v1/plans/{v1}/version", "officer", 200),
    ("GET", "/api/v1/plans/{v1}/version", "manager", 200),
    ("GET", "/api/v1/plans/{v1}/version", "contractor", 403),  # contractors see sheets only
    ("GET", "/api/v1/projects/{project}/versions", "manager", 200),
    ("GET", "/api/v1/projects/{project}/versions", "contractor", 403),
    ("GET", "/api/v1/plans/{v1}/diff/{v1}", "officer", 200),
    ("GET", "/api/v1/plans/{v1}/diff/{v1}", "contractor", 403),
    ("POST", "/api/v1/plans/{v1}/replan", "manager", 403),  # only officers (and admins) edit
    ("POST", "/api/v1/plans/{v1}/replan", "contractor", 403),
    ("POST", "/api/v1/plans/{v1}/approve", "officer", 403),  # only managers (and admins) publish
    ("POST", "/api/v1/plans/{v1}/approve", "contractor", 403),
    ("POST", "/api/v1/plans/{v1}/approve", "manager", 422),  # allowed, but v1 is no draft
    ("GET", "/plans/{v1}/versions", "officer", 200),
    ("GET", "/plans/{v1}/versions", "manager", 200),
    ("GET", "/plans/{v1}/versions", "contractor", 403),
]


@pytest.mark.parametrize(("method", "path", "role", "expected"), ROLE_MATRIX)
def test_role_matrix_of_version_routes(helsinki_pbf, base_plan, tmp_path_factory, method, path, role, expected):
    app = _matrix_app(helsinki_pbf, base_plan, tmp_path_factory)
    name = {r: u for u, r in USERS}[role]
    with app.state.sessions() as session:
        v1 = session.query(PlanRecord).order_by(PlanRecord.id).first().public_id
        project = session.query(Project).first().public_id
    url = path.format(v1=v1, project=project)
    if url.startswith("/api/"):
        client = api(app, name)
        files = {"file": ("c.csv", b"change,student_id\nremove_pupil,NOBODY\n")} if url.endswith("/replan") else None
        response = client.request(method, url, files=files)
    else:
        client = TestClient(app, base_url="https://testserver")
        token = CSRF.search(client.get("/login").text).group(1)
        client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
        response = client.request(method, url)
    assert response.status_code == expected, response.text


_MATRIX_APPS: dict[str, object] = {}


def _matrix_app(helsinki_pbf, base_plan, tmp_path_factory):
    if "app" not in _MATRIX_APPS:
        app = make_app(tmp_path_factory.mktemp("matrix"), helsinki_pbf, base_plan)
        client = TestClient(app, base_url="https://testserver")
        client.__enter__()
        seed(app, helsinki_pbf, base_plan)
        _MATRIX_APPS["app"] = app
        _MATRIX_APPS["client"] = client
    return _MATRIX_APPS["app"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_browser_officer_drafts_manager_approves_contractor_sees_new_sheet(helsinki_pbf, base_plan, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent")
    playwright = pytest.importorskip("playwright.sync_api")
    import uvicorn

    app = make_app(tmp_path / "data", helsinki_pbf, base_plan, cookie_secure=False)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        v1 = seed(app, helsinki_pbf, base_plan)
        (tmp_path / "changes.csv").write_bytes(changes_csv(base_plan))
        base = f"http://127.0.0.1:{port}"
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])

            def signed_in(username: str):
                page = browser.new_context(accept_downloads=True).new_page()
                page.goto(f"{base}/login")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", PASSWORD)
                page.click("#sign-in")
                assert page.text_content("#whoami") == username
                return page

            officer = signed_in("olga")
            officer.goto(f"{base}/plans/{v1}")
            officer.click("#versions-link")
            officer.set_input_files("#change-file", str(tmp_path / "changes.csv"))
            officer.click("#replan-submit")
            officer.wait_for_selector("#version-status")
            assert "/versions" in officer.url and officer.url != f"{base}/plans/{v1}/versions"
            v2 = officer.url.rstrip("/").split("/")[-2]
            assert officer.get_attribute("#version-status", "class") == "status-draft"
            assert officer.locator("#approve").count() == 0

            contractor = signed_in("cem")
            assert contractor.goto(f"{base}/plans/{v2}").status == 403  # not before approval

            manager = signed_in("mert")
            manager.goto(f"{base}/plans/{v2}/versions")
            assert manager.text_content("#cost-delta").strip()
            assert manager.text_content("#reissue").strip().startswith("V")
            manager.click("#approve")
            manager.wait_for_selector(".status-published")

            contractor.goto(f"{base}/plans/{v2}")
            with contractor.expect_download() as download:
                contractor.locator("a.sheet-pdf").first.click()
            assert download.value.suggested_filename.startswith("route_sheet_V")
            assert contractor.goto(f"{base}/plans/{v1}").status == 200  # the superseded version stays
            browser.close()
    finally:
        server.should_exit = True
        thread.join()


@pytest.mark.slow
def test_a_lock_uploaded_with_the_changes_sticks_in_later_versions(service, base_plan):
    app, v1 = service
    officer = api(app, "olga")
    vehicle = base_plan.vehicles[0]
    locks = f"pin,vehicle_id\nvehicle_locked,{vehicle.id}\n".encode()
    created = officer.post(f"/api/v1/plans/{v1}/replan",
                           files={"file": ("changes.csv", changes_csv(base_plan)), "pins": ("locks.csv", locks)})
    assert created.status_code == 201, created.text
    v = created.json()["plan_id"]
    trips = {t["id"]: t for t in officer.get(f"/api/v1/plans/{v}").json()["trips"]}
    before = {t.id: t for t in base_plan.trips}
    for trip_id in vehicle.trip_ids:
        assert trips[trip_id]["vehicle_id"] == vehicle.id
        assert [x["arrive_s"] for x in trips[trip_id]["visits"]] == [x.arrive_s for x in before[trip_id].visits]
    # The lock is part of the new version's scenario: withdrawing that vehicle is now refused.
    withdraw = f"change,vehicle_id\nwithdraw_vehicle,{vehicle.id}\n".encode()
    refused = officer.post(f"/api/v1/plans/{v}/replan", files={"file": ("w.csv", withdraw)})
    assert refused.status_code == 422 and "unlock" in refused.text
    bad = officer.post(f"/api/v1/plans/{v1}/replan",
                       files={"file": ("changes.csv", changes_csv(base_plan)), "pins": ("locks.csv", b"pin\nglue\n")})
    assert bad.status_code == 422 and "locks.csv" in bad.text
