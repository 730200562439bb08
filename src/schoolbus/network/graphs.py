"""Road graphs for school buses: the drive, loaded-bus and walk graphs of one road source.

:func:`load_network` reads a source (:mod:`schoolbus.network.sources`) into ways, applies the tag
rules (:mod:`schoolbus.network.tags`) and builds the graphs, or reads them back from the cache
(:mod:`schoolbus.network.cache`):

1. **ways**: node ids, node coordinates ``(lon, lat)`` and OSM-style tags, whatever the format.
2. **pieces**: each way is split where it meets another way or ends (like osmnx's simplification),
   keeping its geometry; pieces longer than ``max_edge_m`` are cut into equal parts at interpolated
   nodes, so stops can sit along long roads. This happens once, before the three graphs are built,
   so the graphs share node ids.
3. **graphs**: ``drive`` (drivable classes, one-way rules, largest strongly connected component),
   ``loaded`` (``drive`` minus the policy's forbidden classes, largest SCC again) and ``walk``
   (walkable ways, undirected, holding every ``loaded`` node).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from shapely.geometry import LineString

from schoolbus.errors import RoadNetworkError
from schoolbus.network.cache import cache_key, default_cache_dir, read_cache, write_cache
from schoolbus.network.sources import (
    RoadColumns,
    Ways,
    download_ways,
    landmarks_from_osm_file,
    read_graphml,
    resolve_source,
    ways_from_osm_file,
    ways_from_road_layer,
)
from schoolbus.network.tags import (
    DEFAULT_SPEED_KPH,
    as_list,
    bus_speed_kph,
    drive_direction,
    first_tag,
    is_drivable,
    is_walkable,
    parse_maxspeed_kph,
    street_name,
    tag_str,
)

__all__ = [
    "DEFAULT_MAX_EDGE_M",
    "EARTH_RADIUS_M",
    "NetworkReport",
    "RoadNetwork",
    "largest_scc",
    "load_network",
]

EARTH_RADIUS_M = 6_371_009.0
"""Mean earth radius, metres; the one osmnx uses, so our edge lengths agree with osmnx's."""

DEFAULT_MAX_EDGE_M = 250.0
"""Edges longer than this are cut at interpolated nodes so a stop can be placed along them."""


@dataclass(frozen=True)
class NetworkReport:
    """What was read and what was kept when a road network was built.

    Attributes
    ----------
    source : str
        ``kind:name``, e.g. ``osm:Helsinki.osm.pbf``, ``roads:etlik.geojson``, ``place:Kilis``.
    n_nodes, n_edges : int
        Size of ``drive`` (the largest strongly connected component).
    road_km : float
        Centreline length of ``drive``, km (a two-way street counts once).
    n_nodes_read : int
        Drivable nodes before the largest SCC was taken (junctions, way ends and interpolated
        nodes; not every OSM vertex). ``n_nodes_cut = n_nodes_read - n_nodes`` and
        ``share_kept = n_nodes / n_nodes_read``.
    n_edges_read : int
        Drivable directed edges before the cut.
    road_km_read : float
        Centreline length of the drivable roads before the cut, km (``road_km / road_km_read`` is
        the share of road length kept, which unlike the node share does not depend on how many
        junctions a stretch has).
    n_ways_read : int
        Ways (or line features) with a ``highway`` value that were read.
    n_refs_missing : int
        Node references of the ways used that have no coordinates (a clipped extract); the ways
        are split there rather than drawn straight across the gap.
    n_nodes_interpolated : int
        Nodes added to cut edges longer than ``max_edge_m`` (all graphs, before any cut).
    n_loaded_nodes, n_loaded_edges : int
        Size of ``loaded``; ``loaded_road_km`` its centreline length, km.
    n_walk_nodes, n_walk_edges : int
        Size of ``walk``; ``n_walk_isolated`` counts ``loaded`` nodes no walkable way reaches
        (e.g. a road tagged ``foot=no``): they are in ``walk`` without edges.
    forbidden_road_classes : tuple of str
        Classes removed for ``loaded``.
    max_edge_m : float
        Longest edge allowed before subdivision, metres.
    cache_path : str
        The cache file this network was read from or written to ('' if it could not be written).
    is_from_cache : bool
        Whether this network was read back from the cache.
    """

    source: str
    n_nodes: int
    n_edges: int
    road_km: float
    n_nodes_read: int
    share_kept: float
    n_nodes_cut: int
    n_edges_read: int = 0
    road_km_read: float = 0.0
    n_ways_read: int = 0
    n_refs_missing: int = 0
    n_nodes_interpolated: int = 0
    n_loaded_nodes: int = 0
    n_loaded_edges: int = 0
    loaded_road_km: float = 0.0
    n_walk_nodes: int = 0
    n_walk_edges: int = 0
    n_walk_isolated: int = 0
    forbidden_road_classes: tuple[str, ...] = ()
    max_edge_m: float = DEFAULT_MAX_EDGE_M
    cache_path: str = ""
    is_from_cache: bool = False


@dataclass(frozen=True)
class RoadNetwork:
    """The three road graphs of a place.

    Attributes
    ----------
    name : str
        Human label (file stem, place name or bounding box).
    drive : networkx.MultiDiGraph
        All drivable roads, largest strongly connected component. Node attributes ``x`` (lon) and
        ``y`` (lat), EPSG:4326. Edge attributes ``length`` (m), ``speed_kph``, ``travel_time`` (s),
        ``highway``, ``name`` ('' if none), ``oneway``, ``osmid`` (way id) and, when the road
        bends, ``geometry`` (shapely ``LineString`` in lon/lat from the edge's tail to its head;
        without it the edge is straight).
    loaded : networkx.MultiDiGraph
        A bus with children aboard: ``drive`` minus the forbidden classes, largest SCC again; the
        very ``drive`` object when the roads carry no forbidden class (never mutate either: copy).
    walk : networkx.MultiGraph
        Walkable ways (footways, paths and steps too, never motorways), undirected; edge attributes
        ``length`` (m), ``highway``, ``name``, ``osmid``, optional ``geometry``. Every node of
        ``loaded`` is a node of ``walk``; walk components that reach no ``loaded`` node are dropped
        (a pupil there could not walk to any stop).
    report : NetworkReport
        What was read and what was cut.
    cut_drive_points : tuple of (lon, lat)
        Points (nodes and bends) of the drivable roads cut off with the largest strongly connected
        component: a home next to one of them is near a road that the district's network does not
        reach (the edge of an extract or a gap in the map), which the reasons say.
    places : tuple of (name, (lon, lat))
        Named landmarks of an OSM file (shops, mosques, pharmacies, parks…; see
        ``LANDMARK_KEYS``) that stops may be named after ("outside Migros"); empty for road
        layers, GraphML files and downloads.
    """

    name: str
    drive: nx.MultiDiGraph
    loaded: nx.MultiDiGraph
    walk: nx.MultiGraph
    report: NetworkReport
    cut_drive_points: tuple[tuple[float, float], ...] = ()
    places: tuple[tuple[str, tuple[float, float]], ...] = ()


def load_network(
    *,
    osm: str | Path | None = None,
    roads: str | Path | None = None,
    place: str | None = None,
    bbox: Sequence[float] | None = None,
    graphml: str | Path | None = None,
    forbidden_road_classes: Sequence[str] = ("motorway", "motorway_link"),
    cache_dir: str | Path | None = None,
    max_edge_m: float = DEFAULT_MAX_EDGE_M,
    road_columns: RoadColumns | None = None,
) -> RoadNetwork:
    """Build (or read back from the cache) the drive, loaded and walk graphs of one source.

    Parameters
    ----------
    osm : path, optional
        An OpenStreetMap file: ``.osm.pbf``, ``.osm``, ``.osm.bz2`` or ``.osm.gz``.
    roads : path, optional
        A road line layer (GeoJSON, GeoPackage, Shapefile, FlatGeobuf) of LineStrings or
        MultiLineStrings; topology comes from shared vertex coordinates. See ``road_columns``.
    place : str, optional
        A place name geocoded by Nominatim; its roads are downloaded from Overpass.
    bbox : (west, south, east, north), optional
        A bounding box in degrees whose roads are downloaded from Overpass.
    graphml : path, optional
        A GraphML road graph as written by osmnx.
    forbidden_road_classes : sequence of str
        ``highway`` classes a bus with children aboard must not use (the ``loaded`` graph).
    cache_dir : path, optional
        Where built networks (and osmnx's HTTP responses) are cached; default
        :func:`default_cache_dir`.
    max_edge_m : float
        Edges longer than this many metres are cut into equal parts at interpolated nodes.
    road_columns : RoadColumns, optional
        Column names of the ``roads`` layer (default ``highway``, ``oneway``, ``maxspeed``,
        ``name``, ``osm_id``).

    Returns
    -------
    RoadNetwork
        The three graphs and the report of what was read and kept.

    Raises
    ------
    RoadNetworkError
        Not exactly one source; a missing file or unknown extension; an unreadable file or a failed
        download; no drivable roads; nothing left for a loaded bus after the forbidden classes.
    """
    source = resolve_source(osm=osm, roads=roads, place=place, bbox=bbox, graphml=graphml)
    if not max_edge_m > 0:
        raise RoadNetworkError(f"max_edge_m must be positive metres, got {max_edge_m!r}")
    columns = road_columns or RoadColumns()
    cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    options = {
        "forbidden": sorted(forbidden_road_classes),
        "max_edge_m": float(max_edge_m),
        "columns": dataclasses.asdict(columns) if source.kind == "roads" else None,
    }
    cache_path = cache_root / f"network-{cache_key(source.key, options)}.json.gz"
    cached = _network_from_cache(cache_path)
    if cached is not None:
        report = dataclasses.replace(cached.report, cache_path=str(cache_path), is_from_cache=True)
        return dataclasses.replace(cached, report=report)

    n_missing = 0
    if source.kind == "graphml":
        graph, node_xy = read_graphml(source.path)
        pieces = _pieces_from_graph(graph)
        n_ways_read = len({p.way_id for p in pieces})
    else:
        if source.kind == "osm":
            ways = ways_from_osm_file(source.path)
        elif source.kind == "roads":
            ways = ways_from_road_layer(source.path, columns)
        else:
            ways = download_ways(place=place, bbox=source.bbox, cache_dir=cache_root)
        pieces, n_missing = _pieces_from_ways(ways)
        node_xy, n_ways_read = dict(ways.coords), ways.n_ways_read
    if not any(p.direction for p in pieces):
        raise RoadNetworkError(
            f"no drivable roads in {source.label}: {n_ways_read} highway way(s) read, none of a "
            f"drivable class ({', '.join(DEFAULT_SPEED_KPH)}) open to motor vehicles"
        )
    pieces, n_interpolated = _subdivide(pieces, node_xy, float(max_edge_m))
    drive_all, drive, loaded, walk, n_isolated = _graphs_from_pieces(
        pieces, node_xy, forbidden_road_classes
    )
    if loaded.number_of_nodes() < 2:
        raise RoadNetworkError(
            f"no roads left for a bus with children in {source.label} after removing the "
            f"forbidden classes ({', '.join(forbidden_road_classes) or 'none'}): the drive graph "
            f"has {drive.number_of_nodes()} node(s), the loaded graph {loaded.number_of_nodes()}"
        )
    report = NetworkReport(
        source=source.label,
        n_nodes=drive.number_of_nodes(),
        n_edges=drive.number_of_edges(),
        road_km=_centreline_km(drive),
        n_nodes_read=drive_all.number_of_nodes(),
        share_kept=drive.number_of_nodes() / drive_all.number_of_nodes(),
        n_nodes_cut=drive_all.number_of_nodes() - drive.number_of_nodes(),
        n_edges_read=drive_all.number_of_edges(),
        road_km_read=_centreline_km(drive_all),
        n_ways_read=n_ways_read,
        n_refs_missing=n_missing,
        n_nodes_interpolated=n_interpolated,
        n_loaded_nodes=loaded.number_of_nodes(),
        n_loaded_edges=loaded.number_of_edges(),
        loaded_road_km=_centreline_km(loaded),
        n_walk_nodes=walk.number_of_nodes(),
        n_walk_edges=walk.number_of_edges(),
        n_walk_isolated=n_isolated,
        forbidden_road_classes=tuple(forbidden_road_classes),
        max_edge_m=float(max_edge_m),
    )
    network = RoadNetwork(
        name=source.name,
        drive=drive,
        loaded=loaded,
        walk=walk,
        report=report,
        cut_drive_points=_cut_points(drive_all, drive),
        places=landmarks_from_osm_file(source.path) if source.kind == "osm" else (),
    )
    values = {
        "name": network.name,
        "report": dataclasses.asdict(report),
        "cut_drive_points": network.cut_drive_points,
        "places": network.places,
    }
    if write_cache(cache_path, values, {"drive": drive, "loaded": loaded, "walk": walk}):
        report = dataclasses.replace(report, cache_path=str(cache_path))
        network = dataclasses.replace(network, report=report)
    return network


def _network_from_cache(path: Path) -> RoadNetwork | None:
    """The network a cache file holds, or ``None`` (missing, another format, damaged)."""
    document = read_cache(path)
    if document is None:
        return None
    try:
        report: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in document["report"].items()}
        return RoadNetwork(
            name=document["name"],
            drive=document["drive"],
            loaded=document["loaded"],
            walk=document["walk"],
            report=NetworkReport(**report),
            cut_drive_points=tuple((float(x), float(y)) for x, y in document["cut_drive_points"]),
            places=tuple((str(name), (float(x), float(y))) for name, (x, y) in document["places"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------------
# Ways → pieces → subdivided pieces
# --------------------------------------------------------------------------------------------------


@dataclass
class _Piece:
    """A stretch of one way between two graph nodes, with its shape and rules."""

    u: int
    v: int
    coords: list[tuple[float, float]]
    way_id: int
    highway: str
    name: str
    maxspeed: str
    direction: int  # 0 walk only, 1 drivable u→v only, 2 drivable both ways
    is_walkable: bool


def _pieces_from_ways(source: Ways) -> tuple[list[_Piece], int]:
    """Split ways at junctions and ends; returns the pieces and the count of missing refs."""
    selected = []
    n_missing = 0
    for way_id, refs, tags in source.ways:
        direction, walkable = drive_direction(tags), is_walkable(tags)
        if direction == 0 and not walkable:
            continue
        if direction == -1:
            refs, direction = refs[::-1], 1
        run: list[int] = []
        for ref in (*refs, None):
            if ref is not None and ref in source.coords:
                if not run or run[-1] != ref:
                    run.append(ref)
                continue
            n_missing += ref is not None
            # a clipped extract lacks some nodes: split there rather than draw a chord across
            if len(run) >= 2:
                selected.append((way_id, run, tags, direction, walkable))
            run = []
    uses: Counter[int] = Counter()
    ends: set[int] = set()
    for _, run, _, _, _ in selected:
        uses.update(run)
        ends.update((run[0], run[-1]))
    pieces = []
    for way_id, run, tags, direction, walkable in selected:
        start = 0
        for i in range(1, len(run)):
            if i == len(run) - 1 or run[i] in ends or uses[run[i]] > 1:
                pieces.append(
                    _Piece(
                        u=run[start],
                        v=run[i],
                        coords=[source.coords[n] for n in run[start : i + 1]],
                        way_id=way_id,
                        highway=tags.get("highway", ""),
                        name=street_name(tags),
                        maxspeed=tags.get("maxspeed", ""),
                        direction=direction,
                        is_walkable=walkable,
                    )
                )
                start = i
    return pieces, n_missing


def _haversine_m(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Great-circle lengths of the segments of a polyline, metres."""
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    dlat, dlon = np.diff(lat_r), np.diff(lon_r)
    a = np.sin(dlat / 2) ** 2 + np.cos(lat_r[:-1]) * np.cos(lat_r[1:]) * np.sin(dlon / 2) ** 2
    lengths_m: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return lengths_m


def _polyline_length_m(coords: Sequence[tuple[float, float]]) -> float:
    array = np.asarray(coords, dtype=float)
    return float(_haversine_m(array[:, 0], array[:, 1]).sum())


def _subdivide(
    pieces: list[_Piece], node_xy: dict[int, tuple[float, float]], max_edge_m: float
) -> tuple[list[_Piece], int]:
    """Cut pieces longer than ``max_edge_m`` into equal parts; new node ids follow the largest.

    Returns the new piece list and how many nodes were added (their coordinates go into
    ``node_xy``). Both directions of a two-way street share the same cut, hence the same nodes.
    """
    next_id = max(node_xy) + 1 if node_xy else 0
    result: list[_Piece] = []
    n_added = 0
    for piece in pieces:
        array = np.asarray(piece.coords, dtype=float)
        steps = _haversine_m(array[:, 0], array[:, 1])
        total = float(steps.sum())
        n_parts = math.ceil(total / max_edge_m - 1e-9) if total > 0 else 1
        if n_parts <= 1:
            result.append(piece)
            continue
        along = np.concatenate(([0.0], np.cumsum(steps)))
        cut_nodes = [piece.u]
        cut_points = [piece.coords[0]]
        for k in range(1, n_parts):
            target = total * k / n_parts
            i = int(np.searchsorted(along, target, side="right")) - 1
            i = min(i, len(steps) - 1)
            t = (target - along[i]) / steps[i] if steps[i] > 0 else 0.0
            point = tuple(float(c) for c in array[i] + t * (array[i + 1] - array[i]))
            node_xy[next_id] = point  # type: ignore[assignment]
            cut_nodes.append(next_id)
            cut_points.append(point)  # type: ignore[arg-type]
            next_id += 1
            n_added += 1
        cut_nodes.append(piece.v)
        cut_points.append(piece.coords[-1])
        targets = [total * k / n_parts for k in range(n_parts + 1)]
        for k in range(n_parts):
            inner = [
                piece.coords[j]
                for j in range(1, len(piece.coords) - 1)
                if targets[k] < along[j] < targets[k + 1]
            ]
            result.append(
                dataclasses.replace(
                    piece,
                    u=cut_nodes[k],
                    v=cut_nodes[k + 1],
                    coords=[cut_points[k], *inner, cut_points[k + 1]],
                )
            )
    return result, n_added


# --------------------------------------------------------------------------------------------------
# Pieces → graphs
# --------------------------------------------------------------------------------------------------


def _edge_attrs(piece: _Piece, coords: list[tuple[float, float]]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "osmid": piece.way_id,
        "highway": piece.highway,
        "name": piece.name,
        "length": _polyline_length_m(coords),
    }
    if len(coords) > 2:
        attrs["geometry"] = LineString(coords)
    return attrs


def largest_scc(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy of the largest strongly connected component (of equal ones, the one holding the
    smallest node id), where a bus can reach every node from every other."""
    if graph.number_of_nodes() == 0:
        return graph.copy()
    largest = max(nx.strongly_connected_components(graph), key=lambda c: (len(c), -min(c)))
    return graph.subgraph(largest).copy()


def _centreline_km(graph: nx.MultiDiGraph) -> float:
    """Road length counting a two-way street once (both its directions are in the graph)."""
    total: float = sum(d["length"] * (1.0 if d["oneway"] else 0.5) for _, _, d in graph.edges(data=True))
    return total / 1000.0


def _graphs_from_pieces(
    pieces: list[_Piece],
    node_xy: dict[int, tuple[float, float]],
    forbidden_road_classes: Sequence[str],
) -> tuple[nx.MultiDiGraph, nx.MultiDiGraph, nx.MultiDiGraph, nx.MultiGraph, int]:
    """Build drive (before and after the SCC cut), loaded and walk graphs from shared pieces."""
    graph_attrs = {"crs": "EPSG:4326"}
    drive_all = nx.MultiDiGraph(**graph_attrs)
    walk_all = nx.MultiGraph(**graph_attrs)
    for piece in pieces:
        if piece.direction:
            speed_kph = bus_speed_kph(piece.highway, piece.maxspeed)
            ways = [(piece.u, piece.v, piece.coords)]
            if piece.direction == 2:
                ways.append((piece.v, piece.u, piece.coords[::-1]))
            for u, v, coords in ways:
                attrs = _edge_attrs(piece, coords)
                attrs["speed_kph"] = speed_kph
                attrs["travel_time"] = attrs["length"] / (speed_kph / 3.6)
                attrs["oneway"] = piece.direction == 1
                if piece.maxspeed:
                    attrs["maxspeed"] = piece.maxspeed
                for node in (u, v):
                    if node not in drive_all:
                        drive_all.add_node(node, x=node_xy[node][0], y=node_xy[node][1])
                drive_all.add_edge(u, v, **attrs)
        if piece.is_walkable:
            for node in (piece.u, piece.v):
                if node not in walk_all:
                    walk_all.add_node(node, x=node_xy[node][0], y=node_xy[node][1])
            walk_all.add_edge(piece.u, piece.v, **_edge_attrs(piece, piece.coords))

    drive = largest_scc(drive_all)
    forbidden = set(forbidden_road_classes)
    cut = [(u, v, k) for u, v, k, h in drive.edges(keys=True, data="highway") if h in forbidden]
    if cut:
        allowed = drive.copy()
        allowed.remove_edges_from(cut)
        loaded = largest_scc(allowed)
    else:
        loaded = drive  # no forbidden road here: one graph serves both (a copy doubled the memory)

    reaching = [c for c in nx.connected_components(walk_all) if any(n in loaded for n in c)]
    walk = walk_all.subgraph(set().union(*reaching)).copy() if reaching else nx.MultiGraph()
    walk.graph.update(graph_attrs)
    isolated = [n for n in loaded if n not in walk]
    for node in isolated:
        walk.add_node(node, x=node_xy[node][0], y=node_xy[node][1])
    return drive_all, drive, loaded, walk, len(isolated)


def _cut_points(drive_all: nx.MultiDiGraph, drive: nx.MultiDiGraph) -> tuple[tuple[float, float], ...]:
    """Nodes and bends of the drivable edges that are not in ``drive``, (lon, lat), in a fixed order."""
    points: set[tuple[float, float]] = set()
    for u, v, geometry in drive_all.edges(data="geometry"):
        if u in drive and v in drive:
            continue
        for node in (u, v):
            points.add((float(drive_all.nodes[node]["x"]), float(drive_all.nodes[node]["y"])))
        if geometry is not None:
            points.update((float(x), float(y)) for x, y in geometry.coords)
    return tuple(sorted(points))


def _pieces_from_graph(graph: nx.MultiDiGraph) -> list[_Piece]:
    """Pieces from an existing (e.g. osmnx GraphML) graph: a reverse twin makes a two-way piece.

    The graph's direction is taken as it is: a graph saved with every edge in both directions
    (an osmnx ``walk`` graph) loses its one-way streets.
    """
    groups: dict[tuple[Any, ...], list[tuple[int, int, dict[str, Any]]]] = {}
    for u, v, _, data in sorted(graph.edges(keys=True, data=True), key=lambda e: e[:3]):
        if data.get("geometry") is not None:
            coords = [(float(x), float(y)) for x, y, *_ in data["geometry"].coords]
        else:
            coords = [(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in (u, v)]
        data = {**data, "_coords": coords}
        length_dm = round(_polyline_length_m(coords), 1)
        twin_key = (min(u, v), max(u, v), str(data.get("osmid")), length_dm)
        groups.setdefault(twin_key, []).append((u, v, data))
    pieces = []
    for edges in groups.values():
        u, v, data = edges[0]
        tags = {
            key: first_tag(data.get(key), rank=(key == "highway"))
            for key in ("highway", "name", "ref", "access", "area", "foot", "service")
        }
        tags = {k: t for k, t in tags.items() if t}
        speeds = [(kph, s) for s in as_list(data.get("maxspeed")) if (kph := parse_maxspeed_kph(s)) is not None]
        maxspeed = min(speeds, key=lambda speed: speed[0])[1] if speeds else ""
        is_two_way = any((a, b) == (v, u) for a, b, _ in edges)
        drivable = is_drivable(tags)
        for a, b, d in edges if drivable and not is_two_way else edges[:1]:
            pieces.append(
                _Piece(
                    u=int(a),
                    v=int(b),
                    coords=d["_coords"],
                    way_id=_int_or(first_tag(d.get("osmid")), -1),
                    highway=tags.get("highway", ""),
                    name=street_name(tags),
                    maxspeed=tag_str(maxspeed),
                    direction=(2 if is_two_way else 1) if drivable else 0,
                    is_walkable=is_walkable(tags) and (a, b) == (u, v),
                )
            )
    return pieces



def _int_or(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default
