"""Reading the files officers keep: encodings, CSV, XLSX and GeoJSON tables, YAML and TOML documents.

Readers turn bytes into a :class:`Table` (named cells with their row numbers) or a document
mapping, appending a :class:`~schoolbus.errors.Problem` for whatever cannot be read; what the
cells mean is for :mod:`schoolbus.ingest.domain`. Text is decoded deterministically (UTF-8, UTF-16
with a byte-order mark, else Windows-1254, what Turkish Excel writes), delimiters are sniffed from
the header line, and headers are matched to canonical column names through aliases.

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
import io
import json
import re
import tomllib
import unicodedata
import zipfile
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import yaml
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from schoolbus.errors import Problem
from schoolbus.ingest.fields import REPORTED, is_empty_cell, short_value, text_from_cell

__all__ = [
    "ADDRESS_COLUMN",
    "Table",
    "check_columns",
    "read_document",
    "read_table",
    "with_aliases",
]

ADDRESS_COLUMN = "address"
"""An address column a students file may carry (for geocoding); the planner ignores it."""

ALIAS_HINT = "(or their Turkish or Arabic names, see docs/input-format.md)"
GEOCODE_FIRST = "this file has addresses but no coordinates: geocode it first (see docs/input-format.md)"

_TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".geojson", ".json")
_DOCUMENT_SUFFIXES = (".yaml", ".yml", ".toml")


@dataclass(frozen=True)
class Table:
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


def read_table(path: str | Path, problems: list[Problem]) -> Table | None:
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


def _read_csv(file: str, text: str, problems: list[Problem]) -> Table | None:
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


def _read_xlsx(file: str, data: bytes, problems: list[Problem]) -> Table | None:
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
) -> Table | None:
    """Check the header (first non-empty row) and turn the rows below it into named cells.

    ``spill_hint`` is added to the problem of a value in a column without a name.
    """
    non_empty = [(n, r) for n, r in records if any(not is_empty_cell(v) for v in r)]
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
    names = [text_from_cell(v) or "" for v in header]
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
            if index < len(values) and not is_empty_cell(values[index]):
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
    return Table(file, header_row, tuple(positions), tuple(rows))


def _read_geojson(file: str, text: str, problems: list[Problem]) -> Table | None:
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
            Problem(file, None, "type", short_value(document), "a GeoJSON FeatureCollection")
        )
        return None
    if not features:
        problems.append(Problem(file, None, "features", [], "at least one feature"))
        return None
    columns: dict[str, None] = {"lon": None, "lat": None}
    rows: list[tuple[int, dict[str, object]]] = []
    broken: list[dict[str, object]] = []  # features reported whole: their cells say nothing more
    for number, feature in enumerate(features, start=1):
        cells: dict[str, object] = {"lon": REPORTED, "lat": REPORTED}
        rows.append((number, cells))
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(Problem(file, number, None, short_value(feature), "a GeoJSON Feature"))
            broken.append(cells)
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            problems.append(
                Problem(file, number, "properties", short_value(properties), "an object of columns")
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
            problems.append(Problem(file, number, "geometry", short_value(geometry), "a Point geometry"))
        elif not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
            problems.append(
                Problem(
                    file, number, "coordinates", short_value(coordinates), "[lon, lat] or [lon, lat, z]"
                )
            )
        else:
            cells["lon"], cells["lat"] = coordinates[0], coordinates[1]
    for cells in broken:
        cells.update(dict.fromkeys(columns, REPORTED))
    return Table(file, None, tuple(columns), tuple(rows))


def _column_key(name: str) -> str:
    """A header as compared with aliases: lower case, no accents, ``ı``→``i``, spaces as ``_``."""
    decomposed = unicodedata.normalize("NFKD", name.strip().lower().replace("ı", "i"))
    # Drop Latin combining marks only (ö → o); Arabic letters stay as they are.
    bare = "".join(c for c in decomposed if not (unicodedata.combining(c) and c < "\u0600"))
    return re.sub(r"[\s._\-]+", "_", unicodedata.normalize("NFC", bare)).strip("_")


def with_aliases(table: Table, aliases: Mapping[str, Sequence[str]]) -> Table:
    """``table`` with Turkish/Arabic column names renamed to the canonical ones.

    A canonical name given twice (``lon`` and ``boylam``) is left for :func:`check_columns`
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
    return Table(table.file, table.header_row, tuple(renamed.get(c, c) for c in table.columns), rows)


def check_columns(
    table: Table,
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
            cells["lon"] = cells["lat"] = REPORTED
        required = [name for name in required if name not in ("lon", "lat")]
    for name in required:
        if name not in table.columns:
            problems.append(
                Problem(table.file, table.header_row, name, None, f"a column named '{name}'")
            )
            for _, cells in table.rows:
                cells[name] = REPORTED


class _StrictLoader(yaml.SafeLoader):
    """A ``SafeLoader`` that records duplicate keys instead of silently keeping the last one."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[object, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
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


def read_document(path: str | Path, problems: list[Problem]) -> dict[object, object] | None:
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
        problems.append(Problem(file, None, None, short_value(document), "a mapping of keys to values"))
        return None
    return document
