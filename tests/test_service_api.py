"""The scheduling service's API, every endpoint, as each role, on SQLite and (when CI starts one)
PostgreSQL.

One tiny district is planned for real in a worker process: 40 pupils at the four corners of a
7 x 7 street grid (200 m blocks), one school in the middle, 25-seat vehicles, so exactly two
vehicle-days carry everyone. Privacy is proved by fetching every GET endpoint as a manager and as a
contractor and searching each body (PDFs and ZIPs opened) for any pupil's home coordinates.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import time
import uuid
import zipfile

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from schoolbus.errors import InputError
from schoolbus.ingest import read_students
from schoolbus.service import auth
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig

ORIGIN = (32.85, 39.98)  # Keçiören, Ankara
BLOCK_M = 200.0
GRID_N = 7
METRES_PER_DEG_LAT = 111_195.0
PASSWORD = "correct-horse-battery"
JOB_WAIT_S = 180.0
CORNERS = [(0, 0), (0, 6), (6, 0), (6, 6)]
PER_CORNER = 10


def grid_point(i: float, j: float) -> tuple[float, float]:
    lon = ORIGIN[0] + i * BLOCK_M / (METRES_PER_DEG_LAT * math.cos(math.radians(ORIGIN[1])))
    lat = ORIGIN[1] + j * BLOCK_M / METRES_PER_DEG_LAT
    return (round(lon, 7), round(lat, 7))


def grid_geojson() -> bytes:
    features = []
    for k in range(GRID_N):
        for horizontal in (True, False):
            coords = [grid_point(i, k) if horizontal else grid_point(k, i) for i in range(GRID_N)]
            features.append(
                {
                    "type": "Feature",
                    "properties": {"highway": "residential", "name": f"Sokak {k}{'h' if horizontal else 'v'}", "maxspeed": "36"},
                    "geometry": {"type": "LineString", "coordinates": coords},
                }
            )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def homes() -> list[tuple[str, float, float]]:
    """(id, lon, lat): pupils 10 m off the street, a twentieth of a block east of each corner."""
    out = []
    for c, (i, j) in enumerate(CORNERS):
        for k in range(PER_CORNER):
            lon, lat = grid_point(i + 0.05, j)
            out.append((f"P{c}-{k}", lon, round(lat + 0.00009, 7)))
    return out


def students_csv() -> bytes:
    lines = ["id,lon,lat,school_id,shift,grade,initials"]
    lines += [f"{sid},{lon},{lat},S,tam,6,A.B." for sid, lon, lat in homes()]
    return ("\n".join(lines) + "\n").encode()


def schools_csv() -> bytes:
    lon, lat = grid_point(3, 3)
    return f"id,name,lon,lat,shift,bell,dismissal\nS,Okul,{lon},{lat},tam,08:30,15:00\n".encode()


FLEET = {"prices": {"currency": "TRY", "escort_day_rate": 500}, "vehicle_types": [{"id": "midi", "seats": 25, "day_rate": 1000}]}

BAD_STUDENTS = (
    b"id,lon,lat,school_id,shift,grade\n"
    b"A1,32.85,39.98,S,tam,6\n"
    b"A2,232.85,39.98,S,tam,6\n"  # longitude out of range
    b"A3,32.85,,S,tam,6\n"  # latitude missing
    b"A4,32.85,39.98,S,tam,sixth\n"  # grade not a number
)


# --------------------------------------------------------------------------------------------------
# The service, its accounts and one planned district
# --------------------------------------------------------------------------------------------------


def _postgres_url() -> str | None:
    return os.environ.get("SCHOOLBUS_TEST_POSTGRES_URL") or None


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory):
    """A database URL: a SQLite file, or a fresh database on the CI PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    url = _postgres_url()
    if url is None:
        pytest.skip("SCHOOLBUS_TEST_POSTGRES_URL is not set: `make test` starts a local PostgreSQL when it can")
    import psycopg

    name = f"schoolbus_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = url.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Service:
    """The running app, a client, and a bearer token per account."""

    def __init__(self, client: TestClient, admin_password: str):
        self.client = client
        self.admin_password = admin_password
        self.tokens: dict[str, str] = {}

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def get(self, username: str, url: str, **kwargs):
        return self.client.get(url, headers=self.headers(username), **kwargs)

    def post(self, username: str, url: str, **kwargs):
        return self.client.post(url, headers=self.headers(username), **kwargs)

    def put(self, username: str, url: str, **kwargs):
        return self.client.put(url, headers=self.headers(username), **kwargs)

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        response = self.client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        self.tokens[username] = response.json()["access_token"]

    def wait(self, username: str, job_id: int) -> dict:
        deadline = time.monotonic() + JOB_WAIT_S
        while time.monotonic() < deadline:
            job = self.get(username, f"/api/v1/jobs/{job_id}").json()
            if job["status"] not in ("queued", "running"):
                return job
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} still {job['status']} after {JOB_WAIT_S} s")


@pytest.fixture(scope="module")
def service(backend, tmp_path_factory):
    printed: dict[str, str] = {}
    config = ServiceConfig(
        data_dir=tmp_path_factory.mktemp("service"),
        database_url=backend,
        preload_demo=False,
        print_admin_password=lambda username, password: printed.update({username: password}),
    )
    with TestClient(create_app(config), base_url="https://testserver") as client:
        yield Service(client, printed["admin"])


@pytest.fixture(scope="module")
def district(service):
    """Accounts, the planned grid district and its plan; the admin's one-time password replaced."""
    s = service
    s.sign_in("admin", s.admin_password)
    s.post("admin", "/api/v1/me/password", json={"current_password": s.admin_password, "new_password": PASSWORD})
    for username, role in [("olga", "officer"), ("mert", "manager"), ("cem", "contractor"), ("can", "contractor"), ("oscar", "officer")]:
        response = s.post("admin", "/api/v1/users", json={"username": username, "role": role, "password": PASSWORD})
        assert response.status_code == 201, response.text
        s.sign_in(username)
    project = s.post("olga", "/api/v1/projects", json={"name": "Keçiören"}).json()
    pid = project["id"]
    assert s.post("olga", f"/api/v1/projects/{pid}/members", json={"username": "mert"}).status_code == 200
    assert s.put("olga", f"/api/v1/projects/{pid}/files/students", files={"file": ("students.csv", students_csv())}).status_code == 200
    assert s.put("olga", f"/api/v1/projects/{pid}/files/schools", files={"file": ("schools.csv", schools_csv())}).status_code == 200
    assert s.put("olga", f"/api/v1/projects/{pid}/fleet", json=FLEET).status_code == 200
    assert s.put("olga", f"/api/v1/projects/{pid}/network", files={"file": ("grid.geojson", grid_geojson())}).status_code == 200
    scenario = s.post("olga", f"/api/v1/projects/{pid}/scenarios", json={"name": "grid"}).json()
    jobs = [s.post("olga", "/api/v1/jobs", json={"scenario_id": scenario["id"], "time_limit_s": 1, "seed": seed}) for seed in (0, 1)]
    assert [j.status_code for j in jobs] == [202, 202]
    finished = [s.wait("olga", j.json()["id"]) for j in jobs]
    assert [j["status"] for j in finished] == ["succeeded", "succeeded"], finished
    plan_ids = [j["plan_id"] for j in finished]
    assigned = s.put("olga", f"/api/v1/plans/{plan_ids[0]}/contractors", json={"assignments": {"V001": "cem"}})
    assert assigned.status_code == 200, assigned.text
    return {"project_id": pid, "scenario_id": scenario["id"], "job_id": jobs[0].json()["id"], "plan_id": plan_ids[0], "plan_ids": plan_ids}


# --------------------------------------------------------------------------------------------------
# Service, sign-in, accounts
# --------------------------------------------------------------------------------------------------


def test_health_and_openapi_are_versioned(service):
    health = service.client.get("/api/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    paths = service.client.get("/openapi.json").json()["paths"]
    assert paths and all(p.startswith("/api/v1/") for p in paths)
    assert "bearer" in json.dumps(service.client.get("/openapi.json").json()["components"]["securitySchemes"]).lower()


def test_first_admin_must_replace_the_one_time_password(service, backend):
    # A second start on the same store creates no second admin and prints no password.
    printed = {}
    again = ServiceConfig(
        data_dir=service.client.app.state.config.data_dir, database_url=backend, preload_demo=False,
        print_admin_password=lambda username, password: printed.update({username: password}),
    )
    with TestClient(create_app(again)):
        pass
    assert printed == {}
    token = service.client.post("/api/v1/auth/token", json={"username": "admin", "password": service.admin_password})
    assert token.status_code == 200 and token.json()["must_change_password"] is True
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    blocked = service.client.get("/api/v1/projects", headers=headers)
    assert blocked.status_code == 403 and blocked.json()["code"] == "password_change_required"
    assert service.client.get("/api/v1/me", headers=headers).json()["username"] == "admin"


def test_sign_in_failures_are_401(service, district):
    c = service.client
    assert c.post("/api/v1/auth/token", json={"username": "olga", "password": "wrong-password"}).status_code == 401
    assert c.post("/api/v1/auth/token", json={"username": "nobody", "password": PASSWORD}).status_code == 401
    assert c.get("/api/v1/projects").status_code == 401
    unknown = c.get("/api/v1/projects", headers={"Authorization": "Bearer not-a-token"})
    assert unknown.status_code == 401 and unknown.headers["www-authenticate"] == "Bearer"
    assert c.post("/api/v1/auth/token", json={"username": "olga"}).status_code == 422


def test_revoked_token_stops_working(service, district):
    token = service.client.post("/api/v1/auth/token", json={"username": "olga", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert service.client.get("/api/v1/me", headers=headers).status_code == 200
    assert service.client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert service.client.get("/api/v1/me", headers=headers).status_code == 401


def test_passwords_are_stored_as_argon2id(service, district):
    with service.client.app.state.sessions() as session:
        from sqlalchemy import select

        from schoolbus.service.db import User

        stored = session.scalar(select(User.password_hash).where(User.username == "olga"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_change_password_checks_the_current_one(service, district):
    wrong = service.post("oscar", "/api/v1/me/password", json={"current_password": "nope-nope-nope", "new_password": "another-password-1"})
    assert wrong.status_code == 401
    weak = service.post("oscar", "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "short"})
    assert weak.status_code == 422


def test_only_admins_manage_accounts(service, district):
    assert service.post("olga", "/api/v1/users", json={"username": "eve", "role": "admin"}).status_code == 403
    assert service.get("mert", "/api/v1/users").status_code == 403
    assert service.get("cem", "/api/v1/audit").status_code == 403
    created = service.post("admin", "/api/v1/users", json={"username": "new.officer", "role": "officer"})
    assert created.status_code == 201
    assert created.json()["must_change_password"] is True and len(created.json()["one_time_password"]) >= 12
    assert service.post("admin", "/api/v1/users", json={"username": "new.officer", "role": "officer"}).status_code == 422
    assert service.post("admin", "/api/v1/users", json={"username": "Bad Name!", "role": "officer"}).status_code == 422
    assert service.post("admin", "/api/v1/users", json={"username": "x", "role": "king"}).status_code == 422
    usernames = [u["username"] for u in service.get("admin", "/api/v1/users").json()]
    assert {"admin", "olga", "mert", "cem", "new.officer"} <= set(usernames)


# --------------------------------------------------------------------------------------------------
# Projects, uploads, scenarios
# --------------------------------------------------------------------------------------------------


def test_projects_are_visible_to_members_only(service, district):
    pid = district["project_id"]
    assert [p["id"] for p in service.get("olga", "/api/v1/projects").json()] == [pid]
    assert [p["id"] for p in service.get("mert", "/api/v1/projects").json()] == [pid]
    assert service.get("oscar", "/api/v1/projects").json() == []
    assert service.get("cem", "/api/v1/projects").json() == []
    assert service.get("oscar", f"/api/v1/projects/{pid}").status_code == 403
    assert service.get("admin", f"/api/v1/projects/{pid}").status_code == 200
    assert service.get("admin", "/api/v1/projects/99999").status_code == 404
    files = {f["kind"]: f for f in service.get("olga", f"/api/v1/projects/{pid}").json()["files"]}
    assert files["students"]["n_rows"] == 40 and files["schools"]["n_rows"] == 1


def test_who_may_create_projects(service, district):
    assert service.post("mert", "/api/v1/projects", json={"name": "m"}).status_code == 403
    assert service.post("cem", "/api/v1/projects", json={"name": "c"}).status_code == 403
    assert service.post("olga", "/api/v1/projects", json={"name": "Keçiören"}).status_code == 422  # name taken
    assert service.post("olga", "/api/v1/projects", json={"name": ""}).status_code == 422


def test_upload_problems_match_the_cli_messages(service, district, tmp_path):
    pid = district["project_id"]
    response = service.put("olga", f"/api/v1/projects/{pid}/files/students", files={"file": ("pupils.csv", BAD_STUDENTS)})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_input"
    # The CLI reads the same bytes under the same name: the same problems, word for word.
    path = tmp_path / "pupils.csv"
    path.write_bytes(BAD_STUDENTS)
    with pytest.raises(InputError) as cli:
        read_students(path)
    expected = [str(p).replace(str(path), "pupils.csv") for p in cli.value.problems]
    assert [p["message"] for p in body["problems"]] == expected
    assert {(p["row"], p["column"]) for p in body["problems"]} == {(3, "lon"), (4, "lat"), (5, "grade")}
    # The good file uploaded before is kept.
    files = {f["kind"]: f for f in service.get("olga", f"/api/v1/projects/{pid}").json()["files"]}
    assert files["students"]["filename"] == "students.csv"


def test_upload_rejects_wrong_file_types_and_roles(service, district):
    pid = district["project_id"]
    xls = service.put("olga", f"/api/v1/projects/{pid}/files/schools", files={"file": ("okullar.xls", b"\xd0\xcf\x11\xe0")})
    assert xls.status_code == 422 and "xlsx" in xls.json()["problems"][0]["expected"]
    assert service.put("mert", f"/api/v1/projects/{pid}/files/students", files={"file": ("s.csv", students_csv())}).status_code == 403
    assert service.put("oscar", f"/api/v1/projects/{pid}/files/students", files={"file": ("s.csv", students_csv())}).status_code == 403
    assert service.put("olga", f"/api/v1/projects/{pid}/files/buses", files={"file": ("s.csv", students_csv())}).status_code == 422
    bad_network = service.put("olga", f"/api/v1/projects/{pid}/network", files={"file": ("roads.shp", b"x")})
    assert bad_network.status_code == 422


def test_policy_and_fleet_documents_are_validated_like_files(service, district):
    pid = district["project_id"]
    bad = service.put("olga", f"/api/v1/projects/{pid}/policy", json={"walk_limit_m": -5, "max_ride_min": "long", "speed": 3})
    assert bad.status_code == 422
    columns = {p["column"] for p in bad.json()["problems"]}
    assert columns == {"walk_limit_m", "max_ride_min", "speed"}
    fleet = service.put("olga", f"/api/v1/projects/{pid}/fleet", json={"vehicle_types": [{"id": "x", "seats": 0}]})
    assert fleet.status_code == 422
    assert {p["column"] for p in fleet.json()["problems"]} == {"vehicle_types[1].seats", "vehicle_types[1].day_rate"}
    assert service.put("mert", f"/api/v1/projects/{pid}/policy", json={}).status_code == 403


def test_scenario_cross_checks_files_together(service, district, tmp_path):
    s = service
    project = s.post("olga", "/api/v1/projects", json={"name": f"cross-{uuid.uuid4().hex[:6]}"}).json()
    pid = project["id"]
    missing = s.post("olga", f"/api/v1/projects/{pid}/scenarios", json={"name": "x"})
    assert missing.status_code == 422 and {p["file"] for p in missing.json()["problems"]} == {"students file", "schools file"}
    wrong_school = students_csv().replace(b",S,tam,", b",Z,tam,", 1)
    s.put("olga", f"/api/v1/projects/{pid}/files/students", files={"file": ("students.csv", wrong_school)})
    s.put("olga", f"/api/v1/projects/{pid}/files/schools", files={"file": ("schools.csv", schools_csv())})
    crossed = s.post("olga", f"/api/v1/projects/{pid}/scenarios", json={"name": "x"})
    assert crossed.status_code == 422
    [problem] = crossed.json()["problems"]
    assert (problem["file"], problem["row"], problem["column"], problem["value"]) == ("students.csv", 2, "school_id", "Z")
    no_network = s.post("olga", f"/api/v1/projects/{pid}/scenarios", json={"name": "y"})
    assert no_network.status_code == 422
    s.put("olga", f"/api/v1/projects/{pid}/files/students", files={"file": ("students.csv", students_csv())})
    scenario = s.post("olga", f"/api/v1/projects/{pid}/scenarios", json={"name": "y"}).json()
    job = s.post("olga", "/api/v1/jobs", json={"scenario_id": scenario["id"]})
    assert job.status_code == 422 and job.json()["problems"][0]["file"] == "road network"


def test_scenarios_and_their_home_locations(service, district):
    pid, sid = district["project_id"], district["scenario_id"]
    listed = service.get("mert", f"/api/v1/projects/{pid}/scenarios").json()
    assert [(x["id"], x["n_students"], x["n_schools"]) for x in listed] == [(sid, 40, 1)]
    assert service.get("mert", f"/api/v1/scenarios/{sid}").status_code == 200
    assert service.get("oscar", f"/api/v1/scenarios/{sid}").status_code == 403
    # Not there and not yours get one answer (403) for anyone but an admin.
    assert service.get("olga", "/api/v1/scenarios/99999").status_code == 403
    assert service.get("admin", "/api/v1/scenarios/99999").status_code == 404
    document = service.get("olga", f"/api/v1/scenarios/{sid}/scenario.json").json()
    assert len(document["students"]) == 40 and document["students"][0]["location"]
    for role in ("mert", "cem", "oscar"):
        assert service.get(role, f"/api/v1/scenarios/{sid}/scenario.json").status_code == 403
        assert service.get(role, f"/api/v1/projects/{pid}/files/students").status_code == 403
    assert service.get("olga", f"/api/v1/projects/{pid}/files/students").content == students_csv()
    assert service.get("olga", f"/api/v1/projects/{pid}/files/policy").status_code == 404


# --------------------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------------------


def test_job_status_and_listing(service, district):
    job = service.get("mert", f"/api/v1/jobs/{district['job_id']}").json()
    assert job["status"] == "succeeded" and job["plan_id"] == district["plan_id"] and job["stage"] == "done"
    assert job["started_at"] <= job["finished_at"]
    listed = service.get("olga", f"/api/v1/projects/{district['project_id']}/jobs").json()
    assert {j["id"] for j in listed} >= {district["job_id"]}
    assert service.get("oscar", f"/api/v1/jobs/{district['job_id']}").status_code == 403
    assert service.get("cem", f"/api/v1/jobs/{district['job_id']}").status_code == 403
    assert service.get("olga", "/api/v1/jobs/99999").status_code == 403


def test_job_requests_are_checked(service, district):
    sid = district["scenario_id"]
    assert service.post("mert", "/api/v1/jobs", json={"scenario_id": sid}).status_code == 403
    assert service.post("olga", "/api/v1/jobs", json={"scenario_id": sid, "time_limit_s": 0}).status_code == 422
    assert service.post("olga", "/api/v1/jobs", json={"scenario_id": "99999"}).status_code == 403
    # Cancelling a finished job changes nothing; a manager may not cancel.
    finished = service.post("olga", f"/api/v1/jobs/{district['job_id']}/cancel")
    assert finished.status_code == 200 and finished.json()["status"] == "succeeded"
    assert service.post("mert", f"/api/v1/jobs/{district['job_id']}/cancel").status_code == 403


# --------------------------------------------------------------------------------------------------
# Plans and outputs, by role
# --------------------------------------------------------------------------------------------------


def test_plan_document_is_the_plan_json_contract(service, district):
    plan = service.get("olga", f"/api/v1/plans/{district['plan_id']}").json()
    assert plan["format_version"].startswith("1.")
    assert plan["summary"]["n_vehicles"] == 2 and plan["summary"]["n_routed"] == 40
    assert len(plan["students"]) == 40
    listed = service.get("olga", "/api/v1/plans").json()
    assert {p["id"] for p in listed} == set(district["plan_ids"])
    assert service.get("olga", "/api/v1/plans", params={"project_id": district["project_id"]}).json() == listed
    assert service.get("olga", "/api/v1/plans/99999").status_code == 403


def test_manager_gets_no_student_level_data(service, district):
    plan = service.get("mert", f"/api/v1/plans/{district['plan_id']}").json()
    assert plan["redacted_for"] == "manager" and "students" not in plan
    assert sum(s["n_students"] for s in plan["stops"]) == 40
    assert all("student_ids" not in s for s in plan["stops"])
    text = json.dumps(plan)
    assert not any(sid in text for sid, _, _ in homes())
    listed = service.get("mert", "/api/v1/plans").json()
    assert listed[0]["summary"]["n_vehicles"] == 2


def test_contractor_sees_only_their_vehicle_sheets(service, district):
    pid = district["plan_id"]
    assert [p["id"] for p in service.get("cem", "/api/v1/plans").json()] == [pid]
    assert service.get("cem", "/api/v1/plans").json()[0]["summary"] is None
    assert service.get("can", "/api/v1/plans").json() == []
    assert [s["vehicle_id"] for s in service.get("cem", f"/api/v1/plans/{pid}/sheets").json()] == ["V001"]
    assert service.get("cem", f"/api/v1/plans/{pid}").status_code == 403
    assert service.get("cem", f"/api/v1/plans/{pid}/map").status_code == 403
    assert service.get("cem", f"/api/v1/plans/{pid}/sheets/V002.html").status_code == 403
    assert service.get("can", f"/api/v1/plans/{pid}/sheets/V001.html").status_code == 403
    assert service.get("cem", f"/api/v1/plans/{district['plan_ids'][1]}/sheets").status_code == 403
    sheet = service.get("cem", f"/api/v1/plans/{pid}/sheets/V001.html", params={"language": "en"})
    assert sheet.status_code == 200
    # The service draws the streets around each trip from the project's road network, as the CLI does.
    assert sheet.text.count('stroke="#c4c4c4"') > 10
    plan = service.get("olga", f"/api/v1/plans/{pid}").json()
    trips = {t["id"]: t for t in plan["trips"]}
    mine = {i for v in plan["vehicles"] if v["id"] == "V001" for t in v["trip_ids"] for visit in trips[t]["visits"] for i in visit.get("board", [])}
    theirs = {i for v in plan["vehicles"] if v["id"] == "V002" for t in v["trip_ids"] for visit in trips[t]["visits"] for i in visit.get("board", [])}
    assert mine and theirs and not mine & theirs
    assert all(i in sheet.text for i in mine) and not any(re.search(rf"\b{re.escape(i)}\b", sheet.text) for i in theirs)
    pdf = service.get("cem", f"/api/v1/plans/{pid}/sheets/V001.pdf", params={"language": "en"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_contractor_assignment_is_checked(service, district):
    pid = district["plan_id"]
    bad = service.put("olga", f"/api/v1/plans/{pid}/contractors", json={"assignments": {"V999": "cem", "V002": "mert"}})
    assert bad.status_code == 422 and {p["column"] for p in bad.json()["problems"]} == {"V999", "V002"}
    assert service.put("mert", f"/api/v1/plans/{pid}/contractors", json={"assignments": {"V002": "can"}}).status_code == 403
    assert service.get("olga", f"/api/v1/plans/{pid}/contractors").json() == {"V001": "cem"}
    assert service.get("mert", f"/api/v1/plans/{pid}/contractors").status_code == 403


def test_officer_outputs(service, district):
    pid = district["plan_id"]
    map_html = service.get("olga", f"/api/v1/plans/{pid}/map", params={"language": "en"})
    assert map_html.status_code == 200 and "leaflet" in map_html.text.lower() and "P0-0" in map_html.text
    sheets = service.get("olga", f"/api/v1/plans/{pid}/sheets").json()
    assert [s["vehicle_id"] for s in sheets] == ["V001", "V002"]
    archive = service.get("olga", f"/api/v1/plans/{pid}/sheets.zip", params={"format": "html"})
    assert sorted(zipfile.ZipFile(io.BytesIO(archive.content)).namelist()) == ["route_sheet_V001.tr.html", "route_sheet_V002.tr.html"]
    rows = list(csv.DictReader(io.StringIO(service.get("olga", f"/api/v1/plans/{pid}/exports/assignments.csv").content.decode("utf-8-sig"))))
    assert len(rows) == 40
    assert service.get("olga", f"/api/v1/plans/{pid}/exports/secrets.txt").status_code == 422
    for denied in ("mert", "cem", "oscar"):
        assert service.get(denied, f"/api/v1/plans/{pid}/exports/assignments.csv").status_code == 403
        assert service.get(denied, f"/api/v1/plans/{pid}/notices.pdf").status_code == 403
    assert service.get("mert", f"/api/v1/plans/{pid}/sheets").status_code == 403
    assert service.get("mert", f"/api/v1/plans/{pid}/sheets.zip").status_code == 403


@pytest.mark.slow
def test_parent_notices(service, district):
    notices = service.get("olga", f"/api/v1/plans/{district['plan_id']}/notices.pdf")
    assert notices.status_code == 200 and len(PdfReader(io.BytesIO(notices.content)).pages) == 40


def test_manager_map_shows_counts_not_pupils(service, district):
    response = service.get("mert", f"/api/v1/plans/{district['plan_id']}/map")
    assert response.status_code == 200
    assert not any(sid in response.text for sid, _, _ in homes())
    assert "A.B." not in response.text


def test_comparison(service, district):
    a, b = district["plan_ids"]
    for user in ("olga", "mert"):
        response = service.get(user, "/api/v1/comparisons", params={"plan_id": [a, b]})
        assert response.status_code == 200
        body = response.json()
        assert [p["id"] for p in body["plans"]] == [a, b]
        vehicles = next(m for m in body["metrics"] if m["key"] == "n_vehicles")
        assert vehicles["values"] == [2, 2]
    assert service.get("mert", "/api/v1/comparisons", params={"plan_id": [a]}).status_code == 422
    assert service.get("cem", "/api/v1/comparisons", params={"plan_id": [a, b]}).status_code == 403
    assert service.get("oscar", "/api/v1/comparisons", params={"plan_id": [a, b]}).status_code == 403


def test_the_comparison_report_in_arabic(service, district):
    # The report `schoolbus compare` writes, as one file: a manager may read it, in any language.
    a, b = district["plan_ids"]
    response = service.get("mert", "/api/v1/comparisons/report.html", params={"plan_id": [a, b], "language": "ar"})
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == 'attachment; filename="comparison.ar.html"'
    page = response.text
    assert '<html lang="ar" dir="rtl">' in page and "مقارنة السيناريوهات" in page
    assert page.count("data:image/svg+xml;base64,") == 3  # the charts travel inside the file
    assert not any(sid in page for sid, _, _ in homes())  # plan-level figures only, no pupil
    assert service.get("mert", "/api/v1/comparisons/report.html", params={"plan_id": [a, b], "language": "de"}).status_code == 422
    assert service.get("cem", "/api/v1/comparisons/report.html", params={"plan_id": [a, b]}).status_code == 403


def test_every_download_is_audited(service, district):
    pid = district["plan_id"]
    service.get("cem", f"/api/v1/plans/{pid}/sheets/V001.html")
    service.get("mert", f"/api/v1/plans/{pid}")
    service.get("olga", f"/api/v1/scenarios/{district['scenario_id']}/scenario.json")
    entries = service.get("admin", "/api/v1/audit", params={"limit": 1000}).json()
    seen = {(e["username"], e["action"]) for e in entries}
    assert {("cem", "download_sheet"), ("mert", "download_plan"), ("olga", "download_scenario")} <= seen


# --------------------------------------------------------------------------------------------------
# Privacy: no home coordinate reaches a manager or a contractor, whatever they ask for
# --------------------------------------------------------------------------------------------------


def _texts(response) -> list[str]:
    """Every text a response carries: PDFs as extracted text, ZIPs member by member."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/pdf"):
        return ["\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)]
    if kind.startswith("application/zip"):
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        out = []
        for name in archive.namelist():
            data = archive.read(name)
            out += ["\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)] if name.endswith(".pdf") else [data.decode("utf-8", "replace")]
        return out
    return [response.content.decode("utf-8", "replace")]


NUMBER = re.compile(r"-?\d+\.\d{4,}")


def _leaked_homes(text: str) -> list[tuple[str, float, float]]:
    """Homes whose longitude and latitude both appear in ``text`` (to 5 decimals, about 1 m)."""
    found = {round(float(n), 5) for n in NUMBER.findall(text)}
    return [h for h in homes() if round(h[1], 5) in found and round(h[2], 5) in found]


def _get_urls(district) -> list[tuple[str, str]]:
    """(route template, URL) for every GET endpoint of the API."""
    p, pid, sid, jid = district["project_id"], district["plan_id"], district["scenario_id"], district["job_id"]
    a, b = district["plan_ids"]
    pairs = [
        ("/api/v1/health", "/api/v1/health"),
        ("/api/v1/me", "/api/v1/me"),
        ("/api/v1/users", "/api/v1/users"),
        ("/api/v1/audit", "/api/v1/audit"),
        ("/api/v1/settings", "/api/v1/settings"),
        ("/api/v1/projects", "/api/v1/projects"),
        ("/api/v1/projects/{project_id}", f"/api/v1/projects/{p}"),
        ("/api/v1/projects/{project_id}/scenarios", f"/api/v1/projects/{p}/scenarios"),
        ("/api/v1/projects/{project_id}/jobs", f"/api/v1/projects/{p}/jobs"),
        ("/api/v1/projects/{project_id}/geocode", f"/api/v1/projects/{p}/geocode"),  # officers/admins only
        ("/api/v1/geocoding/settings", "/api/v1/geocoding/settings"),  # admins only
        ("/api/v1/scenarios/{scenario_id}", f"/api/v1/scenarios/{sid}"),
        ("/api/v1/scenarios/{scenario_id}/scenario.json", f"/api/v1/scenarios/{sid}/scenario.json"),
        ("/api/v1/jobs/{job_id}", f"/api/v1/jobs/{jid}"),
        ("/api/v1/plans", "/api/v1/plans"),
        ("/api/v1/plans/{plan_id}", f"/api/v1/plans/{pid}"),
        ("/api/v1/plans/{plan_id}/map", f"/api/v1/plans/{pid}/map"),
        ("/api/v1/plans/{plan_id}/sheets", f"/api/v1/plans/{pid}/sheets"),
        ("/api/v1/plans/{plan_id}/sheets.zip", f"/api/v1/plans/{pid}/sheets.zip"),
        ("/api/v1/plans/{plan_id}/sheets/{vehicle_id}.{format}", f"/api/v1/plans/{pid}/sheets/V001.html"),
        ("/api/v1/plans/{plan_id}/sheets/{vehicle_id}.{format}", f"/api/v1/plans/{pid}/sheets/V001.pdf"),
        ("/api/v1/plans/{plan_id}/sheets/{vehicle_id}.{format}", f"/api/v1/plans/{pid}/sheets/V002.html"),
        ("/api/v1/plans/{plan_id}/notices.pdf", f"/api/v1/plans/{pid}/notices.pdf"),
        ("/api/v1/plans/{plan_id}/contractors", f"/api/v1/plans/{pid}/contractors"),
        ("/api/v1/comparisons", f"/api/v1/comparisons?plan_id={a}&plan_id={b}"),
        ("/api/v1/comparisons/report.html", f"/api/v1/comparisons/report.html?plan_id={a}&plan_id={b}&language=ar"),
        ("/api/v1/plans/{plan_id}/version", f"/api/v1/plans/{pid}/version"),  # no contractors
        ("/api/v1/projects/{project_id}/versions", f"/api/v1/projects/{p}/versions"),  # no contractors
        ("/api/v1/plans/{plan_a}/diff/{plan_b}", f"/api/v1/plans/{a}/diff/{b}"),  # pupil ids for officers only
    ]
    pairs += [("/api/v1/projects/{project_id}/files/{kind}", f"/api/v1/projects/{p}/files/{kind}") for kind in ("students", "schools", "fleet", "policy")]
    names = ("routes.csv", "stops.csv", "assignments.csv", "vehicles.csv", "plan.xlsx", "routes.geojson", "stops.geojson")
    pairs += [("/api/v1/plans/{plan_id}/exports/{name}", f"/api/v1/plans/{pid}/exports/{name}") for name in names]
    return pairs


def test_privacy_sweep_covers_every_get_endpoint(service, district):
    paths = service.client.get("/openapi.json").json()["paths"]
    routes = {path for path, operations in paths.items() if "get" in operations}
    assert routes == {template for template, _ in _get_urls(district)}


@pytest.mark.parametrize("username", ["mert", "cem"])
def test_no_home_location_reaches_manager_or_contractor(service, district, username):
    checked = 0
    for _, url in _get_urls(district):
        response = service.get(username, url)
        if response.status_code != 200:
            assert response.status_code in (403, 404), (url, response.status_code)
            continue
        for text in _texts(response):
            assert _leaked_homes(text) == [], url
            if username == "mert":
                assert not any(re.search(rf"\b{sid}\b", text) for sid, _, _ in homes()), url
        checked += 1
    assert checked >= (8 if username == "mert" else 5)


def test_leak_detector_finds_a_home(service, district):
    # The officer may see scenario.json, so the detector must find every home in it.
    text = service.get("olga", f"/api/v1/scenarios/{district['scenario_id']}/scenario.json").text
    assert len(_leaked_homes(text)) == 40


def test_get_with_session_cookie_only_but_no_writes(service, district):
    """The page's cookie opens download links (GET) but no API write: no CSRF through the API."""
    c = service.client
    c.cookies.clear()
    form = c.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    assert c.post("/login", data={"username": "olga", "password": PASSWORD, "csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert c.get(f"/api/v1/plans/{district['plan_id']}").status_code == 200
    assert c.post("/api/v1/projects", json={"name": "via-cookie"}).status_code == 401
    c.cookies.clear()


def test_auth_module_checks():
    assert auth.username_problem("olga") is None and auth.username_problem("Olga") is not None
    assert auth.password_problem("x" * 9) is not None and auth.password_problem("x" * 10) is None
    hashed = auth.hash_password("correct-horse-battery")
    assert auth.verify_password(hashed, "correct-horse-battery") and not auth.verify_password(hashed, "wrong")
    assert not auth.verify_password("not-a-hash", "x")
