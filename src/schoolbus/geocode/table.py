"""Geocode a students table: every row's address → ``lon``, ``lat`` and how sure the answer is.

The table is read by the students readers of :mod:`schoolbus.ingest` (CSV, XLSX; the same
encodings, delimiters and row numbers), so its problems are reported the same way. A row keeps
what a person already decided: coordinates typed into ``lon``/``lat`` without an address stay as
they are, and a home placed by hand (``geocode_precision = manual``, or a stored manual fix of the
same address) wins over the geocoder.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from schoolbus.errors import InputError, Problem
from schoolbus.geocode.columns import ADDRESS_COLUMNS, GEOCODE_COLUMNS
from schoolbus.geocode.match import PRECISIONS, Geocoder, GeocodeResult
from schoolbus.geocode.normalize import fold

__all__ = [
    "DEFAULT_REVIEW_SCORE",
    "GeocodedRow",
    "GeocodedTable",
    "ManualFix",
    "address_key",
    "geocode_table",
    "needs_review",
    "read_address_table",
    "write_geocoded",
]

DEFAULT_REVIEW_SCORE = 80
"""Pupils placed with a score below this (0-100) are on the review list whatever the precision."""

REVIEW_PRECISIONS = ("neighbourhood", "district", "none")
"""Precisions coarser than a street: always on the review list."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ManualFix:
    """A home placed by a person: ``[lon, lat]``, who and when (UTC, ISO 8601)."""

    lon: float
    lat: float
    set_by: str
    set_at: str


@dataclass(frozen=True)
class GeocodedRow:
    """One row of a geocoded table.

    ``row`` is the row number as Excel shows it; ``address`` the address as written (parts joined
    with ", "); ``result`` where it was placed (``precision`` ``""``: coordinates typed in the file).
    """

    row: int
    student_id: str | None
    address: str
    result: GeocodeResult
    cells: dict[str, object] = field(compare=False)

    @property
    def address_key(self) -> str:
        """The key a manual fix of this address is stored under."""
        return address_key(self.address)


@dataclass(frozen=True)
class GeocodedTable:
    """A geocoded students table: its columns as read, and each row with its answer."""

    file: str
    columns: tuple[str, ...]
    rows: tuple[GeocodedRow, ...]

    def summary(self) -> dict[str, int]:
        """Rows per precision, best first (``given``: coordinates typed in the file)."""
        counts = Counter(r.result.precision or "given" for r in self.rows)
        order = ("given", *PRECISIONS)
        return {p: counts[p] for p in order if counts[p]}

    def review(self, min_score: int = DEFAULT_REVIEW_SCORE) -> tuple[GeocodedRow, ...]:
        """Rows a person should look at: coarser than a street, or scored below ``min_score``."""
        return tuple(r for r in self.rows if needs_review(r.result, min_score))

    def unmatched(self) -> tuple[GeocodedRow, ...]:
        """Rows the geocoder could not place at all."""
        return tuple(r for r in self.rows if r.result.precision == "none")


def needs_review(result: GeocodeResult, min_score: int = DEFAULT_REVIEW_SCORE) -> bool:
    """Whether a person should look at ``result`` (never for typed or manual locations)."""
    if result.precision in ("", "manual"):
        return False
    return result.precision in REVIEW_PRECISIONS or result.score < min_score


def address_key(address: str) -> str:
    """The key a manual location of ``address`` is kept under: SHA-256 of the folded address.

    Case, Turkish letters and punctuation do not matter; the key does not hold the address.
    """
    return hashlib.sha256(fold(address).encode("utf-8")).hexdigest()


def read_address_table(path: str | Path):
    """Read a students table with the students readers; the table, or ``InputError``."""
    from schoolbus.ingest import raise_if_problems, read_table

    problems: list[Problem] = []
    table = read_table(path, problems)
    raise_if_problems(problems)
    parts = [c for c in table.columns if c in ADDRESS_COLUMNS]
    if not parts and not {"lon", "lat"} <= set(table.columns):
        names = ", ".join(sorted(set(ADDRESS_COLUMNS)))
        raise InputError(
            [Problem(table.file, table.header_row, None, ", ".join(table.columns), f"an address column ({names}) or lon and lat")]
        )
    return table


def geocode_table(
    path: str | Path,
    geocoder: Geocoder,
    *,
    manual: Mapping[str, ManualFix] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> GeocodedTable:
    """Geocode every row of the students table at ``path``.

    Parameters
    ----------
    path : str or Path
        CSV or XLSX with address columns (:data:`~schoolbus.geocode.columns.ADDRESS_COLUMNS`).
    geocoder : Geocoder or NominatimGeocoder
        Anything with ``geocode_parts(parts)``: the offline geocoder of the district by default.
    manual : mapping of str to ManualFix, optional
        Homes placed by hand, by :func:`address_key`; they win over the geocoder.
    progress : callable, optional
        ``progress("geocoding", done, total)``.

    Raises
    ------
    InputError
        When the file cannot be read or has neither address columns nor ``lon``/``lat``.
    """
    table = read_address_table(path)
    manual = manual or {}
    report = progress or (lambda stage, done, total: None)
    rows: list[GeocodedRow] = []
    total = len(table.rows)
    step = max(1, total // 100)
    for k, (row_number, cells) in enumerate(table.rows):
        rows.append(_geocode_row(row_number, cells, geocoder, manual))
        if k % step == 0 or k == total - 1:
            report("geocoding", k + 1, total)
    return GeocodedTable(table.file, table.columns, tuple(rows))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _number(value: object) -> float | None:
    from schoolbus.ingest import number_from_cell as number_of

    return number_of(value)


def _geocode_row(row_number: int, cells: dict, geocoder: Geocoder, manual: Mapping[str, ManualFix]) -> GeocodedRow:
    parts: dict[str, str] = {}
    for column, part in ADDRESS_COLUMNS.items():
        text = _text(cells.get(column))
        if text and part != "unit":
            parts.setdefault(part, text)
    order = ("address", "street", "house_number", "neighbourhood", "district", "province")
    address = ", ".join(parts[p] for p in order if p in parts)
    student_id = _text(cells.get("id")) or None
    lon, lat = _number(cells.get("lon")), _number(cells.get("lat"))
    has_location = lon is not None and lat is not None
    stated = _text(cells.get("geocode_precision")).lower()
    if stated == "manual" and has_location:
        result = GeocodeResult(lon, lat, "manual", 100, _text(cells.get("geocode_match")) or "set by hand")
    elif address and address_key(address) in manual:
        fix = manual[address_key(address)]
        result = GeocodeResult(fix.lon, fix.lat, "manual", 100, f"set by hand by {fix.set_by} at {fix.set_at}")
    elif address:
        result = geocoder.geocode_parts(parts)
    elif has_location:
        result = GeocodeResult(lon, lat, "", 100, "")
    else:
        result = GeocodeResult(None, None, "none", 0, "")
    return GeocodedRow(row_number, student_id, address, result, cells)


def output_columns(table: GeocodedTable) -> list[str]:
    """The input's columns, then ``lon``, ``lat`` (unless there) and the geocode columns."""
    columns = [c for c in table.columns if c not in GEOCODE_COLUMNS]
    columns += [c for c in ("lon", "lat") if c not in columns]
    return columns + list(GEOCODE_COLUMNS)


def output_records(table: GeocodedTable) -> list[list[object]]:
    """The rows as written: the input's cells, the location and the geocode columns."""
    columns = output_columns(table)
    records = []
    for row in table.rows:
        values = dict(row.cells)
        result = row.result
        values["lon"] = None if result.lon is None else round(result.lon, 7)
        values["lat"] = None if result.lat is None else round(result.lat, 7)
        values["geocode_precision"] = result.precision or None
        values["geocode_score"] = result.score if result.precision else None
        values["geocode_match"] = result.match or None
        records.append([_safe_cell(values.get(c)) for c in columns])
    return records


def _safe_cell(value: object) -> object:
    """A cell that a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_geocoded(table: GeocodedTable, path: str | Path) -> Path:
    """Write the geocoded table as CSV (UTF-8 with BOM, for Excel) or XLSX, by ``path``'s suffix."""
    path = Path(path)
    columns = output_columns(table)
    records = output_records(table)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.title = "students"
        sheet.append(columns)
        for record in records:
            sheet.append(record)
        workbook.save(path)
        return path
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for record in records:
        writer.writerow(["" if v is None else v for v in record])
    path.write_text(buffer.getvalue(), encoding="utf-8-sig", newline="")
    return path
