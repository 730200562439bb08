"""What the web page shows, worked out from store records: steps, scenario differences, plan rows.

Nothing here plans or costs anything: it reads the stored ``scenario.json`` and ``plan.json``
documents and says, in the page's language, what they hold and how they differ.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from schoolbus.model import Plan
from schoolbus.outputs.i18n import N_
from schoolbus.service.i18n import Formats, translate

STEPS = (
    ("inputs", N_("Pupils and schools")),
    ("network", N_("Road network")),
    ("settings", N_("Policy, fleet and prices")),
    ("scenario", N_("Scenario")),
    ("plan", N_("Plan")),
    ("compare", N_("Compare")),
)
"""The project page's guided sequence, in order: key and title."""

INPUT_FILES = (
    ("students", N_("Pupils"), ".csv,.xlsx,.xlsm,.geojson,.json,.txt,.tsv"),
    ("schools", N_("Schools"), ".csv,.xlsx,.xlsm,.geojson,.json,.txt,.tsv"),
    ("fleet", N_("Fleet"), ".yaml,.yml,.toml"),
    ("policy", N_("Policy"), ".yaml,.yml,.toml"),
    ("hazards", N_("Hazards"), ".geojson,.json"),
    ("network", N_("Road network"), ".pbf,.osm,.bz2,.gz,.geojson,.json,.gpkg,.fgb"),
)
"""The project's input files on the page: kind, label and the file types the picker offers."""
FILE_COUNT_WORDS = {
    "students": N_("%(n)s pupils"),
    "schools": N_("%(n)s schools"),
    "hazards": N_("%(n)s hazards"),
}
"""What an uploaded file's count is a count of (the readers count pupils, schools, hazards)."""

POLICY_SHOWN = (
    ("walk_limit_m", N_("Walk limit"), "m"),
    ("max_ride_s", N_("Longest ride"), "s"),
    ("arrival_buffer_s", N_("Arrival before the bell"), "s"),
    ("escort_max_grade", N_("Escort up to grade"), ""),
)
PRICES_SHOWN = (
    ("escort_day_rate", N_("Escort day rate"), "money"),
    ("overhead_share", N_("Overhead"), "share"),
    ("school_days_per_year", N_("School days per year"), ""),
)


@dataclass
class Step:
    key: str
    title: str
    is_done: bool
    state: str
    is_next: bool = False


@dataclass
class ScenarioRow:
    record: Any
    differences: list[str] = field(default_factory=list)
    has_plans: bool = False


def scenario_document(record) -> dict:
    return json.loads(record.document)


def _value(unit: str, value: Any, fmt: Formats, currency: str) -> str:
    if value is None:
        return "–"
    if unit == "m":
        return fmt.metres(value)
    if unit == "s":
        return fmt.minutes(value)
    if unit == "money":
        return fmt.money(value, currency)
    if unit == "share":
        return fmt.percent(value)
    return fmt.number(value)


def _fleet_words(document: dict, fmt: Formats, language: str) -> dict[str, str]:
    """Vehicle type id → "16 seats, ₺3.000,00/day, 4 vehicles" for one scenario's fleet."""
    currency = document.get("prices", {}).get("currency", "")
    words = {}
    for vehicle in document.get("fleet", {}).get("vehicle_types", []):
        count = vehicle.get("count")
        words[vehicle["id"]] = translate("%(seats)s seats, %(rate)s per day, %(count)s", language) % {
            "seats": fmt.number(vehicle["seats"]),
            "rate": fmt.money(vehicle["day_rate"], currency),
            "count": translate("as many as needed", language) if count is None else translate("%(n)s vehicles", language) % {"n": fmt.number(count)},
        }
    return words


def settings_summary(document: dict, base: dict | None, language: str) -> list[str]:
    """What a scenario's policy, fleet, prices, budget and bells are: only what differs from ``base``.

    Without ``base`` (the project's first scenario) the main settings are listed as they are.
    """
    fmt = Formats(language)
    currency = document.get("prices", {}).get("currency", "")
    lines = []

    def compare(section: str, shown) -> None:
        mine = document.get(section, {})
        theirs = (base or {}).get(section, {})
        for key, label, unit in shown:
            if base is None or mine.get(key) != theirs.get(key):
                now = _value(unit, mine.get(key), fmt, currency)
                if base is None:
                    lines.append(f"{translate(label, language)}: {now}")
                else:
                    before = _value(unit, theirs.get(key), fmt, currency)
                    lines.append(f"{translate(label, language)}: {before} → {now}")

    compare("policy", POLICY_SHOWN)
    mine, theirs = _fleet_words(document, fmt, language), _fleet_words(base or {}, fmt, language)
    if base is None:
        lines.append(translate("Fleet", language) + ": " + "; ".join(f"{k} ({v})" for k, v in mine.items()))
    else:
        for type_id in sorted(set(mine) | set(theirs)):
            if mine.get(type_id) != theirs.get(type_id):
                lines.append(f"{type_id}: {theirs.get(type_id, '–')} → {mine.get(type_id, '–')}")
    compare("prices", PRICES_SHOWN)
    budget, base_budget = document.get("budget_per_year"), (base or {}).get("budget_per_year")
    if budget is not None and (base is None or budget != base_budget):
        lines.append(translate("Annual budget", language) + ": " + fmt.money(budget, currency))
    elif base is not None and budget != base_budget:
        lines.append(translate("Annual budget", language) + ": " + translate("none (carry everyone)", language))
    if document.get("choose_bells") and (base is None or not base.get("choose_bells")):
        lines.append(translate("Bells chosen within the schools' windows", language))
    n_hazards, base_hazards = len(document.get("hazards", [])), len((base or {}).get("hazards", []))
    if n_hazards and (base is None or n_hazards != base_hazards):
        lines.append(translate("%(n)s hazards", language) % {"n": fmt.number(n_hazards)})
    if base is not None and not lines:
        lines.append(translate("same settings as %(name)s", language) % {"name": base.get("name", "")})
    return lines


def project_steps(files: dict, project, scenarios: list, plans: list, language: str) -> list[Step]:
    """Each step's state with its counts; the first step not done is marked next."""
    fmt = Formats(language)
    latest = scenarios[-1] if scenarios else None

    def counted(kind: str, word: str) -> str | None:
        if kind in files and files[kind].n_rows is not None:
            return translate(word, language) % {"n": fmt.number(files[kind].n_rows)}
        return None

    pupils = counted("students", "%(n)s pupils")
    schools = counted("schools", "%(n)s schools")
    if pupils and schools:
        inputs_state = f"{pupils}, {schools}"
    elif latest is not None:
        inputs_state = translate("%(pupils)s pupils and %(schools)s schools in scenario %(name)s", language) % {
            "pupils": fmt.number(latest.n_students), "schools": fmt.number(latest.n_schools), "name": latest.name,
        }
    else:
        missing = [translate(w, language) for k, w in (("students", "pupils file"), ("schools", "schools file")) if k not in files]
        inputs_state = translate("missing: %(what)s", language) % {"what": ", ".join(missing)}
    has_inputs = bool(pupils and schools) or latest is not None
    has_settings = "policy" in files or "fleet" in files or latest is not None
    if "fleet" in files or "policy" in files:
        settings_state = ", ".join(
            translate(w, language) for k, w in (("policy", "policy saved"), ("fleet", "fleet and prices saved")) if k in files
        )
    elif latest is not None:
        settings_state = translate("as in scenario %(name)s", language) % {"name": latest.name}
    else:
        settings_state = translate("defaults (check the fleet's day rates)", language)
    steps = [
        Step("inputs", translate(STEPS[0][1], language), has_inputs, inputs_state),
        Step("network", translate(STEPS[1][1], language), project.network_path is not None,
             project.network_filename or translate("not uploaded", language)),
        Step("settings", translate(STEPS[2][1], language), has_settings, settings_state),
        Step("scenario", translate(STEPS[3][1], language), bool(scenarios),
             translate("%(n)s scenarios", language) % {"n": fmt.number(len(scenarios))}),
        Step("plan", translate(STEPS[4][1], language), bool(plans),
             translate("%(n)s plans", language) % {"n": fmt.number(len(plans))}),
        Step("compare", translate(STEPS[5][1], language), False,
             translate("tick two plans below", language) if len(plans) > 1 else translate("needs two plans", language)),
    ]
    for step in steps:
        if not step.is_done:
            step.is_next = True
            break
    return steps


def unserved_rows(plan: Plan, language: str) -> list[dict]:
    """The plan's pupils without a bus place: id, school name, shift, reason code, title and sentence."""
    from schoolbus.outputs.reasons import describe_reason
    from schoolbus.service.i18n import reason_title, shift_name

    schools = {s.id: s.name or s.id for s in plan.scenario.schools}
    rows = []
    for assignment in plan.assignments:
        reason = assignment.reason
        if reason is None:
            continue
        code = reason.code.value
        rows.append({
            "id": assignment.student_id,
            "school_id": assignment.school_id,
            "school": schools.get(assignment.school_id, assignment.school_id),
            "shift": shift_name(assignment.shift, language),
            "code": code,
            "title": reason_title(code, language),
            "sentence": describe_reason(reason, language),
        })
    return rows


def reason_counts(rows: list[dict]) -> list[tuple[str, str, int]]:
    """(code, title, count) per reason title, most frequent first."""
    counts = Counter((r["code"], r["title"]) for r in rows)
    return [(code, title, n) for (code, title), n in counts.most_common()]
