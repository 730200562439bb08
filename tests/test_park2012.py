"""The Park-Tae-Kim benchmark runner: reading, the benchmark's clock, and a checked smoke run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from schoolbus.errors import InputError
from schoolbus.routing.problem import SCHOOL_NODE
from schoolbus.scheduling import choice

RUNNER = Path(__file__).resolve().parents[1] / "benchmarks" / "park2012.py"


def _load_runner():
    spec = importlib.util.spec_from_file_location("park2012_runner", RUNNER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and worker processes look modules up by name
    spec.loader.exec_module(module)
    return module


park = _load_runner()

SCHOOLS_HEADER = "ID\tX\tY\tAMEARLY\tAMLATE\r\n"
STOPS_HEADER = "ID\tX_COORD\tY_COORD\tEP_ID\tSTUDENT_COUNT\r\n"


def write_instance(folder: Path, schools: str, stops: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Schools.txt").write_text(SCHOOLS_HEADER + schools, newline="")
    (folder / "Stops.txt").write_text(STOPS_HEADER + stops, newline="")
    return folder


def test_reads_an_instance_with_crlf_lines(tmp_path):
    folder = write_instance(
        tmp_path / "TINY01",
        "200001\t0\t0\t510\t540\r\n200002\t5000\t0\t710\t735\r\n",
        "100001\t2933.33333\t0\t200001\t10\r\n100002\t0\t1000\t200002\t66\r\n",
    )
    instance = park.read_instance(folder)
    assert instance.name == "TINY01"
    assert [s.bell_s for s in instance.schools] == [5 * 3600 + 10 * 60, 7 * 3600 + 10 * 60]
    assert [p.n_students for p in instance.stops_of(200002)] == [66]


def test_every_bad_row_is_reported_at_once(tmp_path):
    folder = write_instance(
        tmp_path / "BAD01",
        "200001\t0\t0\t5x0\t540\r\n"  # bell time is not hhmm
        "200002\t0\t0\t700\t730\r\n",
        "100001\t0\t0\t200009\t10\r\n"  # unknown school
        "100002\t0\t0\t200002\t67\r\n",  # more students than seats
    )
    with pytest.raises(InputError) as caught:
        park.read_instance(folder)
    found = {(p.row, p.column) for p in caught.value.problems}
    assert found == {(1, None), (1, "EP_ID"), (2, "STUDENT_COUNT")}


def test_route_times_follow_the_benchmark_definition():
    # School at x=0; stops at 2933.33333 ft (100 s away) and 5866.66666 ft (200 s), picked up far
    # stop first. Ride of the near stop = 100 s; of the far stop = 100 s drive + near stop's
    # service (19 + 2.6*10 = 45 s) + 100 s. Route service adds the far stop's own 19 + 2.6*5 s.
    school = park.ParkSchool(1, 0.0, 0.0, 8 * 3600.0)
    far = park.ParkStop(11, 2 * 2933.33333, 0.0, 1, 5)
    near = park.ParkStop(12, 2933.33333, 0.0, 1, 10)
    service_s, rides = park.route_times_s([far, near], school)
    assert rides == pytest.approx([245.0, 100.0], abs=1e-4)
    assert service_s == pytest.approx(245.0 + 32.0, abs=1e-4)


def test_routing_problem_rounds_towards_feasibility():
    school = park.ParkSchool(1, 0.0, 0.0, 8 * 3600.0)
    stops = [park.ParkStop(11, 1000.5, 77.0, 1, 3), park.ParkStop(12, 4000.0, 123.4, 1, 7)]
    problem = park.routing_problem(school, stops, max_ride_s=2700)
    exact_s = np.array([[park.travel_s(a, b) for b in [school, *stops]] for a in [school, *stops]])
    assert (problem.time_s >= exact_s).all() and (problem.time_s < exact_s + 1).all()
    assert problem.service_s.tolist() == [0, 27, 38]  # ceil(19 + 7.8), ceil(19 + 18.2)
    assert problem.school_time_s <= school.bell_s - park.SCHOOL_DWELL_S
    assert problem.demand[SCHOOL_NODE] == 0 and problem.demand[1:].tolist() == [3, 7]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["RSRB01", "CSCB01"])
def test_smoke_run_passes_the_benchmark_checker(shared_dir, tmp_path, capsys, name):
    instance_dir = shared_dir / "benchmarks" / "park2012" / name
    if not (instance_dir / "Stops.txt").is_file():
        pytest.skip(f"{instance_dir} is absent")
    out = tmp_path / f"{name}.json"
    status = park.main(
        [str(instance_dir), "--max-ride", "2700", "--time-limit", "15", "--out", str(out)]
    )
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert status == 0, line
    assert line.startswith(f"{name} ride=2700 ") and line.endswith(
        "check=OK buses=" + line.split("buses=")[1].split()[0]
    )
    solution = json.loads(out.read_text())
    n_buses = len(solution["buses"])
    assert solution["instance"] == name and solution["max_ride_time_s"] == 2700
    assert n_buses >= park.lower_bound(instance_dir, 2700)
    served = [p for bus in solution["buses"] for route in bus["routes"] for p in route["stops"]]
    assert sorted(served) == sorted(p.id for p in park.read_instance(instance_dir).stops)


@pytest.mark.slow
def test_same_seed_gives_the_same_buses(tmp_path, monkeypatch):
    # Two schools an hour apart and 16 stops around them: small enough to solve in a moment.
    rng = np.random.default_rng(7)
    stops = "".join(
        f"{100001 + k}\t{x:.1f}\t{y:.1f}\t{200001 + k % 2}\t{n}\r\n"
        for k, (x, y, n) in enumerate(
            zip(
                rng.uniform(0, 40_000, 16),
                rng.uniform(0, 40_000, 16),
                rng.integers(1, 30, 16),
                strict=True,
            )
        )
    )
    folder = write_instance(
        tmp_path / "PAIR01",
        "200001\t20000\t20000\t700\t730\r\n200002\t15000\t25000\t800\t830\r\n",
        stops,
    )
    # Only the work budgets decide, whatever else the machine is doing: the wall-clock guards
    # (routing's and the choice's) are moved out of reach, as an idle machine never meets them.
    monkeypatch.setattr(park, "WALL_GUARD_FACTOR", 1e6)
    monkeypatch.setattr(park, "MIN_CHOICE_S", 1e6)
    instance = park.read_instance(folder)
    first = park.solve_instance(instance, 2700, time_limit_s=10, seed=3)
    again = park.solve_instance(instance, 2700, time_limit_s=10, seed=3)
    assert first.n_sets_out_of_time == 0 and first.choice.is_optimal
    assert first.buses == again.buses
    served = sorted(p for bus in first.buses for route in bus for p in route.stop_ids)
    assert served == [p.id for p in instance.stops]


@pytest.mark.slow
def test_a_choice_stopped_by_its_node_limit_repeats_exactly(shared_dir, monkeypatch):
    # CSCB01 at 5400 s: HiGHS needs more than its root node to prove the fewest buses for these
    # route sets. With one node per run, the choice stops on its node limit, not on the clock,
    # and solving the same MILP again gives the same routes.
    instance_dir = shared_dir / "benchmarks" / "park2012" / "CSCB01"
    if not (instance_dir / "Stops.txt").is_file():
        pytest.skip(f"{instance_dir} is absent")
    monkeypatch.setattr(park, "CHOICE_EFFORT_SHARE", 1e-9)  # pays for the root node only
    # The verdict must not depend on the machine's speed: the wall-clock guards (routing's and the
    # choice's) are moved far out of reach, so only the work budgets decide, as on an idle machine.
    monkeypatch.setattr(park, "WALL_GUARD_FACTOR", 1e6)
    monkeypatch.setattr(park, "MIN_CHOICE_S", 1e6)
    real = choice.choose_trips
    runs = []

    def choose_twice(*args, **kwargs):
        runs.append((real(*args, **kwargs), real(*args, **kwargs)))
        return runs[-1][0]

    # The benchmark chooses as plans do (choose_plan_trips), which calls choose_trips.
    monkeypatch.setattr(choice, "choose_trips", choose_twice)
    result = park.solve_instance(
        park.read_instance(instance_dir), 5400, time_limit_s=60, seed=0, workers=2
    )
    ((first, again),) = runs
    assert first.message.startswith("MILP stopped at its node limit (nodes searched: 1)")
    assert not first.stopped_on_time
    assert first.trips == again.trips and first.n_vehicles == again.n_vehicles
    assert result.n_sets_out_of_time == 0 and len(result.buses) == first.n_vehicles


def test_work_budget_admits_whole_variants_in_order_whatever_the_clock(tmp_path):
    folder = write_instance(
        tmp_path / "PAIR02",
        "200001\t20000\t20000\t700\t730\r\n200002\t15000\t25000\t800\t830\r\n",
        "".join(
            f"{100001 + k}\t{20000 + 900 * k}\t{21000 - 700 * k}\t{200001 + k % 2}\t{5 + k}\r\n"
            for k in range(10)
        ),
    )
    instance = park.read_instance(folder)
    jobs = sorted(
        (
            job
            for s in instance.schools
            for job in park.routing_jobs(
                s, instance.stops_of(s.id), park.first_route_stops(instance, s), 2700, 0
            )
        ),
        key=lambda job: job.variant,
    )
    wave_0 = {i for i, job in enumerate(jobs) if job.variant == 0}
    # A budget below variant 0's estimate still runs variant 0 (every school needs routes), and
    # nothing else; a passed deadline changes nothing for variant 0.
    tight = park.solve_jobs(jobs, 1e-9, workers=1, deadline=0.0)
    assert {i for i, s in enumerate(tight.solutions) if s is not None} == wave_0
    assert tight.over_budget | tight.redundant == set(range(len(jobs))) - wave_0
    assert not tight.out_of_time
    # Room for exactly the first two variants' estimates: variants 0 and 1 run, whole.
    wave_1 = {i for i, job in enumerate(jobs) if job.variant == 1}
    room = sum(park.estimated_solve_s(jobs[i]) for i in wave_0 | wave_1) * (1 + 1e-9)
    two = park.solve_jobs(jobs, room, workers=1, deadline=float("inf"))
    assert {i for i, s in enumerate(two.solutions) if s is not None} == wave_0 | wave_1
    assert [two.solutions[i] for i in sorted(wave_0)] == [tight.solutions[i] for i in sorted(wave_0)]
    # The same budget with the clock guard passed: later variants are left out for time, visibly.
    late = park.solve_jobs(jobs, room, workers=1, deadline=0.0)
    assert late.out_of_time == wave_1


def test_chaining_caps_are_the_gaps_after_earlier_schools_ranked_by_their_students(tmp_path):
    # School 3 rings at 08:00; school 1 (07:00, 40 students) and school 2 (07:20, 10 students)
    # ring earlier, school 4 (08:30) later. Distances are along x only: 10,000 ft = 340.9 s.
    folder = write_instance(
        tmp_path / "GAPS01",
        "200001\t0\t0\t700\t730\r\n200002\t5000\t0\t720\t750\r\n"
        "200003\t10000\t0\t800\t830\r\n200004\t20000\t0\t830\t900\r\n",
        "100001\t1000\t0\t200001\t40\r\n100002\t6000\t0\t200002\t10\r\n"
        "100003\t9000\t0\t200003\t5\r\n100004\t21000\t0\t200004\t5\r\n",
    )
    instance = park.read_instance(folder)
    school = {s.id: s for s in instance.schools}
    gap_1 = int(3600 - park.SCHOOL_DWELL_S - 10000 / park.FEET_PER_S)
    gap_2 = int(2400 - park.SCHOOL_DWELL_S - 5000 / park.FEET_PER_S)
    # The school releasing more students comes first; later schools never give a gap.
    assert park.chaining_caps(instance, school[200003], 5400) == (gap_1, gap_2)
    # Under a 2700 s limit, school 1's gap (3104 s) binds nothing and is left out.
    assert park.chaining_caps(instance, school[200003], 2700) == (gap_2,)
    assert park.chaining_caps(instance, school[200001], 2700) == ()
