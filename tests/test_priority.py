"""Priority rules from the input files: the students file's ``priority`` and ``vulnerable`` columns,
the policy file's ``priority`` section and a scenario's ``policy.priority``, each validated and
each used by a budgeted plan."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from schoolbus.budget import priority_weight, weights_of
from schoolbus.errors import InputError
from schoolbus.ingest import load_scenario, read_policy, read_priority_rules
from schoolbus.model import GradeBand, Policy, PriorityRules, School, Status, Student, VehicleType
from schoolbus.pipeline import plan
from schoolbus.scenarios import read_variants, scenarios_from_file
from test_pipeline import FAST, ONE_SHIFT, district, grid, grid_point, pupils  # noqa: F401  (grid fixture)

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"

SCHOOLS_CSV = "id,name,lon,lat,shift,bell,dismissal\nS1,Okul,24.94,60.17,morning,07:20,12:00\n"
STUDENTS_CSV = """id,lon,lat,school_id,shift,grade,wheelchair,priority,vulnerable
A,24.94,60.18,S1,morning,2,yes,3,evet
B,24.94,60.17,S1,morning,6,,,
C,24.95,60.17,S1,morning,10,no,0,hayır
"""
POLICY_YAML = """walk_limit_m: 600
priority:
  per_km_from_school: 0.5
  wheelchair: 2
  vulnerable: 4
  grade_bands:
    - {max_grade: 4, weight: 1}
    - {max_grade: 8, weight: 0.5}
"""
RULES = PriorityRules(per_km_from_school=0.5, wheelchair=2.0, vulnerable=4.0, grade_bands=(GradeBand(4, 1.0), GradeBand(8, 0.5)))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_policy_file_and_the_students_columns_set_each_pupils_weight(tmp_path):
    scenario = load_scenario(
        write(tmp_path, "students.csv", STUDENTS_CSV), write(tmp_path, "schools.csv", SCHOOLS_CSV), policy=write(tmp_path, "policy.yaml", POLICY_YAML)
    )
    assert scenario.priority_rules == RULES
    assert scenario.policy.walk_limit_m == 600.0  # the policy's other keys still read
    a, b, c = scenario.students
    assert (a.priority, a.is_vulnerable, b.priority, b.is_vulnerable, c.priority, c.is_vulnerable) == (3.0, True, 1.0, False, 0.0, False)
    weights = weights_of(scenario)
    # A: 3 + 0.5 per km (1.11 km north) + wheelchair 2 + vulnerable 4 + grades up to 4: 1.
    assert weights["A"] == pytest.approx(3 + 0.5 * 1.112 + 2 + 4 + 1, abs=0.01)
    assert weights["B"] == pytest.approx(1 + 0.5)  # at the school; grades 5-8: 0.5
    assert weights["C"] == pytest.approx(0.5 * 0.556, abs=0.01)  # priority 0, 0.56 km east, grade 10: no band


def test_the_same_rules_in_toml_and_none_without_the_section(tmp_path):
    toml = write(
        tmp_path,
        "policy.toml",
        """
        [priority]
        per_km_from_school = 0.5
        wheelchair = 2
        vulnerable = 4

        [[priority.grade_bands]]
        max_grade = 4
        weight = 1

        [[priority.grade_bands]]
        max_grade = 8
        weight = 0.5
        """,
    )
    assert read_priority_rules(toml) == RULES
    assert read_priority_rules(EXAMPLES / "policy.yaml") == PriorityRules()  # commented out there


def test_grade_bands_count_the_first_band_at_or_above_the_grade():
    school = School("S", "Okul", (24.94, 60.17), ONE_SHIFT)
    rules = PriorityRules(grade_bands=(GradeBand(0, 3.0), GradeBand(4, 1.0), GradeBand(8, 0.5)))
    pupil = Student("X", (24.94, 60.17), "S", "tam", 6)
    weights = [priority_weight(replace(pupil, grade=grade, priority=0.0), school, rules) for grade in (0, 1, 4, 5, 8, 9, 12)]
    assert weights == [3.0, 1.0, 1.0, 0.5, 0.5, 0.0, 0.0]


INVALID = [
    # (priority section in YAML, key path of the one problem, words of what was expected)
    ("priority: 5\n", "priority", "a mapping of priority rules"),  # a number, not rules
    ("priority: {wheelchair: -1}\n", "priority.wheelchair", "at least 0"),  # weights are never negative
    ("priority: {vulnerable: 5000}\n", "priority.vulnerable", "at most 1000"),  # beyond the column's range
    ("priority: {vulnerable: 'high'}\n", "priority.vulnerable", "a number"),  # text
    ("priority: {distance: 1}\n", "priority.distance", "one of the keys per_km_from_school"),  # unknown key
    ("priority: {grade_bands: {max_grade: 4}}\n", "priority.grade_bands", "a list"),  # one band, not a list
    ("priority: {grade_bands: [{max_grade: 4}]}\n", "priority.grade_bands[1].weight", "required"),  # weight missing
    ("priority: {grade_bands: [{max_grade: 13, weight: 1}]}\n", "priority.grade_bands[1].max_grade", "at most 12"),  # no grade 13
    (  # bands go up, so the first band at or above a grade is well defined
        "priority: {grade_bands: [{max_grade: 4, weight: 1}, {max_grade: 3, weight: 2}]}\n",
        "priority.grade_bands[2].max_grade",
        "a grade above the band before it (4)",
    ),
]


@pytest.mark.parametrize(("body", "column", "expected"), INVALID)
def test_invalid_priority_rules_are_named_by_key(tmp_path, body, column, expected):
    path = write(tmp_path, "policy.yaml", body)
    for read in (read_policy, read_priority_rules):  # the upload check and the rules reader alike
        with pytest.raises(InputError) as error:
            read(path)
        problems = error.value.problems
        assert [(p.file, p.row, p.column) for p in problems] == [(str(path), None, column)], problems
        assert expected in problems[0].expected
        assert "Priority" not in str(problems[0])  # no Python reprs of the model


def test_load_scenario_reports_a_bad_priority_section_with_the_other_files_problems(tmp_path):
    students = write(tmp_path, "students.csv", STUDENTS_CSV.replace("A,24.94,60.18,S1,morning,2,yes,3", "A,24.94,60.18,S1,morning,2,yes,-3"))
    with pytest.raises(InputError) as error:
        load_scenario(students, write(tmp_path, "schools.csv", SCHOOLS_CSV), policy=write(tmp_path, "policy.yaml", "priority: {wheelchair: -1}\n"))
    assert [p.column for p in error.value.problems] == ["priority", "priority.wheelchair"]


# ---- scenario files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base():
    return load_scenario(EXAMPLES / "students.csv", EXAMPLES / "schools.csv", EXAMPLES / "fleet.yaml", EXAMPLES / "policy.yaml")


def test_a_scenario_changes_priority_rules_key_by_key(base, tmp_path):
    base = replace(base, priority_rules=PriorityRules(wheelchair=2.0, vulnerable=1.0))
    path = write(
        tmp_path,
        "scenarios.yaml",
        """
        scenarios:
          - name: base
          - name: vulnerable-first
            budget: 500000
            policy:
              walk_limit_m: 700
              priority: {vulnerable: 6, grade_bands: [{max_grade: 4, weight: 1}]}
        """,
    )
    same, changed = scenarios_from_file(path, base)
    assert same.priority_rules == base.priority_rules
    assert changed.priority_rules == PriorityRules(wheelchair=2.0, vulnerable=6.0, grade_bands=(GradeBand(4, 1.0),))
    assert changed.policy == replace(base.policy, walk_limit_m=700.0)
    assert changed.budget_per_year == 500000.0


def test_a_scenarios_bad_priority_rules_are_named_by_their_path(tmp_path):
    path = write(
        tmp_path,
        "scenarios.yaml",
        """
        scenarios:
          - name: a
            policy: {priority: {vulnerable: -2, grade_bands: [{max_grade: 4}]}}
          - name: b
            policy: {priority: [1, 2]}
        """,
    )
    with pytest.raises(InputError) as error:
        read_variants(path)
    assert [p.column for p in error.value.problems] == [
        "scenarios[1].policy.priority.vulnerable",
        "scenarios[1].policy.priority.grade_bands[1].weight",
        "scenarios[2].policy.priority",
    ]


# ---- the rules decide whom a budget carries ----------------------------------------------------


def test_the_policys_rules_decide_which_corner_a_budget_carries(grid):  # noqa: F811
    # Two corners of 10 pupils, 16 seats a vehicle: one vehicle's budget carries one corner. Every
    # pupil's priority column is 1; the far corner's pupils are young, the near corner's flagged
    # vulnerable: the rules alone decide.
    school = School("S", "Okul", grid_point(3, 3), ONE_SHIFT)
    young = pupils("Y", [(0, 0)], 10, "S", "tam", grade=2)
    flagged = [replace(s, is_vulnerable=True) for s in pupils("V", [(6, 6)], 10, "S", "tam", grade=9)]
    no_escorts = Policy(escort_max_grade=-1)  # both vehicles cost the same
    scenario = district(young + flagged, [school], [VehicleType("mini", seats=16, day_rate=1000.0)], no_escorts)
    full = plan(scenario, grid, FAST)
    assert full.summary.n_vehicles == 2
    budget = full.summary.cost_per_year / 2 + 1.0
    young_first = PriorityRules(vulnerable=1.0, grade_bands=(GradeBand(4, 2.0),))
    vulnerable_first = PriorityRules(vulnerable=3.0, grade_bands=(GradeBand(4, 2.0),))
    for rules, first, second in ((young_first, "Y", "V"), (vulnerable_first, "V", "Y")):
        result = plan(replace(scenario, budget_per_year=budget, priority_rules=rules), grid, FAST)
        assert result.summary.cost_per_year <= budget
        carried = [a.student_id[0] for a in result.assignments if a.status is Status.ROUTED]
        # The heavier corner rides whole; the other only in its vehicle's spare seats, if at all.
        assert carried.count(first) == 10 and carried.count(second) < 10, (rules, carried)


# ---- the command line on the real Helsinki extract ----------------------------------------------


@pytest.mark.slow
def test_cli_plan_with_a_budget_carries_the_pupils_the_policy_weighs_most(helsinki_pbf, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from schoolbus.cli import app
    from schoolbus.planfile import read_plan

    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "cache"))
    rows = (EXAMPLES / "students.csv").read_text(encoding="utf-8").splitlines()
    afternoon = [i for i, row in enumerate(rows) if ",SCH-ILK,afternoon," in row][:5]
    flagged = {rows[i].split(",")[0] for i in afternoon}
    students = write(
        tmp_path, "students.csv", "\n".join([rows[0] + ",vulnerable"] + [row + (",evet" if i in afternoon else ",") for i, row in enumerate(rows) if i]) + "\n"
    )
    policy = write(tmp_path, "policy.yaml", (EXAMPLES / "policy.yaml").read_text(encoding="utf-8") + "priority: {vulnerable: 50}\n")
    out = tmp_path / "plan"
    args = ["plan", "--students", str(students), "--schools", str(EXAMPLES / "schools.csv"), "--fleet", str(EXAMPLES / "fleet.yaml")]
    args += ["--policy", str(policy), "--osm", str(helsinki_pbf), "--out", str(out), "--time-limit", "1", "--workers", "1", "--budget", "800000"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = read_plan(out)
    assert written.scenario.priority_rules == PriorityRules(vulnerable=50.0)  # kept with the plan
    assert written.summary.cost_per_year <= 800000.0 and written.summary.n_unserved > len(flagged)
    routed = {a.student_id for a in written.assignments if a.status is Status.ROUTED}
    assert flagged <= routed
    bad = write(tmp_path, "bad.yaml", "priority: {vulnerable: -1}\n")
    refused = CliRunner().invoke(app, [*args[:-2], "--policy", str(bad), "--budget", "800000"])
    assert refused.exit_code == 2 and "priority.vulnerable" in refused.output


def test_a_plan_directory_keeps_the_rules_and_the_budget(tmp_path):
    from fixtures_plan import make_plan
    from schoolbus.planfile import read_plan, write_plan

    made = make_plan()
    plan_ = replace(made, scenario=replace(made.scenario, priority_rules=RULES, budget_per_year=123456.0))
    write_plan(plan_, tmp_path / "plan")
    assert read_plan(tmp_path / "plan").scenario == plan_.scenario
