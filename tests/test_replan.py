"""Changes through the year: change files, the stability-first re-planner, plan diffs (real Helsinki roads)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from schoolbus.changes import ADD_PUPIL, CLOSE_ROAD, read_changes
from schoolbus.check import check_plan
from schoolbus.cli import app
from schoolbus.diff import diff_plans
from schoolbus.errors import InputError
from schoolbus.matrix import fastest_path
from schoolbus.model import Direction, Status
from schoolbus.network import load_network
from schoolbus.pipeline import plan
from schoolbus.planfile import NetworkSource, read_plan, write_plan
from schoolbus.replan import REASON_ADDED, replan
from schoolbus.synthetic import demo_scenario, read_osm_schools

COLUMNS = ["change", "student_id", "lon", "lat", "lon2", "lat2", "way_id", "school_id", "shift", "grade",
           "needs_wheelchair", "stop_id", "vehicle_id"]


@pytest.fixture(scope="module")
def base(helsinki_pbf, tmp_path_factory):
    """A 120-pupil Helsinki demo plan written with its network source, and the network."""
    folder = tmp_path_factory.mktemp("replan")
    network = load_network(osm=helsinki_pbf, cache_dir=folder / "cache")
    scenario = demo_scenario(read_osm_schools(helsinki_pbf), network.drive, n_students=120, seed=3)
    result = plan(scenario, network)
    write_plan(result, folder / "base", NetworkSource.from_file("osm", helsinki_pbf))
    return folder, network, read_plan(folder / "base")


def write_changes(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def neighbour_of(plan_, index: int, d_lon: float = 0.0003) -> dict:
    """An add_pupil row for a new pupil living next to a routed pupil (same school and shift)."""
    routed = [a for a in plan_.assignments if a.status is Status.ROUTED]
    student = next(s for s in plan_.scenario.students if s.id == routed[index].student_id)
    return {
        "change": ADD_PUPIL, "student_id": f"NEW{index}", "lon": student.location[0] + d_lon,
        "lat": student.location[1], "school_id": student.school_id, "shift": student.shift, "grade": 6,
    }


def test_change_file_problems_name_file_row_column_and_expectation(base, tmp_path):
    folder, _, base_plan = base
    student = base_plan.scenario.students[0]
    rows = [
        {"change": "teleport"},  # row 2: unknown kind
        {"change": "remove_pupil", "student_id": "NOBODY"},  # row 3: unknown pupil
        {"change": "add_pupil", "student_id": student.id, "lon": "x", "lat": 60.2,
         "school_id": student.school_id, "shift": student.shift, "grade": 3},  # row 4: existing id, bad lon
        {"change": "add_pupil", "student_id": "N1", "lon": 24.9, "lat": 60.2,
         "school_id": student.school_id, "shift": "night", "grade": 15},  # row 5: no such shift, grade too high
        {"change": "close_stop", "stop_id": "S-404"},  # row 6: unknown stop
        {"change": "withdraw_vehicle", "vehicle_id": "V999"},  # row 7: unknown vehicle
        {"change": "close_road", "lon": 24.9, "lat": 60.2},  # row 8: segment without its second end
    ]
    with pytest.raises(InputError) as error:
        read_changes(write_changes(tmp_path / "bad.csv", rows), base_plan)
    found = {(p.row, p.column) for p in error.value.problems}
    assert {(2, "change"), (3, "student_id"), (4, "student_id"), (4, "lon"), (5, "shift"), (5, "grade"),
            (6, "stop_id"), (7, "vehicle_id"), (8, "lon2"), (8, "lat2")} <= found
    assert all(p.file.endswith("bad.csv") for p in error.value.problems)

    result = CliRunner().invoke(
        app, ["replan", str(folder / "base"), "--changes", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "NOBODY" in result.output and "Traceback" not in result.output


def test_yaml_change_file_reads_like_the_table(base, tmp_path):
    _, _, base_plan = base
    row = neighbour_of(base_plan, 0)
    (tmp_path / "changes.yaml").write_text(
        "changes:\n"
        f"  - {{change: add_pupil, student_id: {row['student_id']}, lon: {row['lon']}, lat: {row['lat']},"
        f" school_id: {row['school_id']}, shift: {row['shift']}, grade: 6}}\n"
        f"  - {{change: remove_pupil, student_id: {base_plan.scenario.students[3].id}}}\n",
        encoding="utf-8",
    )
    from_yaml = read_changes(tmp_path / "changes.yaml", base_plan)
    from_csv = read_changes(
        write_changes(tmp_path / "c.csv", [row, {"change": "remove_pupil", "student_id": base_plan.scenario.students[3].id}]),
        base_plan,
    )
    assert [(c.kind, c.student_id, c.student) for c in from_yaml.changes] == [
        (c.kind, c.student_id, c.student) for c in from_csv.changes
    ]
    (tmp_path / "bad.yaml").write_text("changes: [{change: add_pupil, student_id: Z}]\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_changes(tmp_path / "bad.yaml", base_plan)
    assert {(1, "lon"), (1, "school_id"), (1, "grade")} <= {(p.row, p.column) for p in error.value.problems}


def test_new_pupils_join_existing_trips_and_nobody_else_moves_beyond_tolerance(base, tmp_path):
    _, network, base_plan = base
    changes = read_changes(
        write_changes(tmp_path / "c.csv", [neighbour_of(base_plan, 0), neighbour_of(base_plan, 40, -0.0002)]),
        base_plan,
    )
    result = replan(base_plan, changes, network)
    new = {a.student_id: a for a in result.plan.assignments}
    assert new["NEW0"].status is Status.ROUTED and new["NEW40"].status is Status.ROUTED
    assert result.new_vehicles == ()
    assert result.plan.summary.n_vehicles == base_plan.summary.n_vehicles
    assert result.unaffected_moved(result.tolerance_s) == ()
    assert {p.student_id for p in result.pupils if p.reason == REASON_ADDED} == {"NEW0", "NEW40"}
    # Trips of schools and shifts no change touched are the base's, byte for byte.
    touched = {(s.school_id, s.shift) for s in (c.student for c in changes.changes)}
    base_trips = {t.id: t for t in base_plan.trips}
    for trip in result.plan.trips:
        if (trip.school_id, trip.shift) not in touched:
            assert trip == base_trips[trip.id]
    assert check_plan(result.plan, network) == []


def test_leavers_closed_stop_and_withdrawn_vehicle(base, tmp_path):
    _, network, base_plan = base
    leaver = base_plan.assignments[7].student_id
    stop = base_plan.stops[2]
    vehicle = base_plan.vehicles[-1]
    rows = [
        {"change": "remove_pupil", "student_id": leaver},
        {"change": "close_stop", "stop_id": stop.id},
        {"change": "withdraw_vehicle", "vehicle_id": vehicle.id},
    ]
    result = replan(base_plan, read_changes(write_changes(tmp_path / "c.csv", rows), base_plan), network)
    assert leaver not in {a.student_id for a in result.plan.assignments}
    assert stop.id not in {s.id for s in result.plan.stops}
    for student_id in stop.student_ids:
        a = next(x for x in result.plan.assignments if x.student_id == student_id)
        assert a.stop_id != stop.id
        assert a.status is Status.ROUTED or a.reason
    kept = [v for v in result.plan.vehicles if v.id == vehicle.id]
    assert not kept or set(kept[0].trip_ids).isdisjoint(vehicle.trip_ids) or vehicle.id in result.new_vehicles
    withdrawn_riders = {i for t in base_plan.trips if t.vehicle_id == vehicle.id for v in t.visits for i in v.board}
    carried = {a.student_id for a in result.plan.assignments if a.status is Status.ROUTED}
    assert withdrawn_riders - {leaver} <= carried | {a.student_id for a in result.plan.assignments if a.reason}


@pytest.mark.slow
def test_closed_road_is_avoided_and_validate_applies_the_closure(base, tmp_path):
    folder, network, base_plan = base
    trip = next(t for t in base_plan.trips if t.direction is Direction.TO_SCHOOL and len(t.visits) >= 3)
    stops = {s.id: s for s in base_plan.stops}
    a, b = stops[trip.visits[0].stop_id].node_id, stops[trip.visits[1].stop_id].node_id
    path = fastest_path(network.loaded, a, b)
    u, v = path[len(path) // 2 - 1], path[len(path) // 2]
    way = min(network.loaded[u][v].values(), key=lambda d: d["travel_time"])["osmid"]
    way_id = int(way[0] if isinstance(way, list) else way)
    rows = [{"change": CLOSE_ROAD, "way_id": way_id}]
    write_changes(tmp_path / "road.csv", rows)
    runner = CliRunner()
    out = tmp_path / "v2"
    result = runner.invoke(app, ["replan", str(folder / "base"), "--changes", str(tmp_path / "road.csv"),
                                 "--out", str(out), "--author", "officer"])
    assert result.exit_code == 0, result.output
    closures = json.loads((out / "closures.json").read_text())
    assert [u, v] in closures["closed_edges"] and [v, u] in closures["closed_edges"]
    new_plan = read_plan(out)
    new_trip = next(t for t in new_plan.trips if t.id == trip.id)
    assert new_trip != trip  # its first leg drove the closed way
    for t in new_plan.trips:
        coords = {c for step in t.steps for c in step.coords}
        closed_u = (round(network.loaded.nodes[u]["x"], 7), round(network.loaded.nodes[u]["y"], 7))
        closed_v = (round(network.loaded.nodes[v]["x"], 7), round(network.loaded.nodes[v]["y"], 7))
        assert not {closed_u, closed_v} <= coords or t.id != trip.id
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
    version = json.loads((out / "version.json").read_text())
    assert version["version"] == 2 and version["author"] == "officer" and version["parent"]["plan_sha256"]


@pytest.mark.slow
def test_cli_replan_then_diff_lists_what_changed(base, tmp_path):
    folder, _, base_plan = base
    leaver = base_plan.assignments[5].student_id
    write_changes(tmp_path / "c.csv", [neighbour_of(base_plan, 10), {"change": "remove_pupil", "student_id": leaver}])
    runner = CliRunner()
    result = runner.invoke(app, ["replan", str(folder / "base"), "--changes", str(tmp_path / "c.csv"),
                                 "--out", str(tmp_path / "v2"), "--language", "en"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "v2" / "replan.json").read_text())
    assert report["n_unaffected_moved_beyond_tolerance"] == 0
    sheets = report["reissue"]["sheets"]
    assert sheets and all(any(f"_{v}." in s for v in report["vehicles_changed"]) for s in sheets)
    handed_out = sorted(p.name for p in (tmp_path / "v2" / "reissue").iterdir())
    assert handed_out == sorted(sheets + report["reissue"]["notices"])
    assert len(handed_out) < len(list((tmp_path / "v2" / "sheets").iterdir())) + len(list((tmp_path / "v2" / "notices").iterdir()))
    diff = runner.invoke(app, ["diff", str(folder / "base"), str(tmp_path / "v2"), "--json"])
    assert diff.exit_code == 0, diff.output
    document = json.loads(diff.output)
    assert document["added"] == ["NEW10"] and document["removed"] == [leaver]
    expected = diff_plans(base_plan, read_plan(tmp_path / "v2"))
    assert document["cost_per_day_delta"] == expected.cost_per_day_delta
    assert runner.invoke(app, ["diff", str(folder / "base"), str(folder / "base")]).exit_code == 0
    same = diff_plans(base_plan, base_plan)
    assert same.moved == () and same.stop_times == () and same.cost_per_day_delta == 0


def test_closed_segment_between_two_points_is_taken_out_both_ways(base, tmp_path):
    _, network, base_plan = base
    trip = next(t for t in base_plan.trips if t.direction is Direction.TO_SCHOOL and len(t.visits) >= 3)
    stops = {s.id: s for s in base_plan.stops}
    path = fastest_path(network.loaded, stops[trip.visits[0].stop_id].node_id, stops[trip.visits[1].stop_id].node_id)
    a, b = path[0], path[min(2, len(path) - 1)]
    ends = [(network.drive.nodes[n]["x"], network.drive.nodes[n]["y"]) for n in (a, b)]
    rows = [{"change": CLOSE_ROAD, "lon": ends[0][0], "lat": ends[0][1], "lon2": ends[1][0], "lat2": ends[1][1]}]
    result = replan(base_plan, read_changes(write_changes(tmp_path / "seg.csv", rows), base_plan), network)
    closed = set(result.closed.edges)
    assert (path[0], path[1]) in closed and (path[1], path[0]) in closed
    assert result.plan.summary.n_routed >= base_plan.summary.n_routed - 5


def test_cli_replan_refuses_a_change_that_breaks_a_lock(base, tmp_path):
    folder, _, base_plan = base
    vehicle = base_plan.vehicles[0]
    (tmp_path / "locks.csv").write_text(f"pin,vehicle_id\nvehicle_locked,{vehicle.id}\n", encoding="utf-8")
    write_changes(tmp_path / "c.csv", [{"change": "withdraw_vehicle", "vehicle_id": vehicle.id}])
    result = CliRunner().invoke(app, ["replan", str(folder / "base"), "--changes", str(tmp_path / "c.csv"),
                                      "--pins", str(tmp_path / "locks.csv"), "--out", str(tmp_path / "v2")])
    assert result.exit_code == 2
    assert "unlock" in result.output and not (tmp_path / "v2" / "plan.json").exists()


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_change_sets_keep_unaffected_pupils_and_pass_the_checker(base, tmp_path_factory, data):
    """Any mix of new pupils, moves and leavers: the result is checked and nobody else moves beyond tolerance."""
    _, network, base_plan = base
    routed = [a.student_id for a in base_plan.assignments if a.status is Status.ROUTED]
    picked = data.draw(st.lists(st.integers(0, len(routed) - 1), min_size=1, max_size=8, unique=True))
    kinds = data.draw(st.lists(st.sampled_from(["add", "move", "leave"]), min_size=len(picked), max_size=len(picked)))
    students = {s.id: s for s in base_plan.scenario.students}
    rows = []
    for index, kind in zip(picked, kinds):
        student = students[routed[index]]
        if kind == "add":
            rows.append(neighbour_of(base_plan, index, data.draw(st.floats(-0.0006, 0.0006))))
        elif kind == "move":
            other = students[routed[(index + 7) % len(routed)]]
            rows.append({"change": "move_pupil", "student_id": student.id, "lon": other.location[0], "lat": other.location[1]})
        else:
            rows.append({"change": "remove_pupil", "student_id": student.id})
    folder = tmp_path_factory.mktemp("random")
    result = replan(base_plan, read_changes(write_changes(folder / "c.csv", rows), base_plan), network)
    assert check_plan(result.plan, network) == []
    assert result.unaffected_moved(result.tolerance_s) == ()
    named = {r["student_id"] for r in rows}
    assert {a.student_id for a in result.plan.assignments} == (
        {s.id for s in base_plan.scenario.students} | {r["student_id"] for r in rows if r["change"] == ADD_PUPIL}
    ) - {r["student_id"] for r in rows if r["change"] == "remove_pupil"}
    assert named >= {p.student_id for p in result.pupils if p.reason in ("added", "moved_home", "removed")}
