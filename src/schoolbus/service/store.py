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
from schoolbus.model import Plan, Scenario
from schoolbus.planfile import PLAN_FILE, SCENARIO_FILE, NetworkSource, read_network_source, read_plan
from schoolbus.service import auth
from schoolbus.service.auth import EDIT, READ_SUMMARY, Forbidden
from schoolbus.service.db import (
    FINISHED_STATUSES,
    INPUT_KINDS,
    AuditEntry,
    InputFile,
    Job,
    PlanRecord,
    PlanVersion,
    Project,
    ScenarioRecord,
    User,
    VehicleContractor,
    utcnow,
)
from schoolbus.service.scenarios import (
    build_scenario,
    check_homes_in_network,
    document_yaml,
    helsinki_pbf,
    read_upload_policy,
    read_upload_students,
    safe_filename,
    store_network,
    validate_upload,
)

DEMO_PROJECT = "demo"
MAX_NAME_CHARS = 120
PLAN_CACHE_SIZE = 8
"""Decoded plans kept in memory (a plan is immutable once written)."""


class NotFound(Exception):
    """No such project, scenario, job, plan or user (HTTP 404; to admins only, see below)."""


def not_yours_or_not_there(user: User, what: str, ident: object) -> Exception:
    """The one answer to "that does not exist" and "that is not yours to see".

    Anyone but an admin gets the same 403 for both, so no answer tells whether another project's
    object exists; an admin sees everything, so for them "not there" is a plain 404.
    """
    if user is not None and user.role == "admin":
        return NotFound(f"no {what} {ident}")
    return Forbidden(f"no {what} {ident}, or not yours to see")


def _visible_project(session: Session, user: User, project_id: int, what: str, ident: object) -> None:
    """Raise :func:`not_yours_or_not_there` unless ``user`` may see project ``project_id`` at all."""
    if not auth.may(session, user, project_id, READ_SUMMARY):
        raise not_yours_or_not_there(user, what, ident)


def audit(session: Session, user: User | None, action: str, target: str, username: str | None = None) -> None:
    """Record a sign-in, an upload, a job, a download or an account change."""
    session.add(
        AuditEntry(
            user_id=user.id if user else None,
            username=(user.username if user else username or "(system)")[:80],
            action=action,
            target=target,
        )
    )


# --------------------------------------------------------------------------------------------------
# Accounts (admin)
# --------------------------------------------------------------------------------------------------


def _other_active_admin(session: Session, user: User) -> bool:
    return session.scalar(select(User.id).where(User.role == "admin", User.is_active, User.id != user.id).limit(1)) is not None


def set_active(session: Session, admin: User, username: str, is_active: bool) -> User:
    """Disable (every session and token ends) or enable an account; the last admin stays."""
    user = get_user(session, username)
    if not is_active and user.role == "admin" and not _other_active_admin(session, user):
        raise ValueError(f"{username}: the last active admin cannot be disabled")
    user.is_active = is_active
    if not is_active:
        auth.revoke_all(session, user)
    audit(session, admin, "enable_user" if is_active else "disable_user", username)
    return user


def revoke_tokens(session: Session, admin: User, username: str) -> User:
    """End every web session and API token of an account."""
    user = get_user(session, username)
    n = auth.revoke_all(session, user)
    audit(session, admin, "revoke_tokens", f"{username}: {n} sessions and tokens")
    return user


def change_role(session: Session, admin: User, username: str, role: str) -> User:
    """Give an account another role; its sessions and tokens end (they were granted for the old one)."""
    from schoolbus.service.db import ROLES

    user = get_user(session, username)
    if role not in ROLES:
        raise ValueError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if user.role == "admin" and role != "admin" and not _other_active_admin(session, user):
        raise ValueError(f"{username}: the last active admin keeps the admin role")
    old = user.role
    user.role = role
    auth.revoke_all(session, user)
    audit(session, admin, "change_role", f"{username}: {old} -> {role}")
    return user


def change_settings(session: Session, admin: User, require_totp: bool):
    """Switch the second factor for admins and officers on or off."""
    from schoolbus.service.schemas import SettingsOut

    auth.set_setting(session, auth.REQUIRE_TOTP, "1" if require_totp else "0")
    audit(session, admin, "change_setting", f"{auth.REQUIRE_TOTP}={'on' if require_totp else 'off'}")
    return SettingsOut(require_totp=require_totp)


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


def by_public_id(session: Session, model, public_id: str):
    return session.scalar(select(model).where(model.public_id == str(public_id)))


def get_project(session: Session, user: User, project_id: str, action: str) -> Project:
    """The project of public id ``project_id`` if ``user`` may do ``action`` in it."""
    project = by_public_id(session, Project, project_id)
    if project is None:
        raise not_yours_or_not_there(user, "project", project_id)
    _visible_project(session, user, project.id, "project", project_id)
    auth.require(session, user, project.id, action)
    return project


def get_user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    if found is None:
        raise NotFound(f"no user {username!r}")
    return found


def add_member(session: Session, user: User, project_id: int, username: str) -> User:
    project = get_project(session, user, project_id, EDIT)
    member = session.scalar(select(User).where(User.username == username))
    # An unknown name and an admin's name get the same answer: no way to list the admins.
    if member is None or member.role == "admin":
        raise InputError([Problem("member", None, "username", username, "the username of an officer, manager or contractor account")])
    auth.add_member(session, project, member)
    audit(session, user, "add_member", f"project {project.public_id}: {username}")
    return member


# --------------------------------------------------------------------------------------------------
# Inputs, road networks and scenarios
# --------------------------------------------------------------------------------------------------


def save_input(
    session: Session, user: User, project_id: int, kind: str, filename: str | None, content: bytes,
    *, language: str = "en", cache_dir: Path | None = None,
) -> InputFile:
    """Validate and keep an uploaded students, schools, fleet or policy file (replacing the last).

    With ``cache_dir`` (the service's network cache) and a road network in the project, a students
    file whose homes lie outside the network's area is refused, each pupil named in ``language``.
    """
    project = get_project(session, user, project_id, EDIT)
    if kind not in INPUT_KINDS:
        raise NotFound(f"no input kind {kind!r}; expected one of {', '.join(INPUT_KINDS)}")
    filename = safe_filename(filename, f"{kind}.csv")
    n_rows = validate_upload(kind, filename, content)
    if kind == "students" and cache_dir is not None:
        _check_homes(session, project, read_upload_students(filename, content), filename, language, cache_dir)
    row = session.scalar(select(InputFile).where(InputFile.project_id == project.id, InputFile.kind == kind))
    if row is None:
        row = InputFile(project_id=project.id, kind=kind, filename=filename, content=content, n_rows=n_rows)
        session.add(row)
    else:
        row.filename, row.content, row.n_rows = filename, content, n_rows
        row.uploaded_at = utcnow()
    session.flush()
    audit(session, user, "upload", f"project {project.public_id}: {kind} {filename} ({len(content)} bytes)")
    return row


def _check_homes(session: Session, project: Project, students, filename: str, language: str, cache_dir: Path) -> None:
    """:func:`check_homes_in_network` against the project's road network and policy, if it has a network."""
    if not project.network_path:
        return
    files = input_files(session, project.id)
    policy_file = files.get("policy")
    policy = read_upload_policy(None if policy_file is None else (policy_file.filename, policy_file.content))
    source = NetworkSource(project.network_kind, project.network_path, project.network_sha256)
    check_homes_in_network(students, filename, policy, source, Path(cache_dir), language)


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
    audit(session, user, "upload", f"project {project.public_id}: network {filename} ({len(content)} bytes)")
    return project


def create_scenario(
    session: Session, user: User, project_id: int, name: str, budget_per_year: float | None = None, choose_bells: bool = False,
    *, language: str = "en", cache_dir: Path | None = None,
) -> ScenarioRecord:
    """Validate the project's current files together into a scenario and keep its scenario.json.

    With ``cache_dir``, homes outside the project's road network's area are refused as on upload
    (the network may have changed since the students were uploaded).
    """
    project = get_project(session, user, project_id, EDIT)
    name = _name(name, "scenario")
    files = {kind: (row.filename, row.content) for kind, row in input_files(session, project.id).items()}
    scenario = build_scenario(name, files, budget_per_year, choose_bells)
    if cache_dir is not None and project.network_path:
        source = NetworkSource(project.network_kind, project.network_path, project.network_sha256)
        check_homes_in_network(scenario.students, files["students"][0], scenario.policy, source, Path(cache_dir), language)
    return add_scenario(session, user, project.public_id, scenario)


def add_scenario(session: Session, user: User, project_id: str, scenario: Scenario) -> ScenarioRecord:
    """Keep an already validated scenario (one derived from another, say) as a new scenario."""
    from schoolbus.planfile import scenario_to_dict

    project = get_project(session, user, project_id, EDIT)
    record = ScenarioRecord(
        project_id=project.id,
        name=_name(scenario.name, "scenario"),
        document=json.dumps(scenario_to_dict(scenario), ensure_ascii=False),
        n_students=len(scenario.students),
        n_schools=len(scenario.schools),
    )
    session.add(record)
    session.flush()
    audit(session, user, "create_scenario", f"project {project.public_id}: scenario {record.public_id}")
    return record


def scenario_has_plans(session: Session, record: ScenarioRecord) -> bool:
    return session.scalar(select(PlanRecord.id).where(PlanRecord.scenario_id == record.id).limit(1)) is not None


def replace_scenario(session: Session, user: User, scenario_id: str, scenario: Scenario) -> ScenarioRecord:
    """Put ``scenario`` in place of a scenario that has no plan yet (a planned one stays as planned).

    Raises
    ------
    InputError
        When the scenario already has plans: their scenario must keep describing them.
    """
    from schoolbus.planfile import scenario_to_dict

    record = get_scenario(session, user, scenario_id, EDIT)
    if scenario_has_plans(session, record):
        raise InputError([Problem("scenario", None, None, record.name, "a scenario without plans (apply the change to a new scenario)")])
    record.document = json.dumps(scenario_to_dict(scenario), ensure_ascii=False)
    record.n_students, record.n_schools = len(scenario.students), len(scenario.schools)
    session.flush()
    audit(session, user, "update_scenario", f"scenario {record.public_id}")
    return record


def list_scenarios(session: Session, user: User, project_id: str) -> list[ScenarioRecord]:
    project = get_project(session, user, project_id, READ_SUMMARY)
    return list(session.scalars(select(ScenarioRecord).where(ScenarioRecord.project_id == project.id).order_by(ScenarioRecord.id)))


def get_scenario(session: Session, user: User, scenario_id: str, action: str = READ_SUMMARY) -> ScenarioRecord:
    record = by_public_id(session, ScenarioRecord, scenario_id)
    if record is None:
        raise not_yours_or_not_there(user, "scenario", scenario_id)
    _visible_project(session, user, record.project_id, "scenario", scenario_id)
    auth.require(session, user, record.project_id, action)
    return record


# --------------------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------------------


MAX_TIME_LIMIT_S = 600.0


def submit_job(session: Session, user: User, scenario_id: str, time_limit_s: float, seed: int) -> Job:
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
    audit(session, user, "submit_job", f"project {project.public_id}: job {job.public_id} on scenario {record.public_id}")
    return job


def get_job(session: Session, user: User, job_id: str, action: str = READ_SUMMARY) -> Job:
    job = by_public_id(session, Job, job_id)
    if job is None:
        raise not_yours_or_not_there(user, "job", job_id)
    _visible_project(session, user, job.project_id, "job", job_id)
    auth.require(session, user, job.project_id, action)
    return job


def list_jobs(session: Session, user: User, project_id: str) -> list[Job]:
    project = get_project(session, user, project_id, READ_SUMMARY)
    return list(session.scalars(select(Job).where(Job.project_id == project.id).order_by(Job.id.desc())))


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


def get_plan(session: Session, user: User, plan_id: str) -> PlanRecord:
    """A plan record; any role with some view of it passes (each output checks its own right)."""
    record = by_public_id(session, PlanRecord, plan_id)
    if record is None:
        raise not_yours_or_not_there(user, "plan", plan_id)
    if user.role == "contractor":
        if not auth.contractor_vehicles(session, user, record.id) or not is_released(session, record.id):
            raise not_yours_or_not_there(user, "plan", plan_id)
    else:
        _visible_project(session, user, record.project_id, "plan", plan_id)
    return record


def is_released(session: Session, plan_id: int) -> bool:
    """Published now or before (plans from before versions count as published)."""
    row = session.get(PlanVersion, plan_id)
    return row is None or row.status != "draft"


def require_released(session: Session, record: PlanRecord, what: str) -> None:
    """Raise :class:`Forbidden` for a draft: ``what`` wait for a manager's approval."""
    if not is_released(session, record.id):
        raise Forbidden(f"plan {record.public_id} is a draft: {what} wait for a manager's approval")


def list_plans(session: Session, user: User, project_id: str | None = None) -> list[PlanRecord]:
    """The plans ``user`` may see (of one project, by its public id, if given)."""
    query = select(PlanRecord).order_by(PlanRecord.id)
    if user.role == "contractor":
        mine = select(VehicleContractor.plan_id).where(VehicleContractor.user_id == user.id)
        drafts = select(PlanVersion.plan_id).where(PlanVersion.status == "draft")
        query = query.where(PlanRecord.id.in_(mine), PlanRecord.id.not_in(drafts))
    else:
        ids = auth.visible_project_ids(session, user)
        if ids is not None:
            query = query.where(PlanRecord.project_id.in_(ids))
    if project_id is not None:
        query = query.where(PlanRecord.project_id == select(Project.id).where(Project.public_id == project_id).scalar_subquery())
    return list(session.scalars(query))


def assign_contractors(session: Session, user: User, plan_id: str, assignments: dict[str, str | None]) -> dict[str, str]:
    """Assign vehicle-days to contractor accounts (``None`` removes one); the resulting map."""
    record = get_plan(session, user, plan_id)
    plan_id = record.id
    auth.require(session, user, record.project_id, EDIT)
    vehicle_ids = {v.id for v in load_plan(session, record).vehicles}
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
    audit(session, user, "assign_contractors", f"plan {record.public_id}")
    return contractor_map(session, plan_id)


def contractor_map(session: Session, plan_id: int) -> dict[str, str]:
    rows = session.execute(
        select(VehicleContractor.vehicle_id, User.username)
        .join(User, User.id == VehicleContractor.user_id)
        .where(VehicleContractor.plan_id == plan_id)
    )
    return {vehicle_id: username for vehicle_id, username in rows}


def public_id_of(session: Session, model, row_id: int | None) -> str | None:
    """The public id of row ``row_id`` of ``model`` (``None`` stays ``None``)."""
    if row_id is None:
        return None
    row = session.get(model, row_id)
    return row.public_id if row is not None else None


_plan_cache: OrderedDict[tuple[str, int], tuple[Plan, NetworkSource | None]] = OrderedDict()
_plan_cache_lock = threading.Lock()


def load_plan(session: Session, record: PlanRecord) -> Plan:
    """The model plan of a record, decoded through :func:`schoolbus.planfile.read_plan`."""
    return _load_plan(session, record)[0]


def plan_network_source(session: Session, record: PlanRecord) -> NetworkSource | None:
    """The road network the plan was made on, as its ``plan.json`` names it (``None``: unknown)."""
    return _load_plan(session, record)[1]


def _load_plan(session: Session, record: PlanRecord) -> tuple[Plan, NetworkSource | None]:
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
        loaded = read_plan(folder), read_network_source(folder)
    with _plan_cache_lock:
        _plan_cache[key] = loaded
        while len(_plan_cache) > PLAN_CACHE_SIZE:
            _plan_cache.popitem(last=False)
    return loaded


@functools.lru_cache(maxsize=64)
def _summary_of(document: str) -> dict[str, Any]:
    return json.loads(document)["summary"]


def plan_summary(record: PlanRecord) -> dict[str, Any]:
    return _summary_of(record.document)
