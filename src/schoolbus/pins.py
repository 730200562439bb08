"""Manual decisions that stick: pins and locks, read from a file and kept by every plan.

A pins file (CSV, XLSX, or YAML with a ``pins:`` list) has one decision a row:

``pin`` (required) is one of :data:`schoolbus.model.PIN_KINDS`:

* ``pupil_stop``: ``student_id`` uses stop ``stop_id``;
* ``stop_location``: stop ``stop_id`` stands at the road junction nearest ``lon``/``lat``;
* ``trip_locked``: trip ``trip_id`` of the base plan keeps its stops, times and riders;
* ``vehicle_locked``: vehicle-day ``vehicle_id`` of the base plan keeps its trips unchanged.

A fresh plan (``schoolbus plan --pins``) honours stop and pupil pins: pinned stops are placed
where they are pinned and carry their pinned pupils. Locks name trips and vehicle-days of a plan,
so they apply to re-plans (``schoolbus replan --pins``); a lock snapshots the locked trip when it
is read. Pins are kept in ``scenario.json``, so every later version keeps them too, and the
checker reports any plan that breaks one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from schoolbus.errors import InputError, Problem
from schoolbus.ingest import Row, Table, check_columns, raise_if_problems, read_document, read_table
from schoolbus.locations import locate
from schoolbus.matrix import walk_distances
from schoolbus.model import Located, Pin, Plan, Scenario
from schoolbus.network import RoadNetwork
from schoolbus.stops import StopSelection, make_stop

PUPIL_STOP = "pupil_stop"
STOP_LOCATION = "stop_location"
TRIP_LOCKED = "trip_locked"
VEHICLE_LOCKED = "vehicle_locked"
KINDS = (PUPIL_STOP, STOP_LOCATION, TRIP_LOCKED, VEHICLE_LOCKED)
COLUMNS = ("pin", "student_id", "stop_id", "lon", "lat", "trip_id", "vehicle_id", "note")
YAML_SUFFIXES = (".yaml", ".yml")


def read_pins(path: str | Path, scenario: Scenario, plan: Plan | None = None) -> tuple[Pin, ...]:
    """Read and validate a pins file for ``scenario`` (and, for locks and known stops, ``plan``).

    Raises
    ------
    InputError
        Every problem: unknown kinds, pupils, stops, trips or vehicles; a pupil pinned twice;
        locks without a plan to lock (a fresh plan has no trips yet).
    """
    problems: list[Problem] = []
    table = _read_pins_table(path, problems)
    if table is None:
        raise_if_problems(problems)
        raise InputError([Problem(str(path), None, None, None, "a pins file")])
    check_columns(table, ("pin",), COLUMNS, problems)
    students = {s.id for s in scenario.students}
    stop_ids = {s.id for s in plan.stops} if plan is not None else set()
    trips = {t.id: t for t in plan.trips} if plan is not None else {}
    vehicles = {v.id: v for v in plan.vehicles} if plan is not None else {}
    pins: list[Pin] = []
    pinned_pupils: dict[str, int] = {}
    located: set[str] = set()
    for number, cells in table.rows:
        row = Row(table.file, number, cells, problems)
        kind = row.text("pin")
        if kind is None:
            continue
        kind = kind.lower()
        if kind not in KINDS:
            row.fail("pin", kind, f"one of {', '.join(KINDS)}")
            continue
        if kind == PUPIL_STOP:
            student_id, stop_id = row.text("student_id"), row.text("stop_id")
            if student_id is not None and student_id not in students:
                row.fail("student_id", student_id, "the id of a pupil of the plan")
            elif student_id is not None and student_id in pinned_pupils:
                row.fail("student_id", student_id, f"one stop per pupil (row {pinned_pupils[student_id]} pins it too)")
            pinned_pupils.setdefault(student_id or "", number)
            if row.ok:
                pins.append(Pin(PUPIL_STOP, student_id=student_id, stop_id=stop_id))
        elif kind == STOP_LOCATION:
            stop_id = row.text("stop_id")
            lon = row.number("lon", -180.0, 180.0, "a longitude in degrees, -180 to 180")
            lat = row.number("lat", -90.0, 90.0, "a latitude in degrees, -90 to 90")
            if stop_id in located:
                row.fail("stop_id", stop_id, "each stop pinned to one place")
            located.add(stop_id or "")
            if row.ok:
                pins.append(Pin(STOP_LOCATION, stop_id=stop_id, location=(lon, lat)))
        elif plan is None:
            row.fail("pin", kind, "pupil_stop or stop_location: locks name trips and vehicles of a plan, "
                     "so they apply to schoolbus replan")
        elif kind == TRIP_LOCKED:
            trip_id = row.text("trip_id")
            if trip_id is not None and trip_id not in trips:
                row.fail("trip_id", trip_id, "the id of a trip of the plan (e.g. T004)")
            elif row.ok:
                pins.append(_trip_lock(trips[trip_id]))
        else:
            vehicle_id = row.text("vehicle_id")
            if vehicle_id is not None and vehicle_id not in vehicles:
                row.fail("vehicle_id", vehicle_id, "the id of a vehicle-day of the plan (e.g. V003)")
            elif row.ok:
                vehicle = vehicles[vehicle_id]
                pins.append(Pin(VEHICLE_LOCKED, vehicle_id=vehicle_id, trip_ids=vehicle.trip_ids))
                pins.extend(_trip_lock(trips[t]) for t in vehicle.trip_ids)
    pinned_stops = {p.stop_id for p in pins if p.kind == STOP_LOCATION} | stop_ids
    for pin in pins:
        if pin.kind == PUPIL_STOP and pin.stop_id not in pinned_stops:
            row_number = pinned_pupils.get(pin.student_id)
            problems.append(
                Problem(table.file, row_number, "stop_id", pin.stop_id,
                        "a stop of the plan, or a stop this file pins to a place")
            )
    raise_if_problems(problems)
    return _deduplicated(pins)


def _trip_lock(trip) -> Pin:
    return Pin(TRIP_LOCKED, trip_id=trip.id, vehicle_id=trip.vehicle_id, visits=trip.visits)


def _deduplicated(pins: Sequence[Pin]) -> tuple[Pin, ...]:
    seen: dict[tuple, Pin] = {}
    for pin in pins:
        seen[_key(pin)] = pin
    return tuple(seen.values())


def _key(pin: Pin) -> tuple:
    return (pin.kind, pin.student_id, pin.stop_id if pin.kind != PUPIL_STOP else None, pin.trip_id, pin.vehicle_id)


def merge_pins(old: Sequence[Pin], new: Sequence[Pin]) -> tuple[Pin, ...]:
    """``old`` with ``new`` added; a new pin replaces an old one about the same pupil, stop, trip or vehicle."""
    return _deduplicated([*old, *new])


def _read_pins_table(path: str | Path, problems: list[Problem]) -> Table | None:
    if Path(path).suffix.lower() not in YAML_SUFFIXES:
        return read_table(path, problems)
    document = read_document(path, problems)
    if document is None:
        return None
    items = document.get("pins")
    if not isinstance(items, list):
        problems.append(Problem(str(path), None, "pins", type(items).__name__, "a list of pins"))
        return None
    rows, columns = [], []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            problems.append(Problem(str(path), number, None, type(item).__name__, "a mapping of pin keys"))
            continue
        cells = {str(k).strip().lower(): v for k, v in item.items()}
        columns += [k for k in cells if k not in columns]
        rows.append((number, cells))
    return Table(str(path), None, tuple(columns), tuple(rows))


def apply_stop_pins(
    selection: StopSelection, scenario: Scenario, network: RoadNetwork, located: Located | None = None
) -> StopSelection:
    """A fresh plan's stops with every stop and pupil pin applied.

    A stop pinned to a place stands at the ``loaded`` node nearest it and carries the pupils
    pinned to it; a pupil pinned to a selected stop moves there. Stops left empty disappear.
    Nodes come from ``located`` (:func:`schoolbus.locations.locate`; located here when not given).

    Raises
    ------
    InputError
        A pinned pupil the plan cannot carry (with the reason), pupils of different schools or
        shifts pinned to one stop, or a pinned walk beyond the pupil's walk limit.
    """
    pupil_pins = [p for p in scenario.pins if p.kind == PUPIL_STOP]
    place_pins = {p.stop_id: p for p in scenario.pins if p.kind == STOP_LOCATION}
    if not pupil_pins and not place_pins:
        return selection
    if located is None:
        located = locate(scenario, network)
    students = {s.id: s for s in scenario.students}
    problems: list[Problem] = []
    where = "pins"
    riders: dict[str, list[str]] = {}
    for pin in pupil_pins:
        if pin.student_id in selection.unserved:
            problems.append(Problem(where, None, "student_id", pin.student_id,
                                    f"a pupil the plan can carry ({selection.unserved[pin.student_id]})"))
            continue
        riders.setdefault(pin.stop_id, []).append(pin.student_id)
    moved = {i for ids in riders.values() for i in ids}
    stops = {s.id: replace(s, student_ids=tuple(i for i in s.student_ids if i not in moved)) for s in selection.stops}
    walk_m = dict(selection.walk_m)
    for stop_id in sorted(set(riders) | set(place_pins)):
        pupils = [students[i] for i in riders.get(stop_id, [])]
        walkers = list(pupils)
        if stop_id in place_pins:
            node = located.pinned_places_loaded[stop_id].node_id
            base = stops.get(stop_id)
            if not pupils and base is None:
                continue  # a pinned place nobody uses: nothing to stand there
            school_id = pupils[0].school_id if pupils else base.school_id
            shift = pupils[0].shift if pupils else base.shift
            kept = base.student_ids if base is not None else ()
            if base is not None and base.node_id != node:
                walkers += [students[i] for i in kept]  # the stop's own pupils follow it to the pinned place
            stop = make_stop(network, stop_id, node, school_id, shift, (*kept, *(p.id for p in pupils)),
                              is_door_to_door=False)
        elif stop_id in stops:
            stop = stops[stop_id]
            stop = replace(stop, student_ids=(*stop.student_ids, *(p.id for p in pupils)))
        else:
            problems.append(Problem(where, None, "stop_id", stop_id, "a stop of the plan or a pinned place"))
            continue
        if any((p.school_id, p.shift) != (stop.school_id, stop.shift) for p in pupils):
            problems.append(Problem(where, None, "stop_id", stop_id, "pupils of one school and shift per stop"))
            continue
        for pupil in walkers:
            home = located.homes_walk[pupil.id]
            walk = float(walk_distances(network.walk, [home.node_id], [stop.node_id])[0, 0]) + home.snap_m
            limit = scenario.policy.walk_limit_for_grade_m(pupil.grade)
            if walk > limit:
                problems.append(Problem(where, None, "student_id", pupil.id,
                                        f"a stop within the pupil's walk limit of {limit:,.0f} m "
                                        f"(stop {stop_id} is {walk:,.0f} m away)"))
            walk_m[pupil.id] = walk
        stops[stop_id] = stop
    raise_if_problems(problems)
    kept_stops = tuple(sorted((s for s in stops.values() if s.student_ids), key=lambda s: (s.school_id, s.shift, s.id)))
    return StopSelection(kept_stops, walk_m, dict(selection.unserved))


def pinned_stop_of(scenario: Scenario) -> dict[str, str]:
    """``student_id -> stop_id`` of every pupil pin."""
    return {p.student_id: p.stop_id for p in scenario.pins if p.kind == PUPIL_STOP}


def locked_trips(scenario: Scenario) -> dict[str, Pin]:
    """``trip_id -> pin`` of every locked trip (vehicle locks included)."""
    return {p.trip_id: p for p in scenario.pins if p.kind == TRIP_LOCKED}


def locked_vehicles(scenario: Scenario) -> set[str]:
    """Vehicle-days that take no other trip."""
    return {p.vehicle_id for p in scenario.pins if p.kind == VEHICLE_LOCKED}
