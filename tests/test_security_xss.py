"""Stored XSS: an XSS corpus in every text field of the inputs, planned, then every page, the map
and a route sheet opened in Chromium; no script from the corpus may run.

Every payload, if it ever ran, would set ``__xss`` on its window and on the top window (and open a
dialog). The inputs are uploaded through the API (ids, names, initials, shifts, vehicle types, street
names, project and scenario names); two plans are made, so the comparison page has something to
show. Then, signed in as the officer and as the manager, the browser opens the project list, the
project page, the plan page (the map in its frame), the map on its own, the comparison, the versions
pages of a plan and of its draft re-plan (which removed a pupil whose id is a payload), the address
review page (officer only; pupil ids and addresses from the corpus, its map scripts running under the
page's policy) and a route sheet, and every frame is asked for ``__xss``. The map must still work under its Content-Security-
Policy: Leaflet draws, the layer list shows the school's name as text, and no policy violation is
reported for the page's own scripts.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from geocode_fixtures import write_mahalle_osm
from schoolbus.service import auth
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig
from security_figures import record
from test_service_api import grid_point, homes

PASSWORD = "correct-horse-battery"
CHROMIUM = Path("/usr/bin/chromium")
START_WAIT_S = 60.0
JOB_WAIT_S = 240.0

CORPUS = (
    '<img src=x onerror="window.__xss=top.__xss=1;alert(1)">',
    "<script>window.__xss=top.__xss=1;alert(1)</script>",
    '"><svg onload="window.__xss=top.__xss=1">',
    "'><iframe srcdoc=\"<script>parent.__xss=top.__xss=1</script>\">",
    "</script><script>window.__xss=top.__xss=1</script>",
    "${window.__xss=top.__xss=1}`;window.__xss=top.__xss=1;`",
    "');window.__xss=top.__xss=1;//",
    "javascript:window.__xss=top.__xss=1",
    "<a href=\"javascript:window.__xss=top.__xss=1\" id=xssclick>x</a>",
    "<details open ontoggle=\"window.__xss=top.__xss=1\">",
)


ADDRESS_SCHOOLS = b"id,name,lon,lat,shift,bell,dismissal\nSCH,Okul,38.805,37.166,sabah,08:00,13:00\n"

SHORT_PAYLOAD = "<s>A.B"
"""Initials hold at most 6 characters: too few for a script, enough to show an unescaped tag."""


def payload(k: int) -> str:
    return CORPUS[k % len(CORPUS)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def table(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


SHIFT = payload(2)
SCHOOL_ID = payload(0)


def hostile_inputs() -> dict[str, bytes]:
    students = [
        [f"{payload(k)}{k}", lon, lat, SCHOOL_ID, SHIFT, 6, SHORT_PAYLOAD]
        for k, (_, lon, lat) in enumerate(homes())
    ]
    lon, lat = grid_point(3, 3)
    schools = [[SCHOOL_ID, payload(1), lon, lat, SHIFT, "08:30", "15:00"]]
    features = []
    for k in range(7):
        for horizontal in (True, False):
            coords = [grid_point(i, k) if horizontal else grid_point(k, i) for i in range(7)]
            features.append({"type": "Feature", "properties": {"highway": "residential", "name": payload(k), "maxspeed": "36"}, "geometry": {"type": "LineString", "coordinates": coords}})
    return {
        "students": table(["id", "lon", "lat", "school_id", "shift", "grade", "initials"], students),
        "schools": table(["id", "name", "lon", "lat", "shift", "bell", "dismissal"], schools),
        "network": json.dumps({"type": "FeatureCollection", "features": features}).encode(),
    }


FLEET = {"prices": {"currency": "TRY"}, "vehicle_types": [{"id": payload(3), "seats": 25, "day_rate": 1000}]}


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    config = ServiceConfig(data_dir=tmp_path_factory.mktemp("xss"), preload_demo=False, print_admin_password=lambda u, p: None)
    app = create_app(config)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_WAIT_S
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    with app.state.sessions.begin() as session:
        auth.create_user(session, "olga", "officer", PASSWORD)
        auth.create_user(session, "mert", "manager", PASSWORD)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as c:
        token = c.post("/api/v1/auth/token", json={"username": "olga", "password": PASSWORD}).json()["access_token"]
        c.headers["Authorization"] = f"Bearer {token}"
        pid = c.post("/api/v1/projects", json={"name": payload(0)}).json()["id"]
        assert c.post(f"/api/v1/projects/{pid}/members", json={"username": "mert"}).status_code == 200
        files = hostile_inputs()
        for kind, name in (("students", "students.csv"), ("schools", "schools.csv")):
            response = c.put(f"/api/v1/projects/{pid}/files/{kind}", files={"file": (name, files[kind])})
            assert response.status_code == 200, response.text
        assert c.put(f"/api/v1/projects/{pid}/fleet", json=FLEET).status_code == 200
        assert c.put(f"/api/v1/projects/{pid}/network", files={"file": ("roads.geojson", files["network"])}).status_code == 200
        scenario = c.post(f"/api/v1/projects/{pid}/scenarios", json={"name": payload(1)})
        assert scenario.status_code == 201, scenario.text
        plan_ids = []
        for seed in (0, 1):
            job = c.post("/api/v1/jobs", json={"scenario_id": scenario.json()["id"], "time_limit_s": 1, "seed": seed}).json()
            deadline = time.monotonic() + JOB_WAIT_S
            while (state := c.get(f"/api/v1/jobs/{job['id']}").json())["status"] in ("queued", "running"):
                assert time.monotonic() < deadline
                time.sleep(0.3)
            assert state["status"] == "succeeded", state
            plan_ids.append(state["plan_id"])
        vehicles = [v["id"] for v in c.get(f"/api/v1/plans/{plan_ids[0]}").json()["vehicles"]]
        # A re-plan that removes a pupil whose id is a payload: its draft's versions page lists it.
        leaver = f"{payload(0)}0"
        replanned = c.post(f"/api/v1/plans/{plan_ids[0]}/replan", files={"file": ("changes.csv", table(["change", "student_id"], [["remove_pupil", leaver]]))})
        assert replanned.status_code == 201, replanned.text
        draft_id = replanned.json()["plan_id"]
        # Addresses: a project on a small OSM extract whose address table carries the corpus.
        other = c.post("/api/v1/projects", json={"name": payload(4)}).json()["id"]
        osm = write_mahalle_osm(tmp_path_factory.mktemp("xss-osm") / "haliliye.osm").read_bytes()
        assert c.put(f"/api/v1/projects/{other}/network", files={"file": ("haliliye.osm", osm)}).status_code == 200
        assert c.put(f"/api/v1/projects/{other}/files/schools", files={"file": ("schools.csv", ADDRESS_SCHOOLS)}).status_code == 200
        addresses = table(
            ["id", "school_id", "shift", "grade", "mahalle", "adres"],
            [[f"{payload(k)}{k}", "SCH", "sabah", 5, "Ulubatlı Hasan" if k % 2 else "", "" if k % 2 else payload(k)] for k in range(len(CORPUS))],
        )
        geocoded = c.put(f"/api/v1/projects/{other}/addresses", files={"file": ("addresses.csv", addresses)})
        assert geocoded.status_code == 200, geocoded.text
        assert len(geocoded.json()["review"]) == len(CORPUS)  # placed at a neighbourhood or not found: all to review
    yield base, pid, plan_ids, vehicles, draft_id, other
    server.should_exit = True
    thread.join()


@pytest.mark.slow
def test_no_script_from_the_corpus_runs_anywhere(planned, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    base, pid, plan_ids, vehicles, draft_id, address_project = planned
    dialogs: list[str] = []
    violations: list[str] = []
    fired: list[str] = []
    n_pages = n_frames = 0
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        for username in ("olga", "mert"):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{base}/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", PASSWORD)
            page.click("#sign-in")
            urls = [
                "/",
                f"/projects/{pid}",
                f"/plans/{plan_ids[0]}",
                f"/api/v1/plans/{plan_ids[0]}/map?language=tr",
                f"/api/v1/plans/{plan_ids[0]}/map?language=ar",
                f"/compare?plan_id={plan_ids[0]}&plan_id={plan_ids[1]}",
                f"/plans/{plan_ids[0]}/versions",
                f"/plans/{draft_id}/versions",
            ]
            if username == "olga":  # home locations: officers only
                urls.append(f"/projects/{address_project}/geocode")
            for url in urls:
                page.goto(base + url)
                page.wait_for_load_state("load")
                if url.startswith("/plans/") and not url.endswith("/versions"):
                    page.frame_locator("iframe.map").locator(".leaflet-container").wait_for()
                if url.endswith("/geocode"):
                    # The review map runs under the page's policy: Leaflet draws the pupils' markers.
                    page.locator(".leaflet-marker-icon").first.wait_for()
                    assert page.locator("#review-list tbody tr").count() == len(CORPUS)
                page.wait_for_timeout(300)
                n_pages += 1
                for frame in page.frames:
                    n_frames += 1
                    if frame.evaluate("() => window.__xss"):
                        fired.append(f"{username} {url} frame {frame.url}")
                if "/map" in url:
                    page.locator(".leaflet-container").wait_for()
                    groups = page.locator(".leaflet-control-layers-group-name").all_inner_texts()
                    assert any(payload(1) in g for g in groups), groups  # the school's name, as text
            page.close()
        # A route sheet, as HTML, opened in the browser *without* any policy: escaping alone holds.
        with httpx.Client(base_url=base, timeout=60) as c:
            token = c.post("/api/v1/auth/token", json={"username": "olga", "password": PASSWORD}).json()["access_token"]
            sheet = c.get(f"/api/v1/plans/{plan_ids[0]}/sheets/{vehicles[0]}.html", headers={"Authorization": f"Bearer {token}"})
            assert sheet.status_code == 200
            assert "sandbox" in sheet.headers["content-security-policy"]
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.set_content(sheet.text)
        page.wait_for_timeout(300)
        n_pages += 1
        for frame in page.frames:
            n_frames += 1
            if frame.evaluate("() => window.__xss"):
                fired.append(f"sheet {vehicles[0]} frame {frame.url}")
        browser.close()
    record("xss_corpus_in_chromium", payloads=len(CORPUS), pages=n_pages, frames=n_frames, scripts_run=len(fired) + len(dialogs), csp_violations=len(violations))
    assert fired == [] and dialogs == []
    assert violations == [], violations[:5]
