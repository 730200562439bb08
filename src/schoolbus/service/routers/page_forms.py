"""The page's forms → validated documents: fleet and prices, policy, a plan run's settings.

A form becomes the same document a file would hold (``fleet.yaml``, ``policy.yaml``) and is read
by the same readers (:mod:`schoolbus.ingest`), so a form and a file are checked alike; problems
come back named by the form's own labels, in the page's language.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from schoolbus.errors import InputError, Problem
from schoolbus.ingest import fleet_document, read_fleet, read_policy
from schoolbus.model import Fleet, Policy, Prices, Scenario
from schoolbus.outputs.i18n import N_
from schoolbus.service.i18n import translate
from schoolbus.service.scenarios import document_yaml

FORM_FILE = "form"
MAX_VEHICLE_TYPES = 12
"""Rows of the vehicle types table (the filled ones plus empty rows up to this many)."""
EMPTY_ROWS = 2
VEHICLE_COLUMNS = (
    ("id", N_("Vehicle type")),
    ("seats", N_("Seats")),
    ("wheelchair_places", N_("Wheelchair places")),
    ("day_rate", N_("Day rate")),
    ("km_rate", N_("Rate per km")),
    ("count", N_("Available (empty: as many as needed)")),
    ("always_escort", N_("Always with an escort")),
)
PRICE_FIELDS = (
    ("currency", N_("Currency")),
    ("escort_day_rate", N_("Escort day rate")),
    ("overhead_share", N_("Overhead (share, 0–1)")),
    ("school_days_per_year", N_("School days per year")),
)
POLICY_LABELS = {
    "walk_limit_m": N_("Walk limit (m)"),
    "max_ride_min": N_("Longest ride (min)"),
    "arrival_buffer_min": N_("Arrival before the bell (min)"),
    "escort_max_grade": N_("Escort up to grade"),
}
EXPECTED_WORDS = {
    "a number": N_("a number"),
    "a whole number": N_("a whole number"),
    "a value (required key)": N_("a value (this field is required)"),
    "true or false": N_("ticked or not"),
    "a three-letter ISO 4217 code such as TRY or EUR": N_("a three-letter currency code such as TRY or EUR"),
    "an uploaded students table": N_("an uploaded pupils file (or start the scenario from a copy of one)"),
    "an uploaded schools table": N_("an uploaded schools file (or start the scenario from a copy of one)"),
    "a road network file for the project": N_("a road network file for the project"),
    "an existing account": N_("an existing account"),
}
FILE_WORDS = {
    "students file": N_("pupils file"),
    "schools file": N_("schools file"),
    "road network": N_("road network"),
    "policy": N_("policy"),
    "fleet": N_("fleet"),
    "scenario": N_("scenario"),
    "member": N_("member"),
    FORM_FILE: N_("form"),
}
"""The problem's "file" when it is no file but a part of the page."""
VALUE_WORDS = {"not uploaded": N_("not uploaded")}
READER_BOUNDS = re.compile(
    r"^a (?P<whole>whole )?number (?P<kind>at least|more than) (?P<low>[-\d.e+]+)"
    r"(?: and at most (?P<high>[-\d.e+]+))?(?P<null> or null)?(?: \(not text in quotes; decimals take a point\))?$"
)
BOUND_WORDS = {
    ("", "at least", False): N_("a number of at least %(low)s"),
    ("", "at least", True): N_("a number from %(low)s to %(high)s"),
    ("", "more than", False): N_("a number above %(low)s"),
    ("", "more than", True): N_("a number above %(low)s and at most %(high)s"),
    ("whole ", "at least", False): N_("a whole number of at least %(low)s"),
    ("whole ", "at least", True): N_("a whole number from %(low)s to %(high)s"),
}
"""The readers' range messages (``a number at least 0``…) in words a form user reads."""


def read_fleet_bytes(filename: str, content: bytes) -> tuple[Fleet, Prices]:
    """Validate a fleet document given as bytes with :func:`schoolbus.ingest.read_fleet`."""
    with tempfile.TemporaryDirectory(prefix="schoolbus-fleet-") as folder:
        path = Path(folder) / Path(filename).name
        path.write_bytes(content)
        try:
            return read_fleet(path)
        except InputError as error:
            raise InputError(
                [dataclasses.replace(p, file=filename if p.file == str(path) else p.file) for p in error.problems]
            ) from None


def fleet_form_values(fleet: Fleet, prices: Prices) -> dict[str, Any]:
    """The fleet form's rows and price fields for ``fleet`` and ``prices`` (ingest's own encoding)."""
    document = fleet_document(fleet, prices)
    rows = [{key: item.get(key) for key, _ in VEHICLE_COLUMNS} for item in document["vehicle_types"]]
    rows += [dict.fromkeys((key for key, _ in VEHICLE_COLUMNS), None) for _ in range(EMPTY_ROWS)]
    return {"rows": rows[:MAX_VEHICLE_TYPES], "prices": document["prices"], "depots": document.get("depots", [])}


def fleet_form_echo(form: Mapping[str, Any]) -> dict[str, Any]:
    """The fleet form as it was sent (to show again beside its problems)."""
    rows = []
    for i in range(MAX_VEHICLE_TYPES):
        row = {key: form.get(f"vt{i}_{key}") for key, _ in VEHICLE_COLUMNS}
        if any(v not in (None, "") for v in row.values()):
            rows.append(row)
    rows += [dict.fromkeys((key for key, _ in VEHICLE_COLUMNS), None) for _ in range(EMPTY_ROWS)]
    return {"rows": rows[:MAX_VEHICLE_TYPES], "prices": {key: form.get(key) for key, _ in PRICE_FIELDS}, "depots": []}


def _number_text(raw: str) -> str:
    """A number typed the Turkish way (``3.800,50``) or the English way (``3,800.50``) as ``3800.50``."""
    text = raw.strip().replace(" ", "").replace("\u00a0", "").replace("₺", "")
    if "," in text and "." in text:
        text = text.replace(".", "").replace(",", ".") if text.rfind(",") > text.rfind(".") else text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".")
    return text


def _typed(raw: str) -> Any:
    """A form cell as YAML would read it (numbers stay numbers; the reader checks the rest)."""
    text = _number_text(raw)
    try:
        number = float(text)
    except ValueError:
        return raw.strip()
    return int(number) if number.is_integer() and "." not in text else number


def fleet_yaml_from_form(form: Mapping[str, Any]) -> bytes:
    """The fleet form as a fleet.yaml document (empty rows skipped), ready for :func:`read_fleet_bytes`."""
    vehicle_types = []
    for i in range(MAX_VEHICLE_TYPES):
        cells = {key: str(form.get(f"vt{i}_{key}", "") or "").strip() for key, _ in VEHICLE_COLUMNS if key != "always_escort"}
        if not any(cells.values()):
            continue
        item: dict[str, Any] = {"id": cells["id"]}
        for key in ("seats", "wheelchair_places", "day_rate", "km_rate", "count"):
            if cells[key]:
                item[key] = _typed(cells[key])
        item["always_escort"] = form.get(f"vt{i}_always_escort") == "on"
        vehicle_types.append(item)
    prices: dict[str, Any] = {}
    for key, _ in PRICE_FIELDS:
        raw = str(form.get(key, "") or "").strip()
        if raw:
            prices[key] = raw.upper() if key == "currency" else _typed(raw)
    document: dict[str, Any] = {"prices": prices, "vehicle_types": vehicle_types}
    return document_yaml(document)


def merged_policy(policy_file, values: Mapping[str, Any]) -> dict[str, Any]:
    """The project's policy document (when a YAML one was uploaded) with the form's values over it."""
    document: dict[str, Any] = {}
    if policy_file is not None and policy_file.filename.endswith((".yaml", ".yml")):
        loaded = yaml.safe_load(policy_file.content.decode("utf-8")) or {}
        document = dict(loaded) if isinstance(loaded, dict) else {}
    document.update(values)
    return document


def policy_from_form(document: Mapping[str, Any]) -> Policy:
    """Validate a policy document with :func:`schoolbus.ingest.read_policy`."""
    with tempfile.TemporaryDirectory(prefix="schoolbus-policy-") as folder:
        path = Path(folder) / "policy.yaml"
        path.write_bytes(document_yaml(document))
        try:
            return read_policy(path)
        except InputError as error:
            raise InputError([dataclasses.replace(p, file="policy") for p in error.problems]) from None


def with_policy(scenario: Scenario, policy: Policy, values: Mapping[str, Any]) -> Scenario:
    """``scenario`` with the form's policy fields (only those) taken from ``policy``."""
    fields = {
        "walk_limit_m": "walk_limit_m",
        "max_ride_min": "max_ride_s",
        "arrival_buffer_min": "arrival_buffer_s",
        "escort_max_grade": "escort_max_grade",
    }
    changed = {field: getattr(policy, field) for key, field in fields.items() if key in values}
    return dataclasses.replace(scenario, policy=dataclasses.replace(scenario.policy, **changed))


def run_settings(time_limit_s: str, seed: str) -> tuple[float, int]:
    """The plan form's search time and variant number; problems name the form's fields."""
    problems = []
    try:
        limit = float(_number_text(time_limit_s or "5"))
    except ValueError:
        problems.append(Problem(FORM_FILE, None, "time_limit_s", time_limit_s, "a number"))
        limit = 0.0
    try:
        seed_value = int(_number_text(seed or "0"))
    except ValueError:
        problems.append(Problem(FORM_FILE, None, "seed", seed, "a whole number"))
        seed_value = 0
    if problems:
        raise InputError(problems)
    return limit, max(seed_value, 0)


COLUMN_LABELS = {
    **POLICY_LABELS,
    "time_limit_s": N_("Search time per step (s)"),
    "seed": N_("Variant number"),
    "budget": N_("Annual budget"),
    "username": N_("Username"),
    **{f"prices.{key}": label for key, label in PRICE_FIELDS},
}


def translated_problems(problems, language: str) -> list[Problem]:
    """Problems with the form's field names and the words the page knows in ``language``.

    ``vehicle_types[2].day_rate`` becomes "Day rate (row 3)"; ``expected`` texts the page
    catalogue has are translated, the readers' detailed ones are kept as they are.
    """
    out = []
    for p in problems:
        column = p.column
        if column and column.startswith("vehicle_types["):
            index, _, key = column[len("vehicle_types["):].partition("].")
            label = dict(VEHICLE_COLUMNS).get(key)
            if label and index.isdigit():
                # The reader counts list items from 1, as the table's rows are counted.
                column = translate("%(field)s (row %(row)s)", language) % {"field": translate(label, language), "row": int(index)}
        elif column in COLUMN_LABELS:
            column = translate(COLUMN_LABELS[column], language)
        out.append(
            dataclasses.replace(
                p,
                file=translate(FILE_WORDS[p.file], language) if p.file in FILE_WORDS else p.file,
                column=column,
                value=translate(VALUE_WORDS[p.value], language) if isinstance(p.value, str) and p.value in VALUE_WORDS else p.value,
                expected=_expected_words(p.expected, language),
            )
        )
    return out


def _expected_words(expected: str, language: str) -> str:
    """What a reader expected, in the page's language when the page knows the phrase."""
    if expected in EXPECTED_WORDS:
        return translate(EXPECTED_WORDS[expected], language)
    bounds = READER_BOUNDS.match(expected)
    if bounds is not None:
        words = BOUND_WORDS.get((bounds["whole"] or "", bounds["kind"], bounds["high"] is not None))
        if words is not None:
            def shown(number: str) -> str:
                return number.replace(".", ",") if language == "tr" else number

            return translate(words, language) % {"low": shown(bounds["low"]), "high": shown(bounds["high"] or "")}
    return translate(expected, language)
