"""Scenario files: named what-ifs that vary a base case's policy, fleet, prices and bell times.

A manager keeps one set of input files (the base case) and one scenario file listing variants::

    scenarios:
      - name: base                           # the base case as it is
      - name: walk-800
        policy: {walk_limit_m: 800}          # keys of a policy file; each replaces the base's
      - name: carry-the-vulnerable
        budget: 2500000
        policy:                              # a policy file's priority rules, key by key
          priority: {vulnerable: 5, grade_bands: [{max_grade: 4, weight: 1}]}
      - name: big-buses
        fleet:                               # vehicle_types and/or depots; each list replaces
          vehicle_types:                     # the base's whole list
            - {id: bus-45, seats: 45, day_rate: 5500}
        prices: {escort_day_rate: 1200}      # keys of a fleet file's prices; each replaces
      - name: later-bells
        bells:                               # SCHOOL_ID/SHIFT: either time, or both
          SCH-ILK/morning: {bell: "07:40", dismissal: "12:20"}
      - name: safe-walks
        hazards: hazards.geojson             # GeoJSON beside this file (schoolbus.hazards)
      - name: half-budget
        budget: 2500000                      # annual cost cap (schoolbus.budget)
      - name: staggered
        choose_bells: true                   # bells within the schools file's windows (schoolbus.bells)

Keys and values are validated exactly as the fleet and policy files are (``docs/input-format.md``,
through :mod:`schoolbus.ingest`); unknown keys are errors, and every problem is reported at once
with its key path, e.g. ``scenarios[3].policy.walk_limit_m`` (list items count from 1). A variant's
name names its plan directory, so it is letters, digits, ``.``, ``_`` and ``-``, unique ignoring
case, and not ``comparison`` (the report's directory).

:func:`read_variants` checks the file on its own; :func:`apply_variant` fits one variant to a base
scenario (its schools and shifts must exist, a bell must stay before its dismissal);
:func:`scenarios_from_file` does both for every variant and reports every problem together.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from schoolbus.errors import InputError, Problem
from schoolbus.ingest import (
    TIME_OF_DAY_EXPECTED,
    fleet_from_mapping,
    policy_from_mapping,
    priority_rules_from_mapping,
    read_document,
    time_of_day_s,
)
from schoolbus.model import Depot, Hazard, Policy, Prices, Scenario, School, Shift, VehicleType

__all__ = [
    "COMPARISON_DIR",
    "BellChange",
    "Variant",
    "apply_variant",
    "read_variants",
    "scenarios_from_file",
]

COMPARISON_DIR = "comparison"
"""Directory (beside the variants' plan directories) that holds the comparison report."""

VARIANT_KEYS = ("name", "policy", "fleet", "prices", "bells", "hazards", "budget", "choose_bells")
FLEET_KEYS = ("vehicle_types", "depots")
BELL_KEYS = ("bell", "dismissal")
SECONDS_PER_MINUTE = 60

# A plan directory name that is safe on Windows, macOS and Linux alike; Turkish letters included.
_NAME_RE = re.compile(r"[^\W_][\w.-]*")
_NAME_EXPECTED = (
    "a name of letters, digits, '.', '_' and '-', starting with a letter or digit "
    "(it names the scenario's plan directory)"
)
PRIORITY_SECTION = "priority"
"""The policy key whose section holds the priority rules (``schoolbus.ingest.PRIORITY_KEYS``)."""
_POLICY_FIELDS = frozenset(f.name for f in dataclasses.fields(Policy))
_PRICE_FIELDS = frozenset(f.name for f in dataclasses.fields(Prices))


@dataclass(frozen=True)
class BellChange:
    """New times for one shift of one school; ``None`` keeps the base's time (seconds after midnight)."""

    school_id: str
    shift: str
    bell_s: int | None = None
    dismissal_s: int | None = None


@dataclass(frozen=True)
class Variant:
    """One scenario of a scenario file: what it changes in the base case.

    ``policy`` and ``prices`` are ``(field, value)`` pairs of :class:`~schoolbus.model.Policy` and
    :class:`~schoolbus.model.Prices` (already in model units: seconds, metres), ``priority`` of
    :class:`~schoolbus.model.PriorityRules` (the policy's ``priority`` section); ``vehicle_types``
    and ``depots`` replace the base's lists when not ``None``. ``file`` and ``where`` (the key path,
    e.g. ``scenarios[2]``) locate the variant for problems found when it is applied.
    """

    name: str
    policy: tuple[tuple[str, object], ...] = ()
    priority: tuple[tuple[str, object], ...] = ()
    prices: tuple[tuple[str, object], ...] = ()
    vehicle_types: tuple[VehicleType, ...] | None = None
    depots: tuple[Depot, ...] | None = None
    bells: tuple[BellChange, ...] = ()
    hazards: tuple[Hazard, ...] | None = None
    budget_per_year: float | None = None
    choose_bells: bool = False
    file: str = ""
    where: str = ""


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def read_variants(path: str | Path) -> tuple[Variant, ...]:
    """Read and validate a scenario file on its own (without the base case).

    Parameters
    ----------
    path : str or Path
        YAML (``.yaml``/``.yml``) or TOML (``.toml``) with one key, ``scenarios``: a non-empty list.

    Returns
    -------
    tuple of Variant
        In file order.

    Raises
    ------
    InputError
        Listing every problem: file, key path, value found and what was expected.
    """
    problems: list[Problem] = []
    variants = _read_variants(path, problems)
    _raise_if(problems, path)
    return variants


def apply_variant(base: Scenario, variant: Variant) -> Scenario:
    """The base scenario with ``variant``'s changes, named after the variant.

    Parameters
    ----------
    base : Scenario
        The validated base case (see :func:`schoolbus.ingest.load_scenario`).
    variant : Variant
        From :func:`read_variants`.

    Returns
    -------
    Scenario
        A new value (``dataclasses.replace``); students are the base's.

    Raises
    ------
    InputError
        When the variant does not fit the base: a school or shift the base does not have, a bell
        not before its dismissal, or ``max_home_school_m`` not above ``min_home_school_m``.
    """
    problems: list[Problem] = []
    scenario = _apply(base, variant, problems)
    _raise_if(problems, variant.file or variant.name)
    return scenario


def scenarios_from_file(path: str | Path, base: Scenario) -> tuple[Scenario, ...]:
    """Every scenario of a scenario file, applied to ``base``.

    Raises
    ------
    InputError
        Listing every problem of the file and of every variant applied to the base, at once.
    """
    problems: list[Problem] = []
    variants = _read_variants(path, problems)
    scenarios = tuple(_apply(base, v, problems) for v in variants)
    _raise_if(problems, path)
    return scenarios


def _raise_if(problems: list[Problem], source: str | Path) -> None:
    if problems:
        raise InputError(problems, f"{len(problems)} problem(s) in the scenarios of {source}")


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


def _short(value: object, limit: int = 60) -> object:
    """A value small enough to print in a problem."""
    text = repr(value)
    return value if len(text) <= limit else text[: limit - 1] + "…"


def _check_keys(file: str, mapping: Mapping, where: str, allowed, problems: list[Problem]) -> None:
    for key in mapping:
        if key not in allowed:
            problems.append(Problem(file, None, f"{where}.{key}", _short(key), f"one of the keys {', '.join(allowed)}"))


def _mapping(file: str, parent: Mapping, key: str, where: str, problems: list[Problem]) -> Mapping | None:
    """``parent[key]`` when it is a mapping; ``None`` (reported unless absent) otherwise."""
    if key not in parent:
        return None
    value = parent[key]
    if not isinstance(value, dict):
        problems.append(Problem(file, None, f"{where}.{key}", _short(value), "a mapping of keys to values"))
        return None
    return value


def _prefixed(problems: list[Problem], prefix: str, section_of) -> list[Problem]:
    """Problems from an ingest reader, their key paths made relative to the scenario file's top."""
    return [
        replace(p, column=prefix if p.column is None else f"{prefix}.{section_of(p.column)}{p.column}")
        for p in problems
    ]


def _read_variants(path: str | Path, problems: list[Problem]) -> tuple[Variant, ...]:
    file = str(path)
    document = read_document(path, problems)
    if document is None:
        return ()
    for key in document:
        if key != "scenarios":
            problems.append(Problem(file, None, str(key), _short(key), "only the key scenarios"))
    items = document.get("scenarios")
    if not isinstance(items, list) or not items:
        problems.append(Problem(file, None, "scenarios", _short(items), "a non-empty list of scenarios"))
        return ()
    variants = []
    seen: dict[str, str] = {}
    for number, item in enumerate(items, start=1):
        where = f"scenarios[{number}]"
        if not isinstance(item, dict):
            problems.append(Problem(file, None, where, _short(item), "a mapping with at least a name"))
            continue
        variant = _read_variant(file, item, where, problems)
        folded = variant.name.casefold()
        if folded and folded in seen:
            problems.append(
                Problem(
                    file,
                    None,
                    f"{where}.name",
                    variant.name,
                    f"a name used once, ignoring case ({seen[folded]} has it)",
                )
            )
        seen.setdefault(folded, where)
        variants.append(variant)
    return tuple(variants)


def _read_variant(file: str, item: Mapping, where: str, problems: list[Problem]) -> Variant:
    """One variant, every problem of its keys appended.

    A key with a problem changes nothing in the variant returned, so that the rest of it can still
    be checked against the base case (and every problem reported at once).
    """
    _check_keys(file, item, where, VARIANT_KEYS, problems)
    name = item.get("name")
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        problems.append(Problem(file, None, f"{where}.name", _short(name), _NAME_EXPECTED))
        name = ""
    elif name.casefold() == COMPARISON_DIR:
        expected = f"a name other than {COMPARISON_DIR!r} (the report's directory)"
        problems.append(Problem(file, None, f"{where}.name", name, expected))
    policy = _policy_changes(file, item, where, problems)
    priority = _priority_changes(file, item, where, problems)
    prices, vehicle_types, depots = _fleet_changes(file, item, where, problems)
    bells = _bell_changes(file, item, where, problems)
    hazards, budget_per_year = _hazards_and_budget(file, item, where, problems)
    return Variant(
        name=name,
        policy=policy,
        priority=priority,
        prices=prices,
        vehicle_types=vehicle_types,
        depots=depots,
        bells=bells,
        hazards=hazards,
        budget_per_year=budget_per_year,
        choose_bells=_choose_bells(file, item, where, problems),
        file=file,
        where=where,
    )


def _hazards_and_budget(file, item, where, problems) -> tuple[tuple[Hazard, ...] | None, float | None]:
    """A variant's hazards file (relative to the scenario file) and annual budget, when given."""
    from schoolbus.budget import budget_problem
    from schoolbus.hazards import read_hazards

    hazards = None
    if "hazards" in item:
        value = item["hazards"]
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(file, None, f"{where}.hazards", _short(value), "the path of a hazards GeoJSON file"))
        else:
            try:
                hazards = read_hazards(Path(file).parent / value)
            except InputError as error:
                problems.extend(error.problems)
    budget = None
    if "budget" in item:
        problem = budget_problem(item["budget"])
        if problem is None:
            budget = float(item["budget"])
        else:
            problems.append(Problem(file, None, f"{where}.budget", _short(item["budget"]), problem))
    return hazards, budget


def _choose_bells(file, item, where, problems) -> bool:
    value = item.get("choose_bells", False)
    if not isinstance(value, bool):
        problems.append(Problem(file, None, f"{where}.choose_bells", _short(value), "true or false"))
        return False
    return value


def _policy_field(key: str) -> str:
    """The Policy field a policy-file key sets: the key itself, or ``*_min`` stored as ``*_s``."""
    if key in _POLICY_FIELDS:
        return key
    return key.removesuffix("_min") + "_s"


def _policy_changes(file, item, where, problems) -> tuple[tuple[str, object], ...]:
    section = _mapping(file, item, "policy", where, problems)
    if not section:
        return ()
    found: list[Problem] = []
    policy = policy_from_mapping(file, section, found)
    problems.extend(_prefixed(found, f"{where}.policy", lambda column: ""))
    if found:
        return ()
    return tuple((_policy_field(k), getattr(policy, _policy_field(k))) for k in section if k != PRIORITY_SECTION)


def _priority_changes(file, item, where, problems) -> tuple[tuple[str, object], ...]:
    """The ``policy.priority`` keys of a variant: priority rules that replace the base's, key by key."""
    section = item.get("policy")
    if not isinstance(section, dict) or PRIORITY_SECTION not in section:
        return ()
    rules = _mapping(file, section, PRIORITY_SECTION, f"{where}.policy", problems)
    if not rules:
        return ()
    found: list[Problem] = []
    parsed = priority_rules_from_mapping(file, rules, f"{where}.policy.{PRIORITY_SECTION}", found)
    problems.extend(found)
    if found:
        return ()
    return tuple((k, getattr(parsed, k)) for k in rules)


def _fleet_changes(file, item, where, problems):
    """``(price changes, vehicle types or None, depots or None)`` of a variant."""
    fleet = _mapping(file, item, "fleet", where, problems) or {}
    prices = _mapping(file, item, "prices", where, problems) or {}
    if not fleet and not prices:
        return (), None, None
    _check_keys(file, fleet, f"{where}.fleet", FLEET_KEYS, problems)
    document = {k: v for k, v in fleet.items() if k in FLEET_KEYS}
    if prices:
        document["prices"] = prices
    found: list[Problem] = []
    parsed_fleet, parsed_prices = fleet_from_mapping(
        file, document, found, require_vehicle_types="vehicle_types" in fleet
    )
    # Price problems already name their section (``prices.x``); fleet problems are under ``fleet``.
    problems.extend(_prefixed(found, where, lambda column: "" if column.startswith("prices") else "fleet."))
    if found:
        return (), None, None
    price_changes = tuple((k, getattr(parsed_prices, k)) for k in prices if k in _PRICE_FIELDS)
    vehicle_types = parsed_fleet.vehicle_types if "vehicle_types" in fleet else None
    depots = parsed_fleet.depots if "depots" in fleet else None
    return price_changes, vehicle_types, depots


def _bell_changes(file, item, where, problems) -> tuple[BellChange, ...]:
    section = _mapping(file, item, "bells", where, problems)
    if not section:
        return ()
    changes = []
    for key, times in section.items():
        at = f"{where}.bells.{key}"
        school_id, slash, shift = str(key).rpartition("/")
        if not slash or not school_id or not shift:
            problems.append(Problem(file, None, at, _short(key), "SCHOOL_ID/SHIFT, e.g. SCH-ILK/morning"))
            continue
        if not isinstance(times, dict) or not times:
            problems.append(Problem(file, None, at, _short(times), "a mapping with bell and/or dismissal"))
            continue
        _check_keys(file, times, at, BELL_KEYS, problems)
        parsed = {}
        for name in BELL_KEYS:
            if name not in times:
                continue
            value = times[name]
            seconds = time_of_day_s(value)
            if seconds is None:
                hint = ""
                if isinstance(value, int) and not isinstance(value, bool):
                    # YAML 1.1 reads an unquoted 7:40 as the base-60 number 460.
                    hint = ' in quotes, e.g. "07:40" (YAML reads an unquoted 7:40 as a number)'
                problems.append(Problem(file, None, f"{at}.{name}", _short(value), TIME_OF_DAY_EXPECTED + hint))
                continue
            parsed[f"{name}_s"] = seconds
        changes.append(BellChange(school_id, shift, **parsed))
    return tuple(changes)


# --------------------------------------------------------------------------------------------------
# Applying
# --------------------------------------------------------------------------------------------------


def _apply(base: Scenario, variant: Variant, problems: list[Problem]) -> Scenario:
    """``base`` with ``variant`` applied; problems that make it unusable are appended."""
    file, where = variant.file or "scenarios", variant.where or variant.name
    policy = replace(base.policy, **dict(variant.policy))
    if policy.max_home_school_m is not None and policy.max_home_school_m <= policy.min_home_school_m:
        changed = dict(variant.policy)
        key = "max_home_school_m" if "max_home_school_m" in changed else "min_home_school_m"
        problems.append(
            Problem(
                file,
                None,
                f"{where}.policy.{key}",
                changed.get(key),
                f"max_home_school_m ({policy.max_home_school_m:g}) above min_home_school_m "
                f"({policy.min_home_school_m:g}) once applied to the base case",
            )
        )
    fleet = base.fleet
    if variant.vehicle_types is not None:
        fleet = replace(fleet, vehicle_types=variant.vehicle_types)
    if variant.depots is not None:
        fleet = replace(fleet, depots=variant.depots)
    return replace(
        base,
        name=variant.name,
        policy=policy,
        priority_rules=replace(base.priority_rules, **dict(variant.priority)),
        prices=replace(base.prices, **dict(variant.prices)),
        fleet=fleet,
        schools=_schools_with_bells(base.schools, variant, file, where, problems),
        hazards=base.hazards if variant.hazards is None else variant.hazards,
        budget_per_year=base.budget_per_year if variant.budget_per_year is None else variant.budget_per_year,
        choose_bells=base.choose_bells or variant.choose_bells,
    )


def _schools_with_bells(schools, variant: Variant, file: str, where: str, problems) -> tuple[School, ...]:
    by_key = {(c.school_id, c.shift): c for c in variant.bells}
    known = {(s.id, shift.name) for s in schools for shift in s.shifts}
    for change in variant.bells:
        if (change.school_id, change.shift) not in known:
            shifts = sorted(f"{school_id}/{shift}" for school_id, shift in known)
            problems.append(
                Problem(
                    file,
                    None,
                    f"{where}.bells.{change.school_id}/{change.shift}",
                    f"{change.school_id}/{change.shift}",
                    f"a school and shift of the base case: {', '.join(shifts)}",
                )
            )
    out = []
    for school in schools:
        shifts = []
        for shift in school.shifts:
            change = by_key.get((school.id, shift.name))
            if change is None:
                shifts.append(shift)
                continue
            bell_s = shift.bell_s if change.bell_s is None else change.bell_s
            dismissal_s = shift.dismissal_s if change.dismissal_s is None else change.dismissal_s
            if bell_s >= dismissal_s:
                problems.append(
                    Problem(
                        file,
                        None,
                        f"{where}.bells.{school.id}/{shift.name}",
                        f"bell {_hhmm(bell_s)}, dismissal {_hhmm(dismissal_s)}",
                        "a bell before the dismissal (times not given are the base case's)",
                    )
                )
            shifts.append(Shift(shift.name, bell_s, dismissal_s))
        out.append(replace(school, shifts=tuple(shifts)))
    return tuple(out)


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // SECONDS_PER_MINUTE:02d}"
