"""The offline address index of a district, built from its OSM extract and cached as JSON.

What is read, in one streaming pass with osmium:

- **streets**: named ``highway=*`` ways; ways of one name that touch or lie within
  :data:`STREET_JOIN_M` of each other are one street (a name repeated across town, like "1203.
  Sokak" in several mahalles, stays several streets);
- **houses**: nodes and buildings (their centroid) with ``addr:housenumber`` and ``addr:street``,
  attached to the nearest street of that name (or to a street of their own when the road is not
  mapped);
- **areas**: ``boundary=administrative`` polygons (mahalle, ilçe, il by ``admin_level``) and
  ``place=neighbourhood|quarter|suburb|village|…`` points, each with the streets inside it (within a
  radius by place type for points).

Every name is indexed with its ``name:*`` variants (Arabic script, Latin transliterations, Swedish in
Helsinki), ``alt_name``, ``official_name``, ``short_name`` and ``int_name``. A number mapped at
several points (a large building's entrances) is placed at their mean. The index is cached in
the road-network cache folder as gzip-compressed JSON (never pickle: a cache file is data, not
code), keyed by a hash of the OSM file's bytes and :data:`INDEX_VERSION`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from schoolbus.errors import RoadNetworkError
from schoolbus.geocode.normalize import AREA_WORDS, name_key

__all__ = ["INDEX_VERSION", "Area", "GeocodeIndex", "Street", "build_index", "load_index"]

INDEX_VERSION = 3
"""Bump when the cached index changes shape, so old cache files are not read back."""

INDEX_FORMAT = "schoolbus-geocode-index"

STREET_JOIN_M = 150.0
"""Ways of one name closer than this (metres, bounding boxes) are one street."""

HOUSE_ATTACH_M = 1000.0
"""A house joins the nearest street of its ``addr:street`` name within this many metres."""

PLACE_RADIUS_M = {
    "city_block": 300.0,
    "plot": 300.0,
    "neighbourhood": 1000.0,
    "quarter": 1500.0,
    "hamlet": 1500.0,
    "isolated_dwelling": 500.0,
    "suburb": 2500.0,
    "village": 2500.0,
    "borough": 4000.0,
    "town": 6000.0,
    "city": 15000.0,
    "municipality": 15000.0,
}
"""Streets within this many metres of a ``place=*`` point count as inside it, by place type."""

_DISTRICT_PLACES = {"borough", "town", "city", "municipality"}
# Not old_name: a street's former name is usually another street's typo ("Heikinkatu" is one
# letter from "Eerikinkatu"), and officers write current names.
_NAME_TAGS = ("name", "alt_name", "official_name", "short_name", "int_name")
_METRES_PER_DEGREE = 111_320.0


@dataclass
class Street:
    """One street: its display name, every comparison key, its lines and its houses.

    ``lines`` are ``[[lon, lat], ...]`` per OSM way (empty for a street known only from
    ``addr:street``); ``point`` is its middle, where a street-precision answer goes; ``houses``
    maps a folded house number (``"12a"``) to ``[lon, lat]``.
    """

    name: str
    keys: list[str]
    lines: list[list[list[float]]]
    point: list[float]
    houses: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Area:
    """A mahalle, ilçe, il or ``place=*``: ``kind`` is ``neighbourhood``, ``district`` or ``province``.

    ``keys`` are compared without the word "Mahallesi"; ``street_ids`` index
    :attr:`GeocodeIndex.streets`.
    """

    name: str
    keys: list[str]
    kind: str
    point: list[float]
    street_ids: list[int]


@dataclass
class GeocodeIndex:
    """Streets, houses and areas of one OSM extract; ``source`` names the file it came from."""

    source: str
    streets: list[Street]
    areas: list[Area]

    @property
    def n_houses(self) -> int:
        """Addressed houses in the index."""
        return sum(len(s.houses) for s in self.streets)

    def to_json(self) -> dict:
        """The JSON document this index is cached as."""
        return {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "source": self.source,
            "streets": [vars(s) for s in self.streets],
            "areas": [vars(a) for a in self.areas],
        }

    @classmethod
    def from_json(cls, document: dict) -> GeocodeIndex:
        """Read back :meth:`to_json`; ``ValueError`` when it is another format or version."""
        if document.get("format") != INDEX_FORMAT or document.get("version") != INDEX_VERSION:
            raise ValueError("not a geocode index of this version")
        return cls(
            source=document["source"],
            streets=[Street(**s) for s in document["streets"]],
            areas=[Area(**a) for a in document["areas"]],
        )


def area_key(name: str) -> str:
    """An area name's key without the mahalle/köy word (``"Ulubatlı Hasan Mh."`` → ``"ulubatli hasan"``)."""
    short = set(AREA_WORDS.values())
    return " ".join(w for w in name_key(name).split() if w not in short)


def load_index(osm: str | Path, cache_dir: str | Path | None = None) -> GeocodeIndex:
    """The address index of ``osm``, read from the cache or built and cached.

    Parameters
    ----------
    osm : str or Path
        ``.osm.pbf``, ``.osm`` or ``.osm.bz2`` extract of the district.
    cache_dir : str or Path, optional
        Default: the road-network cache (``$SCHOOLBUS_CACHE_DIR`` or ``~/.cache/schoolbus``).

    Raises
    ------
    RoadNetworkError
        When the file is missing or osmium cannot read it.
    """
    from schoolbus.network import default_cache_dir

    path = Path(osm)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RoadNetworkError(f"cannot read OSM file {path}: {error.strerror or error}") from None
    digest = hashlib.sha256(data + f"geocode-{INDEX_VERSION}".encode()).hexdigest()[:24]
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    cache_path = root / f"geocode-{digest}.json.gz"
    if cache_path.exists():
        try:
            with gzip.open(cache_path, "rt", encoding="utf-8") as f:
                return GeocodeIndex.from_json(json.load(f))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged or older cache file is rebuilt below
    index = build_index(path)
    try:
        root.mkdir(parents=True, exist_ok=True)
        partial = cache_path.with_suffix(".partial")
        with gzip.open(partial, "wt", encoding="utf-8") as f:
            json.dump(index.to_json(), f, ensure_ascii=False, separators=(",", ":"))
        partial.replace(cache_path)
    except OSError:
        pass  # a read-only cache only costs the rebuild next time
    return index


# --------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------


@dataclass
class _Way:
    way_id: int
    name: str
    keys: list[str]
    coords: list[list[float]]
    node_ids: set[int]


def build_index(osm: str | Path) -> GeocodeIndex:
    """Read ``osm`` once and build its :class:`GeocodeIndex` (no cache)."""
    import osmium
    import shapely
    from shapely import wkb

    ways: list[_Way] = []
    houses: list[tuple[str, str, str, list[float]]] = []  # street key, display, number, point
    polygons: list[tuple[str, list[str], str, object]] = []
    places: list[tuple[str, list[str], str, list[float]]] = []
    factory = osmium.geom.WKBFactory()
    processor = osmium.FileProcessor(str(osm)).with_locations().with_areas(
        osmium.filter.TagFilter(("boundary", "administrative"))
    )
    try:
        for obj in processor:
            tags = obj.tags
            if obj.is_area():
                if tags.get("boundary") == "administrative" and "name" in tags:
                    level = _admin_level(tags.get("admin_level"))
                    try:
                        geometry = wkb.loads(factory.create_multipolygon(obj), hex=True)
                    except RuntimeError:
                        continue  # a boundary with broken rings in a clipped extract
                    polygons.append((tags["name"], _names(tags), _kind_of_level(level), geometry))
                continue
            number = tags.get("addr:housenumber")
            street = tags.get("addr:street")
            if obj.is_node():
                if number and street and obj.location.valid():
                    houses.append((name_key(street), street, number, [obj.lon, obj.lat]))
                place = tags.get("place")
                if place in PLACE_RADIUS_M and "name" in tags and obj.location.valid():
                    places.append((tags["name"], _names(tags), place, [obj.lon, obj.lat]))
            elif obj.is_way():
                coords = [[n.lon, n.lat] for n in obj.nodes if n.location.valid()]
                if not coords:
                    continue
                if number and street:
                    ring = coords[:-1] if len(coords) > 1 and coords[0] == coords[-1] else coords
                    houses.append((name_key(street), street, number, _mean(ring)))
                if "highway" in tags and "name" in tags:
                    ways.append(
                        _Way(obj.id, tags["name"], _names(tags), coords, {n.ref for n in obj.nodes})
                    )
    except RuntimeError as error:  # libosmium reports unreadable input this way
        raise RoadNetworkError(f"cannot read OSM file {osm}: {error}") from None

    streets = _streets_from_ways(ways)
    _attach_houses(streets, houses)
    areas = _areas(streets, polygons, places, shapely)
    return GeocodeIndex(source=Path(osm).name, streets=streets, areas=areas)


def _names(tags) -> list[str]:
    """Every name of an OSM object: ``name``, its variants and its ``name:*`` translations."""
    found = [tags[k] for k in _NAME_TAGS if k in tags]
    found += [tag.v for tag in tags if tag.k.startswith("name:")]
    return [n for n in dict.fromkeys(found) if n.strip()]


def _admin_level(value: str | None) -> int:
    try:
        return int(value) if value is not None else 99
    except ValueError:
        return 99


def _kind_of_level(level: int) -> str:
    """Türkiye: 4 il, 6 ilçe, 8 mahalle; elsewhere the same bands hold well enough."""
    if level <= 4:
        return "province"
    if level <= 7:
        return "district"
    return "neighbourhood"


def _mean(coords: list[list[float]]) -> list[float]:
    return [sum(c[0] for c in coords) / len(coords), sum(c[1] for c in coords) / len(coords)]


def metres_between(a: list[float] | tuple[float, float], b: list[float] | tuple[float, float]) -> float:
    """Great-circle distance between two ``[lon, lat]`` points, metres (haversine)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(min(1.0, h)))


def _bbox(coords: list[list[float]]) -> tuple[float, float, float, float]:
    xs = [c[0] for c in coords]
    ys = [c[1] for c in coords]
    return min(xs), min(ys), max(xs), max(ys)


def _boxes_near(a, b, metres: float) -> bool:
    """Whether two lon/lat boxes come within ``metres`` of each other."""
    dlat = metres / _METRES_PER_DEGREE
    dlon = dlat / max(0.1, math.cos(math.radians((a[1] + b[3]) / 2)))
    return not (a[2] + dlon < b[0] or b[2] + dlon < a[0] or a[3] + dlat < b[1] or b[3] + dlat < a[1])


def _streets_from_ways(ways: list[_Way]) -> list[Street]:
    """Group ways by name, then split each name into streets of touching or near ways."""
    by_key: dict[str, list[_Way]] = {}
    for way in sorted(ways, key=lambda w: w.way_id):
        by_key.setdefault(name_key(way.name), []).append(way)
    streets: list[Street] = []
    for key in sorted(by_key):
        group = by_key[key]
        parent = list(range(len(group)))

        def find(i: int, parent: list[int] = parent) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        boxes = [_bbox(w.coords) for w in group]
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                if find(i) != find(j) and (
                    group[i].node_ids & group[j].node_ids or _boxes_near(boxes[i], boxes[j], STREET_JOIN_M)
                ):
                    parent[find(i)] = find(j)
        clusters: dict[int, list[_Way]] = {}
        for i, way in enumerate(group):
            clusters.setdefault(find(i), []).append(way)
        for members in sorted(clusters.values(), key=lambda m: m[0].way_id):
            names = list(dict.fromkeys(n for w in members for n in [w.name, *w.keys]))
            keys = list(dict.fromkeys(k for k in (name_key(n) for n in names) if k))
            lines = [w.coords for w in members]
            streets.append(Street(name=members[0].name, keys=keys, lines=lines, point=_middle(lines)))
    return streets


def _middle(lines: list[list[list[float]]]) -> list[float]:
    """The point halfway along the longest line: where a street-precision answer goes."""
    longest = max(lines, key=_length_m)
    half = _length_m(longest) / 2
    walked = 0.0
    for a, b in zip(longest, longest[1:]):
        step = metres_between(a, b)
        if walked + step >= half and step > 0:
            t = (half - walked) / step
            return [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
        walked += step
    return list(longest[0])


def _length_m(line: list[list[float]]) -> float:
    return sum(metres_between(a, b) for a, b in zip(line, line[1:]))


def _distance_to_street_m(point: list[float], street: Street) -> float:
    """Distance from ``point`` to the nearest vertex of ``street``, metres (an upper bound)."""
    return min(metres_between(point, c) for line in street.lines for c in line)


def _attach_houses(streets: list[Street], houses: list[tuple[str, str, str, list[float]]]) -> None:
    """Put each house on the nearest street of its ``addr:street`` name, or on one of its own."""
    by_key: dict[str, list[int]] = {}
    for k, street in enumerate(streets):
        for key in street.keys:
            by_key.setdefault(key, []).append(k)
    points: dict[tuple[int, str], list[list[float]]] = {}
    orphans: dict[str, list[tuple[str, str, list[float]]]] = {}
    for key, display, number, point in houses:
        number_key = _number_key(number)
        if number_key is None:
            continue
        near = [(_distance_to_street_m(point, streets[k]), k) for k in by_key.get(key, [])]
        near = [(d, k) for d, k in near if d <= HOUSE_ATTACH_M]
        if near:
            points.setdefault((min(near)[1], number_key), []).append(point)
        else:
            orphans.setdefault(key, []).append((display, number_key, point))
    # A street mapped only through its houses' addresses (its road is not in the extract).
    for key in sorted(orphans):
        members = orphans[key]
        streets.append(Street(name=members[0][0], keys=[key], lines=[], point=_mean([p for _, _, p in members])))
        for _, number_key, p in members:
            points.setdefault((len(streets) - 1, number_key), []).append(p)
    for (k, number_key), found in sorted(points.items()):
        streets[k].houses[number_key] = _mean(found)


def _number_key(number: str) -> str | None:
    """``"12 A"`` → ``"12a"``; the first of ``"12;14"`` or ``"12-14"``; ``None`` without a digit."""
    from schoolbus.geocode.normalize import fold

    first = number.replace(";", ",").replace("-", ",").split(",")[0]
    key = fold(first).replace(" ", "")
    return key if key and key[0].isdigit() else None


def _street_geometry(street: Street, shapely):
    lines = [line for line in street.lines if len(line) > 1]
    if lines:
        return shapely.MultiLineString(lines)
    points = [c for line in street.lines for c in line] + list(street.houses.values())
    return shapely.MultiPoint(points or [street.point])


def _areas(streets, polygons, places, shapely) -> list[Area]:
    """Admin polygons and place points, each with the ids of the streets within it."""
    geometries = [_street_geometry(s, shapely) for s in streets]
    tree = shapely.STRtree(geometries)
    areas: list[Area] = []
    for name, names, kind, polygon in polygons:
        inside = sorted(int(i) for i in tree.query(polygon, predicate="intersects"))
        point = polygon.representative_point()
        areas.append(Area(name, _area_keys(names), kind, [point.x, point.y], inside))
    for name, names, place, point in places:
        # A circle in degrees of longitude, the widest way round: the exact test follows.
        radius_deg = PLACE_RADIUS_M[place] / _METRES_PER_DEGREE / max(0.1, math.cos(math.radians(point[1])))
        circle = shapely.Point(point).buffer(radius_deg)
        candidates = tree.query(circle, predicate="intersects")
        inside = sorted(
            int(i)
            for i in candidates
            if _within_m(point, streets[int(i)], PLACE_RADIUS_M[place])
        )
        kind = "district" if place in _DISTRICT_PLACES else "neighbourhood"
        areas.append(Area(name, _area_keys(names), kind, list(point), inside))
    return areas


def _within_m(point: list[float], street: Street, metres: float) -> bool:
    coords = [c for line in street.lines for c in line] or list(street.houses.values()) or [street.point]
    return any(metres_between(point, c) <= metres for c in coords)


def _area_keys(names: list[str]) -> list[str]:
    return list(dict.fromkeys(k for k in (area_key(n) for n in names) if k))
