"""Road graphs for school buses: drive, loaded and walk profiles, speeds, snapping and a disk cache.

Every source is reduced to the same thing before any graph is built, so one set of rules decides
what a bus may drive and where a pupil may walk, whatever the input format:

1. **ways**: node ids, node coordinates ``(lon, lat)`` and OSM-style tags. OSM files (``.osm.pbf``,
   ``.osm``, ``.osm.bz2``) are all streamed with osmium, so a ``.pbf`` and its XML copy give the
   same graph; node references the extract lacks are dropped and the way split there. An online
   place or bounding box is downloaded through osmnx's Overpass client. A municipal line layer
   gets node ids from shared vertex coordinates (ways that share an OSM node have identical
   coordinates, so streets join wherever they share a vertex, not only at their ends).
2. **pieces**: each way is split where it meets another way or ends (like osmnx's simplification),
   keeping its geometry; pieces longer than ``max_edge_m`` are cut into equal parts at interpolated
   nodes, so stops can sit along long roads. This happens once, before the three graphs are built,
   so the graphs share node ids.
3. **graphs**: ``drive`` (drivable classes, one-way rules, largest strongly connected component),
   ``loaded`` (``drive`` minus the policy's forbidden classes, largest SCC again) and ``walk``
   (walkable ways, undirected, holding every ``loaded`` node).

A built network is kept in a cache folder (gzipped JSON, never a pickle: a cache file someone
else wrote cannot run code) keyed by a hash of the input bytes (or the online query) and the
options, so a plan re-run does not rebuild it.

Bus speeds, km/h, when a way has no usable ``maxspeed`` tag (urban school-bus speeds, below the
legal limits because a bus brakes, turns and meets traffic)::

    motorway 90   motorway_link 50   trunk 70   trunk_link 40   primary 50   primary_link 40
    secondary 45  secondary_link 35  tertiary 40  tertiary_link 30  unclassified 30
    residential 30  road 30  living_street 10

A tagged ``maxspeed`` wins (capped at ``BUS_MAX_KPH``); see :func:`parse_maxspeed_kph`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from schoolbus.errors import RoadNetworkError

__all__ = [
    "BUS_MAX_KPH",
    "DEFAULT_MAX_EDGE_M",
    "DEFAULT_SPEED_KPH",
    "OSM_SUFFIXES",
    "ROAD_LAYER_SUFFIXES",
    "NetworkReport",
    "RoadColumns",
    "RoadNetwork",
    "Snapped",
    "default_cache_dir",
    "load_network",
    "parse_maxspeed_kph",
    "snap_points",
]

EARTH_RADIUS_M = 6_371_009.0
"""Mean earth radius, metres; the one osmnx uses, so our edge lengths agree with osmnx's."""

DEFAULT_MAX_EDGE_M = 250.0
"""Edges longer than this are cut at interpolated nodes so a stop can be placed along them."""

BUS_MAX_KPH = 100.0
"""No bus edge is faster than this: the legal limit for buses on Turkish motorways."""

WALK_MAXSPEED_KPH = 7.0
"""``maxspeed=walk`` (walking pace, living streets): what a vehicle actually does there."""

MPH_TO_KPH = 1.609344
KNOT_TO_KPH = 1.852

CACHE_FORMAT = 4
"""Bump when the cached network changes shape, so old cache files are not read back
(2: gzipped JSON instead of a pickle; 3 and 4: cut-off drive points and named places)."""

CACHE_GZIP_LEVEL = 1
"""Fast compression: the cache is written once per network and read on every plan."""

FALLBACK_SPEED_KPH = 30.0
"""Bus speed on a drivable class missing from ``DEFAULT_SPEED_KPH``."""

DEFAULT_SPEED_KPH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 50.0,
    "trunk": 70.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 40.0,
    "secondary": 45.0,
    "secondary_link": 35.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "road": 30.0,
    "living_street": 10.0,
}
"""Urban school-bus speed by ``highway`` class when no usable ``maxspeed`` is tagged, km/h.

The keys are also the drivable classes: service roads, tracks, bus-only ways and anything not
listed are not driven (a school bus does not route through parking aisles or driveways)."""

DRIVE_HIGHWAYS = frozenset(DEFAULT_SPEED_KPH)

WALK_ONLY_HIGHWAYS = frozenset(
    {"footway", "path", "steps", "pedestrian", "service", "track", "bridleway", "corridor"}
)
"""Ways pupils walk on that buses do not drive; cycleways count only when ``foot`` allows."""

NOT_WALKABLE_HIGHWAYS = frozenset({"motorway", "motorway_link"})

ZONE_SPEED_KPH: dict[str, float] = {
    "urban": 50.0,
    "rural": 90.0,
    "trunk": 110.0,
    "motorway": 120.0,
    "living_street": 20.0,
    "bicycle_road": 30.0,
    "walk": WALK_MAXSPEED_KPH,
}
"""Implicit limits (``maxspeed=XX:zone``) for countries without an entry in ``COUNTRY_ZONE_KPH``;
these are Türkiye's own values (urban 50, rural 90, divided roads 110, motorway 120 km/h)."""

COUNTRY_ZONE_KPH: dict[tuple[str, str], float] = {
    ("RU", "urban"): 60.0,
    ("RU", "motorway"): 110.0,
    ("UA", "urban"): 50.0,
    ("DE", "rural"): 100.0,
    ("AT", "rural"): 100.0,
    ("FI", "rural"): 80.0,
    ("GB", "nsl_single"): 60.0 * MPH_TO_KPH,
    ("GB", "nsl_dual"): 70.0 * MPH_TO_KPH,
    ("GB", "motorway"): 70.0 * MPH_TO_KPH,
}
"""Implicit limits that differ from the Turkish ones in ``ZONE_SPEED_KPH``."""

NO_ACCESS = frozenset({"no", "private"})
YES_ACCESS = frozenset({"yes", "designated", "permissive", "destination", "customers"})
ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
ONEWAY_CLASSES = frozenset({"motorway", "motorway_link"})
"""OSM implies ``oneway=yes`` on motorways; roundabouts are handled through ``junction``."""

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")
ROAD_LAYER_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb")
FILE_SUFFIXES = {
    "osm": (OSM_SUFFIXES, "OSM"),
    "roads": (ROAD_LAYER_SUFFIXES, "road layer"),
    "graphml": ((".graphml",), "GraphML"),
}
SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
COORD_DECIMALS = 7
"""Road-layer vertices equal to 7 decimals of a degree (about 1 cm) are the same junction."""


# --------------------------------------------------------------------------------------------------
# Public values
# --------------------------------------------------------------------------------------------------


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
        A bus with children aboard: ``drive`` minus the forbidden classes, largest SCC again.
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


@dataclass(frozen=True)
class Snapped:
    """Nearest graph node of each location.

    ``node_ids`` (int64) and ``snap_m`` (float, great-circle metres) have one entry per location.
    """

    node_ids: np.ndarray
    snap_m: np.ndarray


@dataclass(frozen=True)
class RoadColumns:
    """Column names of a municipal road line layer.

    Only ``highway`` decides what a feature is: a feature whose class is empty (a boundary line,
    say) is skipped; a layer with no such column is taken as all drivable streets of class
    ``road``. The other columns are optional. A name you set that the layer lacks is an error.
    """

    highway: str = "highway"
    oneway: str = "oneway"
    maxspeed: str = "maxspeed"
    name: str = "name"
    way_id: str = "osm_id"


def default_cache_dir() -> Path:
    """``$SCHOOLBUS_CACHE_DIR`` if set, else ``~/.cache/schoolbus``."""
    env = os.environ.get("SCHOOLBUS_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "schoolbus"


# --------------------------------------------------------------------------------------------------
# Speeds and tag rules
# --------------------------------------------------------------------------------------------------

_NUMBER_UNIT = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(km/h|kmh|kph|mph|knots)?$")
_ZONE = re.compile(r"^([a-z]{2}):(?:zone:?)?([a-z_]+|\d+)$")


def parse_maxspeed_kph(value: object) -> float | None:
    """Read an OSM ``maxspeed`` value as km/h.

    Parameters
    ----------
    value : object
        The tag value: ``"50"``, ``"30 mph"``, ``"10 knots"``, ``"walk"``, ``"TR:urban"``,
        ``"DE:zone30"``, a list ``"50;30"`` (the lowest wins), a number, or missing.

    Returns
    -------
    float or None
        The limit in km/h, or ``None`` when the value gives no number (``none``, ``signals``,
        ``variable``, empty, unknown zones).
    """
    text = _tag_str(value).lower()
    if not text:
        return None
    speeds = [s for part in re.split(r"[;|]", text) if (s := _one_maxspeed_kph(part.strip()))]
    return min(speeds) if speeds else None


def _one_maxspeed_kph(text: str) -> float | None:
    if text == "walk":
        return WALK_MAXSPEED_KPH
    if match := _NUMBER_UNIT.match(text):
        number = float(match.group(1).replace(",", "."))
        unit = match.group(2)
        factor = MPH_TO_KPH if unit == "mph" else KNOT_TO_KPH if unit == "knots" else 1.0
        return number * factor if number > 0 else None
    if match := _ZONE.match(text):
        country, zone = match.group(1).upper(), match.group(2)
        if zone.isdigit():
            return float(zone) if int(zone) > 0 else None
        return COUNTRY_ZONE_KPH.get((country, zone), ZONE_SPEED_KPH.get(zone))
    return None


def _bus_speed_kph(highway: str, maxspeed: str) -> float:
    """Speed of a bus on an edge: the tagged limit (capped), else the class default."""
    tagged = parse_maxspeed_kph(maxspeed)
    if tagged is not None:
        return min(tagged, BUS_MAX_KPH)
    return DEFAULT_SPEED_KPH.get(highway, FALLBACK_SPEED_KPH)


def _tag_str(value: object) -> str:
    """A tag or attribute value as a clean string ('' for missing, NaN or None)."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        return str(int(value)) if float(value).is_integer() else str(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value).strip()


def _is_drivable(tags: dict[str, str]) -> bool:
    if tags.get("highway") not in DRIVE_HIGHWAYS or tags.get("area") == "yes":
        return False
    if "no" in (tags.get("motor_vehicle"), tags.get("motorcar"), tags.get("vehicle")):
        return False
    if tags.get("access") in NO_ACCESS:
        return tags.get("motor_vehicle") in YES_ACCESS or tags.get("motorcar") in YES_ACCESS
    return True


def _drive_direction(tags: dict[str, str]) -> int:
    """0 not drivable, 1 forward only, -1 against the way's direction only, 2 both ways."""
    if not _is_drivable(tags):
        return 0
    oneway = tags.get("oneway", "").lower()
    if oneway in ONEWAY_FORWARD:
        return 1
    if oneway in ONEWAY_BACKWARD:
        return -1
    if oneway == "no":
        return 2
    if tags.get("junction") in ("roundabout", "circular") or tags.get("highway") in ONEWAY_CLASSES:
        return 1
    return 2


def _is_walkable(tags: dict[str, str]) -> bool:
    highway = tags.get("highway", "")
    if highway in NOT_WALKABLE_HIGHWAYS or tags.get("area") == "yes" or tags.get("foot") == "no":
        return False
    foot_allowed = tags.get("foot") in YES_ACCESS
    if tags.get("access") in NO_ACCESS and not foot_allowed:
        return False
    if highway == "cycleway":
        return foot_allowed
    return highway in DRIVE_HIGHWAYS or highway in WALK_ONLY_HIGHWAYS


def _street_name(tags: dict[str, str]) -> str:
    return tags.get("name") or tags.get("ref") or ""


# --------------------------------------------------------------------------------------------------
# Sources → ways
# --------------------------------------------------------------------------------------------------


@dataclass
class _Ways:
    """Ways as read: ``(way_id, node ids, tags)`` and the coordinates of the nodes known."""

    ways: list[tuple[int, tuple[int, ...], dict[str, str]]]
    coords: dict[int, tuple[float, float]]
    n_ways_read: int = 0


def _ways_from_osm_file(path: Path) -> _Ways:
    """Stream highway ways and their node locations out of a .osm.pbf/.osm/.osm.bz2 file."""
    import osmium

    ways: list[tuple[int, tuple[int, ...], dict[str, str]]] = []
    coords: dict[int, tuple[float, float]] = {}
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    try:
        for way in processor:
            refs = []
            for node in way.nodes:
                refs.append(node.ref)
                if node.location.valid():
                    coords[node.ref] = (node.location.lon, node.location.lat)
            ways.append((way.id, tuple(refs), {tag.k: tag.v for tag in way.tags}))
    except RuntimeError as error:  # libosmium reports unreadable input this way
        raise RoadNetworkError(f"cannot read OSM file {path}: {error}") from None
    ways.sort(key=lambda w: w[0])
    return _Ways(ways, coords, n_ways_read=len(ways))


LANDMARK_KEYS = ("amenity", "shop", "leisure", "tourism", "healthcare", "office", "public_transport")
"""OSM keys whose named nodes and ways are landmarks people give directions by."""


def _landmarks_from_osm_file(path: Path) -> tuple[tuple[str, tuple[float, float]], ...]:
    """Named landmarks: nodes at their point, ways at the mean of their nodes; sorted, deduplicated."""
    import osmium

    found: set[tuple[str, tuple[float, float]]] = set()
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("name"))
    )
    try:
        for item in processor:
            tags = item.tags
            if not any(key in tags for key in LANDMARK_KEYS):
                continue
            name = tags.get("name", "").strip()
            if item.is_node():
                if item.location.valid():
                    found.add((name, (round(item.location.lon, 7), round(item.location.lat, 7))))
            else:
                points = [(n.location.lon, n.location.lat) for n in item.nodes if n.location.valid()]
                if points:
                    lon = sum(p[0] for p in points) / len(points)
                    lat = sum(p[1] for p in points) / len(points)
                    found.add((name, (round(lon, 7), round(lat, 7))))
    except RuntimeError as error:
        raise RoadNetworkError(f"cannot read OSM file {path}: {error}") from None
    return tuple(sorted(p for p in found if p[0]))


def _ways_from_overpass(responses: Iterable[dict[str, Any]]) -> _Ways:
    """Ways and node coordinates from Overpass JSON responses (several may overlap)."""
    by_id: dict[int, tuple[int, tuple[int, ...], dict[str, str]]] = {}
    coords: dict[int, tuple[float, float]] = {}
    for response in responses:
        for element in response.get("elements", []):
            if element.get("type") == "node":
                coords[int(element["id"])] = (float(element["lon"]), float(element["lat"]))
            elif element.get("type") == "way" and "highway" in element.get("tags", {}):
                tags = {str(k): _tag_str(v) for k, v in element["tags"].items()}
                by_id[int(element["id"])] = (int(element["id"]), tuple(element["nodes"]), tags)
    ways = [by_id[k] for k in sorted(by_id)]
    return _Ways(ways, coords, n_ways_read=len(ways))


def _ways_from_road_layer(path: Path, columns: RoadColumns) -> _Ways:
    """Ways from a line layer, node ids from identical vertex coordinates (first seen, first id)."""
    import geopandas as gpd

    try:
        layer = gpd.read_file(path)
    except Exception as error:  # pyogrio raises several types for unreadable files
        raise RoadNetworkError(f"cannot read road layer {path}: {error}") from None
    defaults = RoadColumns()
    missing = [
        f"{field.name}={getattr(columns, field.name)!r}"
        for field in dataclasses.fields(RoadColumns)
        if getattr(columns, field.name) != getattr(defaults, field.name)
        and getattr(columns, field.name) not in layer.columns
    ]
    if missing:
        raise RoadNetworkError(
            f"road layer {path} has no column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, layer.columns))}"
        )
    if layer.crs is not None and not layer.crs.equals("EPSG:4326", ignore_axis_order=True):
        layer = layer.to_crs("EPSG:4326")
    west, south, east, north = layer.total_bounds
    if len(layer) and not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise RoadNetworkError(
            f"road layer {path} has coordinates up to ({east:.0f}, {north:.0f}), which are not "
            f"lon/lat degrees: its CRS ({layer.crs}) is missing or wrong"
        )

    def column(name: str) -> list[object]:
        return list(layer[name]) if name in layer.columns else [None] * len(layer)

    has_highway = columns.highway in layer.columns
    highways, oneways = column(columns.highway), column(columns.oneway)
    maxspeeds, names = column(columns.maxspeed), column(columns.name)
    way_ids = column(columns.way_id)
    node_of: dict[tuple[float, float], int] = {}
    ways: list[tuple[int, tuple[int, ...], dict[str, str]]] = []
    n_read = 0
    for row, geometry in enumerate(layer.geometry):
        highway = _tag_str(highways[row]) if has_highway else "road"
        if not highway or geometry is None or geometry.is_empty:
            continue
        if geometry.geom_type == "LineString":
            parts = [geometry]
        elif geometry.geom_type == "MultiLineString":
            parts = list(geometry.geoms)
        else:
            continue
        n_read += 1
        tags = {
            "highway": highway,
            "oneway": _tag_str(oneways[row]).lower(),
            "maxspeed": _tag_str(maxspeeds[row]),
            "name": _tag_str(names[row]),
        }
        way_id = way_ids[row]
        try:
            way_id = int(_tag_str(way_id)) if _tag_str(way_id) else row
        except ValueError:
            way_id = row
        for part in parts:
            refs = []
            for x, y, *_ in part.coords:
                key = (round(x, COORD_DECIMALS), round(y, COORD_DECIMALS))
                refs.append(node_of.setdefault(key, len(node_of)))
            ways.append((way_id, tuple(refs), {k: v for k, v in tags.items() if v}))
    if n_read == 0:
        raise RoadNetworkError(
            f"road layer {path} has no LineString/MultiLineString features with a "
            f"'{columns.highway}' value"
        )
    coords = {node: key for key, node in node_of.items()}
    return _Ways(ways, coords, n_ways_read=n_read)


def _overpass_responses(polygon: Any, cache_dir: Path) -> list[dict[str, Any]]:
    """Download every highway way in ``polygon`` through osmnx's Overpass client.

    osmnx's own response cache lives in ``cache_dir/osmnx``, so a repeated query (or a recorded
    response placed there under osmnx's key) never reaches the network. The private
    ``_download_overpass_network`` is used because the public graph builders would apply osmnx's
    tag rules; ours must match the file readers'. osmnx is pinned to 2.1.x for this.
    """
    from osmnx import _overpass

    with _osmnx_cache(cache_dir):
        return list(_overpass._download_overpass_network(polygon, "all", None))


@contextlib.contextmanager
def _osmnx_cache(cache_dir: Path) -> Iterator[None]:
    """Point osmnx's HTTP cache at ``cache_dir/osmnx`` for the duration, then restore it."""
    from osmnx import settings

    saved = (settings.use_cache, settings.cache_folder)
    settings.use_cache, settings.cache_folder = True, str(cache_dir / "osmnx")
    try:
        yield
    finally:
        settings.use_cache, settings.cache_folder = saved


def _online_polygon(place: str | None, bbox: Sequence[float] | None, cache_dir: Path) -> Any:
    """The query polygon (EPSG:4326) of a place name (Nominatim) or a ``(w, s, e, n)`` box."""
    import osmnx as ox

    if bbox is not None:
        west, south, east, north = (float(v) for v in bbox)
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise RoadNetworkError(
                f"bbox must be (west, south, east, north) in degrees with west < east and "
                f"south < north; got {tuple(bbox)}"
            )
        return ox.utils_geo.bbox_to_poly((west, south, east, north))
    from osmnx._errors import InsufficientResponseError

    try:
        with _osmnx_cache(cache_dir):
            gdf = ox.geocode_to_gdf(place)
    except InsufficientResponseError:
        raise RoadNetworkError(f"Nominatim knows no place {place!r}") from None
    except TypeError:  # osmnx's way of saying no result has an area geometry
        message = f"place {place!r} geocodes to no area, only to points or lines"
        raise RoadNetworkError(message) from None
    polygon = gdf.geometry.iloc[0]
    if polygon.geom_type not in ("Polygon", "MultiPolygon"):
        raise RoadNetworkError(f"place {place!r} geocodes to a {polygon.geom_type}, not an area")
    return polygon


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


def _pieces_from_ways(source: _Ways) -> tuple[list[_Piece], int]:
    """Split ways at junctions and ends; returns the pieces and the count of missing refs."""
    selected = []
    n_missing = 0
    for way_id, refs, tags in source.ways:
        direction, walkable = _drive_direction(tags), _is_walkable(tags)
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
                        name=_street_name(tags),
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
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


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


def _largest_scc(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    if graph.number_of_nodes() == 0:
        return graph.copy()
    largest = max(nx.strongly_connected_components(graph), key=lambda c: (len(c), -min(c)))
    return graph.subgraph(largest).copy()


def _centreline_km(graph: nx.MultiDiGraph) -> float:
    """Road length counting a two-way street once (both its directions are in the graph)."""
    total = sum(d["length"] * (1.0 if d["oneway"] else 0.5) for _, _, d in graph.edges(data=True))
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
            speed_kph = _bus_speed_kph(piece.highway, piece.maxspeed)
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

    drive = _largest_scc(drive_all)
    forbidden = set(forbidden_road_classes)
    allowed = drive.copy()
    allowed.remove_edges_from(
        [(u, v, k) for u, v, k, h in drive.edges(keys=True, data="highway") if h in forbidden]
    )
    loaded = _largest_scc(allowed)

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


def nearest_cut_road_m(network: RoadNetwork, locations: Sequence[tuple[float, float]]) -> np.ndarray:
    """Great-circle metres from each location to the nearest cut-off drivable road point (inf if none)."""
    if not network.cut_drive_points or not locations:
        return np.full(len(locations), np.inf)
    tree = cKDTree(_unit_sphere(np.asarray(network.cut_drive_points, dtype=float)))
    chord, _ = tree.query(_unit_sphere(np.asarray(locations, dtype=float)))
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))


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
            key: _first_tag(data.get(key), rank=(key == "highway"))
            for key in ("highway", "name", "ref", "access", "area", "foot", "service")
        }
        tags = {k: t for k, t in tags.items() if t}
        speeds = [s for s in _as_list(data.get("maxspeed")) if parse_maxspeed_kph(s) is not None]
        maxspeed = min(speeds, key=parse_maxspeed_kph) if speeds else ""
        is_two_way = any((a, b) == (v, u) for a, b, _ in edges)
        drivable = _is_drivable(tags)
        for a, b, d in edges if drivable and not is_two_way else edges[:1]:
            pieces.append(
                _Piece(
                    u=int(a),
                    v=int(b),
                    coords=d["_coords"],
                    way_id=_int_or(_first_tag(d.get("osmid")), -1),
                    highway=tags.get("highway", ""),
                    name=_street_name(tags),
                    maxspeed=_tag_str(maxspeed),
                    direction=(2 if is_two_way else 1) if drivable else 0,
                    is_walkable=_is_walkable(tags) and (a, b) == (u, v),
                )
            )
    return pieces


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _first_tag(value: object, *, rank: bool = False) -> str:
    """One value of a (possibly merged) osmnx attribute; the most important class if ``rank``."""
    values = [_tag_str(v) for v in _as_list(value) if _tag_str(v)]
    if not values:
        return ""
    if rank:
        order = list(DEFAULT_SPEED_KPH)
        return min(values, key=lambda h: order.index(h) if h in order else len(order))
    return values[0]


def _int_or(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------


def _file_digest(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _cache_key(source: dict[str, Any], options: dict[str, Any]) -> str:
    text = json.dumps({"format": CACHE_FORMAT, **source, **options}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


_LINESTRING = "__linestring__"
"""How an edge's shapely ``geometry`` is written: ``{"__linestring__": [[lon, lat], ...]}``."""
_PLAIN_TYPES = (bool, int, float, str, type(None))


def _attrs_to_json(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {}
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
    keyed: dict[tuple, dict] = {}
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


def _read_cache(path: Path) -> RoadNetwork | None:
    """The network a cache file holds, or ``None`` (missing, another format, damaged)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            document = json.load(handle)
        if document.get("format") != CACHE_FORMAT:
            return None
        report = {k: tuple(v) if isinstance(v, list) else v for k, v in document["report"].items()}
        graphs = {name: _graph_from_json(document[name]) for name in ("drive", "loaded", "walk")}
        return RoadNetwork(name=document["name"], report=NetworkReport(**report), **graphs)
    except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError):
        return None


def _write_cache(path: Path, network: RoadNetwork) -> bool:
    """Write atomically (a crash leaves no half file); False if the folder is not writable."""
    try:
        document = {
            "format": CACHE_FORMAT,
            "name": network.name,
            "report": dataclasses.asdict(network.report),
            **{name: _graph_to_json(getattr(network, name)) for name in ("drive", "loaded", "walk")},
        }
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


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------


def _checked_file(path: str | Path, suffixes: Sequence[str], what: str) -> Path:
    file = Path(path).expanduser()
    name = file.name.lower()
    if not any(name.endswith(s) for s in suffixes):
        raise RoadNetworkError(
            f"unknown {what} file extension: {file.name} (expected one of {', '.join(suffixes)})"
        )
    if not file.is_file():
        raise RoadNetworkError(f"{what} file not found: {file}")
    return file


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
    source = _resolve_source(osm=osm, roads=roads, place=place, bbox=bbox, graphml=graphml)
    if not max_edge_m > 0:
        raise RoadNetworkError(f"max_edge_m must be positive metres, got {max_edge_m!r}")
    columns = road_columns or RoadColumns()
    cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    options = {
        "forbidden": sorted(forbidden_road_classes),
        "max_edge_m": float(max_edge_m),
        "columns": dataclasses.asdict(columns) if source.kind == "roads" else None,
    }
    cache_path = cache_root / f"network-{_cache_key(source.key, options)}.json.gz"
    cached = _read_cache(cache_path)
    if cached is not None:
        report = dataclasses.replace(cached.report, cache_path=str(cache_path), is_from_cache=True)
        return dataclasses.replace(cached, report=report)

    n_missing = 0
    if source.kind == "graphml":
        pieces, node_xy = _pieces_from_graphml(source.path)
        n_ways_read = len({p.way_id for p in pieces})
    else:
        if source.kind == "osm":
            ways = _ways_from_osm_file(source.path)
        elif source.kind == "roads":
            ways = _ways_from_road_layer(source.path, columns)
        else:
            ways = _download_ways(place=place, bbox=source.bbox, cache_dir=cache_root)
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
        places=_landmarks_from_osm_file(source.path) if source.kind == "osm" else (),
    )
    if _write_cache(cache_path, network):
        report = dataclasses.replace(report, cache_path=str(cache_path))
        network = dataclasses.replace(network, report=report)
    return network


@dataclass(frozen=True)
class _Source:
    """One checked road source: ``label`` is ``kind:name``; ``key`` identifies it for the cache."""

    kind: str
    name: str
    label: str
    key: dict[str, Any]
    path: Path = Path()
    bbox: tuple[float, ...] | None = None


def _resolve_source(**sources: Any) -> _Source:
    """Check that exactly one source is given and that it can be read; hash a file's bytes."""
    given = {k: v for k, v in sources.items() if v is not None}
    if len(given) != 1:
        raise RoadNetworkError(
            "give exactly one road source (an OSM file, a road layer, a place, a bbox or a "
            f"GraphML file); got {', '.join(given) or 'none'}"
        )
    kind, value = next(iter(given.items()))
    if kind in FILE_SUFFIXES:
        suffixes, what = FILE_SUFFIXES[kind]
        path = _checked_file(value, suffixes, what)
        files = [path]
        if path.suffix.lower() == ".shp":
            files += [s for ext in SHAPEFILE_SIDECARS if (s := path.with_suffix(ext)).is_file()]
        key = {"kind": kind, "digest": _file_digest(files)}
        return _Source(kind, path.name, f"{kind}:{path.name}", key, path=path)
    if kind == "bbox":
        try:
            box = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            box = ()
        if len(box) != 4:
            raise RoadNetworkError(f"bbox needs 4 numbers (west, south, east, north): {value!r}")
        text = ",".join(f"{v:g}" for v in box)
        return _Source(kind, f"bbox {text}", f"bbox:{text}", {"kind": kind, "bbox": box}, bbox=box)
    return _Source(kind, str(value), f"place:{value}", {"kind": kind, "place": str(value)})


def _pieces_from_graphml(path: Path) -> tuple[list[_Piece], dict[int, tuple[float, float]]]:
    import osmnx as ox

    try:
        graph = ox.load_graphml(path)
    except Exception as error:  # networkx/lxml raise many types for a malformed file
        raise RoadNetworkError(f"cannot read GraphML file {path}: {error}") from None
    if any("x" not in d or "y" not in d for _, d in graph.nodes(data=True)):
        raise RoadNetworkError(f"GraphML file {path} has nodes without x/y (lon/lat)")
    node_xy = {int(n): (float(d["x"]), float(d["y"])) for n, d in graph.nodes(data=True)}
    return _pieces_from_graph(graph), node_xy


def _download_ways(
    *, place: str | None, bbox: Sequence[float] | None, cache_dir: Path
) -> _Ways:
    """Geocode (for a place) and download the highway ways of an area through osmnx."""
    import requests
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    what = f"place {place!r}" if place is not None else f"bbox {tuple(bbox or ())}"
    try:
        polygon = _online_polygon(place, bbox, cache_dir)
        responses = _overpass_responses(polygon, cache_dir)
    except (
        requests.RequestException,
        InsufficientResponseError,
        ResponseStatusCodeError,
        OSError,
    ) as error:
        raise RoadNetworkError(f"cannot download the roads of {what}: {error}") from None
    ways = _ways_from_overpass(responses)
    if not ways.ways:
        raise RoadNetworkError(f"no highway ways in {what} (Overpass returned none)")
    return ways


def snap_points(graph: nx.Graph, locations: Sequence[tuple[float, float]]) -> Snapped:
    """Find the nearest node of ``graph`` to each ``(lon, lat)`` location.

    Nodes and locations are put on the unit sphere, where straight-line (chord) order equals
    great-circle order, so a KD-tree gives the exact nearest node by great-circle distance.

    Parameters
    ----------
    graph : networkx.Graph
        Any graph whose nodes have ``x`` (lon) and ``y`` (lat) in degrees.
    locations : sequence of (lon, lat)
        Points to snap, degrees.

    Returns
    -------
    Snapped
        ``node_ids`` (int64) and ``snap_m`` (great-circle metres), one per location.

    Raises
    ------
    RoadNetworkError
        The graph has no nodes.
    """
    if graph.number_of_nodes() == 0:
        raise RoadNetworkError("cannot snap to a road graph without nodes")
    node_ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=float)
    points = np.asarray(locations, dtype=float).reshape(-1, 2)
    if len(points) == 0:
        return Snapped(node_ids=np.empty(0, dtype=np.int64), snap_m=np.empty(0, dtype=float))
    chord, index = cKDTree(_unit_sphere(xy)).query(_unit_sphere(points))
    snap_m = 2 * EARTH_RADIUS_M * np.arcsin(np.clip(np.asarray(chord) / 2, 0.0, 1.0))
    return Snapped(node_ids=node_ids[index], snap_m=snap_m)


def _unit_sphere(lon_lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon_lat[:, 0]), np.radians(lon_lat[:, 1])
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))
