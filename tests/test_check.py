"""The independent checker: a hand-made valid plan passes; every planted violation is named.

The world is a 5 x 5 street grid (node ``100 + 10 * row + col``); every block is 200 m and takes
24 s (30 km/h), so a path of ``k`` blocks takes ``24 k`` s and ``200 k`` m. School A stands at
(4, 4), school B at (0, 4), the depot at (2, 4). Every time in the plan below is worked out by
hand from those numbers (the comments show the sums).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schoolbus.check import check_plan
from schoolbus.costing import cost_plan
from schoolbus.model import (
    Assignment,
    Depot,
    Direction,
    Fleet,
    GradeWalkLimit,
    Plan,
    Policy,
    Prices,
    Reason,
    ReasonCode,
    Scenario,
    School,
    Shift,
    Status,
    Stop,
    Student,
    Summary,
    Trip,
    VehicleDay,
    VehicleType,
    ViolationCode,
    Visit,
)
from schoolbus.network import NetworkReport, RoadNetwork

BLOCK_M = 200.0
BLOCK_S = 24.0
LON0, LAT0 = 32.85, 39.96
DLON, DLAT = 0.00234, 0.0018  # about 200 m at this latitude
GRID = 5


def node(row: int, col: int) -> int:
    return 100 + 10 * row + col


def where(row: int, col: int, north_m: float = 0.0) -> tuple[float, float]:
    """``(lon, lat)`` of a grid node, optionally ``north_m`` metres north of it."""
    return (LON0 + col * DLON, LAT0 + row * DLAT + north_m / 111_195.0)


def grid_network() -> RoadNetwork:
    """A network shaped like ``network.load_network``'s, on the grid (all three graphs alike)."""
    drive = nx.MultiDiGraph()
    walk = nx.MultiGraph()
    for r in range(GRID):
        for c in range(GRID):
            lon, lat = where(r, c)
            drive.add_node(node(r, c), x=lon, y=lat)
            walk.add_node(node(r, c), x=lon, y=lat)
    for r in range(GRID):
        for c in range(GRID):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr < GRID and c + dc < GRID:
                    u, v = node(r, c), node(r + dr, c + dc)
                    edge = dict(length=BLOCK_M, speed_kph=30.0, travel_time=BLOCK_S,
                                highway="residential", name=f"street {min(u, v)}")
                    drive.add_edge(u, v, **edge)
                    drive.add_edge(v, u, **edge)
                    walk.add_edge(u, v, length=BLOCK_M, highway="residential", name="")
    loaded = drive.copy()
    report = NetworkReport(
        source="test:grid", n_nodes=GRID * GRID, n_edges=drive.number_of_edges(), road_km=8.0,
        n_nodes_read=GRID * GRID, share_kept=1.0, n_nodes_cut=0,
    )
    return RoadNetwork("grid", drive, loaded, walk, report)


SCHOOL_A = School("A", "Atatürk İlkokulu", where(4, 4), (Shift("sabah", 28800, 46800),))
SCHOOL_B = School("B", "Etlik Ortaokulu", where(0, 4), (Shift("sabah", 30600, 48600),))
MIDI = VehicleType("midi", seats=3, day_rate=1500.0, km_rate=10.0)
MINI = VehicleType("mini", seats=8, day_rate=1000.0, km_rate=8.0, wheelchair_places=1)
DEPOT = Depot("D", "Garaj", where(2, 4))
STUDENTS = (
    Student("s1", where(1, 0), "A", "sabah", grade=3, funding_line="UNICEF"),
    Student("s2", where(0, 1), "A", "sabah", grade=3),
    Student("s3", where(2, 2), "A", "sabah", grade=7),
    Student("s4", where(0, 3), "B", "sabah", grade=6),
    # 20 m north of node (1, 3): a door-to-door wheelchair user, no escort needed at grade 9.
    Student("s5", where(1, 3, north_m=20.0), "B", "sabah", grade=9, needs_wheelchair=True),
    Student("s6", where(3, 0), "A", "sabah", grade=5),
)
SCENARIO = Scenario(
    name="grid",
    students=STUDENTS,
    schools=(SCHOOL_A, SCHOOL_B),
    fleet=Fleet((MIDI, MINI), (DEPOT,)),
    policy=Policy(),  # service 30 s + 5 s a pupil, buffer 300 s, dwell 180 s, walk 800 m
    prices=Prices(escort_day_rate=400.0, overhead_share=0.1),
)
STOPS = (
    Stop("P1", where(0, 0), node(0, 0), "A", "sabah", ("s1", "s2")),
    Stop("P2", where(2, 2), node(2, 2), "A", "sabah", ("s3",)),
    Stop("P3", where(0, 2), node(0, 2), "B", "sabah", ("s4",)),
    Stop("D1", where(1, 3), node(1, 3), "B", "sabah", ("s5",), is_door_to_door=True),
)


def V(arrive: int, depart: int, *, stop=None, school=None, board=(), alight=()) -> Visit:
    return Visit(arrive, depart, stop_id=stop, school_id=school, board=tuple(board), alight=tuple(alight))


TRIPS = (
    # T1: P1 -(4 blocks, 96 s)-> P2 -(4 blocks, 96 s)-> A; at A by 28800 - 300 = 28500.
    # P2 departs 28500 - 96 = 28404 after 30 + 5 s; P1 departs 28369 - 96 = 28273 after 30 + 10 s.
    Trip("T1", "V1", "midi", "A", "sabah", Direction.TO_SCHOOL, (
        V(28233, 28273, stop="P1", board=["s1", "s2"]),
        V(28369, 28404, stop="P2", board=["s3"]),
        V(28500, 28680, school="A", alight=["s1", "s2", "s3"]),  # dwell 180 s
    ), distance_m=1600.0, duration_s=447),
    # T2: P3 -(2 blocks, 48 s)-> B. After T1: A to P3 is 6 blocks (144 s): 28680 + 144 <= 29000.
    Trip("T2", "V1", "midi", "B", "sabah", Direction.TO_SCHOOL, (
        V(29000, 29035, stop="P3", board=["s4"]),
        V(29083, 29263, school="B", alight=["s4"]),
    ), distance_m=400.0, duration_s=263),
    # T3: leaves A at dismissal 46800 + dwell 180 = 46980; P2 at +96, P1 at +96 + 35 + 96.
    Trip("T3", "V1", "midi", "A", "sabah", Direction.FROM_SCHOOL, (
        V(46800, 46980, school="A", board=["s1", "s2", "s3"]),
        V(47076, 47111, stop="P2", alight=["s3"]),
        V(47207, 47247, stop="P1", alight=["s1", "s2"]),
    ), distance_m=1600.0, duration_s=447),
    # T4: leaves B at 48600 + 180; P3 48 s later. After T3: P1 to B is 4 blocks (96 s).
    Trip("T4", "V1", "midi", "B", "sabah", Direction.FROM_SCHOOL, (
        V(48600, 48780, school="B", board=["s4"]),
        V(48828, 48863, stop="P3", alight=["s4"]),
    ), distance_m=400.0, duration_s=263),
    # T5/T6: the wheelchair minibus, D1 (1, 3) <-> B (0, 4): 2 blocks, 48 s; at B by 30300.
    Trip("T5", "V2", "mini", "B", "sabah", Direction.TO_SCHOOL, (
        V(30217, 30252, stop="D1", board=["s5"]),
        V(30300, 30480, school="B", alight=["s5"]),
    ), distance_m=400.0, duration_s=263),
    Trip("T6", "V2", "mini", "B", "sabah", Direction.FROM_SCHOOL, (
        V(48600, 48780, school="B", board=["s5"]),
        V(48828, 48863, stop="D1", alight=["s5"]),
    ), distance_m=400.0, duration_s=263),
)
# V1 deadhead: depot (2,4) -> P1 6 blocks, A -> P3 6, B -> A 4, P1 -> B 4, P3 -> depot 4 = 24 blocks.
VEHICLES = (
    VehicleDay("V1", "midi", 3, 0, True, ("T1", "T2", "T3", "T4"), "D", 4800.0, 8800.0, 0.0),
    VehicleDay("V2", "mini", 8, 1, False, ("T5", "T6"), None, 0.0, 800.0, 0.0),
)


def door_walk_m() -> float:
    """s5's walk: the straight line from home to node (1, 3), about 20 m."""
    (lon1, lat1), (lon2, lat2) = STUDENTS[4].location, where(1, 3)
    return 6_371_009.0 * math.radians(lat1 - lat2) if lon1 == lon2 else math.nan


ASSIGNMENTS = (
    # walk: home on a node 1 block from the stop = 200 m; rides from the trips above.
    Assignment("s1", "A", "sabah", Status.ROUTED, None, "P1", 200.0, 28233, 47207, 227, 227),
    Assignment("s2", "A", "sabah", Status.ROUTED, None, "P1", 200.0, 28233, 47207, 227, 227),
    Assignment("s3", "A", "sabah", Status.ROUTED, None, "P2", 0.0, 28369, 47076, 96, 96),
    Assignment("s4", "B", "sabah", Status.ROUTED, None, "P3", 200.0, 29000, 48828, 48, 48),
    Assignment("s5", "B", "sabah", Status.ROUTED, None, "D1", door_walk_m(), 30217, 48828, 48, 48),
    Assignment("s6", "A", "sabah", Status.UNSERVED, Reason.make(ReasonCode.NO_ROAD_ON_FOOT, limit_m=800.0)),
)


def priced(plan: Plan) -> Plan:
    """``plan`` with vehicle costs, summary and breakdown from its own trips and assignments."""
    costs = cost_plan(plan.scenario, plan.trips, plan.vehicles, plan.assignments)
    return dataclasses.replace(plan, vehicles=costs.vehicles, summary=costs.summary, costs=costs.lines)


EMPTY_SUMMARY = Summary(0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, None, None, None, None, None, None, None)
VALID = priced(Plan(SCENARIO, STOPS, ASSIGNMENTS, TRIPS, VEHICLES, EMPTY_SUMMARY, network_name="grid"))


GRID_NETWORK = grid_network()


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    return GRID_NETWORK


def test_hand_made_plan_has_no_violations(network):
    assert door_walk_m() == pytest.approx(20.0, abs=0.01)
    assert check_plan(VALID, network) == []


def test_checker_is_deterministic(network):
    broken = _with_trip(VALID, "T2", lambda t: _shift_trip(t, -200))
    assert check_plan(broken, network) == check_plan(broken, network) != []


# ---- planting violations -------------------------------------------------------------------------


def _with_scenario(plan: Plan, **changes) -> Plan:
    return dataclasses.replace(plan, scenario=dataclasses.replace(plan.scenario, **changes))


def _with_fleet_type(plan: Plan, type_id: str, **changes) -> Plan:
    types = tuple(
        dataclasses.replace(v, **changes) if v.id == type_id else v
        for v in plan.scenario.fleet.vehicle_types
    )
    return _with_scenario(plan, fleet=dataclasses.replace(plan.scenario.fleet, vehicle_types=types))


def _with_school_shift(plan: Plan, school_id: str, **changes) -> Plan:
    schools = tuple(
        dataclasses.replace(s, shifts=tuple(dataclasses.replace(x, **changes) for x in s.shifts))
        if s.id == school_id else s
        for s in plan.scenario.schools
    )
    return _with_scenario(plan, schools=schools)


def _with_student(plan: Plan, student_id: str, **changes) -> Plan:
    students = tuple(
        dataclasses.replace(s, **changes) if s.id == student_id else s for s in plan.scenario.students
    )
    return _with_scenario(plan, students=students)


def _with_assignment(plan: Plan, student_id: str, **changes) -> Plan:
    assignments = tuple(
        dataclasses.replace(a, **changes) if a.student_id == student_id else a for a in plan.assignments
    )
    return dataclasses.replace(plan, assignments=assignments)


def _with_trip(plan: Plan, trip_id: str, change: Callable[[Trip], Trip]) -> Plan:
    return dataclasses.replace(plan, trips=tuple(change(t) if t.id == trip_id else t for t in plan.trips))


def _with_vehicle(plan: Plan, vehicle_id: str, **changes) -> Plan:
    vehicles = tuple(
        dataclasses.replace(v, **changes) if v.id == vehicle_id else v for v in plan.vehicles
    )
    return dataclasses.replace(plan, vehicles=vehicles)


def _with_stop(plan: Plan, stop_id: str, **changes) -> Plan:
    stops = tuple(dataclasses.replace(s, **changes) if s.id == stop_id else s for s in plan.stops)
    return dataclasses.replace(plan, stops=stops)


def _shift_trip(trip: Trip, delta_s: int) -> Trip:
    visits = tuple(
        dataclasses.replace(v, arrive_s=v.arrive_s + delta_s, depart_s=v.depart_s + delta_s)
        for v in trip.visits
    )
    return dataclasses.replace(trip, visits=visits)


def _with_visit(trip: Trip, index: int, **changes) -> Trip:
    visits = list(trip.visits)
    visits[index] = dataclasses.replace(visits[index], **changes)
    return dataclasses.replace(trip, visits=tuple(visits))


PLANTED = [
    # Over capacity: T1 carries 3 pupils, the midi type now has 2 seats.
    ("over_capacity", lambda p: _with_fleet_type(p, "midi", seats=2),
     "trip T1: over capacity after stop P2: 3 pupils seated, vehicle type midi has 2 seats"),
    # Ride too long: s1's own limit (200 s) is below the 227 s it rides.
    ("ride_too_long", lambda p: _with_student(p, "s1", max_ride_s=200),
     "student s1: ride to school of 227 s on trip T1 exceeds the limit of 200 s"),
    # Late at school: A's bell moves to 07:58:20, so buses must arrive by 07:53:20 (T1: 07:55:00).
    ("late_at_school", lambda p: _with_school_shift(p, "A", bell_s=28700),
     "trip T1: arrives at school A at 07:55:00, late"),
    # Early afternoon departure: dismissal 13:01:40 + 180 s dwell is after T3 leaves (13:03:00).
    ("early_departure", lambda p: _with_school_shift(p, "A", dismissal_s=46900),
     "trip T3: leaves school A at 13:03:00, too early"),
    # Walk too long: grades up to 4 may now walk 150 m; s1 walks 200 m.
    ("walk_too_long",
     lambda p: _with_scenario(p, policy=Policy(grade_walk_limits=(GradeWalkLimit(4, 150.0),))),
     "student s1: walk of 200 m to stop P1 exceeds the grade 3 limit of 150 m"),
    # walk_m mismatch: the plan claims 250 m where the walk network gives 200 m.
    ("walk_mismatch", lambda p: priced(_with_assignment(p, "s1", walk_m=250.0)),
     "student s1: walk_m is 250.0 but the walk to stop P1 is 200.0 m"),
    # Student missing: s3's assignment is dropped.
    ("student_missing",
     lambda p: dataclasses.replace(p, assignments=tuple(a for a in p.assignments if a.student_id != "s3")),
     "student s3: has no assignment"),
    # Student twice: s3 has two assignments.
    ("student_twice", lambda p: dataclasses.replace(p, assignments=p.assignments + (p.assignments[2],)),
     "student s3: has 2 assignments"),
    # Routed without a trip: s6 is declared routed at stop P2, but no trip carries s6.
    ("routed_without_trip",
     lambda p: _with_assignment(p, "s6", status=Status.ROUTED, reason=None, stop_id="P2", walk_m=400.0),
     "student s6: routed but rides no to_school trip"),
    # Unserved without a reason.
    ("unserved_without_reason", lambda p: _with_assignment(p, "s6", reason=None),
     "student s6: unserved without a reason"),
    # Chaining gap too small: T2 moved 200 s earlier starts at 08:00:00, but V1 reaches P3 at 08:00:24.
    ("chaining_gap",
     lambda p: _with_assignment(_with_trip(p, "T2", lambda t: _shift_trip(t, -200)), "s4", pickup_s=28800),
     "vehicle V1: trip T1 ends at 07:58:00 and the drive to trip T2 takes 144 s, but T2 starts at "
     "08:00:00: the gap between chained trips is too small"),
    # Wrong-school stop: P3 now claims to be a stop of school A, yet T2 (school B) visits it.
    ("wrong_school_stop", lambda p: _with_stop(p, "P3", school_id="A"),
     "trip T2: visits stop P3 of school A shift sabah, but the trip serves school B shift sabah"),
    # No escort: V1 carries s1 and s2 (grade 3) without an escort.
    ("no_escort", lambda p: priced(_with_vehicle(p, "V1", escort=False)),
     "vehicle V1: has no escort but carries pupils up to grade 4, who need one: s1 (grade 3), s2 (grade 3)"),
    # Too many vehicles: no midi is available any more.
    ("too_many_vehicles", lambda p: _with_fleet_type(p, "midi", count=0),
     "vehicle type midi: the plan uses 1 vehicle(s), only 0 are available"),
    # Cost mismatch: V1's day cost is off by one lira. By hand: (1500 day + 10/km * 8.8 km +
    # 400 escort) * 1.1 overhead = 2186.80.
    ("cost_mismatch", lambda p: _with_vehicle(p, "V1", cost_per_day=2187.80),
     "vehicle V1: cost_per_day is 2187.80 but its prices give 2186.80"),
    # Summary mismatch: V1 2186.80 + V2 (1000 + 8/km * 0.8 km) * 1.1 = 1107.04 -> 3293.84 a day.
    ("summary_mismatch",
     lambda p: dataclasses.replace(p, summary=dataclasses.replace(p.summary, cost_per_day=1.0)),
     "summary: cost_per_day is 1.00 but the plan's trips, vehicles and students give 3293.84"),
    # Per-pupil money tampered: 3293.84 a day * 181 days / 5 routed pupils = 119237.01 a year.
    ("per_pupil_cost_tampered",
     lambda p: dataclasses.replace(p, summary=dataclasses.replace(p.summary, cost_per_student_per_year=119337.01)),
     "summary: cost_per_student_per_year is 119337.01 but the plan's trips, vehicles and students give 119237.01"),
    # A breakdown line tampered: school B gets V1's share of T2 and T4 by duration, 2186.80 *
    # 526 / 1420 = 810.04, plus all of V2, 1107.04: 1917.08 a day, 346991.48 a year.
    ("cost_line_tampered",
     lambda p: dataclasses.replace(p, costs=tuple(
         dataclasses.replace(c, cost_per_day=1817.08) if (c.group, c.key) == ("school", "B") else c
         for c in p.costs)),
     "costs: school B: plan says 2 students, 1817.08 a day, 346991.48 a year; recomputed 2, 1917.08, 346991.48"),
    # Faster than the road: T1 reaches P2 40 s after leaving P1 (the road takes 96 s).
    ("faster_than_road", lambda p: _with_trip(p, "T1", lambda t: _with_visit(t, 0, depart_s=28329)),
     "trip T1: reaches stop P2 40 s after leaving stop P1, faster than the 96 s the loaded road takes"),
    # Waiting on the road: T4 reaches P3 60 s late instead of waiting at the school.
    ("waits_on_road",
     lambda p: _with_trip(p, "T4", lambda t: _with_visit(t, 1, arrive_s=48888, depart_s=48923)),
     "trip T4: reaches stop P3 108 s after leaving school B, but the loaded road takes 48 s; "
     "waiting is only allowed at a visit"),
    # Service too short: 2 pupils board at P1, which takes 40 s, not 20 s.
    ("service_too_short", lambda p: _with_trip(p, "T1", lambda t: _with_visit(t, 0, arrive_s=28253)),
     "trip T1: stands 20 s at stop P1, less than the 40 s its service needs"),
    # Ride figure wrong: the plan says 200 s where T1 gives 227 s.
    ("ride_mismatch", lambda p: priced(_with_assignment(p, "s2", ride_to_school_s=200)),
     "student s2: ride_to_school_s is 200 but trip T1 gives 227 s"),
    # Pickup time wrong: the bus reaches P1 at 07:50:33, not 07:50:00.
    ("pickup_mismatch", lambda p: _with_assignment(p, "s2", pickup_s=28200),
     "student s2: pickup_s is 07:50:00 but trip T1 reaches stop P1 at 07:50:33"),
    # Trip distance wrong.
    ("trip_distance", lambda p: _with_trip(p, "T2", lambda t: dataclasses.replace(t, distance_m=500.0)),
     "trip T2: distance_m is 500.0 but its legs on the loaded road add up to 400.0 m"),
    # Deadhead wrong: V1 forgets the run back to its depot (800 m).
    ("deadhead_mismatch", lambda p: priced(_with_vehicle(p, "V1", deadhead_m=4000.0, distance_m=8000.0)),
     "vehicle V1: deadhead_m is 4000.0 but the empty runs on the drive network add up to 4800.0 m"),
    # Wheelchair places: the mini now has none for s5.
    ("wheelchair_capacity", lambda p: _with_fleet_type(p, "mini", wheelchair_places=0),
     "trip T5: over wheelchair capacity after stop D1: 1 wheelchair users, vehicle type mini has 0"),
    # Door-to-door promise: s5 needs pickup at home, but D1 is declared a shared stop.
    ("door_to_door", lambda p: _with_stop(p, "D1", is_door_to_door=False),
     "student s5: needs door-to-door pickup but stop D1 is a shared stop"),
    # Stop off the loaded roads: P2 moved to a node the loaded graph lacks.
    ("stop_off_road", lambda p: _with_stop(p, "P2", node_id=999),
     "stop P2: node 999 is not on the roads a loaded bus may use"),
    # Student boarding at another stop than assigned: s3 assigned to P1 but boards at P2.
    ("boards_elsewhere",
     lambda p: _with_stop(_with_assignment(p, "s3", stop_id="P1"), "P1", student_ids=("s1", "s2", "s3")),
     "student s3: boards trip T1 at stop P2, not at the assigned stop P1"),
    # Unserved yet carried: s3 declared unserved but still rides T1 and T3.
    ("unserved_but_carried",
     lambda p: _with_assignment(p, "s3", status=Status.UNSERVED, reason=Reason.make(ReasonCode.TEXT, text="moved away")),
     "student s3: unserved but rides trip T1"),
]


@pytest.mark.parametrize(
    ("plant", "expected"), [(plant, expected) for _, plant, expected in PLANTED],
    ids=[name for name, _, _ in PLANTED],
)
def test_planted_violation_is_caught(network, plant, expected):
    violations = check_plan(plant(VALID), network)
    assert any(expected in v for v in violations), "\n".join(violations)


PLANTED_CODES = {
    "walk_too_long": ViolationCode.WALK_LIMIT_EXCEEDED,
    "walk_mismatch": ViolationCode.WALK_MISMATCH,
    "student_missing": ViolationCode.NO_ASSIGNMENT,
    "student_twice": ViolationCode.SEVERAL_ASSIGNMENTS,
    "routed_without_trip": ViolationCode.RIDES_NO_TRIP,
    "unserved_without_reason": ViolationCode.UNSERVED_WITHOUT_REASON,
    "wrong_school_stop": ViolationCode.STOP_OF_OTHER_GROUP,
    "unserved_but_carried": ViolationCode.UNSERVED_RIDES,
}


@pytest.mark.parametrize("name", sorted(PLANTED_CODES))
def test_violations_carry_a_code_and_their_subject(network, name):
    plant, expected = next((plant, expected) for n, plant, expected in PLANTED if n == name)
    (violation,) = [v for v in check_plan(plant(VALID), network) if expected in v]
    assert violation.code is PLANTED_CODES[name]
    assert violation.subject == expected.split(": ", 1)[0]


def test_money_is_checked_to_the_cent(network):
    """The plan rounds to cents and the checker does not: a cent apart passes, two cents do not."""
    assert check_plan(_with_vehicle(VALID, "V1", cost_per_day=2186.81), network) == []
    assert check_plan(_with_vehicle(VALID, "V1", cost_per_day=2186.82), network) == [
        "vehicle V1: cost_per_day is 2186.82 but its prices give 2186.80"
    ]


def test_the_checker_shares_no_code_with_costing():
    """Money is recomputed by the checker's own lines, so a costing bug cannot hide itself."""
    import ast
    import inspect

    from schoolbus import check

    tree = ast.parse(inspect.getsource(check))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not any(name and name.startswith("schoolbus.costing") for name in imported)


def test_a_plan_timed_on_drive_roads_fails_on_loaded_roads(network):
    """Trips must use the ``loaded`` graph: make the P1-P2 street loaded-forbidden and see."""
    loaded = network.loaded.copy()
    for u, v in ((node(0, 0), node(0, 1)), (node(0, 1), node(0, 0)), (node(0, 0), node(1, 0)),
                 (node(1, 0), node(0, 0))):
        loaded.remove_edge(u, v)
    loaded.remove_node(node(0, 0))  # P1 is now unreachable for a loaded bus
    cut = dataclasses.replace(network, loaded=loaded)
    violations = check_plan(VALID, cut)
    assert "stop P1: node 100 is not on the roads a loaded bus may use" in violations


def test_a_stop_no_footpath_reaches_is_reported(network):
    """P3's node keeps its roads but loses its walkable ways (say, a road tagged foot=no)."""
    walk = network.walk.copy()
    walk.remove_edges_from(list(walk.edges(node(0, 2))))
    violations = check_plan(VALID, dataclasses.replace(network, walk=walk))
    assert violations == ["student s4: cannot walk from home to stop P3 on the walk network"]


# ---- a real network: a plan timed on Helsinki's roads, written, validated from the command line --


def _helsinki_plan(network: RoadNetwork) -> Plan:
    """One vehicle, three stops and a school on real roads, timed by the rules in check.py.

    Times come from the loaded graph rounded up to whole seconds, as the solvers get them; walks
    from a pupil's home one walkable block away from the stop.
    """
    from schoolbus.matrix import travel_matrices, walk_distances
    from schoolbus.network import snap_points
    from schoolbus.routing.problem import to_solver_seconds

    nodes = sorted(network.loaded.nodes)
    school_node = nodes[len(nodes) // 2]
    stop_nodes = [nodes[len(nodes) // 8], nodes[len(nodes) // 4], nodes[3 * len(nodes) // 4]]
    xy = {n: (network.loaded.nodes[n]["x"], network.loaded.nodes[n]["y"]) for n in nodes}
    policy = Policy(max_ride_s=3600)
    school = School("H1", "Kallion ala-aste", xy[school_node], (Shift("aamu", 30600, 50400),))
    homes = [
        network.walk.nodes[min(network.walk.neighbors(n))] for n in stop_nodes
    ]
    students = tuple(
        Student(f"h{k}", (home["x"], home["y"]), "H1", "aamu", grade=6) for k, home in enumerate(homes)
    )
    stops = tuple(
        Stop(f"Q{k}", xy[n], n, "H1", "aamu", (f"h{k}",)) for k, n in enumerate(stop_nodes)
    )
    home_snap = snap_points(network.walk, [s.location for s in students])
    walks = [
        float(home_snap.snap_m[k]) + float(walk_distances(network.walk, [int(home_snap.node_ids[k])], [n])[0, 0])
        for k, n in enumerate(stop_nodes)
    ]
    service = policy.stop_service_s + policy.stop_service_per_student_s

    def legs(path):
        m = travel_matrices(network.loaded, path[:-1], path[1:])
        return [to_solver_seconds(m.time_s[i, i]) for i in range(len(path) - 1)], float(
            sum(m.distance_m[i, i] for i in range(len(path) - 1)))

    # Morning: stops 0, 1, 2 then school, arriving exactly at bell - buffer; worked backwards.
    times, morning_m = legs([*stop_nodes, school_node])
    at_school = school.shifts[0].bell_s - policy.arrival_buffer_s
    departs = [0, 0, 0]
    departs[2] = at_school - times[2]
    departs[1] = departs[2] - service - times[1]
    departs[0] = departs[1] - service - times[0]
    morning = Trip("M1", "V1", "bus", "H1", "aamu", Direction.TO_SCHOOL, (
        *(V(d - service, d, stop=f"Q{k}", board=[f"h{k}"]) for k, d in enumerate(departs)),
        V(at_school, at_school + policy.school_dwell_s, school="H1", alight=["h0", "h1", "h2"]),
    ), morning_m, at_school + policy.school_dwell_s - (departs[0] - service))
    # Afternoon: school then stops 2, 1, 0, leaving at dismissal + dwell.
    times, evening_m = legs([school_node, *reversed(stop_nodes)])
    leave = school.shifts[0].dismissal_s + policy.school_dwell_s
    arrivals = [leave + times[0]]
    arrivals.append(arrivals[-1] + service + times[1])
    arrivals.append(arrivals[-1] + service + times[2])
    evening = Trip("E1", "V1", "bus", "H1", "aamu", Direction.FROM_SCHOOL, (
        V(leave - policy.school_dwell_s, leave, school="H1", board=["h0", "h1", "h2"]),
        *(V(a, a + service, stop=f"Q{2 - k}", alight=[f"h{2 - k}"]) for k, a in enumerate(arrivals)),
    ), evening_m, arrivals[-1] + service - (leave - policy.school_dwell_s))
    pickups = {f"h{k}": d - service for k, d in enumerate(departs)}
    dropoffs = {f"h{2 - k}": a for k, a in enumerate(arrivals)}
    assignments = tuple(
        Assignment(s.id, "H1", "aamu", Status.ROUTED, None, f"Q{k}", walks[k], pickups[s.id], dropoffs[s.id],
                   at_school - (pickups[s.id] + service), dropoffs[s.id] - leave)
        for k, s in enumerate(students)
    )
    scenario = Scenario("helsinki", students, (school,), Fleet((VehicleType("bus", 30, 2000.0, 9.0),)),
                        policy, Prices(escort_day_rate=500.0))
    vehicle = VehicleDay("V1", "bus", 30, 0, False, ("M1", "E1"), None, 0.0, morning_m + evening_m, 0.0)
    plan = Plan(scenario, stops, assignments, (morning, evening), (vehicle,), EMPTY_SUMMARY,
                network_name=network.name)
    return priced(plan)


@pytest.mark.slow
def test_validate_command_on_a_real_network(helsinki_pbf, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from schoolbus.cli import app
    from schoolbus.network import load_network
    from schoolbus.planfile import NetworkSource, write_plan

    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "cache"))
    network = load_network(osm=helsinki_pbf, cache_dir=tmp_path / "cache")
    plan = _helsinki_plan(network)
    assert check_plan(plan, network) == []
    assert plan.summary.max_ride_s > 60  # real roads, real minutes
    write_plan(plan, tmp_path / "plan", NetworkSource.from_file("osm", helsinki_pbf))

    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(tmp_path / "plan")])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "3 students (3 routed, 0 unserved)" in result.output

    # The bus now "arrives" at the school a minute before it could: caught, exit status 5.
    plan_json = tmp_path / "plan" / "plan.json"
    document = json.loads(plan_json.read_text(encoding="utf-8"))
    document["trips"][0]["visits"][-1]["arrive_s"] -= 60
    plan_json.write_text(json.dumps(document), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(tmp_path / "plan")])
    assert result.exit_code == 5
    assert "trip M1: reaches school H1" in result.output
    assert "faster than the" in result.output
    assert "faster_than_road ×1: trip M1" in result.output  # grouped by code, with subjects

    # The same violation in Turkish and Arabic: words are translations, the code stays.
    result = runner.invoke(app, ["validate", str(tmp_path / "plan"), "--language", "tr"])
    assert result.exit_code == 5
    assert "[faster_than_road] sefer M1: " in result.output
    assert "H1 okulu noktasına varıyor; yüklü yolun gerektirdiği" in result.output
    assert "trip M1" not in result.output.split("faster_than_road ×1")[0]
    result = runner.invoke(app, ["validate", str(tmp_path / "plan"), "--language", "ar"])
    assert result.exit_code == 5
    assert "[faster_than_road] الرحلة M1: تصل إلى المدرسة H1" in result.output


# ---- robustness: a broken plan gets messages, never a traceback -----------------------------------


@st.composite
def broken_plans(draw) -> Plan:
    """VALID with one to three random defects of the kinds producers get wrong."""
    plan = VALID
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(
            ["shift_visit", "drop_visit", "swap_ids", "drop_trip", "stop_node", "status",
             "direction", "trip_ids", "visit_names", "vehicle_type"]))
        t = draw(st.integers(0, len(plan.trips) - 1)) if plan.trips else None
        if t is None:
            break
        trip = plan.trips[t]
        k = draw(st.integers(0, len(trip.visits) - 1)) if trip.visits else 0
        if kind == "shift_visit" and trip.visits:
            delta = draw(st.integers(-600, 600))
            trip = _with_visit(trip, k, arrive_s=trip.visits[k].arrive_s + delta)
        elif kind == "drop_visit" and trip.visits:
            trip = dataclasses.replace(trip, visits=trip.visits[:k] + trip.visits[k + 1:])
        elif kind == "swap_ids":
            trip = _with_visit(trip, k, board=tuple(draw(st.lists(st.sampled_from(["s1", "s4", "s9"]), max_size=3))))
        elif kind == "drop_trip":
            plan = dataclasses.replace(plan, trips=plan.trips[:t] + plan.trips[t + 1:])
            continue
        elif kind == "stop_node":
            plan = _with_stop(plan, draw(st.sampled_from([s.id for s in plan.stops])),
                              node_id=draw(st.sampled_from([node(0, 0), node(4, 4), 7])))
            continue
        elif kind == "status":
            sid = draw(st.sampled_from([a.student_id for a in plan.assignments]))
            plan = _with_assignment(plan, sid, status=draw(st.sampled_from(Status)), stop_id=draw(
                st.sampled_from([None, "P1", "nowhere"])))
            continue
        elif kind == "direction":
            trip = dataclasses.replace(trip, direction=draw(st.sampled_from(Direction)))
        elif kind == "trip_ids":
            ids = list(plan.vehicles[0].trip_ids)
            plan = _with_vehicle(plan, "V1", trip_ids=tuple(draw(st.permutations(ids + ["T9"]))[:4]))
            continue
        elif kind == "visit_names" and trip.visits:
            trip = _with_visit(trip, k, stop_id=draw(st.sampled_from([None, "P2"])),
                               school_id=draw(st.sampled_from([None, "A", "Z"])))
        elif kind == "vehicle_type":
            trip = dataclasses.replace(trip, vehicle_type=draw(st.sampled_from(["midi", "mini", "bus"])))
        plan = dataclasses.replace(plan, trips=plan.trips[:t] + (trip,) + plan.trips[t + 1:])
    return plan


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=broken_plans())
def test_broken_plans_get_messages_not_tracebacks(plan):
    violations = check_plan(plan, GRID_NETWORK)
    assert all(isinstance(v, str) and v for v in violations)
    assert violations == check_plan(plan, GRID_NETWORK)  # deterministic
    if len(plan.trips) < len(VALID.trips):
        assert violations  # a dropped trip strands its pupils, always


# ---- violations in Turkish and Arabic: codes stay, words are translations -----------------------


def test_the_violations_catalogue_holds_exactly_the_checkers_sentences():
    import ast
    import inspect

    from babel.messages.pofile import read_po

    import schoolbus.check
    from schoolbus.outputs import violations
    from schoolbus.outputs.i18n import po_path

    def marked(module) -> set[str]:
        tree = ast.parse(inspect.getsource(module))
        return {
            n.args[0].value for n in ast.walk(tree)
            if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "N_" and isinstance(n.args[0], ast.Constant)
        }

    sentences = marked(schoolbus.check) | marked(violations)
    placeholder = re.compile(r"%\((\w+)\)s")
    for language in ("tr", "en", "ar"):
        with po_path(language, violations.DOMAIN).open("rb") as f:
            catalog = read_po(f, locale=language)
        assert {m.id for m in catalog if m.id} == sentences, language  # nothing missing, nothing stale
        for message in catalog:
            if message.id:
                assert message.string, (language, message.id)
                assert set(placeholder.findall(message.string)) == set(placeholder.findall(message.id)), message.id


@pytest.mark.parametrize(("name", "plant", "expected"), PLANTED, ids=[name for name, _, _ in PLANTED])
def test_every_planted_violation_reads_in_turkish_and_arabic(network, name, plant, expected):
    from schoolbus.outputs.violations import describe_violation

    for violation in check_plan(plant(VALID), network):
        assert describe_violation(violation, "en") == str(violation)
        turkish, arabic = describe_violation(violation, "tr"), describe_violation(violation, "ar")
        assert turkish != str(violation) and arabic != str(violation)
        # Ids and figures come through; no English word of the sentence does.
        english = set(re.findall(r"[a-z]{5,}", re.sub(r"%\(\w+\)s", " ", violation.message))) - {"deadhead_m"}
        for word in english:
            if word not in {"distance_m", "duration_s", "walk_m", "cost_per_day"}:
                assert not re.search(rf"\b{word}\b", turkish), (word, turkish)
                assert not re.search(rf"\b{word}\b", arabic), (word, arabic)
        assert re.search(r"[\u0600-\u06ff]", arabic)
        for name, value in violation.params:
            if name not in {"place", "from_place", "to_place", "direction", "pupils"}:  # worded, see below
                assert value in turkish and value in arabic, (value, turkish)


def test_places_directions_and_grades_inside_a_violation_are_worded_too(network):
    from schoolbus.outputs.violations import describe_violation

    def described(plant, code, language):
        violation = next(v for v in check_plan(plant(VALID), network) if v.code is code)
        return describe_violation(violation, language)

    escort = next(plant for name, plant, _ in PLANTED if name == "no_escort")
    assert described(escort, ViolationCode.ESCORT_MISSING_FOR_GRADE, "tr").endswith("s1 (3. sınıf), s2 (3. sınıf)")
    faster = next(plant for name, plant, _ in PLANTED if name == "faster_than_road")
    assert "P2 durağı noktasına varıyor" in described(faster, ViolationCode.FASTER_THAN_ROAD, "tr")
    assert "الموقف P1" in described(faster, ViolationCode.FASTER_THAN_ROAD, "ar")
    no_trip = next(plant for name, plant, _ in PLANTED if name == "routed_without_trip")
    assert "hiçbir okula giden seferine binmiyor" in described(no_trip, ViolationCode.RIDES_NO_TRIP, "tr")


def test_a_plan_check_failure_is_printed_in_the_commands_language(network):
    from schoolbus.cli import _plan_check_message
    from schoolbus.errors import PlanCheckError

    late = next(plant for name, plant, _ in PLANTED if name == "late_at_school")
    error = PlanCheckError(check_plan(late(VALID), network))
    turkish = _plan_check_message(error, "tr")
    assert "- [late_at_school] sefer T1: A okuluna 07:55:00 saatinde varıyor, geç" in turkish
    assert "arrives at school" not in turkish
    assert "arrives at school A" in _plan_check_message(error, "en")
    assert _plan_check_message(error, None) is None  # commands without --language print str(error)
