"""Generic field validators: cells of a table row and keys of a document, checked and parsed.

Nothing here knows what a pupil or a school is. A :class:`Row` (a table row) or :class:`Keys` (a
mapping of a YAML/TOML document) parses values with their units and bounds, appends a
:class:`~schoolbus.errors.Problem` naming file, row and column (or key path) for every value it
cannot take, and carries on, so a reader reports every problem of a file at once;
:func:`raise_if_problems` then raises them as one :class:`~schoolbus.errors.InputError`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Literal, overload

from schoolbus.errors import InputError, Problem

__all__ = [
    "REPORTED",
    "ROW_NUMBERING",
    "TIME_OF_DAY_EXPECTED",
    "Keys",
    "Row",
    "hhmm",
    "is_empty_cell",
    "number_from_cell",
    "raise_if_problems",
    "short_value",
    "text_from_cell",
    "time_of_day_s",
]

ROW_NUMBERING = "rows as numbered in Excel (header = row 1); GeoJSON rows = feature number from 1"
"""How problems number rows; said once in every ``InputError`` message."""

_TRUE_WORDS = frozenset({"yes", "true", "1", "evet"})
# ``str.lower`` maps the capital I of HAYIR to a dotted i, so both spellings are accepted.
_FALSE_WORDS = frozenset({"no", "false", "0", "hayır", "hayir"})

# A number with a decimal point or a decimal comma (Turkish Excel), no thousands separators.
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
# 07:20, 7:20, 07:20:00, and the Turkish 07.20.
_TIME_RE = re.compile(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?")

TIME_OF_DAY_EXPECTED = "a time of day like 07:20 (hours 00-23, minutes 00-59)"
"""What :func:`time_of_day_s` accepts, worded for a problem's ``expected``."""
_BOOL_EXPECTED = "yes/no, true/false, 1/0, evet/hayır, or empty for no"


def raise_if_problems(problems: list[Problem]) -> None:
    """Raise one error listing ``problems`` file by file, each file's in row order."""
    if not problems:
        return
    file_order: dict[str, int] = {}
    for problem in problems:
        file_order.setdefault(problem.file, len(file_order))
    ordered = sorted(problems, key=lambda p: (file_order[p.file], p.row is not None, p.row or 0))
    raise InputError(ordered, f"{len(problems)} problem(s) in the inputs ({ROW_NUMBERING})")


class _Reported:
    """Marks a cell whose problem was already reported once for the whole column."""

    def __repr__(self) -> str:
        return "<reported>"


REPORTED = _Reported()


def short_value(value: object, limit: int = 60) -> object:
    """A value small enough to print in a problem."""
    text = repr(value)
    return value if len(text) <= limit else text[: limit - 1] + "…"


def is_empty_cell(value: object) -> bool:
    """Whether a cell holds nothing (``None`` or only blanks)."""
    return value is None or (isinstance(value, str) and not value.strip())


def text_from_cell(value: object) -> str | None:
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


def number_from_cell(value: object) -> float | None:
    """A finite number from a number cell or text with a decimal point or comma; else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and _NUMBER_RE.fullmatch(value.strip()):
        number = float(value.strip().replace(",", "."))
    else:
        return None
    return number if math.isfinite(number) else None


def time_of_day_s(value: object) -> int | None:
    """``07:20``-style text (``7:20``, ``07:20:00``, ``07.20``) or an Excel time cell as seconds
    after midnight; ``None`` if it is not one (see :data:`TIME_OF_DAY_EXPECTED`)."""
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


def hhmm(seconds: int) -> str:
    """Seconds after midnight as ``HH:MM``."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


class Row:
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
        if value is REPORTED:
            self.ok = False
            return None
        if is_empty_cell(value):
            if required:
                self.fail(column, "" if value is None else value, "a value (required column)")
            return None
        return value

    def text(self, column: str, *, required: bool = True) -> str | None:
        value = self._cell(column, required)
        if value is None:
            return None
        text = text_from_cell(value)
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
        number = number_from_cell(value)
        if number is None or not low <= number <= high:
            self.fail(column, value, expected)
            return None
        return number

    def integer(self, column: str, low: int, high: int, expected: str) -> int | None:
        value = self._cell(column, True)
        if value is None:
            return None
        number = number_from_cell(value)
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
        word = text_from_cell(value)
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
        seconds = time_of_day_s(value)
        if seconds is None:
            self.fail(column, value, TIME_OF_DAY_EXPECTED)
        return seconds


class Keys:
    """One mapping of a document being validated; reports unknown keys when created.

    Getters return the key's value, or its default when the key is absent. After reporting a
    problem they return the default too (``None`` for a required key): the document is refused
    then, so the value only keeps the mapping's types whole.
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
        self.problems.append(Problem(self.file, None, self.path(key), short_value(value), expected))

    def _get(self, key: str, required: bool) -> object:
        if key not in self.mapping:
            if required:
                self.fail(key, None, "a value (required key)")
            return None
        return self.mapping[key]

    @overload
    def number(
        self,
        key: str,
        default: float,
        *,
        low: float,
        high: float = ...,
        low_open: bool = ...,
        nullable: Literal[False] = ...,
    ) -> float: ...

    @overload
    def number(
        self,
        key: str,
        default: float | None,
        *,
        low: float,
        high: float = ...,
        low_open: bool = ...,
        required: bool = ...,
        nullable: bool = ...,
    ) -> float | None: ...

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
            return default
        if not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
            self.fail(key, value, expected)
            return default
        return float(value)

    @overload
    def integer(
        self,
        key: str,
        default: int,
        *,
        low: int,
        high: int | None = ...,
        nullable: Literal[False] = ...,
    ) -> int: ...

    @overload
    def integer(
        self,
        key: str,
        default: int | None,
        *,
        low: int,
        high: int | None = ...,
        required: bool = ...,
        nullable: bool = ...,
    ) -> int | None: ...

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
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        ):
            if key in self.mapping:
                self.fail(key, value, expected + _quote_hint(value))
            return default
        if value < low or (high is not None and value > high):
            self.fail(key, value, expected)
            return default
        return int(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.mapping.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, value, "true or false")
            return default
        return value

    @overload
    def text(self, key: str, default: str) -> str: ...

    @overload
    def text(self, key: str, default: str | None, *, required: bool = ...) -> str | None: ...

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
            return default
        return value.strip()

    def items(self, key: str, *, required: bool = False) -> list[tuple[str, Mapping[object, object]]]:
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
        found: list[tuple[str, Mapping[object, object]]] = []
        for number, item in enumerate(value, start=1):
            where = f"{self.path(key)}[{number}]"
            if isinstance(item, dict):
                found.append((where, item))
            else:
                self.problems.append(Problem(self.file, None, where, short_value(item), "a mapping"))
        return found

    def section(self, key: str) -> Mapping[object, object]:
        """A nested mapping (empty when absent)."""
        value = self.mapping.get(key, {})
        if not isinstance(value, dict):
            self.fail(key, value, "a mapping of keys to values")
            return {}
        return value


def _quote_hint(value: object) -> str:
    return " (not text in quotes; decimals take a point)" if isinstance(value, str) else ""

