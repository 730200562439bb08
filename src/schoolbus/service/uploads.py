"""Checks an uploaded file passes before any reader opens it: size, inflation, XML, YAML aliases.

The readers of :mod:`schoolbus.ingest` trust that a file is a table or a document of a sensible
size; an upload is anyone's bytes. So, before them:

* **xlsx**: a ZIP whose members inflate to at most :data:`MAX_XLSX_INFLATED_BYTES` in all (the sum
  of the sizes the archive declares, checked before anything is inflated; :mod:`zipfile` never
  inflates a member past its declared size and checks its CRC), at most :data:`MAX_XLSX_MEMBERS`
  members, and every XML member parsed with :mod:`defusedxml` (no DTD, no entity: XXE and
  billion-laughs are refused) while the worksheet rows and cells are counted against
  :data:`MAX_TABLE_ROWS` and :data:`MAX_TABLE_CELLS`;
* **YAML** (fleet, policy): at most :data:`MAX_DOCUMENT_BYTES`, no anchors or aliases (an alias
  bomb expands on output, not on reading);
* **road networks**: ``.osm`` (and the XML inside ``.osm.bz2``/``.osm.gz``) with no DTD or entity, an archive
  that inflates completely (a corrupt one is refused now, not when a job reads it), at most
  :data:`MAX_NETWORK_INFLATED_BYTES`; ``.osm.pbf`` must start with an ``OSMHeader`` block.

Every problem is an :class:`~schoolbus.errors.InputError` naming the uploaded file (HTTP 422).
These functions are slow on big files by design; the service runs them in a worker thread.
"""

from __future__ import annotations

import bz2
import gzip
import io
import struct
import zipfile
import zlib
from typing import BinaryIO
from xml.etree.ElementTree import ParseError  # nosec B405 - only the exception class; parsing is defusedxml's

import yaml
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from schoolbus.errors import InputError, Problem

MAX_XLSX_INFLATED_BYTES = 64 * 1024 * 1024
"""A workbook of 100,000 pupils inflates to about 30 MiB; more is not a district's table."""
MAX_XLSX_MEMBERS = 1_000
MAX_TABLE_ROWS = 200_000
MAX_TABLE_CELLS = 4_000_000
MAX_DOCUMENT_BYTES = 1024 * 1024
"""A fleet or policy document is a few kilobytes."""
MAX_NETWORK_INFLATED_BYTES = 4 * 1024 * 1024 * 1024
"""An ``.osm.bz2`` of a large city inflates to 2-3 GiB."""
READ_CHUNK_BYTES = 1024 * 1024
MAX_PBF_HEADER_BYTES = 64 * 1024
"""Protocol-buffer files start with a short ``BlobHeader`` (its length as 4 big-endian bytes)."""

XLSX_SUFFIXES = (".xlsx", ".xlsm")
YAML_SUFFIXES = (".yaml", ".yml")


def _refuse(filename: str, value: object, expected: str) -> InputError:
    return InputError([Problem(filename, None, None, value, expected)])


def check_table_or_document(filename: str, content: bytes) -> None:
    """Refuse an uploaded students, schools, fleet or policy file that no reader should open.

    Raises
    ------
    InputError
        The reason, naming ``filename``.
    """
    lowered = filename.lower()
    if lowered.endswith(XLSX_SUFFIXES):
        check_xlsx(filename, content)
    elif lowered.endswith(YAML_SUFFIXES):
        check_yaml(filename, content)


def check_xlsx(filename: str, content: bytes) -> None:
    """The xlsx checks of the module docstring."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError):
        raise _refuse(filename, "not a ZIP archive", "a readable .xlsx workbook") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_XLSX_MEMBERS:
            raise _refuse(filename, f"{len(members)} parts", f"a workbook of at most {MAX_XLSX_MEMBERS} parts")
        inflated = sum(m.file_size for m in members)
        if inflated > MAX_XLSX_INFLATED_BYTES:
            raise _refuse(
                filename,
                f"{inflated} bytes unpacked",
                f"a workbook of at most {MAX_XLSX_INFLATED_BYTES // (1024 * 1024)} MiB unpacked",
            )
        n_rows = n_cells = 0
        for member in members:
            name = member.filename
            if not name.lower().endswith((".xml", ".rels", ".vml")):
                continue
            is_sheet = name.startswith("xl/worksheets/")
            try:
                with archive.open(member) as stream:
                    for _, element in iterparse(stream, events=("end",), forbid_dtd=True):
                        tag = element.tag.rpartition("}")[2]
                        if is_sheet and tag == "row":
                            n_rows += 1
                            element.clear()
                        elif is_sheet and tag == "c":
                            n_cells += 1
                        if n_rows > MAX_TABLE_ROWS or n_cells > MAX_TABLE_CELLS:
                            raise _refuse(
                                filename,
                                f"more than {n_rows} rows / {n_cells} cells",
                                f"a table of at most {MAX_TABLE_ROWS} rows and {MAX_TABLE_CELLS} cells",
                            )
            except DefusedXmlException:
                raise _refuse(
                    filename, f"{name}: a DTD or entity declaration", "a workbook without DTDs or entities"
                ) from None
            except (ParseError, zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
                raise _refuse(filename, f"{name}: {type(error).__name__}", "a readable .xlsx workbook") from None


def check_yaml(filename: str, content: bytes) -> None:
    """The YAML checks of the module docstring."""
    if len(content) > MAX_DOCUMENT_BYTES:
        raise _refuse(filename, f"{len(content)} bytes", f"a document of at most {MAX_DOCUMENT_BYTES} bytes")
    try:
        for token in yaml.scan(content.decode("utf-8", errors="replace")):
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                raise _refuse(filename, f"&{token.value}" if isinstance(token, yaml.AnchorToken) else f"*{token.value}",
                              "a document without YAML anchors or aliases")
    except yaml.YAMLError:
        return  # the reader reports the syntax error with its line and column


def check_network(filename: str, content: bytes) -> None:
    """The road-network checks of the module docstring (``filename`` decides the format)."""
    lowered = filename.lower()
    if lowered.endswith(".osm.pbf") or lowered.endswith(".pbf"):
        _check_pbf(filename, content)
    elif lowered.endswith(".osm.bz2") or lowered.endswith(".bz2"):
        with bz2.BZ2File(io.BytesIO(content)) as stream:
            _check_osm_xml(filename, _Bounded(stream, filename))
    elif lowered.endswith(".osm.gz"):
        with gzip.GzipFile(fileobj=io.BytesIO(content)) as stream:
            _check_osm_xml(filename, _Bounded(stream, filename))
    elif lowered.endswith(".osm") or lowered.endswith(".xml"):
        _check_osm_xml(filename, io.BytesIO(content))


def _check_pbf(filename: str, content: bytes) -> None:
    if len(content) < 4:
        raise _refuse(filename, "too short", "an OpenStreetMap .osm.pbf file")
    (length,) = struct.unpack(">I", content[:4])
    if length > MAX_PBF_HEADER_BYTES or b"OSMHeader" not in content[4 : 4 + length]:
        raise _refuse(filename, "no OSMHeader block", "an OpenStreetMap .osm.pbf file")


class _Bounded(io.RawIOBase):
    """A decompressing stream that refuses to inflate past :data:`MAX_NETWORK_INFLATED_BYTES`."""

    def __init__(self, stream: BinaryIO, filename: str):
        self._stream, self._filename, self._n = stream, filename, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read(READ_CHUNK_BYTES if size is None or size < 0 else size)
        except (OSError, EOFError, ValueError, zlib.error):
            raise _refuse(self._filename, "a damaged compressed stream", "a complete, undamaged compressed file") from None
        self._n += len(data)
        if self._n > MAX_NETWORK_INFLATED_BYTES:
            raise _refuse(self._filename, f"more than {self._n} bytes unpacked",
                          f"at most {MAX_NETWORK_INFLATED_BYTES // 1024 ** 3} GiB unpacked")
        return data

    def drain(self) -> None:
        while self.read(READ_CHUNK_BYTES):
            pass


def _check_osm_xml(filename: str, stream: BinaryIO) -> None:
    """No DTD or entity in the XML (checked up to the root element), then the rest read through.

    A DTD can only come before the root element, so the XML parser stops there; the rest of a
    compressed file is still inflated to the end, so a damaged archive is refused now.
    """
    try:
        for _, element in iterparse(stream, events=("start",), forbid_dtd=True):
            if element.tag != "osm":
                raise _refuse(filename, f"<{element.tag}>", "an OpenStreetMap XML file (root element <osm>)")
            break
        else:
            raise _refuse(filename, "no XML element", "an OpenStreetMap XML file (root element <osm>)")
    except DefusedXmlException:
        raise _refuse(filename, "a DTD or entity declaration", "OpenStreetMap XML without DTDs or entities") from None
    except ParseError as error:
        raise _refuse(filename, f"XML error {error.position}", "well-formed OpenStreetMap XML") from None
    if isinstance(stream, _Bounded):
        stream.drain()

