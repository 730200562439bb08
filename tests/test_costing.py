"""Costing: known answers computed by hand on a two-vehicle plan, and breakdown invariants."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolbus.costing import (
    NO_FUNDING_LINE,
    UNATTRIBUTED,
    cost_plan,
    vehicle_day_cost,
)
from schoolbus.model import (
    Assignment,
    Direction,
    Fleet,
    Prices,
    Reason,
    ReasonCode,
    Scenario,
    School,
    Shift,
    Status,
    Student,
    Trip,
    VehicleDay,
    VehicleType,
    Visit,
)

MIDI = VehicleType("midi", seats=27, day_rate=1500.0, km_rate=10.0)
MINI = VehicleType("mini", seats=16, day_rate=1000.0, km_rate=8.0)
PRICES = Prices(escort_day_rate=400.0, overhead_share=0.1, school_days_per_year=181)
SCHOOL_A = School(
    "A", "Atatürk İlkokulu", (32.85, 39.97), (Shift("sabah", 26400, 43200), Shift("ogle", 45000, 63000))
)
SCHOOL_B = School("B", "Etlik Ortaokulu", (32.86, 39.98), (Shift("sabah", 28800, 54000),))


def _student(sid: str, school: str, shift: str, funding: str | None) -> Student:
    return Student(sid, (32.8, 39.9), school, shift, grade=3, funding_line=funding)


STUDENTS = (
    _student("a1", "A", "sabah", "UNICEF"),
    _student("a2", "A", "sabah", "UNICEF"),
    _student("a3", "A", "sabah", "MoNE"),
    _student("a4", "A", "ogle", "MoNE"),
    _student("b1", "B", "sabah", "MoNE"),
    _student("b2", "B", "sabah", None),
    _student("u1", "B", "sabah", "MoNE"),  # unserved: in n_students, not in per-student cost
)
SCENARIO = Scenario(
    name="hand",
    students=STUDENTS,
    schools=(SCHOOL_A, SCHOOL_B),
    fleet=Fleet((MIDI, MINI)),
    prices=PRICES,
)


def _trip(tid: str, vid: str, vtype: str, school: str, shift: str, riders, km: float, dur: int):
    """A trip whose only relevant figures for costing are riders, distance and duration."""
    visits = (
        Visit(arrive_s=0, depart_s=10, stop_id="p", board=tuple(riders)),
        Visit(arrive_s=dur - 10, depart_s=dur, school_id=school, alight=tuple(riders)),
    )
    return Trip(tid, vid, vtype, school, shift, Direction.TO_SCHOOL, visits, km * 1000.0, dur)


TRIPS = (
    _trip("T1", "V1", "midi", "A", "sabah", ["a1", "a2", "a3"], km=10, dur=1200),
    _trip("T2", "V1", "midi", "A", "sabah", ["a1", "a2", "a3"], km=10, dur=1200),
    _trip("T3", "V2", "mini", "B", "sabah", ["b1", "b2"], km=4, dur=600),
    _trip("T4", "V2", "mini", "A", "ogle", ["a4"], km=6, dur=1800),
)
VEHICLES = (
    VehicleDay("V1", "midi", 27, 0, True, ("T1", "T2"), None, 5000.0, 25000.0, 0.0),
    VehicleDay("V2", "mini", 16, 0, False, ("T3", "T4"), None, 2000.0, 12000.0, 0.0),
)
RIDES = {  # student: (ride_to_school_s, ride_home_s, walk_m)
    "a1": (600, 700, 100.0),
    "a2": (900, 800, 200.0),
    "a3": (1000, 1100, 300.0),
    "a4": (1500, 1400, 400.0),
    "b1": (300, 400, 500.0),
    "b2": (200, 100, 600.0),
}
ASSIGNMENTS = tuple(
    Assignment(
        s.id,
        s.school_id,
        s.shift,
        Status.ROUTED,
        stop_id="p",
        walk_m=RIDES[s.id][2],
        ride_to_school_s=RIDES[s.id][0],
        ride_home_s=RIDES[s.id][1],
    )
    for s in STUDENTS
    if s.id in RIDES
) + (Assignment("u1", "B", "sabah", Status.UNSERVED, reason=Reason.make(ReasonCode.NO_STOP_WITHIN_WALK, limit_m=800.0, nearest_m=900.0)),)


@pytest.fixture(scope="module")
def costs():
    return cost_plan(SCENARIO, TRIPS, VEHICLES, ASSIGNMENTS)


def test_vehicle_day_costs_by_hand(costs):
    # V1: (1500 day + 10/km * 25 km + 400 escort) * 1.1 overhead = 2150 * 1.1
    # V2: (1000 day + 8/km * (4 + 6 + 2 deadhead) km) * 1.1 = 1096 * 1.1
    assert [v.cost_per_day for v in costs.vehicles] == [2365.0, 1205.6]
    # Everything but the cost is passed through unchanged.
    assert [dataclasses.replace(v, cost_per_day=0.0) for v in costs.vehicles] == list(VEHICLES)


def test_totals_by_hand(costs):
    s = costs.summary
    assert s.cost_per_day == 3570.6  # 2365 + 1205.6
    assert s.cost_per_year == 646278.6  # 3570.6 * 181
    assert s.cost_per_student_per_day == 595.1  # 3570.6 / 6 routed (u1 unserved)
    assert s.cost_per_student_per_year == 107713.1  # 646278.6 / 6
    assert (s.n_vehicles, s.n_trips, s.n_students, s.n_routed, s.n_unserved) == (2, 4, 7, 6, 1)
    assert s.distance_m == 37000.0  # 25 km + 12 km, trips and deadhead
    assert s.deadhead_m == 7000.0


def test_ride_and_walk_summary_by_hand(costs):
    s = costs.summary
    rides = sorted(r for a, b, _ in RIDES.values() for r in (a, b))
    # 12 rides: 100 200 300 400 600 700 800 900 1000 1100 1400 1500
    assert rides[10:] == [1400, 1500]
    assert s.max_ride_s == 1500
    assert s.mean_ride_s == pytest.approx(9000 / 12)
    # 95th percentile, linear: position 0.95 * 11 = 10.45 -> 1400 + 0.45 * 100
    assert s.p95_ride_s == pytest.approx(1445.0)
    assert s.mean_walk_m == pytest.approx(350.0)
    assert s.max_walk_m == 600.0


def test_breakdowns_by_hand(costs):
    lines = {(line.group, line.key): line for line in costs.lines}
    # V1 splits equally over T1 and T2 (1200 s each), both school A morning: 2365.
    # V2 splits by duration: T3 600/2400 -> 301.4 (B), T4 1800/2400 -> 904.2 (A ogle).
    assert lines["school", "A"].cost_per_day == 3269.2
    assert lines["school", "B"].cost_per_day == 301.4
    assert lines["shift", "A/sabah"].cost_per_day == 2365.0
    assert lines["shift", "A/ogle"].cost_per_day == 904.2
    assert lines["shift", "B/sabah"].cost_per_day == 301.4
    # Per pupil: a1..a3 each ride T1 and T2: 2 * 1182.5 / 3; a4 alone on T4: 904.2;
    # b1 and b2 share T3: 150.7 each.
    # UNICEF = a1 + a2 = 1576.666..; MoNE = a3 + a4 + b1 = 788.333.. + 904.2 + 150.7
    assert lines["funding_line", "UNICEF"].cost_per_day == 1576.67
    assert lines["funding_line", "MoNE"].cost_per_day == 1843.23
    assert lines["funding_line", NO_FUNDING_LINE].cost_per_day == 150.7
    assert lines["funding_line", "UNICEF"].cost_per_year == 285376.67  # 1576.666.. * 181
    # Pupil counts are routed pupils only (u1 is MoNE but unserved).
    assert lines["funding_line", "MoNE"].n_students == 3
    assert lines["school", "B"].n_students == 2
    assert lines["shift", "A/ogle"].n_students == 1
    assert not any(line.key == UNATTRIBUTED for line in costs.lines)


def test_idle_vehicle_is_unattributed_in_every_group():
    idle = VehicleDay("V3", "mini", 16, 0, False, (), None, 0.0, 0.0, 0.0)
    costs = cost_plan(SCENARIO, TRIPS, VEHICLES + (idle,), ASSIGNMENTS)
    assert costs.vehicles[-1].cost_per_day == 1100.0  # (1000 day + 0 km) * 1.1
    for group in ("school", "shift", "funding_line"):
        line = next(x for x in costs.lines if x.group == group and x.key == UNATTRIBUTED)
        assert (line.cost_per_day, line.n_students) == (1100.0, 0)


def test_vehicle_day_cost_formula():
    assert vehicle_day_cost(MINI, 12_500.0, False, Prices()) == 1100.0  # 1000 + 8 * 12.5
    assert vehicle_day_cost(MINI, 0.0, True, Prices(escort_day_rate=300.0)) == 1300.0


@settings(max_examples=60, deadline=None)
@given(
    durations=st.lists(st.integers(0, 4000), min_size=4, max_size=4),
    kms=st.lists(st.floats(0.0, 80.0), min_size=4, max_size=4),
    escorts=st.tuples(st.booleans(), st.booleans()),
    overhead=st.floats(0.0, 0.5),
)
def test_every_breakdown_sums_to_the_total(durations, kms, escorts, overhead):
    trips = tuple(
        dataclasses.replace(t, duration_s=d, distance_m=km * 1000.0)
        for t, d, km in zip(TRIPS, durations, kms, strict=True)
    )
    vehicles = tuple(dataclasses.replace(v, escort=e) for v, e in zip(VEHICLES, escorts, strict=True))
    scenario = dataclasses.replace(SCENARIO, prices=dataclasses.replace(PRICES, overhead_share=overhead))
    costs = cost_plan(scenario, trips, vehicles, ASSIGNMENTS)
    total = costs.summary.cost_per_day
    # Each figure is rounded separately: a sum may be off by half a cent per term.
    assert sum(v.cost_per_day for v in costs.vehicles) == pytest.approx(total, abs=0.01 + 1e-6)
    for group in ("school", "shift", "funding_line"):
        group_lines = [x for x in costs.lines if x.group == group]
        assert sum(x.cost_per_day for x in group_lines) == pytest.approx(
            total, abs=0.005 * len(group_lines) + 1e-6
        )
