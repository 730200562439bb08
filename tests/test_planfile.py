"""The plan file contract: golden bytes, exact round trips, no home coordinates, every problem named.

Golden file: ``tests/golden/plan.json`` is what :func:`write_plan` writes for :data:`GOLDEN` below.
When the format changes on purpose, regenerate it with::

    SCHOOLBUS_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_planfile.py

then review the diff (and update ``docs/plan-format.md`` and ``FORMAT_VERSION``) before committing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schoolbus.costing import cost_plan
from schoolbus.errors import InputError
from schoolbus.model import (
    Assignment,
    CostLine,
    Depot,
    Direction,
    Fleet,
    GradeWalkLimit,
    Plan,
    Policy,
    Prices,
    Reason,
    ReasonCode,
    RoadStep,
    Scenario,
    School,
    Shift,
    Status,
    Stop,
    StopName,
    StopNameKind,
    Student,
    Summary,
    Trip,
    VehicleDay,
    VehicleType,
    Visit,
)
from schoolbus.planfile import (
    PLAN_FILE,
    SCENARIO_FILE,
    NetworkSource,
    dumps,
    plan_to_dict,
    read_network_source,
    read_plan,
    write_plan,
)

GOLDEN_DIR = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("SCHOOLBUS_REGENERATE_GOLDEN") == "1"

# ---- the golden plan: one school, one stop, one vehicle, two trips, one unserved pupil -----------

HOME_1 = (32.8561234, 39.9655678)
HOME_2 = (32.8712345, 39.9723456)
SCHOOL = School("S1", "Etlik İlkokulu", (32.8560, 39.9700), (Shift("sabah", 26400, 43200),))
STOP = Stop("S1-sabah-S001", (32.856, 39.967), 1001, "S1", "sabah", ("st1",), name="Kuşçağız Sokak / Ilgaz Sokak",
            where=StopName(StopNameKind.CORNER, street="Kuşçağız Sokak", cross="Ilgaz Sokak"))
SCENARIO = Scenario(
    name="golden",
    students=(
        Student("st1", HOME_1, "S1", "sabah", grade=2, language="ar", initials="A.K.",
                funding_line="ECW"),
        Student("st2", HOME_2, "S1", "sabah", grade=3, needs_wheelchair=True),
    ),
    schools=(SCHOOL,),
    fleet=Fleet((VehicleType("minibus", seats=16, day_rate=1850.0, km_rate=12.5, count=4),),
                (Depot("G1", "Etlik garajı", (32.86, 39.975)),)),
    policy=Policy(grade_walk_limits=(GradeWalkLimit(4, 500.0),)),
    prices=Prices(escort_day_rate=650.0, overhead_share=0.08),
)
STEPS_TO_SCHOOL = (
    RoadStep("Kuşçağız Sokak", 120.0, ((32.856, 39.967), (32.856, 39.9681))),
    RoadStep("Gölbaşı Caddesi", 213.4, ((32.856, 39.9681), (32.856, 39.97))),
)
TRIPS = (
    Trip("T001", "V001", "minibus", "S1", "sabah", Direction.TO_SCHOOL, (
        Visit(25990, 26025, stop_id="S1-sabah-S001", board=("st1",)),
        Visit(26100, 26280, school_id="S1", alight=("st1",)),
    ), 333.4, 290, STEPS_TO_SCHOOL),
    Trip("T002", "V001", "minibus", "S1", "sabah", Direction.FROM_SCHOOL, (
        Visit(43200, 43380, school_id="S1", board=("st1",)),
        Visit(43455, 43490, stop_id="S1-sabah-S001", alight=("st1",)),
    ), 333.4, 290, tuple(reversed(STEPS_TO_SCHOOL))),
)
ASSIGNMENTS = (
    Assignment("st1", "S1", "sabah", Status.ROUTED, None, "S1-sabah-S001", 212.5, 25990, 43455, 75, 75),
    Assignment("st2", "S1", "sabah", Status.UNSERVED,
               Reason.make(ReasonCode.NO_TRIP,
                           (Reason.make(ReasonCode.RIDE_LIMIT_ALONE, ride_s=2460, limit_s=2400),),
                           school_id="S1", shift="sabah", direction="from_school")),
)
VEHICLES = (VehicleDay("V001", "minibus", 16, 0, True, ("T001", "T002"), "G1", 1517.2, 2184.0, 0.0),)
NETWORK = NetworkSource("roads", "/data/osm/ankara_etlik_roads_subset.geojson", "0f" * 32)


def _golden_plan() -> Plan:
    costs = cost_plan(SCENARIO, TRIPS, VEHICLES, ASSIGNMENTS)
    return Plan(SCENARIO, (STOP,), ASSIGNMENTS, TRIPS, costs.vehicles, costs.summary, costs.lines,
                network_name="ankara_etlik_roads_subset.geojson", seed=7, routing_backend="pyvrp")


GOLDEN = _golden_plan()


def test_golden_plan_file_is_byte_identical(tmp_path):
    path = write_plan(GOLDEN, tmp_path, NETWORK)
    written = path.read_bytes()
    if REGENERATE:
        GOLDEN_DIR.mkdir(exist_ok=True)
        (GOLDEN_DIR / PLAN_FILE).write_bytes(written)
    assert written == (GOLDEN_DIR / PLAN_FILE).read_bytes()


def test_golden_plan_reads_back_exactly(tmp_path):
    write_plan(GOLDEN, tmp_path, NETWORK)
    assert read_plan(tmp_path) == GOLDEN
    assert read_network_source(tmp_path) == NETWORK


def test_family_id_is_kept_in_scenario_json_and_never_in_plan_json(tmp_path):
    siblings = tuple(dataclasses.replace(s, family_id="F1", language="ar") for s in SCENARIO.students)
    plan = dataclasses.replace(GOLDEN, scenario=dataclasses.replace(SCENARIO, students=siblings))
    write_plan(plan, tmp_path, NETWORK)
    assert read_plan(tmp_path) == plan
    assert [s["family_id"] for s in json.loads((tmp_path / SCENARIO_FILE).read_text())["students"]] == [
        "F1",
        "F1",
    ]
    assert (tmp_path / PLAN_FILE).read_bytes() == (GOLDEN_DIR / PLAN_FILE).read_bytes()


def test_golden_costs_by_hand():
    # (1850 day + 12.5/km * 2.184 km + 650 escort) * 1.08 overhead = 2527.3 * 1.08 = 2729.484
    assert GOLDEN.vehicles[0].cost_per_day == 2729.48
    assert GOLDEN.summary.cost_per_year == 494036.6  # 2729.484 * 181 = 494036.604
    assert GOLDEN.summary.cost_per_student_per_day == 2729.48  # one routed pupil


def test_plan_json_carries_no_home_coordinates(tmp_path):
    write_plan(GOLDEN, tmp_path, NETWORK)
    plan_text = (tmp_path / PLAN_FILE).read_text(encoding="utf-8")
    scenario_text = (tmp_path / SCENARIO_FILE).read_text(encoding="utf-8")
    for lon, lat in (HOME_1, HOME_2):
        assert repr(lon) not in plan_text and repr(lat) not in plan_text
        assert repr(lon) in scenario_text and repr(lat) in scenario_text


def test_plan_json_has_the_contract_fields():
    document = json.loads(dumps(plan_to_dict(GOLDEN, NETWORK)))
    assert {"format_version", "schools", "stops", "students", "trips", "vehicles", "policy",
            "summary", "costs", "network"} <= set(document)
    assert set(document["students"][0]) >= {
        "id", "school_id", "shift", "status", "reason", "stop_id", "walk_m", "pickup_s",
        "dropoff_s", "ride_to_school_s", "ride_home_s"}
    assert set(document["stops"][0]) >= {"id", "location", "school_id", "shift", "student_ids"}
    assert set(document["trips"][0]) >= {
        "id", "vehicle_id", "school_id", "shift", "direction", "visits", "distance_m", "duration_s",
        "steps"}
    assert set(document["trips"][0]["visits"][0]) == {"stop_id", "arrive_s", "depart_s", "board", "alight"}
    assert set(document["trips"][0]["visits"][1]) == {"school_id", "arrive_s", "depart_s", "board", "alight"}
    assert set(document["vehicles"][0]) >= {
        "id", "vehicle_type", "seats", "wheelchair_places", "escort", "trip_ids", "deadhead_m",
        "distance_m", "cost_per_day"}
    assert set(document["policy"]) >= {"max_ride_s", "walk_limit_m"}
    assert set(document["summary"]) >= {
        "n_vehicles", "n_students", "n_routed", "n_unserved", "cost_per_day",
        "cost_per_student_per_day", "cost_per_student_per_year", "max_ride_s"}
    assert document["students"][1]["reason"] and document["students"][0]["reason"] is None
    assert document["stops"][0]["location"] == [32.856, 39.967]  # [lon, lat]


# ---- reading bad files: every problem named by file and JSON path ---------------------------------


def _edit(document: dict, path: str, value) -> None:
    """Set ``document`` at a dotted path (list indices as numbers); ``...`` deletes the key."""
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


BAD_FILES = [
    # A time given as a clock string instead of seconds after midnight.
    (PLAN_FILE, "trips.0.visits.0.arrive_s", "07:13", "trips[0].visits[0].arrive_s", "an integer"),
    # An unknown status.
    (PLAN_FILE, "students.1.status", "lost", "students[1].status", "one of routed, unserved"),
    # A visit naming both a stop and a school.
    (PLAN_FILE, "trips.0.visits.0.school_id", "S1", "trips[0].visits[0]", "exactly one of stop_id"),
    # A required summary figure left out.
    (PLAN_FILE, "summary.n_vehicles", ..., "summary.n_vehicles", "the key is required"),
    # A boolean where a number belongs.
    (PLAN_FILE, "vehicles.0.deadhead_m", True, "vehicles[0].deadhead_m", "a number"),
    # A format this reader does not know.
    (PLAN_FILE, "format_version", "2.0", "format_version", "a 1.x version"),
    # A home location with one coordinate.
    (SCENARIO_FILE, "students.0.location", [32.85], "students[0].location", "a list of 2 items"),
    # plan.json's policy differs from the one in scenario.json.
    (PLAN_FILE, "policy.max_ride_s", 1, "policy", "the policy of scenario.json"),
]


@pytest.mark.parametrize(("file", "path", "value", "column", "expected"), BAD_FILES,
                         ids=[f"{f}:{p}" for f, p, *_ in BAD_FILES])
def test_bad_plan_files_are_reported(tmp_path, file, path, value, column, expected):
    write_plan(GOLDEN, tmp_path, NETWORK)
    document = json.loads((tmp_path / file).read_text(encoding="utf-8"))
    _edit(document, path, value)
    (tmp_path / file).write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_plan(tmp_path)
    matches = [p for p in caught.value.problems if p.file == file and p.column == column]
    assert matches and expected in matches[0].expected, caught.value.problems


def test_every_problem_is_collected(tmp_path):
    write_plan(GOLDEN, tmp_path, NETWORK)
    document = json.loads((tmp_path / PLAN_FILE).read_text(encoding="utf-8"))
    _edit(document, "trips.1.duration_s", 2.5)
    _edit(document, "stops.0.student_ids", "st1")
    _edit(document, "summary.p95_ride_s", "fast")
    (tmp_path / PLAN_FILE).write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_plan(tmp_path)
    assert sorted(p.column for p in caught.value.problems) == [
        "stops[0].student_ids", "summary.p95_ride_s", "trips[1].duration_s"]


def test_missing_plan_directory_names_both_files(tmp_path):
    with pytest.raises(InputError) as caught:
        read_plan(tmp_path / "nowhere")
    assert [Path(p.file).name for p in caught.value.problems] == [PLAN_FILE, SCENARIO_FILE]


def test_network_file_that_changed_is_refused(tmp_path):
    roads = tmp_path / "roads.geojson"
    roads.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    source = NetworkSource.from_file("roads", roads)
    roads.write_text('{"type": "FeatureCollection", "features": [] }', encoding="utf-8")
    with pytest.raises(InputError, match="changed since the plan was made"):
        source.load(("motorway",))


def test_plan_without_network_source_reads_none(tmp_path):
    write_plan(GOLDEN, tmp_path)
    assert read_network_source(tmp_path) is None
    assert read_plan(tmp_path) == GOLDEN


# ---- round trip of arbitrary small plans ---------------------------------------------------------

ids = st.text(min_size=1, max_size=6)
numbers = st.floats(allow_nan=False, allow_infinity=False)
seconds = st.integers(min_value=0, max_value=2 * 86_400)
locations = st.tuples(st.floats(-180, 180), st.floats(-90, 90))
maybe = st.none().__or__  # maybe(x) -> x or None


def _visits():
    at_stop = st.builds(Visit, seconds, seconds, stop_id=ids, board=st.tuples(ids), alight=st.tuples())
    at_school = st.builds(Visit, seconds, seconds, school_id=ids, board=st.lists(ids, max_size=3).map(tuple))
    return st.lists(st.one_of(at_stop, at_school), min_size=1, max_size=4).map(tuple)


def reasons(depth: int = 2):
    """Any reason: a code, parameters of every kind a code may take, and causes."""
    params = st.dictionaries(
        st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
        st.one_of(st.text(max_size=8), st.integers(-(2**40), 2**40), numbers),
        max_size=3,
    )
    causes = st.lists(reasons(depth - 1), max_size=2).map(tuple) if depth else st.just(())
    return st.builds(lambda code, p, c: Reason.make(code, c, **p), st.sampled_from(ReasonCode), params, causes)


@st.composite
def plans(draw) -> Plan:
    shifts = st.lists(st.builds(Shift, ids, seconds, seconds), min_size=1, max_size=2).map(tuple)
    schools = draw(st.lists(st.builds(School, ids, st.text(max_size=20), locations, shifts), min_size=1, max_size=2))
    students = draw(st.lists(st.builds(
        Student, ids, locations, ids, ids, st.integers(0, 12), st.booleans(), st.booleans(),
        maybe(ids), st.sampled_from(["tr", "ar", "en"]), maybe(ids), maybe(seconds), maybe(ids)),
        max_size=3))
    fleet = draw(st.builds(
        Fleet,
        st.lists(st.builds(VehicleType, ids, st.integers(1, 60), numbers, numbers, st.integers(0, 4),
                           maybe(st.integers(0, 50)), st.booleans()), min_size=1, max_size=2).map(tuple),
        st.lists(st.builds(Depot, ids, st.text(max_size=10), locations), max_size=1).map(tuple)))
    policy = draw(st.builds(
        Policy, numbers, st.lists(st.builds(GradeWalkLimit, st.integers(0, 12), numbers), max_size=2).map(tuple),
        seconds, seconds, seconds, seconds, seconds, numbers, numbers, maybe(numbers), st.integers(0, 12),
        st.lists(ids, max_size=2).map(tuple), st.booleans()))
    prices = draw(st.builds(Prices, numbers, numbers, st.integers(1, 366), st.sampled_from(["TRY", "USD"])))
    scenario = Scenario(draw(ids), tuple(students), tuple(schools), fleet, policy, prices)
    stops = draw(st.lists(st.builds(Stop, ids, locations, st.integers(0, 2**62), ids, ids,
                                    st.lists(ids, max_size=3).map(tuple), st.text(max_size=10),
                                    st.booleans()), max_size=2))
    assignments = draw(st.lists(st.builds(
        Assignment, ids, ids, ids, st.sampled_from(Status), maybe(reasons()), maybe(ids), maybe(numbers),
        maybe(seconds), maybe(seconds), maybe(seconds), maybe(seconds)), max_size=3))
    steps = st.lists(st.builds(RoadStep, st.text(max_size=10), numbers,
                               st.lists(locations, max_size=3).map(tuple)), max_size=2).map(tuple)
    trips = draw(st.lists(st.builds(Trip, ids, ids, ids, ids, ids, st.sampled_from(Direction), _visits(),
                                    numbers, seconds, steps), max_size=2))
    vehicles = draw(st.lists(st.builds(
        VehicleDay, ids, ids, st.integers(1, 60), st.integers(0, 4), st.booleans(),
        st.lists(ids, max_size=3).map(tuple), maybe(ids), numbers, numbers, numbers), max_size=2))
    summary = draw(st.builds(
        Summary, *([st.integers(0, 10_000)] * 5), numbers, numbers, numbers, numbers, maybe(numbers),
        maybe(numbers), maybe(seconds), maybe(numbers), maybe(numbers), maybe(numbers), maybe(numbers)))
    costs = draw(st.lists(st.builds(CostLine, ids, ids, st.integers(0, 1000), numbers, numbers), max_size=3))
    return Plan(scenario, tuple(stops), tuple(assignments), tuple(trips), tuple(vehicles), summary,
                tuple(costs), draw(st.text(max_size=10)), draw(st.integers(0, 2**31)))


network_sources = st.one_of(
    st.none(),
    st.builds(NetworkSource, st.sampled_from(["osm", "roads", "graphml", "place"]), st.text(min_size=1),
              maybe(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))),
    st.builds(NetworkSource, st.just("bbox"), st.tuples(numbers, numbers, numbers, numbers)),
)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans(), source=network_sources)
def test_any_plan_round_trips_exactly(plan, source):
    with tempfile.TemporaryDirectory() as folder:
        write_plan(plan, folder, source)
        assert read_plan(folder) == plan
        assert read_network_source(folder) == source
        # Writing what was read gives the same bytes again.
        first = (Path(folder) / PLAN_FILE).read_bytes()
        write_plan(read_plan(folder), folder, source)
        assert (Path(folder) / PLAN_FILE).read_bytes() == first


def test_ints_in_float_fields_are_written_as_floats():
    plan = dataclasses.replace(GOLDEN, trips=(dataclasses.replace(GOLDEN.trips[0], distance_m=333),))
    assert '"distance_m": 333.0' in dumps(plan_to_dict(plan))


def test_numpy_numbers_are_written_as_plain_json(tmp_path):
    import numpy as np

    stop = dataclasses.replace(STOP, node_id=np.int64(1001), location=(np.float64(32.856), np.float64(39.967)))
    plan = dataclasses.replace(GOLDEN, stops=(stop,))
    write_plan(plan, tmp_path, NETWORK)
    assert (tmp_path / PLAN_FILE).read_bytes() == (GOLDEN_DIR / PLAN_FILE).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [PLAN_FILE, SCENARIO_FILE]  # no leftovers


def test_a_plan_written_before_the_backend_choice_reads_as_ortools(tmp_path):
    write_plan(GOLDEN, tmp_path, NETWORK)
    document = json.loads((tmp_path / PLAN_FILE).read_text())
    del document["routing_backend"]
    (tmp_path / PLAN_FILE).write_text(json.dumps(document))
    assert read_plan(tmp_path) == dataclasses.replace(GOLDEN, routing_backend="ortools")


def test_reasons_are_written_as_codes_and_as_english_words(tmp_path):
    write_plan(GOLDEN, tmp_path, NETWORK)
    student = json.loads((tmp_path / PLAN_FILE).read_text())["students"][1]
    assert student["reason_code"] == {
        "code": "no_trip",
        "params": {"direction": "from_school", "school_id": "S1", "shift": "sabah"},
        "causes": [{"code": "ride_limit_alone", "params": {"limit_s": 2400, "ride_s": 2460}, "causes": []}],
    }
    assert student["reason"] == (
        "no trip home (school S1, shift sabah): ride limit impossible even alone (direct drive 41 min > limit 40 min)"
    )


def test_a_plan_written_before_reason_codes_reads_its_words(tmp_path):
    write_plan(GOLDEN, tmp_path, NETWORK)
    document = json.loads((tmp_path / PLAN_FILE).read_text())
    document["format_version"] = "1.1"
    for student in document["students"]:
        del student["reason_code"]
    document["students"][1]["reason"] = "wheelchair user, but no vehicle in the fleet has a wheelchair place"
    (tmp_path / PLAN_FILE).write_text(json.dumps(document))
    read = read_plan(tmp_path)
    assert read.assignments[1].reason == Reason.make(
        ReasonCode.TEXT, text="wheelchair user, but no vehicle in the fleet has a wheelchair place"
    )
    assert read.assignments[0].reason is None


def test_a_malformed_reason_code_is_reported(tmp_path):
    write_plan(GOLDEN, tmp_path, NETWORK)
    document = json.loads((tmp_path / PLAN_FILE).read_text())
    document["students"][1]["reason_code"] = {"code": "lost in the woods"}
    (tmp_path / PLAN_FILE).write_text(json.dumps(document))
    with pytest.raises(InputError) as caught:
        read_plan(tmp_path)
    assert [p.column for p in caught.value.problems] == ["students[1].reason_code"]
