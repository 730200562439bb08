"""Stop selection: tiny networks with known answers, the real Helsinki extract, and invariants."""

from __future__ import annotations

import math
import re
from collections import Counter

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schoolbus.stops as stops_module
from schoolbus.model import (
    Fleet,
    GradeWalkLimit,
    Policy,
    Reason,
    ReasonCode,
    Scenario,
    School,
    Shift,
    Student,
    VehicleType,
)
from schoolbus.network import NetworkReport, RoadNetwork, load_network
from schoolbus.outputs.reasons import describe_reason
from schoolbus.params import SolverParams
from schoolbus.stops import STOP_PENALTY_M, StopSelection, homes_outside_network, select_stops

ORIGIN_LON, ORIGIN_LAT = 32.85, 39.93
"""Tiny networks sit in Keçiören, Ankara; positions are given in metres east and north of here."""
M_PER_DEG_LAT = 111_195.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(ORIGIN_LAT))
BUS = VehicleType("bus", seats=30, day_rate=1000.0)
PARAMS = SolverParams()


def at(east_m: float, north_m: float = 0.0) -> tuple[float, float]:
    """``(lon, lat)`` of a point ``east_m`` east and ``north_m`` north of the origin."""
    return (ORIGIN_LON + east_m / M_PER_DEG_LON, ORIGIN_LAT + north_m / M_PER_DEG_LAT)


def network_from(
    positions_m: dict[int, tuple[float, float]],
    walk_edges: list[tuple[int, int]],
    loaded: set[int],
    street: str = "Etlik Caddesi",
) -> RoadNetwork:
    """A hand-made ``RoadNetwork``: walk edges are as long as the straight line between their ends
    (metres, exact by construction); the loaded graph is every walk edge between loaded nodes,
    both ways, named ``street``."""
    walk = nx.MultiGraph()
    bus = nx.MultiDiGraph()
    for node, (e, n) in positions_m.items():
        lon, lat = at(e, n)
        walk.add_node(node, x=lon, y=lat)
        if node in loaded:
            bus.add_node(node, x=lon, y=lat)
    for u, v in walk_edges:
        (ue, un), (ve, vn) = positions_m[u], positions_m[v]
        length_m = math.hypot(ue - ve, un - vn)
        walk.add_edge(u, v, length=length_m)
        if u in loaded and v in loaded:
            for a, b in ((u, v), (v, u)):
                bus.add_edge(a, b, length=length_m, speed_kph=30.0, travel_time=length_m / 8.33,
                             highway="residential", name=street)
    report = NetworkReport("test:hand-made", bus.number_of_nodes(), bus.number_of_edges(),
                           0.0, bus.number_of_nodes(), 1.0, 0)
    return RoadNetwork("hand-made", bus, bus, walk, report)


def line_network(n_nodes: int = 11, spacing_m: float = 100.0, loaded: set[int] | None = None):
    """Nodes ``0..n-1`` on a west-east street, ``spacing_m`` apart (node ``k`` at ``k*spacing_m``
    east); every node is on a bus road unless ``loaded`` says otherwise."""
    positions = {k: (k * spacing_m, 0.0) for k in range(n_nodes)}
    edges = [(k, k + 1) for k in range(n_nodes - 1)]
    return network_from(positions, edges, set(range(n_nodes)) if loaded is None else loaded)


def pupil(sid: str, east_m: float, north_m: float = 0.0, grade: int = 6, **flags) -> Student:
    return Student(sid, at(east_m, north_m), "OK1", "sabah", grade, **flags)


def scenario_of(students: list[Student], policy: Policy | None = None, vehicles=(BUS,)) -> Scenario:
    """One school at the origin (node 0 of the tiny networks) with a morning shift."""
    school = School("OK1", "Etlik Ortaokulu", at(0.0), (Shift("sabah", 8 * 3600, 13 * 3600),))
    return Scenario("test", tuple(students), (school,), Fleet(tuple(vehicles)),
                    policy or Policy())


def stop_of(selection: StopSelection, student_id: str):
    (stop,) = [s for s in selection.stops if student_id in s.student_ids]
    return stop


# --------------------------------------------------------------------------------------------------
# Known answers on a straight street
# --------------------------------------------------------------------------------------------------


def test_one_stop_in_the_middle_serves_three_neighbours():
    # Pupils at 300, 400 and 500 m: one stop at 400 m costs 600 + 200 m of walking; any second stop
    # costs another 600 m to save at most 100 m.
    net = line_network()
    students = [pupil("a", 300), pupil("b", 400), pupil("c", 500)]
    sel = select_stops(scenario_of(students), net, PARAMS)
    assert len(sel.stops) == 1
    (stop,) = sel.stops
    assert stop.node_id == 4
    assert stop.student_ids == ("a", "b", "c")
    assert sel.walk_m == pytest.approx({"a": 100.0, "b": 0.0, "c": 100.0}, abs=1e-6)
    assert sel.unserved == {}
    assert stop.location == pytest.approx(at(400))
    assert stop.name == "Etlik Caddesi"
    assert stop.id == "OK1-sabah-S001" and not stop.is_door_to_door


@pytest.mark.parametrize(
    ("gap_m", "n_stops"),
    [
        (STOP_PENALTY_M - 100, 1),  # sharing costs 500 m of walking, less than a stop: share
        (STOP_PENALTY_M + 100, 2),  # sharing costs 700 m of walking, more than a stop: two stops
    ],
)
def test_two_pupils_share_a_stop_when_the_extra_walk_is_below_the_stop_penalty(gap_m, n_stops):
    net = line_network(n_nodes=16)
    sel = select_stops(scenario_of([pupil("a", 0), pupil("b", gap_m)]), net, PARAMS)
    assert len(sel.stops) == n_stops
    assert sum(sel.walk_m.values()) == pytest.approx(gap_m if n_stops == 1 else 0.0, abs=1e-6)


def test_pupils_farther_apart_than_two_walk_limits_need_two_stops():
    net = line_network()
    sel = select_stops(scenario_of([pupil("a", 0), pupil("b", 1000)], Policy(walk_limit_m=400)),
                       net, PARAMS)
    assert sorted(s.node_id for s in sel.stops) == [0, 10]
    assert sel.walk_m == pytest.approx({"a": 0.0, "b": 0.0}, abs=1e-6)


def test_walk_counts_the_straight_line_from_home_to_the_road():
    # Home 50 m north of node 3 (beside a footpath-less block): walk = 50 m + along the street.
    net = line_network()
    sel = select_stops(scenario_of([pupil("a", 300, 50)]), net, PARAMS)
    assert sel.walk_m["a"] == pytest.approx(50.0, abs=0.01)
    assert stop_of(sel, "a").node_id == 3


def test_grade_walk_limits_apply_per_pupil():
    # Only node 0 is on a bus road; both pupils live 400 m along a footpath from it.
    net = line_network(n_nodes=6, loaded={0})
    policy = Policy(walk_limit_m=800, grade_walk_limits=(GradeWalkLimit(4, walk_limit_m=300),))
    students = [pupil("young", 400, grade=2), pupil("older", 400, grade=7)]
    sel = select_stops(scenario_of(students, policy), net, PARAMS)
    assert sel.walk_m == pytest.approx({"older": 400.0}, abs=1e-6)
    assert words(sel) == {
        "young": "no bus stop within the walk limit of 300 m "
        "(nearest road a bus may use is 400 m walk)"
    }


def test_a_stop_that_would_overfill_the_largest_vehicle_is_split():
    # 30 pupils at one place, largest bus has 20 seats: two stops there, 15 each, nobody walks.
    net = line_network()
    minibus = VehicleType("minibus", seats=20, day_rate=800.0)
    students = [pupil(f"p{k:02d}", 500) for k in range(30)]
    sel = select_stops(scenario_of(students, vehicles=(minibus,)), net, PARAMS)
    assert [s.node_id for s in sel.stops] == [5, 5]
    assert sorted(len(s.student_ids) for s in sel.stops) == [15, 15]
    assert max(sel.walk_m.values()) == pytest.approx(0.0, abs=1e-6)
    assert len({s.id for s in sel.stops}) == 2


def test_a_shared_stop_with_a_wheelchair_user_fits_a_vehicle_with_a_wheelchair_place():
    # The big bus has no wheelchair place; the minibus has one but only 10 seats. Twelve pupils,
    # one in a wheelchair, at one place: the wheelchair user's stop must fit the minibus.
    net = line_network()
    big = VehicleType("bus", seats=30, day_rate=1000.0)
    mini = VehicleType("minibus", seats=10, day_rate=700.0, wheelchair_places=1)
    students = [pupil(f"p{k:02d}", 500) for k in range(11)]
    students.append(pupil("w", 500, needs_wheelchair=True))
    policy = Policy(wheelchair_door_to_door=False)
    sel = select_stops(scenario_of(students, policy, vehicles=(big, mini)), net, PARAMS)
    assert len(sel.walk_m) == 12
    assert len(sel.stops) == 2
    wheelchair_stop = stop_of(sel, "w")
    assert len(wheelchair_stop.student_ids) <= 10
    assert not wheelchair_stop.is_door_to_door


# --------------------------------------------------------------------------------------------------
# Door to door
# --------------------------------------------------------------------------------------------------


def test_wheelchair_users_and_flagged_pupils_get_a_stop_at_home():
    # Homes 40 m north of nodes 2 and 7, far from the others' shared stop.
    net = line_network()
    mini = VehicleType("minibus", seats=12, day_rate=700.0, wheelchair_places=2)
    students = [
        pupil("w", 200, 40, needs_wheelchair=True),
        pupil("d", 700, 40, needs_door_to_door=True),
        pupil("a", 400),
        pupil("b", 500),
    ]
    sel = select_stops(scenario_of(students, vehicles=(BUS, mini)), net, PARAMS)
    door = {s.student_ids: s for s in sel.stops if s.is_door_to_door}
    assert {k: s.node_id for k, s in door.items()} == {("w",): 2, ("d",): 7}
    assert {s.id for s in door.values()} == {"OK1-sabah-D001", "OK1-sabah-D002"}
    assert sel.walk_m["w"] == pytest.approx(40.0, abs=0.01)  # the straight line to the bus
    assert sel.walk_m["d"] == pytest.approx(40.0, abs=0.01)
    (shared,) = [s for s in sel.stops if not s.is_door_to_door]
    assert shared.student_ids == ("a", "b")


def test_wheelchair_users_walk_to_a_shared_stop_when_the_policy_says_so():
    net = line_network()
    mini = VehicleType("minibus", seats=12, day_rate=700.0, wheelchair_places=2)
    students = [pupil("w", 300, needs_wheelchair=True), pupil("a", 400)]
    sel = select_stops(scenario_of(students, Policy(wheelchair_door_to_door=False), (BUS, mini)),
                       net, PARAMS)
    assert [s.student_ids for s in sel.stops] == [("w", "a")]
    assert not sel.stops[0].is_door_to_door


def test_siblings_with_door_to_door_share_their_home_stop():
    net = line_network()
    students = [pupil(sid, 600, 20, needs_door_to_door=True) for sid in ("s1", "s2")]
    sel = select_stops(scenario_of(students), net, PARAMS)
    stops = [(s.node_id, s.student_ids, s.is_door_to_door) for s in sel.stops]
    assert stops == [(6, ("s1", "s2"), True)]


# --------------------------------------------------------------------------------------------------
# Unserved, with reasons
# --------------------------------------------------------------------------------------------------


def words(selection: StopSelection) -> dict[str, str]:
    """Each unserved pupil's reason in English, as printed."""
    return {i: describe_reason(reason) for i, reason in selection.unserved.items()}


def test_unserved_reasons_in_plain_words():
    # A footpath runs on east of the bus street (bus roads: nodes 0-3 only).
    net = line_network(n_nodes=20, loaded={0, 1, 2, 3})
    students = [
        pupil("far_from_road", 500, 450),  # 450 m north of the street
        pupil("beyond_walk", 1500),  # 1,200 m of footpath from node 3
        pupil("too_close", 100),  # 100 m from the school at node 0
        pupil("wheelchair", 200, needs_wheelchair=True),  # the fleet has no wheelchair place
        pupil("door_far", 1000, needs_door_to_door=True),  # bus roads end 700 m from home
        pupil("fine", 250),
    ]
    sel = select_stops(scenario_of(students, Policy(min_home_school_m=200.0)), net, PARAMS)
    assert words(sel) == {
        "far_from_road": "home is 450 m from the nearest road; limit 300 m",
        "beyond_walk": "no bus stop within the walk limit of 800 m "
        "(nearest road a bus may use is 1.2 km walk)",
        "too_close": "home is 100 m from school on foot; bused transport starts at 200 m",
        "wheelchair": "wheelchair user, but no vehicle in the fleet has a wheelchair place",
        "door_far": "door-to-door pupil's home is 700 m from the nearest road a bus may use; "
        "limit 300 m",
    }
    assert set(sel.walk_m) == {"fine"}


def test_homes_beyond_the_maximum_distance_are_unserved():
    net = line_network(n_nodes=30)
    students = [pupil("near", 1000), pupil("far", 2500)]
    sel = select_stops(scenario_of(students, Policy(max_home_school_m=2000.0)), net, PARAMS)
    assert words(sel) == {
        "far": "home is 2.5 km from school on foot; bused transport ends at 2.0 km"
    }
    assert set(sel.walk_m) == {"near"}


def test_the_straight_line_decides_too_far_where_no_footpath_joins_home_and_school():
    # The school's street (0-1) and a hamlet's lane (10-11) 3 km north never meet on foot.
    positions = {0: (0.0, 0.0), 1: (100.0, 0.0), 10: (0.0, 3000.0), 11: (100.0, 3000.0)}
    net = network_from(positions, [(0, 1), (10, 11)], loaded={0, 1, 10, 11})
    students = [pupil("hamlet", 50, 3000)]
    sel = select_stops(scenario_of(students, Policy(max_home_school_m=2000.0)), net, PARAMS)
    assert words(sel) == {
        "hamlet": "home is 3.0 km from school in a straight line (no footpath joins them in the "
        "road network); bused transport ends at 2.0 km"
    }
    # Without the maximum the hamlet's pupil is served at the lane; too-close is never inferred.
    sel = select_stops(scenario_of(students, Policy(min_home_school_m=5000.0)), net, PARAMS)
    assert set(sel.walk_m) == {"hamlet"}


def test_a_fleet_without_seats_serves_nobody():
    net = line_network()
    sel = select_stops(scenario_of([pupil("a", 300)], vehicles=()), net, PARAMS)
    assert sel == StopSelection((), {}, {"a": Reason.make(ReasonCode.NO_VEHICLE)})


def test_no_stop_reachable_on_foot_is_said_so():
    # Two separate pieces: the bus street (0-1) and a footpath (10-11) that never meets it.
    positions = {0: (0.0, 0.0), 1: (100.0, 0.0), 10: (0.0, 200.0), 11: (100.0, 200.0)}
    net = network_from(positions, [(0, 1), (10, 11)], loaded={0, 1})
    sel = select_stops(scenario_of([pupil("island", 50, 210)]), net, PARAMS)
    assert words(sel) == {
        "island": "no bus stop within the walk limit of 800 m "
        "(no road a bus may use can be reached on foot)"
    }


# --------------------------------------------------------------------------------------------------
# Determinism, fallbacks and large groups
# --------------------------------------------------------------------------------------------------


def grid_network(n_side: int, spacing_m: float, loaded: set[int] | None = None) -> RoadNetwork:
    """``n_side`` x ``n_side`` street crossings ``spacing_m`` apart; node ``i*n_side+j`` sits
    ``i*spacing_m`` east and ``j*spacing_m`` north. All streets are bus roads unless ``loaded``."""
    positions = {
        i * n_side + j: (i * spacing_m, j * spacing_m) for i in range(n_side) for j in range(n_side)
    }
    edges = [
        (i * n_side + j, (i + di) * n_side + j + dj)
        for i in range(n_side)
        for j in range(n_side)
        for di, dj in ((1, 0), (0, 1))
        if i + di < n_side and j + dj < n_side
    ]
    return network_from(positions, edges, set(positions) if loaded is None else loaded)


def grid_case(n_side: int, n_pupils: int, seed: int, seats: int = 30):
    """A street grid of 100 m blocks and ``n_pupils`` random homes on it (seeded)."""
    net = grid_network(n_side, 100.0)
    rng = np.random.default_rng(seed)
    side_m = (n_side - 1) * 100.0
    students = [pupil(f"p{k:03d}", *rng.uniform(0, side_m, 2), grade=int(rng.integers(0, 12)))
                for k in range(n_pupils)]
    policy = Policy(walk_limit_m=500, grade_walk_limits=(GradeWalkLimit(4, 300),))
    vehicle = VehicleType("bus", seats=seats, day_rate=1000.0)
    return scenario_of(students, policy, vehicles=(vehicle,)), net


def test_same_inputs_give_the_same_stops():
    scenario, net = grid_case(8, 60, seed=3)
    first = select_stops(scenario, net, PARAMS)
    again = select_stops(scenario, net, PARAMS)
    assert first == again
    assert len(first.stops) > 1


def check_selection(scenario: Scenario, net: RoadNetwork, sel: StopSelection) -> None:
    """Independent checks: partition, stop ids and loads, walks recomputed with networkx, and no
    bus node within reach of a pupil unserved for want of one."""
    ids = [s.id for s in scenario.students]
    assert set(sel.walk_m).isdisjoint(sel.unserved)
    assert set(sel.walk_m) | set(sel.unserved) == set(ids)
    on_stops = Counter(sid for stop in sel.stops for sid in stop.student_ids)
    assert set(on_stops) == set(sel.walk_m) and set(on_stops.values()) <= {1}
    assert len({s.id for s in sel.stops}) == len(sel.stops)
    seats = max(v.seats for v in scenario.fleet.vehicle_types)
    by_id = {s.id: s for s in scenario.students}
    for stop in sel.stops:
        assert stop.node_id in net.loaded
        assert re.fullmatch(r"OK1-sabah-[SD]\d{3}", stop.id)
        riders = [by_id[sid] for sid in stop.student_ids]
        n_wheelchairs = sum(r.needs_wheelchair for r in riders)
        assert any(v.seats >= len(riders) and v.wheelchair_places >= n_wheelchairs
                   for v in scenario.fleet.vehicle_types), stop
        assert len(riders) <= seats
        policy = scenario.policy
        for r in riders:
            assert (r.school_id, r.shift) == (stop.school_id, stop.shift)
            wheelchair_at_door = r.needs_wheelchair and policy.wheelchair_door_to_door
            at_door = r.needs_door_to_door or wheelchair_at_door
            assert stop.is_door_to_door == at_door
            if at_door:
                bus_nodes, snap_m = nearest_nodes(net.loaded, r.location)
                assert stop.node_id in bus_nodes
                assert sel.walk_m[r.id] == pytest.approx(snap_m, abs=0.01)
                continue
            homes, snap_m = nearest_nodes(net.walk, r.location)
            walks_m = [
                snap_m + nx.shortest_path_length(net.walk, home, stop.node_id, weight="length")
                for home in homes
            ]
            assert any(sel.walk_m[r.id] == pytest.approx(w, abs=0.01) for w in walks_m)
            assert sel.walk_m[r.id] <= policy.walk_limit_for_grade_m(r.grade) + 1e-6
    for s in scenario.students:
        reason = sel.unserved.get(s.id)
        if reason is None or reason.code is not ReasonCode.NO_STOP_WITHIN_WALK:
            continue
        homes, snap_m = nearest_nodes(net.walk, s.location)
        limit = scenario.policy.walk_limit_for_grade_m(s.grade)
        reaches = [
            nx.single_source_dijkstra_path_length(net.walk, home, cutoff=limit, weight="length")
            for home in homes
        ]
        assert any(
            all(snap_m + d > limit for node, d in reach.items() if node in net.loaded)
            for reach in reaches
        )


def nearest_nodes(graph: nx.Graph, location: tuple[float, float]) -> tuple[list[int], float]:
    """The nodes nearest ``location`` (several on a tie) and their great-circle distance, metres.

    Brute force, independent of ``network.snap_points``, which may break a tie either way.
    """
    nodes = list(graph.nodes)
    lon = np.array([graph.nodes[n]["x"] for n in nodes])
    lat = np.array([graph.nodes[n]["y"] for n in nodes])
    d = great_circle_m(location[1], location[0], lat, lon)
    tied = np.flatnonzero(d <= d.min() + 1e-3)
    return [nodes[k] for k in tied], float(d.min())


def great_circle_m(lat1, lon1, lat2, lon2):
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    d_lon = np.radians(lon2 - lon1)
    h = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(d_lon / 2) ** 2
    return 2 * 6_371_009.0 * np.arcsin(np.sqrt(h))


def test_nearest_stop_fallback_when_the_milp_returns_nothing(monkeypatch):
    scenario, net = grid_case(6, 40, seed=5, seats=4)

    class NoSolution:
        x = None
        message = "Infeasible"

    monkeypatch.setattr(stops_module, "milp", lambda *a, **k: NoSolution())
    sel = select_stops(scenario, net, PARAMS)
    check_selection(scenario, net, sel)
    # The fallback puts every pupil at the bus node nearest on foot.
    for s in scenario.students:
        if s.id in sel.walk_m:
            homes, snap_m = nearest_nodes(net.walk, s.location)
            nearest_m = [
                min(d for node, d in path_m.items() if node in net.loaded)
                for path_m in (
                    nx.single_source_dijkstra_path_length(net.walk, home, weight="length")
                    for home in homes
                )
            ]
            assert any(sel.walk_m[s.id] == pytest.approx(snap_m + m, abs=0.01) for m in nearest_m)


def test_large_groups_split_into_parts_stay_valid_and_close_to_the_whole(monkeypatch):
    scenario, net = grid_case(10, 120, seed=11)
    whole = select_stops(scenario, net, PARAMS)
    monkeypatch.setattr(stops_module, "MAX_MILP_PAIRS", 400)  # 11 parts instead of one MILP
    split = select_stops(scenario, net, PARAMS)
    check_selection(scenario, net, split)

    def cost(sel):
        return STOP_PENALTY_M * len(sel.stops) + sum(sel.walk_m.values())

    assert cost(whole) <= cost(split) <= 1.10 * cost(whole)


# --------------------------------------------------------------------------------------------------
# Invariants on random small cases
# --------------------------------------------------------------------------------------------------


@st.composite
def small_cases(draw):
    n_side = draw(st.integers(2, 4))
    spacing_m = draw(st.sampled_from([60.0, 150.0, 300.0]))
    loaded = draw(st.sets(st.integers(0, n_side * n_side - 1), min_size=1))
    net = grid_network(n_side, spacing_m, loaded)
    side_m = (n_side - 1) * spacing_m
    n_pupils = draw(st.integers(1, 14))
    students = []
    for k in range(n_pupils):
        e = draw(st.floats(-100, side_m + 100))
        n = draw(st.floats(-100, side_m + 100))
        students.append(pupil(
            f"p{k:02d}", e, n, grade=draw(st.integers(0, 12)),
            needs_wheelchair=draw(st.booleans()) and draw(st.booleans()),
            needs_door_to_door=draw(st.integers(0, 5)) == 0,
        ))
    vehicles = (
        VehicleType("bus", seats=draw(st.integers(1, 6)), day_rate=1000.0),
        VehicleType("van", seats=draw(st.integers(1, 6)), day_rate=700.0,
                    wheelchair_places=draw(st.integers(0, 2))),
    )
    policy = Policy(
        walk_limit_m=draw(st.sampled_from([150.0, 400.0, 800.0])),
        grade_walk_limits=(GradeWalkLimit(4, draw(st.sampled_from([100.0, 300.0]))),),
        snap_limit_m=80.0,
        wheelchair_door_to_door=draw(st.booleans()),
    )
    return scenario_of(students, policy, vehicles), net


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_cases())
def test_every_pupil_has_a_stop_within_limit_or_a_reason(case):
    scenario, net = case
    sel = select_stops(scenario, net, PARAMS)
    check_selection(scenario, net, sel)


# --------------------------------------------------------------------------------------------------
# The real Helsinki extract
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helsinki(helsinki_pbf, tmp_path_factory) -> RoadNetwork:
    return load_network(osm=helsinki_pbf, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.mark.slow
def test_helsinki_hundred_homes_near_a_school(helsinki):
    rng = np.random.default_rng(2024)
    school_lon, school_lat = 24.9440, 60.1700  # central Helsinki, inside the extract
    # Homes uniformly within about 450 m east-west and 550 m north-south of the school.
    lon = school_lon + rng.uniform(-0.008, 0.008, 100)
    lat = school_lat + rng.uniform(-0.005, 0.005, 100)
    grades = rng.integers(0, 9, 100)
    students = tuple(
        Student(f"h{k:03d}", (float(lon[k]), float(lat[k])), "OK1", "sabah", int(grades[k]))
        for k in range(100)
    )
    shift = Shift("sabah", 8 * 3600, 13 * 3600)
    school = School("OK1", "Koulu", (school_lon, school_lat), (shift,))
    limits = (GradeWalkLimit(0, 300), GradeWalkLimit(4, 500))  # preschool 300 m, primary 500 m
    policy = Policy(walk_limit_m=800, grade_walk_limits=limits)
    scenario = Scenario("helsinki", students, (school,), Fleet((BUS,)), policy)
    sel = select_stops(scenario, helsinki, PARAMS)
    check_selection(scenario, helsinki, sel)
    assert len(sel.walk_m) >= 80  # central Helsinki: nearly every home is near a bus street
    assert 3 <= len(sel.stops) <= 40
    assert {r.code for r in sel.unserved.values()} <= {ReasonCode.NO_STOP_WITHIN_WALK, ReasonCode.ROAD_NOT_CONNECTED}
    named = sum(bool(s.name) for s in sel.stops)
    assert named >= len(sel.stops) - 2  # stops take the street names of the extract
    assert select_stops(scenario, helsinki, PARAMS) == sel


def test_a_stop_milp_cut_by_its_wall_clock_guard_says_so(monkeypatch, caplog):
    # A slow machine, as HiGHS sees it: its time limit cut the solve short. The stops still come
    # from the incumbent or the nearest-stop fallback, and a warning names the setting to raise.
    scenario, net = grid_case(6, 40, seed=5, seats=4)
    real_milp = stops_module.milp

    def slow_milp(*args, **kwargs):
        result = real_milp(*args, **kwargs)
        result.message = "Time limit reached. (HiGHS Status 13: model_status is Time limit reached)"
        return result

    monkeypatch.setattr(stops_module, "milp", slow_milp)
    with caplog.at_level("WARNING", logger="schoolbus.stops"):
        sel = select_stops(scenario, net, PARAMS)
    check_selection(scenario, net, sel)
    assert "wall-clock guard" in caplog.text and "stop_time_limit_s" in caplog.text


def test_a_home_beside_a_road_cut_from_the_network_says_so(helsinki):
    # The extract's drivable ways near (24.9355, 60.1745) are cut off with the largest strongly
    # connected component; the nearest road a bus may use is about 365 m away in a straight line.
    cut_home = (24.93552, 60.17450)
    served_home = (24.9440, 60.1705)
    shift = Shift("sabah", 8 * 3600, 13 * 3600)
    school = School("OK1", "Koulu", (24.9440, 60.1700), (shift,))
    students = (Student("cut", cut_home, "OK1", "sabah", 5), Student("ok", served_home, "OK1", "sabah", 5))
    policy = Policy(walk_limit_m=200)
    sel = select_stops(Scenario("helsinki", students, (school,), Fleet((BUS,)), policy), helsinki, PARAMS)
    assert set(sel.walk_m) == {"ok"}
    reason = sel.unserved["cut"]
    assert reason.code is ReasonCode.ROAD_NOT_CONNECTED
    assert float(reason.param("road_m")) < 30 and float(reason.param("snap_m")) > 300
    assert describe_reason(reason) == (
        "home is 0 m from a road that is not connected to the district's road network (the edge of "
        "the map extract or a gap in the map); the nearest connected road is 370 m away"
    )


def test_a_far_home_with_no_cut_road_near_keeps_its_reason():
    # The hand-made network cuts nothing: the walk-limit reason stands.
    net = line_network(n_nodes=20, loaded={0, 1, 2, 3})
    sel = select_stops(scenario_of([pupil("beyond_walk", 1500)]), net, PARAMS)
    assert sel.unserved["beyond_walk"].code is ReasonCode.NO_STOP_WITHIN_WALK


def test_homes_outside_the_network_area_are_found_before_planning(helsinki):
    shift = Shift("sabah", 8 * 3600, 13 * 3600)
    school = School("OK1", "Koulu", (24.9440, 60.1700), (shift,))
    students = (
        Student("tallinn", (24.7536, 59.4370), "OK1", "sabah", 5),  # across the gulf
        Student("centre", (24.9440, 60.1705), "OK1", "sabah", 5),
    )
    scenario = Scenario("helsinki", students, (school,), Fleet((BUS,)), Policy())
    ((student_id, distance_m),) = homes_outside_network(scenario, helsinki)
    assert student_id == "tallinn" and 75_000 < distance_m < 95_000
