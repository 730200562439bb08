"""Road sources read into ways: OSM files, municipal road layers, Overpass downloads, GraphML.

Every source is reduced to the same thing, :class:`Ways` (node ids, node coordinates ``(lon, lat)``
and OSM-style tags), before any graph is built, so one set of rules (:mod:`schoolbus.network.tags`)
decides what a bus may drive and where a pupil may walk, whatever the input format:

- OSM files (``.osm.pbf``, ``.osm``, ``.osm.bz2``, ``.osm.gz``) are all streamed with osmium, so a
  ``.pbf`` and its XML copy give the same graph; node references the extract lacks are dropped and
  the way split there.
- An online place or bounding box is downloaded through osmnx's Overpass client, with osmnx's HTTP
  cache under the network cache folder.
- A municipal line layer gets node ids from shared vertex coordinates (ways that share an OSM node
  have identical coordinates, so streets join wherever they share a vertex, not only at their ends).
- A GraphML file written by osmnx is read as a graph (:func:`read_graphml`).

:func:`resolve_source` checks that exactly one source is given and that it can be read, and keys it
for the cache by a hash of its bytes (or the online query).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from schoolbus.errors import RoadNetworkError
from schoolbus.network.tags import tag_str

__all__ = [
    "OSM_SUFFIXES",
    "ROAD_LAYER_SUFFIXES",
    "RoadColumns",
    "Source",
    "Ways",
    "download_ways",
    "landmarks_from_osm_file",
    "read_graphml",
    "resolve_source",
    "ways_from_osm_file",
    "ways_from_road_layer",
]

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


@dataclass
class Ways:
    """Ways as read: ``(way_id, node ids, tags)`` and the coordinates of the nodes known."""

    ways: list[tuple[int, tuple[int, ...], dict[str, str]]]
    coords: dict[int, tuple[float, float]]
    n_ways_read: int = 0


def ways_from_osm_file(path: Path) -> Ways:
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
            if not isinstance(way, osmium.osm.Way):
                continue  # the filter passes ways only; this tells the type checker
            refs = []
            for node in way.nodes:
                refs.append(node.ref)
                if node.location.valid():
                    coords[node.ref] = (node.location.lon, node.location.lat)
            ways.append((way.id, tuple(refs), {tag.k: tag.v for tag in way.tags}))
    except RuntimeError as error:  # libosmium reports unreadable input this way
        raise RoadNetworkError(f"cannot read OSM file {path}: {error}") from None
    ways.sort(key=lambda w: w[0])
    return Ways(ways, coords, n_ways_read=len(ways))


LANDMARK_KEYS = ("amenity", "shop", "leisure", "tourism", "healthcare", "office", "public_transport")
"""OSM keys whose named nodes and ways are landmarks people give directions by."""


def landmarks_from_osm_file(path: Path) -> tuple[tuple[str, tuple[float, float]], ...]:
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
            name = (tags.get("name") or "").strip()
            if isinstance(item, osmium.osm.Node):
                if item.location.valid():
                    found.add((name, (round(item.location.lon, 7), round(item.location.lat, 7))))
            elif isinstance(item, osmium.osm.Way):
                points = [(n.location.lon, n.location.lat) for n in item.nodes if n.location.valid()]
                if points:
                    lon = sum(p[0] for p in points) / len(points)
                    lat = sum(p[1] for p in points) / len(points)
                    found.add((name, (round(lon, 7), round(lat, 7))))
    except RuntimeError as error:
        raise RoadNetworkError(f"cannot read OSM file {path}: {error}") from None
    return tuple(sorted(p for p in found if p[0]))


def _ways_from_overpass(responses: Iterable[dict[str, Any]]) -> Ways:
    """Ways and node coordinates from Overpass JSON responses (several may overlap)."""
    by_id: dict[int, tuple[int, tuple[int, ...], dict[str, str]]] = {}
    coords: dict[int, tuple[float, float]] = {}
    for response in responses:
        for element in response.get("elements", []):
            if element.get("type") == "node":
                coords[int(element["id"])] = (float(element["lon"]), float(element["lat"]))
            elif element.get("type") == "way" and "highway" in element.get("tags", {}):
                tags = {str(k): tag_str(v) for k, v in element["tags"].items()}
                by_id[int(element["id"])] = (int(element["id"]), tuple(element["nodes"]), tags)
    ways = [by_id[k] for k in sorted(by_id)]
    return Ways(ways, coords, n_ways_read=len(ways))


def ways_from_road_layer(path: Path, columns: RoadColumns) -> Ways:
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
        highway = tag_str(highways[row]) if has_highway else "road"
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
            "oneway": tag_str(oneways[row]).lower(),
            "maxspeed": tag_str(maxspeeds[row]),
            "name": tag_str(names[row]),
        }
        way_id = way_ids[row]
        try:
            way_id = int(tag_str(way_id)) if tag_str(way_id) else row
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
    return Ways(ways, coords, n_ways_read=n_read)


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
    if place is None:
        raise RoadNetworkError("give a place name or a bbox whose roads to download")
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


@dataclass(frozen=True)
class Source:
    """One checked road source: ``label`` is ``kind:name``; ``key`` identifies it for the cache."""

    kind: str
    name: str
    label: str
    key: dict[str, Any]
    path: Path = Path()
    bbox: tuple[float, ...] | None = None


def resolve_source(**sources: Any) -> Source:
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
        return Source(kind, path.name, f"{kind}:{path.name}", key, path=path)
    if kind == "bbox":
        try:
            box = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            box = ()
        if len(box) != 4:
            raise RoadNetworkError(f"bbox needs 4 numbers (west, south, east, north): {value!r}")
        text = ",".join(f"{v:g}" for v in box)
        return Source(kind, f"bbox {text}", f"bbox:{text}", {"kind": kind, "bbox": box}, bbox=box)
    return Source(kind, str(value), f"place:{value}", {"kind": kind, "place": str(value)})


def _checked_file(path: str | Path, suffixes: Sequence[str], what: str) -> Path:
    """``path`` if it names an existing file with one of ``suffixes``; else a clear error."""
    file = Path(path).expanduser()
    name = file.name.lower()
    if not any(name.endswith(s) for s in suffixes):
        raise RoadNetworkError(
            f"unknown {what} file extension: {file.name} (expected one of {', '.join(suffixes)})"
        )
    if not file.is_file():
        raise RoadNetworkError(f"{what} file not found: {file}")
    return file


def _file_digest(paths: Iterable[Path]) -> str:
    """SHA-256 of the files' names and bytes, in order (the cache key of a file source)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_graphml(path: Path) -> tuple[nx.MultiDiGraph, dict[int, tuple[float, float]]]:
    """An osmnx GraphML road graph and its node coordinates ``{node: (lon, lat)}``."""
    import osmnx as ox

    try:
        graph = ox.load_graphml(path)
    except Exception as error:  # networkx/lxml raise many types for a malformed file
        raise RoadNetworkError(f"cannot read GraphML file {path}: {error}") from None
    if any("x" not in d or "y" not in d for _, d in graph.nodes(data=True)):
        raise RoadNetworkError(f"GraphML file {path} has nodes without x/y (lon/lat)")
    node_xy = {int(n): (float(d["x"]), float(d["y"])) for n, d in graph.nodes(data=True)}
    return graph, node_xy


def download_ways(
    *, place: str | None, bbox: Sequence[float] | None, cache_dir: Path
) -> Ways:
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
