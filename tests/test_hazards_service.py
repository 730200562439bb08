"""Hazards, budgets and bell choice in the service: drawn on the project page, stored with the project, carried
by the next scenario (its scenario.json), with clear inline problems."""

from __future__ import annotations

import json

import pytest

from schoolbus.service.db import ScenarioRecord
from test_service_web import app, csrf_of, sign_in  # noqa: F401  (the module's app fixture)

SCHOOLS = b"id,name,lon,lat,shift,bell,dismissal\nS,Okul,32.85,39.98,tam,08:30,15:00\n"
STUDENTS = b"id,lon,lat,school_id,shift,grade,priority,vulnerable\nA1,32.86,39.99,S,tam,6,2,yes\nA2,32.84,39.97,S,tam,3,,\n"
LINE = [[32.84, 39.985], [32.87, 39.985]]


def drawn(kind="no_crossing", coordinates=LINE, name="Ana <cadde>"):
    feature = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coordinates},
               "properties": {"id": "drawn", "hazard": kind, "name": name}}
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def test_an_officer_draws_hazards_and_the_next_scenario_carries_them_and_the_budget(app):  # noqa: F811
    client = sign_in(app, "olga")
    created = client.post("/projects", data={"name": "Tehlike", "csrf_token": csrf_of(client, "/")}, follow_redirects=False)
    url = created.headers["location"]
    for kind, name, content in (("schools", "okullar.csv", SCHOOLS), ("students", "ogrenciler.csv", STUDENTS)):
        response = client.post(f"{url}/files/{kind}", data={"csrf_token": csrf_of(client, url)}, files={"file": (name, content)}, follow_redirects=False)
        assert response.status_code == 303, response.text
    page = client.get(url).text
    assert 'id="hazard-map"' in page and "/hazard-static/hazard_draw.js" in page
    assert client.get("/hazard-static/hazard_draw.js").status_code == 200

    for kind in ("no_crossing", "bus_avoid"):
        added = client.post(f"{url}/hazards", data={"csrf_token": csrf_of(client, url), "geojson": drawn(kind)}, follow_redirects=False)
        assert added.status_code == 303, added.text
    one_point = client.post(f"{url}/hazards", data={"csrf_token": csrf_of(client, url), "geojson": drawn(coordinates=LINE[:1])})
    assert one_point.status_code == 422 and "at least 2 [lon, lat] points" in one_point.text
    nothing = client.post(f"{url}/hazards", data={"csrf_token": csrf_of(client, url), "geojson": ""})
    assert nothing.status_code == 422
    forged = client.post(f"{url}/hazards", data={"csrf_token": "forged", "geojson": drawn()})
    assert forged.status_code == 403

    page = client.get(url).text
    data = json.loads(page.split('id="hazard-data">', 1)[1].split("</script>", 1)[0])
    assert [f["properties"]["id"] for f in data["hazards"]["features"]] == ["drawn", "drawn-2"]
    assert "Ana <cadde>" not in page  # names reach the page only inside the escaped JSON

    bad_budget = client.post(f"{url}/scenarios", data={"csrf_token": csrf_of(client, url), "name": "b", "budget": "çok"})
    assert bad_budget.status_code == 422 and "annual budget" in bad_budget.text
    made = client.post(
        f"{url}/scenarios", data={"csrf_token": csrf_of(client, url), "name": "yarim", "budget": "125000,5", "choose_bells": "on"}, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    with app.state.sessions.begin() as session:
        record = session.query(ScenarioRecord).filter_by(name="yarim").one()
        document = json.loads(record.document)
    assert document["budget_per_year"] == 125000.5 and document["choose_bells"] is True
    assert [h["kind"] for h in document["hazards"]] == ["no_crossing", "bus_avoid"]
    assert [s["priority"] for s in document["students"]] == [2.0, 1.0]
    assert [s["is_vulnerable"] for s in document["students"]] == [True, False]

    cleared = client.post(f"{url}/hazards/clear", data={"csrf_token": csrf_of(client, url)}, follow_redirects=False)
    assert cleared.status_code == 303
    assert json.loads(client.get(url).text.split('id="hazard-data">', 1)[1].split("</script>", 1)[0])["hazards"]["features"] == []


@pytest.mark.slow
def test_an_officer_draws_a_hazard_in_the_browser(tmp_path):
    """Chromium: click three points on the project page's map, add the hazard, see it stored."""
    from test_service_live import CHROMIUM, PASSWORD

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    base, _ = _live_server(tmp_path)
    (tmp_path / "schools.csv").write_bytes(SCHOOLS)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(f"{error} {error.stack}"))
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "olga")
        page.fill("input[name=password]", PASSWORD)
        page.click("#sign-in")
        page.fill("#project-name", "Çizim")
        page.click("#create-project")
        page.set_input_files("#upload-schools", str(tmp_path / "schools.csv"))
        page.click("#submit-schools")
        page.locator("#hazard-map").scroll_into_view_if_needed()
        box = page.locator("#hazard-map").bounding_box()
        for dx in (0.2, 0.5, 0.8):
            page.mouse.click(box["x"] + box["width"] * dx, box["y"] + box["height"] * 0.5)
        assert page.text_content("#hazard-points") == "3"
        page.select_option("#hazard-kind", "both")
        page.fill("#hazard-name", "Ana cadde")
        page.click("#hazard-add")
        assert "hazards.geojson" in page.text_content("#file-hazards")
        data = json.loads(page.text_content("#hazard-data"))
        (feature,) = data["hazards"]["features"]
        assert feature["properties"]["hazard"] == "both" and len(feature["geometry"]["coordinates"]) == 3
        assert errors == []
        browser.close()


def _live_server(tmp_path):
    import threading
    import time

    import uvicorn

    from schoolbus.service import auth
    from schoolbus.service.app import create_app
    from schoolbus.service.config import ServiceConfig
    from test_service_live import PASSWORD, START_WAIT_S, _free_port

    config = ServiceConfig(data_dir=tmp_path / "live", preload_demo=False, cookie_secure=True, print_admin_password=lambda u, p: None)
    application = create_app(config)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + START_WAIT_S
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    with application.state.sessions.begin() as session:
        auth.create_user(session, "olga", "officer", PASSWORD)
    return f"http://127.0.0.1:{port}", application
