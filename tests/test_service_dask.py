"""The service sends a planning job's work to the Dask cluster ``SCHOOLBUS_DASK_SCHEDULER`` names.

A real ``schoolbus serve`` on loopback plans its demo project while a real LocalCluster (two worker
processes) listens; the job must succeed and the cluster's scheduler must have run its tasks.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from schoolbus.executor import DASK_SCHEDULER_ENV, DaskExecutor
from schoolbus.service.db import Job, make_engine, session_factory
from test_service_jobs import _free_port, _healthy, _kill, _wait_until


def _scheduler_task_prefixes(dask_scheduler) -> list[str]:
    return sorted(dask_scheduler.task_prefixes)


@pytest.mark.slow
def test_a_planning_job_runs_its_solves_on_the_named_dask_cluster(tmp_path):
    with DaskExecutor(n_workers=2) as cluster:
        port = _free_port()
        env = {
            **os.environ,
            "SCHOOLBUS_DATA_DIR": str(tmp_path),
            "SCHOOLBUS_MAX_JOBS": "1",
            "SCHOOLBUS_DEMO_STUDENTS": "120",
            DASK_SCHEDULER_ENV: cluster.scheduler_address,
        }
        env.pop("SCHOOLBUS_DATABASE_URL", None)
        command = [sys.executable, "-m", "schoolbus.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        log = tmp_path / "serve.log"
        server = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_until(lambda: _healthy(f"http://127.0.0.1:{port}"), "the server to start")
            engine = make_engine(f"sqlite:///{tmp_path / 'schoolbus.db'}")
            sessions = session_factory(engine)

            def demo_done():
                with sessions() as session:
                    job = session.scalar(select(Job).order_by(Job.id))
                    return job if job is not None and job.status not in ("queued", "running") else None

            job = _wait_until(demo_done, "the demo job to finish")
            engine.dispose()
            assert (job.status, job.error) == ("succeeded", None), log.read_text()[-2000:]
            prefixes = cluster._client.run_on_scheduler(_scheduler_task_prefixes)
            assert "call_with" in prefixes, prefixes  # the executor's task function (dask drops the "_")
        finally:
            if server.poll() is None:
                _kill(server)
