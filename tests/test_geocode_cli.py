"""``schoolbus geocode`` and ``plan --geocode``: files in, geocoded files and review maps out."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from babel.messages.pofile import read_po
from typer.testing import CliRunner

from geocode_fixtures import ATATURK_10, UH_1203, write_mahalle_osm
from schoolbus.cli import app
from schoolbus.geocode.index import metres_between
from schoolbus.geocode.review import LABELS, po_path_of
from schoolbus.ingest import read_students
from schoolbus.model import Policy, ReasonCode, Student
from schoolbus.outputs.reasons import describe_reason
from schoolbus.stops import imprecise_location_reason

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "data" / "examples"

STUDENTS = """id;school_id;shift;grade;mahalle;cadde_sokak;bina_no;adres
s1;SCH;sabah;3;Ulubatlı Hasan;1203. Sokak;5;
s2;SCH;sabah;4;;;;ULUBATLI HASAN MAH ATATURK CD NO 10
s3;SCH;sabah;5;Ulubatlı Hasan;;;
s4;SCH;sabah;5;;;;Xyzzy qwerty
s5;SCH;sabah;6;;;;<img src=x onerror=alert(1)> =HYPERLINK("http://x")
"""


@pytest.fixture(scope="module")
def mahalle_osm(tmp_path_factory):
    return write_mahalle_osm(tmp_path_factory.mktemp("osm") / "haliliye.osm")


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_geocode_writes_locations_precision_and_a_review_map(env, mahalle_osm):
    students = env / "students.csv"
    students.write_text(STUDENTS, encoding="utf-8")
    out = env / "geocoded.csv"
    result = _run("geocode", students, "--osm", mahalle_osm, "--out", out)
    assert result.exit_code == 0, result.output  # unplaced rows do not fail the command
    assert "not found: row 5, id s4: Xyzzy qwerty" in result.output
    rows = _rows(out)
    assert list(rows[0])[:8] == ["id", "school_id", "shift", "grade", "mahalle", "cadde_sokak", "bina_no", "adres"]
    assert [r["geocode_precision"] for r in rows] == ["house", "house", "neighbourhood", "none", "none"]
    s1 = (float(rows[0]["lon"]), float(rows[0]["lat"]))
    assert metres_between(s1, UH_1203["5"]) < 1
    assert metres_between((float(rows[1]["lon"]), float(rows[1]["lat"])), ATATURK_10) < 1
    assert rows[0]["geocode_match"] == "1203. Sokak 5"
    assert rows[3]["lon"] == "" and rows[3]["geocode_score"] == "0"
    # A cell that starts like a formula is written as text.
    assert rows[4]["adres"].startswith("<img")  # not a formula start: written as it was
    review = (env / "geocoded.review.html").read_text(encoding="utf-8")
    assert "<img src=x" not in review
    assert "&lt;img src=x onerror=alert(1)&gt;" in review
    listed = re.findall(r'<tr class="p-(\w+)">', review)
    assert listed == ["neighbourhood", "none", "none"]  # the two houses need no look


def test_formula_cells_are_never_live(env, mahalle_osm):
    students = env / "students.csv"
    students.write_text(
        "id,school_id,shift,grade,adres\n=1+1,SCH,sabah,3,\"1203. Sokak No:5, Ulubatlı Hasan Mh.\"\n",
        encoding="utf-8",
    )
    out = env / "geocoded.xlsx"
    assert _run("geocode", students, "--osm", mahalle_osm, "--out", out).exit_code == 0
    sheet = openpyxl.load_workbook(out).active
    cell = sheet["A2"]
    assert cell.value == "'=1+1" and cell.data_type == "s"
    assert sheet["H2"].value == "house"


def test_xlsx_students_are_read(env, mahalle_osm):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["id", "school_id", "shift", "grade", "il", "ilçe", "mahalle", "sokak", "bina_no", "daire"])
    sheet.append(["x1", "SCH", "sabah", 3, "Şanlıurfa", "Haliliye", "ULUBATLI HASAN", "1203 sk", 6, 2])
    students = env / "students.xlsx"
    workbook.save(students)
    out = env / "out.csv"
    assert _run("geocode", students, "--osm", mahalle_osm, "--out", out).exit_code == 0
    (row,) = _rows(out)
    assert row["geocode_precision"] == "interpolated"
    assert row["geocode_match"] == "1203. Sokak 6 (between 4 and 8)"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.csv", None, "expected an existing file"),
        ("empty.csv", "", "a file with content"),
        ("old.xls", "x", "save it as an Excel Workbook"),
        ("broken.xlsx", "not a zip", "a readable .xlsx workbook"),
        ("noaddress.csv", "id,school_id\n1,SCH\n", "an address column"),
    ],
)
def test_unreadable_input_exits_2_with_a_clear_message(env, mahalle_osm, name, content, expected):
    students = env / name
    if content is not None:
        students.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(app, ["geocode", str(students), "--osm", str(mahalle_osm), "--out", str(env / "o.csv")])
    assert result.exit_code == 2
    assert expected in " ".join(result.output.split())
    assert "address index" not in result.output  # the input is checked before the index is built
    assert "Traceback" not in result.output


def test_manual_location_survives_a_second_run(env, mahalle_osm):
    students = env / "students.csv"
    students.write_text(STUDENTS, encoding="utf-8")
    first = env / "first.csv"
    assert _run("geocode", students, "--osm", mahalle_osm, "--out", first).exit_code == 0
    rows = _rows(first)
    rows[2].update(lon="38.8071", lat="37.1633", geocode_precision="manual")  # placed by hand
    with first.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    second = env / "second.csv"
    assert _run("geocode", first, "--osm", mahalle_osm, "--out", second).exit_code == 0
    again = _rows(second)[2]
    assert (again["lon"], again["lat"], again["geocode_precision"]) == ("38.8071", "37.1633", "manual")


def test_geocoded_file_reads_as_students_with_their_precision(env, mahalle_osm):
    students = env / "students.csv"
    students.write_text("\n".join(STUDENTS.splitlines()[:4]) + "\n", encoding="utf-8")
    out = env / "geocoded.csv"
    assert _run("geocode", students, "--osm", mahalle_osm, "--out", out).exit_code == 0
    found = read_students(out)
    assert [s.location_precision for s in found] == ["house", "house", "neighbourhood"]


def test_refusal_reason_is_a_code_with_the_precisions():
    policy = Policy()
    near = Student("a", (0.0, 0.0), "S", "m", 3, location_precision="neighbourhood")
    reason = imprecise_location_reason(near, policy)
    assert reason.code is ReasonCode.LOCATION_IMPRECISE
    assert (reason.param("precision"), reason.param("needed")) == ("neighbourhood", "street")
    assert describe_reason(reason).startswith("location not precise enough")
    assert describe_reason(reason, "tr").startswith("konum yeterince kesin değil")
    for precision in (None, "manual", "house", "interpolated", "street"):
        student = Student("a", (0.0, 0.0), "S", "m", 3, location_precision=precision)
        assert imprecise_location_reason(student, policy) is None
    loose = Policy(min_location_precision="neighbourhood")
    assert imprecise_location_reason(near, loose) is None


def test_review_map_words_are_translated_in_every_language():
    template = (REPO / "src" / "schoolbus" / "geocode" / "templates" / "geocode_review.html").read_text("utf-8")
    ids = set(re.findall(r'_\("([^"]+)"', template)) | set(LABELS.values())
    for language in ("tr", "en", "ar"):
        with po_path_of(language).open("rb") as f:
            catalog = read_po(f, locale=language)
        translated = {m.id: m.string for m in catalog if m.id}
        assert ids <= set(translated), (language, ids - set(translated))
        assert all(translated[i] for i in ids), language


@pytest.mark.slow
def test_plan_geocode_on_helsinki_addresses(env, helsinki_pbf):
    """An address-only file goes through geocode → review map → plan; vague homes are refused."""
    out = env / "plan"
    result = _run(
        "plan", "--geocode",
        "--students", EXAMPLES / "students_addresses.csv",
        "--schools", EXAMPLES / "schools.csv",
        "--osm", helsinki_pbf,
        "--out", out,
    )
    assert result.exit_code == 0, result.output
    assert "ADR-030" in result.output  # not found: listed, left out
    geocoded = {r["id"]: r for r in _rows(out / "geocoded.csv")}
    assert geocoded["ADR-029"]["geocode_precision"] == "neighbourhood"
    assert (out / "geocode_review.html").exists()
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    students = {s["id"]: s for s in plan["students"]}
    assert "ADR-030" not in students
    assert students["ADR-029"]["status"] == "unserved"
    assert students["ADR-029"]["reason"].startswith("location not precise enough")
    routed = [s for s in students.values() if s["status"] == "routed"]
    assert len(routed) >= 25


@pytest.mark.slow
def test_review_map_shows_each_placed_pupil_to_review_in_chromium(env, mahalle_osm):
    """Render and check: the review map draws one marker per placed pupil on the list."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip(f"{chromium} is absent: apt-get install chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    students = env / "students.csv"
    students.write_text(STUDENTS, encoding="utf-8")
    out = env / "nested" / "geocoded.csv"
    assert _run("geocode", students, "--osm", mahalle_osm, "--out", out, "--language", "tr").exit_code == 0
    review = out.with_name("geocoded.review.html")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(review.as_uri())
        page.locator("path.leaflet-interactive").first.wait_for()
        assert page.locator("path.leaflet-interactive").count() == 1  # s3 at the mahalle centre; s4, s5 unplaced
        assert page.locator("#review-list tbody tr").count() == 3
        assert page.locator("text=İncelenecek adresler").count() >= 1  # Turkish
        page.locator("path.leaflet-interactive").first.click()
        assert "Ulubatlı Hasan Mahallesi" in page.locator(".leaflet-popup-content").inner_text()
        page.screenshot(path=env / "review.png", full_page=True)
        browser.close()
    assert errors == []
