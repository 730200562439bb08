"""The comparison page's extra sections, drawn by the comparison report's own code (nothing recomputed).

* **Cost–coverage**: the compared plans whose scenario has an annual budget, as points of a curve
  (:func:`schoolbus.outputs.coverage.coverage_section`, the report's table and chart).
* **Bells**: for each compared plan whose scenario chose its bells, school by school its chosen
  bells against the first plan's (:func:`schoolbus.outputs.coverage.bell_sections`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from schoolbus.service import store

MIN_COVERAGE_POINTS = 2
"""A curve needs two budgets at least."""


def extra_sections(session: Session, records: list, language: str) -> dict:
    """``{"coverage": section or None, "bells": [section, ...]}`` for the compared plan records."""
    from schoolbus.budget import CoveragePoint, weighted_served
    from schoolbus.outputs.coverage import BELL_LABELS, COVERAGE_LABELS, bell_sections, coverage_section
    from schoolbus.outputs.i18n import translations
    from schoolbus.outputs.reports import REPORT_DOMAIN, REPORT_LANGUAGES

    report_language = language if language in REPORT_LANGUAGES else "tr"
    catalogue = translations(report_language, REPORT_DOMAIN)
    messages = {msgid: catalogue.gettext(msgid) for msgid in (*COVERAGE_LABELS.values(), *BELL_LABELS.values())}
    plans = [(record.name, store.load_plan(session, record)) for record in records]
    currency = plans[0][1].scenario.prices.currency
    budgeted = sorted(
        (plan for _, plan in plans if plan.scenario.budget_per_year is not None),
        key=lambda plan: plan.scenario.budget_per_year,
    )
    coverage = None
    if len(budgeted) >= MIN_COVERAGE_POINTS:
        points = [
            CoveragePoint(
                budget_per_year=plan.scenario.budget_per_year,
                cost_per_year=plan.summary.cost_per_year,
                n_served=plan.summary.n_routed,
                weighted_served=round(weighted_served(plan), 3),
                n_vehicles=plan.summary.n_vehicles,
            )
            for plan in budgeted
        ]
        with tempfile.TemporaryDirectory(prefix="schoolbus-coverage-") as folder:
            coverage = coverage_section(budgeted[0].scenario.name, points, currency, report_language, Path(folder), messages)
    bells = []
    if any(plan.scenario.choose_bells for _, plan in plans[1:]):
        bells = bell_sections(plans, currency, report_language, messages)
    return {"coverage": coverage, "bells": bells}
