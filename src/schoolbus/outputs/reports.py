"""A scenario comparison report: one HTML page with a table and charts of finished plans.

The table's figures are the plans' own :class:`~schoolbus.model.Summary` fields, shown in the
report's language; each cell also carries the exact field value in ``data-value`` so that tools and
tests can read it back. The charts are drawn with matplotlib's Agg canvas (no display, no pyplot
state, so a notebook's own backend is left alone) and written beside the page as PNG (slides) and
SVG (print); the page embeds the SVGs, so it can be mailed on its own.

Labels come from the gettext catalogues ``schoolbus/locales/<lang>/LC_MESSAGES/reports.po``, read
with Babel at run time as :mod:`schoolbus.outputs.i18n` reads the other outputs' catalogues, in
Turkish, English and Arabic. An Arabic page runs right to left with Latin digits, as the Arabic route
sheets and notices do; matplotlib neither joins Arabic letters nor orders them right to left, so the
charts' words are shaped (``arabic_reshaper``) and put in display order (``python-bidi``) first.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from babel.messages.pofile import read_po
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from schoolbus.errors import InputError, Problem
from schoolbus.model import GradeWalkLimit, Plan, Scenario, Status
from schoolbus.outputs.i18n import (
    DEFAULT_LANGUAGE,
    RTL_LANGUAGES,
    font_stack,
    format_distance,
    format_money,
    format_number,
    po_path,
    template_environment,
)

REPORT_LANGUAGES = ("tr", "en", "ar")
"""Languages the report's catalogue is complete in."""
REPORT_DOMAIN = "reports"
REPORT_FILE = "comparison.html"
TEMPLATE = "comparison_report.html"

CHART_STEMS = ("cost_per_student_per_year", "ride_times", "vehicles_by_class")
"""File names (without ``.png``/``.svg``) of the charts written beside the page."""

PNG_DPI = 150
SVG_HASH_SALT = "schoolbus"
"""Fixed salt for matplotlib's SVG element ids, so the same plans give the same bytes."""
CHART_WIDTH_IN = 8.0
ROW_HEIGHT_IN = 0.55
MIN_CHART_HEIGHT_IN = 3.0
SECONDS_PER_MINUTE = 60.0
LIMIT_COLOUR = "#d62728"
BAR_COLOUR = "#1f77b4"
CLASS_COLOURS = matplotlib.colormaps["tab10"].colors
BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
"""Invisible direction marks, dropped from chart words (the reordering is done before drawing)."""
CHART_FONTS = {
    "ar": ["Noto Naskh Arabic", "Noto Sans Arabic", "DejaVu Sans"],
}
"""matplotlib font families per language (its default, DejaVu Sans, has no Arabic letters)."""

LABELS = {
    "title": "Scenario comparison",
    "intro": "The figures are each plan's own summary. Money is in %(currency)s.",
    "scenario": "Scenario",
    "n_vehicles": "Vehicles (vehicle-days)",
    "by_class": "Vehicles by class",
    "n_trips": "Trips",
    "distance_m": "Distance per day",
    "deadhead_m": "of which empty",
    "cost_per_day": "Cost per day",
    "cost_per_year": "Cost per year",
    "cost_per_student_per_year": "Cost per student per year",
    "mean_ride_s": "Ride time, mean",
    "p95_ride_s": "Ride time, 95th percentile",
    "max_ride_s": "Ride time, longest",
    "mean_walk_m": "Walk to stop, mean",
    "max_walk_m": "Walk to stop, longest",
    "n_students": "Students",
    "n_routed": "Students carried",
    "n_unserved": "Students not carried",
    "minutes": "%(value)s min",
    "cost_chart": "Cost per student per year",
    "cost_axis": "%(currency)s per student per year",
    "ride_chart": "Ride times: each pupil's ride to school and ride home",
    "ride_axis": "Ride time (minutes)",
    "ride_limit": "Ride limit",
    "ride_mean": "Mean",
    "no_rides": "no rides",
    "vehicles_chart": "Vehicles by class",
    "vehicles_axis": "Vehicles",
    "charts": "Charts",
    "files": "Files",
    "changes": "What each scenario changes, compared with %(first)s",
    "same_inputs": "the same inputs",
    "vehicle_type": "%(id)s (%(seats)s seats, %(rate)s per day%(limit)s)",
    "vehicle_limit": ", at most %(count)s",
    "students_changed": "students: %(old)s → %(new)s",
    "figures": "Figures",
}
"""Every label of the report: key → English message id of the ``reports`` catalogue."""


@dataclass(frozen=True)
class _Cell:
    """A table cell: the text shown and the exact Summary value (``''`` for ``None``)."""

    text: str
    value: str


@dataclass(frozen=True)
class _Row:
    field: str
    label: str
    cells: tuple[_Cell, ...]


@dataclass(frozen=True)
class _Chart:
    stem: str
    title: str
    svg_base64: str


@functools.cache
def _messages(language: str) -> dict[str, str]:
    """Message id → translation of the ``reports`` catalogue of ``language``."""
    with po_path(language, REPORT_DOMAIN).open("rb") as po:
        catalog = read_po(po, locale=language, domain=REPORT_DOMAIN)
    return {message.id: message.string for message in catalog if message.id and message.string}


def report_labels(language: str) -> dict[str, str]:
    """Every label of :data:`LABELS` in ``language`` (one of :data:`REPORT_LANGUAGES`)."""
    messages = _messages(language)
    return {key: messages.get(msgid, msgid) for key, msgid in LABELS.items()}


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def render_comparison(
    plans: Sequence[tuple[str, Plan]], out_dir: str | Path, *, language: str = DEFAULT_LANGUAGE, coverage=None
) -> Path:
    """Write an HTML comparison of finished plans, with its charts as PNG and SVG beside it.

    Parameters
    ----------
    plans : sequence of (label, Plan)
        The scenarios in the order to show them; labels are unique (usually scenario names). The
        first is the reference the "what changes" list compares the others with.
    out_dir : str or Path
        Created if needed; ``comparison.html`` and ``<chart>.png``/``<chart>.svg`` for each of
        :data:`CHART_STEMS` are written (replaced) there.
    language : str
        ``tr``, ``en`` or ``ar`` (right to left).
    coverage : (scenario name, sequence of CoveragePoint), optional
        A cost–coverage curve (:func:`schoolbus.budget.coverage_curve`) shown as its own section
        (:mod:`schoolbus.outputs.coverage`).

    Returns
    -------
    Path
        The path of ``comparison.html``.

    Raises
    ------
    InputError
        No plan, a label used twice, plans priced in different currencies, or a language without a
        report catalogue.
    """
    _check(plans, language)
    labels = report_labels(language)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    currency = plans[0][1].scenario.prices.currency
    titles = {
        "cost_per_student_per_year": labels["cost_chart"],
        "ride_times": labels["ride_chart"],
        "vehicles_by_class": labels["vehicles_chart"],
    }
    charts = []
    with chart_fonts(language):
        shaped = {key: chart_text(text, language) for key, text in labels.items()}
        shaped["cost_axis"] = chart_text(labels["cost_axis"] % {"currency": currency}, language)
        names = [chart_text(label, language) for label, _ in plans]
        figures = {
            "cost_per_student_per_year": _cost_chart(plans, shaped, currency, language, names),
            "ride_times": _ride_chart(plans, shaped, names),
            "vehicles_by_class": _vehicles_chart(plans, shaped, names),
        }
        for stem in CHART_STEMS:
            svg_path = save_figure(figures[stem], out, stem)
            charts.append(_Chart(stem, titles[stem], base64.b64encode(svg_path.read_bytes()).decode("ascii")))
    first_label, first_plan = plans[0]
    page = template_environment(language).get_template(TEMPLATE).render(
        labels=labels,
        intro=labels["intro"] % {"currency": currency},
        changes_title=labels["changes"] % {"first": first_label},
        scenario_labels=[label for label, _ in plans],
        rows=_rows(plans, labels, currency, language),
        charts=charts,
        changes=[
            (label, _changes(first_plan.scenario, plan.scenario, labels) or [labels["same_inputs"]])
            for label, plan in plans[1:]
        ],
        coverage=_coverage(coverage, currency, language, out),
        bell_sections=_bell_sections(plans, currency, language),
        fonts=font_stack(language),
    )
    path = out / REPORT_FILE
    path.write_text(page, encoding="utf-8", newline="\n")
    return path


def chart_text(text: str, language: str) -> str:
    """``text`` as matplotlib must be given it to show it right: Arabic joined and in display order.

    matplotlib lays text out left to right, glyph by glyph; an Arabic label is reshaped into its
    joined letter forms and reordered for display (Latin names and digits inside keep their order).
    Other languages are returned as they are.
    """
    if language not in RTL_LANGUAGES or not text:
        return text
    text = text.translate(BIDI_MARKS)  # CLDR puts marks in Arabic money; matplotlib draws them as boxes
    import arabic_reshaper
    from bidi.algorithm import get_display  # the algorithm that also mirrors brackets: "(دقائق)"

    return get_display(arabic_reshaper.reshape(text), base_dir="R")


def chart_fonts(language: str):
    """A matplotlib ``rc_context`` with fonts that cover ``language`` (charts drawn inside it)."""
    families = CHART_FONTS.get(language)
    return matplotlib.rc_context({"font.family": families} if families else {})


def _coverage(coverage, currency: str, language: str, out: Path) -> dict | None:
    """The cost–coverage section's context (``None`` without a curve)."""
    if coverage is None:
        return None
    from schoolbus.outputs.coverage import coverage_section

    name, points = coverage
    return coverage_section(name, points, currency, language, out, _messages(language))


def _bell_sections(plans, currency: str, language: str) -> list[dict]:
    """School-by-school bells of the scenarios that chose them (:mod:`schoolbus.outputs.coverage`)."""
    from schoolbus.outputs.coverage import bell_sections

    return bell_sections(plans, currency, language, _messages(language))


def _check(plans: Sequence[tuple[str, Plan]], language: str) -> None:
    problems = []
    if language not in REPORT_LANGUAGES:
        problems.append(Problem("comparison", None, "language", language, f"one of {', '.join(REPORT_LANGUAGES)}"))
    if not plans:
        problems.append(Problem("comparison", None, "plans", 0, "at least one plan"))
    seen = set()
    for label, _ in plans:
        if label in seen:
            problems.append(Problem("comparison", None, "label", label, "each scenario label once"))
        seen.add(label)
    currencies = sorted({plan.scenario.prices.currency for _, plan in plans})
    if len(currencies) > 1:
        problems.append(
            Problem("comparison", None, "currency", ", ".join(currencies), "plans priced in one currency")
        )
    if problems:
        raise InputError(problems, f"{len(problems)} problem(s) with the plans to compare")


# --------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------


def _exact(value: float | int | None) -> str:
    """The Summary value as Python writes it (shortest round-trip form), ``''`` for ``None``."""
    return "" if value is None else repr(value)


def _rows(plans, labels: dict[str, str], currency: str, language: str) -> list[_Row]:
    def count(value):
        return format_number(value, language)

    def money(value):
        return format_money(value, currency, language) if value is not None else "–"

    def minutes(value):
        if value is None:
            return "–"
        return labels["minutes"] % {"value": format_number(value / SECONDS_PER_MINUTE, language, decimals=1)}

    def distance(value):
        return format_distance(value, language) or "–"

    shown = (
        ("n_vehicles", count),
        ("n_trips", count),
        ("distance_m", distance),
        ("deadhead_m", distance),
        ("cost_per_day", money),
        ("cost_per_year", money),
        ("cost_per_student_per_year", money),
        ("mean_ride_s", minutes),
        ("p95_ride_s", minutes),
        ("max_ride_s", minutes),
        ("mean_walk_m", distance),
        ("max_walk_m", distance),
        ("n_students", count),
        ("n_routed", count),
        ("n_unserved", count),
    )
    rows = []
    for field, show in shown:
        cells = tuple(
            _Cell(show(getattr(plan.summary, field)), _exact(getattr(plan.summary, field))) for _, plan in plans
        )
        rows.append(_Row(field, labels[field], cells))
        if field == "n_vehicles":
            by_class = tuple(_Cell(_class_text(plan), "") for _, plan in plans)
            rows.append(_Row("by_class", labels["by_class"], by_class))
    return rows


def _class_counts(plan: Plan) -> Counter:
    """Vehicle-days per vehicle type, in the fleet's order of types."""
    counts = Counter(v.vehicle_type for v in plan.vehicles)
    order = {t.id: k for k, t in enumerate(plan.scenario.fleet.vehicle_types)}
    return Counter(dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))))


def _class_text(plan: Plan) -> str:
    return ", ".join(f"{n} × {type_id}" for type_id, n in _class_counts(plan).items()) or "–"


# --------------------------------------------------------------------------------------------------
# What each scenario changes
# --------------------------------------------------------------------------------------------------


def _show(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        if all(isinstance(v, GradeWalkLimit) for v in value) and value:
            return "; ".join(f"grade ≤ {v.max_grade}: {v.walk_limit_m:g} m" for v in value)
        return ", ".join(str(v) for v in value) or "–"
    return str(value)


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _changes(first: Scenario, other: Scenario, labels: dict[str, str] | None = None) -> list[str]:
    """The inputs of ``other`` that differ from ``first``'s, one line each (field names as in the model)."""
    lines = []
    for section in ("policy", "prices"):
        a, b = getattr(first, section), getattr(other, section)
        for f in dataclasses.fields(a):
            old, new = getattr(a, f.name), getattr(b, f.name)
            if old != new:
                lines.append(f"{section}.{f.name}: {_show(old)} → {_show(new)}")

    labels = labels or {key: msgid for key, msgid in LABELS.items()}

    def vehicle(v):
        limit = "" if v.count is None else labels["vehicle_limit"] % {"count": v.count}
        return labels["vehicle_type"] % {"id": v.id, "seats": v.seats, "rate": f"{v.day_rate:g}", "limit": limit}

    if first.fleet.vehicle_types != other.fleet.vehicle_types:
        old = "; ".join(vehicle(v) for v in first.fleet.vehicle_types)
        new = "; ".join(vehicle(v) for v in other.fleet.vehicle_types)
        lines.append(f"fleet.vehicle_types: {old} → {new}")
    if first.fleet.depots != other.fleet.depots:
        old = ", ".join(d.id for d in first.fleet.depots) or "–"
        new = ", ".join(d.id for d in other.fleet.depots) or "–"
        lines.append(f"fleet.depots: {old} → {new}")
    old_shifts = {(s.id, x.name): x for s in first.schools for x in s.shifts}
    for school in other.schools:
        for shift in school.shifts:
            before = old_shifts.get((school.id, shift.name))
            if before is not None and before != shift:
                lines.append(
                    f"{school.id}/{shift.name}: {_hhmm(before.bell_s)}–{_hhmm(before.dismissal_s)} → "
                    f"{_hhmm(shift.bell_s)}–{_hhmm(shift.dismissal_s)}"
                )
    if [s.id for s in first.students] != [s.id for s in other.students]:
        lines.append(labels["students_changed"] % {"old": len(first.students), "new": len(other.students)})
    return lines


# --------------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------------


def report_figure(n_rows: int) -> Figure:
    """A figure on the Agg canvas, tall enough for ``n_rows`` scenarios."""
    height = max(MIN_CHART_HEIGHT_IN, 1.4 + ROW_HEIGHT_IN * n_rows)
    figure = Figure(figsize=(CHART_WIDTH_IN, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, out: Path, stem: str) -> Path:
    """Write ``stem.png`` and ``stem.svg``; return the SVG's path."""
    svg = out / f"{stem}.svg"
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "path"}):
        figure.savefig(svg, format="svg", metadata={"Date": None})
        figure.savefig(out / f"{stem}.png", format="png", dpi=PNG_DPI)
    return svg


def _cost_chart(plans, labels, currency: str, language: str, names: list[str]) -> Figure:
    figure = report_figure(len(plans))
    ax = figure.add_subplot()
    values = [plan.summary.cost_per_student_per_year for _, plan in plans]
    positions = list(range(len(plans)))
    ax.barh(positions, [v or 0.0 for v in values], color=BAR_COLOUR)
    for y, value in zip(positions, values):
        text = "–" if value is None else chart_text(format_money(value, currency, language), language)
        ax.annotate(text, (value or 0.0, y), xytext=(4, 0), textcoords="offset points", va="center")
    ax.set_yticks(positions, names)
    ax.invert_yaxis()
    ax.set_xlabel(labels["cost_axis"])
    ax.set_title(labels["cost_chart"])
    ax.margins(x=0.25)
    ax.xaxis.set_major_formatter(lambda x, _: format_number(x, language))
    ax.grid(axis="x", alpha=0.3)
    return figure


def _rides_min(plan: Plan) -> list[float]:
    """Every routed pupil's ride to school and ride home, minutes."""
    rides = []
    for a in plan.assignments:
        if a.status is not Status.ROUTED:
            continue
        rides.extend(r / SECONDS_PER_MINUTE for r in (a.ride_to_school_s, a.ride_home_s) if r is not None)
    return rides


def _ride_chart(plans, labels, names: list[str]) -> Figure:
    figure = report_figure(len(plans))
    ax = figure.add_subplot()
    positions = list(range(len(plans)))
    rides = [_rides_min(plan) for _, plan in plans]
    with_rides = [k for k in positions if rides[k]]
    if with_rides:
        ax.boxplot(
            [rides[k] for k in with_rides],
            positions=with_rides,
            orientation="horizontal",
            whis=(0, 100),  # whiskers reach the shortest and the longest ride: nothing is an outlier
            showmeans=True,
            meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"},
            medianprops={"color": BAR_COLOUR},
            widths=0.5,
        )
    for k in positions:
        if not rides[k]:
            ax.annotate(labels["no_rides"], (0, k), xytext=(4, 0), textcoords="offset points", va="center")
    limits = [plan.scenario.policy.max_ride_s / SECONDS_PER_MINUTE for _, plan in plans]
    ax.scatter(limits, positions, marker="|", s=400, color=LIMIT_COLOUR, label=labels["ride_limit"], zorder=3)
    ax.plot([], [], "D", markerfacecolor="white", markeredgecolor="black", label=labels["ride_mean"])
    ax.set_yticks(positions, names)
    ax.set_ylim(len(plans) - 0.5, -0.5)
    ax.set_xlim(left=0)
    ax.set_xlabel(labels["ride_axis"])
    ax.set_title(labels["ride_chart"])
    ax.grid(axis="x", alpha=0.3)
    figure.legend(loc="outside right upper", fontsize="small")
    return figure


def _vehicles_chart(plans, labels, names: list[str]) -> Figure:
    figure = report_figure(len(plans))
    ax = figure.add_subplot()
    counts = [_class_counts(plan) for _, plan in plans]
    classes: list[str] = []
    for _, plan in plans:
        for vehicle_type in plan.scenario.fleet.vehicle_types:
            if vehicle_type.id not in classes and any(vehicle_type.id in c for c in counts):
                classes.append(vehicle_type.id)
    for c in counts:
        classes.extend(type_id for type_id in c if type_id not in classes)
    positions = list(range(len(plans)))
    left = [0] * len(plans)
    for k, type_id in enumerate(classes):
        widths = [c.get(type_id, 0) for c in counts]
        ax.barh(positions, widths, left=left, label=type_id, color=CLASS_COLOURS[k % len(CLASS_COLOURS)])
        left = [a + b for a, b in zip(left, widths)]
    for y, (_, plan) in zip(positions, plans):
        ax.annotate(str(plan.summary.n_vehicles), (left[y], y), xytext=(4, 0), textcoords="offset points", va="center")
    ax.set_yticks(positions, names)
    ax.invert_yaxis()
    ax.set_xlabel(labels["vehicles_axis"])
    ax.set_title(labels["vehicles_chart"])
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.margins(x=0.15)
    ax.grid(axis="x", alpha=0.3)
    if classes:
        figure.legend(loc="outside right upper", fontsize="small")
    return figure
