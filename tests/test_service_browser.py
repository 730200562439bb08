"""The web page in Chromium, as an officer and a manager see it, in Turkish and English, desktop and phone.

Done-when of issue 14: the officer uploads, creates a scenario, plans it, changes the policy into a
new scenario and plans that (the plan changes); the manager compares the two (Δ columns). Each
page is checked for what a person sees: Turkish number formats, no English words on Turkish pages
(the leak list of ``test_service_pages``), no horizontal scroll at 390 px.

With ``SCHOOLBUS_WRITE_SCREENSHOTS=1`` the main pages are saved as small PNGs in
``docs/screenshots/`` (linked from the README).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from test_service_api import grid_geojson, schools_csv, students_csv
from test_service_live import CHROMIUM, JOB_WAIT_MS, PASSWORD, live  # noqa: F401 - the server fixture
from test_service_pages import leaks

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
DESKTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}
SCREENSHOT_COLOURS = 64


def _no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _shoot(page, name: str) -> None:
    if os.environ.get("SCHOOLBUS_WRITE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=path, full_page=False)
        # 64 colours are plenty for a page of text and keep the committed files small.
        from PIL import Image

        with Image.open(path) as image:
            small = image.convert("RGB").quantize(colors=SCREENSHOT_COLOURS)
        small.save(path, optimize=True)


def _check(page, language: str, viewport: dict) -> None:
    assert leaks(page.content(), language) == [], (page.url, leaks(page.content(), language))
    if viewport is PHONE:
        assert _no_horizontal_scroll(page), f"{page.url} scrolls sideways at 390 px"


def _sign_in(browser, base: str, username: str, language: str, viewport: dict):
    context = browser.new_context(viewport=viewport)
    context.add_cookies([{"name": "schoolbus_lang", "value": language, "url": base}])
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    return page


@pytest.mark.slow
@pytest.mark.parametrize(
    "language, viewport, suffix",
    [("tr", DESKTOP, "tr-desktop"), ("en", PHONE, "en-phone"), ("tr", PHONE, "tr-phone"), ("en", DESKTOP, "en-desktop")],
)
def test_officer_and_manager_walk(live, tmp_path, language, viewport, suffix):  # noqa: F811 - fixture
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    base, _ = live
    for name, content in (("students.csv", students_csv()), ("schools.csv", schools_csv()), ("grid.geojson", grid_geojson())):
        (tmp_path / name).write_bytes(content)
    words = {
        "tr": {"saved": "Öğrenci dosyası kaydedildi.", "applied": "yeni bir senaryoya uygulandı", "pupils": "40 öğrenci"},
        "en": {"saved": "Pupils file saved.", "applied": "applied to a new scenario", "pupils": "40 pupils"},
    }[language]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = _sign_in(browser, base, "olga", language, viewport)
        _check(page, language, viewport)
        page.fill("#project-name", f"Keçiören {suffix}")
        page.click("#create-project")
        assert page.locator("li.next[data-step=inputs]").count() == 1  # the next step is obvious
        _check(page, language, viewport)
        for kind, name in (("students", "students.csv"), ("schools", "schools.csv"), ("network", "grid.geojson")):
            page.set_input_files(f"#upload-{kind}", str(tmp_path / name))
            page.click(f"#submit-{kind}")
            if kind == "students":
                assert words["saved"] in page.text_content("#flash")
        assert words["pupils"] in page.text_content("#file-students")
        page.fill("#scenario-name", "taban")
        page.click("#create-scenario")
        page.locator("button.run-plan").first.click()
        page.wait_for_selector("a.plan-link, tr.job[data-status=failed]", timeout=JOB_WAIT_MS)
        assert page.locator("tr.job[data-status=failed]").count() == 0, page.text_content("#jobs")
        _check(page, language, viewport)
        _shoot(page, f"project-{suffix}")

        page.fill("#policy-escort_max_grade", "8")
        page.fill("#policy-new-name", "rehberli")
        page.click("#save-policy")
        assert words["applied"] in page.text_content("#flash")
        page.locator("tr.scenario-row").nth(1).locator("button.run-plan").click()
        page.locator("a.plan-link").nth(1).or_(page.locator("tr.job[data-status=failed]")).first.wait_for(timeout=JOB_WAIT_MS)
        assert page.locator("tr.job[data-status=failed]").count() == 0, page.text_content("#jobs")
        costs = page.locator("td.plan-cost").all_text_contents()
        assert costs[0] != costs[1], costs  # the changed policy changed the plan
        if language == "tr":
            assert all(re.fullmatch(r"₺[\d.]+,\d\d", c.strip()) for c in costs), costs
        _check(page, language, viewport)
        page.locator("a.plan-link").first.click()
        _check(page, language, viewport)
        _shoot(page, f"plan-{suffix}")
        project_url = page.locator("a", has_text="←").first.get_attribute("href")

        page.goto(f"{base}{project_url}")
        page.fill("#member-username", "mert")
        page.click("#add-member")
        manager = _sign_in(browser, base, "mert", language, viewport)
        manager.goto(f"{base}{project_url}")
        boxes = manager.locator("#plans-table input[type=checkbox]")
        boxes.nth(0).check()
        boxes.nth(1).check()
        manager.click("#compare")
        deltas = manager.locator("tr[data-metric=cost_per_day] td.delta").all_text_contents()
        assert deltas and deltas[0].strip()[:1] in "+−", deltas
        _check(manager, language, viewport)
        _shoot(manager, f"compare-{suffix}")
        browser.close()
