"""OSM tag rules: which ways a bus may drive (and in which direction), where a pupil may walk, and
how fast a school bus goes.

Every road source (OSM files, a municipal road layer, an Overpass download, an osmnx GraphML file)
is reduced to OSM-style tags before any graph is built, so these rules decide for all of them.

Bus speeds, km/h, when a way has no usable ``maxspeed`` tag (urban school-bus speeds, below the
legal limits because a bus brakes, turns and meets traffic)::

    motorway 90   motorway_link 50   trunk 70   trunk_link 40   primary 50   primary_link 40
    secondary 45  secondary_link 35  tertiary 40  tertiary_link 30  unclassified 30
    residential 30  road 30  living_street 10

A tagged ``maxspeed`` wins (capped at ``BUS_MAX_KPH``); see :func:`parse_maxspeed_kph`.
"""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = [
    "BUS_MAX_KPH",
    "DEFAULT_SPEED_KPH",
    "bus_speed_kph",
    "drive_direction",
    "first_tag",
    "is_drivable",
    "is_walkable",
    "parse_maxspeed_kph",
    "street_name",
    "tag_str",
]

BUS_MAX_KPH = 100.0
"""No bus edge is faster than this: the legal limit for buses on Turkish motorways."""

WALK_MAXSPEED_KPH = 7.0
"""``maxspeed=walk`` (walking pace, living streets): what a vehicle actually does there."""

MPH_TO_KPH = 1.609344
KNOT_TO_KPH = 1.852

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
    text = tag_str(value).lower()
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


def bus_speed_kph(highway: str, maxspeed: str) -> float:
    """Speed of a bus on an edge: the tagged limit (capped), else the class default."""
    tagged = parse_maxspeed_kph(maxspeed)
    if tagged is not None:
        return min(tagged, BUS_MAX_KPH)
    return DEFAULT_SPEED_KPH.get(highway, FALLBACK_SPEED_KPH)


def tag_str(value: object) -> str:
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


def is_drivable(tags: dict[str, str]) -> bool:
    """Whether a bus may drive this way (a drivable class, open to motor vehicles, not an area)."""
    if tags.get("highway") not in DRIVE_HIGHWAYS or tags.get("area") == "yes":
        return False
    if "no" in (tags.get("motor_vehicle"), tags.get("motorcar"), tags.get("vehicle")):
        return False
    if tags.get("access") in NO_ACCESS:
        return tags.get("motor_vehicle") in YES_ACCESS or tags.get("motorcar") in YES_ACCESS
    return True


def drive_direction(tags: dict[str, str]) -> int:
    """0 not drivable, 1 forward only, -1 against the way's direction only, 2 both ways."""
    if not is_drivable(tags):
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


def is_walkable(tags: dict[str, str]) -> bool:
    """Whether a pupil may walk this way (never motorways; cycleways only when ``foot`` allows)."""
    highway = tags.get("highway", "")
    if highway in NOT_WALKABLE_HIGHWAYS or tags.get("area") == "yes" or tags.get("foot") == "no":
        return False
    foot_allowed = tags.get("foot") in YES_ACCESS
    if tags.get("access") in NO_ACCESS and not foot_allowed:
        return False
    if highway == "cycleway":
        return foot_allowed
    return highway in DRIVE_HIGHWAYS or highway in WALK_ONLY_HIGHWAYS


def street_name(tags: dict[str, str]) -> str:
    """The name people know the way by: ``name``, else ``ref``, else ''."""
    return tags.get("name") or tags.get("ref") or ""


def as_list(value: object) -> list[object]:
    """An osmnx attribute as a list (osmnx merges the tags of simplified ways into lists)."""
    return list(value) if isinstance(value, list | tuple) else [value]


def first_tag(value: object, *, rank: bool = False) -> str:
    """One value of a (possibly merged) osmnx attribute; the most important class if ``rank``."""
    values = [tag_str(v) for v in as_list(value) if tag_str(v)]
    if not values:
        return ""
    if rank:
        order = list(DEFAULT_SPEED_KPH)
        return min(values, key=lambda h: order.index(h) if h in order else len(order))
    return values[0]
