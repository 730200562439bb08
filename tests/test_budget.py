"""Serve within a budget: the plan costs at most the budget, carries the most priority-weighted
pupils it can, and says of every pupil left out that the budget ran out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schoolbus.budget import (
    ORDER_PRIORITY_NEAREST,
    budget_reason,
    coverage_curve,
    marginal_costs,
    plan_within_budget,
    priority_weight,
    weighted_served,
)
from schoolbus.check import check_plan
from schoolbus.model import GradeBand, PriorityRules, School, Status, Student, VehicleType
from schoolbus.pipeline import plan
from test_pipeline import FAST, ONE_SHIFT, district, grid, grid_point, pupils  # noqa: F401  (grid fixture)

DAYS = 181
DAY_RATE = 1000.0


def four_corners(priorities=None):
    """40 pupils at four corners, 16 seats a vehicle: a vehicle per corner, 4 in all."""
    school = School("S", "Okul", grid_point(3, 3), ONE_SHIFT)
    students = pupils("P", [(0, 0), (0, 6), (6, 0), (6, 6)], 10, "S", "tam")
    if priorities:
        students = [replace(s, priority=priorities.get(s.id[:2], 1.0)) for s in students]
    return district(students, [school], [VehicleType("mini", seats=16, day_rate=DAY_RATE)])


def plan_fn(grid):  # noqa: F811
    return lambda scenario: plan(scenario, grid, FAST)


def test_a_budget_of_two_vehicles_buys_the_two_most_valuable_corners(grid):  # noqa: F811
    # The corner P3 (6, 0) pupils weigh 5, P1 (0, 6) weigh 3: those two corners are carried (and
    # whoever else fits in their two vehicles' spare seats).
    scenario = four_corners({"P3": 5.0, "P1": 3.0})
    full = plan(scenario, grid, FAST)
    assert full.summary.n_vehicles == 4
    budget = full.summary.cost_per_year / 2 + 1.0
    result = plan(replace(scenario, budget_per_year=budget), grid, FAST)
    assert result.summary.cost_per_year <= budget
    assert check_plan(result, grid) == []
    carried = [a.student_id for a in result.assignments if a.status is Status.ROUTED]
    assert sum(i.startswith(("P3", "P1")) for i in carried) == 20
    assert result.summary.n_vehicles == 2
    reason = budget_reason(budget, "TRY")
    for a in result.assignments:
        if a.status is Status.UNSERVED:
            assert a.reason == reason
    assert result.scenario.budget_per_year == budget  # the plan records the budget it kept


def test_a_zero_budget_carries_nobody_and_a_large_one_everybody(grid):  # noqa: F811
    scenario = four_corners()
    nothing = plan(replace(scenario, budget_per_year=0.0), grid, FAST)
    assert nothing.summary.cost_per_year == 0 and nothing.summary.n_routed == 0
    assert {a.reason for a in nothing.assignments} == {budget_reason(0.0, "TRY")}
    everything = plan(replace(scenario, budget_per_year=1e12), grid, FAST)
    assert everything.summary.n_unserved == 0


def test_pupils_unserved_for_their_own_reason_keep_it(grid):  # noqa: F811
    school = School("S", "Okul", grid_point(3, 3), ONE_SHIFT)
    far = Student("FAR", (grid_point(3, 3)[0] + 0.2, grid_point(3, 3)[1]), "S", "tam", 6)
    students = pupils("P", [(0, 0), (6, 6)], 10, "S", "tam") + [far]
    scenario = district(students, [school], [VehicleType("mini", seats=16, day_rate=DAY_RATE)])
    full = plan(scenario, grid, FAST)
    own = next(a.reason for a in full.assignments if a.student_id == "FAR")
    result = plan(replace(scenario, budget_per_year=full.summary.cost_per_year / 2 + 1), grid, FAST)
    assert next(a.reason for a in result.assignments if a.student_id == "FAR") == own


def test_priority_rules_add_to_the_priority_column():
    school = School("S", "Okul", (32.85, 39.98), ONE_SHIFT)
    pupil = Student("A", (32.85, 39.99), "S", "tam", 2, needs_wheelchair=True, priority=2.0, is_vulnerable=True)
    rules = PriorityRules(per_km_from_school=1.0, wheelchair=3.0, vulnerable=4.0, grade_bands=(GradeBand(4, 0.5), GradeBand(8, 0.25)))
    assert priority_weight(pupil, school, rules) == pytest.approx(2.0 + 1.112 + 3.0 + 4.0 + 0.5, abs=0.01)
    assert priority_weight(replace(pupil, priority=0.0, needs_wheelchair=False, is_vulnerable=False, grade=9), school, PriorityRules()) == 0.0


def test_the_planner_beats_priority_then_nearest_on_cost_per_weight(grid):  # noqa: F811
    # Equal priorities: the baseline takes the pupils nearest to school first, but the near ones
    # go to two schools with the same bell (a vehicle each), while school A's far pupils fill the
    # rest of A's one vehicle. One vehicle's budget: the planner carries A's 16, the baseline fewer.
    schools = [School("A", "Okul A", grid_point(0, 0), ONE_SHIFT), School("B", "Okul B", grid_point(6, 0), ONE_SHIFT)]
    students = pupils("NA", [(1, 0)], 4, "A", "tam") + pupils("NB", [(5, 0)], 4, "B", "tam") + pupils("FA", [(0, 5)], 12, "A", "tam")
    scenario = district(students, schools, [VehicleType("mini", seats=16, day_rate=DAY_RATE)])
    full = plan(scenario, grid, FAST)
    assert full.summary.n_vehicles == 2
    budgeted = replace(scenario, budget_per_year=DAY_RATE * DAYS)
    ours = plan_within_budget(budgeted, plan_fn(grid), full=full)
    baseline = plan_within_budget(budgeted, plan_fn(grid), order=ORDER_PRIORITY_NEAREST, full=full)
    assert ours.summary.cost_per_year <= budgeted.budget_per_year
    assert baseline.summary.cost_per_year <= budgeted.budget_per_year
    assert weighted_served(ours) == 16
    assert weighted_served(baseline) < 16


def test_the_cost_coverage_curve_rises_with_the_budget(grid):  # noqa: F811
    points = coverage_curve(four_corners(), plan_fn(grid), fractions=(0.0, 0.5, 1.0))
    served = [p.n_served for p in points]
    assert served[0] == 0 and 20 <= served[1] <= 32 and served[2] == 40  # half the money: 2 of 4 vehicles
    assert all(p.cost_per_year <= p.budget_per_year + 0.01 for p in points)
    margins = marginal_costs(points)
    assert margins[0] is None and margins[1] == pytest.approx(points[1].cost_per_year / served[1])


# ---- the command line on the real Helsinki extract ----------------------------------------------

from pathlib import Path  # noqa: E402

from typer.testing import CliRunner  # noqa: E402

from schoolbus.cli import app  # noqa: E402
from schoolbus.planfile import read_plan  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
INPUTS = ["--students", str(EXAMPLES / "students.csv"), "--schools", str(EXAMPLES / "schools.csv"),
          "--fleet", str(EXAMPLES / "fleet.yaml"), "--policy", str(EXAMPLES / "policy.yaml")]  # fmt: skip


@pytest.mark.slow
def test_cli_plan_with_a_budget_keeps_it_and_names_who_is_left_out(helsinki_pbf, tmp_path, monkeypatch):
    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "plan"
    args = ["plan", *INPUTS, "--osm", str(helsinki_pbf), "--out", str(out), "--time-limit", "1", "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--budget", "800000"])
    assert result.exit_code == 0, result.output
    written = read_plan(out)
    assert written.scenario.budget_per_year == 800000.0
    assert 0 < written.summary.cost_per_year <= 800000.0
    assert 0 < written.summary.n_unserved < written.summary.n_students
    assert "not served within budget" in " ".join(result.output.split())
    refused = CliRunner().invoke(app, [*args, "--budget", "-5"])
    assert refused.exit_code == 2 and "--budget" in refused.output


@pytest.mark.slow
def test_cli_scenarios_with_a_budget_add_the_cost_coverage_curve_to_the_report(helsinki_pbf, tmp_path, monkeypatch):
    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "cache"))
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text("scenarios:\n  - name: base\n  - name: half\n    budget: 800000\n", encoding="utf-8")
    out = tmp_path / "plans"
    result = CliRunner().invoke(
        app, ["plan", *INPUTS, "--osm", str(helsinki_pbf), "--out", str(out), "--time-limit", "1", "--workers", "1", "--scenario", str(scenarios), "--report-language", "en"]
    )
    assert result.exit_code == 0, result.output
    report = (out / "comparison" / "comparison.html").read_text(encoding="utf-8")
    assert 'id="coverage"' in report and "Cost per extra pupil per year" in report
    section = report.split('<table class="coverage">', 1)[1].split("</table>", 1)[0]
    assert section.count("<tr>") == 1 + 5  # the header and budgets 0, 25, 50, 75 and 100 %
    assert (out / "comparison" / "cost_coverage.png").stat().st_size > 0
    assert read_plan(out / "half").summary.cost_per_year <= 800000.0
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  - name: x\n    budget: lots\n", encoding="utf-8")
    refused = CliRunner().invoke(app, ["plan", *INPUTS, "--osm", str(helsinki_pbf), "--out", str(out), "--scenario", str(bad)])
    assert refused.exit_code == 2
    assert "scenarios[1].budget" in refused.output and "an annual budget" in " ".join(refused.output.split())


def test_the_planner_is_never_worse_than_the_baseline_and_bounded_by_work(grid):  # noqa: F811
    # Four corners at unequal priorities, budgets from one to three vehicles: the planner's choice
    # carries at least the baseline's weight, within the budget, in a bounded number of plans.
    import math

    from schoolbus.budget import MAX_SEARCH_PLANS, PREFIX_TOLERANCE

    scenario = four_corners({"P0": 2.0, "P1": 1.0, "P2": 4.0, "P3": 3.0})
    made: dict[tuple[str, ...], object] = {}
    calls = []

    def counted(s):
        key = tuple(x.id for x in s.students)
        calls.append(key)
        if key not in made:
            made[key] = plan(s, grid, FAST)
        return made[key]

    full = counted(scenario)
    for n_vehicles in (1, 2, 3):
        budgeted = replace(scenario, budget_per_year=full.summary.cost_per_year * n_vehicles / 4 + 1.0)
        calls.clear()
        ours = plan_within_budget(budgeted, counted, full=full)
        n_ours = len(calls)
        baseline = plan_within_budget(budgeted, counted, order=ORDER_PRIORITY_NEAREST, full=full)
        assert ours.summary.cost_per_year <= budgeted.budget_per_year
        assert weighted_served(ours) >= weighted_served(baseline)
        assert check_plan(ours, grid) == []
        # The money is used: n vehicles' worth carries n corners (10 pupils each), at least.
        assert ours.summary.n_vehicles == n_vehicles and ours.summary.n_routed >= 10 * n_vehicles
        n_bisection = math.ceil(math.log2(1 / PREFIX_TOLERANCE)) + 1
        assert n_ours <= MAX_SEARCH_PLANS + n_bisection
