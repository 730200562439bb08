"""Addresses → homes in the service: address uploads, the review list and manual locations.

An officer uploads a students table with addresses. It is geocoded offline with the project's own
OSM extract (the service never sends addresses anywhere), every manual location of the project
is applied, and the pupils placed become the project's ``students`` input (the rows not found are
left out and stay on the review list). The upload is kept, so the review list can be rebuilt and a
manual fix can be applied at once.

A manual location is stored per project under a hash of the folded address
(:func:`schoolbus.geocode.table.address_key`: case and Turkish letters do not matter, and the
table holds no address), with who set it and when: it wins over the
geocoder for that address from then on, in this upload and in every later one. Setting one is
audited (by row and pupil id, not by address: the audit log holds no personal data beyond ids).

The service geocodes offline. An admin may enable an online, Nominatim-compatible geocoder (a
self-hosted Nominatim) for every project, only by stating explicitly that pupils' addresses may
leave the server (:func:`set_geocoder_settings`, audited); until then none is used.

Three tables are added to the store (created on start like any table; no data migration needed):
``address_uploads`` (the last address table of each project), ``manual_locations`` (both hold
personal data, read only by officers and admins) and ``geocoder_settings``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from sqlalchemy import Boolean, Float, ForeignKey, LargeBinary, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from schoolbus.errors import InputError, Problem
from schoolbus.geocode import Geocoder, load_index
from schoolbus.geocode.nominatim import DEFAULT_MIN_DELAY_S, NominatimGeocoder
from schoolbus.geocode.table import GeocodedTable, ManualFix, geocode_table, write_geocoded
from schoolbus.service import security, store
from schoolbus.service.auth import EDIT, READ_FULL
from schoolbus.service.db import Base, Project, User, UtcDateTime, utcnow
from schoolbus.service.scenarios import safe_filename
from schoolbus.service.uploads import check_table_or_document

__all__ = [
    "MAX_ADDRESS_UPLOAD_BYTES",
    "AddressUpload",
    "ManualLocation",
    "GeocoderSettings",
    "geocode_upload",
    "geocoder_settings",
    "review",
    "set_geocoder_settings",
    "set_manual_location",
]

MAX_ADDRESS_UPLOAD_BYTES = security.MAX_ADDRESS_UPLOAD_BYTES
"""Largest address table accepted (the body limit of the upload routes follows it)."""

GEOCODER_CACHE_SIZE = 4
"""Geocoders (one per road-network file) kept in memory between requests."""

ADDRESS_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")


class AddressUpload(Base):
    """The last address table uploaded to a project (addresses: personal data)."""

    __tablename__ = "address_uploads"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ManualLocation(Base):
    """A home placed by a person for one address of a project: it wins over the geocoder."""

    __tablename__ = "manual_locations"
    __table_args__ = (UniqueConstraint("project_id", "address_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    address_key: Mapped[str] = mapped_column(String(64))  # SHA-256 of the folded address
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class GeocoderSettings(Base):
    """The service's one online-geocoder setting, set by an admin (absent: offline only).

    ``nominatim_url`` is used only while ``allow_personal_data_transfer`` is true: the admin's
    explicit statement that pupils' addresses may be sent to that server.
    """

    __tablename__ = "geocoder_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    nominatim_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    allow_personal_data_transfer: Mapped[bool] = mapped_column(Boolean, default=False)
    min_delay_s: Mapped[float] = mapped_column(Float, default=DEFAULT_MIN_DELAY_S)
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


SETTINGS_ID = 1
NOMINATIM_ADAPTER_FACTORY = None
"""geopy adapter for the online geocoder (``None``: geopy's default); tests set a recording one."""

_geocoders: OrderedDict[str, Geocoder] = OrderedDict()
_geocoders_lock = threading.Lock()


def geocoder_settings(session: Session) -> GeocoderSettings | None:
    """The admin's online-geocoder setting, or ``None`` (offline only)."""
    return session.get(GeocoderSettings, SETTINGS_ID)


def set_geocoder_settings(
    session: Session, admin: User, nominatim_url: str | None, allow_personal_data_transfer: bool, min_delay_s: float
) -> GeocoderSettings:
    """Enable (or, with no URL, disable) the online geocoder; audited. Admins only (the router checks).

    Raises
    ------
    InputError
        A URL without the explicit permission, or not http(s).
    """
    if nominatim_url:
        # Checks the permission and the URL exactly as the geocoder itself will.
        NominatimGeocoder(nominatim_url, allow_personal_data_transfer=allow_personal_data_transfer, min_delay_s=min_delay_s)
    row = geocoder_settings(session)
    if row is None:
        row = GeocoderSettings(id=SETTINGS_ID, set_by=admin.username)
        session.add(row)
    row.nominatim_url = nominatim_url or None
    row.allow_personal_data_transfer = bool(nominatim_url) and allow_personal_data_transfer
    row.min_delay_s, row.set_by, row.set_at = min_delay_s, admin.username, utcnow()
    target = f"online geocoder {row.nominatim_url} (personal data leaves the server)" if row.nominatim_url else "offline geocoder only"
    store.audit(session, admin, "geocoder_settings", target)
    session.flush()
    return row


def project_geocoder(project: Project, data_dir: str | Path, settings: GeocoderSettings | None = None):
    """The geocoder for ``project``: the admin's online one when enabled, else the offline one.

    The offline geocoder reads the project's OSM extract (built once, then from the cache).
    """
    if settings is not None and settings.nominatim_url and settings.allow_personal_data_transfer:
        cache = Path(data_dir) / "cache" / "nominatim-responses.json"
        return NominatimGeocoder(
            settings.nominatim_url,
            allow_personal_data_transfer=True,
            cache_path=cache,
            min_delay_s=settings.min_delay_s,
            adapter_factory=NOMINATIM_ADAPTER_FACTORY,
        )
    if project.network_kind != "osm" or not project.network_path:
        raise InputError(
            [
                Problem(
                    "road network", None, None, project.network_filename or "not uploaded",
                    "the district's OSM extract (.osm.pbf, .osm, .osm.bz2): addresses are found in it",
                )
            ]
        )
    key = project.network_sha256 or project.network_path
    with _geocoders_lock:
        if key in _geocoders:
            _geocoders.move_to_end(key)
            return _geocoders[key]
    geocoder = Geocoder(load_index(project.network_path, cache_dir=Path(data_dir) / "cache"))
    with _geocoders_lock:
        _geocoders[key] = geocoder
        while len(_geocoders) > GEOCODER_CACHE_SIZE:
            _geocoders.popitem(last=False)
    return geocoder


def _manual_fixes(session: Session, project_id: int) -> dict[str, ManualFix]:
    rows = session.scalars(select(ManualLocation).where(ManualLocation.project_id == project_id))
    return {r.address_key: ManualFix(r.lon, r.lat, r.set_by, r.set_at.isoformat(timespec="seconds")) for r in rows}


def _geocode(session: Session, project: Project, data_dir, filename: str, content: bytes) -> GeocodedTable:
    geocoder = project_geocoder(project, data_dir, geocoder_settings(session))
    with tempfile.TemporaryDirectory(prefix="schoolbus-addresses-") as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        try:
            table = geocode_table(path, geocoder, manual=_manual_fixes(session, project.id))
        except InputError as error:
            problems = [p if p.file != str(path) else Problem(filename, p.row, p.column, p.value, p.expected) for p in error.problems]
            raise InputError(problems, str(error).split("\n", 1)[0].replace(str(path), filename)) from None
    return GeocodedTable(filename, table.columns, table.rows)


def _save_students(session: Session, user: User, project: Project, table: GeocodedTable) -> None:
    """The pupils placed become the project's students input (validated like any upload)."""
    placed = tuple(r for r in table.rows if r.result.precision != "none")
    if not placed:
        raise InputError([Problem(table.file, None, None, f"{len(table.rows)} addresses", "at least one address found in the road network's OSM extract")])
    with tempfile.TemporaryDirectory(prefix="schoolbus-geocoded-") as folder:
        out = write_geocoded(GeocodedTable(table.file, table.columns, placed), Path(folder) / "students.csv")
        content = out.read_bytes()
    store.save_input(session, user, project.public_id, "students", f"{Path(table.file).stem}-geocoded.csv", content)


def geocode_upload(session: Session, user: User, project_id: str, data_dir, filename: str | None, content: bytes) -> GeocodedTable:
    """Geocode an uploaded address table, keep it, and make its placed pupils the students input.

    Blocking (reads the table, may build the address index): call it off the event loop.

    Raises
    ------
    InputError
        Unreadable table, no address columns, no OSM road network, or nothing found.
    """
    project = store.get_project(session, user, project_id, EDIT)
    filename = safe_filename(filename, "addresses.csv")
    if not filename.lower().endswith(ADDRESS_SUFFIXES):
        raise InputError([Problem(filename, None, None, Path(filename).suffix, f"one of {', '.join(ADDRESS_SUFFIXES)}")])
    check_table_or_document(filename, content)  # a workbook: no zip bomb, no XXE, bounded rows
    table = _geocode(session, project, data_dir, filename, content)
    _save_students(session, user, project, table)
    row = session.get(AddressUpload, project.id)
    if row is None:
        session.add(AddressUpload(project_id=project.id, filename=filename, content=content, uploaded_by=user.username))
    else:
        row.filename, row.content, row.uploaded_by, row.uploaded_at = filename, content, user.username, utcnow()
    store.audit(session, user, "geocode_upload", f"project {project.public_id}: {filename}, {len(table.rows)} rows")
    session.flush()
    return table


def review(session: Session, user: User, project_id: str, data_dir) -> GeocodedTable | None:
    """The project's last address table geocoded again with today's manual locations, or ``None``."""
    project = store.get_project(session, user, project_id, READ_FULL)
    upload = session.get(AddressUpload, project.id)
    if upload is None:
        return None
    return _geocode(session, project, data_dir, upload.filename, upload.content)


def set_manual_location(
    session: Session, user: User, project_id: str, data_dir, row_number: int, lon: float, lat: float
) -> GeocodedTable:
    """Place the home of spreadsheet row ``row_number`` of the last address table by hand.

    The location is kept for that address (it wins over the geocoder in every later upload), the
    students input is rebuilt, and the change is audited. Blocking: call it off the event loop.
    """
    project = store.get_project(session, user, project_id, EDIT)
    problems = []
    if not -180.0 <= lon <= 180.0:
        problems.append(Problem("manual location", row_number, "lon", lon, "a longitude from -180 to 180"))
    if not -90.0 <= lat <= 90.0:
        problems.append(Problem("manual location", row_number, "lat", lat, "a latitude from -90 to 90"))
    if problems:
        raise InputError(problems)
    table = review(session, user, project_id, data_dir)
    if table is None:
        raise store.NotFound(f"no address table uploaded to project {project_id}")
    found = next((r for r in table.rows if r.row == row_number), None)
    if found is None or not found.address:
        raise store.NotFound(f"no address in row {row_number} of {table.file}")
    key = found.address_key
    fix = session.scalar(select(ManualLocation).where(ManualLocation.project_id == project.id, ManualLocation.address_key == key))
    if fix is None:
        session.add(ManualLocation(project_id=project.id, address_key=key, lon=lon, lat=lat, set_by=user.username))
    else:
        fix.lon, fix.lat, fix.set_by, fix.set_at = lon, lat, user.username, utcnow()
    session.flush()
    store.audit(
        session, user, "manual_location",
        f"project {project.public_id}: row {row_number} (pupil {found.student_id or '?'}) placed by hand "
        f"(was {found.result.precision or 'given'})",
    )
    table = review(session, user, project_id, data_dir)
    _save_students(session, user, project, table)
    return table
