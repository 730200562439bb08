"""The district generator: schools from real OSM tags, students on real residential streets."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from schoolbus.errors import InputError
from schoolbus.network import load_network
from schoolbus.synthetic import (
    AFTERNOON_SHIFT,
    BELL_STAGGER_S,
    HOUSE_SETBACK_M,
    MORNING_SHIFT,
    RESIDENTIAL_CLASSES,
    SCHOOL_CHOICE_RADIUS_M,
    SIBLING_HOME_SHARE,
    SIBLINGS_PER_HOME,
    OsmSchool,
    assign_shifts,
    demo_scenario,
    generate_students,
    level_from_tags,
    read_osm_schools,
    school_choice_weights,
)


@pytest.fixture(scope="module")
def helsinki(helsinki_pbf, tmp_path_factory):
    return load_network(osm=helsinki_pbf, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize(
    ("amenity", "isced", "name", "level"),
    [
        ("kindergarten", None, "Papatya", "preschool"),  # the amenity decides
        ("school", "1", "Okul", "primary"),  # ISCED 1 = primary
        ("school", "2", "Okul", "middle"),
        ("school", "3", "Okul", "high"),
        ("school", "1;2", "Okul", "mixed"),  # several levels and no name hint
        ("school", None, "Atatürk İlkokulu", "primary"),  # Turkish name words
        ("school", None, "Cumhuriyet Ortaokulu", "middle"),
        ("school", None, "Fen Lisesi", "high"),
        ("school", None, "Kaisaniemen ala-aste", "primary"),  # Finnish, as in the demo extract
        ("school", None, "Ressun lukio", "high"),
        ("school", None, "Okul", "mixed"),  # nothing to go on
    ],
)
def test_level_from_tags(amenity, isced, name, level):
    assert level_from_tags(amenity, isced, name) == level


def test_real_helsinki_schools_and_their_levels(helsinki_pbf):
    schools = read_osm_schools(helsinki_pbf)
    assert [(s.name, s.level) for s in schools] == [
        ("Ressun lukio", "high"),
        ("Kruununhaan yläasteen koulu", "middle"),
        ("Kaisaniemen ala-aste", "primary"),
    ]
    for s in schools:
        lon, lat = s.location
        assert 24.93 < lon < 24.96 and 60.16 < lat < 60.18


def test_first_primary_school_runs_double_shift_others_staggered_bells():
    schools = assign_shifts(
        [
            OsmSchool("a", "Lise", (0.0, 0.0), "high"),
            OsmSchool("b", "İlkokul", (0.0, 0.0), "primary"),
            OsmSchool("c", "İlkokul 2", (0.0, 0.0), "primary"),
            OsmSchool("d", "Ortaokul", (0.0, 0.0), "middle"),
        ]
    )
    assert schools[1].shifts == (MORNING_SHIFT, AFTERNOON_SHIFT)
    single = [s.shifts[0].bell_s for s in (schools[0], schools[2], schools[3])]
    assert [b - single[0] for b in single] == [0, BELL_STAGGER_S, 2 * BELL_STAGGER_S]


def test_students_live_beside_residential_streets(helsinki):
    schools = assign_shifts(
        [OsmSchool("p", "ala-aste", (24.9479, 60.1733), "primary"), OsmSchool("h", "lukio", (24.9383, 60.1671), "high")]
    )
    students = generate_students(helsinki.drive, schools, 60, seed=7, grades_by_school={"p": (1, 4), "h": (9, 12)})
    assert len({s.id for s in students}) == 60
    streets = []
    for u, v, d in helsinki.drive.edges(data=True):
        if d["highway"] in RESIDENTIAL_CLASSES:
            g = d.get("geometry") or LineString(
                [(helsinki.drive.nodes[u]["x"], helsinki.drive.nodes[u]["y"]), (helsinki.drive.nodes[v]["x"], helsinki.drive.nodes[v]["y"])]
            )
            streets.append(g)
    metres_per_deg = 111_195.0
    for s in students:
        lon, lat = s.location
        # Distance to the nearest residential street, in metres (local scaling of degrees).
        scale = math.cos(math.radians(lat))
        p = Point(lon * scale, lat)
        nearest = min(
            LineString([(x * scale, y) for x, y in g.coords]).distance(p) for g in streets
        ) * metres_per_deg
        assert nearest <= HOUSE_SETBACK_M[1] + 1.0
        low, high = (1, 4) if s.school_id == "p" else (9, 12)
        assert low <= s.grade <= high
        assert s.shift in {sh.name for sh in next(x for x in schools if x.id == s.school_id).shifts}
        assert s.language in {"tr", "ar", "en"}


def test_about_a_quarter_of_homes_have_siblings_sharing_home_language_and_family(helsinki):
    schools = assign_shifts(
        [OsmSchool("p", "ala-aste", (24.9479, 60.1733), "primary"), OsmSchool("m", "yläaste", (24.9383, 60.1671), "middle")]
    )
    students = generate_students(helsinki.drive, schools, 240, seed=11)
    assert len(students) == 240 and len({s.id for s in students}) == 240
    families: dict[str, list] = {}
    for s in students:
        if s.family_id is not None:
            families.setdefault(s.family_id, []).append(s)
    only_children = [s for s in students if s.family_id is None]
    for family_id, siblings in families.items():
        # The last home may be cut short by n_students, but never to a family of one.
        assert SIBLINGS_PER_HOME[0] <= len(siblings) <= SIBLINGS_PER_HOME[1], family_id
        assert len({s.location for s in siblings}) == 1, family_id
        assert len({s.language for s in siblings}) == 1, family_id
        assert len({s.initials[-2:] for s in siblings}) == 1, family_id  # one surname initial
    # Siblings draw their own school and shift: some go to different ones.
    assert any(len({(s.school_id, s.shift) for s in siblings}) > 1 for siblings in families.values())
    # An only child has no family id and shares their home with nobody.
    homes = [s.location for s in students]
    assert all(homes.count(s.location) == 1 for s in only_children)
    share = len(families) / (len(families) + len(only_children))
    assert abs(share - SIBLING_HOME_SHARE) < 0.08, share


STRIP_ORIGIN = (38.79, 37.16)
"""Where the strip town's street starts (Şanlıurfa)."""
STRIP_DEG_PER_M = 1.0 / (111_195.0 * math.cos(math.radians(STRIP_ORIGIN[1])))
"""Degrees of longitude per metre east along it."""


def strip_town(length_m: float, step_m: float = 250.0) -> nx.MultiDiGraph:
    """One residential street running east from ``STRIP_ORIGIN`` for ``length_m``, both ways drivable."""
    lon0, lat0 = STRIP_ORIGIN
    graph = nx.MultiDiGraph()
    n = int(length_m / step_m) + 1
    for i in range(n):
        graph.add_node(i, x=lon0 + i * step_m * STRIP_DEG_PER_M, y=lat0)
    for i in range(n - 1):
        for a, b in ((i, i + 1), (i + 1, i)):
            graph.add_edge(a, b, highway="residential", length=step_m)
    return graph


def test_pupils_attend_a_school_near_home_and_the_nearest_where_none_is_near():
    # A 24 km street with schools at 0, 2 and 24 km: homes between about 7 and 19 km have no
    # school within the radius and go to the nearest; every other pupil's school is within it.
    town = strip_town(24_000.0)
    lon0, lat0 = STRIP_ORIGIN
    per_m = STRIP_DEG_PER_M
    sites = [("west", 0.0), ("west2", 2_000.0), ("east", 24_000.0)]
    schools = assign_shifts([OsmSchool(sid, sid, (lon0 + x * per_m, lat0), "primary") for sid, x in sites])
    students = generate_students(town, schools, 600, seed=4)
    where = dict(sites)
    far_from_all = 0
    for s in students:
        home_m = (s.location[0] - lon0) / per_m
        distances = {sid: abs(home_m - x) for sid, x in where.items()}
        if min(distances.values()) <= SCHOOL_CHOICE_RADIUS_M:
            assert distances[s.school_id] <= SCHOOL_CHOICE_RADIUS_M + 30.0, (s.id, home_m, s.school_id)
        else:
            far_from_all += 1
            assert s.school_id == min(distances, key=distances.get), (s.id, home_m, s.school_id)
    assert far_from_all > 100  # the middle of the street is far from every school
    # Pupils near the west end still choose between its two schools.
    assert {s.school_id for s in students if (s.location[0] - lon0) / per_m < 3_000} == {"west", "west2"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 40_000.0), min_size=1, max_size=30))
def test_school_choice_weights_inside_the_radius_are_the_distance_decay_and_zero_beyond(distances):
    d = np.array(distances)
    w = school_choice_weights(d)
    near = d <= SCHOOL_CHOICE_RADIUS_M
    if near.any():
        # Exactly the decay the generator has always used, so small extracts keep their pupils.
        assert np.array_equal(w[near], 1.0 / (d[near] + 300.0))
        assert not w[~near].any()
    else:
        assert w.tolist() == [1.0 if i == int(np.argmin(d)) else 0.0 for i in range(len(d))]


def test_same_seed_same_students_other_seed_other_students(helsinki):
    schools = assign_shifts([OsmSchool("p", "ala-aste", (24.9479, 60.1733), "primary")])
    first = generate_students(helsinki.drive, schools, 30, seed=1)
    assert first == generate_students(helsinki.drive, schools, 30, seed=1)
    assert first != generate_students(helsinki.drive, schools, 30, seed=2)


def test_no_schools_is_an_input_error(helsinki):
    with pytest.raises(InputError, match="at least one school"):
        generate_students(helsinki.drive, [], 10)


def test_demo_scenario_has_a_depot_the_example_fleet_and_double_shift(helsinki, helsinki_pbf):
    scenario = demo_scenario(read_osm_schools(helsinki_pbf), helsinki.drive, n_students=50, seed=0)
    assert len(scenario.students) == 50
    assert len(scenario.fleet.depots) == 1
    assert [v.seats for v in scenario.fleet.vehicle_types] == [16, 25, 35, 45]
    assert any(len(s.shifts) == 2 for s in scenario.schools)


def test_an_osm_file_without_schools_is_an_input_error_not_an_osmnx_one(tmp_path):
    """A road-only extract (like the scale benchmark's grid) says what is missing, in our words."""
    osm = tmp_path / "roads.osm"
    osm.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        '<node id="1" lat="39.97" lon="32.86"/><node id="2" lat="39.98" lon="32.86"/>\n'
        '<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/>'
        '<tag k="name" v="1203. Sokak"/></way>\n</osm>\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError) as raised:
        read_osm_schools(osm)
    assert "amenity=school or kindergarten" in str(raised.value)
