"""The durable job store: create/migrate, restart recovery, cancel, and a real server killed mid-job.

The restart test runs ``schoolbus serve`` as a separate process on loopback, lets it start the demo
project's planning job, kills the whole server with SIGKILL in the middle of that job, starts it
again on the same store and checks that the job is failed with its reason (not lost, not stuck
'running') while a job that was still queued is picked up and finishes.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from schoolbus.service import auth, store
from schoolbus.service.db import SCHEMA_VERSION, Job, Project, StoreError, make_engine, migrate, session_factory
from schoolbus.service.jobs import RESTARTED_REASON, JobRunner, cancel_job, recover_jobs

WAIT_S = 240.0
PASSWORD = "correct-horse-battery"


@pytest.fixture()
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def _project(sessions) -> int:
    with sessions.begin() as session:
        project = Project(name="p")
        session.add(project)
        session.flush()
        return project.id


def test_migrate_is_idempotent_and_refuses_a_newer_store(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    assert migrate(engine) == SCHEMA_VERSION
    assert migrate(engine) == SCHEMA_VERSION
    with engine.begin() as connection:
        assert connection.execute(text("select version from schema_version")).scalar() == SCHEMA_VERSION
        connection.execute(text("update schema_version set version = :v"), {"v": SCHEMA_VERSION + 1})
    with pytest.raises(StoreError, match="newer"):
        migrate(engine)
    engine.dispose()


def test_recover_fails_running_jobs_and_keeps_queued_ones(sessions):
    project_id = _project(sessions)
    with sessions.begin() as session:
        session.add_all([
            Job(project_id=project_id, status="running", attempt="dead"),
            Job(project_id=project_id, status="queued"),
            Job(project_id=project_id, status="succeeded"),
        ])
    assert recover_jobs(sessions) == 1
    with sessions() as session:
        statuses = [(j.status, j.error) for j in session.scalars(select(Job).order_by(Job.id))]
    assert statuses == [("failed", RESTARTED_REASON), ("queued", None), ("succeeded", None)]


def test_cancel_a_queued_job_at_once(sessions):
    project_id = _project(sessions)
    with sessions.begin() as session:
        job = Job(project_id=project_id)
        session.add(job)
        session.flush()
        job_id = job.id
    assert cancel_job(sessions, job_id) == "cancelled"
    # A second cancel of a finished job changes nothing.
    assert cancel_job(sessions, job_id) == "cancelled"


def test_runner_bounds_jobs_and_cancels_a_running_one(sessions, tmp_path):
    """Two demo jobs with one worker: one runs, one waits; cancelling the running one ends its process."""
    with sessions.begin() as session:
        store.preload_demo(session, n_students=300)
        project_id = session.scalar(select(Project.id))
        session.add(Job(project_id=project_id, kind="demo", demo_n_students=300))
    url = str(sessions.kw["bind"].url)
    runner = JobRunner(sessions, url, str(tmp_path), max_jobs=1)
    runner.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with sessions() as session:
                statuses = [j.status for j in session.scalars(select(Job).order_by(Job.id))]
            if statuses[0] == "running" and runner.n_running == 1:
                break
            time.sleep(0.1)
        assert statuses == ["running", "queued"]
        assert runner.n_running == 1
        assert cancel_job(sessions, 1) == "running"
        runner.wake()
        while time.monotonic() < deadline:
            with sessions() as session:
                first = session.get(Job, 1)
            if first.status != "running":
                break
            time.sleep(0.1)
        assert (first.status, first.error) == ("cancelled", "cancelled while running")
        # The freed worker slot goes to the queued job; cancel it too so the test ends quickly.
        cancel_job(sessions, 2)
        runner.wake()
    finally:
        runner.stop()
    with sessions() as session:
        assert {j.status for j in session.scalars(select(Job))} <= {"cancelled", "failed"}
    assert runner.n_running == 0


# --------------------------------------------------------------------------------------------------
# A real server, killed in the middle of a job
# --------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "SCHOOLBUS_DATA_DIR": str(data_dir), "SCHOOLBUS_MAX_JOBS": "1", "SCHOOLBUS_DEMO_STUDENTS": "300"}
    env.pop("SCHOOLBUS_DATABASE_URL", None)
    command = [sys.executable, "-m", "schoolbus.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    # Its own session: the test can kill the server, its fork server and its workers together.
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_until(predicate, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_server_killed_mid_job_leaves_it_failed_and_requeues_the_waiting_one(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    server = _serve(tmp_path, port, log)
    try:
        _wait_until(lambda: _healthy(base), "the server to start")
        password = _wait_until(lambda: re.search(r"one-time password (\S+)", log.read_text()), "the admin password").group(1)
        engine = make_engine(f"sqlite:///{tmp_path / 'schoolbus.db'}")
        sessions = session_factory(engine)
        # While the demo job runs, queue a second one behind it (one worker only).
        with sessions.begin() as session:
            project_id = session.scalar(select(Project.id))
            session.add(Job(project_id=project_id, kind="demo", demo_n_students=40, time_limit_s=1.0))

        def demo_running():
            with sessions() as session:
                job = session.get(Job, 1)
                return job.status == "running" and job.stage not in ("", "starting")

        _wait_until(demo_running, "the demo job to be running")
        _kill(server)
        with sessions() as session:
            assert [j.status for j in session.scalars(select(Job).order_by(Job.id))] == ["running", "queued"]

        server = _serve(tmp_path, port, tmp_path / "serve2.log")
        _wait_until(lambda: _healthy(base), "the server to start again")
        assert "one-time password" not in (tmp_path / "serve2.log").read_text()

        def both_finished():
            with sessions() as session:
                jobs = list(session.scalars(select(Job).order_by(Job.id)))
                return jobs if all(j.status not in ("queued", "running") for j in jobs) else None

        first, second = _wait_until(both_finished, "both jobs to finish")
        assert (first.status, first.error) == ("failed", RESTARTED_REASON)
        assert second.status == "succeeded" and second.plan_id is not None
        # The killed run's orphaned worker never wrote a plan; the restarted server serves the new one.
        token = httpx.post(f"{base}/api/v1/auth/token", json={"username": "admin", "password": password}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        httpx.post(f"{base}/api/v1/me/password", json={"current_password": password, "new_password": PASSWORD}, headers=headers)
        plans = httpx.get(f"{base}/api/v1/plans", headers=headers).json()
        assert [p["job_id"] for p in plans] == [second.public_id]
        job = httpx.get(f"{base}/api/v1/jobs/{first.public_id}", headers=headers).json()
        assert job["status"] == "failed" and job["error"] == RESTARTED_REASON
        engine.dispose()
    finally:
        if server.poll() is None:
            _kill(server)


@pytest.mark.slow
def test_users_create_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "schoolbus.cli", "users", "create", "ayse", "--role", "officer", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    password = re.search(r"one-time password: (\S+)", result.stdout).group(1)
    engine = make_engine(f"sqlite:///{tmp_path / 'schoolbus.db'}")
    with session_factory(engine)() as session:
        user = auth.authenticate(session, "ayse", password)
        assert user.role == "officer" and user.must_change_password
    engine.dispose()
    again = subprocess.run(
        [sys.executable, "-m", "schoolbus.cli", "users", "create", "ayse", "--role", "officer", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert again.returncode == 2 and "taken" in again.stderr
    bad_project = subprocess.run(
        [sys.executable, "-m", "schoolbus.cli", "users", "create", "veli", "--role", "manager", "--project", "nope", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert bad_project.returncode == 2
