"""Names people recognise for bus stops, read off the road graph around each stop.

A stop is a node of the ``loaded`` graph; its name is found in this order (``StopName.kind``):

1. **corner** / **near_corner**: the street the stop is on (the name most of its roads carry) and
   the nearest other named street that meets the road network within ``CROSS_SEARCH_M`` along
   the roads: "Atatürk Cd. / 1203. Sk." (the corner itself when within ``AT_CORNER_M``);
2. **place**: a named place within ``PLACE_SEARCH_M`` in a straight line (the scenario's schools
   and the OSM file's named shops, mosques, pharmacies, parks: ``RoadNetwork.places``),
   "outside Migros";
3. **street**: the stop's own street when no cross street or place is near;
4. **bearing**: on an unnamed road, a distance and compass point from the nearest named street
   within ``NAMED_SEARCH_M`` along the roads;
5. **road**: otherwise the road's class ("service road"), with the stop's coordinates.

A stop is never named by its internal id. ``Stop.name`` holds a plain, language-neutral form for
tables and the map; renderers word ``Stop.where`` in the reader's language.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from schoolbus.model import Location, Stop, StopName, StopNameKind

if TYPE_CHECKING:  # the renderers import coordinates_text without loading the road stack
    from schoolbus.network import RoadNetwork

CROSS_SEARCH_M = 150.0
"""How far along the roads a cross street may be to name a stop's corner."""
AT_CORNER_M = 30.0
"""A cross street nearer than this is the stop's own corner ("X / Y"), not "X, 80 m from Y"."""
PLACE_SEARCH_M = 80.0
"""How far (straight line) a named place may be to name a stop "outside" it."""
NAMED_SEARCH_M = 400.0
"""How far along the roads an unnamed road's stop looks for a named street to be placed from."""
ROUND_TO_M = 10.0
"""Distances in names are rounded to 10 m: nobody paces them more precisely."""
COMPASS_POINTS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")
EARTH_RADIUS_M = 6_371_008.8

NamedPlace = tuple[str, Location]
"""A named place near which stops may be named: ``(name, (lon, lat))``."""


def name_stops(
    stops: Sequence[Stop], network: RoadNetwork, places: Sequence[NamedPlace] = ()
) -> tuple[Stop, ...]:
    """``stops`` with ``name`` and ``where`` set from the roads around them and ``places``.

    Parameters
    ----------
    stops : sequence of Stop
        Stops at nodes of ``network.loaded``.
    network : RoadNetwork
        Street names come from ``network.drive`` (every drivable road, with its ``name`` and
        ``highway`` class), so a cross street a loaded bus may not take still names a corner.
    places : sequence of (name, (lon, lat))
        Named places (schools, landmarks); empty names are ignored.

    Returns
    -------
    tuple of Stop
        In the same order; deterministic for the same graph and places.
    """
    roads = network.drive.to_undirected(as_view=True)
    named_places = _Places([(name.strip(), location) for name, location in places if name and name.strip()])
    cache: dict[int, tuple[str, StopName]] = {}
    named = []
    for stop in stops:
        if stop.node_id not in cache:
            cache[stop.node_id] = _name_node(roads, stop.node_id, stop.location, named_places)
        name, where = cache[stop.node_id]
        named.append(replace(stop, name=name, where=where))
    return tuple(named)


def plain_name(where: StopName, location: Location) -> str:
    """A language-neutral name: "A / B", "A / B (80 m)", "Place (40 m)", "A +120 m NE", "service 39.96012, 32.85011"."""
    distance = f"{where.distance_m:.0f} m"
    if where.kind is StopNameKind.CORNER:
        return f"{where.street} / {where.cross}"
    if where.kind is StopNameKind.NEAR_CORNER:
        return f"{where.street} / {where.cross} ({distance})"
    if where.kind is StopNameKind.PLACE:
        return f"{where.place} ({distance})" if where.distance_m else where.place
    if where.kind is StopNameKind.STREET:
        return where.street
    if where.kind is StopNameKind.BEARING:
        short = "".join(part[0].upper() for part in _compass_parts(where.bearing))
        return f"{where.street} +{distance} {short}"
    return f"{where.road_class or 'road'} {coordinates_text(location)}"


def coordinates_text(location: Location) -> str:
    """``lat, lon`` with 5 decimals (about 1 m), the order phones and maps expect when typed."""
    lon, lat = location
    return f"{lat:.5f}, {lon:.5f}"


def _compass_parts(point: str) -> list[str]:
    for half in ("north", "south"):
        if point.startswith(half) and point != half:
            return [half, point[len(half) :]]
    return [point]


def _names_at(roads: nx.Graph, node: int) -> Counter[str]:
    """Street names of the roads meeting at ``node`` (each road once per end it has here)."""
    return Counter(name for _, _, name in roads.edges(node, data="name") if name)


class _Places:
    """Named places with their positions as arrays, for a vectorised nearest search."""

    def __init__(self, places: Sequence[NamedPlace]) -> None:
        self.names = [name for name, _ in places]
        self.xy = np.array([location for _, location in places], dtype=float).reshape(-1, 2)

    def nearest(self, location: Location, limit_m: float) -> tuple[str, float] | None:
        """The nearest place within ``limit_m`` (ties: the name first in order), with its distance."""
        if not self.names:
            return None
        lon, lat = location
        m_per_deg = math.pi * EARTH_RADIUS_M / 180.0
        dx = (self.xy[:, 0] - lon) * math.cos(math.radians(lat)) * m_per_deg
        dy = (self.xy[:, 1] - lat) * m_per_deg
        distance = np.hypot(dx, dy)
        (near,) = np.nonzero(distance <= limit_m)
        if near.size == 0:
            return None
        best = min(near.tolist(), key=lambda i: (float(distance[i]), self.names[i]))
        return self.names[best], float(distance[best])


def _name_node(roads: nx.Graph, node: int, location: Location, places: _Places) -> tuple[str, StopName]:
    here = _names_at(roads, node)
    street = min(here.items(), key=lambda kv: (-kv[1], kv[0]))[0] if here else ""
    where = None
    if street:
        cross = _nearest_other_street(roads, node, street, CROSS_SEARCH_M)
        if cross is not None:
            cross_name, along_m = cross
            if along_m <= AT_CORNER_M:
                where = StopName(StopNameKind.CORNER, street=street, cross=cross_name)
            else:
                where = StopName(
                    StopNameKind.NEAR_CORNER, street=street, cross=cross_name, distance_m=_rounded(along_m)
                )
    if where is None:
        place = places.nearest(location, PLACE_SEARCH_M)
        if place is not None:
            where = StopName(StopNameKind.PLACE, street=street, place=place[0], distance_m=_rounded(place[1]))
    if where is None and street:
        where = StopName(StopNameKind.STREET, street=street)
    if where is None:
        found = _nearest_named_node(roads, node, NAMED_SEARCH_M)
        if found is not None:
            named_node, name = found
            data = roads.nodes[named_node]
            origin = (float(data["x"]), float(data["y"]))
            where = StopName(
                StopNameKind.BEARING,
                street=name,
                distance_m=_rounded(_distance_m(origin, location)),
                bearing=COMPASS_POINTS[round(_bearing_deg(origin, location) / 45.0) % 8],
            )
    if where is None:
        classes = Counter(str(h) for _, _, h in roads.edges(node, data="highway") if h)
        road_class = min(classes.items(), key=lambda kv: (-kv[1], kv[0]))[0] if classes else ""
        where = StopName(StopNameKind.ROAD, road_class=road_class)
    return plain_name(where, location), where


def _nearest_other_street(roads: nx.Graph, node: int, street: str, limit_m: float) -> tuple[str, float] | None:
    """The nearest node along the roads where a named street other than ``street`` meets, with its distance."""
    lengths = nx.single_source_dijkstra_path_length(roads, node, cutoff=limit_m, weight="length")
    best: tuple[float, str] | None = None
    for other, along_m in lengths.items():
        for name in _names_at(roads, other):
            if name != street and (best is None or (along_m, name) < best):
                best = (along_m, name)
    return None if best is None else (best[1], best[0])


def _nearest_named_node(roads: nx.Graph, node: int, limit_m: float) -> tuple[int, str] | None:
    lengths = nx.single_source_dijkstra_path_length(roads, node, cutoff=limit_m, weight="length")
    best: tuple[float, str, int] | None = None
    for other, along_m in lengths.items():
        for name in _names_at(roads, other):
            if best is None or (along_m, name, other) < best:
                best = (along_m, name, other)
    return None if best is None else (best[2], best[1])


def _rounded(metres: float) -> float:
    return float(round(metres / ROUND_TO_M) * ROUND_TO_M)


def _distance_m(a: Location, b: Location) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _bearing_deg(a: Location, b: Location) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x)) % 360.0
