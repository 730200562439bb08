"""Tables and GeoJSON of a finished plan: CSV for tools, XLSX for people, GeoJSON for GIS.

Four tables, each as a CSV file and as a sheet of ``plan.xlsx``:

* ``routes``: one row per trip visit, in trip and visit order;
* ``stops``: one row per stop;
* ``assignments``: one row per student (status, reason, stop, walk, times; never home coordinates);
* ``vehicles``: one row per vehicle-day.

CSV files are UTF-8 with a byte-order mark, so Excel shows Turkish letters, and keep stable
``snake_case`` headers with units in the names for tools. The workbook holds the same cells under
column names in the chosen language. Times of day are ``HH:MM`` text (and exact seconds in ``*_s``
columns), distances whole metres. GeoJSON coordinates are ``[lon, lat]``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from schoolbus.model import Location, Plan, Trip
from schoolbus.outputs.i18n import DEFAULT_LANGUAGE, check_language, clock, translations
from schoolbus.outputs.reasons import describe_reason

CSV_ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark: without it Excel reads Windows-1254 and mangles ğ ş ı."""
LIST_SEPARATOR = ";"
"""Lists inside one cell (student ids, trip ids); commas would fight the CSV delimiter in Excel."""
MIN_COLUMN_WIDTH = 6
MAX_COLUMN_WIDTH = 60
HEADER_FILL = "DDE6F0"
MONEY_DECIMALS = 2

Cell = str | int | float | bool | None


@dataclass(frozen=True)
class Column:
    """A table column: its stable key (CSV header), its label in the workbook, and how to get it."""

    key: str
    label: str
    value: Callable[[dict], Cell]


@dataclass(frozen=True)
class Table:
    """A named table: stable file name, sheet title in the chosen language, columns and rows."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]


def path_from_steps(trip: Trip) -> list[Location]:
    """A trip's road path as one ``(lon, lat)`` list: its steps joined, each junction point once."""
    path: list[Location] = []
    for step in trip.steps:
        for point in step.coords:
            point = (point[0], point[1])
            if not path or point != path[-1]:
                path.append(point)
    return path


def trips_in_order(plan: Plan) -> list[Trip]:
    """Trips vehicle by vehicle in each vehicle-day's order, then any trip no vehicle-day lists."""
    trips = {t.id: t for t in plan.trips}
    ordered = [trips[trip_id] for v in plan.vehicles for trip_id in v.trip_ids if trip_id in trips]
    listed = {t.id for t in ordered}
    return ordered + [t for t in plan.trips if t.id not in listed]


def export_tables(
    plan: Plan, out_dir: str | Path, *, language: str = DEFAULT_LANGUAGE
) -> dict[str, Path]:
    """Write the plan's tables as CSV and XLSX and its routes and stops as GeoJSON.

    Parameters
    ----------
    plan
        A finished plan; nothing is recomputed.
    out_dir
        Folder to write into (created if missing).
    language
        Language of the workbook's sheet and column names: ``tr`` (default), ``en`` or ``ar``.

    Returns
    -------
    dict[str, Path]
        File name → path: ``routes.csv``, ``stops.csv``, ``assignments.csv``, ``vehicles.csv``,
        ``plan.xlsx``, ``routes.geojson``, ``stops.geojson``.

    Raises
    ------
    InputError
        When ``language`` has no catalogue.
    """
    check_language(language)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    tables = plan_tables(plan, language)
    for table in tables:
        path = out_dir / f"{table.name}.csv"
        write_csv(table, path)
        written[path.name] = path
    xlsx = out_dir / "plan.xlsx"
    write_xlsx(tables, xlsx)
    written[xlsx.name] = xlsx
    for name, collection in (
        ("routes.geojson", routes_geojson(plan)),
        ("stops.geojson", stops_geojson(plan)),
    ):
        path = out_dir / name
        path.write_text(
            json.dumps(collection, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        written[name] = path
    return written


def plan_tables(plan: Plan, language: str = DEFAULT_LANGUAGE) -> tuple[Table, ...]:
    """The four tables of ``plan`` with column labels in ``language``."""
    tr = translations(language)
    _ = tr.gettext
    stops = {s.id: s for s in plan.stops}
    schools = {s.id: s for s in plan.scenario.schools}
    students = {s.id: s for s in plan.scenario.students}
    trips = {t.id: t for t in plan.trips}
    vehicles_at_stop: dict[str, list[str]] = {}
    for trip in plan.trips:
        for visit in trip.visits:
            if visit.stop_id is not None and trip.vehicle_id not in vehicles_at_stop.setdefault(
                visit.stop_id, []
            ):
                vehicles_at_stop[visit.stop_id].append(trip.vehicle_id)

    def school_name(school_id: str) -> str:
        return schools[school_id].name if school_id in schools else school_id

    def place_name(visit) -> str:
        if visit.stop_id is not None:
            return stops[visit.stop_id].name if visit.stop_id in stops else ""
        return schools[visit.school_id].name if visit.school_id in schools else ""

    route_rows = [
        {"trip": trip, "seq": seq, "visit": visit}
        for trip in trips_in_order(plan)
        for seq, visit in enumerate(trip.visits, start=1)
    ]
    routes = _table(
        "routes",
        _("Routes"),
        (
            Column("vehicle_id", _("Vehicle"), lambda r: r["trip"].vehicle_id),
            Column("trip_id", _("Trip"), lambda r: r["trip"].id),
            Column("school_id", _("School id"), lambda r: r["trip"].school_id),
            Column("school_name", _("School"), lambda r: school_name(r["trip"].school_id)),
            Column("shift", _("Shift"), lambda r: r["trip"].shift),
            Column("direction", _("Direction"), lambda r: str(r["trip"].direction)),
            Column("seq", _("Order"), lambda r: r["seq"]),
            Column(
                "place_kind",
                _("Place type"),
                lambda r: "stop" if r["visit"].stop_id is not None else "school",
            ),
            Column("place_id", _("Place"), lambda r: r["visit"].stop_id or r["visit"].school_id),
            Column("place_name", _("Place name"), lambda r: place_name(r["visit"])),
            Column("arrive_time", _("Arrive"), lambda r: clock(r["visit"].arrive_s)),
            Column("depart_time", _("Depart"), lambda r: clock(r["visit"].depart_s)),
            Column("arrive_s", _("Arrive (s after midnight)"), lambda r: r["visit"].arrive_s),
            Column("depart_s", _("Depart (s after midnight)"), lambda r: r["visit"].depart_s),
            Column("n_board", _("Boarding (pupils)"), lambda r: len(r["visit"].board)),
            Column("n_alight", _("Alighting (pupils)"), lambda r: len(r["visit"].alight)),
            Column("board", _("Boarding"), lambda r: LIST_SEPARATOR.join(r["visit"].board)),
            Column("alight", _("Alighting"), lambda r: LIST_SEPARATOR.join(r["visit"].alight)),
        ),
        route_rows,
    )
    stop_table = _table(
        "stops",
        _("Stops"),
        (
            Column("stop_id", _("Stop"), lambda s: s.id),
            Column("name", _("Street"), lambda s: s.name),
            Column("school_id", _("School id"), lambda s: s.school_id),
            Column("school_name", _("School"), lambda s: school_name(s.school_id)),
            Column("shift", _("Shift"), lambda s: s.shift),
            Column("lon", _("Longitude"), lambda s: s.location[0]),
            Column("lat", _("Latitude"), lambda s: s.location[1]),
            Column("n_students", _("Pupils"), lambda s: len(s.student_ids)),
            Column("student_ids", _("Pupil ids"), lambda s: LIST_SEPARATOR.join(s.student_ids)),
            Column("is_door_to_door", _("Door-to-door"), lambda s: s.is_door_to_door),
            Column(
                "vehicle_ids",
                _("Vehicles"),
                lambda s: LIST_SEPARATOR.join(vehicles_at_stop.get(s.id, [])),
            ),
        ),
        plan.stops,
    )
    assignments = _table(
        "assignments",
        _("Pupils"),
        (
            Column("student_id", _("Pupil"), lambda a: a.student_id),
            Column("initials", _("Initials"), lambda a: _initials(students, a.student_id)),
            Column("school_id", _("School id"), lambda a: a.school_id),
            Column("school_name", _("School"), lambda a: school_name(a.school_id)),
            Column("shift", _("Shift"), lambda a: a.shift),
            Column("status", _("Status"), lambda a: str(a.status)),
            Column("reason", _("Reason"), lambda a: a.reason and describe_reason(a.reason, language)),
            Column("reason_code", _("Reason code"), lambda a: a.reason and a.reason.code.value),
            Column("stop_id", _("Stop"), lambda a: a.stop_id),
            Column(
                "stop_name",
                _("Street"),
                lambda a: stops[a.stop_id].name if a.stop_id in stops else None,
            ),
            Column("walk_m", _("Walk (m)"), lambda a: _whole(a.walk_m)),
            Column("pickup_time", _("Pickup"), lambda a: clock(a.pickup_s) or None),
            Column("dropoff_time", _("Drop-off"), lambda a: clock(a.dropoff_s) or None),
            Column("ride_to_school_s", _("Ride to school (s)"), lambda a: a.ride_to_school_s),
            Column("ride_home_s", _("Ride home (s)"), lambda a: a.ride_home_s),
        ),
        plan.assignments,
    )
    vehicles = _table(
        "vehicles",
        _("Vehicles"),
        (
            Column("vehicle_id", _("Vehicle"), lambda v: v.id),
            Column("vehicle_type", _("Vehicle class"), lambda v: v.vehicle_type),
            Column("seats", _("Seats"), lambda v: v.seats),
            Column("wheelchair_places", _("Wheelchair places"), lambda v: v.wheelchair_places),
            Column("escort", _("Escort"), lambda v: v.escort),
            Column("depot_id", _("Depot"), lambda v: v.depot_id),
            Column("n_trips", _("Trips"), lambda v: len(v.trip_ids)),
            Column("trip_ids", _("Trip ids"), lambda v: LIST_SEPARATOR.join(v.trip_ids)),
            Column("start_time", _("First trip starts"), lambda v: _first_start(v, trips)),
            Column("end_time", _("Last trip ends"), lambda v: _last_end(v, trips)),
            Column("distance_m", _("Distance (m)"), lambda v: _whole(v.distance_m)),
            Column("deadhead_m", _("Empty running (m)"), lambda v: _whole(v.deadhead_m)),
            Column(
                "cost_per_day", _("Cost per day"), lambda v: round(v.cost_per_day, MONEY_DECIMALS)
            ),
        ),
        plan.vehicles,
    )
    return (routes, stop_table, assignments, vehicles)


def _table(name: str, title: str, columns: tuple[Column, ...], items: Sequence) -> Table:
    return Table(
        name, title, columns, tuple(tuple(c.value(item) for c in columns) for item in items)
    )


def _initials(students: dict, student_id: str) -> str | None:
    student = students.get(student_id)
    return student.initials if student is not None else None


def _whole(metres: float | None) -> int | None:
    return None if metres is None else round(metres)


def _first_start(vehicle, trips) -> str | None:
    return clock(trips[vehicle.trip_ids[0]].start_s) if vehicle.trip_ids else None


def _last_end(vehicle, trips) -> str | None:
    return clock(trips[vehicle.trip_ids[-1]].end_s) if vehicle.trip_ids else None


def csv_text(value: Cell) -> str:
    """How a cell is written in CSV: empty for ``None``, ``true``/``false`` for booleans.

    A whole-number float is written without ``.0``: Excel keeps no difference between 3100 and
    3100.0, so the CSV and the workbook read back the same.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""Leading characters that make a spreadsheet read a text cell as a formula (OWASP CSV injection)."""


def neutralised(value: Cell) -> Cell:
    """``value`` safe to open in a spreadsheet: text starting with a formula trigger gets a ``'``.

    Only text is changed (a negative *number* stays a number); every school, stop and pupil
    name or id comes from an uploaded file, so none may reach a spreadsheet as a live formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def write_csv(table: Table, path: Path, *, for_spreadsheet_language: str | None = None) -> None:
    """Write ``table`` to ``path`` as UTF-8-with-BOM CSV under its stable column keys.

    With ``for_spreadsheet_language`` the file is for a person's spreadsheet instead: headers are
    the column labels, and where the language writes decimals with a comma (Turkish) cells are
    separated by ``;`` and decimals written with a comma, as a Turkish Excel reads them.
    Text cells are :func:`neutralised`.
    """
    comma_decimal = for_spreadsheet_language in COMMA_DECIMAL_LANGUAGES
    with path.open("w", encoding=CSV_ENCODING, newline="") as f:
        writer = csv.writer(f, delimiter=";" if comma_decimal else ",")
        headers = [c.label if for_spreadsheet_language else c.key for c in table.columns]
        writer.writerow([neutralised(h) for h in headers])
        for row in table.rows:
            cells = []
            for v in row:
                text = csv_text(v)
                if comma_decimal and isinstance(v, float) and not isinstance(v, bool):
                    text = text.replace(".", ",")
                cells.append(neutralised(text) if isinstance(v, str) else text)
            writer.writerow(cells)


COMMA_DECIMAL_LANGUAGES = frozenset({"tr"})
"""Languages whose spreadsheets write ``3,5`` and so separate CSV cells with ``;``."""


def write_xlsx(tables: Sequence[Table], path: Path) -> None:
    """Write one sheet per table: readable column names, frozen bold header, fitted widths.

    Text cells are :func:`neutralised`: no cell of the workbook is a formula.
    """
    workbook = Workbook()
    workbook.remove(workbook.active)
    for table in tables:
        sheet = workbook.create_sheet(_sheet_title(table.title))
        sheet.append([neutralised(c.label) for c in table.columns])
        for row in table.rows:
            sheet.append([neutralised(v) for v in row])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.freeze_panes = "A2"
        if table.rows:
            sheet.auto_filter.ref = sheet.dimensions
        for index, column in enumerate(table.columns, start=1):
            longest = max(
                [len(column.label)] + [len(csv_text(row[index - 1])) for row in table.rows]
            )
            sheet.column_dimensions[get_column_letter(index)].width = min(
                max(longest + 2, MIN_COLUMN_WIDTH), MAX_COLUMN_WIDTH
            )
    workbook.save(path)


def _sheet_title(title: str) -> str:
    """Excel's rules: at most 31 characters, none of ``[]:*?/\\``."""
    return "".join("_" if ch in "[]:*?/\\" else ch for ch in title)[:31]


def routes_geojson(plan: Plan) -> dict:
    """A FeatureCollection with one LineString per trip, ``[lon, lat]`` from the trip's steps.

    A trip without steps keeps its feature, with a ``null`` geometry, so it is not silently lost.
    """
    features = []
    for trip in trips_in_order(plan):
        path = path_from_steps(trip)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [list(p) for p in path]}
                if len(path) >= 2
                else None,
                "properties": {
                    "trip_id": trip.id,
                    "vehicle_id": trip.vehicle_id,
                    "vehicle_type": trip.vehicle_type,
                    "school_id": trip.school_id,
                    "shift": trip.shift,
                    "direction": str(trip.direction),
                    "start_time": clock(trip.start_s),
                    "end_time": clock(trip.end_s),
                    "distance_m": round(trip.distance_m, 1),
                    "duration_s": trip.duration_s,
                    "stop_ids": [v.stop_id for v in trip.visits if v.stop_id is not None],
                    "streets": [s.street for s in trip.steps],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def stops_geojson(plan: Plan) -> dict:
    """A FeatureCollection with one Point per stop at ``[lon, lat]``."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [stop.location[0], stop.location[1]]},
                "properties": {
                    "stop_id": stop.id,
                    "name": stop.name,
                    "school_id": stop.school_id,
                    "shift": stop.shift,
                    "n_students": len(stop.student_ids),
                    "student_ids": list(stop.student_ids),
                    "is_door_to_door": stop.is_door_to_door,
                },
            }
            for stop in plan.stops
        ],
    }
