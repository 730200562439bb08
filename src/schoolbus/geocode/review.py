"""The review map: one self-contained HTML page of the pupils a person should look at.

Pupils placed coarser than a street (mahalle or ilçe centre, or not at all) or with a low score
are drawn on a Leaflet map (inlined, so the page works from a USB stick; only the background tiles
come from the web) and listed in a table below it. Every piece of user text is escaped: the table
through Jinja2's autoescaping, the map's popups through ``textContent``.

Words come from the ``geocode`` gettext catalogue (``locales/<lang>/LC_MESSAGES/geocode.po``).
"""

from __future__ import annotations

import gettext
from pathlib import Path

import jinja2
from markupsafe import Markup

from schoolbus.geocode.table import DEFAULT_REVIEW_SCORE, GeocodedTable

__all__ = ["DOMAIN", "LABELS", "PRECISION_COLOURS", "render_review_map"]

DOMAIN = "geocode"

PRECISION_COLOURS = {
    "manual": "#1b7837",
    "house": "#5aae61",
    "interpolated": "#a6dba0",
    "street": "#fee08b",
    "neighbourhood": "#fc8d59",
    "district": "#d73027",
    "none": "#999999",
}
"""Marker colour per precision: green (exact) through orange (mahalle) to red (ilçe)."""

LABELS = {
    "given": "coordinates given",
    "manual": "placed by hand",
    "house": "house",
    "interpolated": "interpolated",
    "street": "street",
    "neighbourhood": "neighbourhood (mahalle)",
    "district": "district (ilçe)",
    "none": "not found",
}
"""English message ids of the precisions (the page's other words are in its template)."""

_TEMPLATES = Path(__file__).parent / "templates"
_STATIC = Path(__file__).resolve().parents[1] / "static" / "leaflet-1.9.4"


def po_path_of(language: str) -> Path:
    """The ``geocode`` catalogue file of ``language``."""
    from schoolbus.outputs.i18n import po_path

    return po_path(language, DOMAIN)


def translations(language: str) -> gettext.GNUTranslations:
    """The ``geocode`` catalogue of ``language`` (``tr``, ``en``, ``ar``)."""
    from schoolbus.outputs.i18n import translations as catalogue

    return catalogue(language, DOMAIN)


def _environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def _inline(code: str, tag: str) -> Markup:
    """Vendored code safe to put inside ``<tag>``: no early ``</tag>``, no source-map comment."""
    code = code.replace(f"</{tag}", f"<\\/{tag}")
    code = "\n".join(line for line in code.splitlines() if "sourceMappingURL" not in line)
    return Markup(code)  # noqa: S704 - vendored Leaflet, not user text


def render_review_map(
    table: GeocodedTable,
    path: str | Path,
    *,
    min_score: int = DEFAULT_REVIEW_SCORE,
    language: str = "en",
) -> Path:
    """Write the review page of ``table`` to ``path`` and return it.

    Parameters
    ----------
    table : GeocodedTable
        A geocoded students table.
    path : str or Path
        The ``.html`` file to write.
    min_score : int
        Pupils scored below this (0-100) are listed even at street precision or better.
    language : str
        ``tr``, ``en`` or ``ar``.
    """
    from schoolbus.outputs.i18n import check_language, text_direction

    check_language(language)
    tr = translations(language)
    review = table.review(min_score)
    rows = [
        {
            "row": r.row,
            "id": r.student_id or "",
            "address": r.address,
            "precision": r.result.precision,
            "score": r.result.score,
            "match": r.result.match,
            "lon": r.result.lon,
            "lat": r.result.lat,
        }
        for r in review
    ]
    placed = [r.result.location for r in table.rows if r.result.location is not None]
    centre = [sum(p[1] for p in placed) / len(placed), sum(p[0] for p in placed) / len(placed)] if placed else [0.0, 0.0]
    html = _environment(language).get_template("geocode_review.html").render(
        language=language,
        direction=text_direction(language),
        source=Path(table.file).name,
        rows=rows,
        n_rows=len(table.rows),
        min_score=min_score,
        summary=table.summary(),
        colours=PRECISION_COLOURS,
        precision_labels={k: tr.gettext(v) for k, v in LABELS.items()},
        centre=centre,
        leaflet_css=_inline((_STATIC / "leaflet.css").read_text(encoding="utf-8"), "style"),
        leaflet_js=_inline((_STATIC / "leaflet.js").read_text(encoding="utf-8"), "script"),
    )
    path = Path(path)
    path.write_text(html, encoding="utf-8")
    return path
