"""The disk cache of built road networks: gzipped JSON, never a pickle.

A cache file someone else wrote cannot run code. Files are keyed by a hash of the source (its
bytes, or the online query) and the build options, so a plan re-run does not rebuild the graphs;
graphs are written with their nodes, edges and adjacency *in order*, so a network read back gives
the same plan as a fresh one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx
from shapely.geometry import LineString

__all__ = ["CACHE_FORMAT", "cache_key", "default_cache_dir", "read_cache", "write_cache"]

CACHE_FORMAT = 6
"""Bump when the cached network changes shape, so old cache files are not read back
(2: gzipped JSON instead of a pickle; 3 and 4: cut-off drive points and named places in the
network; 5: those two written to the cache too, so a network read back equals the one built;
6: a graph held under two names, ``loaded`` being ``drive``, stored once)."""

CACHE_GZIP_LEVEL = 1
"""Fast compression: the cache is written once per network and read on every plan."""

GRAPH_NAMES = ("drive", "loaded", "walk")
"""The graphs a cached network holds."""


def default_cache_dir() -> Path:
    """``$SCHOOLBUS_CACHE_DIR`` if set, else ``~/.cache/schoolbus``."""
    env = os.environ.get("SCHOOLBUS_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "schoolbus"


def cache_key(source: dict[str, Any], options: dict[str, Any]) -> str:
    text = json.dumps({"format": CACHE_FORMAT, **source, **options}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


_LINESTRING = "__linestring__"
"""How an edge's shapely ``geometry`` is written: ``{"__linestring__": [[lon, lat], ...]}``."""
_PLAIN_TYPES = (bool, int, float, str, type(None))


def _attrs_to_json(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, LineString):
            out[key] = {_LINESTRING: [list(c) for c in value.coords]}
        elif isinstance(value, _PLAIN_TYPES):
            out[key] = value
        else:
            raise TypeError(f"attribute {key!r} of type {type(value).__name__} has no cache form")
    return out


def _attrs_from_json(attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        key: LineString(value[_LINESTRING]) if isinstance(value, dict) and _LINESTRING in value else value
        for key, value in attrs.items()
    }


def _graph_to_json(graph: nx.MultiGraph | nx.MultiDiGraph) -> dict[str, Any]:
    """Nodes, edges and adjacency *in their order* (algorithms break ties by it: a cached network
    must give the same plan as a fresh one)."""
    edges: list[dict[str, Any]] = []
    succ = []
    for neighbours in graph.adj.values():
        row = []
        for v, keyed in neighbours.items():
            for k, data in keyed.items():
                row.append([v, k, len(edges)])
                edges.append(_attrs_to_json(data))
        succ.append(row)
    document: dict[str, Any] = {
        "directed": graph.is_directed(),
        "graph": dict(graph.graph),
        "nodes": [[n, _attrs_to_json(d)] for n, d in graph.nodes(data=True)],
        "succ": succ,
        "edges": edges,
    }
    if graph.is_directed():
        document["pred"] = [[u for u in graph.pred[v]] for v in graph]
    return document


def _graph_from_json(document: dict[str, Any]) -> nx.MultiGraph | nx.MultiDiGraph:
    directed = document["directed"]
    graph = nx.MultiDiGraph() if directed else nx.MultiGraph()
    graph.graph.update(document["graph"])
    nodes = [n for n, _ in document["nodes"]]
    for n, attrs in document["nodes"]:
        graph.add_node(n, **attrs)
    edges = [_attrs_from_json(e) for e in document["edges"]]
    # networkx shares one key dict between both ends of an edge; rebuilding the adjacency dicts in
    # the recorded order is the only way to get the same iteration order back.
    adjacency = graph._succ if directed else graph._adj
    keyed: dict[tuple[Any, Any] | frozenset[Any], dict[Any, Any]] = {}
    for u, row in zip(nodes, document["succ"]):
        for v, k, index in row:
            pair = (u, v) if directed else frozenset((u, v))
            keydict = keyed.get(pair)
            if keydict is None:
                keydict = keyed[pair] = graph.edge_key_dict_factory()
            keydict[k] = edges[index]
            adjacency[u][v] = keydict
    if directed:
        for v, row in zip(nodes, document["pred"]):
            for u in row:
                graph._pred[v][u] = keyed[(u, v)]
    return graph


def read_cache(path: Path) -> dict[str, Any] | None:
    """The document a cache file holds, its graphs rebuilt; ``None`` if missing, of another
    format or damaged.

    The document holds the plain values it was written with (tuples come back as lists) and one
    graph per name of ``GRAPH_NAMES``; a graph held under two names is stored once (the later name
    holds the earlier one) and comes back as one object.
    """
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            document = json.load(handle)
        if document.get("format") != CACHE_FORMAT:
            return None
        graphs: dict[str, nx.MultiGraph | nx.MultiDiGraph] = {}
        for name in GRAPH_NAMES:
            stored = document[name]
            # a name for an earlier graph: the network held one graph object under both names
            graphs[name] = graphs[stored] if isinstance(stored, str) else _graph_from_json(stored)
    except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError):
        return None
    return {**document, **graphs}


def write_cache(
    path: Path, values: Mapping[str, Any], graphs: Mapping[str, nx.MultiGraph | nx.MultiDiGraph]
) -> bool:
    """Write ``values`` (JSON-able) and ``graphs`` atomically (a crash leaves no half file); False
    if the folder is not writable or an edge attribute has no JSON form."""
    try:
        document = {
            "format": CACHE_FORMAT,
            **values,
        }
        for i, key in enumerate(GRAPH_NAMES):
            same = next((earlier for earlier in GRAPH_NAMES[:i] if graphs[earlier] is graphs[key]), None)
            document[key] = same if same is not None else _graph_to_json(graphs[key])
    except TypeError:
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        with gzip.open(partial, "wt", encoding="utf-8", compresslevel=CACHE_GZIP_LEVEL) as handle:
            json.dump(document, handle, separators=(",", ":"))
        os.replace(partial, path)
    except OSError:
        return False
    return True
