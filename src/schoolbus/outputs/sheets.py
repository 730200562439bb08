"""Printable route sheets (one per vehicle-day) and parent notices (one per family), HTML and PDF.

A route sheet is what a driver and escort carry: the vehicle, blank fields for plate, names and
signatures, then each trip in order with its stops and times, who boards and alights (id and
initials, never names or addresses), turn-by-turn directions read off the trip's road path, and a
small map of that path drawn as inline SVG, which prints sharply. A parent notice tells a family
where and when the bus stops for each of their children, in the family's language.

Every word comes from the gettext catalogues (Turkish by default, English, Arabic); Arabic pages
are laid out right to left and WeasyPrint shapes the script with a font that covers it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from markupsafe import Markup

from schoolbus.executor import Executor, ProgressFn, SerialExecutor
from schoolbus.model import (
    Assignment,
    Direction,
    Location,
    Plan,
    School,
    Status,
    Stop,
    Student,
    Trip,
    VehicleDay,
)
from schoolbus.outputs.export import path_from_steps
from schoolbus.outputs.i18n import (
    COMPASS_WORDS,
    DEFAULT_LANGUAGE,
    check_language,
    clock,
    coordinates_text,
    font_stack,
    format_distance,
    format_duration,
    geo_qr_svg,
    geo_uri,
    isolate,
    language_or_default,
    road_class_word,
    shift_label,
    stop_label,
    template_environment,
    text_direction,
    translations,
)

EARTH_RADIUS_M = 6_371_008.8
STRAIGHT_WITHIN_DEG = 25.0
"""A change of heading smaller than this at a junction reads as going straight on."""
SLIGHT_WITHIN_DEG = 60.0
"""Up to this it is a slight turn (bear left/right); beyond it a turn."""
U_TURN_FROM_DEG = 150.0
VISIT_MATCH_M = 25.0
"""A visit belongs at the first path point within this distance of its place."""
MIN_SEGMENT_M = 0.5
"""Segments shorter than this carry no usable heading (repeated or snapped points)."""
SHORT_CONNECTOR_M = 30.0
"""An unnamed stretch shorter than this between two turns (a slip road, a junction link) is no
instruction of its own: it is folded into the turns around it."""
COMPASS_POINTS = (
    "north",
    "northeast",
    "east",
    "southeast",
    "south",
    "southwest",
    "west",
    "northwest",
)

SVG_WIDTH, SVG_HEIGHT, SVG_PADDING = 320.0, 200.0, 18.0
SCALE_BAR_SPACE_PX = 14.0
"""Room kept free at the bottom of the thumbnail for the scale bar."""
SCALE_BAR_LENGTHS_M = (25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000)
SAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]+")
NOTICE_DENSITIES = ("roomy", "compact", "dense", "tight")
"""Type sizes of a parent notice, largest first (CSS classes of ``parent_notice.html``)."""
NOTICE_CHILDREN_PER_DENSITY = (1, 3)
"""Up to 1 child a notice starts roomy, up to 3 compact, beyond that dense."""


# --------------------------------------------------------------------------------------------------
# Turn-by-turn directions from a trip's road steps
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manoeuvre:
    """Drive ``distance_m`` along ``street`` after doing ``action`` at its start.

    ``action`` is one of ``depart``, ``continue`` (same street, after a stop), ``straight``,
    ``slight_left``, ``slight_right``, ``left``, ``right``, ``uturn`` (turn around and drive back,
    e.g. out of a dead end); ``compass`` is the heading when driving off (one of
    :data:`COMPASS_POINTS`). ``road_class`` (OSM ``highway``) names an unnamed road.
    """

    action: str
    street: str
    distance_m: float
    compass: str
    road_class: str = ""
    turn: float = 0.0
    """The signed change of heading at its start (see :func:`turn_deg`), degrees; 0 on departure."""


@dataclass(frozen=True)
class Arrival:
    """The trip reaches its visit number ``visit_index`` (0-based) here."""

    visit_index: int


def bearing_deg(a: Location, b: Location) -> float:
    """Initial great-circle bearing from ``a`` to ``b``: degrees clockwise from north, [0, 360)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x)) % 360.0


def distance_m(a: Location, b: Location) -> float:
    """Great-circle (haversine) distance in metres; only used to split a step's length at a stop."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def turn_deg(heading_in_deg: float, heading_out_deg: float) -> float:
    """Signed change of heading in (-180, 180]: positive is a turn to the right (clockwise)."""
    turn = (heading_out_deg - heading_in_deg + 180.0) % 360.0 - 180.0
    return 180.0 if turn == -180.0 else turn


def action_from_turn(turn: float, *, same_street: bool) -> str:
    """Name the manoeuvre for a signed heading change (see :func:`turn_deg`)."""
    size = abs(turn)
    if size < STRAIGHT_WITHIN_DEG:
        return "continue" if same_street else "straight"
    if size >= U_TURN_FROM_DEG:
        return "uturn"
    side = "right" if turn > 0 else "left"
    return f"slight_{side}" if size < SLIGHT_WITHIN_DEG else side


def compass_from_bearing(bearing: float) -> str:
    """The nearest of the eight compass points to ``bearing`` (degrees)."""
    return COMPASS_POINTS[round(bearing / 45.0) % len(COMPASS_POINTS)]


def _heading(coords: list[Location], *, at_end: bool) -> float | None:
    """Heading of the first (or last) segment of ``coords`` long enough to have one."""
    pairs = list(zip(coords, coords[1:]))
    for a, b in reversed(pairs) if at_end else pairs:
        if distance_m(a, b) >= MIN_SEGMENT_M:
            return bearing_deg(a, b)
    return None


def _geometric_length_m(coords) -> float:
    return sum(distance_m(a, b) for a, b in zip(coords, coords[1:]))


def directions(trip: Trip, places: dict[int, Location]) -> list[Manoeuvre | Arrival]:
    """Turn-by-turn directions of ``trip`` with its visits placed where the path reaches them.

    Parameters
    ----------
    trip
        A trip whose ``steps`` run from its first visit to its last.
    places
        Location of each visit by visit index (stops and schools), ``(lon, lat)``.

    Returns
    -------
    list
        ``Manoeuvre`` and ``Arrival`` items in driving order. The first visit is the start and has
        no ``Arrival``. A step that passes a visit half-way is cut there; its plan length is shared
        between the two parts in proportion to their geometric length, so the parts add up to the
        plan's figure.
    """
    steps = [s for s in trip.steps if len(s.coords) >= 1]
    if not steps:
        return [Arrival(i) for i in range(1, len(trip.visits))]
    flat = [(j, k, tuple(p)) for j, step in enumerate(steps) for k, p in enumerate(step.coords)]
    cursor = 0
    cuts: dict[int, list[tuple[int, int]]] = {}  # step index → [(coord index, visit index)]
    for visit_index in range(1, len(trip.visits)):
        place = places.get(visit_index)
        if place is None:
            continue
        remaining = flat[cursor:]
        near = [n for n, (_, _, p) in enumerate(remaining) if distance_m(p, place) <= VISIT_MATCH_M]
        best = (
            near[0]
            if near
            else min(range(len(remaining)), key=lambda n: distance_m(remaining[n][2], place))
        )
        cursor += best
        j, k, _ = flat[cursor]
        cuts.setdefault(j, []).append((k, visit_index))

    items: list[Manoeuvre | Arrival] = []
    previous_heading: float | None = None
    previous_street: str | None = None
    for j, step in enumerate(steps):
        coords = [tuple(p) for p in step.coords]
        step_cuts = sorted(cuts.get(j, []))
        turnarounds = _turnarounds(coords)
        bounds = (
            [0]
            + sorted({k for k, _ in step_cuts if 0 < k < len(coords) - 1} | turnarounds)
            + [len(coords) - 1]
        )
        total_geo_m = _geometric_length_m(coords)
        for k, visit_index in step_cuts:
            if k == 0:
                items.append(Arrival(visit_index))
        for piece, (start, end) in enumerate(zip(bounds, bounds[1:])):
            part = coords[start : end + 1]
            share = (
                _geometric_length_m(part) / total_geo_m
                if total_geo_m > 0
                else (1.0 if piece == 0 else 0.0)
            )
            heading = _heading(part, at_end=False)
            if heading is None:
                heading = previous_heading if previous_heading is not None else 0.0
            turn = 0.0 if previous_heading is None else turn_deg(previous_heading, heading)
            if piece > 0:
                # Past a stop or a dead end on the same street: drive on, or turn back.
                action = "uturn" if abs(turn) >= U_TURN_FROM_DEG else "continue"
            elif previous_heading is None:
                action = "depart"
            else:
                action = action_from_turn(turn, same_street=step.street == previous_street)
            distance = step.distance_m * share
            previous = items[-1] if items else None
            is_unnamed_on = (
                not step.street
                and isinstance(previous, Manoeuvre)
                and not previous.street
                and action in ("continue", "straight")
            )
            if (
                action == "continue"
                and isinstance(previous, Manoeuvre)
                and previous.street == step.street
            ) or is_unnamed_on:
                # A street the road data splits into several steps reads as one line, and so do
                # unnamed stretches driven straight on (one "service road", not three lines).
                items[-1] = dataclasses.replace(previous, distance_m=previous.distance_m + distance)
            else:
                items.append(
                    Manoeuvre(
                        action, step.street, distance, compass_from_bearing(heading), step.road_class, turn
                    )
                )
            for k, visit_index in step_cuts:
                if k == end and k > 0:
                    items.append(Arrival(visit_index))
            end_heading = _heading(part, at_end=True)
            previous_heading = end_heading if end_heading is not None else heading
        previous_street = step.street
    arrived = {item.visit_index for item in items if isinstance(item, Arrival)}
    # Visits the path never reached (no places given) still get their line, at the end.
    items.extend(Arrival(i) for i in range(1, len(trip.visits)) if i not in arrived)
    return _merge_short_connectors(items)


def _merge_short_connectors(items: list[Manoeuvre | Arrival]) -> list[Manoeuvre | Arrival]:
    """Fold an unnamed stretch shorter than :data:`SHORT_CONNECTOR_M` between two turns into them.

    A slip road or junction link of a few metres is no instruction a driver can follow ("after
    10 m, go straight on"): its length joins the stretch before it and its change of heading the
    next turn, so "after 450 m, turn right onto Eteläesplanadi" is said once. Distances still add
    up to the trip's.
    """
    merged: list[Manoeuvre | Arrival] = []
    k = 0
    while k < len(items):
        item = items[k]
        following = items[k + 1] if k + 1 < len(items) else None
        before = merged[-1] if merged else None
        if (
            isinstance(item, Manoeuvre)
            and isinstance(following, Manoeuvre)
            and isinstance(before, Manoeuvre)
            and not item.street
            and item.distance_m < SHORT_CONNECTOR_M
            and item.action not in ("depart", "uturn")
            and following.action != "uturn"
        ):
            turn = turn_deg(0.0, (item.turn + following.turn) % 360.0)
            same_street = bool(following.street) and following.street == before.street
            action = action_from_turn(turn, same_street=same_street)
            if action == "continue":
                merged[-1] = dataclasses.replace(before, distance_m=before.distance_m + item.distance_m + following.distance_m)
            else:
                merged[-1] = dataclasses.replace(before, distance_m=before.distance_m + item.distance_m)
                merged.append(dataclasses.replace(following, action=action, turn=turn))
            k += 2
            continue
        merged.append(item)
        k += 1
    return merged


def _turnarounds(coords: list[Location]) -> set[int]:
    """Interior points of a path where it turns back on itself (the end of a dead end).

    Headings come from the nearest segments long enough to have one (``MIN_SEGMENT_M``), found in
    one pass each way, so a long street costs linear time.
    """
    n = len(coords)
    segment = [
        bearing_deg(a, b) if distance_m(a, b) >= MIN_SEGMENT_M else None
        for a, b in zip(coords, coords[1:])
    ]
    arriving: list[float | None] = [None] * n  # heading of the last usable segment ending at k
    for k in range(1, n):
        arriving[k] = segment[k - 1] if segment[k - 1] is not None else arriving[k - 1]
    leaving: list[float | None] = [None] * n  # heading of the first usable segment from k on
    for k in range(n - 2, -1, -1):
        leaving[k] = segment[k] if segment[k] is not None else leaving[k + 1]
    return {
        k
        for k in range(1, n - 1)
        if arriving[k] is not None
        and leaving[k] is not None
        and abs(turn_deg(arriving[k], leaving[k])) >= U_TURN_FROM_DEG
    }


SAY_AFTER_FROM_M = 5.0
"""A turn this close after the last one (or less) is said without "after … m": it rounds to 0 m."""
OUT_AND_BACK_WITHIN = 0.25
"""A turn-around driving back this share (or less) more or less than the way out is an out-and-back."""


def _phrases(tr) -> dict[tuple[str, bool, bool], str]:
    """Each sentence by (action, named street?, said with the distance driven before it?).

    Every message is a whole sentence of the catalogue, never glued from translated pieces.
    """
    return {
        ("continue", True, False): tr.gettext("Continue on %(street)s"),
        ("continue", True, True): tr.gettext("After %(distance)s, continue on %(street)s"),
        ("straight", True, False): tr.gettext("Go straight on to %(street)s"),
        ("straight", True, True): tr.gettext("After %(distance)s, go straight on to %(street)s"),
        ("slight_left", True, False): tr.gettext("Bear left onto %(street)s"),
        ("slight_left", True, True): tr.gettext("After %(distance)s, bear left onto %(street)s"),
        ("slight_right", True, False): tr.gettext("Bear right onto %(street)s"),
        ("slight_right", True, True): tr.gettext("After %(distance)s, bear right onto %(street)s"),
        ("left", True, False): tr.gettext("Turn left onto %(street)s"),
        ("left", True, True): tr.gettext("After %(distance)s, turn left onto %(street)s"),
        ("right", True, False): tr.gettext("Turn right onto %(street)s"),
        ("right", True, True): tr.gettext("After %(distance)s, turn right onto %(street)s"),
        ("uturn", True, False): tr.gettext("Turn around and drive back along %(street)s"),
        ("uturn", True, True): tr.gettext("After %(distance)s, turn around and drive back along %(street)s"),
        ("depart", True, False): tr.gettext("Head %(compass)s on %(street)s"),
        ("continue", False, False): tr.gettext("Continue along the %(road)s"),
        ("continue", False, True): tr.gettext("After %(distance)s, continue along the %(road)s"),
        ("straight", False, False): tr.gettext("Go straight on along the %(road)s"),
        ("straight", False, True): tr.gettext("After %(distance)s, go straight on along the %(road)s"),
        ("slight_left", False, False): tr.gettext("Bear left and follow the %(road)s"),
        ("slight_left", False, True): tr.gettext("After %(distance)s, bear left and follow the %(road)s"),
        ("slight_right", False, False): tr.gettext("Bear right and follow the %(road)s"),
        ("slight_right", False, True): tr.gettext("After %(distance)s, bear right and follow the %(road)s"),
        ("left", False, False): tr.gettext("Turn left and follow the %(road)s"),
        ("left", False, True): tr.gettext("After %(distance)s, turn left and follow the %(road)s"),
        ("right", False, False): tr.gettext("Turn right and follow the %(road)s"),
        ("right", False, True): tr.gettext("After %(distance)s, turn right and follow the %(road)s"),
        ("uturn", False, False): tr.gettext("Turn around and drive back along the %(road)s"),
        ("uturn", False, True): tr.gettext("After %(distance)s, turn around and drive back along the %(road)s"),
        ("depart", False, False): tr.gettext("Head %(compass)s on the %(road)s"),
    }


def describe(
    manoeuvre: Manoeuvre, tr, language: str = DEFAULT_LANGUAGE, *, after_m: float | None = None,
    out_and_back: bool = False,
) -> Markup:
    """One direction as a translated sentence, the street name isolated for right-to-left pages.

    ``after_m`` is the distance driven since the previous instruction: a driver is told "after
    200 m, turn right" (said when it rounds to at least :data:`SAY_AFTER_FROM_M`). An unnamed
    road is called by its class in words ("follow the service road"), so a run of unnamed roads
    never reads "onto unnamed road". ``out_and_back`` says a turn-around drives back the same
    stretch it came out on (a dead end or a stop at the end of a road), with its length.
    """
    named = bool(manoeuvre.street)
    values = {
        "street": isolate(manoeuvre.street) if named else "",
        "road": road_class_word(manoeuvre.road_class, language),
        "compass": _compass_word(manoeuvre.compass, tr),
        "distance": format_distance(after_m, language) if after_m is not None else "",
        "back": format_distance(manoeuvre.distance_m, language),
    }
    if out_and_back and manoeuvre.action == "uturn":
        sentence = (
            tr.gettext("Turn around and drive the same %(back)s back along %(street)s")
            if named
            else tr.gettext("Turn around and drive the same %(back)s back along the %(road)s")
        )
        return Markup(sentence) % values
    said_after = (
        manoeuvre.action != "depart" and after_m is not None and after_m >= SAY_AFTER_FROM_M
    )
    return Markup(_phrases(tr)[manoeuvre.action, named, said_after]) % values


def direction_lines(items: list[Manoeuvre | Arrival], tr, language: str) -> list[dict]:
    """The directions as a driver reads them: each turn with the distance driven before it.

    Returns dicts with ``arrival`` (bool); an arrival carries ``visit_index`` and ``after`` (the
    distance from the last instruction, ``""`` when none), a turn its ``text``.
    """
    lines: list[dict] = []
    driven_m: float | None = None  # since the last instruction; None right after a visit
    for k, item in enumerate(items):
        if isinstance(item, Arrival):
            after = format_distance(driven_m, language) if driven_m and driven_m >= SAY_AFTER_FROM_M else ""
            lines.append({"arrival": True, "visit_index": item.visit_index, "after": after})
            driven_m = None
            continue
        text = describe(item, tr, language, after_m=driven_m, out_and_back=_is_out_and_back(items, k))
        lines.append({"arrival": False, "text": _sentence_case(text, language)})
        driven_m = item.distance_m
    return lines


def _sentence_case(text: Markup, language: str) -> Markup:
    """``text`` with a capital first letter (a sentence may open with a road word: "sokak boyunca…").

    Turkish capitalises dotted ``i`` as ``İ``; a sentence that opens with markup (an isolated street
    name) or a digit is left as it is.
    """
    first = text[:1]
    if not first.isalpha() or first.isupper():
        return text
    upper = "İ" if language == "tr" and first == "i" else first.upper()
    return Markup(upper) + text[1:]


def _is_out_and_back(items: list[Manoeuvre | Arrival], k: int) -> bool:
    """Whether the turn-around ``items[k]`` drives back the stretch the last manoeuvre came out on."""
    uturn = items[k]
    if not isinstance(uturn, Manoeuvre) or uturn.action != "uturn":
        return False
    out = next((i for i in reversed(items[:k]) if isinstance(i, Manoeuvre)), None)
    if out is None or (out.street, out.road_class) != (uturn.street, uturn.road_class) or out.distance_m <= 0:
        return False
    return abs(uturn.distance_m - out.distance_m) <= OUT_AND_BACK_WITHIN * out.distance_m


def _compass_word(point: str, tr) -> str:
    return tr.gettext(COMPASS_WORDS[point])


# --------------------------------------------------------------------------------------------------
# A small static map of one trip, as SVG
# --------------------------------------------------------------------------------------------------


class StreetLines:
    """The roads around a plan, for drawing under a trip's map (no tiles needed).

    Built once from a road graph (its edges' geometry, each two-way street once) and queried by
    bounding box, so every sheet of a district draws its own neighbourhood quickly.
    """

    def __init__(self, graph) -> None:
        lines: list[tuple[tuple[Location, ...], str]] = []
        seen: set[tuple[int, int]] = set()
        for u, v, data in graph.edges(data=True):
            if (v, u) in seen or (u, v) in seen:
                continue
            seen.add((u, v))
            geometry = data.get("geometry")
            coords = (
                tuple((float(x), float(y)) for x, y in geometry.coords)
                if geometry is not None
                else (
                    (float(graph.nodes[u]["x"]), float(graph.nodes[u]["y"])),
                    (float(graph.nodes[v]["x"]), float(graph.nodes[v]["y"])),
                )
            )
            name = data.get("name") or ""
            lines.append((coords, name[0] if isinstance(name, list) else str(name)))
        self.lines = lines
        # Bounding boxes as arrays: a query is one vectorised comparison, fast on a 50,000-node grid.
        self._boxes = np.array(
            [
                (min(p[0] for p in c), min(p[1] for p in c), max(p[0] for p in c), max(p[1] for p in c))
                for c, _ in lines
            ],
            dtype=float,
        ).reshape(-1, 4)

    def within(self, west: float, south: float, east: float, north: float) -> list[tuple[Location, ...]]:
        """The lines whose bounding box meets the given box (degrees), in the graph's edge order."""
        w, s, e, n = self._boxes.T
        hits = np.flatnonzero((w <= east) & (e >= west) & (s <= north) & (n >= south))
        return [self.lines[i][0] for i in hits]


STREET_MARGIN_SHARE = 0.15
"""Streets are drawn this share beyond the trip's own extent on each side."""
INSET_HALF_WIDTH_M = 120.0
"""A stop-area inset shows this many metres either side of the stop."""
INSET_SIZE_PX = 110.0


def route_svg(
    trip: Trip, places: dict[int, Location], language: str, streets: StreetLines | None = None
) -> Markup:
    """An inline SVG of the trip's road path with numbered visits, a scale bar and a north arrow.

    Drawn in an equirectangular projection around the trip's mean latitude (distortion well under
    1 % across a town), which is all a printed thumbnail needs. With ``streets`` the surrounding
    roads are drawn in grey beneath the route, so the thumbnail reads as a map.
    """
    path = path_from_steps(trip)
    points = path + list(places.values())
    if not points:
        return Markup("")
    lat0 = math.radians(sum(p[1] for p in points) / len(points))
    m_per_deg = math.pi * EARTH_RADIUS_M / 180.0

    def xy_m(p: Location) -> tuple[float, float]:
        return (p[0] * math.cos(lat0) * m_per_deg, p[1] * m_per_deg)

    xs, ys = zip(*(xy_m(p) for p in points))
    width_m = max(max(xs) - min(xs), 1.0)
    height_m = max(max(ys) - min(ys), 1.0)
    drawable_w = SVG_WIDTH - 2 * SVG_PADDING
    drawable_h = SVG_HEIGHT - 2 * SVG_PADDING - SCALE_BAR_SPACE_PX
    scale = min(drawable_w / width_m, drawable_h / height_m)
    x_off = (SVG_WIDTH - width_m * scale) / 2
    y_off = (SVG_HEIGHT - SCALE_BAR_SPACE_PX - height_m * scale) / 2

    def to_svg(p: Location) -> tuple[float, float]:
        x, y = xy_m(p)
        return (round(x_off + (x - min(xs)) * scale, 1), round(y_off + (max(ys) - y) * scale, 1))

    bar_m = max(
        [b for b in SCALE_BAR_LENGTHS_M if b * scale <= drawable_w / 3] or [SCALE_BAR_LENGTHS_M[0]]
    )
    markers = [
        {
            "x": to_svg(place)[0],
            "y": to_svg(place)[1],
            "number": index + 1,
            "is_start": index == 0,
            "is_school": trip.visits[index].school_id is not None,
        }
        for index, place in sorted(places.items())
    ]
    background = []
    if streets is not None:
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        pad_lon = (max(lons) - min(lons)) * STREET_MARGIN_SHARE + 1e-4
        pad_lat = (max(lats) - min(lats)) * STREET_MARGIN_SHARE + 1e-4
        background = [
            " ".join(f"{x},{y}" for x, y in map(to_svg, line))
            for line in streets.within(min(lons) - pad_lon, min(lats) - pad_lat, max(lons) + pad_lon, max(lats) + pad_lat)
        ]
    svg = (
        template_environment(language)
        .get_template("route_map.svg")
        .render(
            width=round(SVG_WIDTH),
            height=round(SVG_HEIGHT),
            padding=round(SVG_PADDING),
            streets=background,
            path=" ".join(f"{x},{y}" for x, y in map(to_svg, path)) if len(path) >= 2 else "",
            markers=markers,
            bar_px=round(bar_m * scale, 1),
            bar_label=format_distance(bar_m, language),
        )
    )
    return Markup(svg)


def stop_inset_svg(location: Location, path: list[Location], streets: StreetLines) -> Markup:
    """A small square map of the streets around a stop, the trip's path through it and the stop.

    ``INSET_HALF_WIDTH_M`` either side of the stop, north up; drawn from the local road graph.
    """
    lon0, lat0 = location
    m_per_deg = math.pi * EARTH_RADIUS_M / 180.0
    half_lat = INSET_HALF_WIDTH_M / m_per_deg
    half_lon = half_lat / max(0.01, math.cos(math.radians(lat0)))
    scale = INSET_SIZE_PX / 2

    def to_svg(p: Location) -> str:
        x = scale + (p[0] - lon0) / half_lon * scale
        y = scale - (p[1] - lat0) / half_lat * scale
        return f"{x:.1f},{y:.1f}"

    lines = streets.within(lon0 - half_lon, lat0 - half_lat, lon0 + half_lon, lat0 + half_lat)
    size = round(INSET_SIZE_PX)
    parts = [
        f'<svg class="stop-inset" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size}" height="{size}" direction="ltr">',
        f'<rect x="0" y="0" width="{size}" height="{size}" fill="#f7f6f2" stroke="#999"/>',
    ]
    parts += [
        f'<polyline points="{" ".join(to_svg(p) for p in line)}" fill="none" stroke="#b8b8b8" stroke-width="3"/>'
        for line in lines
    ]
    if len(path) >= 2:
        parts.append(
            f'<polyline points="{" ".join(to_svg(p) for p in path)}" fill="none" stroke="#1f5fa8" '
            'stroke-width="2.5" stroke-linejoin="round"/>'
        )
    parts.append(f'<circle cx="{scale:.1f}" cy="{scale:.1f}" r="5" fill="#d62728" stroke="#fff" stroke-width="1.5"/>')
    parts.append("</svg>")
    # Only numbers and fixed markup: nothing here comes from user text.
    return Markup("".join(parts))


# --------------------------------------------------------------------------------------------------
# Route sheets
# --------------------------------------------------------------------------------------------------


def _places(trip: Trip, stops: dict[str, Stop], schools: dict) -> dict[int, Location]:
    places: dict[int, Location] = {}
    for i, visit in enumerate(trip.visits):
        if visit.stop_id in stops:
            places[i] = stops[visit.stop_id].location
        elif visit.school_id in schools:
            places[i] = schools[visit.school_id].location
    return places


def _student_label(students: dict[str, Student], student_id: str, tr) -> str:
    student = students.get(student_id)
    text = (
        f"{student_id} {student.initials}"
        if student is not None and student.initials
        else student_id
    )
    if student is not None and student.needs_wheelchair:
        wheelchair = tr.gettext("wheelchair")
        text += f" ({wheelchair})"
    return text


def _trip_view(trip: Trip, plan: Plan, language: str, tr, lookups, streets: StreetLines | None = None) -> dict:
    stops, schools, students = lookups
    path = path_from_steps(trip)
    places = _places(trip, stops, schools)
    rows = []
    for i, visit in enumerate(trip.visits):
        where = places.get(i)
        if visit.stop_id is not None:
            stop = stops.get(visit.stop_id)
            name = stop_label(stop, language) if stop else tr.gettext("stop")
            kind = "door" if stop is not None and stop.is_door_to_door else "stop"
        else:
            school = schools.get(visit.school_id)
            name = school.name if school else visit.school_id
            kind = "school"
        rows.append(
            {
                "seq": i + 1,
                "name": name,
                # A shared stop's place, to find it; schools are known, and a door-to-door stop's
                # point is a pupil's home, which sheets never print.
                "coordinates": coordinates_text(where) if where and kind == "stop" else "",
                "geo": geo_uri(where) if where and kind == "stop" else "",
                "qr": geo_qr_svg(where) if where and kind == "stop" else "",
                "inset": stop_inset_svg(where, path, streets) if where and kind == "stop" and streets else "",
                "place_id": visit.stop_id or visit.school_id,
                "kind": kind,
                "arrive": clock(visit.arrive_s),
                "depart": clock(visit.depart_s),
                "board": [_student_label(students, s, tr) for s in visit.board],
                "alight": [_student_label(students, s, tr) for s in visit.alight],
            }
        )
    lines = direction_lines(directions(trip, places), tr, language)
    for line in lines:
        if line["arrival"]:
            line["row"] = rows[line["visit_index"]]
    school = schools.get(trip.school_id)
    return {
        "trip": trip,
        "school_name": school.name if school else trip.school_id,
        "shift_name": shift_label(trip.shift, language),
        "is_to_school": trip.direction is Direction.TO_SCHOOL,
        "rows": rows,
        "start_row": rows[0] if rows else None,
        "directions": lines,
        "svg": route_svg(trip, places, language, streets),
        "distance": format_distance(trip.distance_m, language),
        "duration": format_duration(trip.duration_s),
        "n_pupils": len({s for v in trip.visits for s in (*v.board, *v.alight)}),
    }


@functools.cache
def _font_config():
    """One WeasyPrint font configuration per process: a new one per document leaks about 0.2 MB in
    fontconfig, which over thousands of notices is memory that grows with the number of pupils."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def _safe_name(text: str) -> str:
    return SAFE_FILENAME.sub("_", text) or "_"


def _ascii_name(text: str) -> str:
    """``text`` as a portable file name part: Turkish and other accented letters lose their marks."""
    plain = unicodedata.normalize("NFKD", text.replace("ı", "i")).encode("ascii", "ignore").decode()
    return _safe_name(plain)


def render_route_sheets(
    plan: Plan,
    out_dir: str | Path,
    *,
    language: str = DEFAULT_LANGUAGE,
    contractor: str = "",
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
    roads=None,
) -> list[Path]:
    """Write one printable A4 route sheet per vehicle-day, as HTML and as PDF.

    Each sheet is rendered, written and freed before the next, one per task of ``executor``, so
    memory does not grow with the number of vehicles; a task is sent its vehicle-day's part of the
    plan, not the whole plan, so a worker's memory does not grow with the number of pupils either.

    Parameters
    ----------
    plan
        A finished plan; nothing is recomputed.
    out_dir
        Folder to write into (created if missing).
    language
        ``tr`` (default), ``en`` or ``ar`` (laid out right to left).
    contractor
        The transport contractor's name, printed in the header; blank leaves a line to fill in.
    executor
        Where the sheets are rendered (default: this process); any executor writes the same files.
    progress
        ``progress(done, total)`` in sheets, as they are written.
    roads
        Optionally the road graph (e.g. ``network.drive``): trip maps then show the surrounding
        streets and each stop gets a small inset of its area.

    Returns
    -------
    list[Path]
        ``route_sheet_<vehicle>.<language>.html`` and ``.pdf`` for each vehicle-day, in plan order.

    Raises
    ------
    InputError
        When ``language`` has no catalogue.
    """
    check_language(language)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trips = {t.id: t for t in plan.trips}
    parts = _PlanParts(plan)
    sheet_plans = [
        parts.slice(vehicles=(vehicle,), trips=tuple(trips[t] for t in vehicle.trip_ids if t in trips))
        for vehicle in plan.vehicles
    ]
    written = (executor or SerialExecutor()).map(
        _write_route_sheet,
        sheet_plans,
        (out_dir, language, contractor, StreetLines(roads) if roads is not None else None),
        progress=progress,
    )
    return [path for pair in written for path in pair]


class _PlanParts:
    """Cuts a plan into the parts single documents read.

    An executor task gets the plan of its own document, not the whole plan: each worker then holds
    one vehicle's or one chunk of families' pupils, stops and trips, so its memory does not grow
    with the number of pupils (a 20,000-pupil plan is about 130 MB in memory).
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.stops, self.schools, self.students = _lookups(plan)

    def slice(
        self,
        *,
        vehicles: tuple[VehicleDay, ...] = (),
        trips: tuple[Trip, ...] = (),
        assignments: tuple[Assignment, ...] = (),
    ) -> Plan:
        """The plan with only these vehicles, trips and assignments, and the stops, schools and
        pupils they name (by id); the scenario's fleet and name stay whole."""
        visits = [v for t in trips for v in t.visits]
        stop_ids = {v.stop_id for v in visits} | {a.stop_id for a in assignments}
        school_ids = {v.school_id for v in visits} | {t.school_id for t in trips} | {a.school_id for a in assignments}
        student_ids = {s for v in visits for s in (*v.board, *v.alight)} | {a.student_id for a in assignments}
        scenario = dataclasses.replace(
            self.plan.scenario,
            students=_picked(self.students, student_ids),
            schools=_picked(self.schools, school_ids),
            pins=(),
        )
        return dataclasses.replace(
            self.plan,
            scenario=scenario,
            stops=_picked(self.stops, stop_ids),
            assignments=assignments,
            trips=trips,
            vehicles=vehicles,
            costs=(),
        )


def _lookups(plan: Plan) -> tuple[dict[str, Stop], dict[str, School], dict[str, Student]]:
    """The plan's stops, schools and pupils by id."""
    return (
        {s.id: s for s in plan.stops},
        {s.id: s for s in plan.scenario.schools},
        {s.id: s for s in plan.scenario.students},
    )


def _picked(by_id: dict, ids: set) -> tuple:
    """The values of ``by_id`` whose ids are in ``ids``, by id."""
    return tuple(by_id[i] for i in sorted(i for i in ids if i in by_id))


def _write_route_sheet(shared: tuple[Path, str, str, StreetLines | None], plan: Plan) -> tuple[Path, Path]:
    """Render one vehicle-day's sheet and write it as HTML and PDF (an executor task); ``plan``
    holds that vehicle-day alone, its trips in the order it drives them."""
    from weasyprint import HTML  # imported here: it loads Pango, which the map and exports never need

    out_dir, language, contractor, streets = shared
    tr = translations(language)
    template = template_environment(language).get_template("route_sheet.html")
    (vehicle,) = plan.vehicles
    lookups = _lookups(plan)
    depots = {d.id: d for d in plan.scenario.fleet.depots}
    trip_views = [_trip_view(trip, plan, language, tr, lookups, streets) for trip in plan.trips]
    html = template.render(
        plan=plan,
        vehicle=vehicle,
        contractor=contractor,
        depot=depots.get(vehicle.depot_id) if vehicle.depot_id else None,
        trips=trip_views,
        totals=_vehicle_totals(vehicle, [v["trip"] for v in trip_views], language),
        fonts=Markup(font_stack(language)),
    )
    stem = f"route_sheet_{_safe_name(vehicle.id)}.{language}"
    html_path = out_dir / f"{stem}.html"
    pdf_path = out_dir / f"{stem}.pdf"
    html_path.write_text(html, encoding="utf-8")
    HTML(string=html, base_url=str(out_dir)).write_pdf(pdf_path, font_config=_font_config())
    return html_path, pdf_path


def _vehicle_totals(vehicle: VehicleDay, trips: list[Trip], language: str) -> dict:
    with_pupils_m = sum(t.distance_m for t in trips)
    return {
        "n_trips": len(trips),
        "with_pupils": format_distance(with_pupils_m, language),
        "deadhead": format_distance(vehicle.deadhead_m, language),
        "total": format_distance(vehicle.distance_m, language),
        "driving": format_duration(sum(t.duration_s for t in trips)),
        "first_start": clock(trips[0].start_s) if trips else "",
        "last_end": clock(trips[-1].end_s) if trips else "",
    }


# --------------------------------------------------------------------------------------------------
# Parent notices
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """The pupils one parent notice is for: siblings sharing a ``family_id``, or one pupil alone.

    ``key`` is the family id, or the pupil's id for a pupil without one; ``assignments`` are in
    plan order; ``language`` is the family's (its first pupil's, which ingest checks they share).
    """

    key: str
    language: str
    assignments: tuple[Assignment, ...]


def families_from_plan(plan: Plan) -> list[Family]:
    """Group the plan's pupils into families, in order of each family's first pupil in the plan.

    Siblings are pupils whose :attr:`~schoolbus.model.Student.family_id` is the same; a pupil
    without one (or missing from the scenario) is a family alone. A family's notice is printed in
    its first pupil's language, Turkish when that has no catalogue.
    """
    students = {s.id: s for s in plan.scenario.students}
    members: dict[tuple[bool, str], list[Assignment]] = {}
    for assignment in plan.assignments:
        student = students.get(assignment.student_id)
        family_id = student.family_id if student is not None else None
        # Family ids and pupil ids are separate name spaces: a family "st05" is not pupil st05.
        key = (True, family_id) if family_id is not None else (False, assignment.student_id)
        members.setdefault(key, []).append(assignment)
    families = []
    for (_, key), assignments in members.items():
        first = students.get(assignments[0].student_id)
        language = language_or_default(first.language if first is not None else None)
        families.append(Family(key, language, tuple(assignments)))
    return families


def _child_view(assignment: Assignment, language: str, lookups) -> dict:
    stops, schools, students = lookups
    student = students.get(assignment.student_id)
    school = schools.get(assignment.school_id)
    stop = stops.get(assignment.stop_id) if assignment.stop_id else None
    shift = next((s for s in school.shifts if s.name == assignment.shift), None) if school else None
    return {
        "student_id": assignment.student_id,
        "initials": student.initials if student else None,
        "school_name": school.name if school else assignment.school_id,
        "shift_name": shift_label(assignment.shift, language),
        "shift": shift,
        "stop": stop,
        "stop_name": stop_label(stop, language) if stop else "",
        # The bus comes to the door of a door-to-door pupil: no map of the home is printed.
        "coordinates": coordinates_text(stop.location) if stop and not stop.is_door_to_door else "",
        "geo": geo_uri(stop.location) if stop and not stop.is_door_to_door else "",
        "qr": geo_qr_svg(stop.location) if stop and not stop.is_door_to_door else "",
        "is_routed": assignment.status is Status.ROUTED and stop is not None,
        "walk": format_distance(assignment.walk_m, language),
        "pickup_s": assignment.pickup_s,
        "dropoff_s": assignment.dropoff_s,
    }


NOTICE_CHUNK_FAMILIES = 40
"""Notices laid out together before they are written to PDF and freed (one laid-out notice holds
about 2 MB), so a worker's memory stays near 100 MB whatever the size of a school."""


@dataclass(frozen=True)
class _NoticeChunk:
    """Up to ``NOTICE_CHUNK_FAMILIES`` families of one booklet, each with its file stem, and the
    part of the plan their notices read."""

    booklet: str
    part: int
    families: tuple[tuple[str, Family], ...]
    plan: Plan


def _notice_chunks(plan: Plan) -> list[_NoticeChunk]:
    """Families by booklet (the school and shift of a family's first child), in chunks.

    Booklets are in school and shift order, families in plan order within them. Each family gets
    a unique file stem: a family id that is also a lone pupil's id takes ``-2``, ``-3``…
    """
    taken: set[str] = set()
    booklets: dict[str, list[tuple[str, Family]]] = {}
    for family in families_from_plan(plan):
        stem = f"notice_{_safe_name(family.key)}"
        name, n = stem, 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name)
        first = family.assignments[0]
        booklet = f"notices_{_ascii_name(first.school_id)}_{_ascii_name(first.shift)}"
        booklets.setdefault(booklet, []).append((name, family))
    parts = _PlanParts(plan)
    chunks = []
    for booklet in sorted(booklets):
        members = booklets[booklet]
        for part, start in enumerate(range(0, len(members), NOTICE_CHUNK_FAMILIES)):
            families = tuple(members[start : start + NOTICE_CHUNK_FAMILIES])
            assignments = tuple(a for _, family in families for a in family.assignments)
            chunks.append(_NoticeChunk(booklet, part, families, parts.slice(assignments=assignments)))
    return chunks


def render_parent_notices(
    plan: Plan,
    out_dir: str | Path,
    *,
    family_files: bool = False,
    combined: bool = False,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
) -> list[Path]:
    """Write the parent notices: a booklet per school and shift, and one file per family if asked.

    Siblings (pupils sharing a ``family_id``) get one notice between them; a pupil without a
    ``family_id`` gets their own. The notice lists each child by id and initials with their school,
    shift, stop, a short walking description and the pickup and drop-off times; a child without a
    bus place is listed with a note that says so and asks the family to contact the school.
    Families whose language has no catalogue get Turkish. Home locations are never printed.

    A family's notice goes into the booklet of its first child's school and shift (one page a
    family, in plan order), which a school hands out. Notices are laid out a chunk at a time and
    freed once written, in the tasks of ``executor``, each sent only its chunk's part of the plan,
    so memory does not grow with the number of pupils.

    Parameters
    ----------
    plan
        A finished plan; nothing is recomputed.
    out_dir
        Folder to write into (created if missing).
    family_files
        Also write each family's notice on its own, as ``notice_<family id, or pupil id>.html``
        and ``.pdf`` (a name already taken, a family id that is also a lone pupil's id, gets
        ``-2``, ``-3``…, so no notice overwrites another).
    combined
        Also write ``notices.pdf``: every booklet in one file.
    executor
        Where notices are laid out (default: this process); any executor writes the same files.
    progress
        ``progress(done, total)`` in notices (families), as chunks of them are written.

    Returns
    -------
    list[Path]
        Per family (if asked) its HTML and PDF, in booklet order; then ``notices_<school>_<shift>.pdf``
        per booklet; then ``notices.pdf`` (if asked).
    """
    from pypdf import PdfWriter

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chunks = _notice_chunks(plan)
    n_families = sum(len(c.families) for c in chunks)
    sizes = [len(c.families) for c in chunks]

    def chunk_progress(done: int, total: int) -> None:
        if progress is not None:
            progress(sum(sorted(sizes)[:done]) if done < total else n_families, n_families)

    parts = (executor or SerialExecutor()).map(
        _write_notice_chunk, chunks, (out_dir, family_files), progress=chunk_progress
    )
    written: list[Path] = [path for family_paths, _ in parts for path in family_paths]
    booklets: list[Path] = []
    for chunk, (_, part_pdf) in zip(chunks, parts):
        booklet = out_dir / f"{chunk.booklet}.pdf"
        if chunk.part == 0:
            part_pdf.replace(booklet)
            booklets.append(booklet)
            continue
        # A booklet longer than one chunk: its parts are joined in order, one at a time.
        writer = PdfWriter(clone_from=booklet)
        writer.append(part_pdf)
        writer.write(booklet)
        part_pdf.unlink()
    written += booklets
    if combined:
        pdf_path = out_dir / "notices.pdf"
        if booklets:
            writer = PdfWriter()
            for booklet in booklets:
                writer.append(booklet)
            writer.write(pdf_path)
        else:
            from weasyprint import HTML

            HTML(string="<html><body></body></html>").write_pdf(pdf_path)
        written.append(pdf_path)
    return written


def _write_notice_chunk(shared: tuple[Path, bool], chunk: _NoticeChunk) -> tuple[list[Path], Path]:
    """Lay out a chunk of notices, write them as one PDF part (and per family if asked); an executor task."""
    from weasyprint import HTML

    out_dir, family_files = shared
    plan = chunk.plan
    lookups = _lookups(plan)
    family_paths: list[Path] = []
    documents = []
    for name, family in chunk.families:
        language = family.language
        children = [_child_view(a, language, lookups) for a in family.assignments]
        template = template_environment(language).get_template("parent_notice.html")
        # One sheet of paper per family: start at the density its number of children suggests
        # and tighten until the notice fits one page (a very large family may still need two).
        first = sum(len(children) > n for n in NOTICE_CHILDREN_PER_DENSITY)
        for density in NOTICE_DENSITIES[first:]:
            html = template.render(
                plan=plan,
                family_key=family.key,
                children=children,
                school_names=list(dict.fromkeys(c["school_name"] for c in children)),
                density=density,
                fonts=Markup(font_stack(language)),
                direction=text_direction(language),
            )
            document = HTML(string=html, base_url=str(out_dir)).render(font_config=_font_config())
            if len(document.pages) == 1:
                break
        if family_files:
            path = out_dir / f"{name}.html"
            path.write_text(html, encoding="utf-8")
            document.write_pdf(path.with_suffix(".pdf"))
            family_paths += [path, path.with_suffix(".pdf")]
        documents.append(document)
    part_pdf = out_dir / f".{chunk.booklet}.part{chunk.part:04d}.pdf"
    documents[0].copy([page for document in documents for page in document.pages]).write_pdf(part_pdf)
    return family_paths, part_pdf
