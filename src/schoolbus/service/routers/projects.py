"""/api/v1 projects, their input files, road network, policy, fleet, scenarios and jobs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, File, Request, Response, UploadFile
from sqlalchemy.orm import Session

from schoolbus.service import store
from schoolbus.service.auth import EDIT, READ_FULL, READ_SUMMARY
from schoolbus.service.db import Job, PlanRecord, Project, ScenarioRecord, User
from schoolbus.service.deps import api_user, db_session
from schoolbus.service.jobs import cancel_job
from schoolbus.service.schemas import (
    Id,
    InputFileOut,
    InputKind,
    JobIn,
    JobOut,
    MemberIn,
    ProjectIn,
    ProjectOut,
    ScenarioDocument,
    ScenarioIn,
    ScenarioOut,
    UserOut,
)
from schoolbus.service.security import MAX_UPLOAD_BYTES

router = APIRouter()



def project_out(session: Session, project: Project) -> ProjectOut:
    files = [InputFileOut.model_validate(f) for f in sorted(store.input_files(session, project.id).values(), key=lambda f: f.kind)]
    return ProjectOut(
        id=project.public_id,
        name=project.name,
        created_at=project.created_at,
        network_filename=project.network_filename,
        files=files,
    )


def scenario_out(session: Session, record: ScenarioRecord) -> ScenarioOut:
    return ScenarioOut(
        id=record.public_id,
        project_id=store.public_id_of(session, Project, record.project_id),
        name=record.name,
        n_students=record.n_students,
        n_schools=record.n_schools,
        created_at=record.created_at,
    )


def job_out(session: Session, job: Job) -> JobOut:
    return JobOut(
        id=job.public_id,
        project_id=store.public_id_of(session, Project, job.project_id),
        scenario_id=store.public_id_of(session, ScenarioRecord, job.scenario_id),
        plan_id=store.public_id_of(session, PlanRecord, job.plan_id),
        **{f: getattr(job, f) for f in ("kind", "status", "stage", "done", "total", "error", "time_limit_s", "seed", "created_at", "started_at", "finished_at")},
    )


def read_upload(upload: UploadFile) -> bytes:
    """The uploaded file's bytes, refused past :data:`MAX_UPLOAD_BYTES` (the body itself is bounded
    while it streams, :mod:`schoolbus.service.security`)."""
    from schoolbus.errors import InputError, Problem

    content = upload.file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise InputError([Problem(upload.filename or "upload", None, None, "too large", f"at most {MAX_UPLOAD_BYTES} bytes")])
    return content


@router.get("/projects", response_model=list[ProjectOut], tags=["projects"])
def list_projects(user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> list[ProjectOut]:
    return [project_out(session, p) for p in store.list_projects(session, user)]


@router.post("/projects", response_model=ProjectOut, status_code=201, tags=["projects"])
def create_project(body: ProjectIn, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> ProjectOut:
    return project_out(session, store.create_project(session, user, body.name))


@router.get("/projects/{project_id}", response_model=ProjectOut, tags=["projects"])
def get_project(project_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> ProjectOut:
    return project_out(session, store.get_project(session, user, project_id, READ_SUMMARY))


@router.post("/projects/{project_id}/members", response_model=UserOut, tags=["projects"], summary="Add a member")
def add_member(project_id: Id, body: MemberIn, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> User:
    return store.add_member(session, user, project_id, body.username)


@router.put(
    "/projects/{project_id}/files/{kind}",
    response_model=InputFileOut,
    tags=["inputs"],
    summary="Upload students, schools (CSV/XLSX/GeoJSON), fleet or policy (YAML/TOML)",
    description=(
        "Validated like `schoolbus check-inputs`: HTTP 422 lists every problem with its row and column. "
        "When the project has a road network, a students file with homes outside its area is refused, "
        "each pupil listed (send `Accept-Language: tr` or `ar` for Turkish or Arabic messages)."
    ),
)
def upload_file(
    project_id: Id,
    kind: InputKind,
    request: Request,
    file: UploadFile = File(...),
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
):
    # A plain (sync) route: FastAPI runs it in its thread pool, so parsing never blocks the loop.
    content = read_upload(file)
    return store.save_input(
        session, user, project_id, kind, file.filename, content,
        language=api_language(request), cache_dir=network_cache_dir(request),
    )


API_LANGUAGES = ("en", "tr", "ar")
"""Languages the API's messages come in (``Accept-Language``; English when it names none)."""


def api_language(request: Request) -> str:
    """The first of :data:`API_LANGUAGES` the request's ``Accept-Language`` names, else ``en``."""
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";", 1)[0].strip().lower()[:2]
        if tag in API_LANGUAGES:
            return tag
    return "en"


def network_cache_dir(request: Request):
    """The service's road-network cache folder (the road networks are read through it)."""
    return request.app.state.config.data_dir / "cache"


@router.get(
    "/projects/{project_id}/files/{kind}",
    tags=["inputs"],
    summary="Download an uploaded file (the students table holds HOME LOCATIONS: officers and admins only, audited)",
    response_class=Response,
    responses={200: {"description": "The file", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
)
def download_file(project_id: Id, kind: InputKind, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> Response:
    project = store.get_project(session, user, project_id, READ_FULL)
    row = store.input_files(session, project.id).get(kind)
    if row is None:
        raise store.NotFound(f"no {kind} file in project {project_id}")
    store.audit(session, user, "download_input", f"project {project_id}: {kind} {row.filename}")
    return Response(
        row.content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{row.filename}"'},
    )


@router.put("/projects/{project_id}/policy", response_model=InputFileOut, tags=["inputs"], summary="Set the policy (the keys of policy.yaml)")
def set_policy(
    project_id: Id,
    document: dict[str, Any] = Body(..., examples=[{"walk_limit_m": 800, "max_ride_min": 45}]),
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
):
    return store.save_document(session, user, project_id, "policy", document)


@router.put("/projects/{project_id}/fleet", response_model=InputFileOut, tags=["inputs"], summary="Set the fleet and prices (the keys of fleet.yaml)")
def set_fleet(
    project_id: Id,
    document: dict[str, Any] = Body(..., examples=[{"prices": {"currency": "TRY"}, "vehicle_types": [{"id": "midi", "seats": 25, "day_rate": 3800}]}]),
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
):
    return store.save_document(session, user, project_id, "fleet", document)


@router.put("/projects/{project_id}/network", response_model=ProjectOut, tags=["inputs"], summary="Upload the road network (.osm.pbf/.osm or a GeoJSON road layer)")
def upload_network(
    project_id: Id,
    request: Request,
    file: UploadFile = File(...),
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> ProjectOut:
    content = read_upload(file)
    project = store.save_network(session, user, project_id, request.app.state.config.data_dir, file.filename, content)
    return project_out(session, project)


@router.get("/projects/{project_id}/scenarios", response_model=list[ScenarioOut], tags=["scenarios"])
def list_scenarios(project_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> list[ScenarioOut]:
    return [scenario_out(session, r) for r in store.list_scenarios(session, user, project_id)]


@router.post(
    "/projects/{project_id}/scenarios",
    response_model=ScenarioOut,
    status_code=201,
    tags=["scenarios"],
    summary="Build a scenario from the project's current files (all validated together)",
)
def create_scenario(project_id: Id, body: ScenarioIn, request: Request, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> ScenarioOut:
    record = store.create_scenario(
        session, user, project_id, body.name, body.budget_per_year, body.choose_bells,
        language=api_language(request), cache_dir=network_cache_dir(request),
    )
    return scenario_out(session, record)


@router.get("/scenarios/{scenario_id}", response_model=ScenarioOut, tags=["scenarios"])
def get_scenario(scenario_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> ScenarioOut:
    return scenario_out(session, store.get_scenario(session, user, scenario_id))


@router.get(
    "/scenarios/{scenario_id}/scenario.json",
    tags=["scenarios"],
    summary="The scenario.json document (HOME LOCATIONS: officers and admins only, audited)",
    response_class=Response,
    responses={200: {"model": ScenarioDocument, "description": "The scenario.json document, as stored"}},
)
def scenario_document(scenario_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> Response:
    record = store.get_scenario(session, user, scenario_id, READ_FULL)
    store.audit(session, user, "download_scenario", f"scenario {record.public_id}")
    return Response(record.document, media_type="application/json")


@router.get("/projects/{project_id}/jobs", response_model=list[JobOut], tags=["jobs"])
def list_jobs(project_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> list[JobOut]:
    return [job_out(session, j) for j in store.list_jobs(session, user, project_id)]


@router.post("/jobs", response_model=JobOut, status_code=202, tags=["jobs"], summary="Queue a planning job")
def submit_job(body: JobIn, request: Request, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> JobOut:
    job = store.submit_job(session, user, body.scenario_id, body.time_limit_s, body.seed)
    session.commit()
    request.app.state.runner.wake()
    return job_out(session, job)


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"], summary="Job status and progress")
def get_job(job_id: Id, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> JobOut:
    return job_out(session, store.get_job(session, user, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, tags=["jobs"])
def cancel(job_id: Id, request: Request, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> JobOut:
    job = store.get_job(session, user, job_id, EDIT)
    session.commit()
    cancel_job(request.app.state.sessions, job.id)
    request.app.state.runner.wake()
    session.expire_all()
    return job_out(session, store.get_job(session, user, job_id))
