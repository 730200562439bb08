"""An interactive, self-contained HTML map of a finished plan (folium / Leaflet).

Each vehicle-day gets a colour (and, past ten, a dash pattern) that no route it touches shares (a
greedy colouring of route adjacency), and one toggleable layer per school and shift it serves,
listed under that school and shift in a grouped layer control; with more than
``SHOW_ONE_GROUP_ABOVE`` vehicle-days only the first group is on at first. Stops cluster into
counts below street zoom, schools standing together are fanned out, the legend explains every
symbol, and unserved pupils are counted at their school with their reasons' titles and codes. Route lines follow the roads (the trips'
``steps``), stops are circles sized by their pupils, and pupils appear only as id and initials.
Unserved pupils are counted at their school, never drawn at home: home locations are sensitive, so
walk lines from home to stop are drawn only on request.

The page works offline: Leaflet, the grouped-layer-control and marker-cluster plugins are inlined from the copies
vendored under ``schoolbus/static`` (taken from the npm registry, versions pinned in the folder
names), so the only web address a browser fetches is the background tile layer's. Without tiles the
map keeps a plain background and every route, stop and popup stays readable.
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import folium
from branca.element import Element, MacroElement
from folium.plugins import GroupedLayerControl
from folium.template import Template
from markupsafe import Markup, escape

from schoolbus.model import Direction, Location, Plan, Status, Stop, Trip, VehicleDay
from schoolbus.outputs.export import path_from_steps
from schoolbus.outputs.i18n import (
    DEFAULT_LANGUAGE,
    STATIC_DIR,
    check_language,
    clock,
    font_stack,
    format_distance,
    format_money,
    shift_label,
    stop_label,
    template_environment,
    text_direction,
    translations,
)
from schoolbus.outputs.reasons import reason_title

LEAFLET_DIR = STATIC_DIR / "leaflet-1.9.4"
GROUPED_LAYERS_DIR = STATIC_DIR / "leaflet-groupedlayercontrol-0.6.1"
MARKER_CLUSTER_DIR = STATIC_DIR / "leaflet.markercluster-1.5.3"

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#393b79",
)
"""Tableau-10-like qualitative colours; they stay apart on a pale background and on OSM tiles."""
DASH_PATTERNS = (None, "10 6", "2 6")
"""Beyond ten colours a route takes a dash pattern too: (colour, dash) pairs tell routes apart."""
NEIGHBOUR_CELL_M = 250.0
"""Routes passing within about this distance of each other (same or adjacent grid cell of this
size) are neighbours on the map and never share a colour and dash."""
SHOW_ONE_GROUP_ABOVE = 12
"""With more vehicle-days than this, only the first school-and-shift group is switched on at
first: 60 routes drawn at once are unreadable."""
CLUSTER_OPTIONS = {
    "disableClusteringAtZoom": 15,
    "maxClusterRadius": 45,
    "showCoverageOnHover": False,
    "spiderfyOnMaxZoom": False,
}
"""Stops cluster below street zoom (15): a district's 1,600 stops read as a few counts."""
SCHOOL_SPREAD_M = 60.0
"""Schools closer than this to one another get their markers fanned out so none hides another."""
SCHOOL_SPREAD_PX = 13
FROM_SCHOOL_DASH = "8 5"
ROUTE_WEIGHT_PX = 6
HOME_ROUTE_WEIGHT_PX = 3
STOP_RADIUS_PX = 6.0
STOP_RADIUS_PER_SQRT_PUPIL_PX = 2.5
"""Circle radius grows with the square root of a stop's pupils, so its area tracks the count."""
PLAIN_BACKGROUND = "#f3f1ec"
SIDEBAR_WIDTH_PX = 340
POPUP_MAX_WIDTH_PX = 360


@dataclass(frozen=True)
class _Layer:
    """One vehicle-day's trips for one school and shift: a toggleable layer."""

    vehicle: VehicleDay
    school_id: str
    shift: str
    trips: tuple[Trip, ...]


class _RawHtml(Element):
    """HTML put into the page as it is; branca's ``Element`` would run it through Jinja2 first."""

    def __init__(self, html: str):
        super().__init__()
        self.html = html

    def render(self, **kwargs) -> str:
        return self.html


class _HtmlPopup(MacroElement):
    """A popup bound from an HTML string; folium's own ``Popup`` parses its HTML with jQuery.

    Binding the string with Leaflet's ``bindPopup`` keeps the page free of jQuery, which would
    otherwise have to be inlined too.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindPopup({{ this.html|tojson }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, html: str, max_width_px: int = POPUP_MAX_WIDTH_PX):
        super().__init__()
        self._name = "HtmlPopup"
        self.html = html
        self.options = {"maxWidth": max_width_px}


class _StopCluster(MacroElement):
    """A Leaflet.markercluster group inside a vehicle's layer: its stops merge into counts when
    zoomed out (the plugin is inlined from ``schoolbus/static``, like Leaflet)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.markerClusterGroup({{ this.options|tojson }});
        {{ this._parent.get_name() }}.addLayer({{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        self._name = "StopCluster"
        self.options = CLUSTER_OPTIONS


class _SidebarLayerControl(GroupedLayerControl):
    """folium's grouped layer control, expanded and moved out of the map into a side panel.

    folium's template does not keep the control in a variable; this one does, so the control's box
    can be appended to the page element ``target_id`` once Leaflet has built it.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control.groupedLayers(
                null,
                {
                    {%- for group_name, overlays in this.grouped_overlays.items() %}
                    {{ group_name|tojson }} : {
                        {%- for overlaykey, val in overlays.items() %}
                        {{ overlaykey|tojson }} : {{val}},
                        {%- endfor %}
                    },
                    {%- endfor %}
                },
                {{ this.options|tojavascript }},
            ).addTo({{ this._parent.get_name() }});
            {%- for val in this.layers_untoggle %}
            {{ val }}.remove();
            {%- endfor %}
            document.getElementById({{ this.target_id|tojson }})
                .appendChild({{ this.get_name() }}.getContainer());
        {% endmacro %}
        """
    )

    def __init__(self, groups: dict, target_id: str):
        super().__init__(groups, exclusive_groups=False, collapsed=False)
        self.target_id = target_id
        # The page inlines its own copy of the plugin; no CDN links.
        self.default_js = []
        self.default_css = []


def route_neighbours(plan: Plan) -> dict[str, set[str]]:
    """Vehicle-days whose routes overlap or pass near each other (see ``NEIGHBOUR_CELL_M``).

    Each route's path and stops are put into grid cells of ``NEIGHBOUR_CELL_M``; two vehicles are
    neighbours when any of their cells are the same or touch.
    """
    trips = {t.id: t for t in plan.trips}
    stops = {s.id: s for s in plan.stops}
    lat0 = math.radians(_centre(plan)[0])
    m_per_deg = math.pi * 6_371_008.8 / 180.0
    owners: dict[tuple[int, int], set[str]] = defaultdict(set)
    for vehicle in plan.vehicles:
        for trip_id in vehicle.trip_ids:
            trip = trips.get(trip_id)
            if trip is None:
                continue
            points = list(path_from_steps(trip))
            points += [stops[v.stop_id].location for v in trip.visits if v.stop_id in stops]
            for a, b in zip(points, points[1:] or points):
                # Sample long segments so a straight road still marks every cell it crosses.
                steps = max(1, math.ceil(_plane_m(a, b, lat0, m_per_deg) / (NEIGHBOUR_CELL_M / 2)))
                for k in range(steps + 1):
                    lon = a[0] + (b[0] - a[0]) * k / steps
                    lat = a[1] + (b[1] - a[1]) * k / steps
                    cell = (
                        math.floor(lon * math.cos(lat0) * m_per_deg / NEIGHBOUR_CELL_M),
                        math.floor(lat * m_per_deg / NEIGHBOUR_CELL_M),
                    )
                    owners[cell].add(vehicle.id)
    neighbours: dict[str, set[str]] = {v.id: set() for v in plan.vehicles}
    for (x, y), here in owners.items():
        near = set().union(*(owners.get((x + dx, y + dy), set()) for dx in (-1, 0, 1) for dy in (-1, 0, 1)))
        for vehicle_id in here:
            neighbours[vehicle_id] |= near - {vehicle_id}
    return neighbours


def _plane_m(a: Location, b: Location, lat0: float, m_per_deg: float) -> float:
    return math.hypot((b[0] - a[0]) * math.cos(lat0) * m_per_deg, (b[1] - a[1]) * m_per_deg)


def vehicle_colours(plan: Plan) -> dict[str, tuple[str, str | None]]:
    """Colour and dash pattern of each vehicle-day: neighbouring routes never share both.

    A greedy graph colouring of :func:`route_neighbours` (most neighbours first, then plan order)
    takes the first (colour, dash) pair no neighbour has: ten colours, then the colours again
    dashed. Deterministic for a plan.
    """
    neighbours = route_neighbours(plan)
    styles = [(colour, dash) for dash in DASH_PATTERNS for colour in PALETTE]
    order = {v.id: i for i, v in enumerate(plan.vehicles)}
    chosen: dict[str, int] = {}
    for vehicle_id in sorted(order, key=lambda v: (-len(neighbours[v]), order[v])):
        taken = {chosen[n] for n in neighbours[vehicle_id] if n in chosen}
        chosen[vehicle_id] = next(i for i in range(len(styles) + len(taken) + 1) if i not in taken)
    return {v.id: styles[chosen[v.id] % len(styles)] for v in plan.vehicles}


def render_map(
    plan: Plan,
    out_path: str | Path,
    *,
    show_walk_lines: bool = False,
    language: str = DEFAULT_LANGUAGE,
) -> Path:
    """Write the plan as one self-contained interactive HTML map.

    Parameters
    ----------
    plan
        A finished plan; nothing is recomputed.
    out_path
        The ``.html`` file to write (its folder is created).
    show_walk_lines
        Draw a line from each routed pupil's home to their stop. Off by default because it shows
        where children live; turn it on only for planners who may see home locations.
    language
        ``tr`` (default), ``en`` or ``ar`` for the legend, popups and layer names.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    InputError
        When ``language`` has no catalogue.
    """
    check_language(language)
    tr = translations(language)
    env = template_environment(language)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    schools = {s.id: s for s in plan.scenario.schools}
    stops = {s.id: s for s in plan.stops}
    students = {s.id: s for s in plan.scenario.students}
    trips = {t.id: t for t in plan.trips}
    colours = vehicle_colours(plan)

    def label(student_id: str) -> str:
        initials = students[student_id].initials if student_id in students else None
        return f"{student_id} {initials}" if initials else student_id

    def direction_label(direction: Direction) -> str:
        return (
            tr.gettext("To school")
            if direction is Direction.TO_SCHOOL
            else tr.gettext("From school")
        )

    fmap = folium.Map(
        location=_centre(plan), zoom_start=14, tiles=None, control_scale=True, zoom_snap=0.25
    )
    # The page must not fetch Leaflet, jQuery or Bootstrap from a CDN: it inlines its own copies.
    fmap.default_js = []
    fmap.default_css = []
    _inline_assets(fmap, language)
    # The tab's title names the plan (the scenario), escaped: branca pastes it as it is.
    fmap.get_root().title = str(escape(f"{plan.scenario.name} · {tr.gettext('School bus plan')}"))
    folium.TileLayer("OpenStreetMap", control=False).add_to(fmap)

    layers = _layers(plan, trips)
    stop_visits: dict[str, list[tuple[Trip, int]]] = defaultdict(list)
    for trip in plan.trips:
        for i, visit in enumerate(trip.visits):
            if visit.stop_id is not None:
                stop_visits[visit.stop_id].append((trip, i))

    groups: dict[str, list[folium.FeatureGroup]] = {}
    first_group = None
    for layer in layers:
        colour, dash = colours[layer.vehicle.id]
        school = schools.get(layer.school_id)
        # The plugin inserts group names as HTML: user text (school names) is escaped here.
        group_name = str(escape(f"{school.name if school else layer.school_id} · {shift_label(layer.shift, language)}"))
        first_group = first_group or group_name
        # Many vehicle-days: only the first school and shift is on at first; the rest wait in
        # the layer list, so the map opens readable.
        is_shown = len(plan.vehicles) <= SHOW_ONE_GROUP_ABOVE or group_name == first_group
        feature = folium.FeatureGroup(name=_layer_name(layer.vehicle, colour, tr), show=is_shown)
        for trip in layer.trips:
            path = path_from_steps(trip)
            if len(path) >= 2:
                is_home = trip.direction is Direction.FROM_SCHOOL
                folium.PolyLine(
                    [(lat, lon) for lon, lat in path],
                    color=colour,
                    # Home runs often retrace the morning's roads: thinner and dashed on top of it.
                    weight=HOME_ROUTE_WEIGHT_PX if is_home else ROUTE_WEIGHT_PX,
                    opacity=0.95 if is_home else 0.8,
                    dash_array=FROM_SCHOOL_DASH if is_home else dash,
                    tooltip=_tooltip(
                        f"{layer.vehicle.id} · {trip.id} · {direction_label(trip.direction)} "
                        f"{clock(trip.start_s)}–{clock(trip.end_s)}"
                    ),
                ).add_to(feature)
        seen: set[str] = set()
        cluster = _StopCluster().add_to(feature)
        for trip in layer.trips:
            for visit in trip.visits:
                if visit.stop_id is None or visit.stop_id in seen or visit.stop_id not in stops:
                    continue
                seen.add(visit.stop_id)
                stop = stops[visit.stop_id]
                html = env.get_template("map_stop_popup.html").render(
                    stop=stop,
                    name=stop_label(stop, language),
                    visits=[
                        {
                            "trip": t,
                            "direction": direction_label(t.direction),
                            "visit": t.visits[i],
                            "board": [label(s) for s in t.visits[i].board],
                            "alight": [label(s) for s in t.visits[i].alight],
                        }
                        for t, i in stop_visits[stop.id]
                    ],
                    pupils=[label(s) for s in stop.student_ids],
                )
                _stop_marker(stop, colour, html, stop_label(stop, language)).add_to(cluster)
        feature.add_to(fmap)
        groups.setdefault(group_name, []).append(feature)

    places_name = tr.gettext("Places")
    places = groups.setdefault(places_name, [])
    places.append(_school_layer(plan, env, tr))
    if plan.scenario.fleet.depots:
        places.append(_depot_layer(plan, env, tr))
    unserved = _unserved_layer(plan, env, tr, label, language)
    if unserved is not None:
        places.append(unserved)
    orphan_stops = [s for s in plan.stops if s.id not in stop_visits]
    if orphan_stops:
        places.append(_orphan_stop_layer(orphan_stops, env, tr, label, language))
    if show_walk_lines:
        places.append(_walk_layer(plan, stops, students, tr))
    if plan.scenario.hazards:
        places.append(_hazard_layer(plan, tr))
    for feature in places:
        feature.add_to(fmap)

    # Expanded, in the side panel, so the list of layers never covers the routes.
    _SidebarLayerControl(groups, "sb-layers").add_to(fmap)

    panel = env.get_template("map_panel.html").render(
        plan=plan,
        vehicles=[
            {
                "vehicle": v,
                "colour": colours[v.id][0],
                "n_trips": len(v.trip_ids),
                "distance": format_distance(v.distance_m, language),
            }
            for v in plan.vehicles
        ],
        money=lambda amount: format_money(amount, plan.scenario.prices.currency, language),
        distance=lambda metres: format_distance(metres, language),
        show_walk_lines=show_walk_lines,
        n_hidden_groups=len(plan.vehicles) > SHOW_ONE_GROUP_ABOVE and len(groups) > 2,
    )
    fmap.get_root().html.add_child(_RawHtml(panel))
    bounds = _bounds(plan)
    if bounds is not None:
        fmap.fit_bounds(bounds, padding=(30, 30))
    html = _stable_ids(fmap.get_root().render())
    # The page carries the legend's language; the map pane itself stays left-to-right.
    html = html.replace("<html>", f'<html lang="{language}">', 1)
    html = _with_nonce_placeholders(html)
    out_path.write_text(html, encoding="utf-8")
    return out_path


def _layers(plan: Plan, trips: dict[str, Trip]) -> list[_Layer]:
    layers: list[_Layer] = []
    for vehicle in plan.vehicles:
        by_group: dict[tuple[str, str], list[Trip]] = {}
        for trip_id in vehicle.trip_ids:
            trip = trips[trip_id]
            by_group.setdefault((trip.school_id, trip.shift), []).append(trip)
        layers.extend(
            _Layer(vehicle, school_id, shift, tuple(ts))
            for (school_id, shift), ts in by_group.items()
        )
    return layers


def _layer_name(vehicle: VehicleDay, colour: str, tr) -> str:
    """The layer's label in the layer list (HTML): a colour swatch, vehicle id, class and seats."""
    seats = tr.ngettext("%(num)d seat", "%(num)d seats", vehicle.seats) % {"num": vehicle.seats}
    return str(
        Markup(
            '<span class="sb-swatch" style="background: {}"></span> '
            '<bdi dir="ltr">{} · {}</bdi> · {}'
        ).format(colour, vehicle.id, vehicle.vehicle_type, seats)
    )


def _tooltip(text: str) -> str:
    """Text made safe for folium's tooltip, which pastes it as HTML into a JS template literal."""
    return str(escape(text)).replace("`", "&#96;").replace("${", "&#36;{")


def _stop_marker(stop: Stop, colour: str, popup_html: str, name: str) -> folium.CircleMarker:
    n = max(len(stop.student_ids), 1)
    return folium.CircleMarker(
        location=(stop.location[1], stop.location[0]),
        radius=STOP_RADIUS_PX + STOP_RADIUS_PER_SQRT_PUPIL_PX * math.sqrt(n),
        color="#111111" if stop.is_door_to_door else "#ffffff",
        weight=3 if stop.is_door_to_door else 2,
        fill=True,
        fill_color=colour,
        fill_opacity=0.95,
        tooltip=_tooltip(f"{name} ({len(stop.student_ids)})"),
    ).add_child(_HtmlPopup(popup_html))


def _school_layer(plan: Plan, env, tr) -> folium.FeatureGroup:
    layer = folium.FeatureGroup(name=tr.gettext("Schools"), show=True)
    offsets = _school_offsets_px(plan.scenario.schools)
    for school in plan.scenario.schools:
        html = env.get_template("map_school_popup.html").render(school=school)
        dx, dy = offsets[school.id]
        folium.Marker(
            location=(school.location[1], school.location[0]),
            icon=folium.DivIcon(
                html='<div class="sb-school"></div>', icon_size=(18, 18), icon_anchor=(9 - dx, 9 - dy)
            ),
            tooltip=_tooltip(school.name),
        ).add_child(_HtmlPopup(html)).add_to(layer)
    return layer


def _school_offsets_px(schools) -> dict[str, tuple[int, int]]:
    """Pixel offsets fanning out schools that stand closer than ``SCHOOL_SPREAD_M`` together.

    Schools sharing a campus (or one building with two institutions) would draw one square on
    top of another; each member of such a cluster is moved onto a small circle around it.
    """
    offsets = {s.id: (0, 0) for s in schools}
    clusters: list[list] = []
    for school in schools:
        home = next(
            (c for c in clusters if any(_metres(school.location, o.location) < SCHOOL_SPREAD_M for o in c)),
            None,
        )
        if home is None:
            clusters.append([school])
        else:
            home.append(school)
    for cluster in clusters:
        if len(cluster) < 2:
            continue
        for k, school in enumerate(cluster):
            angle = 2 * math.pi * k / len(cluster)
            offsets[school.id] = (
                round(SCHOOL_SPREAD_PX * math.sin(angle)),
                round(-SCHOOL_SPREAD_PX * math.cos(angle)),
            )
    return offsets


def _metres(a: Location, b: Location) -> float:
    lat0 = math.radians((a[1] + b[1]) / 2)
    return _plane_m(a, b, lat0, math.pi * 6_371_008.8 / 180.0)


HAZARD_COLOUR = "#d7191c"
"""Hazards are drawn red; a road buses avoid is dashed, an area lightly filled."""


def _hazard_layer(plan: Plan, tr) -> folium.FeatureGroup:
    """Roads pupils must not cross and roads or areas buses avoid (way-id hazards have no shape)."""
    layer = folium.FeatureGroup(name=tr.gettext("Hazards"), show=True)
    for hazard in plan.scenario.hazards:
        what = {
            "no_crossing": tr.gettext("Pupils must not cross on foot"),
            "bus_avoid": tr.gettext("Buses avoid"),
            "both": tr.gettext("Pupils must not cross on foot; buses avoid"),
        }[hazard.kind.value]
        tooltip = _tooltip(f"{hazard.name or hazard.id}: {what}")
        dash = None if hazard.is_for_walk else "8 6"
        for line in hazard.lines:
            folium.PolyLine(
                [(lat, lon) for lon, lat in line], color=HAZARD_COLOUR, weight=7, opacity=0.7, dash_array=dash, tooltip=tooltip
            ).add_to(layer)
        for ring in hazard.polygons:
            folium.Polygon(
                [(lat, lon) for lon, lat in ring], color=HAZARD_COLOUR, weight=2, fill=True, fill_opacity=0.15,
                dash_array=dash, tooltip=tooltip,
            ).add_to(layer)
    return layer


def _depot_layer(plan: Plan, env, tr) -> folium.FeatureGroup:
    layer = folium.FeatureGroup(name=tr.gettext("Depots"), show=True)
    for depot in plan.scenario.fleet.depots:
        vehicle_ids = [v.id for v in plan.vehicles if v.depot_id == depot.id]
        html = env.get_template("map_depot_popup.html").render(depot=depot, vehicle_ids=vehicle_ids)
        folium.Marker(
            location=(depot.location[1], depot.location[0]),
            icon=folium.DivIcon(
                html='<div class="sb-depot"></div>', icon_size=(16, 16), icon_anchor=(8, 8)
            ),
            tooltip=_tooltip(depot.name),
        ).add_child(_HtmlPopup(html)).add_to(layer)
    return layer


def _unserved_layer(plan: Plan, env, tr, label, language: str) -> folium.FeatureGroup | None:
    """Unserved pupils counted at their school, with the reasons; never at their homes."""
    by_school: dict[str, list] = defaultdict(list)
    for a in plan.assignments:
        if a.status is Status.UNSERVED:
            by_school[a.school_id].append(a)
    if not by_school:
        return None
    schools = {s.id: s for s in plan.scenario.schools}
    layer = folium.FeatureGroup(name=tr.gettext("Unserved pupils"), show=True)
    for school_id, assignments in sorted(by_school.items()):
        school = schools.get(school_id)
        if school is None:
            continue
        reasons = Counter(
            (a.shift, reason_title(a.reason, language), a.reason.codes[-1].value)
            for a in assignments
            if a.reason is not None
        )
        html = env.get_template("map_unserved_popup.html").render(
            school=school,
            n=len(assignments),
            reasons=[
                {"shift": shift_label(shift, language), "reason": title, "code": code, "n": n}
                for (shift, title, code), n in sorted(reasons.items())
            ],
            pupils=[f"{label(a.student_id)} ({a.shift})" for a in assignments],
        )
        folium.Marker(
            location=(school.location[1], school.location[0]),
            # Up and to the right of the school square so both stay clickable.
            icon=folium.DivIcon(
                html=f'<div class="sb-unserved">{len(assignments)}</div>',
                icon_size=(24, 24),
                icon_anchor=(-6, 30),
            ),
            tooltip=_tooltip(
                tr.ngettext(
                    "%(num)d pupil without a bus place",
                    "%(num)d pupils without a bus place",
                    len(assignments),
                )
                % {"num": len(assignments)}
            ),
        ).add_child(_HtmlPopup(html)).add_to(layer)
    return layer


def _orphan_stop_layer(stops: list[Stop], env, tr, label, language: str) -> folium.FeatureGroup:
    """Stops no trip visits: shown grey so a planner sees them rather than losing them."""
    layer = folium.FeatureGroup(name=tr.gettext("Stops without a trip"), show=True)
    for stop in stops:
        name = stop_label(stop, language)
        html = env.get_template("map_stop_popup.html").render(
            stop=stop, name=name, visits=[], pupils=[label(s) for s in stop.student_ids]
        )
        _stop_marker(stop, "#9e9e9e", html, name).add_to(layer)
    return layer


def _walk_layer(plan: Plan, stops: dict[str, Stop], students, tr) -> folium.FeatureGroup:
    layer = folium.FeatureGroup(name=tr.gettext("Walk lines (home to stop)"), show=True)
    for a in plan.assignments:
        if a.status is not Status.ROUTED or a.stop_id not in stops or a.student_id not in students:
            continue
        home = students[a.student_id].location
        stop = stops[a.stop_id].location
        folium.PolyLine(
            [(home[1], home[0]), (stop[1], stop[0])],
            color="#555555",
            weight=1.5,
            dash_array="3 4",
            opacity=0.8,
        ).add_to(layer)
    return layer


def _centre(plan: Plan) -> tuple[float, float]:
    bounds = _bounds(plan)
    if bounds is None:
        return (0.0, 0.0)
    (south, west), (north, east) = bounds
    return ((south + north) / 2, (west + east) / 2)


def _bounds(plan: Plan) -> list[list[float]] | None:
    points: list[Location] = [s.location for s in plan.scenario.schools]
    points += [s.location for s in plan.stops]
    points += [d.location for d in plan.scenario.fleet.depots]
    points += [p for t in plan.trips for s in t.steps for p in s.coords]
    if not points:
        return None
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _inline_assets(fmap: folium.Map, language: str) -> None:
    """Put Leaflet, the grouped layer control and the page's own style into the page's head."""
    header = fmap.get_root().header
    leaflet_css = (LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")
    # Leaflet's stylesheet points at images beside it; a single file carries them as data URIs.
    leaflet_css = re.sub(
        r"url\(images/([\w.-]+\.png)\)",
        lambda m: f"url({_data_uri(LEAFLET_DIR / 'images' / m[1])})",
        leaflet_css,
    )
    assets = [
        ("leaflet_css", "style", leaflet_css),
        (
            "grouped_css",
            "style",
            (GROUPED_LAYERS_DIR / "leaflet.groupedlayercontrol.min.css").read_text(
                encoding="utf-8"
            ),
        ),
        ("leaflet", "script", (LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")),
        (
            "grouped_js",
            "script",
            (GROUPED_LAYERS_DIR / "leaflet.groupedlayercontrol.min.js").read_text(encoding="utf-8"),
        ),
        ("cluster_css", "style", (MARKER_CLUSTER_DIR / "MarkerCluster.css").read_text(encoding="utf-8")),
        (
            "cluster_default_css",
            "style",
            (MARKER_CLUSTER_DIR / "MarkerCluster.Default.css").read_text(encoding="utf-8"),
        ),
        ("cluster_js", "script", (MARKER_CLUSTER_DIR / "leaflet.markercluster.js").read_text(encoding="utf-8")),
        ("schoolbus_css", "style", _page_css(language)),
    ]
    for name, tag, code in assets:
        # A literal "</script>" inside inlined code would end the element early, and a source-map
        # comment would make a browser's developer tools ask for a file that is not there.
        code = code.replace(f"</{tag}", f"<\\/{tag}")
        code = re.sub(
            r"^\s*(//# sourceMappingURL=\S+|/\*# sourceMappingURL=\S+ \*/)\s*$",
            "",
            code,
            flags=re.M,
        )
        header.add_child(_RawHtml(f"<{tag}>\n{code}\n</{tag}>"), name=name)


CSP_NONCE_PLACEHOLDER = "schoolbus-csp-nonce"
"""The nonce written on the page's own ``<script>``/``<style>`` elements; whoever serves the page
under a Content-Security-Policy replaces it by a fresh nonce per response
(:mod:`schoolbus.service.security`). User text is escaped, so it can hold no such element."""


def _with_nonce_placeholders(html: str) -> str:
    """Mark every ``<script>`` and ``<style>`` element of the page with the nonce placeholder."""
    return re.sub(r"<(script|style)(?=[\s>])", rf'<\1 nonce="{CSP_NONCE_PLACEHOLDER}"', html)


def _stable_ids(html: str) -> str:
    """Replace folium's random element ids by counters in order: same plan, same page."""
    ids: dict[str, str] = {}

    def number(match: re.Match) -> str:
        return ids.setdefault(match[1], f"{len(ids):032x}")

    return re.sub(r"(?<=_)([0-9a-f]{32})\b", number, html)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _page_css(language: str) -> str:
    """The page's style: a side panel on the reading side, the map beside it on a plain ground."""
    side = "right" if text_direction(language) == "rtl" else "left"
    return (
        template_environment(language)
        .get_template("map_page.css")
        .render(
            side=side,
            other="left" if side == "right" else "right",
            fonts=Markup(font_stack(language)),
            background=PLAIN_BACKGROUND,
            sidebar_px=SIDEBAR_WIDTH_PX,
        )
    )
