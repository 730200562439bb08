"""Plan versions and the publishing workflow: an officer drafts, a manager approves, it is published.

Every plan of a project has a version, a parent and an author (:class:`~schoolbus.service.db.
PlanVersion`; a plan from before versions counts as published version 1). An officer makes a new
version by re-planning a plan with a change file (:func:`schoolbus.replan.replan`): a *draft*,
seen by the project's officers and managers only. A manager (or admin) approves it, seeing the
cost difference against its parent: it becomes *published*, the project's previous published
plan becomes *superseded* (still downloadable), and the publication is audited. Contractors and
parent notices see published and superseded versions only, never drafts.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schoolbus.changes import read_changes
from schoolbus.errors import InputError, Problem
from schoolbus.pins import read_pins
from schoolbus.planfile import NetworkSource, dumps, plan_to_dict, scenario_to_dict
from schoolbus.replan import replan
from schoolbus.service import auth, security, store
from schoolbus.service.auth import EDIT, READ_SUMMARY, Forbidden
from schoolbus.service.db import PlanRecord, PlanVersion, Project, ScenarioRecord, User, VehicleContractor, utcnow
from schoolbus.service.scenarios import safe_filename
from schoolbus.service.uploads import check_table_or_document

DRAFT, PUBLISHED, SUPERSEDED = "draft", "published", "superseded"
RELEASED = (PUBLISHED, SUPERSEDED)
MAX_CHANGE_FILE_BYTES = security.MAX_CHANGE_FILE_BYTES
"""A change file lists a few dozen changes; anything this large is a mistake."""
CHANGE_SUFFIXES = (".csv", ".xlsx", ".yaml", ".yml")


def version_row(session: Session, record: PlanRecord) -> PlanVersion:
    """The plan's version row; a plan from before versions gets one: published version 1."""
    row = session.get(PlanVersion, record.id)
    if row is None:
        row = PlanVersion(
            plan_id=record.id, project_id=record.project_id, version=1, parent_plan_id=None, status=PUBLISHED,
            author="", published_at=record.created_at,
        )
        session.add(row)
        session.flush()
    return row


def describe(session: Session, record: PlanRecord) -> dict[str, Any]:
    """Version, parent, author, status, approval and cost against the parent, JSON-ready.

    Plans and projects are named by their public ids (the internal ids stay in the store).
    """
    row = version_row(session, record)
    summary = store.plan_summary(record)
    parent = session.get(PlanRecord, row.parent_plan_id) if row.parent_plan_id else None
    parent_cost = store.plan_summary(parent)["cost_per_day"] if parent is not None else None
    days = json.loads(record.document).get("prices", {}).get("school_days_per_year", 0)
    delta = None if parent_cost is None else round(summary["cost_per_day"] - parent_cost, 2)
    return {
        "plan_id": record.public_id,
        "project_id": store.public_id_of(session, Project, record.project_id),
        "version": row.version,
        "parent_plan_id": parent.public_id if parent is not None else None,
        "author": row.author,
        "status": row.status,
        "approved_by": row.approved_by,
        "published_at": row.published_at.isoformat() if row.published_at else None,
        "cost_per_day": summary["cost_per_day"],
        "cost_per_day_delta": delta,
        "cost_per_year_delta": None if delta is None else round(delta * days, 2),
        "report": json.loads(row.report) if row.report else None,
    }


def history(session: Session, project_id: int) -> list[dict[str, Any]]:
    """Every plan of a project with its version, oldest first."""
    records = session.scalars(select(PlanRecord).where(PlanRecord.project_id == project_id).order_by(PlanRecord.id))
    return [describe(session, r) for r in records]


def create_replan(
    session: Session,
    user: User,
    plan_id: str,
    filename: str | None,
    content: bytes,
    *,
    cache_dir: Path,
    pins: tuple[str | None, bytes] | None = None,
) -> PlanRecord:
    """A draft new version of the plan of public id ``plan_id`` with the uploaded change file applied.

    ``pins`` is an optional uploaded pins file ``(filename, content)``: pupils pinned to stops,
    trips and vehicle-days locked (:mod:`schoolbus.pins`), kept by this version and its successors.

    Raises
    ------
    InputError
        A change file that is too large, of an unknown kind, or invalid (rows named by the
        uploaded file's name), or changes that contradict a pin or lock.
    """
    base_record = store.get_plan(session, user, plan_id)
    auth.require(session, user, base_record.project_id, EDIT)
    name = safe_filename(filename, "changes.csv")
    _check_upload(name, content)
    project = session.get(Project, base_record.project_id)
    if not project.network_path:
        raise InputError([Problem("project", None, "network", None, "a road network for the project")])
    base = store.load_plan(session, base_record)
    changes = _read_upload(name, content, lambda path: read_changes(path, base))
    new_pins = ()
    if pins is not None:
        pins_name = safe_filename(pins[0], "pins.csv")
        _check_upload(pins_name, pins[1])
        new_pins = _read_upload(pins_name, pins[1], lambda path: read_pins(path, base.scenario, base))
    source = NetworkSource(project.network_kind, project.network_path, project.network_sha256)
    network = source.load(base.scenario.policy.forbidden_road_classes, cache_dir=cache_dir)
    result = replan(base, changes, network, pins=new_pins)
    parent_row = version_row(session, base_record)
    scenario_record = ScenarioRecord(
        project_id=base_record.project_id,
        name=base.scenario.name,
        document=json.dumps(scenario_to_dict(result.plan.scenario), sort_keys=True),
        n_students=len(result.plan.scenario.students),
        n_schools=len(result.plan.scenario.schools),
    )
    session.add(scenario_record)
    session.flush()
    version = 1 + max(
        [parent_row.version, *session.scalars(select(PlanVersion.version).where(PlanVersion.project_id == project.id))]
    )
    record = PlanRecord(
        project_id=base_record.project_id,
        scenario_id=scenario_record.id,
        job_id=None,
        name=f"{base.scenario.name} v{version}",
        document=dumps(plan_to_dict(result.plan, source)),
    )
    session.add(record)
    session.flush()
    report = result.to_dict() | {"changes": name}
    session.add(
        PlanVersion(
            plan_id=record.id, project_id=record.project_id, version=version, parent_plan_id=base_record.id,
            author_id=user.id, author=user.username, status=DRAFT, report=json.dumps(report, sort_keys=True),
        )
    )
    vehicle_ids = {v.id for v in result.plan.vehicles}
    for row in session.scalars(select(VehicleContractor).where(VehicleContractor.plan_id == base_record.id)):
        if row.vehicle_id in vehicle_ids:
            session.add(VehicleContractor(plan_id=record.id, vehicle_id=row.vehicle_id, user_id=row.user_id))
    session.flush()
    store.audit(session, user, "replan", f"plan {base_record.public_id} → draft plan {record.public_id} (v{version}) with {name}")
    return record


def _check_upload(name: str, content: bytes) -> None:
    if len(content) > MAX_CHANGE_FILE_BYTES:
        raise InputError([Problem(name, None, None, f"{len(content):,} bytes", f"at most {MAX_CHANGE_FILE_BYTES:,} bytes")])
    if Path(name).suffix.lower() not in CHANGE_SUFFIXES:
        raise InputError([Problem(name, None, None, Path(name).suffix or name, f"one of {', '.join(CHANGE_SUFFIXES)}")])
    # A workbook or YAML document passes the same checks as any other upload before a reader opens it.
    check_table_or_document(name, content)


def _read_upload(name: str, content: bytes, read):
    """``read(path)`` on the upload saved under its own name, problems naming that name."""
    with tempfile.TemporaryDirectory(prefix="schoolbus-changes-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            return read(path)
        except InputError as error:
            problems = [Problem(name, p.row, p.column, p.value, p.expected) for p in error.problems]
            raise InputError(problems, str(error).split("\n", 1)[0].replace(str(path), name)) from None


def approve(session: Session, user: User, plan_id: str) -> PlanRecord:
    """Publish a draft: the manager's (or an admin's) approval; the previous published version is superseded."""
    record = store.get_plan(session, user, plan_id)
    if user.role not in ("manager", "admin"):
        raise Forbidden("only a manager approves and publishes a plan")
    auth.require(session, user, record.project_id, READ_SUMMARY)
    row = version_row(session, record)
    if row.status != DRAFT:
        raise InputError([Problem(f"plan {plan_id}", None, "status", row.status, "a draft")])
    for other in session.scalars(
        select(PlanVersion).where(PlanVersion.project_id == record.project_id, PlanVersion.status == PUBLISHED)
    ):
        other.status = SUPERSEDED
    for legacy in session.scalars(select(PlanRecord).where(PlanRecord.project_id == record.project_id)):
        if legacy.id != record.id and session.get(PlanVersion, legacy.id) is None:
            version_row(session, legacy).status = SUPERSEDED
    row.status = PUBLISHED
    row.approved_by = user.username
    row.published_at = utcnow()
    session.flush()
    info = describe(session, record)
    store.audit(
        session, user, "publish_plan",
        f"plan {plan_id} (v{row.version}), cost per day {info['cost_per_day_delta']:+,.2f}" if info["cost_per_day_delta"] is not None
        else f"plan {plan_id} (v{row.version})",
    )
    return record
