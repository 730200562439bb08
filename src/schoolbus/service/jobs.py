"""Planning jobs: a durable queue in the ``jobs`` table and a bounded set of worker processes.

A request only inserts a ``queued`` row and wakes the dispatcher; the dispatcher (one thread in
the server) claims queued jobs oldest first and starts each in its own process, never more than
``max_jobs`` at once. The table is the queue, so nothing lives only in memory:

* **Restart safety.** On start, jobs still ``queued`` are simply picked up again (they never
  began); jobs left ``running`` by a server that died are marked ``failed`` with the reason
  ``server restarted while running`` (their worker's partial work is gone, and re-running a long
  solve behind the user's back could surprise them; they can run it again). A worker orphaned by
  the crash notices its parent is gone and stops, and its late writes are refused because the row
  no longer carries its ``attempt`` token. A server stopped cleanly ends its workers and marks
  their jobs ``failed`` with ``server stopped while running``.
* **Cancel.** A queued job is cancelled at once; a running one has its process terminated.
* **A worker that dies** (out of memory, killed) leaves its job ``failed`` with the exit code.

Job processes come from a ``forkserver`` that has already imported the planning modules, so a job
starts in well under a second and never inherits the server's threads or sockets.

Run one server process per database: a second server on the same database would take the first
one's running jobs for orphans when it starts.
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from schoolbus.service.db import Job, utcnow

RESTARTED_REASON = "server restarted while running"
STOPPED_REASON = "server stopped while running"
POLL_S = 0.25
"""How often the dispatcher looks at the table when nothing wakes it (a second server writing)."""
TERMINATE_WAIT_S = 5.0

_WORKER_MODULE = "schoolbus.service.worker"


def _run_job(database_url: str, data_dir: str, job_id: int, attempt: str) -> None:
    """Process entry point; the planning modules are imported here, in the worker, not the server."""
    from schoolbus.service.worker import run_job

    run_job(database_url, data_dir, job_id, attempt)


def recover_jobs(sessions: sessionmaker) -> int:
    """Mark jobs left ``running`` by a dead server as failed; returns how many there were."""
    with sessions.begin() as session:
        result = session.execute(
            update(Job)
            .where(Job.status == "running")
            .values(status="failed", error=RESTARTED_REASON, finished_at=utcnow())
        )
        return result.rowcount


def cancel_job(sessions: sessionmaker, job_id: int) -> str:
    """Cancel a job: at once when queued, by its process's end when running; the new status."""
    with sessions.begin() as session:
        queued = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(status="cancelled", error="cancelled before it started", finished_at=utcnow())
        )
        if queued.rowcount:
            return "cancelled"
        session.execute(
            update(Job).where(Job.id == job_id, Job.status == "running").values(cancel_requested=True)
        )
        return session.get(Job, job_id).status


@dataclass
class _Running:
    process: multiprocessing.process.BaseProcess
    attempt: str


class JobRunner:
    """The dispatcher thread and its worker processes (see the module docstring)."""

    def __init__(self, sessions: sessionmaker, database_url: str, data_dir: str, max_jobs: int):
        if max_jobs < 1:
            raise ValueError(f"max_jobs must be at least 1, got {max_jobs}")
        self.sessions = sessions
        self.database_url = database_url
        self.data_dir = data_dir
        self.max_jobs = max_jobs
        self._running: dict[int, _Running] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([_WORKER_MODULE])

    def start(self) -> None:
        """Fail the orphans of a previous server, then start dispatching."""
        recover_jobs(self.sessions)
        self._thread = threading.Thread(target=self._loop, name="schoolbus-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (a job was queued or a cancel requested)."""
        self._wake.set()

    def stop(self) -> None:
        """End the workers (their jobs fail with a reason) and the dispatcher."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        for job_id, running in list(self._running.items()):
            running.process.terminate()
            running.process.join(TERMINATE_WAIT_S)
            self._finish(job_id, running.attempt, "failed", STOPPED_REASON)
        self._running.clear()

    @property
    def n_running(self) -> int:
        return len(self._running)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._reap()
            self._cancel_requested()
            self._start_queued()
            self._wake.wait(POLL_S)
            self._wake.clear()

    def _finish(self, job_id: int, attempt: str, status: str, reason: str) -> None:
        """Set a final status unless the worker already wrote one for this attempt."""
        with self.sessions.begin() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.attempt == attempt, Job.status == "running")
                .values(status=status, error=reason, finished_at=utcnow())
            )

    def _reap(self) -> None:
        for job_id, running in list(self._running.items()):
            if running.process.is_alive():
                continue
            running.process.join()
            code = running.process.exitcode
            self._finish(job_id, running.attempt, "failed", f"the worker process ended without a result (exit code {code})")
            del self._running[job_id]

    def _cancel_requested(self) -> None:
        if not self._running:
            return
        with self.sessions() as session:
            wanted = set(
                session.scalars(
                    select(Job.id).where(Job.id.in_(list(self._running)), Job.cancel_requested.is_(True))
                )
            )
        for job_id in wanted:
            running = self._running.pop(job_id)
            running.process.terminate()
            running.process.join(TERMINATE_WAIT_S)
            self._finish(job_id, running.attempt, "cancelled", "cancelled while running")

    def _start_queued(self) -> None:
        while len(self._running) < self.max_jobs and not self._stop.is_set():
            attempt = uuid.uuid4().hex
            with self.sessions.begin() as session:
                job_id = session.scalar(
                    select(Job.id).where(Job.status == "queued").order_by(Job.created_at, Job.id).limit(1)
                )
                if job_id is None:
                    return
                claimed = session.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == "queued")
                    .values(status="running", attempt=attempt, started_at=utcnow(), stage="starting")
                )
                if claimed.rowcount != 1:
                    continue
            process = self._context.Process(
                target=_run_job,
                args=(self.database_url, self.data_dir, job_id, attempt),
                name=f"schoolbus-job-{job_id}",
                daemon=True,
            )
            process.start()
            self._running[job_id] = _Running(process, attempt)
