"""Languages of the printed outputs: gettext catalogues, Jinja2 templates and number formats.

The catalogues are the ``.po`` files under ``schoolbus/locales/<lang>/LC_MESSAGES/``. They are read
at run time with Babel and compiled in memory, so a fresh ``pip install -e .`` needs no build step
and a translator's edit shows up at the next run. Message ids are English; ``en.po`` repeats them so
that all three catalogues are complete and a test can say so.
"""

from __future__ import annotations

import functools
import gettext
import io
import math
import re
from pathlib import Path

import jinja2
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from markupsafe import Markup

from schoolbus.errors import InputError, Problem
from schoolbus.model import Location, Stop, StopNameKind
from schoolbus.stopnames import coordinates_text

SUPPORTED_LANGUAGES = ("tr", "en", "ar")
"""Languages with a complete catalogue: Turkish (the default), English and Arabic."""
DEFAULT_LANGUAGE = "tr"
RTL_LANGUAGES = frozenset({"ar"})
DOMAIN = "schoolbus"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

KM_FROM_M = 1000.0
SHOW_KM_FROM_M = 1000.0
"""From this length on distances are written in km with one decimal, below in whole metres."""
ROUND_SHORT_TO_M = 10
"""Short distances are rounded to 10 m: nobody paces a walk more precisely."""


def po_path(language: str, domain: str = DOMAIN) -> Path:
    """The ``.po`` catalogue of ``language`` in ``domain`` (one catalogue per kind of output)."""
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{domain}.po"


def check_language(language: str, *, source: str = "language") -> str:
    """Return ``language`` if it has a catalogue.

    Raises
    ------
    InputError
        Naming ``source`` (an option or file) when the language has no catalogue.
    """
    if language not in SUPPORTED_LANGUAGES:
        raise InputError(
            [
                Problem(
                    source, None, "language", language, f"one of {', '.join(SUPPORTED_LANGUAGES)}"
                )
            ]
        )
    return language


def language_or_default(language: str | None) -> str:
    """A family's language if it has a catalogue, else Turkish, which every school can read out."""
    return language if language in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def text_direction(language: str) -> str:
    """``rtl`` for right-to-left scripts (Arabic), otherwise ``ltr``."""
    return "rtl" if language in RTL_LANGUAGES else "ltr"


@functools.cache
def translations(language: str, domain: str = DOMAIN) -> gettext.GNUTranslations:
    """The compiled gettext catalogue of ``language`` (checked with :func:`check_language`)."""
    check_language(language)
    with po_path(language, domain).open("rb") as po:
        catalog = read_po(po, locale=language, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def N_(message: str) -> str:  # noqa: N802 - gettext's marker name, found by pybabel's extractor
    """Mark ``message`` for the catalogue without translating it here."""
    return message


SHIFT_WORDS: dict[str, str] = {
    **dict.fromkeys(("morning", "sabah", "am"), N_("morning")),
    **dict.fromkeys(("afternoon", "öğle", "öğleden sonra", "ogle", "pm"), N_("afternoon")),
    **dict.fromkeys(("full_day", "full day", "full-day", "tam", "tam gün", "tam gun", "tam_gun"), N_("full day")),
    **dict.fromkeys(("evening", "akşam", "aksam"), N_("evening")),
}
"""Shift names the catalogue knows (lower case, as districts write them) and their word."""


def shift_label(name: str, language: str) -> str:
    """A shift's name in ``language`` when it is a common one (``morning``, ``sabah``…), else as given."""
    word = SHIFT_WORDS.get(name.strip().casefold())
    return translations(language).gettext(word) if word else name


ROAD_CLASS_WORDS: dict[str, str] = {
    "motorway": N_("motorway"),
    "trunk": N_("trunk road"),
    "primary": N_("main road"),
    "secondary": N_("secondary road"),
    "tertiary": N_("local road"),
    "unclassified": N_("minor road"),
    "residential": N_("residential street"),
    "living_street": N_("living street"),
    "service": N_("service road"),
    "track": N_("track"),
    "road": N_("road"),
}
"""Words for OSM ``highway`` classes, said where a road has no name (``*_link`` is a slip road)."""
SLIP_ROAD = N_("slip road")
UNNAMED_ROAD = N_("unnamed road")


def road_class_word(highway: str, language: str) -> str:
    """What to call an unnamed road of OSM class ``highway`` ("servis yolu", "service road")."""
    tr = translations(language)
    if highway.endswith("_link"):
        return tr.gettext(SLIP_ROAD)
    word = ROAD_CLASS_WORDS.get(highway)
    return tr.gettext(word) if word else tr.gettext(UNNAMED_ROAD)


COMPASS_WORDS = {
    "north": N_("north"),
    "northeast": N_("northeast"),
    "east": N_("east"),
    "southeast": N_("southeast"),
    "south": N_("south"),
    "southwest": N_("southwest"),
    "west": N_("west"),
    "northwest": N_("northwest"),
}


def stop_label(stop: Stop, language: str) -> str:
    """A stop's name in ``language``: corner, place, street or a bearing from one; never its id."""
    tr = translations(language)
    where = stop.where
    if where is None:
        return stop.name or coordinates_text(stop.location)
    distance = format_distance(where.distance_m, language)
    if where.kind is StopNameKind.CORNER:
        return tr.gettext("%(street)s / %(cross)s corner") % {"street": where.street, "cross": where.cross}
    if where.kind is StopNameKind.NEAR_CORNER:
        return tr.gettext("%(street)s, %(distance)s from the corner of %(cross)s") % {
            "street": where.street, "cross": where.cross, "distance": distance,
        }
    if where.kind is StopNameKind.PLACE:
        return tr.gettext("outside %(place)s") % {"place": where.place}
    if where.kind is StopNameKind.STREET:
        return where.street
    if where.kind is StopNameKind.BEARING:
        compass = tr.gettext(COMPASS_WORDS.get(where.bearing, where.bearing))
        return tr.gettext("%(distance)s %(compass)s of %(street)s") % {
            "distance": distance, "compass": compass, "street": where.street,
        }
    return tr.gettext("%(road)s at %(coordinates)s") % {
        "road": road_class_word(where.road_class, language),
        "coordinates": coordinates_text(stop.location),
    }


def geo_uri(location: Location) -> str:
    """``geo:lat,lon`` (RFC 5870): scanned from a QR code, any phone opens it in its map app."""
    lon, lat = location
    return f"geo:{lat:.6f},{lon:.6f}"


QR_SCALE_PX = 2
QR_BORDER_MODULES = 2


QR_CACHE_SIZE = 4096
"""QR codes kept per process: a stop's code is drawn once for all its pupils' notices and sheets."""


@functools.lru_cache(maxsize=QR_CACHE_SIZE)
def geo_qr_svg(location: Location) -> Markup:
    """An inline SVG QR code of the location's ``geo:`` URI (drawn offline, no network)."""
    import segno  # imported here: only sheets and notices draw QR codes

    code = segno.make(geo_uri(location), error="m", micro=False)
    return Markup(code.svg_inline(scale=QR_SCALE_PX, border=QR_BORDER_MODULES, omitsize=False))


def clock(seconds: int | float | None) -> str:
    """``HH:MM`` for a time in seconds after midnight; the seconds are dropped, not rounded up.

    Dropping them keeps a printed pickup time at or before the planned one, so nobody arrives late.
    ``None`` gives an empty string.
    """
    if seconds is None:
        return ""
    minutes = int(seconds) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_number(value: float, language: str, *, decimals: int = 0) -> str:
    """``value`` with the language's separators and Latin digits (as on clocks and plates)."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=language, numbering_system="latn")


def format_distance(metres: float | None, language: str) -> str:
    """``350 m``, ``1,4 km`` (tr), ``1.4 km`` (en), ``1.4 كم`` (ar); ``""`` for ``None``."""
    if metres is None or math.isnan(metres):
        return ""
    tr = translations(language)
    if metres >= SHOW_KM_FROM_M:
        value = format_number(metres / KM_FROM_M, language, decimals=1)
        return tr.gettext("%(value)s km") % {"value": value}
    value = format_number(round(metres / ROUND_SHORT_TO_M) * ROUND_SHORT_TO_M, language)
    return tr.gettext("%(value)s m") % {"value": value}


def format_duration(seconds: int | float | None) -> str:
    """``H:MM`` for a duration in seconds (rounded to the minute)."""
    if seconds is None:
        return ""
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def format_money(amount: float | None, currency: str, language: str) -> str:
    """``amount`` in ``currency`` written the language's way; empty for ``None``."""
    if amount is None:
        return ""
    text = format_currency(amount, currency, locale=language, numbering_system="latn")
    # CLDR's currency spacing, which Babel leaves out: a code written as letters ("TRY" in English)
    # is kept apart from the digits by a no-break space ("TRY 8,800.00", not "TRY8,800.00").
    return _CODE_THEN_DIGIT.sub("\\1\u00a0\\2", text, count=1)


_CODE_THEN_DIGIT = re.compile(r"^([A-Za-z]{2,})([0-9])")


def isolate(text: str) -> Markup:
    """``text`` escaped and isolated left-to-right: a Latin street name keeps its order in Arabic.

    ``dir="ltr"`` is spelled out: WeasyPrint does not resolve a bare ``<bdi>`` (``dir=auto``).
    """
    return Markup('<bdi dir="ltr">%s</bdi>') % text


@functools.cache
def template_environment(language: str) -> jinja2.Environment:
    """A Jinja2 environment whose ``_``/``gettext`` speak ``language``, with the format filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["clock"] = clock
    env.filters["distance"] = functools.partial(_distance_filter, language=language)
    env.filters["duration"] = format_duration
    env.filters["number"] = functools.partial(_number_filter, language=language)
    env.filters["isolate"] = isolate
    env.globals["language"] = language
    env.globals["direction"] = text_direction(language)
    return env


def _distance_filter(metres: float | None, *, language: str) -> str:
    return format_distance(metres, language)


def _number_filter(value: float, decimals: int = 0, *, language: str) -> str:
    return format_number(value, language, decimals=decimals)


def font_stack(language: str) -> str:
    """CSS font families covering the language (Noto Naskh for Arabic; DejaVu has ğ ş ı İ)."""
    if language in RTL_LANGUAGES:
        return '"Noto Naskh Arabic", "Noto Sans Arabic", "DejaVu Sans", "Noto Sans", sans-serif'
    return '"DejaVu Sans", "Noto Sans", "Noto Naskh Arabic", sans-serif'
