"""The scenario comparison report: its figures are the plans' summaries, its charts real files."""

from __future__ import annotations

import base64
import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from fixtures_plan import make_plan
from schoolbus.errors import InputError
from schoolbus.model import (
    Depot,
    Fleet,
    Plan,
    Policy,
    Prices,
    Reason,
    ReasonCode,
    Scenario,
    School,
    Shift,
    Status,
    Student,
    Summary,
    VehicleType,
)
from schoolbus.network import load_network
from schoolbus.outputs.i18n import LOCALES_DIR
from schoolbus.outputs.reports import (
    CHART_STEMS,
    LABELS,
    REPORT_DOMAIN,
    REPORT_FILE,
    REPORT_LANGUAGES,
    render_comparison,
    report_labels,
)
from schoolbus.params import SolverParams
from schoolbus.pipeline import plan
from schoolbus.scenarios import Variant, apply_variant

ORIGIN = (32.85, 39.98)  # Keçiören, Ankara
BLOCK_M = 200.0
GRID_N = 5
METRES_PER_DEG_LAT = 111_195.0
FAST = SolverParams(time_limit_s=1.0, seed=0)
SUMMARY_ROWS = (
    "n_vehicles", "n_trips", "distance_m", "deadhead_m", "cost_per_day", "cost_per_year",
    "cost_per_student_per_year", "mean_ride_s", "p95_ride_s", "max_ride_s", "mean_walk_m", "max_walk_m",
    "n_students", "n_routed", "n_unserved",
)  # fmt: skip


def grid_point(i: float, j: float) -> tuple[float, float]:
    lon = ORIGIN[0] + i * BLOCK_M / (METRES_PER_DEG_LAT * math.cos(math.radians(ORIGIN[1])))
    lat = ORIGIN[1] + j * BLOCK_M / METRES_PER_DEG_LAT
    return (round(lon, 7), round(lat, 7))


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A 5 x 5 grid of two-way residential streets, 200 m blocks, read by the real road-layer reader."""
    folder = tmp_path_factory.mktemp("grid")
    features = []
    for k in range(GRID_N):
        for horizontal in (True, False):
            coords = [grid_point(i, k) if horizontal else grid_point(k, i) for i in range(GRID_N)]
            properties = {"highway": "residential", "name": f"Sokak {k}{'y' if horizontal else 'd'}", "maxspeed": "36"}
            geometry = {"type": "LineString", "coordinates": coords}
            features.append({"type": "Feature", "properties": properties, "geometry": geometry})
    path = folder / "grid.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return load_network(roads=path, cache_dir=folder / "cache")


@pytest.fixture(scope="module")
def two_plans(grid) -> list[tuple[str, Plan]]:
    """Two real plans of one district: 25-seat minibuses, and one 45-seat bus instead."""
    school = School("S", "Örnek Okulu", grid_point(2, 2), (Shift("tam", 8 * 3600 + 1800, 15 * 3600),))
    students = tuple(
        Student(f"P{c}-{k}", (grid_point(i + 0.05, j)[0], grid_point(i, j)[1] + 0.00009), "S", "tam", 6)
        for c, (i, j) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)])
        for k in range(8)
    )
    fleet = Fleet((VehicleType("mini-25", seats=25, day_rate=3000.0),), depots=(Depot("G", "Garaj", grid_point(0, 0)),))
    base = Scenario("small", students, (school,), fleet, Policy(), Prices(escort_day_rate=500.0))
    big = apply_variant(base, Variant("big-bus", vehicle_types=(VehicleType("bus-45", seats=45, day_rate=5000.0),)))
    return [("minibuses", plan(base, grid, FAST)), ("big-bus", plan(big, grid, FAST))]


class _Page(HTMLParser):
    """The report's table (data-field → data-value and text per scenario) and its images."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, list[tuple[str, str]]] = {}
        self.headers: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-field" in attrs:
            self._row = self.rows.setdefault(attrs["data-field"], [])
        elif tag == "td" and self._row is not None:
            self._cell = [attrs["data-value"], ""]
        elif tag == "th" and "data-scenario" in attrs:
            self.headers.append(attrs["data-scenario"])
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs["href"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(tuple(self._cell))
            self._cell = None
        elif tag == "tr":
            self._row = None


def read_page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_the_two_plans_differ_where_the_variant_says(two_plans):
    (_, minis), (_, big) = two_plans
    assert {v.vehicle_type for v in minis.vehicles} == {"mini-25"}
    assert {v.vehicle_type for v in big.vehicles} == {"bus-45"}
    # 32 pupils: two 25-seat vehicles are needed, one 45-seat bus is enough.
    assert minis.summary.n_vehicles == 2 and big.summary.n_vehicles == 1


def test_the_table_holds_exactly_the_plans_summaries(two_plans, tmp_path):
    path = render_comparison(two_plans, tmp_path / "cmp", language="en")
    assert path == tmp_path / "cmp" / REPORT_FILE
    page = read_page(path)
    assert page.headers == ["minibuses", "big-bus"]
    for field in SUMMARY_ROWS:
        values = [value for value, _ in page.rows[field]]
        expected = [getattr(p.summary, field) for _, p in two_plans]
        # repr round-trips floats exactly: the page shows the summary, it does not recompute it.
        assert values == ["" if e is None else repr(e) for e in expected], field
        assert [type(e)(float(v)) if v else None for v, e in zip(values, expected)] == expected
    (_, minis), (_, big) = two_plans
    texts = {field: [text for _, text in page.rows[field]] for field in page.rows}
    assert texts["n_vehicles"] == [str(minis.summary.n_vehicles), str(big.summary.n_vehicles)]
    assert texts["by_class"] == [f"{minis.summary.n_vehicles} × mini-25", "1 × bus-45"]
    # One 45-seat bus at 5000 a day, no escort (grade 6 pupils): a known answer, shown the English way.
    assert big.summary.cost_per_day == 5000.0 and texts["cost_per_day"][1] == "TRY\u00a05,000.00"
    assert texts["mean_ride_s"][0] == f"{minis.summary.mean_ride_s / 60:.1f} min"


def test_charts_are_written_beside_the_page_and_embedded(two_plans, tmp_path):
    out = tmp_path / "cmp"
    path = render_comparison(two_plans, out, language="tr")
    page = read_page(path)
    assert len(page.images) == len(CHART_STEMS)
    for stem, src in zip(CHART_STEMS, page.images):
        png, svg = out / f"{stem}.png", out / f"{stem}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        svg_text = svg.read_text(encoding="utf-8")
        assert ET.fromstring(svg_text).tag == "{http://www.w3.org/2000/svg}svg" and len(svg_text) > 10_000
        # Text is drawn as glyph paths (prints the same everywhere); matplotlib keeps it as comments.
        assert "<!-- minibuses -->" in svg_text and "<!-- big-bus -->" in svg_text
        assert src == "data:image/svg+xml;base64," + base64.b64encode(svg.read_bytes()).decode("ascii")
        assert f"{stem}.png" in page.links and f"{stem}.svg" in page.links
    vehicles_svg = (out / "vehicles_by_class.svg").read_text(encoding="utf-8")
    assert "<!-- mini-25 -->" in vehicles_svg and "<!-- bus-45 -->" in vehicles_svg
    assert "<!-- Sınıfa göre araçlar -->" in vehicles_svg


def test_the_same_plans_give_the_same_bytes(two_plans, tmp_path):
    first = render_comparison(two_plans, tmp_path / "a", language="tr")
    second = render_comparison(two_plans, tmp_path / "b", language="tr")
    assert first.read_bytes() == second.read_bytes()
    for stem in CHART_STEMS:
        for suffix in (".png", ".svg"):
            name = f"{stem}{suffix}"
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_changes_name_what_differs_from_the_first_scenario(two_plans, tmp_path):
    html = render_comparison(two_plans, tmp_path, language="en").read_text(encoding="utf-8")
    assert "What each scenario changes, compared with minibuses" in html
    assert "fleet.vehicle_types: mini-25 (25 seats, 3000 per day) → bus-45 (45 seats, 5000 per day)" in html
    turkish = render_comparison(two_plans, tmp_path / "tr", language="tr").read_text(encoding="utf-8")
    assert "mini-25 (25 koltuk, günlük 3000) → bus-45 (45 koltuk, günlük 5000)" in turkish


def test_languages(two_plans, tmp_path):
    turkish = render_comparison(two_plans, tmp_path / "tr", language="tr").read_text(encoding="utf-8")
    english = render_comparison(two_plans, tmp_path / "en", language="en").read_text(encoding="utf-8")
    assert '<html lang="tr"' in turkish and "Öğrenci başına yıllık maliyet" in turkish
    assert '<html lang="en"' in english and "Cost per student per year" in english
    assert "Öğrenci" not in english


def test_arabic_runs_right_to_left_with_every_label_translated(two_plans, tmp_path):
    from schoolbus.outputs.reports import chart_text

    arabic = render_comparison(two_plans, tmp_path / "ar", language="ar").read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl">' in arabic
    assert "<h1>مقارنة السيناريوهات</h1>" in arabic and "تكلفة الطالب في السنة" in arabic
    assert '"Noto Naskh Arabic"' in arabic  # a font with Arabic letters
    # No label is left in English (the scenario names and the model's field names are the user's).
    visible = re.sub(r"<[^>]+>", " ", arabic)
    for msgid in LABELS.values():
        words = PLACEHOLDER.sub("\0", msgid).split("\0")
        assert not any(len(w.strip(" ,.:()")) > 5 and w.strip(" ,.:()") in visible for w in words), msgid
    # Figures keep Latin digits, as the Arabic route sheets and notices do.
    page = read_page(tmp_path / "ar" / REPORT_FILE)
    assert re.fullmatch(r"[0-9]+", page.rows["n_vehicles"][0][1])
    # matplotlib gets the chart words joined (Arabic presentation forms) and in display order.
    shaped = chart_text("مقارنة", "ar")
    assert all("\ufe70" <= c <= "\ufeff" for c in shaped) and len(shaped) == len("مقارنة")
    assert chart_text("Cost", "tr") == "Cost"
    assert chart_text("مدة (TRY)", "ar").startswith("(TRY) ")  # brackets mirrored, Latin kept in order
    assert "\u200f" not in chart_text("\u200f1,234.50 TRY", "ar")  # no direction mark drawn as a box
    assert (tmp_path / "ar" / "ride_times.png").stat().st_size > 0


def test_compare_command_writes_the_arabic_report(two_plans, tmp_path):
    from typer.testing import CliRunner

    from schoolbus.cli import app
    from schoolbus.planfile import write_plan

    dirs = []
    for label, result in two_plans:
        write_plan(result, tmp_path / label)
        dirs.append(str(tmp_path / label))
    result = CliRunner().invoke(app, ["compare", *dirs, "--out", str(tmp_path / "out"), "--language", "ar"])
    assert result.exit_code == 0, result.output
    assert 'dir="rtl"' in (tmp_path / "out" / REPORT_FILE).read_text(encoding="utf-8")
    bad = CliRunner().invoke(app, ["compare", *dirs, "--out", str(tmp_path / "bad"), "--language", "de"])
    assert bad.exit_code == 2 and "tr, en, ar" in bad.output


def test_a_plan_with_nobody_carried_still_renders(tmp_path):
    fixed = make_plan()
    nobody = replace(
        fixed,
        trips=(),
        vehicles=(),
        assignments=tuple(replace(a, status=Status.UNSERVED, reason=Reason.make(ReasonCode.TEXT, text="r"), stop_id=None, walk_m=None,
                                  pickup_s=None, dropoff_s=None, ride_to_school_s=None, ride_home_s=None)
                          for a in fixed.assignments),
        summary=Summary(0, 0, 12, 0, 12, 0.0, 0.0, 0.0, 0.0, None, None, None, None, None, None, None),
    )  # fmt: skip
    path = render_comparison([("fixture", fixed), ("nobody", nobody)], tmp_path, language="en")
    page = read_page(path)
    assert page.rows["cost_per_student_per_year"][1] == ("", "–")
    assert page.rows["cost_per_student_per_year"][0][0] == repr(fixed.summary.cost_per_student_per_year)
    assert page.rows["n_unserved"] == [(repr(fixed.summary.n_unserved), "1"), ("12", "12")]
    assert "<!-- no rides -->" in (tmp_path / "ride_times.svg").read_text(encoding="utf-8")


def test_bad_comparisons_list_every_problem(tmp_path):
    fixed = make_plan()
    euro = replace(fixed, scenario=replace(fixed.scenario, prices=replace(fixed.scenario.prices, currency="EUR")))
    with pytest.raises(InputError) as error:
        render_comparison([("a", fixed), ("a", fixed), ("b", euro)], tmp_path, language="de")
    assert [p.column for p in error.value.problems] == ["language", "label", "currency"]
    with pytest.raises(InputError):
        render_comparison([], tmp_path)
    assert not (tmp_path / REPORT_FILE).exists()


from schoolbus.outputs.coverage import BELL_LABELS, COVERAGE_LABELS  # noqa: E402

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize("language", REPORT_LANGUAGES)
def test_the_catalogue_has_every_label_translated_with_its_placeholders(language):
    with (LOCALES_DIR / language / "LC_MESSAGES" / f"{REPORT_DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    ids = {m.id for m in catalog if m.id}
    assert ids == set(LABELS.values()) | set(COVERAGE_LABELS.values()) | set(BELL_LABELS.values())  # nothing missing, nothing stale
    labels = report_labels(language)
    for key, msgid in LABELS.items():
        assert catalog[msgid].string, f"{language}: {msgid!r} untranslated"
        assert set(PLACEHOLDER.findall(labels[key])) == set(PLACEHOLDER.findall(msgid)), key
