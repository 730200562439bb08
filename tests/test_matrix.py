"""Travel-time and distance matrices: checked against networkx on real Helsinki roads, on tiny
graphs with known answers, and against Floyd–Warshall on random graphs."""

from __future__ import annotations

import gc
from itertools import pairwise
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolbus import matrix
from schoolbus.errors import RoadNetworkError
from schoolbus.matrix import TravelMatrices, fastest_path, travel_matrices, walk_distances

# Fallback speeds (km/h) for Helsinki ways without a numeric maxspeed tag.
SPEED_BY_HIGHWAY_KPH = {"motorway": 100.0, "trunk": 80.0, "primary": 50.0, "secondary": 40.0}
DEFAULT_SPEED_KPH = 30.0
SEED = 0


def _with_travel_time(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Add ``travel_time`` = length / speed (s) where an edge lacks it, speed from maxspeed."""
    for _, _, data in graph.edges(data=True):
        if "travel_time" in data:
            continue
        try:
            speed_kph = float(data.get("maxspeed"))
        except (TypeError, ValueError):
            speed_kph = SPEED_BY_HIGHWAY_KPH.get(data.get("highway"), DEFAULT_SPEED_KPH)
        data["travel_time"] = data["length"] / (speed_kph / 3.6)
    return graph


def _pyrosm_graph(pbf: Path, network_type: str) -> nx.MultiDiGraph:
    import pyrosm

    osm = pyrosm.OSM(str(pbf))
    nodes, edges = osm.get_network(network_type, nodes=True)
    # simplify=False keeps every OSM node (1,283 drive nodes) rather than only the intersections.
    return osm.to_graph(nodes, edges, graph_type="networkx", simplify=False)


@pytest.fixture(scope="module")
def helsinki_drive(helsinki_pbf: Path) -> nx.MultiDiGraph:
    return _with_travel_time(_pyrosm_graph(helsinki_pbf, "driving"))


@pytest.fixture(scope="module")
def helsinki_walk(helsinki_pbf: Path) -> nx.MultiGraph:
    return nx.MultiGraph(_pyrosm_graph(helsinki_pbf, "walking"))


def _edge(graph: nx.MultiDiGraph, u, v) -> dict:
    """The edge networkx's Dijkstra uses between u and v: the fastest, the shorter on a tie."""
    return min(graph[u][v].values(), key=lambda d: (d["travel_time"], d["length"]))


def _path_length_m(graph: nx.MultiDiGraph, path: list) -> float:
    return sum(_edge(graph, u, v)["length"] for u, v in pairwise(path))


def _sample(graph: nx.Graph, n: int, seed: int) -> list:
    nodes = np.array(sorted(graph.nodes))
    return np.random.default_rng(seed).choice(nodes, n).tolist()


def _hand_graph() -> nx.MultiDiGraph:
    """A to D: fast via B (36 s + 36 s, 2,000 m) or short via C (90 s + 90 s, 1,000 m).

    A parallel A->B edge is shorter (900 m) but slower (100 s): the fastest edge counts.
    """
    g = nx.MultiDiGraph()
    g.add_edge("A", "B", length=1000.0, travel_time=36.0)
    g.add_edge("A", "B", length=900.0, travel_time=100.0)
    g.add_edge("B", "D", length=1000.0, travel_time=36.0)
    g.add_edge("A", "C", length=500.0, travel_time=90.0)
    g.add_edge("C", "D", length=500.0, travel_time=90.0)
    g.add_edge("D", "A", length=100.0, travel_time=10.0)
    return g


# --------------------------------------------------------------------------------------------------
# Real roads: Helsinki
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_sources", "n_targets"),
    [
        (25, 60),  # Dijkstra from the sources; tree lengths by walking up from the targets
        (60, 4),  # fewer targets: Dijkstra runs from them on the reversed graph
        (4, 1283),  # targets outnumber nodes / 8: tree lengths by pointer jumping
    ],
)
def test_drive_matrices_equal_networkx_on_helsinki(helsinki_drive, n_sources, n_targets):
    sources = _sample(helsinki_drive, n_sources, SEED)
    targets = _sample(helsinki_drive, n_targets, SEED + 1)
    result = travel_matrices(helsinki_drive, sources, targets)
    assert result.time_s.shape == result.distance_m.shape == (n_sources, n_targets)
    for i, source in enumerate(sources):
        time_s, paths = nx.single_source_dijkstra(helsinki_drive, source, weight="travel_time")
        expected_time = np.array([time_s[t] for t in targets])
        expected_m = np.array([_path_length_m(helsinki_drive, paths[t]) for t in targets])
        np.testing.assert_allclose(result.time_s[i], expected_time, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(result.distance_m[i], expected_m, rtol=1e-12, atol=1e-9)


def test_drive_distance_is_along_the_fastest_path_not_the_shortest_on_helsinki(helsinki_drive):
    sources = _sample(helsinki_drive, 10, SEED)
    targets = _sample(helsinki_drive, 200, SEED + 2)
    result = travel_matrices(helsinki_drive, sources, targets)
    shortest_m = np.array(
        [
            [reach[t] for t in targets]
            for reach in (
                nx.single_source_dijkstra_path_length(helsinki_drive, s, weight="length")
                for s in sources
            )
        ]
    )
    assert (result.distance_m >= shortest_m - 1e-9).all()
    # Speeds differ between streets, so on real roads some fastest paths are longer than needed.
    assert (result.distance_m > shortest_m + 1.0).any()


def test_both_tree_summing_methods_agree_on_helsinki(helsinki_drive):
    csr = matrix._csr_of(helsinki_drive, "drive")
    starts, ends = matrix._indices(
        csr, _sample(helsinki_drive, 8, SEED), _sample(helsinki_drive, 100, SEED + 3)
    )
    _, predecessors = matrix.dijkstra(csr.forward.weights, indices=starts, return_predecessors=True)
    parent, edge_m = matrix._flat_tree(predecessors, csr.forward)
    walked = matrix._walk_up(parent, edge_m, predecessors.shape, ends)
    jumped = matrix._jump(parent, edge_m, predecessors.shape)[:, ends]
    np.testing.assert_allclose(walked, jumped, rtol=1e-12)
    assert (walked > 0).any()


def test_fastest_path_matches_networkx_time_on_helsinki(helsinki_drive):
    sources = _sample(helsinki_drive, 5, SEED)
    targets = _sample(helsinki_drive, 5, SEED + 4)
    times = travel_matrices(helsinki_drive, sources, targets).time_s
    for i, source in enumerate(sources):
        for j, target in enumerate(targets):
            path = fastest_path(helsinki_drive, source, target)
            assert path[0] == source and path[-1] == target
            path_s = sum(_edge(helsinki_drive, u, v)["travel_time"] for u, v in pairwise(path))
            expected_s = nx.shortest_path_length(
                helsinki_drive, source, target, weight="travel_time"
            )
            assert path_s == pytest.approx(expected_s, rel=1e-12)
            assert times[i, j] == pytest.approx(expected_s, rel=1e-12)


@pytest.mark.parametrize("limit_m", [None, 800.0])
def test_walk_distances_equal_networkx_on_helsinki(helsinki_walk, limit_m):
    sources = _sample(helsinki_walk, 15, SEED)
    targets = _sample(helsinki_walk, 200, SEED + 5)
    result = walk_distances(helsinki_walk, sources, targets, limit_m=limit_m)
    for i, source in enumerate(sources):
        reach = nx.single_source_dijkstra_path_length(
            helsinki_walk, source, cutoff=limit_m, weight="length"
        )
        expected = np.array([reach.get(t, np.inf) for t in targets])
        np.testing.assert_allclose(result[i], expected, rtol=1e-12, atol=1e-9)
    if limit_m is not None:
        # The limit must actually cut something here, or this case tests nothing.
        assert np.isinf(result).any() and np.isfinite(result).any()
        assert result[np.isfinite(result)].max() <= limit_m


def test_matrices_on_load_network_graphs_equal_networkx(helsinki_pbf, tmp_path):
    """The graphs network.py hands over (loaded drive profile, walk) work as the contract says."""
    from schoolbus.network import load_network

    network = load_network(osm=helsinki_pbf, cache_dir=tmp_path)
    stops = _sample(network.loaded, 12, SEED)
    drive = travel_matrices(network.loaded, stops)
    walk = walk_distances(network.walk, stops, limit_m=800.0)  # loaded's nodes are walk nodes
    for i, source in enumerate(stops):
        time_s, paths = nx.single_source_dijkstra(network.loaded, source, weight="travel_time")
        np.testing.assert_allclose(drive.time_s[i], [time_s[t] for t in stops], rtol=1e-12)
        expected_m = [_path_length_m(network.loaded, paths[t]) for t in stops]
        np.testing.assert_allclose(drive.distance_m[i], expected_m, rtol=1e-12)
        reach = nx.single_source_dijkstra_path_length(
            network.walk, source, cutoff=800.0, weight="length"
        )
        np.testing.assert_allclose(walk[i], [reach.get(t, np.inf) for t in stops], rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# Tiny graphs with known answers
# --------------------------------------------------------------------------------------------------


def test_distance_is_along_the_fastest_path_on_hand_graph():
    result = travel_matrices(_hand_graph(), ["A"], ["D", "B", "C"])
    np.testing.assert_array_equal(result.time_s, [[72.0, 36.0, 90.0]])
    # Via B (fastest, 2,000 m), not via C (shortest, 1,000 m), and A->B by its fast edge.
    np.testing.assert_array_equal(result.distance_m, [[2000.0, 1000.0, 500.0]])
    assert fastest_path(_hand_graph(), "A", "D") == ["A", "B", "D"]


def test_reverse_search_gives_the_same_fastest_path_length_on_hand_graph():
    # Five sources and one target: Dijkstra runs backwards from D.
    result = travel_matrices(_hand_graph(), ["A", "B", "C", "D", "A"], ["D"])
    np.testing.assert_array_equal(result.time_s[:, 0], [72.0, 36.0, 90.0, 0.0, 72.0])
    np.testing.assert_array_equal(result.distance_m[:, 0], [2000.0, 1000.0, 500.0, 0.0, 2000.0])


def test_equal_time_parallel_edges_keep_the_shorter():
    g = nx.MultiDiGraph()
    g.add_edge(1, 2, length=300.0, travel_time=20.0)
    g.add_edge(1, 2, length=200.0, travel_time=20.0)
    g.add_edge(2, 1, length=250.0, travel_time=20.0)
    result = travel_matrices(g, [1, 2])
    np.testing.assert_array_equal(result.distance_m, [[0.0, 200.0], [250.0, 0.0]])


def test_unreachable_pairs_are_inf_and_fastest_path_says_so():
    g = nx.MultiDiGraph()
    g.add_edge("a", "b", length=100.0, travel_time=10.0)  # one way only
    g.add_node("island")
    result = travel_matrices(g, ["a", "b", "island"])
    assert np.isinf(result.time_s).tolist() == [
        [False, False, True],
        [True, False, True],
        [True, True, False],
    ]
    np.testing.assert_array_equal(np.isinf(result.distance_m), np.isinf(result.time_s))
    assert result.time_s[0, 1] == 10.0 and result.distance_m[0, 1] == 100.0
    with pytest.raises(RoadNetworkError, match="no drivable path"):
        fastest_path(g, "b", "a")
    assert fastest_path(g, "b", "b") == ["b"]


def test_duplicate_sources_and_targets_repeat_rows_and_columns():
    g = _hand_graph()
    sources, targets = ["A", "C", "A", "A"], ["D", "D", "A", "B", "D"]
    result = travel_matrices(g, sources, targets)
    single = travel_matrices(g, ["A", "C"], ["D", "A", "B"])
    rows, cols = [0, 1, 0, 0], [0, 0, 1, 2, 0]
    np.testing.assert_array_equal(result.time_s, single.time_s[np.ix_(rows, cols)])
    np.testing.assert_array_equal(result.distance_m, single.distance_m[np.ix_(rows, cols)])
    walk = walk_distances(nx.MultiGraph(g), sources, targets)
    assert walk.shape == (4, 5) and (walk[0] == walk[2]).all() and (walk[:, 0] == walk[:, 1]).all()


def test_targets_default_to_sources_and_empty_inputs_give_empty_matrices():
    g = _hand_graph()
    square = travel_matrices(g, ["A", "B", "D"])
    np.testing.assert_array_equal(
        square.time_s, travel_matrices(g, ["A", "B", "D"], ["A", "B", "D"]).time_s
    )
    assert np.diag(square.time_s).tolist() == [0.0, 0.0, 0.0]
    assert travel_matrices(g, [], ["A"]).time_s.shape == (0, 1)
    assert travel_matrices(g, ["A"], []).distance_m.shape == (1, 0)
    assert walk_distances(nx.MultiGraph(g), []).shape == (0, 0)


def test_small_chunks_and_float32_give_the_same_matrices(helsinki_drive):
    sources = _sample(helsinki_drive, 30, SEED)
    targets = _sample(helsinki_drive, 40, SEED + 6)
    whole = travel_matrices(helsinki_drive, sources, targets)
    chunked = travel_matrices(helsinki_drive, sources, targets, chunk_bytes=1)  # one row a chunk
    np.testing.assert_array_equal(chunked.time_s, whole.time_s)
    np.testing.assert_array_equal(chunked.distance_m, whole.distance_m)
    small = travel_matrices(helsinki_drive, sources, targets, dtype=np.float32)
    assert small.time_s.dtype == small.distance_m.dtype == np.float32
    np.testing.assert_allclose(small.time_s, whole.time_s, rtol=1e-6)
    np.testing.assert_allclose(small.distance_m, whole.distance_m, rtol=1e-6)


def test_walk_limit_keeps_distances_equal_to_the_limit_and_cuts_beyond():
    g = nx.MultiGraph()
    nx.add_path(g, [0, 1, 2, 3], length=100.0)
    within = walk_distances(g, [0], [0, 1, 2, 3], limit_m=200.0)
    np.testing.assert_array_equal(within, [[0.0, 100.0, 200.0, np.inf]])
    np.testing.assert_array_equal(walk_distances(g, [0], [3]), [[300.0]])


def test_walking_ignores_one_way_direction_and_takes_the_shortest_parallel_edge():
    g = nx.MultiDiGraph()
    g.add_edge("a", "b", length=120.0)
    g.add_edge("a", "b", length=80.0)
    np.testing.assert_array_equal(walk_distances(g, ["b"], ["a", "b"]), [[80.0, 0.0]])


def test_unknown_nodes_are_all_named_in_one_error():
    with pytest.raises(RoadNetworkError, match=r"2 node id\(s\).*'X'.*'Y'"):
        travel_matrices(_hand_graph(), ["A", "X"], ["Y"])
    with pytest.raises(RoadNetworkError, match="1 node id"):
        walk_distances(nx.MultiGraph(_hand_graph()), ["Z"])


@pytest.mark.parametrize(
    "bad",
    [
        {"length": 10.0},  # travel_time missing
        {"length": 10.0, "travel_time": -1.0},  # negative time
        {"length": float("nan"), "travel_time": 1.0},  # length not a number
        {"length": 10.0, "travel_time": "fast"},  # not a number at all
    ],
)
def test_bad_edge_attributes_raise_road_network_error(bad):
    g = _hand_graph()
    g.add_edge("B", "C", **bad)
    with pytest.raises(RoadNetworkError, match="1 edge attribute"):
        travel_matrices(g, ["A"])


def test_csr_is_cached_per_graph_object_and_released_with_it():
    g = _hand_graph()
    first = matrix._csr_of(g, "drive")
    assert matrix._csr_of(g, "drive") is first
    assert matrix._csr_of(_hand_graph(), "drive") is not first  # an equal graph, another object
    assert matrix._csr_of(g, "walk") is not first
    n_cached = len(matrix._cache)
    del g, first
    gc.collect()
    assert len(matrix._cache) < n_cached


# --------------------------------------------------------------------------------------------------
# Invariants on random graphs
# --------------------------------------------------------------------------------------------------

_cost = st.one_of(
    st.integers(0, 4).map(float),  # small integers make exact ties between paths common
    st.floats(0.0, 500.0, allow_nan=False, allow_infinity=False),
)


@st.composite
def strongly_connected_graphs(draw) -> nx.MultiDiGraph:
    """A random multidigraph made strongly connected by a cycle through every node."""
    n = draw(st.integers(1, 9))
    order = draw(st.permutations(range(n)))
    pairs = [(order[k], order[(k + 1) % n]) for k in range(n)] if n > 1 else []
    pairs += draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=25))
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(n))
    for u, v in pairs:
        g.add_edge(u, v, travel_time=draw(_cost), length=draw(_cost))
    return g


@settings(max_examples=150, deadline=None)
@given(strongly_connected_graphs())
def test_random_graphs_match_floyd_warshall_and_distances_follow_fastest_paths(g):
    nodes = list(g.nodes)
    result = travel_matrices(g, nodes)
    time_s, distance_m = result.time_s, result.distance_m
    expected = nx.floyd_warshall_numpy(g, nodelist=nodes, weight="travel_time")
    np.testing.assert_allclose(time_s, expected, rtol=1e-9, atol=1e-9)
    assert np.isfinite(time_s).all() and np.isfinite(distance_m).all()
    # Triangle inequality for every (i, j, k).
    assert (time_s[:, None, :] <= time_s[:, :, None] + time_s[None, :, :] + 1e-9).all()
    # distance_m is the length of a fastest path: every target j != i is entered by a tight edge
    # p -> j whose time and length extend the matrix entries of p.
    for i in range(len(nodes)):
        for j in range(len(nodes)):
            if i == j:
                assert time_s[i, j] == 0.0 and distance_m[i, j] == 0.0
                continue
            assert any(
                np.isclose(time_s[i, p] + d["travel_time"], time_s[i, j], rtol=1e-12, atol=1e-9)
                and np.isclose(
                    distance_m[i, p] + d["length"], distance_m[i, j], rtol=1e-12, atol=1e-9
                )
                for p, _, d in g.in_edges(nodes[j], data=True)
            )
    # The reversed search (one target) and fastest_path agree with the matrix on time.
    for j in range(len(nodes)):
        column = travel_matrices(g, nodes, [nodes[j]]).time_s[:, 0]
        np.testing.assert_allclose(column, time_s[:, j], rtol=1e-9, atol=1e-9)
    path = fastest_path(g, nodes[0], nodes[-1])
    path_s = sum(min(d["travel_time"] for d in g[u][v].values()) for u, v in pairwise(path))
    assert path_s == pytest.approx(time_s[0, -1], rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(strongly_connected_graphs(), st.none() | st.floats(0.0, 600.0))
def test_random_walk_distances_are_symmetric_and_match_networkx(g, limit_m):
    nodes = list(g.nodes)
    walk = nx.MultiGraph(g)
    result = walk_distances(walk, nodes, limit_m=limit_m)
    np.testing.assert_allclose(result, result.T, rtol=1e-12)
    for i, source in enumerate(nodes):
        reach = nx.single_source_dijkstra_path_length(walk, source, cutoff=limit_m, weight="length")
        expected = [reach.get(t, np.inf) for t in nodes]
        np.testing.assert_allclose(result[i], expected, rtol=1e-9, atol=1e-9)


def test_travel_matrices_returns_the_contract_type(helsinki_drive):
    sources = _sample(helsinki_drive, 3, SEED)
    result = travel_matrices(helsinki_drive, sources)
    assert isinstance(result, TravelMatrices)
    assert result.time_s.dtype == np.float64 and result.time_s.shape == (3, 3)


@st.composite
def graphs_full_of_ties(draw) -> nx.MultiDiGraph:
    """Strongly connected, with whole-second times and whole-metre lengths: many equally fast paths
    of different lengths, and some edges of zero time and length."""
    n = draw(st.integers(2, 30))
    order = draw(st.permutations(range(n)))
    pairs = [(order[k], order[(k + 1) % n]) for k in range(n)]
    pairs += draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=90))
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(n))
    for u, v in pairs:
        time_s = draw(st.sampled_from([0.0, 1.0, 2.0, 3.0, 0.1, 0.2]))
        length_m = 0.0 if time_s == 0.0 else draw(st.sampled_from([5.0, 10.0, 20.0, 30.0]))
        g.add_edge(u, v, travel_time=time_s, length=length_m)
    return g


@settings(max_examples=150, deadline=None)
@given(graphs_full_of_ties(), st.floats(0.0, 8.0), st.randoms(use_true_random=False))
def test_a_limited_search_and_any_batch_give_exactly_the_unlimited_paths(g, limit_s, rng):
    """Equal-time paths are settled by one rule, not by Dijkstra's heap: limiting the search, or
    searching from a node alone rather than among others, changes no time, length or path."""
    nodes = list(g.nodes)
    full = travel_matrices(g, nodes)
    near = full.time_s <= limit_s
    limited = travel_matrices(g, nodes, limit_s=limit_s)
    assert np.array_equal(limited.time_s, np.where(near, full.time_s, np.inf))
    assert np.array_equal(limited.distance_m, np.where(near, full.distance_m, np.inf))
    shuffled = rng.sample(nodes, len(nodes))
    for i in rng.sample(range(len(nodes)), min(3, len(nodes))):
        alone = travel_matrices(g, [nodes[i]], shuffled, chunk_bytes=1)
        column = [nodes.index(t) for t in shuffled]
        assert np.array_equal(alone.time_s[0], full.time_s[i, column])
        assert np.array_equal(alone.distance_m[0], full.distance_m[i, column])
        j = rng.randrange(len(nodes))
        path = fastest_path(g, nodes[i], nodes[j])
        assert fastest_path(g, nodes[i], nodes[j], limit_s=limit_s) == path
        # The rule: each node is entered from the lowest-indexed node that is strictly nearer and
        # exactly one edge's time behind (unless only zero-time edges lead in).
        to = full.time_s[i]
        for u, v in pairwise(path):
            tight = sorted(
                p for p in g.predecessors(v) if to[p] < to[v] and to[p] + _edge(g, p, v)["travel_time"] == to[v]
            )
            assert u == tight[0] if tight else _edge(g, u, v)["travel_time"] == 0.0
        assert sum(_edge(g, u, v)["length"] for u, v in pairwise(path)) == pytest.approx(
            full.distance_m[i, j], abs=1e-9
        )


def test_limited_matrices_and_paths_equal_unlimited_ones_on_helsinki(helsinki_drive):
    sources = _sample(helsinki_drive, 40, SEED)
    targets = _sample(helsinki_drive, 60, SEED + 1)
    full = travel_matrices(helsinki_drive, sources, targets)
    limit_s = float(np.median(full.time_s))
    limited = travel_matrices(helsinki_drive, sources, targets, limit_s=limit_s)
    near = full.time_s <= limit_s
    assert 0.2 < near.mean() < 0.8
    assert np.array_equal(limited.time_s, np.where(near, full.time_s, np.inf))
    assert np.array_equal(limited.distance_m, np.where(near, full.distance_m, np.inf))
    for i, j in zip(*np.nonzero(near)[:2]):
        if i % 8 == 0:
            bound = float(full.time_s[i, j])
            path = fastest_path(helsinki_drive, sources[i], targets[j])
            assert fastest_path(helsinki_drive, sources[i], targets[j], limit_s=bound) == path
            assert fastest_path(helsinki_drive, sources[i], targets[j], limit_s=bound / 2) == path
