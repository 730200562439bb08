"""The cost–coverage section of the comparison report: pupils carried against the annual budget.

It renders a finished curve (:func:`schoolbus.budget.coverage_curve`: one budgeted plan per
budget, from nothing to the full plan's cost) as a table and a chart, marking the annual cost of
each extra pupil between two budgets. It computes nothing but the marginal cost, a difference of
the figures it is given. Labels are in the ``reports`` catalogue, like the rest of the report.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from schoolbus.budget import CoveragePoint, marginal_costs
from schoolbus.outputs.i18n import format_money, format_number

COVERAGE_STEM = "cost_coverage"
LINE_COLOUR = "#1f77b4"
WEIGHT_COLOUR = "#ff7f0e"

COVERAGE_LABELS = {
    "title": "Who a budget carries",
    "intro": "Each budget is planned by the same engine; the plan carries the most priority-weighted pupils it can within it (scenario %(scenario)s).",
    "budget": "Budget per year",
    "cost": "Plan cost per year",
    "served": "Pupils carried",
    "weighted": "Priority-weighted pupils carried",
    "vehicles": "Vehicles",
    "marginal": "Cost per extra pupil per year",
    "axis_cost": "Annual cost (%(currency)s)",
    "axis_pupils": "Pupils carried",
}
"""Key → English message id in the ``reports`` catalogue."""


@dataclass(frozen=True)
class CoverageRow:
    """One budget of the table, as shown."""

    budget: str
    cost: str
    served: str
    weighted: str
    vehicles: str
    marginal: str


def coverage_section(
    scenario_name: str, points: Sequence[CoveragePoint], currency: str, language: str, out: Path, messages: dict[str, str]
) -> dict:
    """The template context of the section; writes ``cost_coverage.png`` and ``.svg`` into ``out``."""
    from schoolbus.outputs.reports import chart_fonts, chart_text, report_figure, save_figure

    labels = {key: messages.get(msgid, msgid) for key, msgid in COVERAGE_LABELS.items()}
    margins = marginal_costs(points)
    rows = [
        CoverageRow(
            budget=format_money(p.budget_per_year, currency, language),
            cost=format_money(p.cost_per_year, currency, language),
            served=format_number(p.n_served, language),
            weighted=format_number(p.weighted_served, language, decimals=1),
            vehicles=format_number(p.n_vehicles, language),
            marginal="–" if m is None else format_money(m, currency, language),
        )
        for p, m in zip(points, margins)
    ]
    with chart_fonts(language):
        figure = report_figure(6)
        ax = figure.add_subplot()
        costs = [p.cost_per_year for p in points]
        ax.plot(costs, [p.n_served for p in points], marker="o", color=LINE_COLOUR, label=chart_text(labels["served"], language))
        ax.plot(costs, [p.weighted_served for p in points], marker="s", linestyle="--", color=WEIGHT_COLOUR, label=chart_text(labels["weighted"], language))
        for before, after, margin in zip(points, points[1:], margins[1:]):
            if margin is None:
                continue
            middle = ((before.cost_per_year + after.cost_per_year) / 2, (before.n_served + after.n_served) / 2)
            ax.annotate(chart_text(format_money(margin, currency, language), language), middle, xytext=(6, -12), textcoords="offset points", fontsize=8)
        ax.set_xlabel(chart_text(labels["axis_cost"] % {"currency": currency}, language))
        ax.set_ylabel(chart_text(labels["axis_pupils"], language))
        ax.xaxis.set_major_formatter(lambda x, _: format_number(x, language))
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        svg = save_figure(figure, out, COVERAGE_STEM)
    return {
        "labels": labels,
        "intro": labels["intro"] % {"scenario": scenario_name},
        "rows": rows,
        "stem": COVERAGE_STEM,
        "svg_base64": base64.b64encode(svg.read_bytes()).decode("ascii"),
    }


# ---- bells chosen within the schools' windows --------------------------------------------------

BELL_LABELS = {
    "title": "Bells chosen within the schools' windows",
    "intro": "School by school, scenario %(scenario)s (bells chosen to need the fewest vehicles) against %(first)s.",
    "school": "School",
    "current_bell": "Bell in %(first)s",
    "chosen_bell": "Chosen bell",
    "current_vehicles": "Vehicles in %(first)s",
    "chosen_vehicles": "Vehicles, chosen bells",
    "current_cost": "Cost per year in %(first)s",
    "chosen_cost": "Cost per year, chosen bells",
}
"""Key → English message id in the ``reports`` catalogue."""


def bell_sections(plans, currency: str, language: str, messages: dict[str, str]) -> list[dict]:
    """One table per scenario that chose its bells, against the first scenario's plan."""
    from schoolbus.bells import bell_table

    first_name, first = plans[0]
    labels = {key: messages.get(msgid, msgid) for key, msgid in BELL_LABELS.items()}
    sections = []
    for name, result in plans[1:]:
        if not result.scenario.choose_bells:
            continue
        rows = [
            (
                r.name,
                _hhmm(r.current_bell_s),
                _hhmm(r.chosen_bell_s),
                format_number(r.current_vehicles, language),
                format_number(r.chosen_vehicles, language),
                format_money(r.current_cost_per_year, currency, language),
                format_money(r.chosen_cost_per_year, currency, language),
            )
            for r in bell_table(first, result)
        ]
        headers = [
            labels[k] % {"first": first_name}
            for k in ("school", "current_bell", "chosen_bell", "current_vehicles", "chosen_vehicles", "current_cost", "chosen_cost")
        ]
        sections.append(
            {"title": labels["title"], "intro": labels["intro"] % {"scenario": name, "first": first_name}, "headers": headers, "rows": rows}
        )
    return sections


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
