"""Words for reason codes: each :class:`~schoolbus.model.ReasonCode` as a title and a sentence.

The English sentences are the catalogue's message ids (``N_`` marks them for extraction); every
renderer, the CLI and ``plan.json``'s plain-words ``reason`` go through :func:`describe_reason`, so
a reason reads the same everywhere and only the language changes. Parameters are formatted by the
unit their name ends in: ``_m`` metres (as a distance), ``_s`` seconds (as minutes), ``direction``
(a trip's direction, translated); anything else is written as is (ids, counts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from schoolbus.model import Direction, Reason, ReasonCode
from schoolbus.outputs.i18n import N_, format_distance, format_number, translations

TITLES: dict[ReasonCode, str] = {
    ReasonCode.NO_VEHICLE: N_("the fleet offers no vehicle"),
    ReasonCode.FAR_FROM_ROAD: N_("home too far from any road"),
    ReasonCode.ROAD_NOT_CONNECTED: N_("home next to a road cut off from the road network"),
    ReasonCode.TOO_CLOSE_TO_SCHOOL: N_("home close enough to walk to school"),
    ReasonCode.TOO_FAR_FROM_SCHOOL: N_("home beyond the bused distance"),
    ReasonCode.TOO_FAR_FROM_SCHOOL_STRAIGHT: N_("home beyond the bused distance"),
    ReasonCode.NO_WHEELCHAIR_PLACE: N_("no wheelchair place in the fleet"),
    ReasonCode.DOOR_FAR_FROM_ROAD: N_("home too far from a road a bus may use"),
    ReasonCode.NO_STOP_WITHIN_WALK: N_("no bus stop within the walk limit"),
    ReasonCode.NO_ROAD_ON_FOOT: N_("no bus stop within the walk limit"),
    ReasonCode.FLEET_EMPTY: N_("fleet ran out"),
    ReasonCode.FLEET_NO_ROUTES_ALLOWED: N_("fleet ran out"),
    ReasonCode.STOP_NEEDS_SEATS: N_("stop needs more seats than any vehicle has"),
    ReasonCode.STOP_NEEDS_WHEELCHAIR_PLACES: N_("no wheelchair place in the fleet"),
    ReasonCode.STOP_NEEDS_MORE_WHEELCHAIR_PLACES: N_("stop needs more wheelchair places than any vehicle has"),
    ReasonCode.STOP_NEEDS_SEATS_AND_PLACES: N_("no vehicle has both the seats and wheelchair places"),
    ReasonCode.RIDE_LIMIT_ALONE: N_("ride limit impossible"),
    ReasonCode.RIDE_LIMIT_ANY_ROUTE: N_("ride limit impossible"),
    ReasonCode.DURATION_CAP_ALONE: N_("route duration cap impossible"),
    ReasonCode.DURATION_CAP_ANY_ROUTE: N_("route duration cap impossible"),
    ReasonCode.FLEET_ROUTES_USED: N_("fleet ran out"),
    ReasonCode.NO_ROUTE_FOUND: N_("no route found within the limits"),
    ReasonCode.FLEET_RAN_OUT: N_("fleet ran out"),
    ReasonCode.NO_TRIP: N_("no trip found"),
    ReasonCode.FLEET_TOO_SMALL: N_("fleet ran out"),
    ReasonCode.LOCATION_IMPRECISE: N_("location not precise enough"),
    ReasonCode.FLEET_NONE_FREE: N_("fleet ran out"),
    ReasonCode.NOT_WITHIN_BUDGET: N_("not served within budget"),
    ReasonCode.TEXT: N_("other reason"),
}
"""A short title per code: what the CLI, the map's legend and the web page group reasons under."""

SENTENCES: dict[ReasonCode, str] = {
    ReasonCode.NO_VEHICLE: N_("the fleet offers no vehicle"),
    ReasonCode.FAR_FROM_ROAD: N_("home is %(snap_m)s from the nearest road; limit %(limit_m)s"),
    ReasonCode.ROAD_NOT_CONNECTED: N_(
        "home is %(road_m)s from a road that is not connected to the district's road network "
        "(the edge of the map extract or a gap in the map); the nearest connected road is %(snap_m)s away"
    ),
    ReasonCode.TOO_CLOSE_TO_SCHOOL: N_(
        "home is %(distance_m)s from school on foot; bused transport starts at %(limit_m)s"
    ),
    ReasonCode.TOO_FAR_FROM_SCHOOL: N_(
        "home is %(distance_m)s from school on foot; bused transport ends at %(limit_m)s"
    ),
    ReasonCode.TOO_FAR_FROM_SCHOOL_STRAIGHT: N_(
        "home is %(distance_m)s from school in a straight line (no footpath joins them in the road "
        "network); bused transport ends at %(limit_m)s"
    ),
    ReasonCode.NO_WHEELCHAIR_PLACE: N_("wheelchair user, but no vehicle in the fleet has a wheelchair place"),
    ReasonCode.DOOR_FAR_FROM_ROAD: N_(
        "door-to-door pupil's home is %(snap_m)s from the nearest road a bus may use; limit %(limit_m)s"
    ),
    ReasonCode.NO_STOP_WITHIN_WALK: N_(
        "no bus stop within the walk limit of %(limit_m)s (nearest road a bus may use is %(nearest_m)s walk)"
    ),
    ReasonCode.NO_ROAD_ON_FOOT: N_(
        "no bus stop within the walk limit of %(limit_m)s (no road a bus may use can be reached on foot)"
    ),
    ReasonCode.FLEET_EMPTY: N_("fleet ran out: the fleet has no vehicles"),
    ReasonCode.FLEET_NO_ROUTES_ALLOWED: N_("fleet ran out: no vehicle class may run a route (%(types)s)"),
    ReasonCode.STOP_NEEDS_SEATS: N_("needs %(seats)s seats, largest vehicle has %(max_seats)s"),
    ReasonCode.STOP_NEEDS_WHEELCHAIR_PLACES: N_("needs wheelchair places but no vehicle has any"),
    ReasonCode.STOP_NEEDS_MORE_WHEELCHAIR_PLACES: N_(
        "needs %(places)s wheelchair places, most accessible vehicle has %(max_places)s"
    ),
    ReasonCode.STOP_NEEDS_SEATS_AND_PLACES: N_(
        "needs %(seats)s seats and %(places)s wheelchair places in one vehicle, no vehicle has both"
    ),
    ReasonCode.RIDE_LIMIT_ALONE: N_(
        "ride limit impossible even alone (direct drive %(ride_s)s > limit %(limit_s)s)"
    ),
    ReasonCode.RIDE_LIMIT_ANY_ROUTE: N_(
        "ride limit impossible on any route (fastest ride, through other stops, %(ride_s)s > limit %(limit_s)s)"
    ),
    ReasonCode.DURATION_CAP_ALONE: N_(
        "route duration cap impossible even alone (direct drive plus service %(duration_s)s > cap %(cap_s)s)"
    ),
    ReasonCode.DURATION_CAP_ANY_ROUTE: N_(
        "route duration cap impossible on any route (fastest ride plus service %(duration_s)s > cap %(cap_s)s)"
    ),
    ReasonCode.FLEET_ROUTES_USED: N_(
        "fleet ran out: every vehicle class with room for this stop runs all the routes it may "
        "(%(types)s) and none of those routes can take it within seats, wheelchair places, ride "
        "limits and the route-duration cap"
    ),
    ReasonCode.NO_ROUTE_FOUND: N_(
        "no route found within its limits, and the search found no route through other stops that fits it"
    ),
    ReasonCode.FLEET_RAN_OUT: N_(
        "fleet ran out at school %(school_id)s, shift %(shift)s, %(direction)s: short by %(seats)s seats "
        "and %(places)s wheelchair places"
    ),
    ReasonCode.NO_TRIP: N_("no %(direction)s (school %(school_id)s, shift %(shift)s)"),
    ReasonCode.FLEET_TOO_SMALL: N_(
        "fleet ran out at school %(school_id)s, shift %(shift)s: the day's trips need %(needed)s "
        "vehicles of type %(vehicle_type)s, the fleet has %(count)s (short by %(short)s)"
    ),
    ReasonCode.LOCATION_IMPRECISE: N_(
        "location not precise enough: the home was found only by its neighbourhood or district; "
        "place it on the review map"
    ),
    ReasonCode.FLEET_NONE_FREE: N_("fleet ran out: no vehicle of the fleet is free for this trip"),
    ReasonCode.NOT_WITHIN_BUDGET: N_("not served within budget (%(budget)s %(currency)s per year)"),
    ReasonCode.TEXT: "%(text)s",
}
"""The full sentence per code, with its parameters."""

WITHOUT_PARAM: dict[ReasonCode, tuple[str, str]] = {
    ReasonCode.FLEET_RAN_OUT: (
        "places",
        N_("fleet ran out at school %(school_id)s, shift %(shift)s, %(direction)s: short by %(seats)s seats"),
    ),
}
"""A code's sentence when an optional parameter is absent: ``code: (parameter, sentence)``."""

DIRECTION_WORDS = {
    Direction.TO_SCHOOL.value: N_("morning trip to school"),
    Direction.FROM_SCHOOL.value: N_("trip home"),
}

MINUTES = N_("%(value)s min")
SECONDS_SHOWN_BELOW_S = 120
"""Durations shorter than this are written in seconds (a limit missed by seconds must show it)."""
SECONDS = N_("%(value)s s")
WITH_DETAILS = N_("%(reason)s: %(details)s")
DETAILS_SEPARATOR = "; "


def _format_param(name: str, value: object, language: str) -> str:
    tr = translations(language)
    if name.endswith("_m") and isinstance(value, (int, float)):
        return format_distance(float(value), language)
    if name.endswith("_s") and isinstance(value, (int, float)):
        if value < SECONDS_SHOWN_BELOW_S or value % 60:
            return tr.gettext(SECONDS) % {"value": format_number(value, language)}
        return tr.gettext(MINUTES) % {"value": format_number(value / 60, language)}
    if name == "direction" and isinstance(value, str):
        return tr.gettext(DIRECTION_WORDS.get(value, value))
    if isinstance(value, int) and not isinstance(value, bool):
        return format_number(value, language)
    return str(value)


class _Values(dict):
    """Formatted parameters; one a sentence needs but the reason lacks reads as a dash, not a crash."""

    def __missing__(self, key: str) -> str:
        return MISSING_PARAM


MISSING_PARAM = "–"


def describe_reason(reason: Reason, language: str = "en") -> str:
    """The reason (and its causes) as one sentence in ``language``."""
    tr = translations(language)
    values = _Values((name, _format_param(name, value, language)) for name, value in reason.params)
    sentence = SENTENCES[reason.code]
    optional = WITHOUT_PARAM.get(reason.code)
    if optional is not None and optional[0] not in values:
        sentence = optional[1]
    text = tr.gettext(sentence) % values
    if reason.causes:
        details = DETAILS_SEPARATOR.join(describe_reason(c, language) for c in reason.causes)
        text = tr.gettext(WITH_DETAILS) % {"reason": text, "details": details}
    return text


def reason_title(reason: Reason, language: str = "en") -> str:
    """A short title for the reason's kind (its deepest first cause decides, being the most specific)."""
    tr = translations(language)
    leaf = reason
    while leaf.causes:
        leaf = leaf.causes[0]
    return tr.gettext(TITLES[leaf.code])


def group_reasons(
    reasons: Iterable[tuple[str, Reason]], language: str = "en", n_ids: int = 5
) -> list[tuple[str, int, Sequence[str]]]:
    """``(title, count, first ids)`` per kind of reason, largest group first.

    ``reasons`` are ``(id, reason)`` pairs (students or stops); ids keep their given order.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for item_id, reason in reasons:
        groups[reason_title(reason, language)].append(item_id)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [(title, len(ids), ids[:n_ids]) for title, ids in ordered]


def reason_to_dict(reason: Reason) -> dict:
    """``{"code", "params", "causes"}``: a reason as JSON (``params`` an object)."""
    return {
        "code": reason.code.value,
        "params": dict(reason.params),
        "causes": [reason_to_dict(c) for c in reason.causes],
    }


def reason_from_dict(data: object) -> Reason | None:
    """The reason written by :func:`reason_to_dict`; ``None`` when ``data`` is not one."""
    if not isinstance(data, dict) or data.get("code") not in {c.value for c in ReasonCode}:
        return None
    params = data.get("params", {})
    causes = data.get("causes", [])
    if not isinstance(params, dict) or not isinstance(causes, list):
        return None
    if not all(
        isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
        for k, v in params.items()
    ):
        return None
    decoded = [reason_from_dict(c) for c in causes]
    if any(c is None for c in decoded):
        return None
    return Reason.make(ReasonCode(data["code"]), tuple(decoded), **params)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Homes outside the road network's area (reported before planning)
# --------------------------------------------------------------------------------------------------

OUTSIDE_SUMMARY = N_(
    "%(n)s home(s) lie outside the road network's area (distance to its nearest road): %(pupils)s. "
    "They will be unserved; use a larger extract or check their coordinates."
)
OUTSIDE_EXPECTED = N_(
    "a home within the road network's area: this one is %(distance)s from its nearest road "
    "(use a larger road network or check the coordinates)"
)
OUTSIDE_COLUMN = "lon, lat"


def homes_outside_summary(outside: Sequence[tuple[str, float]], language: str = "en", n_ids: int = 5) -> str:
    """One sentence on the homes outside the road network's area, naming the first ``n_ids``.

    ``outside`` is :func:`schoolbus.stops.homes_outside_network`'s ``(student id, metres)`` list;
    ``check-inputs``, ``plan`` and the service's uploads all say it with these words.
    """
    tr = translations(language)
    shown = ", ".join(f"{sid} ({format_distance(m, language)})" for sid, m in outside[:n_ids])
    more = f", … (+{len(outside) - n_ids})" if len(outside) > n_ids else ""
    return tr.gettext(OUTSIDE_SUMMARY) % {"n": format_number(len(outside), language), "pupils": shown + more}


def homes_outside_problems(
    outside: Sequence[tuple[str, float]], file: str, rows: dict[str, int], language: str = "en"
) -> list:
    """One :class:`~schoolbus.errors.Problem` per home outside the area: its file, row and pupil."""
    from schoolbus.errors import Problem

    tr = translations(language)
    return [
        Problem(file, rows.get(sid), OUTSIDE_COLUMN, sid, tr.gettext(OUTSIDE_EXPECTED) % {"distance": format_distance(m, language)})
        for sid, m in outside
    ]
