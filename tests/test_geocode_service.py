"""The service's geocoding: address upload, review list, manual locations that stick, who may."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from geocode_fixtures import UH_1203, write_mahalle_osm
from schoolbus.geocode.index import metres_between
from schoolbus.service import auth, geocoding
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig
from schoolbus.service.db import AuditEntry
from test_service_api import backend  # noqa: F401 - the SQLite / PostgreSQL fixture

PASSWORD = "correct-horse-battery"
ADDRESSES = (
    "id;school_id;shift;grade;mahalle;cadde_sokak;bina_no;adres\n"
    "s1;SCH;sabah;3;Ulubatlı Hasan;1203. Sokak;5;\n"
    "s2;SCH;sabah;4;;;;ULUBATLI HASAN MAH ATATURK CD NO 10\n"
    "s3;SCH;sabah;5;Ulubatlı Hasan;;;\n"
    "s4;SCH;sabah;5;;;;Xyzzy qwerty <b>bold</b>\n"
).encode()
SCHOOLS = b"id,name,lon,lat,shift,bell,dismissal\nSCH,Okul,38.805,37.166,sabah,08:00,13:00\n"
MANUAL = (38.8066, 37.1641)


@pytest.fixture(scope="module")
def service(backend, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("geocode-service")
    config = ServiceConfig(data_dir=folder, database_url=backend, preload_demo=False, print_admin_password=lambda u, p: None)
    app = create_app(config)
    with TestClient(app, base_url="https://testserver") as client:
        with app.state.sessions.begin() as session:
            for username, role in (("olga", "officer"), ("mert", "manager"), ("cem", "contractor"), ("root", "admin")):
                auth.create_user(session, username, role, PASSWORD)
        tokens = {}
        for username in ("olga", "mert", "cem", "root"):
            response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
            tokens[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        project = client.post("/api/v1/projects", json={"name": "Haliliye"}, headers=tokens["olga"]).json()
        pid = project["id"]
        assert client.post(f"/api/v1/projects/{pid}/members", json={"username": "mert"}, headers=tokens["olga"]).status_code == 200
        osm = write_mahalle_osm(folder / "haliliye.osm").read_bytes()
        assert client.put(f"/api/v1/projects/{pid}/network", files={"file": ("haliliye.osm", osm)}, headers=tokens["olga"]).status_code == 200
        assert client.put(f"/api/v1/projects/{pid}/files/schools", files={"file": ("schools.csv", SCHOOLS)}, headers=tokens["olga"]).status_code == 200
        yield client, tokens, pid, app


def _upload(client, headers, pid, content=ADDRESSES, name="adresler.csv"):
    return client.put(f"/api/v1/projects/{pid}/addresses", files={"file": (name, content)}, headers=headers)


def _students(client, headers, pid) -> dict[str, dict[str, str]]:
    text = client.get(f"/api/v1/projects/{pid}/files/students", headers=headers).content.decode("utf-8-sig")
    return {r["id"]: r for r in csv.DictReader(io.StringIO(text))}


def test_upload_geocodes_and_returns_the_review_list(service):
    client, tokens, pid, _ = service
    response = _upload(client, tokens["olga"], pid)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["n_rows"] == 4 and body["n_placed"] == 3
    assert body["summary"] == {"house": 2, "neighbourhood": 1, "none": 1}
    assert [(r["student_id"], r["precision"]) for r in body["review"]] == [("s3", "neighbourhood"), ("s4", "none")]
    # The placed pupils are the students input now; the one not found is left out.
    students = _students(client, tokens["olga"], pid)
    assert sorted(students) == ["s1", "s2", "s3"]
    assert metres_between((float(students["s1"]["lon"]), float(students["s1"]["lat"])), UH_1203["5"]) < 1
    assert students["s3"]["geocode_precision"] == "neighbourhood"
    assert client.get(f"/api/v1/projects/{pid}/geocode", headers=tokens["olga"]).json() == body


def test_manual_location_wins_and_survives_a_reupload(service):
    client, tokens, pid, app = service
    assert _upload(client, tokens["olga"], pid).status_code == 200
    fixed = client.put(
        f"/api/v1/projects/{pid}/geocode/manual", json={"row": 4, "lon": MANUAL[0], "lat": MANUAL[1]}, headers=tokens["olga"]
    )
    assert fixed.status_code == 200, fixed.text
    assert [r["student_id"] for r in fixed.json()["review"]] == ["s4"]  # s3 needs no look any more
    assert fixed.json()["summary"]["manual"] == 1
    students = _students(client, tokens["olga"], pid)
    assert (float(students["s3"]["lon"]), float(students["s3"]["lat"]), students["s3"]["geocode_precision"]) == (*MANUAL, "manual")
    # The same address in a new upload (another spelling, another row) keeps the manual home.
    again = ADDRESSES.replace(b"s3;SCH;sabah;5;Ulubatl\xc4\xb1 Hasan;;;", b"s9;SCH;sabah;5;ULUBATLI HASAN;;;")
    reupload = _upload(client, tokens["olga"], pid, again + b"s3;SCH;sabah;5;Ulubatli Hasan;;;\n")
    assert reupload.status_code == 200
    students = _students(client, tokens["olga"], pid)
    assert students["s9"]["geocode_precision"] == students["s3"]["geocode_precision"] == "manual"
    assert float(students["s9"]["lon"]) == MANUAL[0]
    with app.state.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "manual_location")).first()
        assert "geocode_upload" in actions and entry.username == "olga"
        assert "pupil s3" in entry.target and "Ulubatl" not in entry.target  # ids, never addresses
        fix = session.scalars(select(geocoding.ManualLocation)).one()
        assert fix.set_by == "olga" and fix.set_at is not None


@pytest.mark.parametrize("username", ["mert", "cem"])
def test_managers_and_contractors_may_not(service, username):
    client, tokens, pid, _ = service
    assert _upload(client, tokens[username], pid).status_code == 403
    assert client.get(f"/api/v1/projects/{pid}/geocode", headers=tokens[username]).status_code == 403
    manual = client.put(f"/api/v1/projects/{pid}/geocode/manual", json={"row": 4, "lon": 1.0, "lat": 1.0}, headers=tokens[username])
    assert manual.status_code == 403


def test_admin_may(service):
    client, tokens, pid, _ = service
    assert client.get(f"/api/v1/projects/{pid}/geocode", headers=tokens["root"]).status_code == 200


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "a file with content"),
        ("noaddress.csv", b"id,school_id\n1,SCH\n", "an address column"),
        ("old.xls", b"x", ".csv"),
        ("nothing.csv", b"id,school_id,shift,grade,adres\nq,SCH,sabah,3,Qqq Www\n", "at least one address found"),
    ],
)
def test_bad_uploads_are_422_with_problems(service, name, content, expected):
    client, tokens, pid, _ = service
    response = _upload(client, tokens["olga"], pid, content, name)
    assert response.status_code == 422
    assert expected in response.text
    assert "/tmp" not in response.text  # problems name the uploaded file, not a temporary path


def test_upload_is_size_bounded(service, monkeypatch):
    client, tokens, pid, _ = service
    monkeypatch.setattr(geocoding, "MAX_ADDRESS_UPLOAD_BYTES", 100)
    response = _upload(client, tokens["olga"], pid)
    assert response.status_code == 422
    assert "at most 100 bytes" in response.text


def test_manual_location_is_validated(service):
    client, tokens, pid, _ = service
    assert _upload(client, tokens["olga"], pid).status_code == 200
    out_of_range = client.put(f"/api/v1/projects/{pid}/geocode/manual", json={"row": 4, "lon": 200, "lat": 1}, headers=tokens["olga"])
    assert out_of_range.status_code == 422
    no_row = client.put(f"/api/v1/projects/{pid}/geocode/manual", json={"row": 99, "lon": 1, "lat": 1}, headers=tokens["olga"])
    assert no_row.status_code == 404


def test_a_project_without_an_osm_extract_is_told_so(service):
    client, tokens, _, _ = service
    other = client.post("/api/v1/projects", json={"name": "No roads"}, headers=tokens["olga"]).json()
    response = _upload(client, tokens["olga"], other["id"])
    assert response.status_code == 422
    assert "OSM extract" in response.text


def test_review_page_escapes_and_requires_the_csrf_token(service):
    client, tokens, pid, _ = service
    assert _upload(client, tokens["olga"], pid).status_code == 200
    login = client.get("/login")
    token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post("/login", data={"username": "olga", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert signed.status_code == 303
    page = client.get(f"/projects/{pid}/geocode")
    assert page.status_code == 200
    assert "<b>bold</b>" not in page.text and "&lt;b&gt;bold&lt;/b&gt;" in page.text
    assert 'id="review-map"' in page.text
    # Its scripts run by this response's nonce only: same-origin files, nothing inline, no handler.
    policy = page.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]+)';", policy)[1]
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy and page.headers["x-frame-options"] == "DENY"
    scripts = re.findall(r"<script([^>]*)>", page.text)
    runnable = [a for a in scripts if 'type="application/json"' not in a]
    assert len(runnable) == 2 and all(f'nonce="{nonce}"' in a and 'src="/geocode-static/' in a for a in runnable)
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page.text)
    # Other pages run none (the project page, too, runs the hazard drawing for those who may edit).
    home = client.get("/")
    assert home.status_code == 200 and "script-src" not in home.headers["content-security-policy"]
    forged = client.post(f"/projects/{pid}/geocode/manual", data={"row": 4, "lon": "1", "lat": "1", "csrf_token": "wrong"})
    assert forged.status_code == 403
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    saved = client.post(
        f"/projects/{pid}/geocode/manual", data={"row": 4, "lon": "38,8066", "lat": "37,1641", "csrf_token": csrf}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert client.get("/geocode-static/review.js").status_code == 200
    assert client.get("/geocode-static/nothing.js").status_code == 404
    client.post("/logout", data={"csrf_token": csrf})


def test_online_geocoder_only_when_an_admin_allows_it(service, monkeypatch):
    from test_geocode_nominatim import RecordedAdapter

    client, tokens, pid, app = service
    url = "/api/v1/geocoding/settings"
    assert client.get(url, headers=tokens["olga"]).status_code == 403
    assert client.put(url, json={"nominatim_url": "http://nominatim.internal:8080", "allow_personal_data_transfer": True}, headers=tokens["olga"]).status_code == 403
    assert client.get(url, headers=tokens["root"]).json()["nominatim_url"] is None  # off by default
    refused = client.put(url, json={"nominatim_url": "http://nominatim.internal:8080"}, headers=tokens["root"])
    assert refused.status_code == 422 and "allow_personal_data_transfer" in refused.text
    RecordedAdapter.requests = []
    monkeypatch.setattr(geocoding, "NOMINATIM_ADAPTER_FACTORY", RecordedAdapter)
    enabled = client.put(
        url, json={"nominatim_url": "http://nominatim.internal:8080", "allow_personal_data_transfer": True, "min_delay_s": 0},
        headers=tokens["root"],
    )
    assert enabled.status_code == 200 and enabled.json()["set_by"] == "root"
    try:
        table = "id;school_id;shift;grade;adres;ilçe\nn1;SCH;sabah;3;Ulubatlı Hasan Mh. 1203. Sk. No:5;Haliliye\n"
        response = _upload(client, tokens["olga"], pid, table.encode("utf-8"), "online.csv")
        assert response.status_code == 200, response.text
        assert response.json()["summary"] == {"house": 1}
        assert len(RecordedAdapter.requests) == 1
        assert _students(client, tokens["olga"], pid)["n1"]["lon"] == "38.804"
    finally:
        assert client.put(url, json={"nominatim_url": None}, headers=tokens["root"]).status_code == 200
    assert client.get(url, headers=tokens["root"]).json()["allow_personal_data_transfer"] is False
    with app.state.sessions() as session:
        targets = [e.target for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "geocoder_settings"))]
    assert targets == ["online geocoder http://nominatim.internal:8080 (personal data leaves the server)", "offline geocoder only"]
