"""Hazards: roads pupils must not cross on foot, roads and areas buses must avoid.

Input is GeoJSON (a FeatureCollection, ``[lon, lat]``): each feature is a ``LineString`` or
``MultiLineString`` (a road), a ``Polygon`` or ``MultiPolygon`` (an area), or has no geometry and
lists OSM ways in ``properties.osm_way_ids``. ``properties.hazard`` says what it forbids:

* ``no_crossing`` (the default): pupils must not cross it on foot, nor walk along it. Every walk
  edge that touches it (within :data:`TOUCH_M`) is cut, so a walk can neither cross it between two
  junctions nor through a junction on it, and pupils reach stops on their own side.
* ``bus_avoid``: buses must not drive along it (every drive edge lying along the line within
  :data:`ALONG_M`, every edge of the named ways, every edge entering the area). Crossing it at a
  junction stays allowed for a line; an area is avoided whole.
* ``both``.

:func:`apply_hazards` returns new graphs; distances are measured in the UTM zone of the hazards
(an explicit projected CRS), never in degrees.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import networkx as nx
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Polygon
from shapely.ops import unary_union
from shapely.strtree import STRtree

from schoolbus.errors import InputError, Problem
from schoolbus.model import Hazard, HazardKind, Location
from schoolbus.network import RoadNetwork

TOUCH_M = 3.0
"""A walk edge this close to a no-crossing hazard touches it (junction nodes on the road too)."""

ALONG_M = 12.0
"""A drive edge whose every point is this close to a bus-avoid line runs along it."""

SEARCH_MARGIN_M = 300.0
"""Edges farther than this from every hazard are not examined (edges are at most 250 m long)."""

MAX_HAZARD_BYTES = 5_000_000
"""A hazards file larger than this is refused (a district's hazards are a few kilobytes)."""

MAX_HAZARDS = 2_000
"""At most this many hazard features in one file."""

KINDS = tuple(kind.value for kind in HazardKind)


# ---- reading ----------------------------------------------------------------------------------


def read_hazards(path: str | Path) -> tuple[Hazard, ...]:
    """Read and validate a hazards GeoJSON file.

    Raises
    ------
    InputError
        Naming every problem: file, feature number (from 1), property, value and what was expected.
    """
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InputError([Problem(file, None, None, None, f"a readable file ({error.strerror})")]) from None
    if len(data) > MAX_HAZARD_BYTES:
        raise InputError([Problem(file, None, None, f"{len(data):,} bytes", f"at most {MAX_HAZARD_BYTES:,} bytes")])
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError([Problem(file, None, None, None, "UTF-8 text")]) from None
    except json.JSONDecodeError as error:
        raise InputError([Problem(file, None, None, None, f"valid JSON ({error.msg} at line {error.lineno})")]) from None
    return hazards_from_geojson(document, file)


def hazards_from_geojson(document: Any, file: str = "hazards") -> tuple[Hazard, ...]:
    """Validate a parsed GeoJSON FeatureCollection of hazards (see the module docstring)."""
    problems: list[Problem] = []
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or document.get("type") != "FeatureCollection":
        raise InputError([Problem(file, None, "type", _short(document), "a GeoJSON FeatureCollection")])
    if len(features) > MAX_HAZARDS:
        raise InputError([Problem(file, None, "features", len(features), f"at most {MAX_HAZARDS} features")])
    hazards: list[Hazard] = []
    seen: dict[str, int] = {}
    for number, feature in enumerate(features, start=1):
        hazard = _hazard_from_feature(file, number, feature, problems)
        if hazard is None:
            continue
        first = seen.setdefault(hazard.id, number)
        if first != number:
            problems.append(Problem(file, number, "id", hazard.id, f"a unique id (feature {first} has it too)"))
            continue
        hazards.append(hazard)
    if problems:
        raise InputError(problems, f"{len(problems)} problem(s) in the hazards file {file}")
    return tuple(hazards)


def _hazard_from_feature(file: str, number: int, feature: Any, problems: list[Problem]) -> Hazard | None:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append(Problem(file, number, None, _short(feature), "a GeoJSON Feature"))
        return None
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        problems.append(Problem(file, number, "properties", _short(properties), "an object"))
        return None
    n_before = len(problems)
    kind_text = properties.get("hazard", HazardKind.NO_CROSSING.value)
    if kind_text not in KINDS:
        problems.append(Problem(file, number, "hazard", _short(kind_text), f"one of {', '.join(KINDS)}"))
    hazard_id = properties.get("id", feature.get("id", f"H{number}"))
    if not isinstance(hazard_id, (str, int)) or isinstance(hazard_id, bool) or str(hazard_id).strip() == "":
        problems.append(Problem(file, number, "id", _short(hazard_id), "a text or number id"))
    name = properties.get("name", "")
    if not isinstance(name, str):
        problems.append(Problem(file, number, "name", _short(name), "text"))
    way_ids: list[int] = []
    raw_ways = properties.get("osm_way_ids", [])
    if not isinstance(raw_ways, list) or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in raw_ways):
        problems.append(Problem(file, number, "osm_way_ids", _short(raw_ways), "a list of OSM way ids (whole numbers)"))
    else:
        way_ids = list(raw_ways)
    lines: list[tuple[Location, ...]] = []
    polygons: list[tuple[Location, ...]] = []
    geometry = feature.get("geometry")
    if geometry is not None:
        _read_geometry(file, number, geometry, lines, polygons, problems)
    if len(problems) == n_before and not (lines or polygons or way_ids):
        problems.append(Problem(file, number, "geometry", None, "a line, a polygon or osm_way_ids"))
    if len(problems) != n_before:
        return None
    return Hazard(
        id=str(hazard_id).strip(),
        kind=HazardKind(kind_text),
        lines=tuple(lines),
        polygons=tuple(polygons),
        way_ids=tuple(way_ids),
        name=name.strip(),
    )


def _read_geometry(file, number, geometry, lines, polygons, problems) -> None:
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    expected = "a LineString, MultiLineString, Polygon or MultiPolygon geometry"
    parts: dict[str, list[Any]] = {
        "LineString": [("line", coordinates)],
        "MultiLineString": [("line", c) for c in coordinates] if isinstance(coordinates, list) else [],
        "Polygon": [("ring", coordinates[0])] if isinstance(coordinates, list) and coordinates else [],
        "MultiPolygon": [("ring", c[0]) for c in coordinates if isinstance(c, list) and c]
        if isinstance(coordinates, list)
        else [],
    }.get(kind, None)
    if not parts:
        problems.append(Problem(file, number, "geometry", _short(geometry), expected))
        return
    for part, points in parts:
        minimum = 2 if part == "line" else 4
        path = _points(points)
        if path is None or len(path) < minimum:
            what = "at least 2 [lon, lat] points" if part == "line" else "a closed ring of at least 4 [lon, lat] points"
            problems.append(Problem(file, number, "coordinates", _short(points), what))
            continue
        (lines if part == "line" else polygons).append(path)


def _points(points: Any) -> tuple[Location, ...] | None:
    if not isinstance(points, list):
        return None
    out = []
    for p in points:
        if not (isinstance(p, list) and len(p) in (2, 3) and all(_is_number(c) for c in p)):
            return None
        lon, lat = float(p[0]), float(p[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return None
        out.append((lon, lat))
    return tuple(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _short(value: Any, limit: int = 60) -> Any:
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'list'}"
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hazards_to_geojson(hazards: Sequence[Hazard]) -> dict[str, Any]:
    """A FeatureCollection of ``hazards`` (the reading format; ways without geometry stay way ids)."""
    features = []
    for hazard in hazards:
        geometries = [{"type": "LineString", "coordinates": [list(p) for p in line]} for line in hazard.lines]
        geometries += [{"type": "Polygon", "coordinates": [[list(p) for p in ring]]} for ring in hazard.polygons]
        geometry: dict[str, Any] | None
        if not geometries:
            geometry = None
        elif len(geometries) == 1:
            geometry = geometries[0]
        else:
            geometry = {"type": "GeometryCollection", "geometries": geometries}
        properties: dict[str, Any] = {"id": hazard.id, "hazard": hazard.kind.value, "name": hazard.name}
        if hazard.way_ids:
            properties["osm_way_ids"] = list(hazard.way_ids)
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return {"type": "FeatureCollection", "features": features}


# ---- applying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HazardCut:
    """How many edges the hazards took out of each graph (walk edges undirected)."""

    n_walk_edges: int
    n_drive_edges: int
    n_loaded_edges: int


def apply_hazards(network: RoadNetwork, hazards: Sequence[Hazard]) -> tuple[RoadNetwork, HazardCut]:
    """The road graphs with ``hazards`` honoured, and what was cut.

    Walk edges touching a no-crossing hazard go (its junctions with them, so no walk crosses
    it anywhere); drive and loaded edges along a bus-avoid line, on a named way or entering a
    bus-avoid area go, and each bus graph is cut back to its largest strongly connected component.
    Every ``loaded`` node stays a ``walk`` node (an isolated one if all its walk edges went).
    """
    if not hazards:
        return network, HazardCut(0, 0, 0)
    to_m = _projection(hazards)
    walk_shapes = _shapes([h for h in hazards if h.is_for_walk], to_m, buffer_m=TOUCH_M, areas_whole=True)
    walk_ways = {w for h in hazards if h.is_for_walk for w in h.way_ids}
    bus_hazards = [h for h in hazards if h.is_for_bus]
    bus_lines = _shapes([replace(h, polygons=()) for h in bus_hazards], to_m, buffer_m=ALONG_M, areas_whole=False)
    bus_areas = _shapes([replace(h, lines=()) for h in bus_hazards], to_m, buffer_m=0.0, areas_whole=True)
    bus_ways = {w for h in bus_hazards for w in h.way_ids}

    walk = network.walk
    cut_walk = _edges_hit(walk, walk_shapes, to_m, touches=True)
    if walk_ways:
        on_ways = {n for u, v, way in walk.edges(data="osmid") if _on_ways(way, walk_ways) for n in (u, v)}
        cut_walk |= {(u, v, k) for u, v, k in walk.edges(keys=True) if u in on_ways or v in on_ways}
    new_walk = walk.copy()
    new_walk.remove_edges_from(cut_walk)

    def bus_cut(graph: nx.MultiDiGraph) -> set[tuple[int, int, int]]:
        hit = _edges_hit(graph, bus_lines, to_m, touches=False) | _edges_hit(graph, bus_areas, to_m, touches=True)
        hit |= {(u, v, k) for u, v, k, way in graph.edges(keys=True, data="osmid") if _on_ways(way, bus_ways)}
        return hit

    shared = network.loaded is network.drive  # one graph for both profiles: cut it once
    cut_drive = bus_cut(network.drive)
    cut_loaded = cut_drive if shared else bus_cut(network.loaded)
    drive = network.drive
    loaded = network.loaded
    if cut_drive:
        drive = network.drive.copy()
        drive.remove_edges_from(cut_drive)
        drive = _largest_scc(drive)
    if shared:
        loaded = drive
    elif cut_loaded or cut_drive:
        loaded = network.loaded.copy()
        loaded.remove_edges_from(cut_loaded)
        loaded.remove_nodes_from([n for n in list(loaded) if n not in drive])
        loaded = _largest_scc(loaded)
    cut = HazardCut(len(cut_walk), len(cut_drive), len(cut_loaded))
    if not (cut_walk or cut_drive or cut_loaded):
        return network, cut
    # A node the cut left alone (on the hazard road) would catch homes snapped to the walk graph
    # and strand them; only nodes a bus may stop at must stay (every loaded node is a walk node).
    new_walk.remove_nodes_from(
        [n for n in {x for edge in cut_walk for x in edge[:2]} if new_walk.degree(n) == 0 and n not in loaded]
    )
    return replace(network, drive=drive, loaded=loaded, walk=new_walk), cut


def _on_ways(way: Any, way_ids: set[int]) -> bool:
    if not way_ids or way is None:
        return False
    if isinstance(way, (list, tuple)):
        return any(int(w) in way_ids for w in way)
    return int(way) in way_ids


def _projection(hazards: Sequence[Hazard]) -> Transformer:
    """Lon/lat to metres in the UTM zone of the hazards' first point (EPSG:326xx / 327xx)."""
    points = [p for h in hazards for part in (*h.lines, *h.polygons) for p in part]
    lon, lat = points[0] if points else (0.0, 0.0)
    zone = min(60, int((lon + 180) // 6) + 1)
    epsg = (32600 if lat >= 0 else 32700) + zone
    return Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)


def _shapes(hazards: Sequence[Hazard], to_m: Transformer, *, buffer_m: float, areas_whole: bool):
    """One projected shape per hazard part: lines buffered by ``buffer_m``, areas as they are."""
    shapes = []
    for hazard in hazards:
        for line in hazard.lines:
            shapes.append(_projected(to_m, LineString(line)).buffer(buffer_m))
        if areas_whole:
            for ring in hazard.polygons:
                shapes.append(_projected(to_m, Polygon(ring)).buffer(0))
    return shapes


def _projected(to_m: Transformer, geometry):
    """``geometry`` (lon/lat) in the metres of ``to_m``."""
    return shapely.transform(geometry, lambda x, y: to_m.transform(x, y), interleaved=False)


def _edges_hit(graph: nx.Graph, shapes: list, to_m: Transformer, *, touches: bool) -> set[tuple[int, int, int]]:
    """Edges of ``graph`` that touch a shape (``touches``) or lie wholly inside one."""
    if not shapes:
        return set()
    zone = unary_union(shapes)
    west, south, east, north = zone.buffer(SEARCH_MARGIN_M).bounds
    xs, ys = _project_nodes(graph, to_m)
    near = {n for n in graph if west <= xs[n] <= east and south <= ys[n] <= north}
    if not near:
        return set()
    candidates = []
    keys = []
    for u, v, k, data in graph.edges(keys=True, data=True):
        if u not in near and v not in near:
            continue
        geometry = data.get("geometry")
        if geometry is not None:
            line = _projected(to_m, geometry)
        else:
            line = LineString([(xs[u], ys[u]), (xs[v], ys[v])])
        candidates.append(line)
        keys.append((u, v, k))
    tree = STRtree(candidates)
    hit: set[tuple[int, int, int]] = set()
    for shape in shapes:
        for index in tree.query(shape, predicate="intersects" if touches else "within"):
            hit.add(keys[int(index)])
    return hit


def _project_nodes(graph: nx.Graph, to_m: Transformer) -> tuple[dict[int, float], dict[int, float]]:
    nodes = list(graph.nodes)
    lon = [graph.nodes[n]["x"] for n in nodes]
    lat = [graph.nodes[n]["y"] for n in nodes]
    x, y = to_m.transform(lon, lat)
    return dict(zip(nodes, map(float, x))), dict(zip(nodes, map(float, y)))


def _largest_scc(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    if graph.number_of_nodes() == 0:
        return graph
    largest = max(nx.strongly_connected_components(graph), key=lambda c: (len(c), -min(c)))
    return graph.subgraph(largest).copy()


def describe_hazards(hazards: Iterable[Hazard]) -> Mapping[str, int]:
    """How many hazards of each kind (for summaries)."""
    counts = {kind.value: 0 for kind in HazardKind}
    for hazard in hazards:
        counts[hazard.kind.value] += 1
    return counts
