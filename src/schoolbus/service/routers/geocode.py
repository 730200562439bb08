"""Addresses → homes: the API under /api/v1 and the review page, officers and admins only.

API: ``PUT /projects/{id}/addresses`` uploads an address table (geocoded offline with the
project's OSM extract; the pupils placed become the students input), ``GET
/projects/{id}/geocode`` returns the review list, ``PUT /projects/{id}/geocode/manual`` places one
pupil's home by hand. Page: ``/projects/{id}/geocode`` shows the pupils that need a look on a map
and in a list; a marker is dragged (or the map clicked, or coordinates typed) and saved.

Uploads are read with a size bound and geocoded off the event loop (``run_in_threadpool``). The
service geocodes offline; an online Nominatim-compatible geocoder is used only after an admin
enables it with ``PUT /geocoding/settings``, stating that pupils' addresses may leave the server.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from schoolbus.errors import InputError, Problem
from schoolbus.geocode.review import LABELS, PRECISION_COLOURS
from schoolbus.geocode.table import DEFAULT_REVIEW_SCORE, GeocodedTable
from schoolbus.service import auth, geocoding, security, store
from schoolbus.service.auth import EDIT, READ_FULL, SignedIn
from schoolbus.service.db import User
from schoolbus.service.deps import admin_user, api_user, db_session
from schoolbus.service.i18n import translate
from schoolbus.service.routers.pages import active_user, check_csrf, render
from schoolbus.service.schemas import Id

router = APIRouter(tags=["geocoding"])
page_router = APIRouter(include_in_schema=False)

_STATIC = Path(__file__).resolve().parents[2] / "static"
_PAGE_STATIC = {
    "leaflet.js": (_STATIC / "leaflet-1.9.4" / "leaflet.js", "text/javascript"),
    "leaflet.css": (_STATIC / "leaflet-1.9.4" / "leaflet.css", "text/css"),
    "review.js": (Path(__file__).resolve().parents[1] / "static" / "geocode_review.js", "text/javascript"),
}


class ReviewRowOut(BaseModel):
    row: int = Field(description="Row as numbered in Excel (header = row 1)")
    student_id: str | None
    address: str = Field(description="The address as written (parts joined)")
    precision: str = Field(description="manual, house, interpolated, street, neighbourhood, district or none")
    score: int = Field(ge=0, le=100)
    match: str = Field(description="What was matched in OSM")
    lon: float | None
    lat: float | None


class GeocodeReviewOut(BaseModel):
    filename: str
    n_rows: int
    n_placed: int = Field(description="Pupils with a location (they are in the students input)")
    summary: dict[str, int] = Field(description="Pupils per precision")
    min_score: int
    review: list[ReviewRowOut] = Field(description="Pupils coarser than a street, scored below min_score, or not found")


class ManualLocationIn(BaseModel):
    row: int = Field(ge=2, le=10_000_000, description="Row of the address table, as numbered in Excel")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


def review_out(table: GeocodedTable, min_score: int = DEFAULT_REVIEW_SCORE) -> GeocodeReviewOut:
    return GeocodeReviewOut(
        filename=table.file,
        n_rows=len(table.rows),
        n_placed=sum(1 for r in table.rows if r.result.location is not None),
        summary=table.summary(),
        min_score=min_score,
        review=[
            ReviewRowOut(
                row=r.row, student_id=r.student_id, address=r.address, precision=r.result.precision,
                score=r.result.score, match=r.result.match, lon=r.result.lon, lat=r.result.lat,
            )
            for r in table.review(min_score)
        ],
    )


async def _read_bounded(upload: UploadFile) -> bytes:
    content = await upload.read(geocoding.MAX_ADDRESS_UPLOAD_BYTES + 1)
    if len(content) > geocoding.MAX_ADDRESS_UPLOAD_BYTES:
        raise InputError(
            [Problem(upload.filename or "upload", None, None, "too large", f"at most {geocoding.MAX_ADDRESS_UPLOAD_BYTES} bytes")]
        )
    return content


# ---- API -------------------------------------------------------------------------------------------


@router.put(
    "/projects/{project_id}/addresses",
    response_model=GeocodeReviewOut,
    summary="Upload a students table with addresses: geocoded offline, placed pupils become the students input",
    description="Officers and admins. The project's road network must be an OSM extract. HTTP 422 lists every problem.",
)
async def upload_addresses(
    project_id: Id,
    request: Request,
    file: UploadFile = File(...),
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> GeocodeReviewOut:
    content = await _read_bounded(file)
    data_dir = request.app.state.config.data_dir
    table = await run_in_threadpool(geocoding.geocode_upload, session, user, project_id, data_dir, file.filename, content)
    return review_out(table)


@router.get(
    "/projects/{project_id}/geocode",
    response_model=GeocodeReviewOut,
    summary="The review list of the last address table (HOME LOCATIONS: officers and admins only)",
)
async def get_review(
    project_id: Id, request: Request, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")
) -> GeocodeReviewOut:
    table = await run_in_threadpool(geocoding.review, session, user, project_id, request.app.state.config.data_dir)
    if table is None:
        raise store.NotFound(f"no address table uploaded to project {project_id}")
    return review_out(table)


@router.put(
    "/projects/{project_id}/geocode/manual",
    response_model=GeocodeReviewOut,
    summary="Place one pupil's home by hand (kept for that address, wins over the geocoder, audited)",
)
async def put_manual_location(
    project_id: Id,
    body: ManualLocationIn,
    request: Request,
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> GeocodeReviewOut:
    data_dir = request.app.state.config.data_dir
    table = await run_in_threadpool(geocoding.set_manual_location, session, user, project_id, data_dir, body.row, body.lon, body.lat)
    return review_out(table)


class GeocoderSettingsIn(BaseModel):
    nominatim_url: str | None = Field(
        default=None, max_length=500, description="A Nominatim-compatible server (self-hosted); null: offline only"
    )
    allow_personal_data_transfer: bool = Field(
        default=False, description="Must be true with a URL: pupils' addresses are sent to that server"
    )
    min_delay_s: float = Field(default=1.0, ge=0, le=60, description="Seconds between two requests")


class GeocoderSettingsOut(BaseModel):
    nominatim_url: str | None
    allow_personal_data_transfer: bool
    min_delay_s: float
    set_by: str | None
    set_at: dt.datetime | None


def _settings_out(row) -> GeocoderSettingsOut:
    if row is None:
        return GeocoderSettingsOut(nominatim_url=None, allow_personal_data_transfer=False, min_delay_s=1.0, set_by=None, set_at=None)
    return GeocoderSettingsOut(
        nominatim_url=row.nominatim_url, allow_personal_data_transfer=row.allow_personal_data_transfer,
        min_delay_s=row.min_delay_s, set_by=row.set_by, set_at=row.set_at,
    )


@router.get("/geocoding/settings", response_model=GeocoderSettingsOut, summary="The online geocoder setting (admins)")
def get_settings(_: User = Depends(admin_user), session: Session = Depends(db_session, scope="function")) -> GeocoderSettingsOut:
    return _settings_out(geocoding.geocoder_settings(session))


@router.put(
    "/geocoding/settings",
    response_model=GeocoderSettingsOut,
    summary="Enable an online geocoder for every project (admins; sends pupils' addresses to it; audited)",
    description="Off by default: the service geocodes offline with each project's OSM extract. A URL is refused "
    "unless allow_personal_data_transfer is true. Send no URL to go back to offline only.",
)
def put_settings(
    body: GeocoderSettingsIn, admin: User = Depends(admin_user), session: Session = Depends(db_session, scope="function")
) -> GeocoderSettingsOut:
    row = geocoding.set_geocoder_settings(session, admin, body.nominatim_url, body.allow_personal_data_transfer, body.min_delay_s)
    return _settings_out(row)


# ---- page ------------------------------------------------------------------------------------------


def _words(language: str):
    """The page's ``_``: the precisions of the geocode catalogue, the site's ``service`` catalogue for the rest."""
    from schoolbus.geocode.review import translations

    precisions = set(LABELS.values())

    def _(text: str, **params) -> str:
        said = translations(language).gettext(text) if text in precisions else translate(text, language)
        return said % params if params else said

    return _


def _page(request: Request, session: Session, signed: SignedIn, project_id: str, table, status_code: int = 200, problems=None):
    project = store.get_project(session, signed.user, project_id, READ_FULL)
    may_edit = auth.may(session, signed.user, project.id, EDIT)
    rows = [] if table is None else review_out(table).review
    if table is not None:
        # The review map: Leaflet and review.js, same-origin files carrying this response's nonce.
        security.allow_page_scripts(request)
    response = render(
        request, "geocode.html", signed, status_code=status_code,
        project=project,
        may_edit=may_edit,
        table=table,
        rows=rows,
        summary=None if table is None else table.summary(),
        precision_labels=LABELS,
        review_data={
            "rows": [r.model_dump() for r in rows],
            "colours": PRECISION_COLOURS,
            "editable": may_edit,
        },
        problems=problems,
        problem_title="addresses",
        _=_words(signed.language),
    )
    return response


@page_router.get("/projects/{project_id}/geocode", response_class=HTMLResponse)
async def review_page(
    project_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")
) -> Response:
    table = await run_in_threadpool(geocoding.review, session, signed.user, project_id, request.app.state.config.data_dir)
    return _page(request, session, signed, project_id, table)


@page_router.post("/projects/{project_id}/geocode/upload")
async def review_upload(
    project_id: Id,
    request: Request,
    file: UploadFile = File(...),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    try:
        content = await _read_bounded(file)
        await run_in_threadpool(
            geocoding.geocode_upload, session, signed.user, project_id, request.app.state.config.data_dir, file.filename, content
        )
    except InputError as error:
        session.rollback()
        table = await run_in_threadpool(geocoding.review, session, signed.user, project_id, request.app.state.config.data_dir)
        return _page(request, session, signed, project_id, table, status_code=422, problems=error.problems)
    return RedirectResponse(f"/projects/{project_id}/geocode", status_code=303)


@page_router.post("/projects/{project_id}/geocode/manual")
async def review_manual(
    project_id: Id,
    request: Request,
    row: int = Form(...),
    lon: str = Form(...),
    lat: str = Form(...),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    from schoolbus.ingest import number_from_cell as number_of

    check_csrf(signed, csrf_token)
    lon_value, lat_value = number_of(lon), number_of(lat)
    try:
        if lon_value is None or lat_value is None:
            raise InputError(
                [Problem("manual location", row, "lon, lat", f"{lon}, {lat}", "two numbers in degrees (decimal point or comma)")]
            )
        await run_in_threadpool(
            geocoding.set_manual_location, session, signed.user, project_id, request.app.state.config.data_dir, row, lon_value, lat_value
        )
    except InputError as error:
        session.rollback()
        table = await run_in_threadpool(geocoding.review, session, signed.user, project_id, request.app.state.config.data_dir)
        return _page(request, session, signed, project_id, table, status_code=422, problems=error.problems)
    return RedirectResponse(f"/projects/{project_id}/geocode", status_code=303)


@page_router.get("/geocode-static/{name}")
def page_static(name: str) -> Response:
    """Leaflet and the review script, served from the package (the page fetches nothing else but tiles)."""
    if name not in _PAGE_STATIC:
        raise store.NotFound(f"no static file {name!r}")
    path, media_type = _PAGE_STATIC[name]
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=3600"})

