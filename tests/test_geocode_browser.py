"""Upload → review → drag → plan in the web page (Playwright, Debian's Chromium), on Helsinki.

An officer uploads the Helsinki address example, sees the pupil placed only at a neighbourhood
centre (Kaartinkaupunki) and the one not found, drags the first to a home, saves it, uploads the
same file again (the manual home stays), and plans: the pupil is not refused for an imprecise
location, and the plan uses the home placed by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from test_service_live import live  # noqa: F401 - the service on loopback, with the officer olga

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "data" / "examples"
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct-horse-battery"
JOB_WAIT_MS = 180_000
NEIGHBOURHOOD_ROW = 30  # ADR-029, "Kaartinkaupunki": the header is row 1
DRAG_PX = (45, 30)


@pytest.mark.slow
def test_upload_review_drag_plan_and_the_fix_survives_a_reupload(live, helsinki_pbf, tmp_path):  # noqa: F811
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    shots = Path(os.environ.get("SCHOOLBUS_SCREENSHOT_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    base, _ = live
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "olga")
        page.fill("input[name=password]", PASSWORD)
        page.click("#sign-in")
        page.fill("#project-name", "Helsinki addresses")
        page.click("#create-project")
        for kind, path in (("schools", EXAMPLES / "schools.csv"), ("network", helsinki_pbf)):
            page.set_input_files(f"#upload-{kind}", str(path))
            page.click(f"#submit-{kind}")
            assert path.name in page.text_content(f"#file-{kind}")

        # Upload the addresses: two pupils need a look.
        page.click("#geocode-link")
        page.set_input_files("#upload-addresses", str(EXAMPLES / "students_addresses.csv"))
        page.click("#submit-addresses")
        rows = page.locator("#review-list tbody tr")
        assert [rows.nth(k).get_attribute("data-row") for k in range(rows.count())] == [str(NEIGHBOURHOOD_ROW), "31"]
        assert page.text_content(f"#row-{NEIGHBOURHOOD_ROW} .student-id") == "ADR-029"
        page.locator(".leaflet-marker-icon").first.wait_for()
        page.screenshot(path=shots / "geocode-01-review.png", full_page=True)

        # Drag the marker of the pupil placed at the neighbourhood centre; its form follows.
        lon_input = page.locator(f"#row-{NEIGHBOURHOOD_ROW} input[name=lon]")
        before = float(lon_input.input_value())
        marker = page.locator(f'.leaflet-marker-icon[data-row="{NEIGHBOURHOOD_ROW}"]')
        box = marker.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + DRAG_PX[0] / 2, y + DRAG_PX[1] / 2, steps=5)
        page.mouse.move(x + DRAG_PX[0], y + DRAG_PX[1], steps=5)
        page.mouse.up()
        moved_lon = float(lon_input.input_value())
        moved_lat = float(page.locator(f"#row-{NEIGHBOURHOOD_ROW} input[name=lat]").input_value())
        assert moved_lon > before  # dragged east
        page.screenshot(path=shots / "geocode-02-dragged.png", full_page=True)
        page.click(f"#row-{NEIGHBOURHOOD_ROW} .save-row")
        assert page.locator(f"#row-{NEIGHBOURHOOD_ROW}").count() == 0  # placed by hand: nothing to review
        assert page.locator(".summary-manual").count() == 1

        # The same file again: the home placed by hand stays.
        page.set_input_files("#upload-addresses", str(EXAMPLES / "students_addresses.csv"))
        page.click("#submit-addresses")
        assert page.locator(f"#row-{NEIGHBOURHOOD_ROW}").count() == 0
        assert "1" in page.text_content(".summary-manual")
        page.screenshot(path=shots / "geocode-03-reuploaded.png", full_page=True)

        # Plan it.
        page.click("text=Projeye dön" if page.locator("text=Projeye dön").count() else "text=Back to the project")
        page.fill("#scenario-name", "addresses")
        page.click("#create-scenario")
        page.click("button.run-plan")
        page.wait_for_selector("a.plan-link", timeout=JOB_WAIT_MS)
        page.screenshot(path=shots / "geocode-04-planned.png", full_page=True)
        browser.close()
    assert errors == []  # the review script ran without an error

    token = httpx.post(f"{base}/api/v1/auth/token", json={"username": "olga", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    (plan,) = httpx.get(f"{base}/api/v1/plans", headers=headers).json()
    document = httpx.get(f"{base}/api/v1/plans/{plan['id']}", headers=headers).json()
    students = {s["id"]: s for s in document["students"]}
    assert "ADR-030" not in students  # not found: left out, still on the review list
    assert not (students["ADR-029"].get("reason") or "").startswith("location not precise enough")
    scenario = httpx.get(f"{base}/api/v1/scenarios/{plan['scenario_id']}/scenario.json", headers=headers).json()
    home = next(s for s in scenario["students"] if s["id"] == "ADR-029")
    assert home["location_precision"] == "manual"
    assert home["location"] == pytest.approx([moved_lon, moved_lat], abs=1e-6)
