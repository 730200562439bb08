"""Scenario files: variants change exactly what they say; every problem is reported at once."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolbus.errors import InputError
from schoolbus.ingest import load_scenario
from schoolbus.model import Depot, GradeWalkLimit, Shift, VehicleType
from schoolbus.scenarios import BellChange, Variant, apply_variant, read_variants, scenarios_from_file

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"


def at(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


@pytest.fixture(scope="module")
def base():
    return load_scenario(
        EXAMPLES / "students.csv", EXAMPLES / "schools.csv", EXAMPLES / "fleet.yaml", EXAMPLES / "policy.yaml"
    )


def write(tmp_path: Path, text: str, name: str = "scenarios.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def with_shift(scenario, school_id: str, shift: Shift):
    """``scenario`` with one shift of one school replaced (the expected result, built by hand)."""
    schools = []
    for school in scenario.schools:
        if school.id == school_id:
            school = replace(school, shifts=tuple(shift if s.name == shift.name else s for s in school.shifts))
        schools.append(school)
    return replace(scenario, schools=tuple(schools))


# --------------------------------------------------------------------------------------------------
# Valid files
# --------------------------------------------------------------------------------------------------


def test_the_example_file_changes_exactly_what_it_says(base):
    scenarios = scenarios_from_file(EXAMPLES / "scenarios.yaml", base)
    assert [s.name for s in scenarios] == ["base", "walk-400", "big-buses", "later-bells"]
    by_name = {s.name: s for s in scenarios}
    # Whole-scenario equality: the named field changed and nothing else did.
    assert by_name["base"] == replace(base, name="base")
    assert by_name["walk-400"] == replace(base, name="walk-400", policy=replace(base.policy, walk_limit_m=400.0))
    big_fleet = (
        VehicleType("midibus-35", seats=35, day_rate=4600.0, wheelchair_places=2),
        VehicleType("bus-45", seats=45, day_rate=5500.0),
    )
    assert by_name["big-buses"] == replace(
        base,
        name="big-buses",
        fleet=replace(base.fleet, vehicle_types=big_fleet),
        prices=replace(base.prices, escort_day_rate=1200.0),
    )
    later = with_shift(base, "SCH-ILK", Shift("morning", at("07:40"), at("12:20")))
    assert by_name["later-bells"] == replace(later, name="later-bells")


def test_units_are_converted_and_lists_replaced_whole(base, tmp_path):
    path = write(
        tmp_path,
        """
        scenarios:
          - name: strict
            policy:
              max_ride_min: 37.5            # minutes in the file, whole seconds in the model
              arrival_buffer_min: 10
              grade_walk_limits: [{max_grade: 8, walk_limit_m: 600}]
              forbidden_road_classes: []
              max_home_school_m: null
          - name: depot-only                 # depots without vehicle_types keep the base's types
            fleet:
              depots: [{id: G1, lon: 24.94, lat: 60.17}]
          - name: one-time                   # only the dismissal moves; the bell stays the base's
            bells:
              SCH-ANA/day: {dismissal: "14:00"}
        """,
    )
    strict, depot_only, one_time = scenarios_from_file(path, base)
    assert strict.policy == replace(
        base.policy,
        max_ride_s=2250,
        arrival_buffer_s=600,
        grade_walk_limits=(GradeWalkLimit(8, 600.0),),
        forbidden_road_classes=(),
        max_home_school_m=None,
    )
    assert depot_only.fleet == replace(base.fleet, depots=(Depot("G1", "G1", (24.94, 60.17)),))
    assert depot_only.fleet.vehicle_types == base.fleet.vehicle_types
    old = base.school("SCH-ANA").shift("day")
    assert one_time == replace(with_shift(base, "SCH-ANA", Shift("day", old.bell_s, at("14:00"))), name="one-time")


def test_a_toml_scenario_file_reads_the_same(base, tmp_path):
    yaml_path = write(tmp_path, "scenarios:\n  - name: w\n    policy: {walk_limit_m: 650}\n")
    toml_path = write(tmp_path, '[[scenarios]]\nname = "w"\npolicy = {walk_limit_m = 650}\n', "scenarios.toml")
    assert scenarios_from_file(yaml_path, base) == scenarios_from_file(toml_path, base)


def test_apply_variant_returns_new_values_and_leaves_the_base_alone(base):
    before = replace(base)
    later = BellChange("SCH-ILK", "afternoon", bell_s=at("13:00"))
    variant = Variant("v", policy=(("walk_limit_m", 123.0),), bells=(later,))
    changed = apply_variant(base, variant)
    assert base == before
    assert changed.policy.walk_limit_m == 123.0 and changed.school("SCH-ILK").shift("afternoon").bell_s == at("13:00")
    assert changed.students is base.students


@settings(max_examples=40, deadline=None)
@given(
    walk_m=st.integers(1, 5000),
    ride_min=st.integers(1, 240),
    escort_rate=st.integers(0, 100_000),
    days=st.integers(1, 366),
    bell_min=st.integers(6 * 60, 11 * 60),
    length_min=st.integers(1, 6 * 60),
)
def test_changed_fields_take_the_file_values_and_others_keep_the_base(
    base, tmp_path_factory, walk_m, ride_min, escort_rate, days, bell_min, length_min
):
    bell, dismissal = bell_min * 60, (bell_min + length_min) * 60
    path = write(
        tmp_path_factory.mktemp("h"),
        f"""
        scenarios:
          - name: v
            policy: {{walk_limit_m: {walk_m}, max_ride_min: {ride_min}}}
            prices: {{escort_day_rate: {escort_rate}, school_days_per_year: {days}}}
            bells: {{SCH-ILK/afternoon: {{bell: "{bell // 3600:02d}:{bell % 3600 // 60:02d}",
                                         dismissal: "{dismissal // 3600:02d}:{dismissal % 3600 // 60:02d}"}}}}
        """,
    )
    (scenario,) = scenarios_from_file(path, base)
    expected = with_shift(base, "SCH-ILK", Shift("afternoon", bell, dismissal))
    expected = replace(
        expected,
        name="v",
        policy=replace(base.policy, walk_limit_m=float(walk_m), max_ride_s=ride_min * 60),
        prices=replace(base.prices, escort_day_rate=float(escort_rate), school_days_per_year=days),
    )
    assert scenario == expected


# --------------------------------------------------------------------------------------------------
# Invalid files: one problem each, named by key path
# --------------------------------------------------------------------------------------------------

INVALID = [
    # (scenario file body, key path of the one problem, words the expectation must contain)
    # The top level has one key.
    ("scenarios: [{name: a}]\nbase: x\n", "base", "only the key scenarios"),
    # An empty list plans nothing.
    ("scenarios: []\n", "scenarios", "non-empty list"),
    # A list item must be a mapping.
    ("scenarios: [a]\n", "scenarios[1]", "a mapping"),
    # Every scenario needs a name ...
    ("scenarios: [{policy: {walk_limit_m: 500}}]\n", "scenarios[1].name", "a name of letters"),
    # ... that is a safe directory name (no spaces, no slashes) ...
    ("scenarios: [{name: 'a b'}]\n", "scenarios[1].name", "plan directory"),
    ("scenarios: [{name: '../x'}]\n", "scenarios[1].name", "plan directory"),
    # ... used once, even in another case (macOS and Windows folders ignore case) ...
    ("scenarios: [{name: Walk}, {name: walk}]\n", "scenarios[2].name", "used once"),
    # ... and not the report's own folder.
    ("scenarios: [{name: Comparison}]\n", "scenarios[1].name", "other than 'comparison'"),
    # Unknown keys of a scenario are errors, not ignored.
    ("scenarios: [{name: a, polcy: {}}]\n", "scenarios[1].polcy", "one of the keys name"),
    # Policy keys are validated by the policy reader: a unit-less or wrong key ...
    ("scenarios: [{name: a, policy: {walk_limit: 500}}]\n", "scenarios[1].policy.walk_limit", "walk_limit_m"),
    # ... a value out of range ...
    ("scenarios: [{name: a, policy: {walk_limit_m: 0}}]\n", "scenarios[1].policy.walk_limit_m", "more than 0"),
    # ... or a number in quotes.
    (
        "scenarios: [{name: a, policy: {max_ride_min: '45'}}]\n",
        "scenarios[1].policy.max_ride_min",
        "not text in quotes",
    ),
    # A maximum home-school distance at or below the minimum given beside it.
    (
        "scenarios: [{name: a, policy: {max_home_school_m: 1000, min_home_school_m: 1500}}]\n",
        "scenarios[1].policy.max_home_school_m",
        "more than min_home_school_m",
    ),
    # A policy section must be a mapping.
    ("scenarios: [{name: a, policy: 800}]\n", "scenarios[1].policy", "a mapping"),
    # The fleet section holds vehicle_types and depots only: prices are a section of their own.
    ("scenarios: [{name: a, fleet: {prices: {}}}]\n", "scenarios[1].fleet.prices", "vehicle_types, depots"),
    # Vehicle types are validated as in a fleet file (path inside the fleet section).
    (
        "scenarios: [{name: a, fleet: {vehicle_types: [{id: b, seats: 0, day_rate: 1}]}}]\n",
        "scenarios[1].fleet.vehicle_types[1].seats",
        "at least 1",
    ),
    # An empty vehicle list would plan with no vehicles at all.
    ("scenarios: [{name: a, fleet: {vehicle_types: []}}]\n", "scenarios[1].fleet.vehicle_types", "non-empty list"),
    # Prices as in a fleet file.
    ("scenarios: [{name: a, prices: {overhead_share: 2}}]\n", "scenarios[1].prices.overhead_share", "at most 1"),
    ("scenarios: [{name: a, prices: {currency: lira}}]\n", "scenarios[1].prices.currency", "ISO 4217"),
    # Bells are keyed SCHOOL_ID/SHIFT ...
    ("scenarios: [{name: a, bells: {SCH-ILK: {bell: '08:00'}}}]\n", "scenarios[1].bells.SCH-ILK", "SCHOOL_ID/SHIFT"),
    # ... with bell and/or dismissal only ...
    (
        "scenarios: [{name: a, bells: {SCH-ILK/morning: {start: '08:00'}}}]\n",
        "scenarios[1].bells.SCH-ILK/morning.start",
        "bell, dismissal",
    ),
    # ... as times of day; YAML reads an unquoted 7:40 as the number 460, so the hint says to quote.
    (
        "scenarios: [{name: a, bells: {SCH-ILK/morning: {bell: 7:40}}}]\n",
        "scenarios[1].bells.SCH-ILK/morning.bell",
        "in quotes",
    ),
    (
        "scenarios: [{name: a, bells: {SCH-ILK/morning: {bell: '24:10'}}}]\n",
        "scenarios[1].bells.SCH-ILK/morning.bell",
        "hours 00-23",
    ),
    # A key given twice is caught by the strict YAML reader, not silently overwritten.
    ("scenarios:\n  - name: a\n    name: b\n", "name", "each key once"),
]


@pytest.mark.parametrize(("body", "column", "expected"), INVALID)
def test_invalid_scenario_files(tmp_path, body, column, expected):
    path = write(tmp_path, body)
    with pytest.raises(InputError) as error:
        read_variants(path)
    problems = error.value.problems
    assert [p.column for p in problems] == [column], problems
    assert problems[0].file == str(path)
    assert expected in problems[0].expected


NOT_FITTING = [
    # (scenario file body, key path, words): valid alone, but not for the example base case.
    # The base has no shift 'evening' at SCH-ILK.
    (
        "scenarios: [{name: a, bells: {SCH-ILK/evening: {bell: '18:00'}}}]\n",
        "scenarios[1].bells.SCH-ILK/evening",
        "SCH-ILK/morning",
    ),
    # A new bell after the base's dismissal (12:00) of that shift.
    (
        "scenarios: [{name: a, bells: {SCH-ILK/morning: {bell: '12:30'}}}]\n",
        "scenarios[1].bells.SCH-ILK/morning",
        "before the dismissal",
    ),
]


@pytest.mark.parametrize(("body", "column", "expected"), NOT_FITTING)
def test_variants_that_do_not_fit_the_base(base, tmp_path, body, column, expected):
    path = write(tmp_path, body)
    assert len(read_variants(path)) == 1  # valid on its own
    with pytest.raises(InputError) as error:
        scenarios_from_file(path, base)
    assert [p.column for p in error.value.problems] == [column]
    assert expected in error.value.problems[0].expected


def test_a_maximum_below_the_base_minimum_is_caught_when_applied(base):
    strict_base = replace(base, policy=replace(base.policy, min_home_school_m=2000.0))
    variant = Variant("near", policy=(("max_home_school_m", 1000.0),), file="s.yaml", where="scenarios[3]")
    with pytest.raises(InputError) as error:
        apply_variant(strict_base, variant)
    (problem,) = error.value.problems
    assert (problem.file, problem.column, problem.value) == ("s.yaml", "scenarios[3].policy.max_home_school_m", 1000.0)


def test_every_problem_of_every_scenario_is_reported_at_once(base, tmp_path):
    path = write(
        tmp_path,
        """
        scenarios:
          - name: base
          - name: Base
            policy: {walk_limit_m: -5, colour: red}
          - name: big buses
            fleet:
              vehicle_types:
                - {id: bus-45, seats: "45", day_rate: 5500}
            prices: {escort_day_rate: -1}
          - name: later-bells
            bells: {SCH-ILK/morning: {bell: 7:40, dismissal: "25:00"}}
            extra: 1
          - name: comparison
            bells: {SCH-ILK/evening: {bell: "13:00"}, SCH-ANA/day: {bell: "14:00"}}
        """,
    )
    with pytest.raises(InputError) as error:
        scenarios_from_file(path, base)
    columns = [p.column for p in error.value.problems]
    assert columns == [
        "scenarios[2].policy.colour",
        "scenarios[2].policy.walk_limit_m",
        "scenarios[2].name",
        "scenarios[3].name",
        "scenarios[3].prices.escort_day_rate",
        "scenarios[3].fleet.vehicle_types[1].seats",
        "scenarios[4].extra",
        "scenarios[4].bells.SCH-ILK/morning.bell",
        "scenarios[4].bells.SCH-ILK/morning.dismissal",
        "scenarios[5].name",
        # Found only against the base case, yet reported with the rest.
        "scenarios[5].bells.SCH-ILK/evening",
        "scenarios[5].bells.SCH-ANA/day",
    ]
    assert str(path) in str(error.value) and "got -5" in str(error.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "an existing file"),  # no file at all
        ("", "file with content"),  # an empty file
        ("- just\n- a list\n", "a mapping"),  # not a mapping at the top
        ("scenarios: [\n", "valid YAML"),  # broken syntax
    ],
)
def test_unreadable_scenario_files(tmp_path, content, expected):
    path = tmp_path / "s.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_variants(path)
    assert len(error.value.problems) == 1 and expected in error.value.problems[0].expected
