"""Changes through the school year as data: read a change file, apply it to a scenario and roads.

A change file lists what happened since a plan was made, one change a row (CSV, XLSX) or one
mapping per item of a ``changes:`` list (YAML). The columns (keys) are documented in
``docs/changes.md``:

``change`` (required) is one of :data:`CHANGE_KINDS`; ``student_id`` names the pupil of a pupil
change; ``lon``/``lat`` give a new home (``add_pupil``, ``move_pupil``) or the first end of a
closed road segment; ``lon2``/``lat2`` its second end; ``way_id`` an OSM way to close instead;
``school_id``/``shift`` a pupil's school and shift (``add_pupil``, ``change_school``); ``grade``,
``needs_wheelchair``, ``needs_door_to_door``, ``language``, ``initials``, ``family_id`` describe a
new pupil; ``stop_id`` a stop to close; ``vehicle_id`` a vehicle-day withdrawn; ``note`` is free
text kept with the change.

Every row is read and every problem collected before one :class:`~schoolbus.errors.InputError`
names file, row, column, the value and what was expected (exit status 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import networkx as nx

from schoolbus.errors import InputError, Problem
from schoolbus.ingest import (
    Row,
    Table,
    check_columns,
    raise_if_problems,
    read_document,
    read_table,
)
from schoolbus.model import Location, Plan, Scenario, Student
from schoolbus.network import RoadNetwork, largest_scc, snap_points

ADD_PUPIL = "add_pupil"
REMOVE_PUPIL = "remove_pupil"
MOVE_PUPIL = "move_pupil"
CHANGE_SCHOOL = "change_school"
CLOSE_STOP = "close_stop"
CLOSE_ROAD = "close_road"
WITHDRAW_VEHICLE = "withdraw_vehicle"

CHANGE_KINDS = (ADD_PUPIL, REMOVE_PUPIL, MOVE_PUPIL, CHANGE_SCHOOL, CLOSE_STOP, CLOSE_ROAD, WITHDRAW_VEHICLE)
"""Every kind of change a change file may list."""

COLUMNS = (
    "change",
    "student_id",
    "lon",
    "lat",
    "lon2",
    "lat2",
    "way_id",
    "school_id",
    "shift",
    "grade",
    "needs_wheelchair",
    "needs_door_to_door",
    "language",
    "initials",
    "family_id",
    "stop_id",
    "vehicle_id",
    "note",
)

LANGUAGES = ("tr", "ar", "en")
MAX_GRADE = 12
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Change:
    """One validated change.

    ``kind`` is one of :data:`CHANGE_KINDS`. Only the fields that kind uses are set: ``student``
    (a complete new pupil for ``add_pupil``), ``student_id``, ``location`` (new home, ``(lon,
    lat)``), ``school_id``/``shift``, ``stop_id``, ``way_id``, ``segment`` (two ``(lon, lat)``
    ends of a closed road), ``vehicle_id``. ``row`` is where the change was read (for messages).
    """

    kind: str
    row: int
    student: Student | None = None
    student_id: str | None = None
    location: Location | None = None
    school_id: str | None = None
    shift: str | None = None
    stop_id: str | None = None
    way_id: int | None = None
    segment: tuple[Location, Location] | None = None
    vehicle_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ChangeSet:
    """The changes of one file, in file order; ``source`` names the file."""

    source: str
    changes: tuple[Change, ...]

    def of_kind(self, kind: str) -> tuple[Change, ...]:
        """The changes of one kind, in file order."""
        return tuple(c for c in self.changes if c.kind == kind)


def read_changes(path: str | Path, plan: Plan) -> ChangeSet:
    """Read and validate a change file against the plan it changes.

    Parameters
    ----------
    path : path
        CSV or XLSX (one change a row, header in row 1) or YAML (a ``changes:`` list).
    plan : Plan
        The base plan: pupil, school, shift, stop and vehicle ids are checked against it.

    Raises
    ------
    InputError
        Listing every problem: unknown kinds, missing or malformed cells, ids the plan does not
        know (or a new pupil id it already has), a pupil changed twice.
    """
    problems: list[Problem] = []
    table = _read_changes_table(path, problems)
    if table is None:
        raise_if_problems(problems)
        raise InputError([Problem(str(path), None, None, None, "a change file")])
    check_columns(table, ("change",), COLUMNS, problems)
    context = _Context(plan)
    changes = []
    for row_number, cells in table.rows:
        row = Row(table.file, row_number, cells, problems)
        change = _change_from_row(row, context)
        if change is not None and row.ok:
            changes.append(change)
    raise_if_problems(problems)
    return ChangeSet(str(path), tuple(changes))


def _read_changes_table(path: str | Path, problems: list[Problem]) -> Table | None:
    """A change file as a table; YAML items become rows numbered from 1."""
    if Path(path).suffix.lower() not in YAML_SUFFIXES:
        return read_table(path, problems)
    document = read_document(path, problems)
    if document is None:
        return None
    file = str(path)
    items = document.get("changes")
    if not isinstance(items, list):
        problems.append(Problem(file, None, "changes", _kind_word(items), "a list of changes"))
        return None
    rows = []
    columns: list[str] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            problems.append(Problem(file, number, None, _kind_word(item), "a mapping of change keys"))
            continue
        cells = {str(k).strip().lower(): v for k, v in item.items()}
        for key in cells:
            if key not in columns:
                columns.append(key)
        rows.append((number, cells))
    for key in document:
        if key != "changes":
            problems.append(Problem(file, None, str(key), str(key), "only the key 'changes'"))
    return Table(file, None, tuple(columns), tuple(rows))


def _kind_word(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


class _Context:
    """What rows are checked against: the plan's ids, and what earlier rows already changed."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.students = {s.id: s for s in plan.scenario.students}
        self.shifts = {(school.id, shift.name) for school in plan.scenario.schools for shift in school.shifts}
        self.school_ids = {school.id for school in plan.scenario.schools}
        self.stop_ids = {s.id for s in plan.stops}
        self.vehicle_ids = {v.id for v in plan.vehicles}
        self.changed: dict[str, int] = {}
        self.closed_stops: set[str] = set()
        self.withdrawn: set[str] = set()


def _change_from_row(row: Row, context: _Context) -> Change | None:
    kind = row.text("change")
    if kind is None:
        return None
    kind = kind.lower()
    if kind not in CHANGE_KINDS:
        row.fail("change", kind, f"one of {', '.join(CHANGE_KINDS)}")
        return None
    note = row.text("note", required=False) or ""
    if kind == ADD_PUPIL:
        return _added(row, context, note)
    if kind in (REMOVE_PUPIL, MOVE_PUPIL, CHANGE_SCHOOL):
        student_id = _known_pupil(row, context)
        if kind == REMOVE_PUPIL:
            return Change(kind, row.row, student_id=student_id, note=note)
        if kind == MOVE_PUPIL:
            return Change(kind, row.row, student_id=student_id, location=_point(row, "lon", "lat"), note=note)
        school_id, shift = _school_and_shift(row, context)
        return Change(kind, row.row, student_id=student_id, school_id=school_id, shift=shift, note=note)
    if kind == CLOSE_STOP:
        stop_id = row.text("stop_id")
        if stop_id is not None and stop_id not in context.stop_ids:
            row.fail("stop_id", stop_id, "the id of a stop of the plan")
        elif stop_id is not None and stop_id in context.closed_stops:
            row.fail("stop_id", stop_id, "each stop closed once")
        context.closed_stops.add(stop_id or "")
        return Change(kind, row.row, stop_id=stop_id, note=note)
    if kind == CLOSE_ROAD:
        return _closed_road(row, note)
    vehicle_id = row.text("vehicle_id")
    if vehicle_id is not None and vehicle_id not in context.vehicle_ids:
        row.fail("vehicle_id", vehicle_id, "the id of a vehicle-day of the plan (e.g. V003)")
    elif vehicle_id is not None and vehicle_id in context.withdrawn:
        row.fail("vehicle_id", vehicle_id, "each vehicle withdrawn once")
    context.withdrawn.add(vehicle_id or "")
    return Change(kind, row.row, vehicle_id=vehicle_id, note=note)


def _known_pupil(row: Row, context: _Context) -> str | None:
    student_id = row.text("student_id")
    if student_id is None:
        return None
    if student_id not in context.students:
        row.fail("student_id", student_id, "the id of a pupil of the plan")
    elif student_id in context.changed:
        row.fail("student_id", student_id, f"one change per pupil (row {context.changed[student_id]} changes it too)")
    context.changed.setdefault(student_id, row.row)
    return student_id


def _school_and_shift(row: Row, context: _Context) -> tuple[str | None, str | None]:
    school_id = row.text("school_id")
    shift = row.text("shift")
    if school_id is not None and school_id not in context.school_ids:
        row.fail("school_id", school_id, "the id of a school of the plan")
    elif school_id is not None and shift is not None and (school_id, shift) not in context.shifts:
        names = sorted(name for sid, name in context.shifts if sid == school_id)
        row.fail("shift", shift, f"a shift of school {school_id}: {', '.join(names)}")
    return school_id, shift


def _point(row: Row, lon_column: str, lat_column: str) -> Location | None:
    lon = row.number(lon_column, -180.0, 180.0, "a longitude in degrees, -180 to 180")
    lat = row.number(lat_column, -90.0, 90.0, "a latitude in degrees, -90 to 90")
    if lon is None or lat is None:
        return None
    return (lon, lat)


def _added(row: Row, context: _Context, note: str) -> Change | None:
    student_id = row.text("student_id")
    if student_id is not None:
        if student_id in context.students:
            row.fail("student_id", student_id, "a new pupil id (the plan already has this pupil)")
        elif student_id in context.changed:
            row.fail("student_id", student_id, f"one change per pupil (row {context.changed[student_id]} adds it too)")
        context.changed.setdefault(student_id, row.row)
    location = _point(row, "lon", "lat")
    school_id, shift = _school_and_shift(row, context)
    grade = row.integer("grade", 0, MAX_GRADE, f"a whole grade from 0 (preschool) to {MAX_GRADE}")
    language = (row.text("language", required=False) or "tr").lower()
    if language not in LANGUAGES:
        row.fail("language", language, f"one of {', '.join(LANGUAGES)}")
    wheelchair = row.boolean("needs_wheelchair")
    door_to_door = row.boolean("needs_door_to_door")
    if not row.ok or None in (student_id, location, school_id, shift, grade):
        return None
    student = Student(
        id=student_id,
        location=location,
        school_id=school_id,
        shift=shift,
        grade=grade,
        needs_wheelchair=wheelchair,
        needs_door_to_door=door_to_door,
        language=language,
        initials=row.text("initials", required=False),
        family_id=row.text("family_id", required=False),
    )
    return Change(ADD_PUPIL, row.row, student=student, student_id=student_id, note=note)


def _closed_road(row: Row, note: str) -> Change | None:
    has_way = "way_id" in row.cells and row.cells.get("way_id") not in (None, "")
    if has_way:
        way = row.integer("way_id", 1, 2**63 - 1, "an OSM way id (a whole number)")
        return Change(CLOSE_ROAD, row.row, way_id=way, note=note)
    start = _point(row, "lon", "lat")
    end = _point(row, "lon2", "lat2")
    if start is None or end is None:
        return None
    return Change(CLOSE_ROAD, row.row, segment=(start, end), note=note)


# --------------------------------------------------------------------------------------------------
# Applying changes
# --------------------------------------------------------------------------------------------------


def apply_to_scenario(scenario: Scenario, changes: ChangeSet, plan: Plan | None = None) -> Scenario:
    """The scenario after the pupil and vehicle changes (roads and stops are not in a scenario).

    Added pupils are appended in file order, removed ones dropped, moved ones get their new home
    (placed by a person: ``location_precision`` ``manual`` when the base was geocoded), pupils who
    change school get the new school and shift. A withdrawn vehicle lowers its type's ``count``
    by one when the fleet counts that type (``plan`` names the vehicle's type).
    """
    by_id = {c.student_id: c for c in changes.changes if c.student_id is not None}
    students = []
    for student in scenario.students:
        change = by_id.get(student.id)
        if change is None:
            students.append(student)
        elif change.kind == MOVE_PUPIL:
            precision = "manual" if student.location_precision is not None else None
            students.append(replace(student, location=change.location, location_precision=precision))
        elif change.kind == CHANGE_SCHOOL:
            students.append(replace(student, school_id=change.school_id, shift=change.shift))
    students.extend(c.student for c in changes.of_kind(ADD_PUPIL))
    fleet = scenario.fleet
    if plan is not None:
        types = {v.id: v.vehicle_type for v in plan.vehicles}
        for change in changes.of_kind(WITHDRAW_VEHICLE):
            type_id = types[change.vehicle_id]
            vehicle_types = tuple(
                replace(v, count=max(0, v.count - 1)) if v.id == type_id and v.count is not None else v
                for v in fleet.vehicle_types
            )
            fleet = replace(fleet, vehicle_types=vehicle_types)
    return replace(scenario, students=tuple(students), fleet=fleet)


@dataclass(frozen=True)
class ClosedRoads:
    """Edges taken out of the drive and loaded graphs: ``(u, v)`` node pairs, both directions."""

    edges: tuple[tuple[int, int], ...]

    def to_dict(self) -> dict:
        """JSON-ready form (``closures.json``)."""
        return {"closed_edges": [list(e) for e in self.edges]}

    @classmethod
    def from_dict(cls, document: Mapping) -> ClosedRoads:
        """Read back :meth:`to_dict`'s form."""
        return cls(tuple((int(u), int(v)) for u, v in document.get("closed_edges", [])))


def closed_edges(network: RoadNetwork, changes: ChangeSet) -> ClosedRoads:
    """The drive edges each ``close_road`` change closes, both directions.

    A way id closes every edge of that way; a segment closes the fastest drive path between the
    drive nodes nearest its two ends.

    Raises
    ------
    InputError
        A way id that is not on the drive network, or a segment whose ends snap to one node.
    """
    problems: list[Problem] = []
    edges: set[tuple[int, int]] = set()
    graph = network.drive
    for change in changes.of_kind(CLOSE_ROAD):
        if change.way_id is not None:
            found = {(u, v) for u, v, way in graph.edges(data="osmid") if _has_way(way, change.way_id)}
            if not found:
                problems.append(
                    Problem(changes.source, change.row, "way_id", change.way_id, "an OSM way on the plan's drive network")
                )
            edges |= found
            continue
        snapped = snap_points(graph, list(change.segment))
        a, b = (int(n) for n in snapped.node_ids)
        if a == b:
            problems.append(
                Problem(changes.source, change.row, "lon2/lat2", change.segment[1], "a second end at another junction")
            )
            continue
        try:
            path = nx.shortest_path(graph, a, b, weight="travel_time")
        except nx.NetworkXNoPath:
            path = nx.shortest_path(graph, b, a, weight="travel_time")
        edges |= set(zip(path, path[1:]))
    raise_if_problems(problems)
    both = edges | {(v, u) for u, v in edges}
    return ClosedRoads(tuple(sorted(both)))


def _has_way(value: object, way_id: int) -> bool:
    if isinstance(value, list | tuple):
        return any(_has_way(v, way_id) for v in value)
    try:
        return int(value) == way_id
    except (TypeError, ValueError):
        return False


def close_roads(network: RoadNetwork, closed: ClosedRoads) -> RoadNetwork:
    """The network with ``closed`` edges removed from drive and loaded (walking is unaffected).

    Both graphs are cut back to their largest strongly connected part again, so every planned
    place still reaches every other; a stop left outside it is closed by the re-planner.
    """
    if not closed.edges:
        return network
    cut = set(closed.edges)

    def without(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
        copy = graph.copy()
        copy.remove_edges_from([(u, v, k) for u, v, k in graph.edges(keys=True) if (u, v) in cut])
        return largest_scc(copy)

    drive = without(network.drive)
    # one graph serves both profiles where nothing is forbidden to a loaded bus: cut it once
    loaded = drive if network.loaded is network.drive else without(network.loaded)
    return replace(network, drive=drive, loaded=loaded)


CLOSURES_FILE = "closures.json"
"""In a re-planned plan directory: the road edges closed for that plan (see :func:`close_roads`)."""

__all__: Sequence[str] = (
    "CHANGE_KINDS",
    "CLOSURES_FILE",
    "Change",
    "ChangeSet",
    "ClosedRoads",
    "apply_to_scenario",
    "close_roads",
    "closed_edges",
    "read_changes",
)
