"""The schoolbus exception family.

Every error carries a stable ``code`` that the CLI maps to an exit status and the service maps to an
HTTP status. A student who cannot be served is *not* an error: it is data in the plan.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as the input allows.

    ``row`` is the row as a person sees it in a spreadsheet (the header is row 1, so the first data
    row is row 2; a GeoJSON feature's number from 1), or ``None`` for a whole file or a key of a
    YAML document; ``column`` is the column or key name (or key path, e.g. ``vehicle_types[2].seats``).
    """

    file: str
    row: int | None
    column: str | None
    value: object
    expected: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        got = _shown(self.value)
        return f"{where}: got {got}, expected {self.expected}"


MAX_BYTES_SHOWN = 16


def _shown(value: object) -> str:
    """A value as a person reads it: no ``None`` or ``b'…'`` from Python."""
    if value is None:
        return "nothing"
    if isinstance(value, bytes | bytearray):
        more = " …" if len(value) > MAX_BYTES_SHOWN else ""
        return f"the bytes {bytes(value[:MAX_BYTES_SHOWN]).hex(' ')}{more}"
    return repr(value)


class SchoolbusError(Exception):
    """Base of every error schoolbus raises on purpose."""

    code = "schoolbus_error"
    exit_status = 1
    http_status = 500


class InputError(SchoolbusError):
    """The inputs are invalid; ``problems`` lists every one found, not just the first."""

    code = "invalid_input"
    exit_status = 2
    http_status = 422

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], message: str | None = None):
        self.problems = tuple(problems)
        head = message or f"{len(self.problems)} problem(s) in the inputs"
        super().__init__(head + "".join(f"\n  - {p}" for p in self.problems))


class RoadNetworkError(SchoolbusError):
    """The road network cannot be read, built or used (empty, disconnected, unreadable file)."""

    code = "road_network"
    exit_status = 3
    http_status = 422


class SolverError(SchoolbusError):
    """The solver failed to produce any plan (not: some students unserved, which is data)."""

    code = "solver"
    exit_status = 4
    http_status = 500


class PlanCheckError(SchoolbusError):
    """A plan failed the independent checker; it is never written."""

    code = "plan_check"
    exit_status = 5
    http_status = 500
    MAX_SHOWN = 50
    """At most this many violations are listed in the message (all stay in ``violations``)."""

    def __init__(self, violations: list[str] | tuple[str, ...]):
        self.violations = tuple(violations)
        super().__init__(
            f"{len(self.violations)} violation(s) in the plan"
            + "".join(f"\n  - {v}" for v in self.violations[: self.MAX_SHOWN])
        )
