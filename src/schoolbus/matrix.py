"""Travel-time and distance matrices among road-network nodes (drive and walk).

Every matrix comes from :func:`scipy.sparse.csgraph.dijkstra` run on a CSR copy of the graph, one
call per chunk of sources; networkx is never asked for a path per pair. The CSR copy of a graph is
built once and cached per graph object (a weak reference, so it dies with the graph): graphs must
not be mutated after their first use here.

Drive matrices minimise the edge attribute ``travel_time`` (s). Their ``distance_m`` is the length
(m) *along that fastest path*, not the shortest length. Dijkstra's predecessor tree records, for
every node, the node before it on the fastest path found; the lengths of those tree edges are then
summed, vectorised over all (source, target) pairs, either by walking up from the targets to the
source in step (few targets) or by pointer jumping over every node (each round adds the total of a
node's current ancestor and jumps to that ancestor's ancestor; ``ceil(log2(depth + 1))`` rounds).
This is exact in the sense that matters: the length is that of the very path whose time is
reported, whatever the graph. Its limits:

* when two different paths are equally fast to the last bit of a float, the reported length is
  that of the one through the lowest-indexed predecessor (see ``_canonical_tree``), not
  necessarily the shorter; between parallel edges of equal time the shorter is kept. That rule
  makes the tree, and so every length and path, the same whatever Dijkstra's settling order:
  with or without a search limit, alone or in a chunk of starting nodes. A search limited to the
  time that matters (``limit_s``) therefore gives exactly what a search over the whole graph
  would;
* the sum is formed in a different order than a walk along the path would form it, so it may differ
  from that walk's sum in the last bits (relative error about ``hops * 1e-16``);
* when Dijkstra runs on the reversed graph (fewer distinct targets than sources), the tree is the
  one into the targets; on an exact time tie it may pick another of the equally fast paths than
  the forward search would.

Memory: Dijkstra takes the starting nodes in chunks of ``c`` rows with ``c * n_nodes * 44`` bytes
(24 for walk distances) at most ``chunk_bytes`` (default 256 MiB; at least one row), so the working
memory stays under about ``chunk_bytes`` plus a few MiB, on top of the outputs themselves:
``len(sources) * len(targets) * itemsize`` bytes per matrix (5,000 x 5,000 points: 200 MB per
float64 matrix, 100 MB in float32). Rows over all nodes never reach the caller. Dijkstra runs from
whichever side (sources or targets) has fewer distinct nodes, on the reversed graph when that is
the targets, and once per distinct node: repeated ids are copied, not recomputed.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from schoolbus.errors import RoadNetworkError

DEFAULT_CHUNK_BYTES = 256 * 2**20
"""Working-memory budget of one Dijkstra chunk, bytes."""

_NO_PREDECESSOR = -9999
"""What scipy's Dijkstra writes for a source and for unreached nodes in its predecessor matrix."""

# Bytes per graph node of one chunk row, worst case (targets as many as nodes): Dijkstra's distance
# (8) and predecessor (4), the row cut to the targets (8) and its copy into the output order (8),
# and the same two for lengths (16).
_BYTES_PER_NODE_WITH_LENGTH = 44
_BYTES_PER_NODE_COST_ONLY = 24

_CACHE_FRIENDLY_BYTES = 2**19
"""Tree sums take this many bytes of rows at a time (parents and edge lengths), to stay in cache."""

_WALK_UP_NODES_PER_END = 8
"""Walk up from the targets when the graph has more than this many nodes per target, else jump.

Walking up costs about targets x path hops, pointer jumping about nodes x 2 log2(hops). Measured
with 100 sources: on a 50,000-node grid the walk was 3x faster at one target per 10 nodes; on
Helsinki (1,283 nodes) 2x faster at one per 13 and 3x slower at one per 1.3.
"""

_WALK_UP_COMPACT_EVERY = 8
"""Steps between droppings of the (row, target) pairs that have reached their root."""


@dataclass(frozen=True)
class TravelMatrices:
    """Drive time and distance from each source (rows) to each target (columns).

    ``time_s`` is the fastest drive time, seconds; ``distance_m`` the length of that fastest path,
    metres. Both have shape ``(len(sources), len(targets))``; ``inf`` marks an unreachable pair.
    """

    time_s: np.ndarray
    distance_m: np.ndarray


@dataclass(frozen=True)
class _Oriented:
    """One direction of a graph as scipy wants it, plus what is needed to measure tree edges.

    ``weights[i, j]`` is the cost of the edge from node ``i`` to node ``j`` (the fastest of any
    parallel edges). ``pred_nbr[j, k]``, ``pred_cost[j, k]`` and ``pred_len_m[j, k]`` list, for
    node ``j``, the nodes that can precede it on a path in increasing order (``-1`` pads short
    rows), the cost of that edge and its length, metres.
    """

    weights: sp.csr_array
    pred_nbr: np.ndarray | None
    pred_cost: np.ndarray | None
    pred_len_m: np.ndarray | None


@dataclass(frozen=True)
class SearchGraph:
    """A graph's node index and its CSR forms; ``backward`` is ``forward`` with edges reversed.

    What the functions here search instead of the networkx graph; :func:`search_graph` builds
    it. It is plain arrays, so it pickles small and a worker process can search without the graph
    (the 50,000-node grid: about 9 MB).
    """

    node_ids: tuple[Hashable, ...]
    index_of: dict[Hashable, int]
    forward: _Oriented
    backward: _Oriented

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)


_cache: weakref.WeakKeyDictionary[nx.Graph, dict[str, SearchGraph]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def search_graph(graph: nx.Graph | SearchGraph, profile: str = "drive") -> SearchGraph:
    """The arrays the searches here run on, for ``profile`` "drive" or "walk" (cached per graph).

    Pass the result instead of the graph to :func:`travel_matrices` and :func:`fastest_path` where
    the graph itself is not at hand (a worker process); a ``SearchGraph`` is returned as it is.
    """
    return _csr_of(graph, profile)


def travel_matrices(
    graph: nx.MultiDiGraph | SearchGraph,
    sources: Sequence[Hashable],
    targets: Sequence[Hashable] | None = None,
    *,
    limit_s: float | None = None,
    dtype: type[np.floating] = np.float64,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> TravelMatrices:
    """Fastest drive time and the distance along that fastest path, many to many.

    Parameters
    ----------
    graph : networkx.MultiDiGraph or SearchGraph
        Drive network; every edge needs ``travel_time`` (s) and ``length`` (m), both ``>= 0``.
        Among parallel edges the fastest counts (the shorter one on a tie).
    sources, targets : sequence of node ids
        Graph nodes; repeats are allowed. ``targets=None`` means the same nodes as ``sources``.
    limit_s : float, optional
        Pairs more than this many seconds apart come out ``inf``; the searches stop there, which
        is much faster on a large graph. The other entries are exactly those of an unlimited call.
    dtype : numpy float type, optional
        Element type of the outputs; ``np.float32`` halves their memory (times then carry about
        7 significant digits).
    chunk_bytes : int, optional
        Working-memory budget per Dijkstra chunk, bytes (see the module docstring).

    Returns
    -------
    TravelMatrices
        ``time_s`` (s) and ``distance_m`` (m), shape ``(len(sources), len(targets))``, ``inf`` where
        a target cannot be reached.

    Raises
    ------
    RoadNetworkError
        If a node id is not in ``graph``, or an edge lacks a valid ``travel_time`` or ``length``.
    """
    csr = _csr_of(graph, "drive")
    rows, cols = _indices(csr, sources, targets)
    time_s = np.empty((len(rows), len(cols)), dtype=dtype)
    distance_m = np.empty((len(rows), len(cols)), dtype=dtype)
    limit = np.inf if limit_s is None else float(limit_s)
    _fill(csr, rows, cols, time_s, distance_m, limit=limit, chunk_bytes=chunk_bytes)
    return TravelMatrices(time_s=time_s, distance_m=distance_m)


def walk_distances(
    walk_graph: nx.MultiGraph,
    sources: Sequence[Hashable],
    targets: Sequence[Hashable] | None = None,
    limit_m: float | None = None,
    *,
    dtype: type[np.floating] = np.float64,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> np.ndarray:
    """Shortest walking distance between nodes of the walk network, many to many.

    Every edge is walkable both ways whatever the graph's direction; its cost is ``length`` (m).

    Parameters
    ----------
    walk_graph : networkx.MultiGraph
        Walk network with edge attribute ``length`` (m, ``>= 0``).
    sources, targets : sequence of node ids
        Graph nodes; repeats are allowed. ``targets=None`` means the same nodes as ``sources``.
    limit_m : float, optional
        Distances above this many metres come out as ``inf``; Dijkstra stops searching there, which
        is much faster than a full search. ``None`` means no limit.
    dtype : numpy float type, optional
        Element type of the output.
    chunk_bytes : int, optional
        Working-memory budget per Dijkstra chunk, bytes.

    Returns
    -------
    numpy.ndarray
        Metres, shape ``(len(sources), len(targets))``; ``inf`` beyond ``limit_m`` or unreachable.

    Raises
    ------
    RoadNetworkError
        If a node id is not in ``walk_graph`` or an edge lacks a valid ``length``.
    """
    csr = _csr_of(walk_graph, "walk")
    rows, cols = _indices(csr, sources, targets)
    distance_m = np.empty((len(rows), len(cols)), dtype=dtype)
    limit = np.inf if limit_m is None else float(limit_m)
    _fill(csr, rows, cols, distance_m, None, limit=limit, chunk_bytes=chunk_bytes)
    return distance_m


def fastest_path(
    graph: nx.MultiDiGraph | SearchGraph, source: Hashable, target: Hashable, *, limit_s: float | None = None
) -> list[Hashable]:
    """The node sequence of the fastest drive path, for maps and route sheets.

    It is the path whose time and distance :func:`travel_matrices` reports (when
    :func:`travel_matrices` runs from the sources' side).

    Parameters
    ----------
    graph : networkx.MultiDiGraph or SearchGraph
        Drive network with edge attributes ``travel_time`` (s) and ``length`` (m).
    source, target : node id
        Graph nodes.
    limit_s : float, optional
        How far to search first, seconds: a known bound on the drive time (a matrix entry) makes
        the search visit only the nodes that near. When ``target`` is farther, the search goes on
        over the whole graph; either way the path is the same.

    Returns
    -------
    list of node ids
        From ``source`` to ``target`` inclusive; ``[source]`` when they are the same node.

    Raises
    ------
    RoadNetworkError
        If a node is not in ``graph`` or ``target`` cannot be reached from ``source``.
    """
    csr = _csr_of(graph, "drive")
    (start, end), _ = _indices(csr, [source, target], None)
    limits = (np.inf,) if limit_s is None or not limit_s < np.inf else (float(limit_s), np.inf)
    for limit in limits:
        cost, predecessors = dijkstra(
            csr.forward.weights, indices=int(start), limit=limit, return_predecessors=True
        )
        if cost[end] < np.inf:
            break
    if start != end and not cost[end] < np.inf:
        raise RoadNetworkError(f"no drivable path from node {source!r} to node {target!r}")
    _canonical_tree(cost, predecessors, csr.forward)
    path = [int(end)]
    while path[-1] != start:
        path.append(int(predecessors[path[-1]]))
    return [csr.node_ids[i] for i in reversed(path)]


# --------------------------------------------------------------------------------------------------
# Matrices in chunks
# --------------------------------------------------------------------------------------------------


def _fill(
    csr: SearchGraph,
    rows: np.ndarray,
    cols: np.ndarray,
    out_cost: np.ndarray,
    out_length_m: np.ndarray | None,
    *,
    limit: float,
    chunk_bytes: int,
) -> None:
    """Write costs (and tree lengths when ``out_length_m`` is given) from node ``rows`` to ``cols``.

    Dijkstra runs once per distinct node of the smaller side; on the reversed graph when that is
    the column side, whose blocks are then written transposed.
    """
    unique_rows, row_slot = _first_occurrence_unique(rows)
    unique_cols, col_slot = _first_occurrence_unique(cols)
    transpose = len(unique_cols) < len(unique_rows)
    if transpose:
        oriented, starts, start_slot, ends = csr.backward, unique_cols, col_slot, rows
    else:
        oriented, starts, start_slot, ends = csr.forward, unique_rows, row_slot, cols
    with_length = out_length_m is not None
    per_node = _BYTES_PER_NODE_WITH_LENGTH if with_length else _BYTES_PER_NODE_COST_ONLY
    chunk = max(1, int(chunk_bytes) // max(1, csr.n_nodes * per_node))
    for first, cost, length_m in _dijkstra_chunks(
        oriented, starts, ends, chunk, limit=limit, with_length=with_length
    ):
        # Output lines (rows, or columns when transposed) fed by the starts of this chunk.
        lines = np.flatnonzero((start_slot >= first) & (start_slot < first + len(cost)))
        picks = start_slot[lines] - first
        _put(out_cost, lines, cost[picks], transpose)
        if out_length_m is not None and length_m is not None:
            _put(out_length_m, lines, length_m[picks], transpose)


def _put(out: np.ndarray, lines: np.ndarray, block: np.ndarray, transpose: bool) -> None:
    if transpose:
        out[:, lines] = block.T
    else:
        out[lines, :] = block


def _dijkstra_chunks(
    oriented: _Oriented,
    starts: np.ndarray,
    ends: np.ndarray,
    chunk: int,
    *,
    limit: float,
    with_length: bool,
) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """Yield ``(first, cost, length_m)`` from each chunk of ``starts`` to the nodes ``ends``."""
    for first in range(0, len(starts), chunk):
        indices = starts[first : first + chunk]
        if not with_length:
            cost = dijkstra(oriented.weights, indices=indices, limit=limit)
            yield first, np.atleast_2d(cost)[:, ends], None
            continue
        cost, predecessors = dijkstra(
            oriented.weights, indices=indices, limit=limit, return_predecessors=True
        )
        cost, predecessors = np.atleast_2d(cost), np.atleast_2d(predecessors)
        for row in range(len(cost)):
            _canonical_tree(cost[row], predecessors[row], oriented)
        cost = cost[:, ends]
        length_m = _lengths_along_tree(predecessors, ends, oriented)
        length_m[np.isinf(cost)] = np.inf
        yield first, cost, length_m


def _canonical_tree(cost: np.ndarray, predecessors: np.ndarray, oriented: _Oriented) -> None:
    """Make one row's predecessor tree independent of the order Dijkstra settled equal costs in.

    The costs Dijkstra finds do not depend on that order (each is the least ``cost[u] + edge``
    over the node's predecessors ``u``), but the predecessor it records does: on an exact tie it
    keeps the first one settled, and which one that is depends on the heap, so on the ``limit``
    and on the other starting nodes of a call. Here every reached node takes, among the nodes
    ``u`` with ``cost[u] < cost[node]`` and ``cost[u] + edge == cost[node]`` (computed as Dijkstra
    computes it), the one with the lowest index. A node with no such ``u`` (reached over edges of
    zero cost only, whose length is zero too) keeps Dijkstra's. Every node's new parent costs
    strictly less, so the tree has no cycle. ``predecessors`` is changed in place.
    """
    assert oriented.pred_nbr is not None and oriented.pred_cost is not None
    reached = np.flatnonzero(cost < np.inf)
    if len(reached) < 2:
        return
    if len(reached) == len(cost):  # the whole graph: no need to gather the reached rows
        here, neighbours, edge_cost = cost[:, None], oriented.pred_nbr, oriented.pred_cost
    else:
        here = cost[reached][:, None]
        neighbours, edge_cost = oriented.pred_nbr[reached], oriented.pred_cost[reached]
    # Padding (-1) reads the last node's cost, but its edge cost is inf, so it is never tight.
    before = cost[neighbours]
    tight = before + edge_cost == here
    tight &= before < here
    first = tight.argmax(axis=1)
    has = np.take_along_axis(tight, first[:, None], axis=1)[:, 0]
    chosen = np.take_along_axis(neighbours, first[:, None], axis=1)[:, 0]
    if len(reached) == len(cost):
        np.copyto(predecessors, chosen, where=has)
    else:
        predecessors[reached[has]] = chosen[has]


def _lengths_along_tree(
    predecessors: np.ndarray, ends: np.ndarray, oriented: _Oriented
) -> np.ndarray:
    """Length (m) from each row's root to the nodes ``ends`` along the row's predecessor tree.

    ``predecessors`` has shape ``(c, n)`` as scipy returns it. Rows are taken a few at a time so
    that the gathers below stay in the processor's cache (they are random reads within a row).
    """
    n_rows, n = predecessors.shape
    out = np.empty((n_rows, len(ends)), dtype=np.float64)
    # Walking up from the ends costs (ends x path hops); pointer jumping over every node costs
    # (nodes x 2 log2 hops): the walk wins while the ends are a small share of the nodes.
    walk_up = len(ends) * _WALK_UP_NODES_PER_END < n
    rows_per_pass = max(1, _CACHE_FRIENDLY_BYTES // (16 * n))
    for first in range(0, n_rows, rows_per_pass):
        block = predecessors[first : first + rows_per_pass]
        parent, edge_m = _flat_tree(block, oriented)
        if walk_up:
            out[first : first + len(block)] = _walk_up(parent, edge_m, block.shape, ends)
        else:
            out[first : first + len(block)] = _jump(parent, edge_m, block.shape)[:, ends]
    return out


def _flat_tree(predecessors: np.ndarray, oriented: _Oriented) -> tuple[np.ndarray, np.ndarray]:
    """Each node's parent and the length (m) of the tree edge into it, rows laid end to end.

    Index ``r * n + j`` is node ``j`` of row ``r``. One sentinel at the end, index ``c * n``, is the
    parent of every root and unreached node and of itself, with length 0, so that climbing past a
    root needs no branch.
    """
    assert oriented.pred_nbr is not None and oriented.pred_len_m is not None
    n_rows, n = predecessors.shape
    sentinel = n_rows * n
    edge_m = np.zeros(sentinel + 1, dtype=np.float64)
    edge_rows = edge_m[:sentinel].reshape(n_rows, n)
    for slot in range(oriented.pred_nbr.shape[1]):
        np.copyto(
            edge_rows,
            oriented.pred_len_m[:, slot],
            where=predecessors == oriented.pred_nbr[:, slot],
        )
    parent = np.empty(sentinel + 1, dtype=np.intp)
    parent_rows = parent[:sentinel].reshape(n_rows, n)
    np.add(predecessors, (np.arange(n_rows) * n)[:, None], out=parent_rows)
    parent_rows[predecessors == _NO_PREDECESSOR] = sentinel
    parent[sentinel] = sentinel
    return parent, edge_m


def _walk_up(
    parent: np.ndarray, edge_m: np.ndarray, shape: tuple[int, int], ends: np.ndarray
) -> np.ndarray:
    """Sum the tree edges from every ``(row, end)`` up to its root, all pairs in step."""
    n_rows, n = shape
    sentinel = n_rows * n
    node = ((np.arange(n_rows) * n)[:, None] + ends[None, :]).reshape(-1)
    where = np.arange(node.size)
    total_m = np.zeros(node.size, dtype=np.float64)
    out = np.empty(node.size, dtype=np.float64)
    step = 0
    while node.size:
        total_m += edge_m[node]
        node = parent[node]
        step += 1
        # Finished pairs keep adding the sentinel's 0; dropping them every few steps saves work
        # without paying for a comparison every step.
        if step % _WALK_UP_COMPACT_EVERY == 0 or not node.size:
            done = node == sentinel
            out[where[done]] = total_m[done]
            running = ~done
            node, where, total_m = node[running], where[running], total_m[running]
    return out.reshape(n_rows, len(ends))


def _jump(parent: np.ndarray, edge_m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Sum the tree edges from every node up to its root by pointer jumping.

    Each round adds the total of a node's current ancestor and then jumps to that ancestor's
    ancestor (both from the previous round's values), so ``ceil(log2(depth + 1))`` rounds finish.
    """
    n_rows, n = shape
    sentinel = n_rows * n
    ancestor = parent.copy()
    total_m = edge_m.copy()
    while not (ancestor == sentinel).all():
        total_m += total_m[ancestor]
        ancestor = ancestor[ancestor]
    return total_m[:sentinel].reshape(n_rows, n)


def _first_occurrence_unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``values`` in order of first occurrence, and each value's slot among them."""
    _, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return values[np.sort(first)], rank[inverse.reshape(-1)]


def _indices(
    csr: SearchGraph, sources: Sequence[Hashable], targets: Sequence[Hashable] | None
) -> tuple[np.ndarray, np.ndarray]:
    """CSR indices of ``sources`` and ``targets`` (``None``: the sources again).

    Every id missing from the graph, on either side, is named in one error.
    """
    groups = [_as_list(sources)] + ([] if targets is None else [_as_list(targets)])
    found = [[csr.index_of.get(node) for node in ids] for ids in groups]
    missing = [
        node
        for ids, indices in zip(groups, found, strict=True)
        for node, index in zip(ids, indices, strict=True)
        if index is None
    ]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise RoadNetworkError(f"{len(missing)} node id(s) are not in the graph: {shown}{more}")
    rows = np.asarray(found[0], dtype=np.intp).reshape(-1)
    cols = rows if targets is None else np.asarray(found[1], dtype=np.intp).reshape(-1)
    return rows, cols


def _as_list(node_ids: Sequence[Hashable] | np.ndarray) -> list[Hashable]:
    # tolist() turns numpy integers into the Python ints that graphs use as node ids.
    return node_ids.tolist() if isinstance(node_ids, np.ndarray) else list(node_ids)


# --------------------------------------------------------------------------------------------------
# CSR conversion, cached per graph object
# --------------------------------------------------------------------------------------------------


def _csr_of(graph: nx.Graph | SearchGraph, profile: str) -> SearchGraph:
    """The cached CSR form of ``graph`` for ``profile`` ("drive" or "walk"), built on first use."""
    if isinstance(graph, SearchGraph):
        return graph
    with _cache_lock:
        cached = _cache.get(graph, {}).get(profile)
    if cached is not None:
        return cached
    built = _build_drive(graph) if profile == "drive" else _build_walk(graph)
    with _cache_lock:
        _cache.setdefault(graph, {})[profile] = built
    return built


def _build_drive(graph: nx.Graph) -> SearchGraph:
    node_ids = tuple(graph.nodes)
    index_of = {node: i for i, node in enumerate(node_ids)}
    tail, head, time_s, length_m = _edge_arrays(graph, index_of, ("travel_time", "length"))
    if not graph.is_directed():
        tail, head = np.concatenate([tail, head]), np.concatenate([head, tail])
        time_s, length_m = np.tile(time_s, 2), np.tile(length_m, 2)
    n = len(node_ids)
    forward = _oriented(n, tail, head, time_s, length_m)
    backward = _oriented(n, head, tail, time_s, length_m)
    return SearchGraph(node_ids, index_of, forward, backward)


def _build_walk(graph: nx.Graph) -> SearchGraph:
    node_ids = tuple(graph.nodes)
    index_of = {node: i for i, node in enumerate(node_ids)}
    tail, head, length_m = _edge_arrays(graph, index_of, ("length",))
    # Walking ignores one-way tags: every edge counts both ways.
    both_tail, both_head = np.concatenate([tail, head]), np.concatenate([head, tail])
    both = _oriented(len(node_ids), both_tail, both_head, np.tile(length_m, 2), None)
    return SearchGraph(node_ids, index_of, both, both)


def _edge_arrays(
    graph: nx.Graph, index_of: dict[Hashable, int], attributes: tuple[str, ...]
) -> tuple[np.ndarray, ...]:
    """Tail and head indices and the named float attributes of every edge, validated."""
    n_edges = graph.number_of_edges()
    tail = np.empty(n_edges, dtype=np.int64)
    head = np.empty(n_edges, dtype=np.int64)
    values = np.empty((len(attributes), n_edges), dtype=np.float64)
    bad: list[tuple[Hashable, Hashable, str, object]] = []
    for e, (u, v, data) in enumerate(graph.edges(data=True)):
        tail[e] = index_of[u]
        head[e] = index_of[v]
        for a, name in enumerate(attributes):
            raw = data.get(name)
            try:
                value = float(raw)
            except (TypeError, ValueError):
                value = np.nan
            if not value >= 0 or value == np.inf:
                bad.append((u, v, name, raw))
            values[a, e] = value
    if bad:
        shown = "; ".join(f"edge {u!r}->{v!r} {name}={raw!r}" for u, v, name, raw in bad[:5])
        raise RoadNetworkError(
            f"{len(bad)} edge attribute(s) are missing or not finite non-negative numbers "
            f"(expected {' and '.join(attributes)}): {shown}"
        )
    return (tail, head, *values)


def _oriented(
    n: int, tail: np.ndarray, head: np.ndarray, cost: np.ndarray, length_m: np.ndarray | None
) -> _Oriented:
    """CSR of the cheapest edge per ordered node pair (the shorter one on a cost tie)."""
    # lexsort's last key is primary: group by (tail, head), cheapest then shortest first.
    keys = (cost,) if length_m is None else (length_m, cost)
    order = np.lexsort((*keys, head, tail))
    tail, head, cost = tail[order], head[order], cost[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    tail, head, cost = tail[first], head[first], cost[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
    # Built from (data, indices, indptr) so that zero-cost edges stay explicit: scipy's Dijkstra
    # treats an explicit zero as an edge, whereas building from triplets could drop it.
    weights = sp.csr_array((cost, head.astype(np.int32), indptr), shape=(n, n))
    if length_m is None:
        return _Oriented(weights, None, None, None)
    length_m = length_m[order][first]
    # Node j's possible predecessors, padded to the largest in-degree.
    by_head = np.argsort(head, kind="stable")
    in_degree = np.bincount(head, minlength=n)
    width = int(in_degree.max(initial=0))
    slot = np.arange(len(by_head)) - np.repeat(np.cumsum(in_degree) - in_degree, in_degree)
    pred_nbr = np.full((n, width), -1, dtype=np.int32)
    pred_cost = np.full((n, width), np.inf, dtype=np.float64)
    pred_len_m = np.zeros((n, width), dtype=np.float64)
    pred_nbr[head[by_head], slot] = tail[by_head]
    pred_cost[head[by_head], slot] = cost[by_head]
    pred_len_m[head[by_head], slot] = length_m[by_head]
    return _Oriented(weights, pred_nbr, pred_cost, pred_len_m)
