"""The officer's loop and the manager's comparison on the web page, through a test client.

A real plan on the hand-made street grid of ``test_service_api``: upload, guided steps with counts,
a policy change applied to a new scenario (which changes the plan), the unserved pupils view, the
comparison's Δ columns, and a scan of every page in Turkish and English for English words on
Turkish pages (the leaks the issue listed) and for raw codes.
"""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from schoolbus.service import auth
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig
from test_service_api import grid_geojson, schools_csv, students_csv

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
JOB_WAIT_S = 240.0
pytestmark = pytest.mark.slow  # plans five scenarios on the street grid (about a minute in all)

ENGLISH_LEAKS = (
    "not uploaded", "students file", "Students", "Pupils", "starting", "stops", "routing", "queued",
    "running", "succeeded", "Seed", "Seconds per solve", "TRY", "rows", "Save", "Upload",
    "Cost per", "Vehicles", "none", "Back", "Download", "officer", "manager",
)
"""English words that reached Turkish pages before (as whole words; ``TRY`` is how English writes lira)."""
TURKISH_LEAKS = ("yüklenmedi", "Öğrenciler", "Planla", "satır", "Kaydet", "₺", "Senaryo", "dk")
RAW_CODES = (">tam<", ">ogle<", "no_stop_within_walk", "fleet_ran_out", "road network<", "demo district")


def _visible_text(html: str) -> str:
    """The page's words a person sees: without scripts, styles, tags and attribute values."""
    html = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", html, flags=re.S)  # code and YAML data
    html = re.sub(r"<option[^>]*>[A-Z]{2}</option>", " ", html)  # the language picker's codes
    return re.sub(r"<[^>]+>", " ", html)


def leaks(html: str, language: str) -> list[str]:
    """Words of the other language (and raw codes) in a rendered page."""
    text = _visible_text(html)
    words = ENGLISH_LEAKS if language == "tr" else TURKISH_LEAKS
    found = [w for w in words if re.search(rf"(?<![\w]){re.escape(w.strip('<>/'))}(?![\w])", text)]
    return found + [code for code in RAW_CODES if code in html]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    config = ServiceConfig(data_dir=tmp_path_factory.mktemp("pages"), preload_demo=False, print_admin_password=lambda u, p: None)
    application = create_app(config)
    with TestClient(application, base_url="https://testserver"):
        with application.state.sessions.begin() as session:
            auth.create_user(session, "olga", "officer", PASSWORD)
            auth.create_user(session, "mert", "manager", PASSWORD)
            auth.create_user(session, "cem", "contractor", PASSWORD)
        yield application


def sign_in(app, username: str, language: str = "tr") -> TestClient:
    client = TestClient(app, base_url="https://testserver")
    client.cookies.set("schoolbus_lang", language)
    token = CSRF.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    return client


def csrf(client: TestClient, url: str) -> str:
    return CSRF.search(client.get(url).text).group(1)


def wait_for_plans(client: TestClient, url: str, n_plans: int) -> str:
    deadline = time.monotonic() + JOB_WAIT_S
    while time.monotonic() < deadline:
        page = client.get(url).text
        if page.count('class="plan-link"') >= n_plans:
            return page
        assert 'data-status="failed"' not in page, page[page.find('data-status="failed"'):][:400]
        time.sleep(0.5)
    raise AssertionError("the plan did not finish")


@pytest.fixture(scope="module")
def district(app):
    """A project with two plans: the base scenario and one with escorts up to grade 8."""
    client = sign_in(app, "olga")
    response = client.post("/projects", data={"name": "Keçiören", "csrf_token": csrf(client, "/")}, follow_redirects=False)
    url = response.headers["location"]
    client.post(f"{url}/members", data={"username": "mert", "csrf_token": csrf(client, url)})
    for kind, name, content in (
        ("students", "students.csv", students_csv()),
        ("schools", "schools.csv", schools_csv()),
        ("network", "grid.geojson", grid_geojson()),
    ):
        page = client.post(f"{url}/files/{kind}", data={"csrf_token": csrf(client, url)}, files={"file": (name, content)})
        assert page.status_code == 200, page.text
    uploaded = page.text
    page = client.post(f"{url}/scenarios", data={"name": "taban", "csrf_token": csrf(client, url)})
    scenario_id = re.search(r'action="/scenarios/([^/]+)/jobs"', page.text).group(1)
    client.post(f"/scenarios/{scenario_id}/jobs", data={"csrf_token": csrf(client, url)})
    wait_for_plans(client, url, 1)
    changed = client.post(
        f"{url}/policy",
        data={"escort_max_grade": "8", "apply_to": f"new:{scenario_id}", "new_name": "rehberli", "csrf_token": csrf(client, url)},
    )
    second = re.findall(r'action="/scenarios/([^/]+)/jobs"', changed.text)[-1]
    client.post(f"/scenarios/{second}/jobs", data={"csrf_token": csrf(client, url)})
    planned = wait_for_plans(client, url, 2)
    plan_ids = re.findall(r'href="/plans/([^"/]+)" class="plan-link"', planned)
    return {"url": url, "uploaded": uploaded, "changed": changed.text, "planned": planned, "plan_ids": plan_ids, "client": client}


def test_uploads_say_what_was_saved_and_count_right(district):
    page = district["uploaded"]
    assert "Yol ağı kaydedildi." in page
    assert "40 öğrenci" in page and "1 okul" in page
    assert re.search(r'data-step="inputs">\s*<b>1\. Öğrenciler ve okullar</b> ✓', page)


def test_a_policy_change_goes_to_a_new_scenario_and_changes_the_plan(district):
    changed = district["changed"]
    assert "Kaydedildi ve yeni bir senaryoya uygulandı" in changed
    assert "Rehber personel şu sınıfa kadar: 4 → 8" in changed
    costs = re.findall(r'class="plan-cost">([^<]+)<', district["planned"])
    assert len(costs) == 2 and costs[0] != costs[1], costs
    assert all(c.startswith("₺") and "," in c for c in costs)


def test_comparison_shows_differences(app, district):
    client = sign_in(app, "mert")
    query = "&".join(f"plan_id={p}" for p in district["plan_ids"])
    page = client.get(f"/compare?{query}")
    assert page.status_code == 200
    row = re.search(r'<tr data-metric="cost_per_day">(.*?)</tr>', page.text, re.S).group(1)
    delta = re.findall(r'class="delta">([^<]*)<', row)
    assert delta and delta[0].startswith(("+₺", "−₺")), row
    assert "Δ" in page.text and not leaks(page.text, "tr")
    nothing = client.get("/compare?project_id=" + district["url"].rsplit("/", 1)[1])
    assert nothing.status_code == 422 and "Planlara dön" in nothing.text and district["url"] in nothing.text


def test_unserved_view_lists_reasons_in_words(app, district):
    client = district["client"]
    for plan_id in district["plan_ids"]:
        page = client.get(f"/plans/{plan_id}/unserved")
        assert page.status_code == 200
        assert not leaks(page.text, "tr")
    manager = sign_in(app, "mert")
    assert manager.get(f"/plans/{district['plan_ids'][0]}/unserved").status_code == 403


@pytest.mark.parametrize("language", ["tr", "en"])
def test_pages_speak_one_language(app, district, language):
    client = sign_in(app, "olga", language)
    plan = district["plan_ids"][0]
    query = "&".join(f"plan_id={p}" for p in district["plan_ids"])
    for url in ("/", district["url"], f"/plans/{plan}", f"/plans/{plan}/unserved", f"/compare?{query}", "/account/password"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert leaks(page.text, language) == [], (url, leaks(page.text, language))
    english = client.get(f"/plans/{plan}").text
    if language == "en":
        assert "TRY\u00a0" in english and "Pupils carried" in english


def test_spreadsheet_csv_is_turkish(district):
    client = district["client"]
    response = client.get(f"/plans/{district['plan_ids'][0]}/spreadsheet/assignments.csv")
    assert response.status_code == 200
    header = response.content.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("Öğrenci;") and "Okul" in header.split(";")


def test_parent_notices_are_prepared_with_progress(district):
    client = district["client"]
    url = f"/plans/{district['plan_ids'][0]}/notices"
    first = client.get(url)
    assert first.status_code == 200 and ('role="progressbar"' in first.text or 'id="notices-download"' in first.text)
    deadline = time.monotonic() + JOB_WAIT_S
    while 'id="notices-download"' not in (page := client.get(url).text):
        assert 'class="status-failed"' not in page and time.monotonic() < deadline
        time.sleep(0.5)
    assert client.get(f"/api/v1/plans/{district['plan_ids'][0]}/notices.pdf").content.startswith(b"%PDF")


def test_html_route_sheet_opens_in_the_browser(district):
    client = district["client"]
    plan_page = client.get(f"/plans/{district['plan_ids'][0]}").text
    link = re.search(r'href="(/api/v1/plans/[^"]+\.html\?language=tr)"', plan_page).group(1)
    response = client.get(link)
    assert response.status_code == 200 and response.headers["content-disposition"].startswith("inline")


def test_fleet_form_errors_name_the_field_in_words(district):
    client, url = district["client"], district["url"]
    page = client.post(f"{url}/fleet", data={"vt0_id": "midi", "vt0_seats": "25", "vt0_day_rate": "çok", "csrf_token": csrf(client, url)})
    assert page.status_code == 422
    assert "Günlük ücret (1. satır)" in page.text and "Filo ve fiyatlar" in page.text
    assert "en az 0 olan bir sayı" in page.text and "not text in quotes" not in page.text


def test_fleet_form_applies_to_an_unplanned_scenario(district):
    client, url = district["client"], district["url"]
    page = client.post(f"{url}/scenarios", data={"name": "taslak", "csrf_token": csrf(client, url)}).text
    draft = sorted(set(re.findall(r'value="this:([^"]+)"', page)))
    assert len(draft) == 1  # only the scenario without plans may be changed in place
    form = {"vt0_id": "midi", "vt0_seats": "25", "vt0_day_rate": "1.234,50", "vt0_count": "3", "currency": "TRY",
            "school_days_per_year": "180", "apply_to": f"this:{draft[0]}", "csrf_token": csrf(client, url)}
    page = client.post(f"{url}/fleet", data=form).text
    assert "Kaydedildi ve senaryoya uygulandı" in page
    assert "midi: – → 25 koltuk, günlük ₺1.234,50, 3 araç" in page


def test_comparison_draws_the_coverage_curve_and_the_bells(app, district):
    client, url = district["client"], district["url"]
    base = re.search(r'action="/scenarios/([^/]+)/jobs"', district["planned"]).group(1)
    for name, budget, bells in (("bütçe az", "300.000", ""), ("bütçe çok", "2.000.000", ""), ("ziller", "", "on")):
        data = {"name": name, "base": base, "budget": budget, "csrf_token": csrf(client, url)}
        if bells:
            data["choose_bells"] = bells
        page = client.post(f"{url}/scenarios", data=data).text
        scenario = re.findall(r'action="/scenarios/([^/]+)/jobs"', page)[-1]
        client.post(f"/scenarios/{scenario}/jobs", data={"csrf_token": csrf(client, url)})
    page = wait_for_plans(client, url, 5)
    ids = re.findall(r'href="/plans/([^"/]+)" class="plan-link"', page)
    budget = client.get(f"/compare?plan_id={ids[2]}&plan_id={ids[3]}").text
    assert 'id="coverage"' in budget and "data:image/svg+xml;base64," in budget
    bells = client.get(f"/compare?plan_id={ids[0]}&plan_id={ids[4]}").text
    assert 'class="bells"' in bells
    small = client.get(f"/plans/{ids[2]}").text  # the small budget leaves pupils without a place
    assert 'id="unserved-link"' in small and "bütçe içinde taşınamadı" in small
    listed = client.get(f"/plans/{ids[2]}/unserved?reason=not_within_budget").text
    assert listed.count('class="unserved-row"') > 0 and "bütçe içinde taşınamadı" in listed
    assert client.get(f"/plans/{ids[2]}/unserved?reason=no_stop_within_walk").text.count('class="unserved-row"') == 0


def test_a_project_with_a_scenario_but_no_files_reads_as_uploaded(app, district):
    """The demo project: its scenario holds pupils, schools and fleet, though no file was uploaded."""
    from schoolbus.service.db import Project, ProjectMember, ScenarioRecord, User

    with app.state.sessions.begin() as session:
        first = session.query(ScenarioRecord).order_by(ScenarioRecord.id).first()
        source = session.get(Project, first.project_id)
        project = Project(name="demo-gibi", network_kind=source.network_kind, network_path=source.network_path,
                          network_sha256=source.network_sha256, network_filename="Helsinki.osm.pbf")
        session.add(project)
        session.flush()
        session.add(ScenarioRecord(project_id=project.id, name="demo", document=first.document, n_students=40, n_schools=1))
        session.add(ProjectMember(project_id=project.id, user_id=session.query(User).filter_by(username="olga").one().id))
        public_id = project.public_id
    client = sign_in(app, "olga")
    client.cookies.set("schoolbus_lang", "tr")
    page = client.get(f"/projects/{public_id}").text
    assert re.search(r'data-step="inputs">\s*<b>1\. Öğrenciler ve okullar</b> ✓', page)
    assert "demo senaryosunda 40 öğrenci ve 1 okul" in page
    for kind in ("students", "schools", "fleet"):
        cell = re.search(rf'id="file-{kind}">(.*?)</td>', page, re.S).group(1)
        assert "yüklenmedi" not in cell and "senaryolarda" in cell
    second = client.post(f"/projects/{public_id}/scenarios", data={"name": "ikinci", "base": re.search(r'id="scenario-base">.*?<option value="([^"]+)" selected>', page, re.S).group(1), "csrf_token": csrf(client, f"/projects/{public_id}")})
    assert second.status_code == 200 and "Senaryo oluşturuldu" in second.text


def test_a_scenario_without_files_says_so_in_turkish(app):
    client = sign_in(app, "olga")
    created = client.post("/projects", data={"name": "boş", "csrf_token": csrf(client, "/")}, follow_redirects=False)
    url = created.headers["location"]
    page = client.post(f"{url}/scenarios", data={"name": "ilk", "csrf_token": csrf(client, url)})
    assert page.status_code == 422
    problems = re.search(r'id="problems">(.*?)</section>', page.text, re.S).group(1)
    assert "öğrenci dosyası" in problems and "yüklenmedi" in problems
    assert not leaks(problems, "tr") and "students file" not in problems


def test_contractors_are_chosen_and_saved(district):
    client = district["client"]
    url = f"/plans/{district['plan_ids'][0]}"
    page = client.get(url).text
    assert 'id="save-contractors"' in page and '<option value="cem"' in page
    vehicle = re.search(r'<select name="(vehicle_[^"]+)"', page).group(1)
    saved = client.post(f"{url}/contractors", data={vehicle: "cem", "csrf_token": csrf(client, url)})
    assert "Yükleniciler kaydedildi." in saved.text
    assert re.search(r'<option value="cem" selected>', saved.text)


def test_flash_is_said_once(district):
    client = district["client"]
    first = client.post(f"{district['url']}/members", data={"username": "cem", "csrf_token": csrf(client, district["url"])})
    assert "Üye eklendi." in first.text
    assert "Üye eklendi." not in client.get(district["url"]).text


def test_password_page_says_the_rule_and_wants_it_twice(app):
    client = sign_in(app, "olga")
    page = client.get("/account/password").text
    assert "En az 10 karakter" in page and 'name="repeat_password"' in page
    token = CSRF.search(page).group(1)
    differ = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "a-new-long-password", "repeat_password": "another-one-typed", "csrf_token": token})
    assert differ.status_code == 422 and "Girilen iki yeni parola farklı." in differ.text
