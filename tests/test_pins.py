"""Manual decisions that stick: pins in fresh plans and re-plans, locks, and the checker (Helsinki roads)."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from schoolbus.changes import ChangeSet, read_changes
from schoolbus.check import check_pins, check_plan
from schoolbus.errors import InputError
from schoolbus.model import Pin, Status, ViolationCode
from schoolbus.network import load_network
from schoolbus.pins import read_pins
from schoolbus.pipeline import plan
from schoolbus.planfile import read_plan, write_plan
from schoolbus.replan import REASON_PINNED, replan
from schoolbus.synthetic import demo_scenario, read_osm_schools


@pytest.fixture(scope="module")
def district(helsinki_pbf, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pins")
    network = load_network(osm=helsinki_pbf, cache_dir=folder / "cache")
    scenario = demo_scenario(read_osm_schools(helsinki_pbf), network.drive, n_students=120, seed=3)
    return folder, network, scenario, plan(scenario, network)


def write_rows(path: Path, columns: list[str], rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


PIN_COLUMNS = ["pin", "student_id", "stop_id", "lon", "lat", "trip_id", "vehicle_id"]
CHANGE_COLUMNS = ["change", "student_id", "lon", "lat", "school_id", "shift", "grade", "stop_id", "vehicle_id"]


def test_fresh_plan_puts_a_pinned_stop_where_it_is_pinned_and_keeps_the_pin(district, tmp_path):
    _, network, scenario, base = district
    routed = next(a for a in base.assignments if a.status is Status.ROUTED)
    pupil = next(s for s in scenario.students if s.id == routed.student_id)
    rows = [
        {"pin": "stop_location", "stop_id": "MANUAL-1", "lon": pupil.location[0], "lat": pupil.location[1]},
        {"pin": "pupil_stop", "student_id": pupil.id, "stop_id": "MANUAL-1"},
    ]
    pins = read_pins(write_rows(tmp_path / "pins.csv", PIN_COLUMNS, rows), scenario)
    pinned = plan(replace(scenario, pins=pins), network)
    assignment = next(a for a in pinned.assignments if a.student_id == pupil.id)
    assert assignment.status is Status.ROUTED and assignment.stop_id == "MANUAL-1"
    assert check_pins(pinned, network) == []
    write_plan(pinned, tmp_path / "plan")
    assert read_plan(tmp_path / "plan").scenario.pins == pins


def test_checker_reports_a_broken_pin_and_a_broken_lock(district):
    _, network, _, base = district
    a = next(x for x in base.assignments if x.status is Status.ROUTED)
    trip = base.trips[0]
    pins = (
        Pin("pupil_stop", student_id=a.student_id, stop_id=next(s.id for s in base.stops if s.id != a.stop_id)),
        Pin("trip_locked", trip_id=trip.id, vehicle_id=trip.vehicle_id, visits=trip.visits[:-1]),
        Pin("vehicle_locked", vehicle_id=base.vehicles[0].id, trip_ids=base.vehicles[0].trip_ids[::-1] + ("T999",)),
    )
    violations = check_plan(replace(base, scenario=replace(base.scenario, pins=pins)), network)
    assert any(v.startswith(f"pin: student {a.student_id}") for v in violations)
    assert any(v.startswith(f"lock: trip {trip.id}") for v in violations)
    assert any(v.startswith(f"lock: vehicle {base.vehicles[0].id}") for v in violations)
    # like every violation, a broken pin carries a code (the CLI groups violations by it)
    assert {v.code for v in violations if v.startswith("pin:")} == {ViolationCode.PIN_BROKEN}
    assert {v.code for v in violations if v.startswith("lock:")} == {ViolationCode.LOCK_BROKEN}


def test_locks_need_a_plan_and_name_real_trips(district, tmp_path):
    _, _, scenario, base = district
    rows = [{"pin": "trip_locked", "trip_id": "T001"}, {"pin": "vehicle_locked", "vehicle_id": "V404"},
            {"pin": "pupil_stop", "student_id": "NOBODY", "stop_id": "X"}, {"pin": "glue"}]
    path = write_rows(tmp_path / "pins.csv", PIN_COLUMNS, rows)
    with pytest.raises(InputError) as fresh:
        read_pins(path, scenario)
    assert {(2, "pin"), (3, "pin"), (4, "student_id"), (5, "pin")} <= {(p.row, p.column) for p in fresh.value.problems}
    with pytest.raises(InputError) as replanned:
        read_pins(path, scenario, base)
    assert (3, "vehicle_id") in {(p.row, p.column) for p in replanned.value.problems}


def test_replan_keeps_locked_vehicle_and_refuses_changes_that_break_a_lock(district, tmp_path):
    _, network, scenario, base = district
    vehicle = base.vehicles[0]
    locks = read_pins(write_rows(tmp_path / "locks.csv", PIN_COLUMNS, [{"pin": "vehicle_locked", "vehicle_id": vehicle.id}]),
                      scenario, base)
    on_vehicle = {i for t in base.trips if t.vehicle_id == vehicle.id for v in t.visits for i in v.board}
    neighbour = next(s for s in scenario.students if s.id in on_vehicle)
    add = {"change": "add_pupil", "student_id": "NEW1", "lon": neighbour.location[0] + 0.0003,
           "lat": neighbour.location[1], "school_id": neighbour.school_id, "shift": neighbour.shift, "grade": 6}
    result = replan(base, read_changes(write_rows(tmp_path / "c.csv", CHANGE_COLUMNS, [add]), base), network, pins=locks)
    kept = {t.id: t for t in result.plan.trips}
    for trip in base.trips:
        if trip.vehicle_id == vehicle.id:
            assert kept[trip.id] == trip
    assert check_pins(result.plan, network) == []
    assert result.plan.scenario.pins == locks
    leave = [{"change": "remove_pupil", "student_id": sorted(on_vehicle)[0]}]
    with pytest.raises(InputError) as error:
        replan(base, read_changes(write_rows(tmp_path / "l.csv", CHANGE_COLUMNS, leave), base), network, pins=locks)
    assert "locked" in str(error.value)
    withdraw = [{"change": "withdraw_vehicle", "vehicle_id": vehicle.id}]
    with pytest.raises(InputError):
        replan(base, read_changes(write_rows(tmp_path / "w.csv", CHANGE_COLUMNS, withdraw), base), network, pins=locks)


def test_replan_moves_a_pupil_pinned_to_another_stop_by_hand(district, tmp_path):
    _, network, scenario, base = district
    stops = {s.id: s for s in base.stops}
    # A routed pupil and another shared stop of the same school and shift, as close as there is.
    for a in base.assignments:
        if a.status is not Status.ROUTED or stops[a.stop_id].is_door_to_door:
            continue
        others = [s for s in base.stops if (s.school_id, s.shift) == (a.school_id, a.shift)
                  and s.id != a.stop_id and not s.is_door_to_door]
        if others:
            break
    pupil = next(s for s in scenario.students if s.id == a.student_id)
    target = min(others, key=lambda s: (s.location[0] - pupil.location[0]) ** 2 + (s.location[1] - pupil.location[1]) ** 2)
    pins = read_pins(write_rows(tmp_path / "p.csv", PIN_COLUMNS,
                                [{"pin": "pupil_stop", "student_id": pupil.id, "stop_id": target.id}]), scenario, base)
    empty = ChangeSet("no changes", ())
    result = replan(base, empty, network, pins=pins, tolerance_s=3600)
    moved = next(x for x in result.plan.assignments if x.student_id == pupil.id)
    assert moved.stop_id == target.id
    assert any(p.student_id == pupil.id and p.reason == REASON_PINNED for p in result.pupils)
