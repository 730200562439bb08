"""The executor: the same results in the items' order from this process, a local pool and Dask,
and the same plan whichever runs it (a real Dask LocalCluster with two workers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schoolbus.cli import app
from schoolbus.errors import InputError
from schoolbus.executor import DaskExecutor, ProcessExecutor, SerialExecutor, make_executor
from schoolbus.network import load_network
from schoolbus.params import SolverParams
from schoolbus.pipeline import plan
from schoolbus.planfile import PLAN_FILE, write_plan
from schoolbus.synthetic import demo_scenario, read_osm_schools
from test_cli_scenarios import EXAMPLES


def scaled(shared: int, item: int) -> tuple[int, int]:
    """A task: the item times the shared factor, and the process that computed it."""
    return item * shared, os.getpid()


@pytest.fixture(scope="module")
def dask_executor():
    with DaskExecutor(n_workers=2) as executor:
        yield executor


@pytest.mark.parametrize("kind", ["serial", "process", "dask"])
def test_results_come_back_in_item_order_with_the_shared_value(kind, dask_executor):
    executor = {"serial": SerialExecutor(), "process": ProcessExecutor(2), "dask": dask_executor}[kind]
    seen = []
    items = list(range(23))
    results = executor.map(scaled, items, 3, progress=lambda done, total: seen.append((done, total)))
    assert [value for value, _ in results] == [3 * k for k in items]
    assert [done for done, _ in seen] == list(range(1, 24)) and {total for _, total in seen} == {23}
    pids = {pid for _, pid in results}
    if kind == "serial":
        assert pids == {os.getpid()}
    else:
        assert os.getpid() not in pids  # the work ran elsewhere


def test_a_dask_executor_joins_a_running_scheduler_by_address(dask_executor):
    with make_executor("dask", scheduler=dask_executor.scheduler_address) as joined:
        assert joined.n_workers == 2
        assert [v for v, _ in joined.map(scaled, [1, 2, 3], 5)] == [5, 10, 15]
        assert all(rss > 10 * 2**20 for rss in joined.worker_peak_rss_bytes().values())


@pytest.mark.parametrize(
    ("kind", "workers", "scheduler", "column", "expected"),
    [
        ("spark", None, None, "--executor", "local or dask"),
        ("local", 0, None, "--workers", "a whole number of 1 or more"),
        ("local", None, "tcp://127.0.0.1:8786", "--scheduler", "only with --executor dask"),
    ],
)
def test_a_wrong_executor_option_is_an_input_error(kind, workers, scheduler, column, expected):
    with pytest.raises(InputError) as error:
        make_executor(kind, workers=workers, scheduler=scheduler)
    (problem,) = error.value.problems
    assert (problem.column, problem.expected) == (column, expected)


def test_one_local_worker_runs_in_this_process():
    assert isinstance(make_executor("local", workers=1), SerialExecutor)
    assert make_executor("local", workers=2).n_workers == 2


@pytest.fixture(scope="module")
def district(helsinki_pbf):
    network = load_network(osm=helsinki_pbf)
    scenario = demo_scenario(read_osm_schools(helsinki_pbf), network.drive, n_students=150, seed=3)
    return scenario, network


@pytest.mark.slow
def test_the_same_seed_gives_a_byte_identical_plan_with_one_worker_two_workers_and_dask(
    district, dask_executor, tmp_path
):
    scenario, network = district
    params = SolverParams(time_limit_s=5.0, seed=3)
    files = {}
    for name, executor in (("one", SerialExecutor()), ("two", ProcessExecutor(2)), ("dask", dask_executor)):
        result = plan(scenario, network, params, executor=executor)
        files[name] = write_plan(result, tmp_path / name).read_bytes()
    assert files["one"] == files["two"] == files["dask"]
    assert len(result.trips) >= 4  # several groups were routed, not one


@pytest.mark.slow
def test_the_cli_plans_the_same_with_workers_and_with_dask(helsinki_pbf, tmp_path, monkeypatch):
    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "cache"))
    args = [
        "plan",
        "--students", str(EXAMPLES / "students.csv"),
        "--schools", str(EXAMPLES / "schools.csv"),
        "--fleet", str(EXAMPLES / "fleet.yaml"),
        "--policy", str(EXAMPLES / "policy.yaml"),
        "--osm", str(helsinki_pbf),
        "--time-limit", "5",
    ]  # fmt: skip
    outputs = {}
    for name, extra in (
        ("one", ["--workers", "1"]),
        ("two", ["--workers", "2"]),
        ("dask", ["--executor", "dask", "--workers", "2"]),
    ):
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output
        outputs[name] = (tmp_path / name / PLAN_FILE).read_bytes()
        booklets = sorted(p.name for p in (tmp_path / name / "notices").glob("notices_*.pdf"))
        assert booklets, "no notice booklet written"
    assert outputs["one"] == outputs["two"] == outputs["dask"]
    assert "expect roughly" in result.output


def test_the_cli_refuses_a_scheduler_without_dask(helsinki_pbf, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "--students", str(EXAMPLES / "students.csv"),
            "--schools", str(EXAMPLES / "schools.csv"),
            "--osm", str(helsinki_pbf),
            "--out", str(tmp_path / "x"),
            "--scheduler", "tcp://127.0.0.1:1",
        ],  # fmt: skip
    )
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "'--scheduler': got 'tcp://127.0.0.1:1', expected only with --executor dask" in said
    assert "Traceback" not in said


@pytest.mark.slow
def test_a_local_pool_finishes_many_more_tasks_than_workers():
    # Python 3.11's max_tasks_per_child could leave a pool waiting forever for a replacement
    # worker (a 10,000-pupil plan's 180 routing solves hung with it). Run in a child process so
    # that a hang fails the test instead of stalling the suite; the work takes well under a second.
    script = (
        "from schoolbus.executor import ProcessExecutor\n"
        "from test_executor import scaled\n"
        "if __name__ == '__main__':\n"
        "    print(sum(v for v, _ in ProcessExecutor(2).map(scaled, range(400), 1)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
        cwd=Path(__file__).parent, check=True,
    )
    assert done.stdout.split()[-1] == str(sum(range(400)))
