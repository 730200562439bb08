"""Hazards: no pupil walks across a no-crossing road, no bus drives an avoided one.

The district is a small hand-written OSM file: a primary road (way 100) runs east-west with
houses north of it and the school south of it. Buses with children may not use the primary road
(a forbidden class here), so they reach the north street over two residential bridges at the ends.
Two footways cross the primary road: without the hazard, the northern pupils' shortest walk crosses
it to a stop on the southern street.
"""

from __future__ import annotations

import json
import math

import pytest

from schoolbus.check import check_plan
from schoolbus.errors import InputError
from schoolbus.hazards import apply_hazards, hazards_from_geojson, hazards_to_geojson, read_hazards
from schoolbus.model import (
    Depot,
    Fleet,
    Hazard,
    HazardKind,
    Policy,
    Prices,
    Scenario,
    School,
    Shift,
    Status,
    Student,
    VehicleType,
)
from schoolbus.network import load_network
from schoolbus.params import SolverParams
from schoolbus.pipeline import plan, roads_for_scenario

ORIGIN = (32.85, 39.98)
BLOCK_M = 200.0
METRES_PER_DEG_LAT = 111_195.0
FAST = SolverParams(time_limit_s=2.0, seed=0)


def point(i: float, j: float) -> tuple[float, float]:
    lon = ORIGIN[0] + i * BLOCK_M / (METRES_PER_DEG_LAT * math.cos(math.radians(ORIGIN[1])))
    lat = ORIGIN[1] + j * BLOCK_M / METRES_PER_DEG_LAT
    return (round(lon, 7), round(lat, 7))


# Ways as (id, highway, [(i, j) grid points]); shared points are shared nodes.
WAYS = [
    (100, "primary", [(x, 0) for x in range(-1, 10)]),
    (201, "residential", [(x, 2) for x in range(0, 9)]),
    (301, "residential", [(x, -1) for x in range(0, 9)]),
    (501, "residential", [(8, -1), (8, 0), (8, 1), (8, 2)]),
    (502, "residential", [(0, -1), (0, 0), (0, 1), (0, 2)]),
    (401, "footway", [(3, 2), (3, 1), (3, 0), (3, -1)]),
    (402, "footway", [(5, 2), (5, 1), (5, 0), (5, -1)]),
]
PRIMARY_LINE = [list(point(x, 0)) for x in (-1, 9)]


def osm_xml() -> str:
    ids: dict[tuple[int, int], int] = {}
    for _, _, points in WAYS:
        for p in points:
            ids.setdefault(p, len(ids) + 1)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for (i, j), node_id in ids.items():
        lon, lat = point(i, j)
        lines.append(f'  <node id="{node_id}" version="1" lat="{lat}" lon="{lon}"/>')
    for way_id, highway, points in WAYS:
        lines.append(f'  <way id="{way_id}" version="1">')
        lines += [f'    <nd ref="{ids[p]}"/>' for p in points]
        lines.append(f'    <tag k="highway" v="{highway}"/>')
        lines.append(f'    <tag k="name" v="Yol {way_id}"/>')
        lines.append("  </way>")
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def roads(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hazard")
    path = folder / "district.osm"
    path.write_text(osm_xml(), encoding="utf-8")
    return load_network(osm=path, cache_dir=folder / "cache", forbidden_road_classes=("motorway", "primary"))


def primary_hazard(kind=HazardKind.NO_CROSSING) -> Hazard:
    return Hazard("H1", kind, lines=(tuple(tuple(p) for p in PRIMARY_LINE),), name="Ana cadde")


def scenario(hazards=()) -> Scenario:
    # Northern pupils live between the primary road and the north street, by the footways.
    students = [
        Student(f"N{x}-{k}", point(x + 0.05, 0.3 + 0.05 * k), "S", "tam", 6)
        for x in (3, 5)
        for k in range(3)
    ]
    school = School("S", "Okul", point(4, -1.1), (Shift("tam", 8 * 3600 + 1800, 15 * 3600),))
    fleet = Fleet((VehicleType("bus", 16, 3000.0, 10.0),), depots=(Depot("G", "Garaj", point(1, -1)),))
    return Scenario("hazard", tuple(students), (school,), fleet, Policy(walk_limit_m=800), Prices(), hazards=tuple(hazards))


def stop_sides(result, network) -> dict[str, float]:
    """Each routed pupil's stop latitude, in blocks north of the primary road."""
    stops = {s.id: s for s in result.stops}
    return {
        a.student_id: (stops[a.stop_id].location[1] - ORIGIN[1]) * METRES_PER_DEG_LAT / BLOCK_M
        for a in result.assignments
        if a.status is Status.ROUTED
    }


def test_without_the_hazard_northern_pupils_walk_across_the_primary_road(roads):
    result = plan(scenario(), roads, FAST)
    sides = stop_sides(result, roads)
    assert sides, "every pupil unserved: the district is broken"
    assert any(side < 0 for side in sides.values())


def test_with_the_hazard_no_pupil_is_assigned_across_it(roads):
    chosen = scenario([primary_hazard()])
    result = plan(chosen, roads, FAST)
    sides = stop_sides(result, roads)
    assert len(sides) == len(chosen.students)  # all still carried, from their own side
    assert all(side > 0.5 for side in sides.values())
    assert check_plan(result, roads_for_scenario(chosen, roads)) == []


def test_no_walk_path_crosses_the_hazard_line(roads):
    cut, counts = apply_hazards(roads, [primary_hazard()])
    import networkx as nx

    north = [n for n, d in cut.walk.nodes(data=True) if d["y"] > point(0, 0.5)[1]]
    south = [n for n, d in cut.walk.nodes(data=True) if d["y"] < point(0, -0.5)[1]]
    reach = nx.node_connected_component(cut.walk, north[0])
    # The only ways north to south are the bridges, whose walk edges touching the road are cut.
    assert not reach & set(south)
    assert counts.n_walk_edges > 0 and counts.n_drive_edges == 0
    assert cut.loaded is roads.loaded  # a no-crossing hazard leaves the buses' roads alone


def test_bus_avoid_way_ids_take_the_road_out_of_both_bus_graphs(roads):
    avoided = Hazard("B", HazardKind.BUS_AVOID, way_ids=(502,))
    cut, counts = apply_hazards(roads, [avoided])
    assert counts.n_drive_edges > 0
    for graph in (cut.drive, cut.loaded):
        assert all(way != 502 for _, _, way in graph.edges(data="osmid"))
    assert cut.walk is roads.walk or cut.walk.number_of_edges() == roads.walk.number_of_edges()
    result = plan(scenario([avoided]), roads, FAST)
    assert check_plan(result, roads_for_scenario(result.scenario, roads)) == []


def test_hazards_file_round_trips_and_bad_features_are_named(tmp_path):
    document = hazards_to_geojson([primary_hazard(), Hazard("B", HazardKind.BUS_AVOID, way_ids=(7, 8))])
    path = tmp_path / "hazards.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert read_hazards(path) == (primary_hazard(), Hazard("B", HazardKind.BUS_AVOID, way_ids=(7, 8)))
    bad = {
        "type": "FeatureCollection",
        "features": [
            # an unknown kind of hazard
            {"type": "Feature", "properties": {"hazard": "river"}, "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}},
            # a line of one point
            {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [[1, 2]]}},
            # a point is not a road or an area
            {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [1, 2]}},
            # neither geometry nor ways
            {"type": "Feature", "properties": {"id": "X"}, "geometry": None},
            # way ids must be whole numbers
            {"type": "Feature", "properties": {"osm_way_ids": ["12a"]}, "geometry": None},
        ],
    }
    with pytest.raises(InputError) as error:
        hazards_from_geojson(bad, "h.geojson")
    rows = [(p.row, p.column) for p in error.value.problems]
    assert rows == [(1, "hazard"), (2, "coordinates"), (3, "geometry"), (4, "geometry"), (5, "osm_way_ids")]
    assert "Traceback" not in str(error.value)


def test_the_map_shows_hazards_in_their_own_layer_with_names_escaped(roads, tmp_path):
    from schoolbus.outputs.maps import render_map

    hazard = Hazard("H1", HazardKind.BOTH, lines=primary_hazard().lines, name="<b>Ana</b> cadde")
    result = plan(scenario([hazard]), roads, FAST)
    html = render_map(result, tmp_path / "map.html", language="tr").read_text(encoding="utf-8")
    assert "Tehlikeler" in html  # the layer's name in the layer list
    assert "Tehlikeler: Öğrenciler yaya olarak karşıya geçmemeli" in html  # and its legend entry
    assert "&lt;b&gt;Ana&lt;/b&gt; cadde" in html and "<b>Ana</b>" not in html
    plain = render_map(plan(scenario(), roads, FAST), tmp_path / "plain.html", language="tr").read_text(encoding="utf-8")
    assert "Tehlikeler" not in plain


# ---- the real Helsinki extract: Mannerheimintie as a road no pupil may cross ----------------------

from pathlib import Path  # noqa: E402

from typer.testing import CliRunner  # noqa: E402

from schoolbus.cli import app  # noqa: E402
from schoolbus.ingest import load_scenario  # noqa: E402
from schoolbus.network import snap_points  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
ROAD = "Mannerheimintie"


@pytest.fixture(scope="module")
def helsinki(helsinki_pbf, tmp_path_factory):
    example = load_scenario(EXAMPLES / "students.csv", EXAMPLES / "schools.csv", EXAMPLES / "fleet.yaml", EXAMPLES / "policy.yaml")
    roads = load_network(osm=helsinki_pbf, cache_dir=tmp_path_factory.mktemp("cache"), forbidden_road_classes=example.policy.forbidden_road_classes)
    way_ids = sorted({int(w) for _, _, d in roads.walk.edges(data=True) if d["name"] == ROAD for w in [d["osmid"]]})
    return example, roads, way_ids


def crossings(result, walk, road_nodes) -> int:
    """Routed pupils whose walk (home node to stop node on ``walk``) passes through the road."""
    import networkx as nx

    stops = {s.id: s for s in result.stops}
    students = {s.id: s for s in result.scenario.students}
    n = 0
    for a in result.assignments:
        if a.status is not Status.ROUTED or stops[a.stop_id].is_door_to_door:
            continue
        home = int(snap_points(walk, [students[a.student_id].location]).node_ids[0])
        path = nx.shortest_path(walk, home, stops[a.stop_id].node_id, weight="length")
        n += any(node in road_nodes for node in path[1:-1])
    return n


def test_on_helsinki_no_walk_passes_through_a_no_crossing_road(helsinki):
    example, roads, way_ids = helsinki
    assert len(way_ids) >= 3
    road_nodes = {n for u, v, d in roads.walk.edges(data=True) if d["osmid"] in way_ids for n in (u, v)}
    before = plan(example, roads, FAST)
    assert crossings(before, roads.walk, road_nodes) > 0  # the example's walks do cross it
    hazard = Hazard("M", HazardKind.NO_CROSSING, way_ids=tuple(way_ids), name=ROAD)
    chosen = replace_hazards(example, (hazard,))
    after = plan(chosen, roads, FAST)
    cut = roads_for_scenario(chosen, roads)
    assert crossings(after, cut.walk, road_nodes) == 0
    assert check_plan(after, cut) == []
    assert after.summary.n_routed >= before.summary.n_routed - 5  # pupils mostly re-stopped, not dropped


def replace_hazards(scenario, hazards):
    from dataclasses import replace

    return replace(scenario, hazards=hazards)


@pytest.mark.slow
def test_cli_plan_and_check_inputs_take_a_hazards_file(helsinki, helsinki_pbf, tmp_path, monkeypatch):
    example, roads, way_ids = helsinki
    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "cache"))
    hazards = tmp_path / "hazards.geojson"
    hazards.write_text(json.dumps(hazards_to_geojson([Hazard("M", HazardKind.BOTH, way_ids=tuple(way_ids), name=ROAD)])), encoding="utf-8")
    inputs = ["--students", str(EXAMPLES / "students.csv"), "--schools", str(EXAMPLES / "schools.csv"),
              "--fleet", str(EXAMPLES / "fleet.yaml"), "--policy", str(EXAMPLES / "policy.yaml")]  # fmt: skip
    checked = CliRunner().invoke(app, ["check-inputs", *inputs, "--hazards", str(hazards)])
    assert checked.exit_code == 0, checked.output
    assert "Hazards OK" in checked.output and "1 in" in checked.output
    out = tmp_path / "plan"
    planned = CliRunner().invoke(app, ["plan", *inputs, "--osm", str(helsinki_pbf), "--out", str(out), "--time-limit", "1", "--hazards", str(hazards), "--workers", "1"])
    assert planned.exit_code == 0, planned.output
    from schoolbus.planfile import read_plan

    written = read_plan(out)
    assert written.scenario.hazards[0].way_ids == tuple(way_ids)
    assert "Tehlikeler" in (out / "map.html").read_text(encoding="utf-8")
    validated = CliRunner().invoke(app, ["validate", str(out)])
    assert validated.exit_code == 0, validated.output  # validate honours the plan's hazards too
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"hazard": "lava"}, "geometry": null}]}', encoding="utf-8")
    refused = CliRunner().invoke(app, ["check-inputs", *inputs, "--hazards", str(broken)])
    assert refused.exit_code == 2
    output = " ".join(refused.output.split())
    assert "broken.geojson, row 1, column 'hazard': got 'lava', expected one of no_crossing" in output
    assert "Inputs OK" not in output and "Traceback" not in output


def test_scenario_json_keeps_hazards_budget_priorities_and_bell_windows_exactly():
    from dataclasses import replace

    from schoolbus.model import BellWindow, PriorityRules
    from schoolbus.planfile import scenario_to_dict
    from schoolbus.service.scenarios import scenario_from_document

    area = Hazard("A", HazardKind.BUS_AVOID, polygons=((point(0, 0), point(1, 0), point(1, 1), point(0, 0)),), name="Pazar")
    chosen = replace(
        scenario([primary_hazard(), area]),
        budget_per_year=1234.5,
        priority_rules=PriorityRules(wheelchair=2.0),
        bell_windows=(BellWindow("S", "tam", 7 * 3600, 9 * 3600),),
        choose_bells=True,
    )
    chosen = replace(chosen, students=(replace(chosen.students[0], priority=3.0, is_vulnerable=True), *chosen.students[1:]))
    document = json.loads(json.dumps(scenario_to_dict(chosen)))
    assert scenario_from_document(document) == chosen


def test_a_scenario_file_sets_hazards_budget_and_bell_choice_and_names_bad_values(tmp_path):
    from schoolbus.scenarios import scenarios_from_file

    (tmp_path / "h.geojson").write_text(json.dumps(hazards_to_geojson([primary_hazard()])), encoding="utf-8")
    good = tmp_path / "scenarios.yaml"
    good.write_text(
        "scenarios:\n  - name: base\n  - name: safe\n    hazards: h.geojson\n    budget: 1000\n    choose_bells: true\n",
        encoding="utf-8",
    )
    base, safe = scenarios_from_file(good, scenario())
    assert (base.hazards, base.budget_per_year, base.choose_bells) == ((), None, False)
    assert (safe.hazards, safe.budget_per_year, safe.choose_bells) == ((primary_hazard(),), 1000.0, True)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "scenarios:\n  - name: a\n    hazards: missing.geojson\n  - name: b\n    budget: -1\n  - name: c\n    choose_bells: maybe\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as error:
        scenarios_from_file(bad, scenario())
    columns = [p.column for p in error.value.problems]
    assert "scenarios[2].budget" in columns and "scenarios[3].choose_bells" in columns
    assert any(p.file.endswith("missing.geojson") for p in error.value.problems)
