"""Bell-time scenarios: schools sharing one bell need a vehicle each; staggered, one carries all."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schoolbus.bells import BELL_STEP_S, allowed_offsets_s, bell_table, choose_bells
from schoolbus.check import check_plan
from schoolbus.errors import InputError
from schoolbus.ingest import load_scenario
from schoolbus.model import BellWindow, School, Shift, VehicleType
from schoolbus.pipeline import plan
from test_pipeline import FAST, at, district, grid, grid_point, pupils  # noqa: F401  (grid fixture)


def three_schools(windows=True):
    """Three schools, each with 10 pupils, all ringing at 08:00; windows 07:00-09:00."""
    shift = (Shift("tam", at("08:00"), at("14:00")),)
    schools = [School(f"S{k}", f"Okul {k}", grid_point(2 * k, 3), shift) for k in range(3)]
    students = [p for k in range(3) for p in pupils(f"P{k}", [(2 * k, 0)], 10, f"S{k}", "tam")]
    scenario = district(students, schools, [VehicleType("midi", seats=25, day_rate=1000.0)])
    if windows:
        scenario = replace(scenario, bell_windows=tuple(BellWindow(f"S{k}", "tam", at("07:00"), at("09:00")) for k in range(3)))
    return scenario


def test_allowed_offsets_keep_every_windowed_shift_inside_and_double_shift_gaps():
    school = School("S", "Okul", (0.0, 0.0), (Shift("sabah", at("07:20"), at("12:00")), Shift("ogle", at("12:30"), at("17:30"))))
    windows = [BellWindow("S", "sabah", at("07:00"), at("08:00")), BellWindow("S", "ogle", at("12:00"), at("13:00"))]
    offsets = allowed_offsets_s(school, windows)
    assert offsets[0] == 0 and set(offsets) == {k * BELL_STEP_S for k in range(-2, 4)}  # ogle caps +30 min
    assert allowed_offsets_s(school, []) == (0,)


def test_staggered_bells_need_fewer_vehicles_and_the_plan_checks(grid):  # noqa: F811
    scenario = three_schools()
    choice = choose_bells(scenario, grid, lambda s: plan(s, grid, FAST))
    assert choice.current.summary.n_vehicles == 3
    assert choice.plan.summary.n_vehicles < 3
    assert check_plan(choice.plan, grid) == []
    bells = sorted(s.shifts[0].bell_s for s in choice.plan.scenario.schools)
    assert len(set(bells)) > 1 and all(at("07:00") <= b <= at("09:00") for b in bells)
    rows = bell_table(choice.current, choice.plan)
    assert [r.current_bell_s for r in rows] == [at("08:00")] * 3
    assert sum(r.chosen_cost_per_year for r in rows) == pytest.approx(choice.plan.summary.cost_per_year, abs=1)
    # Through the pipeline: the scenario asks for bells to be chosen.
    via_plan = plan(replace(scenario, choose_bells=True), grid, FAST)
    assert via_plan.summary.n_vehicles == choice.plan.summary.n_vehicles


def test_without_windows_the_bells_stay(grid):  # noqa: F811
    scenario = three_schools(windows=False)
    choice = choose_bells(scenario, grid, lambda s: plan(s, grid, FAST))
    assert choice.plan.summary.n_vehicles == choice.current.summary.n_vehicles
    assert all(o == 0 for o in choice.offsets_s.values())


def test_windows_are_read_from_the_schools_file_and_bad_ones_named(tmp_path):
    schools = tmp_path / "schools.csv"
    schools.write_text(
        "id,name,lon,lat,shift,bell,dismissal,bell_earliest,bell_latest\n"
        "S,Okul,32.85,39.98,sabah,07:20,12:00,07:00,08:00\n"
        "S,Okul,32.85,39.98,ogle,12:30,17:30,,\n",
        encoding="utf-8",
    )
    students = tmp_path / "students.csv"
    students.write_text("id,lon,lat,school_id,shift,grade\nA,32.86,39.99,S,sabah,3\n", encoding="utf-8")
    scenario = load_scenario(students, schools)
    assert scenario.bell_windows == (BellWindow("S", "sabah", at("07:00"), at("08:00")),)
    schools.write_text(
        "id,name,lon,lat,shift,bell,dismissal,bell_earliest,bell_latest\n"
        "S,Okul,32.85,39.98,sabah,07:20,12:00,08:00,07:00\n"  # latest before earliest
        "S,Okul,32.85,39.98,ogle,12:30,17:30,12:00,\n",  # earliest without latest
        encoding="utf-8",
    )
    with pytest.raises(InputError) as error:
        load_scenario(students, schools)
    assert [(p.row, p.column) for p in error.value.problems] == [(2, "bell_latest"), (3, "bell_latest")]


def test_the_comparison_report_shows_the_bells_school_by_school(grid, tmp_path):  # noqa: F811
    from schoolbus.outputs.reports import render_comparison

    scenario = three_schools()
    current = plan(scenario, grid, FAST)
    chosen = plan(replace(scenario, name="staggered", choose_bells=True), grid, FAST)
    html = render_comparison([("base", current), ("staggered", chosen)], tmp_path, language="en").read_text(encoding="utf-8")
    section = html.split('<table class="bells">', 1)[1].split("</table>", 1)[0]
    assert "Bell in base" in section and section.count("<tr>") == 1 + 3
    assert "08:00" in section and any(f"{h:02d}:{m:02d}" in section for h in (7, 8) for m in range(0, 60, 10) if (h, m) != (8, 0))
    plain = render_comparison([("base", current), ("again", current)], tmp_path / "plain", language="en").read_text(encoding="utf-8")
    assert '<table class="bells">' not in plain


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_cli_plan_choose_bells_writes_the_school_table(helsinki_pbf, tmp_path, monkeypatch):
    from pathlib import Path

    from typer.testing import CliRunner

    from schoolbus.cli import app

    examples = Path(__file__).resolve().parents[1] / "data" / "examples"
    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "cache"))
    lines = (examples / "schools.csv").read_text(encoding="utf-8").splitlines()
    windowed = [lines[0] + ",bell_earliest,bell_latest"]
    for line in lines[1:]:
        bell = line.split(",")[-2]
        hours, minutes = map(int, bell.split(":"))
        low, high = hours * 60 + minutes - 30, hours * 60 + minutes + 30
        windowed.append(f"{line},{low // 60:02d}:{low % 60:02d},{high // 60:02d}:{high % 60:02d}")
    schools = tmp_path / "schools.csv"
    schools.write_text("\n".join(windowed) + "\n", encoding="utf-8")
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, [
        "plan", "--students", str(examples / "students.csv"), "--schools", str(schools),
        "--fleet", str(examples / "fleet.yaml"), "--policy", str(examples / "policy.yaml"),
        "--osm", str(helsinki_pbf), "--out", str(out), "--time-limit", "1", "--workers", "1", "--choose-bells",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = (out / "bells.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("school_id,current_bell,chosen_bell") and rows[-1].startswith("all,")
    _, _, _, now, chosen, *_ = rows[-1].split(",")
    assert int(chosen) <= int(now)
