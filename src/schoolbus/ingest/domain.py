"""Files → validated scenario: students, schools, fleet and policy as the domain model.

Students and schools are tables (CSV, XLSX or GeoJSON points, read by
:mod:`schoolbus.ingest.readers`); the fleet and the policy are YAML or TOML documents. Each row and
key is checked with the validators of :mod:`schoolbus.ingest.fields` and mapped onto the frozen
values of :mod:`schoolbus.model`. Every reader reads every row of every file, collects every
problem it finds and raises one :class:`~schoolbus.errors.InputError` listing them all; nothing it
cannot place is silently ignored. ``docs/input-format.md`` documents each column and key, with
units and defaults; rows are numbered as :data:`~schoolbus.ingest.fields.ROW_NUMBERING` says.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from schoolbus.errors import Problem
from schoolbus.geocode.columns import ADDRESS_COLUMNS, GEOCODE_COLUMNS
from schoolbus.ingest.fields import (
    TIME_OF_DAY_EXPECTED,
    Keys,
    Row,
    hhmm,
    is_empty_cell,
    raise_if_problems,
    short_value,
    time_of_day_s,
)
from schoolbus.ingest.readers import ADDRESS_COLUMN, Table, check_columns, read_document, read_table, with_aliases
from schoolbus.model import (
    LOCATION_PRECISIONS,
    PRESCHOOL_GRADE,
    BellWindow,
    Depot,
    Fleet,
    GradeBand,
    GradeWalkLimit,
    Policy,
    Prices,
    PriorityRules,
    Scenario,
    School,
    Shift,
    Student,
    VehicleType,
)

__all__ = [
    "DEFAULT_FLEET",
    "DEFAULT_PRICES",
    "PRIORITY_KEYS",
    "SCHOOL_COLUMNS",
    "SCHOOL_WINDOW_COLUMNS",
    "STUDENT_COLUMNS",
    "STUDENT_REQUIRED_COLUMNS",
    "fleet_document",
    "fleet_from_mapping",
    "load_scenario",
    "policy_from_mapping",
    "priority_rules_from_mapping",
    "read_fleet",
    "read_policy",
    "read_priority_rules",
    "read_schools",
    "read_students",
]

# --------------------------------------------------------------------------------------------------
# What the files hold
# --------------------------------------------------------------------------------------------------

STUDENT_REQUIRED_COLUMNS = ("id", "lon", "lat", "school_id", "shift", "grade")
"""Columns every students file must have."""

STUDENT_COLUMNS = STUDENT_REQUIRED_COLUMNS + (
    "wheelchair",
    "door_to_door",
    "funding_line",
    "language",
    "initials",
    "max_ride_min",
    "family_id",
    "priority",
    "vulnerable",
    # Written by ``schoolbus geocode``: the address it started from and how precise it is.
    *ADDRESS_COLUMNS,
    *GEOCODE_COLUMNS,
)
"""Every column a students file may have (the required ones first)."""

SCHOOL_COLUMNS = ("id", "name", "lon", "lat", "shift", "bell", "dismissal")
"""Columns of a schools file, all required: one row per school and shift."""

_SHARED_ALIASES = {
    "lon": ("boylam", "longitude", "lng", "خط_الطول"),
    "lat": ("enlem", "latitude", "خط_العرض"),
    "shift": ("vardiya", "ogretim", "الفترة", "الوردية"),
}
STUDENT_ALIASES: dict[str, tuple[str, ...]] = {
    **_SHARED_ALIASES,
    "id": ("ogrenci_no", "ogrenci_numarasi", "ogrenci_id", "رقم_الطالب"),
    "school_id": ("okul_kodu", "okul_no", "kurum_kodu", "رمز_المدرسة"),
    "grade": ("sinif", "sinif_duzeyi", "الصف"),
    "wheelchair": ("tekerlekli_sandalye", "كرسي_متحرك"),
    "door_to_door": ("kapidan_kapiya", "من_الباب_إلى_الباب"),
    "funding_line": ("finansman", "odenek", "بند_التمويل"),
    "language": ("dil", "اللغة"),
    "initials": ("bas_harfler", "الأحرف_الأولى"),
    "max_ride_min": ("azami_yolculuk_dk", "أقصى_مدة_الرحلة_دقيقة"),
    "family_id": ("aile_no", "aile_kodu", "رقم_العائلة"),
    ADDRESS_COLUMN: ("adres", "acik_adres", "العنوان"),
}
"""Turkish and Arabic names (and common English ones) accepted for each students column.

Names are compared as :func:`~schoolbus.ingest.readers.with_aliases` does: lower case, Turkish
letters without their marks (``Öğrenci No`` → ``ogrenci_no``), spaces and dots as ``_``. Listed in
docs/input-format.md."""

SCHOOL_ALIASES: dict[str, tuple[str, ...]] = {
    **_SHARED_ALIASES,
    "id": ("okul_kodu", "kurum_kodu", "رمز_المدرسة"),
    "name": ("okul_adi", "kurum_adi", "ad", "اسم_المدرسة"),
    "bell": ("giris_saati", "ders_baslangic", "zil", "بداية_الدوام"),
    "dismissal": ("cikis_saati", "ders_bitis", "نهاية_الدوام"),
}
"""Turkish and Arabic names accepted for each schools column (compared as for students)."""

SWAPPED = "latitude and longitude look swapped"

SCHOOL_WINDOW_COLUMNS = ("bell_earliest", "bell_latest")
"""Optional columns of a schools file: when the shift's bell may ring if bells are chosen."""

MAX_GRADE = 12
"""Highest grade (lise 4 / 12th grade); grade 0 is preschool (anaokulu)."""

LANGUAGES = ("tr", "ar", "en")
"""Languages route sheets and parent notices are printed in."""

DEFAULT_LANGUAGE = "tr"

MAX_INITIALS_CHARS = 6
"""Initials longer than this are refused, to keep full names out of route sheets."""

MAX_PRIORITY = 1000.0
"""Largest priority weight a pupil may carry (what a budget weighs pupils by; 1 when empty)."""

MAX_RIDE_LIMIT_MIN = 240.0
"""Largest ride limit accepted, in minutes; larger values are most likely seconds."""

MAX_SCHOOL_DAYS_PER_YEAR = 366

SECONDS_PER_MINUTE = 60

_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_ROAD_CLASS_RE = re.compile(r"[a-z][a-z_]*")

_LON_EXPECTED = "a longitude in degrees from -180 to 180 (decimal point or decimal comma)"
_LAT_EXPECTED = "a latitude in degrees from -90 to 90 (decimal point or decimal comma)"

DEFAULT_FLEET = Fleet(
    vehicle_types=(
        VehicleType(id="minibus-16", seats=16, day_rate=3000.0),
        VehicleType(id="midibus-25", seats=25, day_rate=3800.0, wheelchair_places=2),
        VehicleType(id="midibus-35", seats=35, day_rate=4600.0),
        VehicleType(id="bus-45", seats=45, day_rate=5500.0),
    ),
)
"""The example Turkish fleet used when no fleet file is given (also ``data/examples/fleet.yaml``).

One vehicle type per class of the Turkish school-service market: up to 16 seats (minibüs), 17-25
and 26-35 (midibüs), 36 and more (otobüs); the 25-seat class carries two wheelchair places. The
day rates (TRY per vehicle per school day, fuel and driver included) are ILLUSTRATIVE, not quotes:
replace them with the district's contract prices before using any cost figure.
"""

DEFAULT_PRICES = Prices(
    escort_day_rate=1000.0, overhead_share=0.0, school_days_per_year=181, currency="TRY"
)
"""Prices that go with :data:`DEFAULT_FLEET`; the escort (rehber personel) rate is ILLUSTRATIVE."""


# --------------------------------------------------------------------------------------------------
# Public readers
# --------------------------------------------------------------------------------------------------


def load_scenario(
    students: str | Path,
    schools: str | Path,
    fleet: str | Path | None = None,
    policy: str | Path | None = None,
    name: str | None = None,
) -> Scenario:
    """Read and validate every input file into one scenario.

    Parameters
    ----------
    students, schools : str or Path
        Tables (``.csv``/``.txt``/``.tsv``, ``.xlsx``/``.xlsm``, ``.geojson``/``.json``).
    fleet, policy : str or Path, optional
        YAML (``.yaml``/``.yml``) or TOML (``.toml``) documents. Without a fleet file the
        illustrative :data:`DEFAULT_FLEET` and :data:`DEFAULT_PRICES` are used; without a policy
        file the defaults of :class:`~schoolbus.model.Policy`.
    name : str, optional
        Scenario name; defaults to the students file's name without its suffix.

    Returns
    -------
    Scenario
        Students in file order, schools in order of first appearance with their shifts in file
        order.

    Raises
    ------
    InputError
        Listing every problem of every file, including students whose school or shift the schools
        file does not have.
    """
    # Schools are validated first (pupils are checked against them) but reported second, in the
    # order the files are named.
    school_problems: list[Problem] = []
    school_table = read_table(schools, school_problems)
    found_schools: tuple[School, ...] = ()
    known_shifts = None
    windows: list[BellWindow] = []
    if school_table is not None:
        found_schools, known_shifts = _schools_from_table(school_table, school_problems, windows)
    problems: list[Problem] = []
    student_table = read_table(students, problems)
    found_students: tuple[Student, ...] = ()
    student_rows: dict[str, int] = {}
    if student_table is not None:
        found_students = _students_from_table(
            student_table, known_shifts, str(schools), problems, student_rows
        )
    problems.extend(school_problems)
    found_fleet, found_prices = DEFAULT_FLEET, DEFAULT_PRICES
    if fleet is not None:
        document = read_document(fleet, problems)
        if document is not None:
            found_fleet, found_prices = _fleet_from_document(str(fleet), document, problems)
    found_policy, found_rules = Policy(), PriorityRules()
    if policy is not None:
        document = read_document(policy, problems)
        if document is not None:
            found_policy = _policy_from_document(str(policy), document, problems)
            found_rules = _priority_rules_from_document(str(policy), document, problems)
    _check_home_distances(
        str(students),
        found_students,
        student_rows,
        found_schools,
        found_policy.max_plausible_home_school_m,
        problems,
    )
    raise_if_problems(problems)
    return Scenario(
        name=name if name is not None else Path(students).stem,
        students=found_students,
        schools=found_schools,
        fleet=found_fleet,
        policy=found_policy,
        prices=found_prices,
        priority_rules=found_rules,
        bell_windows=tuple(windows),
    )


def read_students(path: str | Path, schools: Sequence[School] | None = None) -> tuple[Student, ...]:
    """Read a students table (one row per pupil).

    Parameters
    ----------
    path : str or Path
        CSV, XLSX or GeoJSON (Point features, ``[lon, lat]``).
    schools : sequence of School, optional
        When given, every pupil's ``school_id`` and ``shift`` must name one of these.

    Returns
    -------
    tuple of Student
        In file order; ``max_ride_min`` is converted to whole seconds (``max_ride_s``).

    Raises
    ------
    InputError
        Listing every problem found.
    """
    problems: list[Problem] = []
    table = read_table(path, problems)
    students: tuple[Student, ...] = ()
    if table is not None:
        known = None if schools is None else {s.id: {x.name for x in s.shifts} for s in schools}
        students = _students_from_table(table, known, "the given schools", problems)
    raise_if_problems(problems)
    return students


def read_schools(path: str | Path) -> tuple[School, ...]:
    """Read a schools table (one row per school and shift).

    Parameters
    ----------
    path : str or Path
        CSV, XLSX or GeoJSON. Rows of one school must agree on name and location.

    Returns
    -------
    tuple of School
        In order of first appearance; shifts in file order, bell and dismissal in seconds after
        midnight.

    Raises
    ------
    InputError
        Listing every problem found.
    """
    problems: list[Problem] = []
    table = read_table(path, problems)
    schools: tuple[School, ...] = ()
    if table is not None:
        schools, _ = _schools_from_table(table, problems)
    raise_if_problems(problems)
    return schools


def read_fleet(path: str | Path) -> tuple[Fleet, Prices]:
    """Read a fleet document: vehicle types, depots and prices.

    Parameters
    ----------
    path : str or Path
        YAML or TOML with the keys ``prices``, ``vehicle_types`` and ``depots``.

    Returns
    -------
    (Fleet, Prices)
        Money in ``Prices.currency`` per school day (day rates) or per km (km rates).

    Raises
    ------
    InputError
        Listing every problem found.
    """
    return _read_one_document(path, (DEFAULT_FLEET, DEFAULT_PRICES), _fleet_from_document)


def read_policy(path: str | Path) -> Policy:
    """Read a policy document (walk and ride limits, service times, escorts, forbidden roads).

    Parameters
    ----------
    path : str or Path
        YAML or TOML; every key names its unit (``_m`` metres, ``_min`` minutes, ``_s`` seconds)
        and every key is optional.

    Returns
    -------
    Policy
        Minutes converted to whole seconds.

    Raises
    ------
    InputError
        Listing every problem found.
    """
    return _read_one_document(path, Policy(), _policy_and_priority_from_document)


def read_priority_rules(path: str | Path) -> PriorityRules:
    """Read the ``priority`` section of a policy document: how a budget weighs pupils.

    Parameters
    ----------
    path : str or Path
        The policy file (YAML or TOML); without a ``priority`` section no rule adds weight.

    Raises
    ------
    InputError
        Listing every problem of the section.
    """
    return _read_one_document(path, PriorityRules(), _priority_rules_from_document)


_Parsed = TypeVar("_Parsed")


def _read_one_document(
    path: str | Path, default: _Parsed, parse: Callable[[str, Mapping[object, object], list[Problem]], _Parsed]
) -> _Parsed:
    """``parse`` of the YAML or TOML document at ``path`` (``default`` when it cannot be read);
    raises one :class:`InputError` listing every problem."""
    problems: list[Problem] = []
    document = read_document(path, problems)
    result = default if document is None else parse(str(path), document, problems)
    raise_if_problems(problems)
    return result


def _policy_and_priority_from_document(file: str, document: Mapping[object, object], problems: list[Problem]) -> Policy:
    """The policy, with its ``priority`` section validated too (a budget reads it apart)."""
    policy = _policy_from_document(file, document, problems)
    _priority_rules_from_document(file, document, problems)
    return policy


# --------------------------------------------------------------------------------------------------
# Schools and students
# --------------------------------------------------------------------------------------------------


@dataclass
class _SchoolRows:
    """What the rows of one school id have said so far (first value wins; later must agree)."""

    values: dict[str, tuple[int, str | float]]
    shifts: list[Shift]
    shift_rows: dict[str, int]


def _schools_from_table(
    table: Table, problems: list[Problem], windows: list[BellWindow] | None = None
) -> tuple[tuple[School, ...], dict[str, set[str]] | None]:
    """Validate school rows; also return the shifts each school id names, for the students check.

    The shift map is ``None`` when the file lacks an id or shift column: then pupils' schools cannot
    be checked without reporting a problem twice.
    """
    table = with_aliases(table, SCHOOL_ALIASES)
    check_columns(table, SCHOOL_COLUMNS, SCHOOL_COLUMNS + SCHOOL_WINDOW_COLUMNS, problems)
    groups: dict[str, _SchoolRows] = {}
    for row_number, cells in table.rows:
        row = Row(table.file, row_number, cells, problems)
        school_id = row.text("id")
        name = row.text("name")
        lon = row.number("lon", -180.0, 180.0, _LON_EXPECTED)
        lat = row.number("lat", -90.0, 90.0, _LAT_EXPECTED)
        shift = row.text("shift")
        bell_s = row.time_s("bell")
        dismissal_s = row.time_s("dismissal")
        if bell_s is not None and dismissal_s is not None and dismissal_s <= bell_s:
            row.fail("dismissal", cells["dismissal"], f"a time after the bell ({hhmm(bell_s)})")
        if school_id is None:
            continue
        group = groups.setdefault(school_id, _SchoolRows({}, [], {}))
        for column, value in (("name", name), ("lon", lon), ("lat", lat)):
            if value is None:
                continue
            first = group.values.setdefault(column, (row_number, value))
            if first[1] != value:
                row.fail(
                    column,
                    cells[column],
                    f"the same {column} as row {first[0]} of school {school_id} ({first[1]!r})",
                )
        if shift is not None:
            if shift in group.shift_rows:
                row.fail(
                    "shift",
                    shift,
                    f"each shift of a school once (row {group.shift_rows[shift]} already has"
                    f" school {school_id} shift {shift})",
                )
            else:
                group.shift_rows[shift] = row_number
        window = _bell_window(row, cells)
        # ``row.ok`` means every required cell parsed; the other tests say so to the type checker.
        if row.ok and shift is not None and bell_s is not None and dismissal_s is not None:
            group.shifts.append(Shift(name=shift, bell_s=bell_s, dismissal_s=dismissal_s))
            if window is not None and windows is not None:
                windows.append(BellWindow(school_id, shift, *window))
    schools = tuple(
        school for school_id, group in groups.items() if (school := _school(school_id, group)) is not None
    )
    usable = {"id", "shift"} <= set(table.columns)
    known = {school_id: set(g.shift_rows) for school_id, g in groups.items()} if usable else None
    return schools, known


def _school(school_id: str, group: _SchoolRows) -> School | None:
    """The school its rows describe; ``None`` when no row of it was valid."""
    name, lon, lat = (group.values.get(column, (0, None))[1] for column in ("name", "lon", "lat"))
    if not group.shifts or not isinstance(name, str) or not isinstance(lon, float) or not isinstance(lat, float):
        return None
    return School(id=school_id, name=name, location=(lon, lat), shifts=tuple(group.shifts))


def _bell_window(row: Row, cells: Mapping[str, object]) -> tuple[int, int] | None:
    """A row's bell window (earliest, latest), both or neither given; ``None`` without one."""
    given = {c: cells.get(c) for c in SCHOOL_WINDOW_COLUMNS if not is_empty_cell(cells.get(c))}
    if not given:
        return None
    times = {}
    for column in SCHOOL_WINDOW_COLUMNS:
        if column not in given:
            row.fail(column, "", f"a time like 07:00: {' and '.join(SCHOOL_WINDOW_COLUMNS)} come together")
            continue
        seconds = time_of_day_s(given[column])
        if seconds is None:
            row.fail(column, given[column], TIME_OF_DAY_EXPECTED)
        times[column] = seconds
    earliest, latest = times.get("bell_earliest"), times.get("bell_latest")
    if earliest is None or latest is None:
        return None
    if latest < earliest:
        row.fail("bell_latest", given["bell_latest"], f"a time not before bell_earliest ({hhmm(earliest)})")
        return None
    return earliest, latest


def _students_from_table(
    table: Table,
    known_shifts: Mapping[str, Collection[str]] | None,
    schools_source: str,
    problems: list[Problem],
    rows_out: dict[str, int] | None = None,
) -> tuple[Student, ...]:
    """Validate pupil rows; check school and shift against ``known_shifts`` when given.

    ``rows_out``, when given, receives each valid student's row number (for later checks).
    """
    table = with_aliases(table, STUDENT_ALIASES)
    check_columns(table, STUDENT_REQUIRED_COLUMNS, tuple(dict.fromkeys((*STUDENT_COLUMNS, ADDRESS_COLUMN))), problems)
    students: list[Student] = []
    first_row_of: dict[str, int] = {}
    # A family gets one parent notice, printed in one language: its first row's language.
    family_language: dict[str, tuple[int, str]] = {}
    for row_number, cells in table.rows:
        row = Row(table.file, row_number, cells, problems)
        student_id = row.text("id")
        if student_id is not None:
            first = first_row_of.setdefault(student_id, row_number)
            if first != row_number:
                row.fail("id", student_id, f"a unique id (row {first} has it too)")
        lon = row.number("lon", -180.0, 180.0, _LON_EXPECTED)
        lat = row.number("lat", -90.0, 90.0, _LAT_EXPECTED)
        school_id = row.text("school_id")
        shift = row.text("shift")
        if known_shifts is not None and school_id is not None:
            if school_id not in known_shifts:
                ids = sorted(known_shifts)
                listed = ", ".join(ids[:10]) + (", …" if len(ids) > 10 else "")
                row.fail("school_id", school_id, f"a school id of {schools_source}: {listed}")
            elif shift is not None and shift not in known_shifts[school_id]:
                listed = ", ".join(sorted(known_shifts[school_id]))
                row.fail("shift", shift, f"a shift of school {school_id}: {listed}")
        grade = row.integer(
            "grade",
            PRESCHOOL_GRADE,
            MAX_GRADE,
            f"a whole grade from {PRESCHOOL_GRADE} (preschool/anaokulu) to {MAX_GRADE}",
        )
        needs_wheelchair = row.boolean("wheelchair")
        needs_door_to_door = row.boolean("door_to_door")
        funding_line = row.text("funding_line", required=False)
        language = row.text("language", required=False)
        is_language_valid = True
        if language is not None:
            language = language.lower()
            if language not in LANGUAGES:
                row.fail("language", cells["language"], f"one of {', '.join(LANGUAGES)} or empty")
                is_language_valid = False
        family_id = row.text("family_id", required=False)
        if family_id is not None and is_language_valid:
            first_row, first_language = family_language.setdefault(
                family_id, (row_number, language or DEFAULT_LANGUAGE)
            )
            if first_language != (language or DEFAULT_LANGUAGE):
                row.fail(
                    "language",
                    "" if cells.get("language") is None else cells["language"],
                    f"the same language as row {first_row} of family {family_id}"
                    f" ({first_language!r}): a family gets one notice, in one language",
                )
        initials = row.text("initials", required=False)
        if initials is not None and len(initials) > MAX_INITIALS_CHARS:
            row.fail(
                "initials",
                initials,
                f"initials of at most {MAX_INITIALS_CHARS} characters, never a full name",
            )
        max_ride_min = row.number(
            "max_ride_min",
            0.0,
            MAX_RIDE_LIMIT_MIN,
            f"minutes, more than 0 and at most {MAX_RIDE_LIMIT_MIN:g}, or empty",
            required=False,
        )
        if max_ride_min == 0.0:
            row.fail("max_ride_min", cells["max_ride_min"], "minutes, more than 0, or empty")
        location_precision = _location_precision(row)
        priority = row.number(
            "priority", 0.0, MAX_PRIORITY, f"a priority weight from 0 to {MAX_PRIORITY:g}, or empty for 1", required=False
        )
        is_vulnerable = row.boolean("vulnerable")
        # ``row.ok`` means every required cell parsed; the other tests say so to the type checker.
        if (
            row.ok
            and student_id is not None
            and lon is not None
            and lat is not None
            and school_id is not None
            and shift is not None
            and grade is not None
        ):
            students.append(
                Student(
                    id=student_id,
                    location=(lon, lat),
                    school_id=school_id,
                    shift=shift,
                    grade=grade,
                    needs_wheelchair=needs_wheelchair,
                    needs_door_to_door=needs_door_to_door,
                    funding_line=funding_line,
                    language=language or DEFAULT_LANGUAGE,
                    initials=initials,
                    max_ride_s=None
                    if max_ride_min is None
                    else round(max_ride_min * SECONDS_PER_MINUTE),
                    family_id=family_id,
                    location_precision=location_precision,
                    priority=1.0 if priority is None else priority,
                    is_vulnerable=is_vulnerable,
                )
            )
            if rows_out is not None:
                rows_out[student_id] = row_number
    return tuple(students)


def _location_precision(row: Row) -> str | None:
    """The ``geocode_precision`` column of a geocoded file; ``None`` when absent or empty."""
    precision = row.text("geocode_precision", required=False)
    if precision is None:
        return None
    if precision.lower() == "none":
        row.fail(
            "geocode_precision",
            precision,
            "a located home: the geocoder found no place for this address; put the home on the"
            " review map or type lon and lat and set geocode_precision to manual",
        )
        return None
    if precision.lower() not in LOCATION_PRECISIONS:
        row.fail("geocode_precision", precision, f"one of {', '.join(LOCATION_PRECISIONS)} or empty")
        return None
    return precision.lower()


def _great_circle_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle metres between two ``(lon, lat)`` points (haversine on the mean Earth)."""
    (lon1, lat1), (lon2, lat2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


EARTH_RADIUS_M = 6_371_009.0


def _check_home_distances(
    file: str,
    students: Sequence[Student],
    rows: Mapping[str, int],
    schools: Sequence[School],
    limit_m: float,
    problems: list[Problem],
) -> None:
    """A home farther than ``limit_m`` from its school is a problem; say so when lat/lon look swapped.

    Swapped means: read the other way round, the home is within ``limit_m`` of the school.
    """
    where = {school.id: school for school in schools}
    for student in students:
        school = where.get(student.school_id)
        if school is None:
            continue
        distance_m = _great_circle_m(student.location, school.location)
        if distance_m <= limit_m:
            continue
        lon, lat = student.location
        expected = (
            f"a home within {limit_m / 1000:,.0f} km of school {school.id} "
            f"(this one is {distance_m / 1000:,.0f} km away)"
        )
        if abs(lon) <= 90.0:
            swapped_m = _great_circle_m((lat, lon), school.location)
            if swapped_m <= limit_m:
                expected += (
                    f": {SWAPPED} (read the other way round, the home is "
                    f"{swapped_m / 1000:,.1f} km from the school)"
                )
        problems.append(Problem(file, rows.get(student.id), "lon, lat", f"{lon}, {lat}", expected))


# --------------------------------------------------------------------------------------------------
# Documents: fleet and policy
# --------------------------------------------------------------------------------------------------

_PRICE_KEYS = ("currency", "escort_day_rate", "overhead_share", "school_days_per_year")
_VEHICLE_KEYS = (
    "id",
    "seats",
    "day_rate",
    "km_rate",
    "wheelchair_places",
    "count",
    "always_escort",
)
_DEPOT_KEYS = ("id", "name", "lon", "lat")


def policy_from_mapping(file: str, mapping: Mapping[object, object], problems: list[Problem]) -> Policy:
    """Validate the keys of a policy document, appending problems named by key path.

    Absent keys take the :class:`~schoolbus.model.Policy` defaults; minutes become whole seconds.
    """
    return _policy_from_document(file, mapping, problems)


def fleet_from_mapping(
    file: str, mapping: Mapping[object, object], problems: list[Problem], *, require_vehicle_types: bool = True
) -> tuple[Fleet, Prices]:
    """Validate the keys of a fleet document (``prices``, ``vehicle_types``, ``depots``).

    Problems are appended, named by key path. With ``require_vehicle_types=False`` a mapping
    without ``vehicle_types`` is valid and gives a fleet with none (for readers that override only
    prices or depots).
    """
    return _fleet_from_document(file, mapping, problems, require_vehicle_types=require_vehicle_types)



def priority_rules_from_mapping(
    file: str, mapping: Mapping[object, object], where: str, problems: list[Problem]
) -> PriorityRules:
    """Validate a policy's ``priority`` section (keys :data:`PRIORITY_KEYS`), appending problems.

    Each weight is a number from 0 to :data:`MAX_PRIORITY` added to a pupil's ``priority`` column;
    ``grade_bands`` is a list of ``{max_grade, weight}`` with increasing ``max_grade``, of which the
    first band at or above a pupil's grade counts. ``where`` is the section's key path.
    """
    keys = Keys(file, mapping, where, PRIORITY_KEYS, problems)
    weights = {
        key: keys.number(key, 0.0, low=0.0, high=MAX_PRIORITY) for key in ("per_km_from_school", "wheelchair", "vulnerable")
    }
    bands: list[GradeBand] = []
    for band_where, item in keys.items("grade_bands"):
        band = Keys(file, item, band_where, ("max_grade", "weight"), problems)
        max_grade = band.integer("max_grade", None, low=PRESCHOOL_GRADE, high=MAX_GRADE, required=True)
        weight = band.number("weight", None, low=0.0, high=MAX_PRIORITY, required=True)
        if max_grade is not None and bands and max_grade <= bands[-1].max_grade:
            band.fail("max_grade", max_grade, f"a grade above the band before it ({bands[-1].max_grade}): bands go up")
        elif max_grade is not None and weight is not None:
            bands.append(GradeBand(max_grade=max_grade, weight=weight))
    return PriorityRules(
        per_km_from_school=weights["per_km_from_school"],
        wheelchair=weights["wheelchair"],
        vulnerable=weights["vulnerable"],
        grade_bands=tuple(bands),
    )


def _priority_rules_from_document(file: str, document: Mapping[object, object], problems: list[Problem]) -> PriorityRules:
    """The ``priority`` section of a policy document (no rule when absent)."""
    section = document.get("priority")
    if section is None:
        return PriorityRules()
    if not isinstance(section, dict):
        expected = f"a mapping of priority rules (keys {', '.join(PRIORITY_KEYS)})"
        problems.append(Problem(file, None, "priority", short_value(section), expected))
        return PriorityRules()
    return priority_rules_from_mapping(file, section, "priority", problems)


def fleet_document(fleet: Fleet, prices: Prices) -> dict[str, object]:
    """The ``fleet.yaml`` document of ``fleet`` and ``prices``: what :func:`fleet_from_mapping` reads back.

    Optional keys at their defaults are left out (a ``count`` of ``None`` means as many as needed).
    """
    vehicle_types = []
    for vehicle in fleet.vehicle_types:
        item = dataclasses.asdict(vehicle)
        if item["count"] is None:
            del item["count"]
        vehicle_types.append(item)
    document: dict[str, object] = {"prices": dataclasses.asdict(prices), "vehicle_types": vehicle_types}
    if fleet.depots:
        document["depots"] = [
            {"id": d.id, "name": d.name, "lon": d.location[0], "lat": d.location[1]} for d in fleet.depots
        ]
    return document


def _fleet_from_document(
    file: str, document: Mapping[object, object], problems: list[Problem], *, require_vehicle_types: bool = True
) -> tuple[Fleet, Prices]:
    top = Keys(file, document, "", ("prices", "vehicle_types", "depots"), problems)
    prices = Keys(file, top.section("prices"), "prices", _PRICE_KEYS, problems)
    defaults = Prices()
    currency = prices.text("currency", defaults.currency)
    if not _CURRENCY_RE.fullmatch(currency):
        prices.fail("currency", currency, "a three-letter ISO 4217 code such as TRY or EUR")
    found_prices = Prices(
        escort_day_rate=prices.number("escort_day_rate", defaults.escort_day_rate, low=0.0),
        overhead_share=prices.number("overhead_share", defaults.overhead_share, low=0.0, high=1.0),
        school_days_per_year=prices.integer(
            "school_days_per_year",
            defaults.school_days_per_year,
            low=1,
            high=MAX_SCHOOL_DAYS_PER_YEAR,
        ),
        currency=currency,
    )
    vehicle_types: list[VehicleType] = []
    seen: dict[str, str] = {}
    for where, item in top.items("vehicle_types", required=require_vehicle_types):
        keys = Keys(file, item, where, _VEHICLE_KEYS, problems)
        type_id = keys.text("id", None, required=True)
        seats = keys.integer("seats", None, low=1, required=True)
        day_rate = keys.number("day_rate", None, low=0.0, required=True)
        km_rate = keys.number("km_rate", 0.0, low=0.0)
        wheelchair_places = keys.integer("wheelchair_places", 0, low=0)
        count = keys.integer("count", None, low=1, nullable=True)
        always_escort = keys.boolean("always_escort", False)
        if type_id is not None and seen.setdefault(type_id, where) != where:
            keys.fail("id", type_id, f"a unique vehicle type id ({seen[type_id]} has it too)")
        if type_id is not None and seats is not None and day_rate is not None:
            vehicle_types.append(
                VehicleType(
                    id=type_id,
                    seats=seats,
                    day_rate=day_rate,
                    km_rate=km_rate,
                    wheelchair_places=wheelchair_places,
                    count=count,
                    always_escort=always_escort,
                )
            )
    depots: list[Depot] = []
    seen = {}
    for where, item in top.items("depots"):
        keys = Keys(file, item, where, _DEPOT_KEYS, problems)
        depot_id = keys.text("id", None, required=True)
        lon = keys.number("lon", None, low=-180.0, high=180.0, required=True)
        lat = keys.number("lat", None, low=-90.0, high=90.0, required=True)
        name = keys.text("name", depot_id)
        if depot_id is not None and seen.setdefault(depot_id, where) != where:
            keys.fail("id", depot_id, f"a unique depot id ({seen[depot_id]} has it too)")
        if depot_id is not None and name is not None and lon is not None and lat is not None:
            depots.append(Depot(id=depot_id, name=name, location=(lon, lat)))
    return Fleet(vehicle_types=tuple(vehicle_types), depots=tuple(depots)), found_prices


_POLICY_KEYS = (
    "walk_limit_m",
    "grade_walk_limits",
    "max_ride_min",
    "arrival_buffer_min",
    "stop_service_s",
    "stop_service_per_student_s",
    "school_dwell_min",
    "snap_limit_m",
    "min_home_school_m",
    "max_home_school_m",
    "escort_max_grade",
    "forbidden_road_classes",
    "min_location_precision",
    "wheelchair_door_to_door",
    "max_plausible_home_school_m",
    "replan_tolerance_min",
    "priority",
)

PRIORITY_KEYS = ("per_km_from_school", "wheelchair", "vulnerable", "grade_bands")
"""Keys of a policy's ``priority`` section: how a budget weighs pupils (see ``schoolbus.budget``)."""


def _seconds_from_min(minutes: float) -> int:
    return round(minutes * SECONDS_PER_MINUTE)


def _policy_from_document(file: str, document: Mapping[object, object], problems: list[Problem]) -> Policy:
    keys = Keys(file, document, "", _POLICY_KEYS, problems)
    d = Policy()
    grade_limits: list[GradeWalkLimit] = []
    seen: dict[int, str] = {}
    for where, item in keys.items("grade_walk_limits"):
        limit = Keys(file, item, where, ("max_grade", "walk_limit_m"), problems)
        max_grade = limit.integer(
            "max_grade", None, low=PRESCHOOL_GRADE, high=MAX_GRADE, required=True
        )
        walk_m = limit.number("walk_limit_m", None, low=0.0, low_open=True, required=True)
        if max_grade is not None and seen.setdefault(max_grade, where) != where:
            limit.fail("max_grade", max_grade, f"a grade not limited before ({seen[max_grade]})")
        if max_grade is not None and walk_m is not None:
            grade_limits.append(GradeWalkLimit(max_grade=max_grade, walk_limit_m=walk_m))
    road_classes = keys.mapping.get("forbidden_road_classes", list(d.forbidden_road_classes))
    if not isinstance(road_classes, list) or not all(
        isinstance(c, str) and _ROAD_CLASS_RE.fullmatch(c) for c in road_classes
    ):
        keys.fail(
            "forbidden_road_classes",
            road_classes,
            "a list of OpenStreetMap highway values such as motorway, trunk (may be empty)",
        )
        road_classes = list(d.forbidden_road_classes)
    min_home_m = keys.number("min_home_school_m", d.min_home_school_m, low=0.0)
    max_home_m = keys.number(
        "max_home_school_m", d.max_home_school_m, low=0.0, low_open=True, nullable=True
    )
    if min_home_m is not None and max_home_m is not None and max_home_m <= min_home_m:
        keys.fail("max_home_school_m", max_home_m, f"more than min_home_school_m ({min_home_m:g})")
    max_ride_min = keys.number(
        "max_ride_min",
        d.max_ride_s / SECONDS_PER_MINUTE,
        low=0.0,
        high=MAX_RIDE_LIMIT_MIN,
        low_open=True,
    )
    return Policy(
        walk_limit_m=keys.number("walk_limit_m", d.walk_limit_m, low=0.0, low_open=True),
        grade_walk_limits=tuple(grade_limits),
        max_ride_s=_seconds_from_min(max_ride_min),
        arrival_buffer_s=_seconds_from_min(
            keys.number("arrival_buffer_min", d.arrival_buffer_s / SECONDS_PER_MINUTE, low=0.0)
        ),
        stop_service_s=keys.integer("stop_service_s", d.stop_service_s, low=0),
        stop_service_per_student_s=keys.integer(
            "stop_service_per_student_s", d.stop_service_per_student_s, low=0
        ),
        school_dwell_s=_seconds_from_min(
            keys.number("school_dwell_min", d.school_dwell_s / SECONDS_PER_MINUTE, low=0.0)
        ),
        snap_limit_m=keys.number("snap_limit_m", d.snap_limit_m, low=0.0, low_open=True),
        min_home_school_m=min_home_m,
        max_home_school_m=max_home_m,
        escort_max_grade=keys.integer(
            "escort_max_grade", d.escort_max_grade, low=-1, high=MAX_GRADE
        ),
        forbidden_road_classes=tuple(road_classes),
        wheelchair_door_to_door=keys.boolean("wheelchair_door_to_door", d.wheelchair_door_to_door),
        min_location_precision=_min_location_precision(keys, d.min_location_precision),
        max_plausible_home_school_m=keys.number(
            "max_plausible_home_school_m", d.max_plausible_home_school_m, low=0.0, low_open=True
        ),
        replan_tolerance_s=_seconds_from_min(
            keys.number("replan_tolerance_min", d.replan_tolerance_s / SECONDS_PER_MINUTE, low=0.0)
        ),
    )


def _min_location_precision(keys: Keys, default: str) -> str:
    """The coarsest geocoded home a plan accepts (``manual`` to ``district``)."""
    precision = keys.text("min_location_precision", default)
    accepted = LOCATION_PRECISIONS[:-1]
    if precision not in accepted:
        keys.fail("min_location_precision", precision, f"one of {', '.join(accepted)}")
        return default
    return precision
