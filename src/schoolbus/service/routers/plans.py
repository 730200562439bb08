"""/api/v1 plans, their outputs (map, route sheets, notices, exports), contractors, comparison.

Which view of a plan a request gets is decided here, once per output, from the role:
officers and admins the full plan, managers the view without student-level data, contractors
their own vehicle-days' route sheets only (:mod:`schoolbus.service.privacy`). Every download is
written to the audit log.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import Field, ValidationError
from sqlalchemy.orm import Session

from schoolbus.model import Summary
from schoolbus.planfile import NetworkSource
from schoolbus.service import artifacts, auth, privacy, security, store
from schoolbus.service.auth import EDIT, READ_FULL, READ_SUMMARY, Forbidden
from schoolbus.service.db import Job, PlanRecord, Project, ScenarioRecord, User
from schoolbus.service.deps import api_user, db_session
from schoolbus.service.schemas import (
    PUBLIC_ID_PATTERN,
    ComparisonOut,
    ContractorsIn,
    GeoJsonFeatureCollection,
    Id,
    ManagerPlanDocument,
    MetricOut,
    PlanDocument,
    PlanOut,
    SheetOut,
    inline_schema,
)

router = APIRouter()

Language = Literal["tr", "en", "ar"]
ExportName = Literal["routes.csv", "stops.csv", "assignments.csv", "vehicles.csv", "plan.xlsx", "routes.geojson", "stops.geojson"]
SheetFormat = Literal["pdf", "html"]
MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".geojson": "application/geo+json",
    ".pdf": "application/pdf",
    ".html": "text/html; charset=utf-8",
}
COMPARED_METRICS = (
    "n_vehicles",
    "n_trips",
    "n_students",
    "n_routed",
    "n_unserved",
    "distance_m",
    "deadhead_m",
    "cost_per_day",
    "cost_per_year",
    "cost_per_student_per_day",
    "cost_per_student_per_year",
    "mean_ride_s",
    "p95_ride_s",
    "max_ride_s",
    "mean_walk_m",
    "max_walk_m",
)


def binary(*media_types: str) -> dict:
    """OpenAPI ``responses`` for a file download in one of ``media_types`` (GeoJSON typed, the rest binary)."""
    content = {
        m: {"schema": inline_schema(GeoJsonFeatureCollection) if m.endswith("json") else {"type": "string", "format": "binary"}}
        for m in media_types
    }
    return {200: {"description": "The file", "content": content}}


def plan_out(session: Session, record: PlanRecord, with_summary: bool = True) -> PlanOut:
    return PlanOut(
        id=record.public_id,
        project_id=store.public_id_of(session, Project, record.project_id),
        scenario_id=store.public_id_of(session, ScenarioRecord, record.scenario_id),
        job_id=store.public_id_of(session, Job, record.job_id),
        name=record.name,
        created_at=record.created_at,
        summary=store.plan_summary(record) if with_summary else None,
    )


def artifact_key(record: PlanRecord) -> str:
    """The plan's id and a digest of its document: a store made anew in an old data folder can
    never be served another plan's rendered files under a reused id."""
    return f"{record.id}-{hashlib.sha256(record.document.encode('utf-8')).hexdigest()[:16]}"


def view_role(session: Session, user: User, record: PlanRecord) -> privacy.Role:
    """Which view of the plan ``user`` gets: the full plan (``officer``), ``manager``'s or ``contractor``'s.

    Decided by what the user may do in the plan's project, not by the account's role alone: an
    admin reads the full plan, a manager of the project the manager's view.
    """
    if auth.may(session, user, record.project_id, READ_FULL):
        return "officer"
    if auth.may(session, user, record.project_id, READ_SUMMARY):
        return "manager"
    return "contractor"


def _data_dir(request: Request) -> Path:
    return Path(request.app.state.config.data_dir)


def _file(path: Path, download_name: str) -> FileResponse:
    if not path.is_file():
        raise store.NotFound(f"no file {download_name}")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"), filename=download_name)


@router.get("/plans", response_model=list[PlanOut], tags=["plans"], summary="Plans you may see")
def list_plans(
    project_id: str | None = Query(None, pattern=PUBLIC_ID_PATTERN),
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> list[PlanOut]:
    return [plan_out(session, r, user.role != "contractor") for r in store.list_plans(session, user, project_id)]


@router.get(
    "/plans/{plan_id}",
    response_model=PlanDocument | ManagerPlanDocument,
    tags=["plans"],
    summary="The plan.json document",
    description="Officers and admins get the plan.json contract (`PlanDocument`); managers the document of "
    "their view of the plan (`ManagerPlanDocument`, `redacted_for: manager`): no `students`, stop and visit "
    "counts instead of pupil ids, no door-to-door stop, no server file path. Contractors: 403 (route sheets only).",
)
def get_plan(
    plan_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")
) -> PlanDocument | ManagerPlanDocument:
    record = store.get_plan(session, user, plan_id)
    role = view_role(session, user, record)
    if role == "contractor":
        raise Forbidden("contractors see route sheets only")
    if role in privacy.FULL_VIEW_ROLES:
        body: PlanDocument | ManagerPlanDocument = full_plan_document(session, record)
    else:
        view = privacy.redacted_plan(store.load_plan(session, record), role)
        body = ManagerPlanDocument.of(view, store.plan_network_source(session, record))
    store.audit(session, user, "download_plan", f"plan {plan_id}")
    return body


def full_plan_document(session: Session, record: PlanRecord) -> PlanDocument:
    """The full view's document: the stored ``plan.json``, read typed.

    The full view of a plan is the plan itself (``redacted_plan`` returns it unchanged), and the
    store keeps its ``plan.json`` as :func:`~schoolbus.planfile.plan_to_dict` wrote it, so it is
    validated as it is (several times faster than encoding the plan again). A document of an older
    format version, which the schema does not describe, is read into the domain plan and written
    anew in this version.
    """
    try:
        return PlanDocument.model_validate_json(record.document)
    except ValidationError:
        return PlanDocument.of(store.load_plan(session, record), store.plan_network_source(session, record))


@router.get("/plans/{plan_id}/map", tags=["outputs"], summary="The interactive map (HTML, works offline)", response_class=Response, responses=binary("text/html"))
def plan_map(
    plan_id: Id,
    request: Request,
    language: Language = "tr",
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    record = store.get_plan(session, user, plan_id)
    auth.require(session, user, record.project_id, READ_SUMMARY)
    role = view_role(session, user, record)
    plan = privacy.redacted_plan(store.load_plan(session, record), role)
    view = "full" if role in privacy.FULL_VIEW_ROLES else "manager-redacted"
    path = artifacts.map_html(_data_dir(request), artifact_key(record), view, plan, language)
    store.audit(session, user, "download_map", f"plan {plan_id} ({view}, {language})")
    nonce = request.state.csp_nonce
    return Response(
        security.with_nonce(path.read_text(encoding="utf-8"), nonce),
        media_type=MEDIA_TYPES[".html"],
        headers={"Content-Security-Policy": security.map_policy(nonce)},
    )


def _sheet_folder(request: Request, session: Session, user: User, record: PlanRecord, language: str) -> tuple[Path, list[str]]:
    """The rendered sheets this user may see, and their vehicle ids."""
    plan = store.load_plan(session, record)
    allowed = auth.sheet_vehicles(session, user, record.id, record.project_id, [v.id for v in plan.vehicles])
    if not allowed:
        raise Forbidden("no route sheet of this plan is yours to see")
    role = view_role(session, user, record)
    if role in privacy.FULL_VIEW_ROLES:
        view = "full"
    else:
        # Managers with sheets assigned and contractors alike: their own vehicle-days only.
        view = "contractor-" + hashlib.sha256(",".join(allowed).encode()).hexdigest()[:16]
        plan = privacy.redacted_plan(plan, "contractor", allowed)
    project = session.get(Project, record.project_id)
    source = NetworkSource(project.network_kind, project.network_path, project.network_sha256) if project.network_path else None
    folder = artifacts.route_sheets(_data_dir(request), artifact_key(record), view, plan, language, source)
    return folder, allowed


@router.get("/plans/{plan_id}/sheets", response_model=list[SheetOut], tags=["outputs"], summary="Route sheets you may download")
def list_sheets(
    plan_id: Id,
    language: Language = "tr",
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> list[SheetOut]:
    record = store.get_plan(session, user, plan_id)
    plan = store.load_plan(session, record)
    allowed = auth.sheet_vehicles(session, user, record.id, record.project_id, [v.id for v in plan.vehicles])
    if not allowed:
        raise Forbidden("no route sheet of this plan is yours to see")
    base = f"/api/v1/plans/{plan_id}/sheets"
    return [
        SheetOut(vehicle_id=v, pdf_url=f"{base}/{v}.pdf?language={language}", html_url=f"{base}/{v}.html?language={language}")
        for v in allowed
    ]


@router.get("/plans/{plan_id}/sheets.zip", tags=["outputs"], summary="Every route sheet you may see, in one ZIP", response_class=Response, responses=binary("application/zip"))
def sheets_zip(
    plan_id: Id,
    request: Request,
    language: Language = "tr",
    format: SheetFormat = "pdf",
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    record = store.get_plan(session, user, plan_id)
    folder, allowed = _sheet_folder(request, session, user, record, language)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for vehicle_id in allowed:
            name = f"route_sheet_{vehicle_id}.{language}.{format}"
            path = folder / name
            if path.is_file():
                archive.write(path, name)
    store.audit(session, user, "download_sheets", f"plan {plan_id}: {', '.join(allowed)} ({language}, zip)")
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="route_sheets_plan{plan_id}.{language}.zip"'},
    )


@router.get("/plans/{plan_id}/sheets/{vehicle_id}.{format}", tags=["outputs"], summary="One vehicle-day's route sheet", response_class=Response, responses=binary("application/pdf", "text/html"))
def sheet(
    plan_id: Id,
    vehicle_id: str,
    format: SheetFormat,
    request: Request,
    language: Language = "tr",
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> FileResponse:
    record = store.get_plan(session, user, plan_id)
    folder, allowed = _sheet_folder(request, session, user, record, language)
    if vehicle_id not in allowed:
        raise Forbidden(f"the route sheet of {vehicle_id} is not yours to see")
    name = f"route_sheet_{vehicle_id}.{language}.{format}"
    store.audit(session, user, "download_sheet", f"plan {plan_id}: {vehicle_id} ({language}, {format})")
    response = _file(folder / name, name)
    if format == "html":
        response.headers["Content-Security-Policy"] = security.SHEET_POLICY
        # An HTML sheet is read in the browser (and printed from it); the PDF is the download.
        response.headers["Content-Disposition"] = response.headers["Content-Disposition"].replace("attachment", "inline", 1)
    return response


@router.get("/plans/{plan_id}/notices.pdf", tags=["outputs"], summary="Parent notices, one page per pupil", response_class=Response, responses=binary("application/pdf"))
def notices(plan_id: Id, request: Request, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> FileResponse:
    record = store.get_plan(session, user, plan_id)
    store.require_released(session, record, "parent notices")
    auth.require(session, user, record.project_id, READ_FULL)
    folder = artifacts.parent_notices(_data_dir(request), artifact_key(record), store.load_plan(session, record))
    store.audit(session, user, "download_notices", f"plan {plan_id}")
    return _file(folder / "notices.pdf", f"notices_plan{plan_id}.pdf")


@router.get(
    "/plans/{plan_id}/exports/{name}",
    tags=["outputs"],
    summary="Exported tables (CSV, XLSX, GeoJSON)",
    response_class=Response,
    responses=binary("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/geo+json"),
)
def export(
    plan_id: Id,
    name: ExportName,
    request: Request,
    language: Language = "tr",
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> FileResponse:
    record = store.get_plan(session, user, plan_id)
    auth.require(session, user, record.project_id, READ_FULL)
    folder = artifacts.exports(_data_dir(request), artifact_key(record), store.load_plan(session, record), language)
    store.audit(session, user, "download_export", f"plan {plan_id}: {name} ({language})")
    return _file(folder / name, name)


@router.get("/plans/{plan_id}/contractors", response_model=dict[str, str], tags=["plans"], summary="Vehicle id → contractor")
def get_contractors(plan_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> dict[str, str]:
    record = store.get_plan(session, user, plan_id)
    auth.require(session, user, record.project_id, EDIT)
    return store.contractor_map(session, record.id)


@router.put("/plans/{plan_id}/contractors", response_model=dict[str, str], tags=["plans"], summary="Assign vehicle-days to contractors")
def set_contractors(plan_id: Id, body: ContractorsIn, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> dict[str, str]:
    return store.assign_contractors(session, user, plan_id, body.assignments)


def compare(session: Session, user: User, plan_ids: list[str]) -> ComparisonOut:
    records = []
    for plan_id in plan_ids:
        record = store.get_plan(session, user, plan_id)
        auth.require(session, user, record.project_id, READ_SUMMARY)
        records.append(record)
    summaries = [Summary(**store.plan_summary(r)) for r in records]
    metrics = [MetricOut(key=key, values=[getattr(s, key) for s in summaries]) for key in COMPARED_METRICS]
    return ComparisonOut(plans=[plan_out(session, r) for r in records], metrics=metrics)


@router.get(
    "/comparisons/report.html",
    tags=["plans"],
    summary="The comparison report (as `schoolbus compare` writes it): one HTML file, charts inside",
    description="`language`: `tr`, `en` or `ar` (right to left). Plan-level figures only: no pupil's row or home.",
    response_class=Response,
    responses=binary("text/html"),
)
def comparison_report(
    plan_id: list[Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]] = Query(..., min_length=2, max_length=6, description="Two to six plan ids"),
    language: Language = "tr",
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    import tempfile

    from schoolbus.outputs.reports import render_comparison

    records = []
    for public_id in plan_id:
        record = store.get_plan(session, user, public_id)
        auth.require(session, user, record.project_id, READ_SUMMARY)
        records.append(record)
    names = [r.name for r in records]
    labels = names if len(set(names)) == len(names) else [f"{r.name} ({r.public_id})" for r in records]
    plans = [(label, store.load_plan(session, record)) for label, record in zip(labels, records)]
    with tempfile.TemporaryDirectory(prefix="schoolbus-report-") as folder:
        page = render_comparison(plans, folder, language=language).read_bytes()
    store.audit(session, user, "download_report", f"plans {', '.join(plan_id)} ({language})")
    filename = f"comparison.{language}.html"
    return Response(page, media_type="text/html; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/comparisons", response_model=ComparisonOut, tags=["plans"], summary="Compare plans side by side")
def comparison(
    plan_id: list[Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]] = Query(..., min_length=2, max_length=6, description="Two to six plan ids"),
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> ComparisonOut:
    return compare(session, user, plan_id)
