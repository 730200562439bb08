"""What runs inside a job process: read the job's inputs from the store, plan, write the plan back.

This module is imported by the job processes only (and preloaded by the fork server), never by a
request handler, so a solve can never block the web server.

Every write checks that the job row still carries this run's ``attempt`` token and ``running``:
when the server restarted meanwhile (and marked the job failed) or the job was cancelled, the
worker's late result is dropped instead of overwriting that decision.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

from sqlalchemy import update

from schoolbus.errors import PlanCheckError, SchoolbusError
from schoolbus.executor import executor_from_environment
from schoolbus.model import Policy, Scenario
from schoolbus.outputs.violations import violations_text
from schoolbus.params import SolverParams
from schoolbus.pipeline import plan
from schoolbus.planfile import NetworkSource, dumps, plan_to_dict, scenario_to_dict
from schoolbus.service.db import Job, PlanRecord, Project, ScenarioRecord, make_engine, session_factory, utcnow
from schoolbus.service.scenarios import helsinki_pbf, scenario_from_document

PROGRESS_INTERVAL_S = 0.5
"""At most this often a job writes its progress (a stage change is written at once)."""


class _Abandoned(Exception):
    """The server that started this job is gone, or the job no longer belongs to this run."""


def run_job(database_url: str, data_dir: str, job_id: int, attempt: str) -> None:
    """Plan job ``job_id`` (already marked ``running`` with ``attempt``) and store the plan."""
    parent = os.getppid()
    engine = make_engine(database_url, pooled=False)
    sessions = session_factory(engine)
    mine = (Job.id == job_id) & (Job.attempt == attempt) & (Job.status == "running")

    def write(**values) -> None:
        with sessions.begin() as session:
            if session.execute(update(Job).where(mine).values(**values)).rowcount != 1:
                raise _Abandoned()

    last = {"stage": None, "at": 0.0}

    def progress(stage: str, done: int, total: int) -> None:
        if os.getppid() != parent:
            # The server (or its fork server) died: nobody will read our result.
            raise _Abandoned()
        now = time.monotonic()
        if stage == last["stage"] and now - last["at"] < PROGRESS_INTERVAL_S:
            return
        last.update(stage=stage, at=now)
        write(stage=stage, done=int(done), total=int(total))

    try:
        with sessions() as session:
            job = session.get(Job, job_id)
            project = session.get(Project, job.project_id)
            record = session.get(ScenarioRecord, job.scenario_id) if job.scenario_id else None
            kind, seed, time_limit_s = job.kind, job.seed, job.time_limit_s
            source = NetworkSource(project.network_kind, project.network_path, project.network_sha256)
            project_id = project.id
        cache_dir = Path(data_dir) / "cache"
        if kind == "demo":
            scenario, scenario_id = _demo_scenario(sessions, mine, job_id, project_id, source, cache_dir, seed, progress)
        else:
            scenario, scenario_id = scenario_from_document(json.loads(record.document)), record.id
        progress("road network", 0, 1)
        network = source.load(scenario.policy.forbidden_road_classes, cache_dir=cache_dir)
        progress("road network", 1, 1)
        with executor_from_environment() as executor:
            result = plan(
                scenario, network, SolverParams(time_limit_s=time_limit_s, seed=seed), progress=progress, executor=executor
            )
        document = dumps(plan_to_dict(result, source))
        with sessions.begin() as session:
            record = PlanRecord(
                project_id=project_id,
                scenario_id=scenario_id,
                job_id=job_id,
                name=f"{scenario.name} #{job_id}",
                document=document,
            )
            session.add(record)
            session.flush()
            finished = update(Job).where(mine).values(
                status="succeeded", stage="done", finished_at=utcnow(), plan_id=record.id
            )
            if session.execute(finished).rowcount != 1:
                raise _Abandoned()
    except _Abandoned:
        return
    except PlanCheckError as error:
        # Each violation with its code (the interface), then its sentence.
        _fail(write, f"{error.code}: {violations_text(error.violations, 'en', PlanCheckError.MAX_SHOWN)}")
    except SchoolbusError as error:
        _fail(write, f"{error.code}: {error}")
    except Exception as error:  # noqa: BLE001 - the job must end failed with a reason, never stuck
        traceback.print_exc(file=sys.stderr)
        _fail(write, f"internal error: {type(error).__name__}: {error}")
    finally:
        engine.dispose()


def _fail(write, reason: str) -> None:
    try:
        write(status="failed", error=reason, finished_at=utcnow())
    except _Abandoned:
        pass


def _demo_scenario(sessions, mine, job_id, project_id, source, cache_dir, seed, progress) -> tuple[Scenario, int]:
    """Generate the demo district on the Helsinki extract and store it as the project's scenario."""
    from schoolbus.synthetic import demo_scenario, read_osm_schools

    with sessions() as session:
        n_students = session.get(Job, job_id).demo_n_students
    progress("demo district", 0, 1)
    network = source.load(Policy().forbidden_road_classes, cache_dir=cache_dir)
    scenario = demo_scenario(read_osm_schools(helsinki_pbf()), network.drive, n_students=n_students, seed=seed)
    document = scenario_to_dict(scenario)
    with sessions.begin() as session:
        record = ScenarioRecord(
            project_id=project_id,
            name=scenario.name,
            document=json.dumps(document, ensure_ascii=False),
            n_students=len(scenario.students),
            n_schools=len(scenario.schools),
        )
        session.add(record)
        session.flush()
        if session.execute(update(Job).where(mine).values(scenario_id=record.id)).rowcount != 1:
            raise _Abandoned()
        scenario_id = record.id
    progress("demo district", 1, 1)
    return scenario, scenario_id
