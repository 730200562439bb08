"""The plan file contract: a plan directory with ``plan.json`` and ``scenario.json``.

``plan.json`` is what maps, sheets, the web service and other tools read; it is documented field
by field in ``docs/plan-format.md``. It carries no home coordinates. ``scenario.json`` holds the
validated inputs the plan was made from, *including pupils' home locations*: it is sensitive
personal data and must be kept and shared like the student register. Together with the road
network named in ``plan.json`` (``network.source``) the two files are enough to check a plan again
(``schoolbus validate PLAN_DIR``).

Both files are UTF-8 JSON with sorted keys, two-space indentation and a final newline; floats are
written in Python's shortest round-trip form, so the same plan always gives the same bytes and
:func:`read_plan` gives back exactly the plan that :func:`write_plan` wrote. Money is already
rounded to cents by :mod:`schoolbus.costing`; nothing is rounded here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import operator
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from schoolbus.errors import InputError, Problem
from schoolbus.model import (
    Assignment,
    CostLine,
    Plan,
    Policy,
    Prices,
    Reason,
    ReasonCode,
    Scenario,
    School,
    Stop,
    Summary,
    Trip,
    VehicleDay,
    Visit,
)
from schoolbus.network import DEFAULT_MAX_EDGE_M, RoadColumns, RoadNetwork, load_network
from schoolbus.outputs.reasons import describe_reason, reason_from_dict, reason_to_dict

FORMAT_VERSION = "1.2"
"""Version of both files: the major number changes when a reader of the old one would misread."""

PLAN_FILE = "plan.json"
SCENARIO_FILE = "scenario.json"

FILE_SOURCE_KINDS = ("osm", "roads", "graphml")
"""``load_network`` keywords that name a file; the file's SHA-256 is recorded with the plan."""

SOURCE_KINDS = (*FILE_SOURCE_KINDS, "place", "bbox")
"""Every way ``network.load_network`` can be told where the roads come from."""

_HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class NetworkSource:
    """How to rebuild the road network a plan was made on.

    Attributes
    ----------
    kind : str
        The ``network.load_network`` keyword: ``osm``, ``roads`` or ``graphml`` (a file),
        ``place`` (a place name) or ``bbox``.
    value : str or tuple of float
        The file path (absolute), the place name, or the bbox ``(west, south, east, north)`` in
        degrees.
    sha256 : str or None
        Hex SHA-256 of the file for file kinds, so that a changed file is noticed; ``None`` for
        ``place`` and ``bbox`` (downloads are not pinned).
    max_edge_m : float
        ``load_network``'s ``max_edge_m``: edges longer than this were cut, metres.
    road_columns : tuple of (str, str) pairs or None
        ``RoadColumns`` fields and values used to read a ``roads`` layer; ``None``: the defaults.
    """

    kind: str
    value: str | tuple[float, float, float, float]
    sha256: str | None = None
    max_edge_m: float = DEFAULT_MAX_EDGE_M
    road_columns: tuple[tuple[str, str], ...] | None = None

    @classmethod
    def from_file(
        cls,
        kind: str,
        path: str | Path,
        *,
        max_edge_m: float = DEFAULT_MAX_EDGE_M,
        road_columns: RoadColumns | None = None,
    ) -> NetworkSource:
        """Reference a network file (``kind`` in :data:`FILE_SOURCE_KINDS`), hashing it now."""
        if kind not in FILE_SOURCE_KINDS:
            raise ValueError(f"{kind!r} is not a file source; expected one of {FILE_SOURCE_KINDS}")
        resolved = Path(path).resolve()
        columns = tuple(dataclasses.asdict(road_columns).items()) if road_columns is not None else None
        return cls(kind, str(resolved), file_sha256(resolved), float(max_edge_m), columns)

    def load(
        self,
        forbidden_road_classes: Sequence[str],
        *,
        path: str | Path | None = None,
        cache_dir: str | Path | None = None,
    ) -> RoadNetwork:
        """Rebuild the network (through the cache when it holds it).

        Parameters
        ----------
        forbidden_road_classes : sequence of str
            The plan's ``policy.forbidden_road_classes`` (they shape the ``loaded`` graph).
        path : path, optional
            Where the file is now, when it moved since the plan was written (file kinds only).
        cache_dir : path, optional
            ``load_network``'s cache folder.

        Raises
        ------
        InputError
            If the file's SHA-256 differs from the one recorded with the plan.
        RoadNetworkError
            If the network cannot be built.
        """
        value: Any = self.value
        if self.kind in FILE_SOURCE_KINDS:
            value = Path(path) if path is not None else Path(str(self.value))
            if value.is_file() and self.sha256 is not None and file_sha256(value) != self.sha256:
                raise InputError(
                    [Problem(str(value), None, None, f"sha256 {file_sha256(value)}",
                             f"the file the plan was made on (sha256 {self.sha256})")],
                    "the road network file changed since the plan was made",
                )
        columns = RoadColumns(**dict(self.road_columns)) if self.road_columns is not None else None
        return load_network(
            **{self.kind: value},
            forbidden_road_classes=tuple(forbidden_road_classes),
            cache_dir=cache_dir,
            max_edge_m=self.max_edge_m,
            road_columns=columns,
        )


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def write_plan(plan: Plan, out_dir: str | Path, network: NetworkSource | None = None) -> Path:
    """Write ``plan.json`` and ``scenario.json`` into ``out_dir`` (created if needed).

    Parameters
    ----------
    plan : Plan
        A checked plan (see :func:`schoolbus.check.check_plan`); written as it is.
    out_dir : str or Path
        The plan directory; existing files of the same names are replaced.
    network : NetworkSource, optional
        Where the road network came from, so that the plan can be validated again later.

    Returns
    -------
    Path
        The path of ``plan.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / SCENARIO_FILE, scenario_to_dict(plan.scenario))
    plan_path = out / PLAN_FILE
    _write_json(plan_path, plan_to_dict(plan, network))
    return plan_path


def plan_to_dict(plan: Plan, network: NetworkSource | None = None) -> dict[str, Any]:
    """The ``plan.json`` document of a plan (JSON-ready, no home coordinates)."""
    scenario = plan.scenario
    return {
        "format_version": FORMAT_VERSION,
        "scenario_name": scenario.name,
        "currency": scenario.prices.currency,
        "seed": plan.seed,
        "routing_backend": plan.routing_backend,
        "network": {"name": plan.network_name, "source": _source_to_dict(network)},
        "policy": _encode(scenario.policy, Policy),
        "prices": _encode(scenario.prices, Prices),
        "schools": [_encode(school, School) for school in scenario.schools],
        "stops": [_encode(stop, Stop) for stop in plan.stops],
        "students": [_student_to_dict(a) for a in plan.assignments],
        "trips": [_trip_to_dict(trip) for trip in plan.trips],
        "vehicles": [_encode(vehicle, VehicleDay) for vehicle in plan.vehicles],
        "summary": _encode(plan.summary, Summary),
        "costs": [_encode(line, CostLine) for line in plan.costs],
    }


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The ``scenario.json`` document: every validated input, home locations included."""
    return {"format_version": FORMAT_VERSION, **_encode(scenario, Scenario)}


def scenario_from_dict(document: Mapping[str, Any]) -> Scenario:
    """The scenario a ``scenario.json`` document holds (the inverse of :func:`scenario_to_dict`).

    Raises
    ------
    InputError
        Every value of the wrong type, named by its JSON path.
    """
    reader = _Reader(SCENARIO_FILE)
    scenario = reader.record(dict(document), Scenario, "")
    if reader.problems:
        raise InputError(reader.problems)
    return scenario


def dumps(document: Mapping[str, Any]) -> str:
    """The exact text schoolbus writes for a JSON document (sorted keys, stable floats)."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write through a temporary file, so a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(dumps(document), encoding="utf-8", newline="\n")
    os.replace(partial, path)


def _source_to_dict(source: NetworkSource | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return _encode(source, NetworkSource)


def _student_to_dict(assignment: Assignment) -> dict[str, Any]:
    encoded = _encode(dataclasses.replace(assignment, reason=None), Assignment)
    encoded["id"] = encoded.pop("student_id")
    # ``reason`` stays the plain English words 1.1 readers know; ``reason_code`` is what to match on.
    reason = assignment.reason
    encoded["reason"] = None if reason is None else describe_reason(reason, "en")
    encoded["reason_code"] = None if reason is None else reason_to_dict(reason)
    return encoded


def _student_from_dict(reader: _Reader, item: Any, path: str) -> Any:
    """An assignment from ``students[i]``; a 1.0/1.1 reason without a code reads as ``TEXT``."""
    if not isinstance(item, dict):
        return reader.record(item, Assignment, path)
    rest = {k: v for k, v in item.items() if k not in ("reason", "reason_code")}
    assignment = reader.record(rest, Assignment, path, renamed={"student_id": "id"})
    words, coded = item.get("reason"), item.get("reason_code")
    reason = None
    if coded is not None:
        reason = reason_from_dict(coded)
        if reason is None:
            return reader.fail(f"{path}.reason_code", coded, "a reason: {code, params, causes}")
    elif words is not None:
        if not isinstance(words, str):
            return reader.fail(f"{path}.reason", words, "a string or null")
        reason = Reason.make(ReasonCode.TEXT, text=words)
    if assignment is _INVALID:
        return assignment
    return dataclasses.replace(assignment, reason=reason)


def _trip_to_dict(trip: Trip) -> dict[str, Any]:
    encoded = _encode(trip, Trip)
    # A visit names its stop or its school, never both: the other key is left out.
    for visit in encoded["visits"]:
        for key in ("stop_id", "school_id"):
            if visit[key] is None:
                del visit[key]
    return encoded


def _encode(value: Any, hint: Any) -> Any:
    """JSON-ready form of ``value`` whose declared type is ``hint`` (floats stay floats)."""
    if value is None:
        return None
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return {f.name: _encode(getattr(value, f.name), hints[f.name]) for f in dataclasses.fields(hint)}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _encode(value, next(a for a in args if a is not type(None)))
    if origin is tuple:
        item_hints = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        return [_encode(item, h) for item, h in zip(value, item_hints, strict=True)]
    if isinstance(hint, type) and issubclass(hint, Enum):
        return value.value
    if hint is float:
        # An int in a float field is written as a float, so the bytes do not depend on it.
        return float(value)
    if hint is int:
        return operator.index(value)  # numpy integers too; a float here is a bug, and raises
    if hint is bool:
        return bool(value)
    return value


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


def read_plan(plan_dir: str | Path) -> Plan:
    """Read a plan directory written by :func:`write_plan`.

    Raises
    ------
    InputError
        Listing every problem found: a missing or unreadable file, a wrong format version, a
        missing key or a value of the wrong type (named by its JSON path), or a ``plan.json``
        whose policy, prices or schools differ from ``scenario.json``'s.
    """
    plan_doc, scenario_doc = _read_documents(Path(plan_dir))
    scenario_reader = _Reader(SCENARIO_FILE)
    scenario = scenario_reader.record(scenario_doc, Scenario, "")
    reader = _Reader(PLAN_FILE)
    fields = {
        key: reader.value(plan_doc.get(key, _MISSING), hint, key)
        for key, hint in (
            ("seed", int),
            ("policy", Policy),
            ("prices", Prices),
            ("schools", tuple[School, ...]),
            ("stops", tuple[Stop, ...]),
            ("trips", tuple[Trip, ...]),
            ("vehicles", tuple[VehicleDay, ...]),
            ("summary", Summary),
            ("costs", tuple[CostLine, ...]),
        )
    }
    # Plans written before the backend could be chosen were all planned by OR-Tools.
    routing_backend = reader.value(plan_doc.get("routing_backend", "ortools"), str, "routing_backend")
    network = plan_doc.get("network", _MISSING)
    network_name = (
        reader.value(network.get("name", _MISSING), str, "network.name")
        if isinstance(network, dict)
        else reader.fail("network", network, "an object with 'name' and 'source'")
    )
    students = plan_doc.get("students", _MISSING)
    if isinstance(students, list):
        assignments = tuple(
            _student_from_dict(reader, item, f"students[{i}]") for i, item in enumerate(students)
        )
    else:
        assignments = reader.fail("students", students, "a list of students")
    problems = scenario_reader.problems + reader.problems
    if not problems:
        for key in ("policy", "prices", "schools"):
            if fields[key] != getattr(scenario, key):
                problems.append(
                    Problem(PLAN_FILE, None, key, "a different value", f"the {key} of {SCENARIO_FILE}")
                )
    if problems:
        raise InputError(problems, f"{len(problems)} problem(s) in the plan at {plan_dir}")
    return Plan(
        scenario=scenario,
        stops=fields["stops"],
        assignments=assignments,
        trips=fields["trips"],
        vehicles=fields["vehicles"],
        summary=fields["summary"],
        costs=fields["costs"],
        network_name=network_name,
        seed=fields["seed"],
        routing_backend=routing_backend,
    )


def read_network_source(plan_dir: str | Path) -> NetworkSource | None:
    """The road-network reference of a plan directory (``None`` when the plan names none).

    Raises
    ------
    InputError
        If ``plan.json`` is missing, unreadable or its ``network.source`` is malformed.
    """
    document, problem = _read_json(Path(plan_dir) / PLAN_FILE)
    if problem is not None:
        raise InputError([problem])
    assert document is not None
    network = document.get("network")
    source = network.get("source", _MISSING) if isinstance(network, dict) else _MISSING
    if source is None:
        return None
    reader = _Reader(PLAN_FILE)
    if not isinstance(source, dict):
        reader.fail("network.source", source, "an object with kind and value, or null")
        raise InputError(reader.problems)
    kind = source.get("kind")
    if kind not in SOURCE_KINDS:
        reader.fail("network.source.kind", kind, f"one of {', '.join(SOURCE_KINDS)}")
        raise InputError(reader.problems)
    # ``value`` is a union the generic reader does not decode: its type follows ``kind``.
    value_hint = tuple[float, float, float, float] if kind == "bbox" else str
    value = reader.value(source.get("value", _MISSING), value_hint, "network.source.value")
    rest = reader.record({k: v for k, v in source.items() if k != "value"} | {"value": ""},
                         NetworkSource, "network.source")
    if reader.problems:
        raise InputError(reader.problems)
    return dataclasses.replace(rest, value=value)


def _read_documents(plan_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both JSON documents, after checking they exist, parse and carry this format's version."""
    problems: list[Problem] = []
    documents = []
    for name in (PLAN_FILE, SCENARIO_FILE):
        document, problem = _read_json(plan_dir / name)
        documents.append(document)
        if problem is not None:
            problems.append(problem)
            continue
        version = document.get("format_version")
        if not isinstance(version, str) or version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
            problems.append(
                Problem(name, None, "format_version", version, f"a {FORMAT_VERSION.split('.')[0]}.x version")
            )
    if problems:
        raise InputError(problems, f"cannot read the plan at {plan_dir}")
    plan_doc, scenario_doc = documents
    assert plan_doc is not None and scenario_doc is not None
    return plan_doc, scenario_doc


def _read_json(path: Path) -> tuple[dict[str, Any] | None, Problem | None]:
    """A JSON object from ``path``, or the problem that stops it being read."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, Problem(str(path), None, None, "no such file", "a file written by schoolbus")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, Problem(str(path), None, None, str(error), "UTF-8 JSON")
    if not isinstance(document, dict):
        return None, Problem(str(path), None, None, type(document).__name__, "a JSON object")
    return document, None


class _Missing:
    """Marks a key absent from a JSON object."""

    def __repr__(self) -> str:
        return "nothing"


_MISSING: Any = _Missing()
_INVALID: Any = object()


class _Reader:
    """Decodes JSON values into model types, collecting a :class:`Problem` per bad value."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def fail(self, path: str, value: Any, expected: str) -> Any:
        shown = value if not isinstance(value, (dict, list)) else f"a JSON {type(value).__name__}"
        self.problems.append(Problem(self.file, None, path, shown, expected))
        return _INVALID

    def value(self, data: Any, hint: Any, path: str) -> Any:
        """``data`` decoded as type ``hint``, or ``_INVALID`` after recording a problem."""
        if dataclasses.is_dataclass(hint):
            return self.record(data, hint, path)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            if data is None and type(None) in args:
                return None
            inner = [a for a in args if a is not type(None)]
            return self.value(data, inner[0], path)
        if origin is tuple:
            return self._tuple(data, args, path)
        if isinstance(hint, type) and issubclass(hint, Enum):
            allowed = [member.value for member in hint]
            if data in allowed:
                return hint(data)
            return self.fail(path, data, f"one of {', '.join(allowed)}")
        if hint is bool:
            return data if isinstance(data, bool) else self.fail(path, data, "true or false")
        if hint is int:
            ok = isinstance(data, int) and not isinstance(data, bool)
            return data if ok else self.fail(path, data, "an integer")
        if hint is float:
            ok = isinstance(data, (int, float)) and not isinstance(data, bool) and math.isfinite(data)
            return float(data) if ok else self.fail(path, data, "a number")
        if hint is str:
            return data if isinstance(data, str) else self.fail(path, data, "a string")
        raise TypeError(f"no JSON decoding for {hint!r}")

    def _tuple(self, data: Any, args: tuple[Any, ...], path: str) -> Any:
        if not isinstance(data, list):
            return self.fail(path, data, "a list")
        if args[-1] is Ellipsis:
            hints = [args[0]] * len(data)
        elif len(data) == len(args):
            hints = list(args)
        else:
            return self.fail(path, data, f"a list of {len(args)} items")
        items = tuple(self.value(item, h, f"{path}[{i}]") for i, (item, h) in enumerate(zip(data, hints)))
        return _INVALID if any(item is _INVALID for item in items) else items

    def record(self, data: Any, cls: type, path: str, renamed: Mapping[str, str] | None = None) -> Any:
        """A dataclass ``cls`` from a JSON object; keys of fields with defaults may be absent."""
        if not isinstance(data, dict):
            return self.fail(path or "(document)", data, f"an object ({cls.__name__})")
        renamed = renamed or {}
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            key = renamed.get(f.name, f.name)
            where = f"{path}.{key}" if path else key
            if key not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    self.fail(where, _MISSING, "a value (the key is required)")
                    kwargs[f.name] = _INVALID
                continue
            kwargs[f.name] = self.value(data[key], hints[f.name], where)
        if any(v is _INVALID for v in kwargs.values()):
            return _INVALID
        if cls is Visit and (kwargs.get("stop_id") is None) == (kwargs.get("school_id") is None):
            return self.fail(path, data, "a visit with exactly one of stop_id and school_id")
        return cls(**kwargs)
