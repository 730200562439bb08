"""End-to-end planning: inputs and roads in, a checked plan out.

Small districts are built on a hand-made street grid loaded through the real road-layer reader;
the demo runs on the real Helsinki extract.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult

from schoolbus.check import check_plan
from schoolbus.model import (
    Depot,
    Fleet,
    Policy,
    Prices,
    ReasonCode,
    Scenario,
    School,
    Shift,
    Status,
    Student,
    VehicleType,
)
from schoolbus.network import load_network
from schoolbus.outputs.reasons import describe_reason
from schoolbus.params import ROUTING_BACKENDS, SolverParams
from schoolbus.pipeline import plan
from schoolbus.planfile import plan_to_dict
from schoolbus.scheduling import choice as scheduling

ORIGIN = (32.85, 39.98)  # Keçiören, Ankara
BLOCK_M = 200.0
GRID_N = 7
METRES_PER_DEG_LAT = 111_195.0
FAST = SolverParams(time_limit_s=2.0, seed=0)


def grid_point(i: float, j: float) -> tuple[float, float]:
    """(lon, lat) of grid coordinates (i east, j north) in blocks from the origin."""
    lon = ORIGIN[0] + i * BLOCK_M / (METRES_PER_DEG_LAT * math.cos(math.radians(ORIGIN[1])))
    lat = ORIGIN[1] + j * BLOCK_M / METRES_PER_DEG_LAT
    return (round(lon, 7), round(lat, 7))


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> object:
    """A 7 x 7 grid of two-way residential streets, 200 m blocks, 36 km/h (20 s per block)."""
    folder = tmp_path_factory.mktemp("grid")
    features = []
    for k in range(GRID_N):
        for horizontal in (True, False):
            coords = [grid_point(i, k) if horizontal else grid_point(k, i) for i in range(GRID_N)]
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "highway": "residential",
                        "name": f"{'Çınar' if horizontal else 'Gül'} Sokak {k}",
                        "maxspeed": "36",
                    },
                    "geometry": {"type": "LineString", "coordinates": coords},
                }
            )
    path = folder / "grid.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return load_network(roads=path, cache_dir=folder / "cache")


def at(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


ONE_SHIFT = (Shift("tam", at("08:30"), at("15:00")),)
DOUBLE_SHIFT = (Shift("sabah", at("07:20"), at("12:00")), Shift("ogle", at("12:30"), at("17:30")))


def district(students, schools, vehicle_types, policy=None) -> Scenario:
    fleet = Fleet(tuple(vehicle_types), depots=(Depot("G", "Garaj", grid_point(0, 0)),))
    return Scenario("test", tuple(students), tuple(schools), fleet, policy or Policy(), Prices(escort_day_rate=500.0))


def pupils(prefix, spots, per_spot, school_id, shift, grade=6):
    """``per_spot`` pupils living 10 m off the street at each grid spot."""
    out = []
    for s, (i, j) in enumerate(spots):
        for k in range(per_spot):
            lon, lat = grid_point(i + 0.05, j)
            out.append(Student(f"{prefix}{s}-{k}", (lon, lat + 0.00009), school_id, shift, grade))
    return out


def assert_valid(result, network, scenario):
    assert check_plan(result, network) == []
    ids = [a.student_id for a in result.assignments]
    assert sorted(ids) == sorted(s.id for s in scenario.students)
    for a in result.assignments:
        assert (a.status is Status.ROUTED) == (a.reason is None)


def test_each_vehicle_parks_at_the_depot_nearest_its_school(grid):
    # Two schools at opposite corners with the same bells, so no vehicle can serve both, and a
    # depot beside each: every vehicle starts and ends its day at its own school's depot, and
    # its depot runs are counted from there (the checker recomputes them).
    south_west = School("SW", "Güney Okulu", grid_point(0, 1), ONE_SHIFT)
    north_east = School("NE", "Kuzey Okulu", grid_point(6, 5), ONE_SHIFT)
    students = pupils("A", [(0, 2), (1, 1)], 6, "SW", "tam") + pupils("B", [(6, 4), (5, 5)], 6, "NE", "tam")
    scenario = district(students, [south_west, north_east], [VehicleType("midi", seats=25, day_rate=1000.0)])
    depots = (Depot("G", "Garaj Güney", grid_point(0, 0)), Depot("K", "Garaj Kuzey", grid_point(6, 6)))
    scenario = dataclasses.replace(scenario, fleet=dataclasses.replace(scenario.fleet, depots=depots))
    result = plan(scenario, grid, FAST)
    assert_valid(result, grid, scenario)
    trips = {t.id: t for t in result.trips}
    depot_of_school = {"SW": "G", "NE": "K"}
    assert {v.depot_id for v in result.vehicles} == {"G", "K"}
    for vehicle in result.vehicles:
        (school_id,) = {trips[t].school_id for t in vehicle.trip_ids}
        assert vehicle.depot_id == depot_of_school[school_id]
        # Every run to or from the depot is one block or so: nobody crosses the district empty.
        assert vehicle.deadhead_m < 4 * BLOCK_M * len(vehicle.trip_ids)


def test_capacity_forces_exactly_two_vehicles(grid):
    # 40 pupils at 4 corners of the grid, 25 seats a vehicle: 2 vehicles are necessary and enough
    # (each takes its morning trip and its trip home).
    school = School("S", "Okul", grid_point(3, 3), ONE_SHIFT)
    students = pupils("P", [(0, 0), (0, 6), (6, 0), (6, 6)], 10, "S", "tam")
    scenario = district(students, [school], [VehicleType("midi", seats=25, day_rate=1000.0)])
    result = plan(scenario, grid, FAST)
    assert_valid(result, grid, scenario)
    assert result.summary.n_routed == 40
    assert result.summary.n_vehicles == 2
    assert all(len(v.trip_ids) == 2 for v in result.vehicles)


def test_double_shift_four_trip_chain_meets_a_one_vehicle_fleet(grid):
    # One vehicle in the whole fleet: only a chain of all four trips (sabah to school, sabah home,
    # ogle to school, ogle home) carries both shifts.
    school = School("S", "İlkokul", grid_point(3, 3), DOUBLE_SHIFT)
    students = pupils("A", [(1, 1)], 8, "S", "sabah") + pupils("B", [(5, 5)], 8, "S", "ogle")
    scenario = district(students, [school], [VehicleType("mini", seats=16, day_rate=900.0, count=1)])
    result = plan(scenario, grid, FAST)
    assert_valid(result, grid, scenario)
    assert result.summary.n_unserved == 0
    (vehicle,) = result.vehicles
    trips = {t.id: t for t in result.trips}
    assert [(trips[t].shift, trips[t].direction.value) for t in vehicle.trip_ids] == [
        ("sabah", "to_school"),
        ("sabah", "from_school"),
        ("ogle", "to_school"),
        ("ogle", "from_school"),
    ]
    assert vehicle.escort is False  # grade 6 pupils need no escort


def test_fleet_too_small_reports_school_shift_and_shortfall(grid):
    # Two full-day groups need two 16-seat vehicles at the same time; the fleet has one.
    school = School("S", "Okul", grid_point(3, 3), ONE_SHIFT)
    students = pupils("P", [(0, 0), (6, 6)], 14, "S", "tam")
    scenario = district(students, [school], [VehicleType("mini", seats=16, day_rate=900.0, count=1)])
    result = plan(scenario, grid, FAST)
    assert_valid(result, grid, scenario)
    assert result.summary.n_vehicles == 1
    assert result.summary.n_unserved == 14
    reasons = {a.reason for a in result.assignments if a.reason}
    assert {r.code for r in reasons} == {ReasonCode.FLEET_RAN_OUT}
    reason = reasons.pop()
    assert (reason.param("school_id"), reason.param("shift"), reason.param("seats")) == ("S", "tam", 14)
    assert describe_reason(reason) == (
        "fleet ran out at school S, shift tam, morning trip to school: short by 14 seats: "
        "fleet ran out: every vehicle class with room for this stop runs all the routes it may (mini 1/1) "
        "and none of those routes can take it within seats, wheelchair places, ride limits and the "
        "route-duration cap"
    )


def test_ride_limit_binds_in_both_directions(grid):
    # The far corner is 6 blocks (120 s) from school plus service: with a 100 s limit it is
    # impossible even alone; the near pupils (1 block) are carried, and their rides keep the limit.
    school = School("S", "Okul", grid_point(0, 0), ONE_SHIFT)
    students = pupils("N", [(1, 0)], 3, "S", "tam") + pupils("F", [(3, 3)], 3, "S", "tam")
    policy = Policy(max_ride_s=100, walk_limit_m=50.0)
    scenario = district(students, [school], [VehicleType("mini", seats=16, day_rate=900.0)], policy)
    result = plan(scenario, grid, FAST)
    assert_valid(result, grid, scenario)
    status = {a.student_id: a for a in result.assignments}
    assert all(status[f"N0-{k}"].status is Status.ROUTED for k in range(3))
    assert all(status[f"F0-{k}"].status is Status.UNSERVED for k in range(3))
    assert all(ReasonCode.RIDE_LIMIT_ALONE in status[f"F0-{k}"].reason.codes for k in range(3))
    assert status["F0-0"].reason.code is ReasonCode.NO_TRIP
    routed = [a for a in result.assignments if a.status is Status.ROUTED]
    assert max(a.ride_to_school_s for a in routed) <= 100
    assert max(a.ride_home_s for a in routed) <= 100


@pytest.mark.parametrize("backend", ROUTING_BACKENDS)
def test_same_inputs_seed_and_backend_give_the_same_plan_which_records_them(grid, backend):
    school = School("S", "Okul", grid_point(3, 3), DOUBLE_SHIFT)
    students = pupils("A", [(0, 1), (2, 5), (6, 2)], 6, "S", "sabah") + pupils("B", [(4, 0), (1, 6)], 7, "S", "ogle")
    scenario = district(students, [school], [VehicleType("mini", seats=16, day_rate=900.0)])
    params = dataclasses.replace(FAST, routing_backend=backend)
    first = plan_to_dict(plan(scenario, grid, params))
    second = plan_to_dict(plan(scenario, grid, params))
    assert first == second
    assert (first["seed"], first["routing_backend"]) == (FAST.seed, backend)


def test_a_route_set_choice_cut_short_by_its_time_guard_is_logged(grid, monkeypatch, caplog):
    # A slow machine, as the choice MILP sees it: HiGHS says its time limit cut it short. The plan
    # is still checked and complete, and the log says it may differ between runs.
    real = scheduling.milp

    def slow_milp(*args, **kwargs):
        result = real(*args, **kwargs)
        return OptimizeResult({**result, "status": 1, "message": "Time limit reached. (HiGHS Status 13)"})

    monkeypatch.setattr(scheduling, "milp", slow_milp)
    school = School("S", "Okul", grid_point(3, 3), ONE_SHIFT)
    students = pupils("P", [(0, 0), (0, 6), (6, 0), (6, 6)], 5, "S", "tam")
    scenario = district(students, [school], [VehicleType("midi", seats=25, day_rate=1000.0)])
    params = dataclasses.replace(FAST, route_duration_caps_s=(300,))
    with caplog.at_level(logging.WARNING, logger="schoolbus.pipeline"):
        result = plan(scenario, grid, params)
    assert_valid(result, grid, scenario)
    assert result.summary.n_routed == 20
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "schoolbus.pipeline"]
    assert "guard cut the MILP short" in warning and "may differ between runs" in warning


spot = st.tuples(st.integers(0, GRID_N - 1), st.integers(0, GRID_N - 1))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    homes=st.lists(st.tuples(spot, st.integers(0, 12), st.booleans(), st.sampled_from(["sabah", "ogle"])), min_size=1, max_size=14),
    school_spot=spot,
    max_ride_min=st.integers(1, 10),
    seats=st.sampled_from([4, 8, 16]),
)
def test_random_districts_route_or_explain_every_student(grid, homes, school_spot, max_ride_min, seats):
    school = School("S", "Okul", grid_point(*school_spot), DOUBLE_SHIFT)
    students = [
        Student(f"P{k}", grid_point(i + 0.1, j), "S", shift, grade, needs_wheelchair=wheelchair)
        for k, ((i, j), grade, wheelchair, shift) in enumerate(homes)
    ]
    scenario = district(
        students,
        [school],
        [VehicleType("mini", seats=seats, day_rate=900.0), VehicleType("lift", seats=8, day_rate=1200.0, wheelchair_places=1)],
        Policy(max_ride_s=max_ride_min * 60, walk_limit_m=300.0),
    )
    result = plan(scenario, grid, SolverParams(time_limit_s=1.0))
    assert_valid(result, grid, scenario)
    assert result.summary.n_routed + result.summary.n_unserved == len(students)


@pytest.mark.slow
def test_helsinki_demo_district_plans_and_checks(helsinki_pbf, tmp_path):
    from schoolbus.synthetic import demo_scenario, read_osm_schools

    network = load_network(osm=helsinki_pbf, cache_dir=tmp_path)
    scenario = demo_scenario(read_osm_schools(helsinki_pbf), network.drive, n_students=120, seed=3)
    result = plan(scenario, network, FAST)
    assert_valid(result, network, scenario)
    assert result.summary.n_routed >= 110
    students = {s.id: s for s in scenario.students}
    trips = {t.id: t for t in result.trips}
    for vehicle in result.vehicles:
        riders = {i for t in vehicle.trip_ids for v in trips[t].visits for i in v.board}
        assert vehicle.escort == any(students[i].grade <= 4 for i in riders)
    assert max(len(v.trip_ids) for v in result.vehicles) >= 3


@pytest.mark.slow
def test_alternative_route_sets_never_cost_a_vehicle_on_a_real_district(helsinki_pbf, tmp_path, monkeypatch):
    # Plans choose among alternative route sets as the Park benchmark does (choose_plan_trips):
    # the uncapped set is one of the candidates, so the choice never needs more vehicles than it.
    # A generous time cap leaves routing to its work limit, so both plans route the same way.
    from schoolbus import pipeline
    from schoolbus.synthetic import demo_scenario, read_osm_schools

    network = load_network(osm=helsinki_pbf, cache_dir=tmp_path)
    scenario = demo_scenario(read_osm_schools(helsinki_pbf), network.drive, n_students=120, seed=3)
    choices = []
    real = pipeline.choose_plan_trips

    def recording(*args, **kwargs):
        choices.append(real(*args, **kwargs))
        return choices[-1]

    monkeypatch.setattr(pipeline, "choose_plan_trips", recording)
    patient = SolverParams(time_limit_s=120.0, seed=0)
    one_set = plan(scenario, network, patient)
    assert choices[-1].method == "only"
    with_caps = plan(scenario, network, dataclasses.replace(patient, route_duration_caps_s=(600,)))
    assert choices[-1].method in ("milp", "incumbent") and not choices[-1].stopped_on_time
    assert_valid(with_caps, network, scenario)
    assert with_caps.summary.n_routed == one_set.summary.n_routed
    assert with_caps.summary.n_vehicles <= one_set.summary.n_vehicles
