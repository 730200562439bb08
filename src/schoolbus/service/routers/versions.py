"""Plan versions, diffs and the publishing workflow: /api/v1 routes and the versions page.

Who may do what (see :mod:`schoolbus.service.versions`):

* officers (and admins) re-plan a plan with a change file: a draft new version;
* managers (and admins) approve a draft: it is published, the previous one superseded;
* officers and managers of the project see versions and diffs (pupil ids only with full
  read access: managers see counts, stop times per vehicle-day and cost);
* contractors see neither drafts nor this page; they keep their published route sheets.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from schoolbus.diff import diff_plans
from schoolbus.errors import InputError
from schoolbus.service import auth, privacy, store, versions
from schoolbus.service.auth import READ_FULL, READ_SUMMARY, Forbidden, SignedIn
from schoolbus.service.db import PlanRecord, User
from schoolbus.service.deps import api_user, db_session
from schoolbus.service.routers.pages import active_user, check_csrf, render, templates
from schoolbus.service.schemas import DiffOut, Id, ReplanCountsOut, ReplanReportOut, StopTimeChangeOut, VersionOut

router = APIRouter(tags=["versions"])
page_router = APIRouter(include_in_schema=False)

PUPIL_FIELDS = ("added", "removed", "moved", "now_unserved", "now_served")


def clock(seconds: int | None) -> str:
    """``HH:MM`` of seconds after midnight; a dash when there is no time."""
    return "–" if seconds is None else f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


templates.env.filters["clock"] = clock


def _pins_upload(pins: UploadFile | None) -> tuple[str | None, bytes] | None:
    """An optional pins file from a form (a browser sends an empty part when none is chosen)."""
    if pins is None or not pins.filename:
        return None
    return pins.filename, pins.file.read(versions.MAX_CHANGE_FILE_BYTES + 1)


def _cache_dir(request: Request) -> Path:
    return Path(request.app.state.config.data_dir) / "cache"


def _not_contractor(user: User) -> None:
    if user.role == "contractor":
        raise Forbidden("contractors see published route sheets only")


MOVED_BEYOND_S = 300
"""The versions page and API count pupils whose time moved more than this (5 minutes)."""


def _diff_view(session: Session, user: User, plan_a: str, plan_b: str) -> DiffOut:
    """The diff as ``user`` may see it: pupil ids only with full read access, never a home's times."""
    records = [store.get_plan(session, user, i) for i in (plan_a, plan_b)]
    for record in records:
        auth.require(session, user, record.project_id, READ_SUMMARY)
    a, b = (store.load_plan(session, r) for r in records)
    d = diff_plans(a, b)
    counts = {f"n_{key}": len(getattr(d, key)) for key in PUPIL_FIELDS}
    out = DiffOut(
        **asdict(d),
        **counts,
        n_stop_changed=sum(m.is_stop_changed for m in d.moved),
        n_moved_over_5_min=d.n_moved_beyond(MOVED_BEYOND_S),
        cost_per_day_delta=d.cost_per_day_delta,
        cost_per_year_delta=d.cost_per_year_delta,
    )
    if auth.may(session, user, records[1].project_id, READ_FULL):
        return out
    # Stops as the manager's view of each plan has them: no door-to-door stop, so no time at a home.
    seen = diff_plans(privacy.redacted_plan(a, "manager"), privacy.redacted_plan(b, "manager"))
    return out.model_copy(
        update={key: [] for key in PUPIL_FIELDS}
        | {"stops_added": list(seen.stops_added), "stops_removed": list(seen.stops_removed)}
        | {"stop_times": [StopTimeChangeOut(**asdict(c)) for c in seen.stop_times]}
    )


def _described(session: Session, user: User, record: PlanRecord) -> VersionOut:
    """A version as ``user`` may see it: the re-plan's pupil list only with full read access."""
    info = versions.describe(session, record)
    report = info["report"]
    if report is not None:
        report = report | {"n_pupils": len(report["pupils"])}
        if not auth.may(session, user, record.project_id, READ_FULL):
            report = ReplanCountsOut.model_validate({k: v for k, v in report.items() if k != "pupils"})
        else:
            report = ReplanReportOut.model_validate(report)
    return VersionOut.model_validate(info | {"report": report})


@router.get("/plans/{plan_id}/version", response_model=VersionOut, summary="A plan's version, parent, author and publishing status")
def get_version(plan_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> VersionOut:
    _not_contractor(user)
    return _described(session, user, store.get_plan(session, user, plan_id))


@router.get("/projects/{project_id}/versions", response_model=list[VersionOut], summary="Every plan of a project with its version")
def project_versions(project_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> list[VersionOut]:
    _not_contractor(user)
    project = store.get_project(session, user, project_id, READ_SUMMARY)
    records = session.scalars(select(PlanRecord).where(PlanRecord.project_id == project.id).order_by(PlanRecord.id))
    return [_described(session, user, r) for r in records]


@router.post("/plans/{plan_id}/replan", response_model=VersionOut, status_code=201, summary="Re-plan with a change file: a draft new version (officers)")
def replan_plan(
    plan_id: Id,
    request: Request,
    file: UploadFile = File(...),
    pins: UploadFile | None = File(None),
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> VersionOut:
    content = file.file.read(versions.MAX_CHANGE_FILE_BYTES + 1)
    record = versions.create_replan(
        session, user, plan_id, file.filename, content, cache_dir=_cache_dir(request), pins=_pins_upload(pins)
    )
    return _described(session, user, record)


@router.post("/plans/{plan_id}/approve", response_model=VersionOut, summary="Approve and publish a draft (managers)")
def approve_plan(plan_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> VersionOut:
    return _described(session, user, versions.approve(session, user, plan_id))


@router.get("/plans/{plan_a}/diff/{plan_b}", response_model=DiffOut, summary="What changed from one plan to another")
def diff_plans_route(plan_a: Id, plan_b: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> DiffOut:
    _not_contractor(user)
    return _diff_view(session, user, plan_a, plan_b)


@page_router.get("/plans/{plan_id}/versions", response_class=HTMLResponse)
def versions_page(plan_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    return _page(request, session, signed, plan_id)


def _page(request, session, signed: SignedIn, plan_id: str, error: InputError | None = None, status_code: int = 200) -> HTMLResponse:
    user = signed.user
    _not_contractor(user)
    record = store.get_plan(session, user, plan_id)
    info = _described(session, user, record)
    parent = info.parent_plan_id
    return render(
        request,
        "versions.html",
        signed,
        status_code=status_code,
        record=record,
        info=info.model_dump(),
        currency=store.load_plan(session, record).scenario.prices.currency,
        history=versions.history(session, record.project_id),
        diff=_diff_view(session, user, parent, plan_id).model_dump() if parent else None,
        may_edit=auth.may(session, user, record.project_id, auth.EDIT),
        may_approve=user.role in ("manager", "admin") and info.status == versions.DRAFT,
        problems=error.problems if error else (),
    )


@page_router.post("/plans/{plan_id}/versions/replan")
def replan_form(
    plan_id: Id,
    request: Request,
    file: UploadFile = File(...),
    pins: UploadFile | None = File(None),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    content = file.file.read(versions.MAX_CHANGE_FILE_BYTES + 1)
    try:
        record = versions.create_replan(
            session, signed.user, plan_id, file.filename, content, cache_dir=_cache_dir(request), pins=_pins_upload(pins)
        )
    except InputError as error:
        session.rollback()
        return _page(request, session, signed, plan_id, error, status_code=422)
    return RedirectResponse(f"/plans/{record.public_id}/versions", status_code=303)


@page_router.post("/plans/{plan_id}/versions/approve")
def approve_form(
    plan_id: Id,
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    record = versions.approve(session, signed.user, plan_id)
    return RedirectResponse(f"/plans/{record.public_id}/versions", status_code=303)
