"""CSV, XLSX and GeoJSON exports of a plan: same cells everywhere, [lon, lat], no home locations."""

from __future__ import annotations

import csv
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from fixtures_plan import STUDENTS, UNSERVED_REASON, make_plan
from schoolbus.model import Direction, RoadStep, Trip
from schoolbus.outputs.export import csv_text, export_tables, path_from_steps, plan_tables

TABLES = ("routes", "stops", "assignments", "vehicles")


@pytest.fixture(scope="module")
def plan():
    return make_plan()


@pytest.fixture(scope="module")
def files(plan, tmp_path_factory):
    return export_tables(plan, tmp_path_factory.mktemp("tables"))


def read_csv(path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_writes_every_table_the_workbook_and_the_geojson(files):
    assert sorted(files) == sorted(
        [f"{t}.csv" for t in TABLES] + ["plan.xlsx", "routes.geojson", "stops.geojson"]
    )
    assert all(p.exists() for p in files.values())


def test_csv_has_a_bom_and_keeps_turkish_letters(files):
    raw = files["stops.csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "Kuşçağız Sokak" in raw.decode("utf-8-sig")
    assert "İstiklal Caddesi" in raw.decode("utf-8-sig")


def test_workbook_reads_back_equal_to_the_csv_files(plan, files):
    workbook = load_workbook(files["plan.xlsx"])
    tables = plan_tables(plan, "tr")
    assert (
        workbook.sheetnames
        == [t.title for t in tables]
        == ["Güzergâhlar", "Duraklar", "Öğrenciler", "Araçlar"]
    )
    for table in tables:
        sheet = workbook[table.title]
        cells = [[csv_text(c) for c in row] for row in sheet.iter_rows(values_only=True)]
        rows = read_csv(files[f"{table.name}.csv"])
        assert rows[0] == [c.key for c in table.columns]
        assert cells[0] == [c.label for c in table.columns]
        assert cells[1:] == rows[1:], table.name
        assert sheet.freeze_panes == "A2"
        for index, column in enumerate(table.columns, start=1):
            width = sheet.column_dimensions[sheet.cell(1, index).column_letter].width
            assert width >= min(len(column.label), 58), column.key


def test_routes_table_follows_each_vehicle_day_visit_by_visit(plan, files):
    rows = read_csv(files["routes.csv"])
    header, body = rows[0], rows[1:]
    assert len(body) == sum(len(t.visits) for t in plan.trips)
    first = dict(zip(header, body[0]))
    assert first == first | {
        "vehicle_id": "V1",
        "trip_id": "T1",
        "seq": "1",
        "place_kind": "stop",
        "place_name": "Ilgaz Sokak",
        "arrive_time": "07:00",
        "board": "st01;st02",
    }
    assert [r[header.index("trip_id")] for r in body][:8] == ["T1"] * 3 + ["T2"] * 2 + ["T3"] * 3


def test_assignments_have_reasons_and_no_home_coordinates(files):
    rows = read_csv(files["assignments.csv"])
    header = rows[0]
    assert not {"lon", "lat", "location", "home"} & set(header)
    by_id = {r[0]: dict(zip(header, r)) for r in rows[1:]}
    assert by_id["st12"]["status"] == "unserved"
    assert by_id["st12"]["reason"] == (
        "1,0 km yürüme sınırı içinde durak yok (servisin girebileceği en yakın yol 1,2 km yürüme mesafesinde)"
    )
    assert by_id["st12"]["reason_code"] == UNSERVED_REASON.code == "no_stop_within_walk"
    assert by_id["st12"]["stop_id"] == "" and by_id["st12"]["pickup_time"] == ""
    assert (
        by_id["st01"] | {"walk_m": "120", "pickup_time": "07:00", "dropoff_time": "12:37"}
        == by_id["st01"]
    )
    everything = "".join(
        p.read_text(encoding="utf-8-sig") for name, p in files.items() if name.endswith(".csv")
    )
    for student in STUDENTS:
        if student.id != "st10":  # st10's door-to-door stop is at the door, by design
            assert (
                str(student.location[0]) not in everything
                and str(student.location[1]) not in everything
            )


def test_geojson_routes_are_lon_lat_linestrings_equal_to_the_steps(plan, files):
    routes = json.loads(files["routes.geojson"].read_text(encoding="utf-8"))
    trips = {t.id: t for t in plan.trips}
    assert len(routes["features"]) == len(plan.trips)
    for feature in routes["features"]:
        trip = trips[feature["properties"]["trip_id"]]
        assert feature["geometry"]["type"] == "LineString"
        assert feature["geometry"]["coordinates"] == [list(p) for p in path_from_steps(trip)]
        for lon, lat in feature["geometry"]["coordinates"]:
            assert 32 < lon < 33 and 39 < lat < 40  # Ankara: lon first
    stops = json.loads(files["stops.geojson"].read_text(encoding="utf-8"))
    assert [f["geometry"]["coordinates"] for f in stops["features"]] == [
        list(s.location) for s in plan.stops
    ]


def test_english_column_names_on_request(plan, tmp_path):
    files = export_tables(plan, tmp_path, language="en")
    workbook = load_workbook(files["plan.xlsx"])
    assert workbook.sheetnames == ["Routes", "Stops", "Pupils", "Vehicles"]
    assert [c.value for c in workbook["Pupils"][1]][:4] == ["Pupil", "Initials", "School id", "School"]


def test_workbook_names_schools_and_turkish_csv_uses_semicolons(plan, tmp_path):
    from schoolbus.outputs.export import plan_tables, write_csv

    files = export_tables(plan, tmp_path, language="tr")
    sheet = load_workbook(files["plan.xlsx"])["Öğrenciler"]
    header = [c.value for c in sheet[1]]
    names = {s.name for s in plan.scenario.schools}
    assert {row[header.index("Okul")] for row in sheet.iter_rows(min_row=2, values_only=True)} <= names
    vehicles = next(t for t in plan_tables(plan, "tr") if t.name == "vehicles")
    write_csv(vehicles, tmp_path / "araclar.csv", for_spreadsheet_language="tr")
    lines = (tmp_path / "araclar.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("Araç;") and "," not in lines[0]
    cost = lines[1].split(";")[-1]
    assert "." not in cost  # a Turkish spreadsheet reads 5500,5 as a number, 5500.5 as text


points = st.tuples(st.integers(0, 5), st.integers(0, 5)).map(
    lambda p: (32.85 + p[0] / 1000, 39.96 + p[1] / 1000)
)


@given(st.lists(st.lists(points, min_size=1, max_size=4), min_size=1, max_size=5))
def test_joined_path_keeps_every_point_in_order_without_repeats(legs):
    # Consecutive steps share their junction point, as the pipeline writes them.
    steps = []
    for coords in legs:
        start = [steps[-1].coords[-1]] if steps else []
        steps.append(RoadStep("x", 1.0, tuple(start + coords)))
    trip = Trip("T", "V", "c", "S", "s", Direction.TO_SCHOOL, (), 0.0, 0, tuple(steps))
    path = path_from_steps(trip)
    assert all(a != b for a, b in zip(path, path[1:]))
    flat = [p for s in steps for p in s.coords]
    deduped = [p for i, p in enumerate(flat) if i == 0 or p != flat[i - 1]]
    assert path == deduped
