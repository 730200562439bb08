"""What the API and the pages do to the store, in one place: both only translate to and from HTTP.

Every function that touches a project takes the signed-in user and checks the role first
(:func:`schoolbus.service.auth.require`), so no route can forget it.
"""

from __future__ import annotations

import functools
import json
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schoolbus.errors import InputError, Problem
from schoolbus.model import Plan
from schoolbus.planfile import PLAN_FILE, SCENARIO_FILE, NetworkSource, read_plan
from schoolbus.service import auth
from schoolbus.service.auth import EDIT, READ_SUMMARY, Forbidden
from schoolbus.service.db import (
    FINISHED_STATUSES,
    INPUT_KINDS,
    AuditEntry,
    InputFile,
    Job,
    PlanRecord,
    Project,
    ScenarioRecord,
    User,
    VehicleContractor,
    utcnow,
)
from schoolbus.service.scenarios import (
    build_scenario,
    document_yaml,
    helsinki_pbf,
    safe_filename,
    store_network,
    validate_upload,
)

DEMO_PROJECT = "demo"
MAX_NAME_CHARS = 120
PLAN_CACHE_SIZE = 8
"""Decoded plans kept in memory (a plan is immutable once written)."""


class NotFound(Exception):
    """No such project, scenario, job, plan or user (HTTP 404)."""


def audit(session: Session, user: User | None, action: str, target: str) -> None:
    """Record a download or an account change."""
    session.add(
        AuditEntry(
            user_id=user.id if user else None,
            username=user.username if user else "(system)",
            action=action,
            target=target,
        )
    )


# --------------------------------------------------------------------------------------------------
# Projects and members
# --------------------------------------------------------------------------------------------------


def _name(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > MAX_NAME_CHARS:
        raise InputError([Problem(what, None, "name", value, f"1-{MAX_NAME_CHARS} characters")])
    return value


def list_projects(session: Session, user: User) -> list[Project]:
    ids = auth.visible_project_ids(session, user)
    query = select(Project).order_by(Project.id)
    if ids is not None:
        query = query.where(Project.id.in_(ids))
    return list(session.scalars(query))


def create_project(session: Session, user: User, name: str) -> Project:
    if user.role not in ("admin", "officer"):
        raise Forbidden(f"a {user.role} may not create projects")
    name = _name(name, "project")
    if session.scalar(select(Project.id).where(Project.name == name)) is not None:
        raise InputError([Problem("project", None, "name", name, "a name no other project has")])
    project = Project(name=name)
    session.add(project)
    session.flush()
    if user.role != "admin":
        auth.add_member(session, project, user)
    return project


def get_project(session: Session, user: User, project_id: int, action: str) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    auth.require(session, user, project_id, action)
    return project


def get_user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    if found is None:
        raise NotFound(f"no user {username!r}")
    return found


def add_member(session: Session, user: User, project_id: int, username: str) -> User:
    project = get_project(session, user, project_id, EDIT)
    member = get_user(session, username)
    if member.role == "admin":
        raise InputError([Problem("member", None, "username", username, "a non-admin account (admins see every project)")])
    auth.add_member(session, project, member)
    audit(session, user, "add_member", f"project {project.id}: {username}")
    return member


# --------------------------------------------------------------------------------------------------
# Inputs, road networks and scenarios
# --------------------------------------------------------------------------------------------------


def save_input(session: Session, user: User, project_id: int, kind: str, filename: str | None, content: bytes) -> InputFile:
    """Validate and keep an uploaded students, schools, fleet or policy file (replacing the last)."""
    project = get_project(session, user, project_id, EDIT)
    if kind not in INPUT_KINDS:
        raise NotFound(f"no input kind {kind!r}; expected one of {', '.join(INPUT_KINDS)}")
    filename = safe_filename(filename, f"{kind}.csv")
    n_rows = validate_upload(kind, filename, content)
    row = session.scalar(select(InputFile).where(InputFile.project_id == project.id, InputFile.kind == kind))
    if row is None:
        row = InputFile(project_id=project.id, kind=kind, filename=filename, content=content, n_rows=n_rows)
        session.add(row)
    else:
        row.filename, row.content, row.n_rows = filename, content, n_rows
        row.uploaded_at = utcnow()
    session.flush()
    return row


def save_document(session: Session, user: User, project_id: int, kind: str, document: dict[str, Any]) -> InputFile:
    """Keep a fleet or policy given as JSON (the keys of the YAML file), validated the same way."""
    return save_input(session, user, project_id, kind, f"{kind}.yaml", document_yaml(document))


def input_files(session: Session, project_id: int) -> dict[str, InputFile]:
    rows = session.scalars(select(InputFile).where(InputFile.project_id == project_id))
    return {row.kind: row for row in rows}


def save_network(session: Session, user: User, project_id: int, data_dir: Path, filename: str | None, content: bytes) -> Project:
    project = get_project(session, user, project_id, EDIT)
    filename = safe_filename(filename, "roads.geojson")
    kind, path, digest = store_network(Path(data_dir) / "networks", filename, content)
    project.network_kind, project.network_path, project.network_sha256 = kind, str(path), digest
    project.network_filename = filename
    return project


def create_scenario(
    session: Session, user: User, project_id: int, name: str, budget_per_year: float | None = None, choose_bells: bool = False
) -> ScenarioRecord:
    """Validate the project's current files together into a scenario and keep its scenario.json."""
    from schoolbus.planfile import scenario_to_dict

    project = get_project(session, user, project_id, EDIT)
    name = _name(name, "scenario")
    files = {kind: (row.filename, row.content) for kind, row in input_files(session, project.id).items()}
    scenario = build_scenario(name, files, budget_per_year, choose_bells)
    record = ScenarioRecord(
        project_id=project.id,
        name=name,
        document=json.dumps(scenario_to_dict(scenario), ensure_ascii=False),
        n_students=len(scenario.students),
        n_schools=len(scenario.schools),
    )
    session.add(record)
    session.flush()
    return record


def list_scenarios(session: Session, user: User, project_id: int) -> list[ScenarioRecord]:
    get_project(session, user, project_id, READ_SUMMARY)
    return list(session.scalars(select(ScenarioRecord).where(ScenarioRecord.project_id == project_id).order_by(ScenarioRecord.id)))


def get_scenario(session: Session, user: User, scenario_id: int, action: str = READ_SUMMARY) -> ScenarioRecord:
    record = session.get(ScenarioRecord, scenario_id)
    if record is None:
        raise NotFound(f"no scenario {scenario_id}")
    auth.require(session, user, record.project_id, action)
    return record


# --------------------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------------------


MAX_TIME_LIMIT_S = 600.0


def submit_job(session: Session, user: User, scenario_id: int, time_limit_s: float, seed: int) -> Job:
    """Queue a planning job for a scenario (the dispatcher must be woken afterwards)."""
    record = get_scenario(session, user, scenario_id, EDIT)
    project = session.get(Project, record.project_id)
    if project.network_path is None:
        raise InputError([Problem("road network", None, None, "not uploaded", "a road network file for the project")])
    job = Job(
        project_id=record.project_id,
        scenario_id=record.id,
        kind="plan",
        time_limit_s=float(time_limit_s),
        seed=int(seed),
        created_by=user.id,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, user: User, job_id: int, action: str = READ_SUMMARY) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    auth.require(session, user, job.project_id, action)
    return job


def list_jobs(session: Session, user: User, project_id: int) -> list[Job]:
    get_project(session, user, project_id, READ_SUMMARY)
    return list(session.scalars(select(Job).where(Job.project_id == project_id).order_by(Job.id.desc())))


def preload_demo(session: Session, n_students: int) -> Job | None:
    """On a store with no project: the ``demo`` project on the Helsinki extract and its queued job."""
    if session.scalar(select(Project.id).limit(1)) is not None:
        return None
    source = NetworkSource.from_file("osm", helsinki_pbf())
    project = Project(
        name=DEMO_PROJECT,
        network_kind=source.kind,
        network_path=str(source.value),
        network_sha256=source.sha256,
        network_filename=helsinki_pbf().name,
    )
    session.add(project)
    session.flush()
    job = Job(project_id=project.id, kind="demo", demo_n_students=n_students, time_limit_s=5.0, seed=0)
    session.add(job)
    session.flush()
    return job


def is_finished(job: Job) -> bool:
    return job.status in FINISHED_STATUSES


# --------------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------------


def get_plan(session: Session, user: User, plan_id: int) -> PlanRecord:
    """A plan record; any role with some view of it passes (each output checks its own right)."""
    record = session.get(PlanRecord, plan_id)
    if record is None:
        raise NotFound(f"no plan {plan_id}")
    if user.role == "contractor":
        if not auth.contractor_vehicles(session, user, plan_id):
            raise Forbidden("no vehicle of this plan is assigned to you")
    else:
        auth.require(session, user, record.project_id, READ_SUMMARY)
    return record


def list_plans(session: Session, user: User, project_id: int | None = None) -> list[PlanRecord]:
    query = select(PlanRecord).order_by(PlanRecord.id)
    if user.role == "contractor":
        mine = select(VehicleContractor.plan_id).where(VehicleContractor.user_id == user.id)
        query = query.where(PlanRecord.id.in_(mine))
    else:
        ids = auth.visible_project_ids(session, user)
        if ids is not None:
            query = query.where(PlanRecord.project_id.in_(ids))
    if project_id is not None:
        query = query.where(PlanRecord.project_id == project_id)
    return list(session.scalars(query))


def assign_contractors(session: Session, user: User, plan_id: int, assignments: dict[str, str | None]) -> dict[str, str]:
    """Assign vehicle-days to contractor accounts (``None`` removes one); the resulting map."""
    record = get_plan(session, user, plan_id)
    auth.require(session, user, record.project_id, EDIT)
    vehicle_ids = {v["id"] for v in json.loads(record.document)["vehicles"]}
    problems = []
    for vehicle_id, username in assignments.items():
        if vehicle_id not in vehicle_ids:
            problems.append(Problem("contractors", None, vehicle_id, vehicle_id, "a vehicle id of this plan"))
        elif username is not None:
            found = session.scalar(select(User).where(User.username == username))
            if found is None or found.role != "contractor":
                problems.append(Problem("contractors", None, vehicle_id, username, "the username of a contractor account"))
    if problems:
        raise InputError(problems)
    for vehicle_id, username in assignments.items():
        row = session.get(VehicleContractor, (plan_id, vehicle_id))
        if username is None:
            if row is not None:
                session.delete(row)
            continue
        contractor = get_user(session, username)
        if row is None:
            session.add(VehicleContractor(plan_id=plan_id, vehicle_id=vehicle_id, user_id=contractor.id))
        else:
            row.user_id = contractor.id
    session.flush()
    audit(session, user, "assign_contractors", f"plan {plan_id}")
    return contractor_map(session, plan_id)


def contractor_map(session: Session, plan_id: int) -> dict[str, str]:
    rows = session.execute(
        select(VehicleContractor.vehicle_id, User.username)
        .join(User, User.id == VehicleContractor.user_id)
        .where(VehicleContractor.plan_id == plan_id)
    )
    return {vehicle_id: username for vehicle_id, username in rows}


_plan_cache: OrderedDict[tuple[str, int], Plan] = OrderedDict()
_plan_cache_lock = threading.Lock()


def load_plan(session: Session, record: PlanRecord) -> Plan:
    """The model plan of a record, decoded through :func:`schoolbus.planfile.read_plan`."""
    key = (str(session.get_bind().url), record.id)
    with _plan_cache_lock:
        if key in _plan_cache:
            _plan_cache.move_to_end(key)
            return _plan_cache[key]
    scenario = session.get(ScenarioRecord, record.scenario_id) if record.scenario_id else None
    if scenario is None:
        raise NotFound(f"the scenario of plan {record.id} was deleted")
    # read_plan reads a directory; the scenario document is written only for that moment, into a
    # private temporary folder.
    with tempfile.TemporaryDirectory(prefix="schoolbus-plan-") as folder:
        Path(folder, PLAN_FILE).write_text(record.document, encoding="utf-8")
        Path(folder, SCENARIO_FILE).write_text(scenario.document, encoding="utf-8")
        plan = read_plan(folder)
    with _plan_cache_lock:
        _plan_cache[key] = plan
        while len(_plan_cache) > PLAN_CACHE_SIZE:
            _plan_cache.popitem(last=False)
    return plan


@functools.lru_cache(maxsize=64)
def _summary_of(document: str) -> dict[str, Any]:
    return json.loads(document)["summary"]


def plan_summary(record: PlanRecord) -> dict[str, Any]:
    return _summary_of(record.document)
