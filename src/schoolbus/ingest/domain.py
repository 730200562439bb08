"""Files → validated scenario: read the students, schools, fleet and policy that officers keep.

Students and schools are tables (CSV, XLSX or GeoJSON points); the fleet and the policy are YAML or
TOML documents. Every reader reads every row of every file, collects every problem it finds and
raises one :class:`~schoolbus.errors.InputError` listing them all; nothing it cannot place is
silently ignored. ``docs/input-format.md`` documents each column and key, with units and defaults.

Row numbers
-----------
CSV and XLSX rows are numbered as Excel shows them: the header is row 1, so the first pupil is
row 2 (blank rows and multi-line quoted cells count as Excel counts them). GeoJSON "rows" are the
feature's position in ``features``, counting from 1. Problems in a fleet or policy document have no
row; their ``column`` is the key's path, e.g. ``vehicle_types[2].seats`` (list items count from 1).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import math
import re
import tomllib
import unicodedata
import zipfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import yaml
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from schoolbus.errors import InputError, Problem
from schoolbus.geocode.columns import ADDRESS_COLUMNS, GEOCODE_COLUMNS
from schoolbus.model import (
    LOCATION_PRECISIONS,
    PRESCHOOL_GRADE,
    BellWindow,
    Depot,
    Fleet,
    GradeWalkLimit,
    Policy,
    Prices,
    Scenario,
    School,
    Shift,
    Student,
    VehicleType,
)

__all__ = [
    "DEFAULT_FLEET",
    "DEFAULT_PRICES",
    "ROW_NUMBERING",
    "SCHOOL_COLUMNS",
    "STUDENT_COLUMNS",
    "STUDENT_REQUIRED_COLUMNS",
    "load_scenario",
    "read_fleet",
    "read_policy",
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

ADDRESS_COLUMN = "address"
"""An address column a students file may carry (for geocoding); the planner ignores it."""

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

Names are compared after :func:`_column_key`: lower case, Turkish letters without their marks
(``Öğrenci No`` → ``ogrenci_no``), spaces and dots as ``_``. Listed in docs/input-format.md."""

SCHOOL_ALIASES: dict[str, tuple[str, ...]] = {
    **_SHARED_ALIASES,
    "id": ("okul_kodu", "kurum_kodu", "رمز_المدرسة"),
    "name": ("okul_adi", "kurum_adi", "ad", "اسم_المدرسة"),
    "bell": ("giris_saati", "ders_baslangic", "zil", "بداية_الدوام"),
    "dismissal": ("cikis_saati", "ders_bitis", "نهاية_الدوام"),
}
"""Turkish and Arabic names accepted for each schools column (compared as for students)."""

ALIAS_HINT = "(or their Turkish or Arabic names, see docs/input-format.md)"
GEOCODE_FIRST = "this file has addresses but no coordinates: geocode it first (see docs/input-format.md)"
SWAPPED = "latitude and longitude look swapped"

SCHOOL_WINDOW_COLUMNS = ("bell_earliest", "bell_latest")
"""Optional columns of a schools file: when the shift's bell may ring if bells are chosen."""

ROW_NUMBERING = "rows as numbered in Excel (header = row 1); GeoJSON rows = feature number from 1"
"""How problems number rows; said once in every ``InputError`` message."""

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

_TRUE_WORDS = frozenset({"yes", "true", "1", "evet"})
# ``str.lower`` maps the capital I of HAYIR to a dotted i, so both spellings are accepted.
_FALSE_WORDS = frozenset({"no", "false", "0", "hayır", "hayir"})

_TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".geojson", ".json")
_DOCUMENT_SUFFIXES = (".yaml", ".yml", ".toml")

# A number with a decimal point or a decimal comma (Turkish Excel), no thousands separators.
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
# 07:20, 7:20, 07:20:00, and the Turkish 07.20.
_TIME_RE = re.compile(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_ROAD_CLASS_RE = re.compile(r"[a-z][a-z_]*")

_LON_EXPECTED = "a longitude in degrees from -180 to 180 (decimal point or decimal comma)"
_LAT_EXPECTED = "a latitude in degrees from -90 to 90 (decimal point or decimal comma)"
_TIME_EXPECTED = "a time of day like 07:20 (hours 00-23, minutes 00-59)"
_BOOL_EXPECTED = "yes/no, true/false, 1/0, evet/hayır, or empty for no"


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
    school_table = _read_table(schools, school_problems)
    found_schools: tuple[School, ...] = ()
    known_shifts = None
    windows: list[BellWindow] = []
    if school_table is not None:
        found_schools, known_shifts = _schools_from_table(school_table, school_problems, windows)
    problems: list[Problem] = []
    student_table = _read_table(students, problems)
    found_students: tuple[Student, ...] = ()
    student_rows: dict[str, int] = {}
    if student_table is not None:
        found_students = _students_from_table(
            student_table, known_shifts, str(schools), problems, student_rows
        )
    problems.extend(school_problems)
    found_fleet, found_prices = DEFAULT_FLEET, DEFAULT_PRICES
    if fleet is not None:
        document = _read_document(fleet, problems)
        if document is not None:
            found_fleet, found_prices = _fleet_from_document(str(fleet), document, problems)
    found_policy = Policy()
    if policy is not None:
        document = _read_document(policy, problems)
        if document is not None:
            found_policy = _policy_from_document(str(policy), document, problems)
    _check_home_distances(
        str(students),
        found_students,
        student_rows,
        found_schools,
        found_policy.max_plausible_home_school_m,
        problems,
    )
    _raise_if(problems)
    return Scenario(
        name=name if name is not None else Path(students).stem,
        students=found_students,
        schools=found_schools,
        fleet=found_fleet,
        policy=found_policy,
        prices=found_prices,
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
    table = _read_table(path, problems)
    students: tuple[Student, ...] = ()
    if table is not None:
        known = None if schools is None else {s.id: {x.name for x in s.shifts} for s in schools}
        students = _students_from_table(table, known, "the given schools", problems)
    _raise_if(problems)
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
    table = _read_table(path, problems)
    schools: tuple[School, ...] = ()
    if table is not None:
        schools, _ = _schools_from_table(table, problems)
    _raise_if(problems)
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
    problems: list[Problem] = []
    document = _read_document(path, problems)
    result = (DEFAULT_FLEET, DEFAULT_PRICES)
    if document is not None:
        result = _fleet_from_document(str(path), document, problems)
    _raise_if(problems)
    return result


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
    problems: list[Problem] = []
    document = _read_document(path, problems)
    policy = Policy()
    if document is not None:
        policy = _policy_from_document(str(path), document, problems)
    _raise_if(problems)
    return policy


def _raise_if(problems: list[Problem]) -> None:
    """Raise one error listing ``problems`` file by file, each file's in row order."""
    if not problems:
        return
    file_order: dict[str, int] = {}
    for problem in problems:
        file_order.setdefault(problem.file, len(file_order))
    ordered = sorted(problems, key=lambda p: (file_order[p.file], p.row is not None, p.row or 0))
    raise InputError(ordered, f"{len(problems)} problem(s) in the inputs ({ROW_NUMBERING})")


# --------------------------------------------------------------------------------------------------
# Reading tables
# --------------------------------------------------------------------------------------------------


class _Reported:
    """Marks a cell whose problem was already reported once for the whole column."""

    def __repr__(self) -> str:
        return "<reported>"


_REPORTED = _Reported()


@dataclass(frozen=True)
class _Table:
    """A table's data rows keyed by lower-cased column name, with their row numbers.

    ``header_row`` is ``None`` for GeoJSON, whose columns are the features' property names.
    """

    file: str
    header_row: int | None
    columns: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, object]], ...]


def _read_bytes(path: str | Path, problems: list[Problem]) -> bytes | None:
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        problems.append(Problem(file, None, None, file, "an existing file"))
        return None
    except OSError as error:
        problems.append(Problem(file, None, None, file, f"a readable file ({error.strerror})"))
        return None
    if not data.strip():
        problems.append(Problem(file, None, None, "", "a file with content (the file is empty)"))
        return None
    return data


def _decode(file: str, data: bytes, problems: list[Problem]) -> str | None:
    """Decode text deterministically: UTF-8 (BOM optional), else UTF-16 with BOM, else cp1254.

    Windows-1254 is what Turkish Excel writes for "CSV"; it decodes almost any byte string, so it
    comes last, and UTF-8 (which rejects cp1254's Turkish letters) comes first.
    """
    text = None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            try:
                text = data.decode("utf-16")
            except UnicodeDecodeError:
                pass
        else:
            try:
                text = data.decode("cp1254")
            except UnicodeDecodeError:
                pass
    if text is None or "\x00" in text:
        problems.append(
            Problem(
                file,
                None,
                None,
                data[:20],
                "text in UTF-8, UTF-16 with byte-order mark, or Windows-1254 (Turkish)",
            )
        )
        return None
    return text


def _read_table(path: str | Path, problems: list[Problem]) -> _Table | None:
    """Read a CSV, XLSX or GeoJSON table; ``None`` (with problems) when nothing can be read."""
    file = str(path)
    suffix = Path(path).suffix.lower()
    if suffix not in _TABLE_SUFFIXES:
        hint = " (save it as an Excel Workbook, .xlsx)" if suffix == ".xls" else ""
        problems.append(
            Problem(file, None, None, suffix, f"one of {', '.join(_TABLE_SUFFIXES)}{hint}")
        )
        return None
    data = _read_bytes(path, problems)
    if data is None:
        return None
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(file, data, problems)
    text = _decode(file, data, problems)
    if text is None:
        return None
    if suffix in (".geojson", ".json"):
        return _read_geojson(file, text, problems)
    return _read_csv(file, text, problems)


def _delimiter(text: str) -> str:
    """The delimiter of a delimited text: the most frequent of tab, ';' and ',' in its first line.

    Turkish Excel separates with ';' (',' is its decimal separator) and "Unicode text" with tabs.
    Ties go to tab, then ';', then ','.
    """
    first = next((line for line in text.splitlines() if line.strip()), "")
    candidates = ("\t", ";", ",")
    return max(candidates, key=lambda d: (first.count(d), -candidates.index(d)))


def _read_csv(file: str, text: str, problems: list[Problem]) -> _Table | None:
    delimiter = _delimiter(text)
    records: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row_number, record in enumerate(reader, start=1):
            records.append((row_number, record))
    except csv.Error as error:
        problems.append(Problem(file, len(records) + 1, None, None, f"valid CSV ({error})"))
        return None
    hint = " — a decimal comma in a comma-separated file? Quote it or use ';'"
    return _table_from_records(file, records, problems, hint if delimiter == "," else "")


def _read_xlsx(file: str, data: bytes, problems: list[Problem]) -> _Table | None:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as error:
        problems.append(Problem(file, None, None, None, f"a readable .xlsx workbook ({error})"))
        return None
    sheet = workbook.worksheets[0]
    records = [
        (row_number, list(values))
        for row_number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
    ]
    workbook.close()
    return _table_from_records(file, records, problems)


def _table_from_records(
    file: str,
    records: Sequence[tuple[int, Sequence[object]]],
    problems: list[Problem],
    spill_hint: str = "",
) -> _Table | None:
    """Check the header (first non-empty row) and turn the rows below it into named cells.

    ``spill_hint`` is added to the problem of a value in a column without a name.
    """
    non_empty = [(n, r) for n, r in records if any(not _is_empty(v) for v in r)]
    if not non_empty:
        problems.append(Problem(file, None, None, "", "a header row and data rows (found none)"))
        return None
    header_row, header = non_empty[0]
    data_rows = non_empty[1:]
    if not data_rows:
        problems.append(
            Problem(file, header_row, None, "only a header", "at least one data row below it")
        )
        return None
    names = [_text(v) or "" for v in header]
    names = [n.lower() for n in names]
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        if name:
            positions.setdefault(name, []).append(index)
    width = max(len(names), max(len(r) for _, r in data_rows))
    unnamed = [i for i in range(width) if i >= len(names) or not names[i]]
    rows: list[tuple[int, dict[str, object]]] = []
    for row_number, values in data_rows:
        cells: dict[str, object] = {}
        for name, where in positions.items():
            cells[name] = values[where[0]] if where[0] < len(values) else None
        for index in unnamed:
            if index < len(values) and not _is_empty(values[index]):
                problems.append(
                    Problem(
                        file,
                        row_number,
                        get_column_letter(index + 1),
                        values[index],
                        f"no value in a column without a name in the header (row {header_row})"
                        + spill_hint,
                    )
                )
        rows.append((row_number, cells))
    for name, where in positions.items():
        if len(where) > 1:
            letters = ", ".join(get_column_letter(i + 1) for i in where)
            problems.append(
                Problem(file, header_row, name, name, f"each column once (found in {letters})")
            )
    return _Table(file, header_row, tuple(positions), tuple(rows))


def _read_geojson(file: str, text: str, problems: list[Problem]) -> _Table | None:
    """Read Point features: ``[lon, lat]`` from the geometry, other columns from ``properties``."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(
            Problem(file, None, None, None, f"valid JSON ({error.msg} at line {error.lineno})")
        )
        return None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or document.get("type") != "FeatureCollection":
        problems.append(
            Problem(file, None, "type", _short(document), "a GeoJSON FeatureCollection")
        )
        return None
    if not features:
        problems.append(Problem(file, None, "features", [], "at least one feature"))
        return None
    columns: dict[str, None] = {"lon": None, "lat": None}
    rows: list[tuple[int, dict[str, object]]] = []
    broken: list[dict[str, object]] = []  # features reported whole: their cells say nothing more
    for number, feature in enumerate(features, start=1):
        cells: dict[str, object] = {"lon": _REPORTED, "lat": _REPORTED}
        rows.append((number, cells))
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(Problem(file, number, None, _short(feature), "a GeoJSON Feature"))
            broken.append(cells)
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            problems.append(
                Problem(file, number, "properties", _short(properties), "an object of columns")
            )
            broken.append(cells)
            properties = {}
        for key, value in properties.items():
            name = key.strip().lower()
            if name in ("lon", "lat"):
                problems.append(
                    Problem(file, number, key, value, "coordinates only in the Point geometry")
                )
                continue
            if name in cells:
                problems.append(Problem(file, number, key, value, "each property once"))
            columns.setdefault(name, None)
            cells[name] = value
        if "id" not in properties and "id" in feature:
            columns.setdefault("id", None)
            cells["id"] = feature["id"]
        geometry = feature.get("geometry")
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "Point":
            problems.append(Problem(file, number, "geometry", _short(geometry), "a Point geometry"))
        elif not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
            problems.append(
                Problem(
                    file, number, "coordinates", _short(coordinates), "[lon, lat] or [lon, lat, z]"
                )
            )
        else:
            cells["lon"], cells["lat"] = coordinates[0], coordinates[1]
    for cells in broken:
        cells.update(dict.fromkeys(columns, _REPORTED))
    return _Table(file, None, tuple(columns), tuple(rows))


def _short(value: object, limit: int = 60) -> object:
    """A value small enough to print in a problem."""
    text = repr(value)
    return value if len(text) <= limit else text[: limit - 1] + "…"


def _column_key(name: str) -> str:
    """A header as compared with aliases: lower case, no accents, ``ı``→``i``, spaces as ``_``."""
    decomposed = unicodedata.normalize("NFKD", name.strip().lower().replace("ı", "i"))
    # Drop Latin combining marks only (ö → o); Arabic letters stay as they are.
    bare = "".join(c for c in decomposed if not (unicodedata.combining(c) and c < "\u0600"))
    return re.sub(r"[\s._\-]+", "_", unicodedata.normalize("NFC", bare)).strip("_")


def _with_aliases(table: _Table, aliases: Mapping[str, Sequence[str]]) -> _Table:
    """``table`` with Turkish/Arabic column names renamed to the canonical ones.

    A canonical name given twice (``lon`` and ``boylam``) is left for :func:`_check_columns`
    to report as an unknown column, so nothing is silently dropped.
    """
    lookup = {_column_key(alias): name for name, names in aliases.items() for alias in (name, *names)}
    renamed: dict[str, str] = {}
    for column in table.columns:
        name = lookup.get(_column_key(column), column)
        if name != column and (name in table.columns or name in renamed.values()):
            continue
        if name != column:
            renamed[column] = name
    if not renamed:
        return table
    rows = tuple(
        (number, {renamed.get(k, k): v for k, v in cells.items()}) for number, cells in table.rows
    )
    return _Table(table.file, table.header_row, tuple(renamed.get(c, c) for c in table.columns), rows)


def _check_columns(
    table: _Table,
    required: Sequence[str],
    allowed: Sequence[str],
    problems: list[Problem],
) -> None:
    """Report missing and unknown columns; flag missing required cells as already reported."""
    for name in table.columns:
        if name not in allowed:
            problems.append(
                Problem(
                    table.file,
                    table.header_row,
                    name,
                    name,
                    f"only the columns {', '.join(allowed)} {ALIAS_HINT}",
                )
            )
    if ADDRESS_COLUMN in table.columns and not {"lon", "lat"} & set(table.columns):
        problems.append(
            Problem(
                table.file,
                table.header_row,
                ADDRESS_COLUMN,
                "addresses, no lon/lat columns",
                f"coordinates in columns lon and lat; {GEOCODE_FIRST}",
            )
        )
        for _, cells in table.rows:
            cells["lon"] = cells["lat"] = _REPORTED
        required = [name for name in required if name not in ("lon", "lat")]
    for name in required:
        if name not in table.columns:
            problems.append(
                Problem(table.file, table.header_row, name, None, f"a column named '{name}'")
            )
            for _, cells in table.rows:
                cells[name] = _REPORTED


# --------------------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------------------


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object) -> str | None:
    """A cell as stripped text; ``None`` for values that are not text (times, lists, booleans)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        # Excel stores the id 101 as the number 101.0.
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and _NUMBER_RE.fullmatch(value.strip()):
        number = float(value.strip().replace(",", "."))
    else:
        return None
    return number if math.isfinite(number) else None


def _time_s(value: object) -> int | None:
    """A time of day as seconds after midnight, from text or an Excel time cell."""
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second + round(value.microsecond / 1e6)
    if not isinstance(value, str):
        return None
    match = _TIME_RE.fullmatch(value.strip())
    if match is None:
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return hours * 3600 + minutes * 60 + seconds


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


class _Row:
    """One data row being validated: parses cells, records problems, remembers if all parsed."""

    def __init__(self, file: str, row: int, cells: Mapping[str, object], problems: list[Problem]):
        self.file = file
        self.row = row
        self.cells = cells
        self.problems = problems
        self.ok = True

    def fail(self, column: str, value: object, expected: str) -> None:
        self.ok = False
        self.problems.append(Problem(self.file, self.row, column, value, expected))

    def _cell(self, column: str, required: bool) -> object:
        """The raw cell, or ``None`` when empty (reporting it when required)."""
        value = self.cells.get(column)
        if value is _REPORTED:
            self.ok = False
            return None
        if _is_empty(value):
            if required:
                self.fail(column, "" if value is None else value, "a value (required column)")
            return None
        return value

    def text(self, column: str, *, required: bool = True) -> str | None:
        value = self._cell(column, required)
        if value is None:
            return None
        text = _text(value)
        if text is None:
            self.fail(column, value, "text")
        return text

    def number(
        self, column: str, low: float, high: float, expected: str, *, required: bool = True
    ) -> float | None:
        """A number from ``low`` to ``high`` inclusive, or ``None`` (empty or reported)."""
        value = self._cell(column, required)
        if value is None:
            return None
        number = _number(value)
        if number is None or not low <= number <= high:
            self.fail(column, value, expected)
            return None
        return number

    def integer(self, column: str, low: int, high: int, expected: str) -> int | None:
        value = self._cell(column, True)
        if value is None:
            return None
        number = _number(value)
        if number is None or not number.is_integer() or not low <= number <= high:
            self.fail(column, value, expected)
            return None
        return int(number)

    def boolean(self, column: str) -> bool:
        value = self._cell(column, False)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        word = _text(value)
        word = word.lower() if word is not None else None
        if word in _TRUE_WORDS:
            return True
        if word not in _FALSE_WORDS:
            self.fail(column, value, _BOOL_EXPECTED)
        return False

    def time_s(self, column: str) -> int | None:
        value = self._cell(column, True)
        if value is None:
            return None
        seconds = _time_s(value)
        if seconds is None:
            self.fail(column, value, _TIME_EXPECTED)
        return seconds


# --------------------------------------------------------------------------------------------------
# Schools and students
# --------------------------------------------------------------------------------------------------


@dataclass
class _SchoolRows:
    """What the rows of one school id have said so far (first value wins; later must agree)."""

    values: dict[str, tuple[int, object]]
    shifts: list[Shift]
    shift_rows: dict[str, int]


def _schools_from_table(
    table: _Table, problems: list[Problem], windows: list[BellWindow] | None = None
) -> tuple[tuple[School, ...], dict[str, set[str]] | None]:
    """Validate school rows; also return the shifts each school id names, for the students check.

    The shift map is ``None`` when the file lacks an id or shift column: then pupils' schools cannot
    be checked without reporting a problem twice.
    """
    table = _with_aliases(table, SCHOOL_ALIASES)
    _check_columns(table, SCHOOL_COLUMNS, SCHOOL_COLUMNS + SCHOOL_WINDOW_COLUMNS, problems)
    groups: dict[str, _SchoolRows] = {}
    for row_number, cells in table.rows:
        row = _Row(table.file, row_number, cells, problems)
        school_id = row.text("id")
        name = row.text("name")
        lon = row.number("lon", -180.0, 180.0, _LON_EXPECTED)
        lat = row.number("lat", -90.0, 90.0, _LAT_EXPECTED)
        shift = row.text("shift")
        bell_s = row.time_s("bell")
        dismissal_s = row.time_s("dismissal")
        if bell_s is not None and dismissal_s is not None and dismissal_s <= bell_s:
            row.fail("dismissal", cells["dismissal"], f"a time after the bell ({_hhmm(bell_s)})")
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
        if row.ok:
            group.shifts.append(Shift(name=shift, bell_s=bell_s, dismissal_s=dismissal_s))
            if window is not None and windows is not None:
                windows.append(BellWindow(school_id, shift, *window))
    schools = tuple(
        School(
            id=school_id,
            name=group.values["name"][1],
            location=(group.values["lon"][1], group.values["lat"][1]),
            shifts=tuple(group.shifts),
        )
        for school_id, group in groups.items()
        if group.shifts and {"name", "lon", "lat"} <= group.values.keys()
    )
    usable = {"id", "shift"} <= set(table.columns)
    known = {school_id: set(g.shift_rows) for school_id, g in groups.items()} if usable else None
    return schools, known


def _bell_window(row: _Row, cells: Mapping[str, object]) -> tuple[int, int] | None:
    """A row's bell window (earliest, latest), both or neither given; ``None`` without one."""
    given = {c: cells.get(c) for c in SCHOOL_WINDOW_COLUMNS if not _is_empty(cells.get(c))}
    if not given:
        return None
    times = {}
    for column in SCHOOL_WINDOW_COLUMNS:
        if column not in given:
            row.fail(column, "", f"a time like 07:00: {' and '.join(SCHOOL_WINDOW_COLUMNS)} come together")
            continue
        seconds = _time_s(given[column])
        if seconds is None:
            row.fail(column, given[column], _TIME_EXPECTED)
        times[column] = seconds
    earliest, latest = times.get("bell_earliest"), times.get("bell_latest")
    if earliest is None or latest is None:
        return None
    if latest < earliest:
        row.fail("bell_latest", given["bell_latest"], f"a time not before bell_earliest ({_hhmm(earliest)})")
        return None
    return earliest, latest


def _students_from_table(
    table: _Table,
    known_shifts: Mapping[str, Collection[str]] | None,
    schools_source: str,
    problems: list[Problem],
    rows_out: dict[str, int] | None = None,
) -> tuple[Student, ...]:
    """Validate pupil rows; check school and shift against ``known_shifts`` when given.

    ``rows_out``, when given, receives each valid student's row number (for later checks).
    """
    table = _with_aliases(table, STUDENT_ALIASES)
    _check_columns(table, STUDENT_REQUIRED_COLUMNS, tuple(dict.fromkeys((*STUDENT_COLUMNS, ADDRESS_COLUMN))), problems)
    students: list[Student] = []
    first_row_of: dict[str, int] = {}
    # A family gets one parent notice, printed in one language: its first row's language.
    family_language: dict[str, tuple[int, str]] = {}
    for row_number, cells in table.rows:
        row = _Row(table.file, row_number, cells, problems)
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
        if row.ok:
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


def _location_precision(row: _Row) -> str | None:
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


class _StrictLoader(yaml.SafeLoader):
    """A ``SafeLoader`` that records duplicate keys instead of silently keeping the last one."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[object, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        self.flatten_mapping(node)
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                continue  # unhashable keys are refused by the base constructor itself
            if key in seen:
                self.duplicates.append((key, key_node.start_mark.line + 1))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_document(path: str | Path, problems: list[Problem]) -> dict | None:
    """Read a YAML or TOML document whose top level is a mapping; ``None`` with problems if not."""
    file = str(path)
    suffix = Path(path).suffix.lower()
    if suffix not in _DOCUMENT_SUFFIXES:
        problems.append(
            Problem(file, None, None, suffix, f"one of {', '.join(_DOCUMENT_SUFFIXES)}")
        )
        return None
    data = _read_bytes(path, problems)
    if data is None:
        return None
    text = _decode(file, data, problems)
    if text is None:
        return None
    if suffix == ".toml":
        try:
            document: object = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            problems.append(Problem(file, None, None, None, f"valid TOML ({error})"))
            return None
    else:
        loader = _StrictLoader(text)
        try:
            document = loader.get_single_data()
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            reason = getattr(error, "problem", None) or type(error).__name__
            problems.append(Problem(file, None, None, None, f"valid YAML ({reason}{where})"))
            return None
        finally:
            loader.dispose()
        for key, line in loader.duplicates:
            problems.append(
                Problem(file, None, str(key), key, f"each key once (again at line {line})")
            )
    if document is None:
        problems.append(Problem(file, None, None, "", "a file with content (only comments found)"))
        return None
    if not isinstance(document, dict):
        problems.append(Problem(file, None, None, _short(document), "a mapping of keys to values"))
        return None
    return document


class _Keys:
    """One mapping of a document being validated; reports unknown keys when created.

    Getters return the key's value (or its default when absent) and ``None`` after reporting a
    problem.
    """

    def __init__(
        self,
        file: str,
        mapping: Mapping[object, object],
        where: str,
        allowed: Sequence[str],
        problems: list[Problem],
    ):
        self.file = file
        self.mapping = mapping
        self.where = where
        self.problems = problems
        for key in mapping:
            if key not in allowed:
                self.fail(str(key), key, f"one of the keys {', '.join(allowed)}")

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, value: object, expected: str) -> None:
        self.problems.append(Problem(self.file, None, self.path(key), _short(value), expected))

    def _get(self, key: str, required: bool) -> object:
        if key not in self.mapping:
            if required:
                self.fail(key, None, "a value (required key)")
            return None
        return self.mapping[key]

    def number(
        self,
        key: str,
        default: float | None,
        *,
        low: float,
        high: float = math.inf,
        low_open: bool = False,
        required: bool = False,
        nullable: bool = False,
    ) -> float | None:
        """A number within ``low``..``high`` (``low`` excluded when ``low_open``)."""
        if key not in self.mapping and not required:
            return default
        value = self._get(key, required)
        if value is None and nullable:
            return None
        bound = f"more than {low:g}" if low_open else f"at least {low:g}"
        if high != math.inf:
            bound += f" and at most {high:g}"
        expected = f"a number {bound}" + (" or null" if nullable else "")
        if isinstance(value, bool) or not isinstance(value, int | float):
            if key in self.mapping or not required:
                self.fail(key, value, expected + _quote_hint(value))
            return None
        if not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
            self.fail(key, value, expected)
            return None
        return float(value)

    def integer(
        self,
        key: str,
        default: int | None,
        *,
        low: int,
        high: int | None = None,
        required: bool = False,
        nullable: bool = False,
    ) -> int | None:
        """A whole number within ``low``..``high``."""
        if key not in self.mapping and not required:
            return default
        value = self._get(key, required)
        if value is None and nullable:
            return None
        bound = f"at least {low}" + (f" and at most {high}" if high is not None else "")
        expected = f"a whole number {bound}" + (" or null" if nullable else "")
        is_whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not is_whole:
            if key in self.mapping:
                self.fail(key, value, expected + _quote_hint(value))
            return None
        if value < low or (high is not None and value > high):
            self.fail(key, value, expected)
            return None
        return int(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.mapping.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, value, "true or false")
            return default
        return value

    def text(self, key: str, default: str | None, *, required: bool = False) -> str | None:
        """Text (an integer is taken as text too, so ``id: 16`` works); never empty."""
        if key not in self.mapping and not required:
            return default
        value = self._get(key, required)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value.strip():
            if key in self.mapping:
                self.fail(key, value, "non-empty text")
            return None
        return value.strip()

    def items(self, key: str, *, required: bool = False) -> list[tuple[str, Mapping]]:
        """The mappings of a list, each with its path (items count from 1)."""
        if key not in self.mapping:
            if required:
                self.fail(key, None, "a list (required key)")
            return []
        value = self.mapping[key]
        if value is None and not required:
            return []
        if not isinstance(value, list) or (required and not value):
            self.fail(key, value, "a non-empty list" if required else "a list")
            return []
        found = []
        for number, item in enumerate(value, start=1):
            where = f"{self.path(key)}[{number}]"
            if isinstance(item, dict):
                found.append((where, item))
            else:
                self.problems.append(Problem(self.file, None, where, _short(item), "a mapping"))
        return found

    def section(self, key: str) -> Mapping:
        """A nested mapping (empty when absent)."""
        value = self.mapping.get(key, {})
        if not isinstance(value, dict):
            self.fail(key, value, "a mapping of keys to values")
            return {}
        return value


def _quote_hint(value: object) -> str:
    return " (not text in quotes; decimals take a point)" if isinstance(value, str) else ""


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


def read_document(path: str | Path, problems: list[Problem]) -> dict | None:
    """Read a YAML or TOML document whose top level is a mapping (for other document readers).

    Problems (missing or unreadable file, bad syntax, a key given twice, not a mapping) are appended
    to ``problems``; ``None`` is returned when nothing could be read.
    """
    return _read_document(path, problems)


def policy_from_mapping(file: str, mapping: Mapping, problems: list[Problem]) -> Policy:
    """Validate the keys of a policy document, appending problems named by key path.

    Absent keys take the :class:`~schoolbus.model.Policy` defaults; minutes become whole seconds.
    """
    return _policy_from_document(file, mapping, problems)


def fleet_from_mapping(
    file: str, mapping: Mapping, problems: list[Problem], *, require_vehicle_types: bool = True
) -> tuple[Fleet, Prices]:
    """Validate the keys of a fleet document (``prices``, ``vehicle_types``, ``depots``).

    Problems are appended, named by key path. With ``require_vehicle_types=False`` a mapping
    without ``vehicle_types`` is valid and gives a fleet with none (for readers that override only
    prices or depots).
    """
    return _fleet_from_document(file, mapping, problems, require_vehicle_types=require_vehicle_types)


def time_of_day_s(value: object) -> int | None:
    """``07:20``-style text (or an Excel time cell) as seconds after midnight; ``None`` if not one.

    Accepts what a schools file's ``bell`` and ``dismissal`` accept (see :data:`TIME_OF_DAY_EXPECTED`).
    """
    return _time_s(value)


TIME_OF_DAY_EXPECTED = _TIME_EXPECTED
"""What :func:`time_of_day_s` accepts, worded for a problem's ``expected``."""


def _fleet_from_document(
    file: str, document: Mapping, problems: list[Problem], *, require_vehicle_types: bool = True
) -> tuple[Fleet, Prices]:
    top = _Keys(file, document, "", ("prices", "vehicle_types", "depots"), problems)
    prices = _Keys(file, top.section("prices"), "prices", _PRICE_KEYS, problems)
    defaults = Prices()
    currency = prices.text("currency", defaults.currency)
    if currency is not None and not _CURRENCY_RE.fullmatch(currency):
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
        keys = _Keys(file, item, where, _VEHICLE_KEYS, problems)
        type_id = keys.text("id", None, required=True)
        vehicle = VehicleType(
            id=type_id,
            seats=keys.integer("seats", None, low=1, required=True),
            day_rate=keys.number("day_rate", None, low=0.0, required=True),
            km_rate=keys.number("km_rate", 0.0, low=0.0),
            wheelchair_places=keys.integer("wheelchair_places", 0, low=0),
            count=keys.integer("count", None, low=1, nullable=True),
            always_escort=keys.boolean("always_escort", False),
        )
        if type_id is not None and seen.setdefault(type_id, where) != where:
            keys.fail("id", type_id, f"a unique vehicle type id ({seen[type_id]} has it too)")
        vehicle_types.append(vehicle)
    depots: list[Depot] = []
    seen = {}
    for where, item in top.items("depots"):
        keys = _Keys(file, item, where, _DEPOT_KEYS, problems)
        depot_id = keys.text("id", None, required=True)
        lon = keys.number("lon", None, low=-180.0, high=180.0, required=True)
        lat = keys.number("lat", None, low=-90.0, high=90.0, required=True)
        depots.append(Depot(id=depot_id, name=keys.text("name", depot_id), location=(lon, lat)))
        if depot_id is not None and seen.setdefault(depot_id, where) != where:
            keys.fail("id", depot_id, f"a unique depot id ({seen[depot_id]} has it too)")
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
)


def _seconds_from_min(minutes: float | None) -> int | None:
    return None if minutes is None else round(minutes * SECONDS_PER_MINUTE)


def _policy_from_document(file: str, document: Mapping, problems: list[Problem]) -> Policy:
    keys = _Keys(file, document, "", _POLICY_KEYS, problems)
    d = Policy()
    grade_limits: list[GradeWalkLimit] = []
    seen: dict[int, str] = {}
    for where, item in keys.items("grade_walk_limits"):
        limit = _Keys(file, item, where, ("max_grade", "walk_limit_m"), problems)
        max_grade = limit.integer(
            "max_grade", None, low=PRESCHOOL_GRADE, high=MAX_GRADE, required=True
        )
        walk_m = limit.number("walk_limit_m", None, low=0.0, low_open=True, required=True)
        grade_limits.append(GradeWalkLimit(max_grade=max_grade, walk_limit_m=walk_m))
        if max_grade is not None and seen.setdefault(max_grade, where) != where:
            limit.fail("max_grade", max_grade, f"a grade not limited before ({seen[max_grade]})")
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


def _min_location_precision(keys: _Keys, default: str) -> str:
    """The coarsest geocoded home a plan accepts (``manual`` to ``district``)."""
    precision = keys.text("min_location_precision", default)
    accepted = LOCATION_PRECISIONS[:-1]
    if precision not in accepted:
        keys.fail("min_location_precision", precision, f"one of {', '.join(accepted)}")
        return default
    return precision
