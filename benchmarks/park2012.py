"""Run schoolbus on the Park-Tae-Kim school-bus benchmark (RSRB01-08, CSCB01-08) under BiRD's rules.

Usage::

    python benchmarks/park2012.py INSTANCE_DIR --max-ride 2700 --time-limit 60 --out SOLUTION.json
    python benchmarks/park2012.py DIR [DIR ...] --max-ride 2700 5400 --out-dir DIR --table FILE

The rules are those of ``../shared/benchmarks/park2012/README.md`` (Bertsimas, Delarue and Martin,
PNAS 2019, Table S1): Manhattan distance in feet at 20 mph, 66 seats, stop time 19 s + 2.6 s per
student, school dwell 154.4 s, a ride limit of 2700 or 5400 s, a bus released from a school at its
bell. This runner only adapts data: every school becomes ``TO_SCHOOL`` routing problems for the
same engine that plans real districts (``schoolbus.routing.solve.solve_routing``, fed a
travel-time matrix computed here instead of from roads), solved under several variants (``VARIANTS``:
BiRD's trade-off between routes and driving, caps on route duration, chaining gaps, seeds), each
by both routing backends (PyVRP and OR-Tools).
``schoolbus.scheduling.choose_plan_trips``, the choice real plans make, then picks routes, mixing
routes of different sets within a school, so that the chained routes need the fewest buses (a
MILP), with the best choice of one variant at every school (``choose_uniform_route_sets``) as its
incumbent. The same parameters
serve every instance; only the ride limit differs. The solution is written in the shared JSON format and checked with the
benchmark's own ``park_check.py`` when ``../shared`` is present.

Determinism: the same instance, ride limit, seed, time limit and ``--workers`` give the same buses
whenever the output line says ``sets_out_of_time=0`` and its ``choice`` does not end in
``/time``. Which route sets are built is decided by a work budget (estimated CPU seconds from the
problems' sizes, see :func:`solve_jobs`), each routing solve stops on the engine's own work limit,
and the choice MILP on a node limit (``CHOICE_EFFORT_SHARE``; HiGHS is deterministic). The wall
clock only guards them; when a guard cuts something short, the output says so, and the result
depends on the machine's speed.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from schoolbus.errors import InputError, Problem, SchoolbusError, SolverError
from schoolbus.model import Direction
from schoolbus.params import SolverParams
from schoolbus.routing.problem import (
    RoutingProblem,
    RoutingSolution,
    VehicleClass,
    seconds_matrix,
    to_solver_seconds,
)
from schoolbus.routing.solve import solve_routing
from schoolbus.scheduling import ChainTrip, TripChoice, choose_plan_trips, choose_uniform_route_sets

REPO = Path(__file__).resolve().parents[1]
PARK_DIR = REPO.parent / "shared" / "benchmarks" / "park2012"
"""The benchmark beside the repository (instances, README with the reference table, tools)."""

# ---- the benchmark's rules (README section 2) ----------------------------------------------------
FEET_PER_S = 29.3333333
"""Bus speed, feet per second (20 mph, the literal the benchmark uses)."""
M_PER_FOOT = 0.3048
BUS_SEATS = 66
STOP_SERVICE_S = 19.0
STOP_SERVICE_PER_STUDENT_S = 2.6
SCHOOL_DWELL_S = 154.4
"""Drop-off time at a school: a bus arrives by bell - dwell and is released at the bell."""

# ---- how this runner searches (the same for every instance) --------------------------------------
DRIVE_M_PER_S = FEET_PER_S * M_PER_FOOT
"""Bus speed in metres per second (the distances handed to the engine are metres)."""

FEWEST_ROUTES = VehicleClass(
    type_id="bus66", capacity=BUS_SEATS, wheelchair_places=0, fixed_cost=100
)
"""The vehicle class when routes should be as few as possible: the fixed cost per route dominates
the engine's distance tie-break."""

PRICE_PER_KM = 100
"""Price per km of the vehicle classes that trade routes against driving (any positive number:
only the ratio ``fixed_cost / cost_per_km`` matters, large enough to dwarf the tie-break)."""


@dataclass(frozen=True)
class Variant:
    """How one alternative route set per school is built.

    ``route_worth_s`` is BiRD's lambda: how many seconds of driving one route more is worth
    (``None``: fewest routes). ``duration_share`` caps route duration at that share of the ride
    limit for the stops that can obey it (``None``: no cap). ``split_first_only`` routes the
    stops that only a bus's first route can reach (:func:`first_route_stops`) apart from the
    others. ``seed_offset`` varies the engine's search (the run's seed plus this). ``gap_rank``
    caps route duration at the school's ``gap_rank``-th chaining gap (:func:`chaining_caps`)
    instead of a share of the ride limit. ``backend`` names the routing engine's search
    (``SolverParams.routing_backend``).
    """

    route_worth_s: float | None = None
    duration_share: float | None = None
    split_first_only: bool = False
    seed_offset: int = 0
    gap_rank: int | None = None
    backend: str = "ortools"

    def vehicle_class(self) -> VehicleClass:
        """The vehicle class that makes the engine weigh routes against driving as asked."""
        if self.route_worth_s is None:
            return FEWEST_ROUTES
        route_worth_km = self.route_worth_s * DRIVE_M_PER_S / 1000.0
        return VehicleClass(
            type_id=FEWEST_ROUTES.type_id,
            capacity=BUS_SEATS,
            wheelchair_places=0,
            fixed_cost=max(1, round(route_worth_km * PRICE_PER_KM)),
            cost_per_km=PRICE_PER_KM,
        )


ORTOOLS_VARIANTS = (
    Variant(),
    Variant(seed_offset=1),
    Variant(route_worth_s=1200.0, duration_share=0.5),
    Variant(route_worth_s=2400.0),
    Variant(seed_offset=2),
    Variant(route_worth_s=1200.0, split_first_only=True),
    Variant(route_worth_s=1200.0, gap_rank=0),
    Variant(route_worth_s=1200.0, gap_rank=1),
    Variant(route_worth_s=1200.0, gap_rank=2),
    Variant(route_worth_s=600.0, seed_offset=2),
    Variant(route_worth_s=300.0, seed_offset=1),
    Variant(route_worth_s=1200.0, duration_share=0.65),
    Variant(route_worth_s=600.0, duration_share=0.4),
    Variant(route_worth_s=1200.0, duration_share=0.5, seed_offset=1),
    Variant(seed_offset=3),
    # Where time allows (instances whose schools route quickly): the same kinds, other seeds.
    *(
        variant
        for seed in range(4, 10)
        for variant in (
            Variant(seed_offset=seed),
            Variant(route_worth_s=1200.0, duration_share=0.5, seed_offset=seed - 2),
            Variant(route_worth_s=2400.0, seed_offset=seed - 3),
            Variant(route_worth_s=600.0, seed_offset=seed - 1),
        )
    ),
)
"""The alternative route sets built by OR-Tools, most useful first (the first twelve by forward
selection on RSRB07, CSCB07 and RSRB06, then three capped at chaining gaps: RSRB06 at 2700 s went
from 100 to 99 buses with them, CSCB06 stayed at 138); the tail runs only while the routing budget
lasts. No single variant is best: fewest routes need
fewest buses only up to a point, because shorter routes start later and so chain better, and the
engine's seed alone moves a whole instance by several buses. The route-set MILP chooses per
school; alone, the capped variants are far worse than the uncapped ones, yet the MILP takes them
for the schools where they chain."""

VARIANTS = tuple(
    variant
    for ortools_variant in ORTOOLS_VARIANTS
    for variant in (replace(ortools_variant, backend="pyvrp"), ortools_variant)
)
"""Every route set built per school, in order: each OR-Tools variant preceded by the same variant
searched by PyVRP. PyVRP packs the Park schools into 2-4 % fewer routes for less CPU time
(``benchmarks/routing_backends.py``), and the two searches' routes differ, which gives the
route-set choice more to combine."""


MIN_GAP_SHARE = 0.25
"""Shortest chaining gap worth a route set, as a share of the ride limit (see
:func:`chaining_caps`): below it nearly every stop would be routed under the ride limit alone."""

GAP_SIMILARITY = 0.1
"""Relative difference under which two chaining gaps give nearly the same routes."""

N_GAP_CAPS = 3
"""Most chaining gaps per school that get route sets of their own."""

ROUTING_SHARE = 0.5
"""Share of the per-instance time limit given to routing; the rest goes to choosing routes. The
routing budget is CPU time of all workers (``workers x ROUTING_SHARE x time limit``), spent by
estimate (:func:`estimated_solve_s`), so the same ``--workers`` and time limit give the same
route sets on any machine."""

SAFETY_SHARE = 0.1
"""Share of the per-instance time limit kept back for writing and overruns."""

CHOICE_EFFORT_SHARE = 0.35
"""The choice MILP's deterministic budget (``SolverParams.chain_effort_s``) is this share of the
time limit less ``CHOICE_ROOT_RESERVE_S``; the engine turns it into a node limit from the model's
size (the wall clock only guards it). At 300 s, RSRB07 at 5400 s (17,000 variables) found its 144
buses after 270 nodes (0.27-0.4 s each on this machine), which 93 s pays for; 200 found 149."""

CHOICE_ROOT_RESERVE_S = 12.0
"""Seconds of the choice's share kept for the MILP's root node, which no node limit bounds: on the
largest instances at 60 s the root took 8-14 s on this machine."""

MIN_CHOICE_S = 1.0
"""Least time limit of a route-choice MILP, seconds."""

SOLVE_COST_S = {"ortools": (0.033, 0.00057), "pyvrp": (0.0094, 0.00066)}
"""CPU seconds of one routing solve by backend: a fixed part and a part per stop
(:func:`estimated_solve_s`), at the efforts of ``SOLVE_CAP_S``.

Least squares on this machine over 25 schools each of CSCB08 and CSCB03 at 2700 s, RSRB07 at
5400 s and RSRB05 at 2700 s (1-61 stops): OR-Tools 1,243 solves (variants 0-11), PyVRP 521
(variants 0-5). A variant's total over the schools of an instance was within 23 % (OR-Tools) and
15 % (PyVRP) of the estimate (median; 47 % and 36 % at most)."""

WALL_GUARD_FACTOR = 1.5
"""The wall-clock guard on routing, in multiples of its share of the time limit (see
:func:`solve_jobs`): a machine busier than that gets fewer route sets than the budget admits."""

SOLVE_CAP_S = {"ortools": 1.0, "pyvrp": 0.1}
"""Time cap of every routing solve by backend, seconds; each backend derives its deterministic
effort from it and from the problem's size (OR-Tools: about 0.03-0.1 s of CPU for the 10-80 stops
of a school here; PyVRP at 0.1 s already packs tighter than OR-Tools at 1 s, for 0.01-0.06 s)."""

IN_FLIGHT_PER_WORKER = 8
"""Routing jobs queued per worker process: enough that no worker waits for the main process to
hand out the next job (solves take tens of milliseconds)."""

RETRY_SOLVE_S = 10.0
"""Time cap of the one retry of a school's first route set when its solve failed, seconds."""


@dataclass(frozen=True)
class ParkSchool:
    """A school of the benchmark: coordinates in feet, bell time in seconds after midnight."""

    id: int
    x_ft: float
    y_ft: float
    bell_s: float


@dataclass(frozen=True)
class ParkStop:
    """A bus stop of the benchmark: its students all attend ``school_id``."""

    id: int
    x_ft: float
    y_ft: float
    school_id: int
    n_students: int


@dataclass(frozen=True)
class ParkInstance:
    """One instance as read from ``Schools.txt`` and ``Stops.txt``."""

    name: str
    schools: tuple[ParkSchool, ...]
    stops: tuple[ParkStop, ...]

    def stops_of(self, school_id: int) -> tuple[ParkStop, ...]:
        """The stops whose students attend ``school_id``, in file order."""
        return tuple(p for p in self.stops if p.school_id == school_id)


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


def _read_table(path: Path, header: list[str], problems: list[Problem]) -> list[list[str]]:
    """Rows of a tab-separated file after its header (CRLF or LF), or [] with problems recorded."""
    if not path.is_file():
        problems.append(Problem(str(path), None, None, None, "a tab-separated file"))
        return []
    rows = [line.rstrip("\r\n").split("\t") for line in path.read_text().splitlines()]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows or [c.strip() for c in rows[0]] != header:
        problems.append(
            Problem(str(path), 0, None, rows[0] if rows else None, "header " + " ".join(header))
        )
        return []
    return rows[1:]


def _bell_s(hhmm: str) -> float:
    """``'510'`` -> 05:10 as seconds after midnight."""
    if not hhmm.isdigit() or len(hhmm) < 3 or int(hhmm[-2:]) >= 60:
        raise ValueError(hhmm)
    return float(hhmm[:-2]) * 3600.0 + float(hhmm[-2:]) * 60.0


def read_instance(instance_dir: Path) -> ParkInstance:
    """Read and validate ``Schools.txt`` and ``Stops.txt``.

    Raises
    ------
    InputError
        Listing every bad row (unreadable numbers, unknown school, student counts outside 1..66).
    """
    instance_dir = Path(instance_dir)
    problems: list[Problem] = []
    schools: list[ParkSchool] = []
    path = instance_dir / "Schools.txt"
    for row, cells in enumerate(
        _read_table(path, ["ID", "X", "Y", "AMEARLY", "AMLATE"], problems), 1
    ):
        try:
            schools.append(
                ParkSchool(
                    int(cells[0]), float(cells[1]), float(cells[2]), _bell_s(cells[3].strip())
                )
            )
        except (ValueError, IndexError):
            problems.append(
                Problem(str(path), row, None, cells, "ID, X, Y (feet), AMEARLY (hhmm), AMLATE")
            )
    known = {s.id for s in schools}
    stops: list[ParkStop] = []
    path = instance_dir / "Stops.txt"
    header = ["ID", "X_COORD", "Y_COORD", "EP_ID", "STUDENT_COUNT"]
    for row, cells in enumerate(_read_table(path, header, problems), 1):
        try:
            stop = ParkStop(
                int(cells[0]), float(cells[1]), float(cells[2]), int(cells[3]), int(cells[4])
            )
        except (ValueError, IndexError):
            problems.append(
                Problem(str(path), row, None, cells, "ID, X, Y (feet), EP_ID, STUDENT_COUNT")
            )
            continue
        if stop.school_id not in known:
            problems.append(
                Problem(str(path), row, "EP_ID", stop.school_id, "a school ID of Schools.txt")
            )
        if not 1 <= stop.n_students <= BUS_SEATS:
            problems.append(
                Problem(str(path), row, "STUDENT_COUNT", stop.n_students, f"1..{BUS_SEATS}")
            )
        stops.append(stop)
    for label, ids in (
        ("Schools.txt", [s.id for s in schools]),
        ("Stops.txt", [p.id for p in stops]),
    ):
        if len(set(ids)) != len(ids):
            problems.append(
                Problem(str(instance_dir / label), None, "ID", "duplicates", "unique IDs")
            )
    if problems:
        raise InputError(
            problems, f"{instance_dir.name}: {len(problems)} problem(s) in the instance"
        )
    return ParkInstance(instance_dir.name, tuple(schools), tuple(stops))


# --------------------------------------------------------------------------------------------------
# The benchmark's clock, exactly (floats, as the checker computes it)
# --------------------------------------------------------------------------------------------------


def travel_s(a: ParkSchool | ParkStop, b: ParkSchool | ParkStop) -> float:
    """Drive time between two places: Manhattan feet at 20 mph, seconds."""
    return (abs(a.x_ft - b.x_ft) + abs(a.y_ft - b.y_ft)) / FEET_PER_S


def stop_service_s(stop: ParkStop) -> float:
    """Time the bus spends at a stop, seconds."""
    return STOP_SERVICE_S + STOP_SERVICE_PER_STUDENT_S * stop.n_students


def route_times_s(stops: Sequence[ParkStop], school: ParkSchool) -> tuple[float, list[float]]:
    """Route service time (first pickup -> school arrival) and each stop's ride, seconds.

    Accumulated backwards from the school in the benchmark's order of operations, so the floats
    agree with its checker.
    """
    rides = [0.0] * len(stops)
    t = travel_s(stops[-1], school)
    rides[-1] = t
    for k in range(len(stops) - 2, -1, -1):
        t += stop_service_s(stops[k + 1]) + travel_s(stops[k], stops[k + 1])
        rides[k] = t
    return t + stop_service_s(stops[0]), rides


# --------------------------------------------------------------------------------------------------
# Data -> routing problems -> route sets
# --------------------------------------------------------------------------------------------------


def _feet_matrix(places: Sequence[ParkSchool | ParkStop]) -> np.ndarray:
    xy = np.array([(p.x_ft, p.y_ft) for p in places], dtype=float)
    return np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2)


def routing_problem(
    school: ParkSchool,
    stops: Sequence[ParkStop],
    max_ride_s: int,
    max_duration_s: int | None = None,
    vehicle_class: VehicleClass = FEWEST_ROUTES,
) -> RoutingProblem:
    """Some of a school's stops as a ``TO_SCHOOL`` routing problem (node 0 the school, 1..n stops).

    Times are rounded *up* to whole seconds (``seconds_matrix``) and the arrival deadline *down*,
    so every route the engine returns is feasible under the benchmark's float rules.
    """
    feet = _feet_matrix([school, *stops])
    students = np.array([0, *(p.n_students for p in stops)], dtype=np.int64)
    return RoutingProblem(
        name=f"school {school.id} ({len(stops)} stops, cap {max_duration_s})",
        direction=Direction.TO_SCHOOL,
        time_s=seconds_matrix(feet / FEET_PER_S),
        distance_m=np.rint(feet * M_PER_FOOT).astype(np.int64),
        demand=students,
        wheelchair_demand=np.zeros_like(students),
        service_s=_service_s(stops),
        max_ride_s=np.full(len(stops) + 1, max_ride_s, dtype=np.int64),
        # A deadline rounds down (to_solver_seconds rounds durations up); unused by the engine's
        # routes here anyway, which are re-timed to arrive at bell - dwell exactly.
        school_time_s=int(math.floor(school.bell_s - SCHOOL_DWELL_S)),
        vehicle_classes=(vehicle_class,),
        max_duration_s=max_duration_s,
    )


def _service_s(stops: Sequence[ParkStop]) -> np.ndarray:
    """Solver service times with the school's 0 first (whole seconds, rounded up)."""
    return np.array([0, *(to_solver_seconds(stop_service_s(p)) for p in stops)], dtype=np.int64)


def _alone_s(school: ParkSchool, stop: ParkStop) -> int:
    """Solver duration of a route serving ``stop`` only (service, then straight to school)."""
    return to_solver_seconds(stop_service_s(stop)) + to_solver_seconds(travel_s(stop, school))


@dataclass(frozen=True)
class RoutingJob:
    """One routing solve: part of one school's route set for one variant."""

    school_id: int
    variant: int
    seed: int
    stop_ids: tuple[int, ...]
    problem: RoutingProblem
    backend: str = "ortools"


def first_route_stops(instance: ParkInstance, school: ParkSchool) -> frozenset[int]:
    """Stops of ``school`` that no bus released at another school's bell can reach in time.

    Such a stop can only be on a bus's first route (``park_lb``'s step 2 uses the same test), so
    every route it joins becomes a first route; routing them apart keeps the other routes free
    to follow another school's.
    """
    others = [s for s in instance.schools if s.bell_s < school.bell_s]
    return frozenset(
        p.id
        for p in instance.stops_of(school.id)
        if all(
            o.bell_s + travel_s(o, p) + stop_service_s(p) + travel_s(p, school) + SCHOOL_DWELL_S
            > school.bell_s
            for o in others
        )
    )


def chaining_caps(instance: ParkInstance, school: ParkSchool, max_ride_s: int) -> tuple[int, ...]:
    """Route durations that let a bus released at an earlier school serve ``school`` in time.

    A route of duration ``d`` whose first stop lies on the way can follow a bus released at
    school ``s``'s bell when ``T_s + travel(s, school) + d + dwell <= T_school``; that bound on
    ``d`` is ``s``'s gap. Gaps between ``MIN_GAP_SHARE`` of the ride limit and the ride limit
    (beyond it no cap binds) are ranked by the students of ``s`` (the buses ``s`` releases), and
    gaps within ``GAP_SIMILARITY`` of a higher-ranked one are left out: at most ``N_GAP_CAPS``.
    """
    ranked = sorted(
        
            (-sum(p.n_students for p in instance.stops_of(s.id)), s.id, gap_s)
            for s in instance.schools
            if s.bell_s < school.bell_s
            for gap_s in [
                int(school.bell_s - SCHOOL_DWELL_S - s.bell_s - travel_s(s, school))
            ]
            if MIN_GAP_SHARE * max_ride_s <= gap_s < max_ride_s
        
    )
    caps: list[int] = []
    for _, _, gap_s in ranked:
        if all(abs(gap_s - c) > GAP_SIMILARITY * c for c in caps):
            caps.append(gap_s)
        if len(caps) == N_GAP_CAPS:
            break
    return tuple(caps)


def routing_jobs(
    school: ParkSchool,
    stops: Sequence[ParkStop],
    first_only: frozenset[int],
    max_ride_s: int,
    seed: int,
    gap_caps: tuple[int, ...] = (),
) -> list[RoutingJob]:
    """The solves that build one route set per variant in ``VARIANTS``.

    A duration cap binds the routes that can obey it: the stops whose single-stop route fits
    under the cap are routed under it; the others (too far from school for it) are routed among
    themselves under the ride limit alone. A cap that leaves no stop under it is skipped. A
    variant that keeps first-route-only stops apart routes them separately too.
    """
    jobs = []
    for v, variant in enumerate(VARIANTS):
        share = variant.duration_share
        cap_s = None if share is None else int(share * max_ride_s)
        if variant.gap_rank is not None:
            if variant.gap_rank >= len(gap_caps):
                continue
            cap_s = gap_caps[variant.gap_rank]
        if cap_s is not None and all(_alone_s(school, p) > cap_s for p in stops):
            continue
        if variant.split_first_only and not 0 < len(first_only & {p.id for p in stops}) < len(
            stops
        ):
            continue
        parts: dict[tuple[bool, bool], list[ParkStop]] = {}
        for p in stops:
            is_far = cap_s is not None and _alone_s(school, p) > cap_s
            parts.setdefault((is_far, variant.split_first_only and p.id in first_only), []).append(
                p
            )
        for (is_far, _), part in sorted(parts.items()):
            problem = routing_problem(
                school, part, max_ride_s, None if is_far else cap_s, variant.vehicle_class()
            )
            jobs.append(
                RoutingJob(
                    school.id,
                    v,
                    seed + variant.seed_offset,
                    tuple(p.id for p in part),
                    problem,
                    variant.backend,
                )
            )
    return jobs


def _kind(variant: Variant) -> tuple:
    """What a variant asks of the engine, apart from its seed."""
    return (
        variant.backend,
        variant.route_worth_s,
        variant.duration_share,
        variant.split_first_only,
        variant.gap_rank,
    )


SEED_PROBES = {
    backend: tuple(
        v
        for v, variant in enumerate(VARIANTS)
        if _kind(variant) == _kind(next(u for u in VARIANTS if u.backend == backend))
    )[:3]
    for backend in sorted({variant.backend for variant in VARIANTS})
}
"""Per backend, its first variants that differ from its first one by their seed only: when all
of them give a school the same routes, that backend's search does not depend on the seed there,
and the school's later variants of that backend that only repeat an earlier kind with another
seed are left out as redundant."""

LAST_PROBE = max(v for probes in SEED_PROBES.values() for v in probes)


def _repeats_a_kind(v: int) -> bool:
    return any(_kind(VARIANTS[u]) == _kind(VARIANTS[v]) for u in range(v))


def _routes_key(solution: RoutingSolution) -> tuple:
    return tuple(sorted(r.stops for r in solution.routes)), tuple(u.stop for u in solution.unrouted)


def estimated_solve_s(job: RoutingJob) -> float:
    """CPU seconds a routing solve is expected to take on this machine (a deterministic guess)."""
    overhead_s, per_stop_s = SOLVE_COST_S[job.backend]
    return overhead_s + per_stop_s * job.problem.n_stops


@dataclass(frozen=True)
class SolvedJobs:
    """What :func:`solve_jobs` returns: a solution per job (``None``: not run) and why not."""

    solutions: list[RoutingSolution | None]
    redundant: set[int]
    """Jobs left out because they would repeat routes already found (see ``SEED_PROBES``)."""
    over_budget: set[int]
    """Jobs of variants the work budget did not admit (deterministic)."""
    out_of_time: set[int]
    """Jobs admitted but left out because the wall clock ran past its guard (machine-dependent)."""


def solve_jobs(
    jobs: Sequence[RoutingJob], budget_cpu_s: float, workers: int, deadline: float
) -> SolvedJobs:
    """Solve the jobs variant by variant within a deterministic work budget.

    A variant's jobs (one or more per school) are admitted whole, in ``VARIANTS`` order, while the
    sum of their estimated CPU seconds (:func:`estimated_solve_s`) stays within ``budget_cpu_s``;
    variant 0 is always admitted, so every school gets a route set. The estimate depends on the
    problems' sizes only, and every solve stops on the engine's own work limit, so which route
    sets are built, and the routes in them, do not depend on how busy the machine is. Jobs that
    would only repeat routes already found are left out first (``SEED_PROBES``; decided from the
    probes' routes, never from time), which leaves budget to later variants.

    ``deadline`` (``time.monotonic()``) is a guard only: past it, admitted jobs of variants other
    than 0 are left out (``out_of_time``), and only then does the machine's speed change the
    result. A later variant's job the engine fails on is left out too; variant 0 is retried once
    with ``RETRY_SOLVE_S``.
    """
    solutions: list[RoutingSolution | None] = [None] * len(jobs)
    redundant: set[int] = set()
    over_budget: set[int] = set()
    out_of_time: set[int] = set()
    probe_job = {
        (j.school_id, j.variant): i
        for i, j in enumerate(jobs)
        if j.variant in SEED_PROBES[j.backend]
    }
    waves: dict[int, list[int]] = {}
    for i, job in enumerate(jobs):
        waves.setdefault(job.variant, []).append(i)
    spent_s = 0.0

    def is_redundant(i: int) -> bool:
        job = jobs[i]
        if job.variant <= LAST_PROBE or not _repeats_a_kind(job.variant):
            return False
        probes = [probe_job.get((job.school_id, v)) for v in SEED_PROBES[job.backend]]
        if None in probes:
            return False
        found = [solutions[k] for k in probes]
        return all(found) and len({_routes_key(f) for f in found}) == 1

    def admit(variants: Sequence[int]) -> list[int]:
        nonlocal spent_s
        admitted: list[int] = []
        for v in variants:
            wave = [i for i in waves[v] if not is_redundant(i)]
            redundant.update(set(waves[v]) - set(wave))
            cost_s = sum(estimated_solve_s(jobs[i]) for i in wave)
            if v > 0 and spent_s + cost_s > budget_cpu_s:
                over_budget.update(wave)
                continue
            spent_s += cost_s
            admitted.extend(wave)
        return admitted

    def finish(i: int, solution: RoutingSolution | None) -> None:
        if solution is None and jobs[i].variant == 0:
            solution = solve_routing(
                jobs[i].problem,
                SolverParams(
                    time_limit_s=RETRY_SOLVE_S, seed=jobs[i].seed, routing_backend=jobs[i].backend
                ),
            )
        solutions[i] = solution

    def params_for(i: int) -> SolverParams | None:
        if jobs[i].variant > 0 and time.monotonic() > deadline:
            out_of_time.add(i)
            return None
        return SolverParams(
            time_limit_s=SOLVE_CAP_S[jobs[i].backend],
            seed=jobs[i].seed,
            routing_backend=jobs[i].backend,
        )

    def run(batch: list[int], pool: ProcessPoolExecutor | None) -> None:
        if pool is None:
            for i in batch:
                params = params_for(i)
                if params is None:
                    continue
                try:
                    finish(i, solve_routing(jobs[i].problem, params))
                except SolverError:
                    finish(i, None)
            return
        running: dict = {}
        queue = iter(batch)
        is_open = True
        while is_open or running:
            while is_open and len(running) < IN_FLIGHT_PER_WORKER * workers:
                i = next(queue, None)
                if i is None:
                    is_open = False
                    break
                params = params_for(i)
                if params is not None:
                    running[pool.submit(solve_routing, jobs[i].problem, params)] = i
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=running.get):
                k = running.pop(future)
                try:
                    finish(k, future.result())
                except SolverError:
                    finish(k, None)

    # The probes first (their routes decide which later jobs are redundant), then the rest.
    probing = [v for v in sorted(waves) if v <= LAST_PROBE]
    later = [v for v in sorted(waves) if v > LAST_PROBE]
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        run(admit(probing), pool)
        run(admit(later), pool)
    finally:
        if pool is not None:
            pool.shutdown()
    return SolvedJobs(solutions, redundant, over_budget, out_of_time)


@dataclass(frozen=True)
class ParkRoute:
    """A route of the solution: stop ids in pickup order, its service time (float s)."""

    school_id: int
    stop_ids: tuple[int, ...]
    service_s: float


def _routes_from(
    solution: RoutingSolution, school: ParkSchool, stops: Sequence[ParkStop], max_ride_s: float
) -> list[ParkRoute]:
    """The engine's routes as benchmark routes, every stop served, re-timed in exact floats.

    A stop the engine left out (it never should: caps stay above single-stop routes) rides alone.
    """
    sequences = [tuple(stops[k - 1] for k in route.stops) for route in solution.routes]
    sequences += [(stops[u.stop - 1],) for u in solution.unrouted]
    routes = []
    for seq in sequences:
        service_s, rides = route_times_s(seq, school)
        if max(rides) > max_ride_s or sum(p.n_students for p in seq) > BUS_SEATS:
            raise SolverError(
                f"school {school.id}: route {[p.id for p in seq]} breaks the benchmark's rules"
            )
        routes.append(ParkRoute(school.id, tuple(p.id for p in seq), service_s))
    return sorted(routes, key=lambda r: r.stop_ids)


@dataclass(frozen=True)
class ParkResult:
    """What one run produced: buses (lists of routes), the choice made, timings."""

    instance: str
    max_ride_s: int
    buses: tuple[tuple[ParkRoute, ...], ...]
    n_routes: int
    choice: TripChoice
    wall_s: float
    n_sets_over_budget: int
    n_sets_out_of_time: int
    n_buses_one_variant: int


def solve_instance(
    instance: ParkInstance,
    max_ride_s: int,
    time_limit_s: float,
    seed: int = 0,
    workers: int = 1,
) -> ParkResult:
    """Route every school under each variant, choose routes per school, chain them onto buses.

    ``time_limit_s`` sets both budgets: routing's (``ROUTING_SHARE`` of it in CPU seconds per
    worker, by estimate: later variants are left out when it runs out) and the choice MILP's
    (``CHOICE_EFFORT_SHARE`` of it less ``CHOICE_ROOT_RESERVE_S``, in estimated seconds, turned
    into a node limit). The wall clock guards each step (the choice may use whatever is left but
    ``SAFETY_SHARE``).

    Raises
    ------
    InputError
        When some stop is farther from its school than the ride limit (no route can serve it).
    """
    started = time.monotonic()
    schools = sorted(instance.schools, key=lambda s: s.id)
    by_school = {s.id: s for s in schools}
    stops_of = {s.id: instance.stops_of(s.id) for s in schools}
    for s in schools:
        far = [p.id for p in stops_of[s.id] if travel_s(p, s) > max_ride_s]
        if far:
            raise InputError(
                [
                    Problem(
                        "Stops.txt",
                        None,
                        "X_COORD/Y_COORD",
                        far[:10],
                        f"a direct ride to school {s.id} within {max_ride_s} s",
                    )
                ],
                f"{instance.name}: instance infeasible at ride limit {max_ride_s} s",
            )
    # Variant by variant, so that a short budget still gives every school its first variants.
    jobs = sorted(
        (
            job
            for s in schools
            if stops_of[s.id]
            for job in routing_jobs(
                s,
                stops_of[s.id],
                first_route_stops(instance, s),
                max_ride_s,
                seed,
                chaining_caps(instance, s, max_ride_s),
            )
        ),
        key=lambda job: job.variant,
    )
    routing_s = ROUTING_SHARE * time_limit_s
    solved = solve_jobs(
        jobs, workers * routing_s, workers, started + WALL_GUARD_FACTOR * routing_s
    )
    solutions = solved.solutions
    stop_by_id = {p.id: p for p in instance.stops}
    routes_by_set: dict[tuple[int, int], list[ParkRoute]] = {}
    incomplete = {
        (job.school_id, job.variant)
        for job, solution in zip(jobs, solutions, strict=True)
        if solution is None
    }

    def n_sets(indices: set[int]) -> int:
        return len({(jobs[i].school_id, jobs[i].variant) for i in indices})

    for job, solution in zip(jobs, solutions, strict=True):
        if (job.school_id, job.variant) in incomplete:
            continue
        part = [stop_by_id[k] for k in job.stop_ids]
        routes_by_set.setdefault((job.school_id, job.variant), []).extend(
            _routes_from(solution, by_school[job.school_id], part, max_ride_s)
        )

    # Places: schools first, then stops; deadhead runs from a school (release) to a first stop.
    places: list[ParkSchool | ParkStop] = [*schools, *instance.stops]
    place_of_school = {s.id: i for i, s in enumerate(schools)}
    place_of_stop = {p.id: len(schools) + i for i, p in enumerate(instance.stops)}
    deadhead_s = _feet_matrix(places) / FEET_PER_S

    alternatives: dict[int, list[list[ChainTrip]]] = {}
    route_of: dict[str, ParkRoute] = {}
    seen: dict[int, set[tuple[tuple[int, ...], ...]]] = {}
    for (school_id, _), routes in sorted(routes_by_set.items()):
        school = by_school[school_id]
        routes = sorted(routes, key=lambda r: r.stop_ids)
        signature = tuple(r.stop_ids for r in routes)
        if signature in seen.setdefault(school_id, set()):
            continue  # the same routes under another cap: nothing new to choose
        seen[school_id].add(signature)
        k = len(alternatives.setdefault(school_id, []))
        option = []
        for r, route in enumerate(routes):
            trip_id = f"{school_id}/{k}/{r}"
            route_of[trip_id] = route
            option.append(
                ChainTrip(
                    id=trip_id,
                    start_place=place_of_stop[route.stop_ids[0]],
                    end_place=place_of_school[school_id],
                    start_s=school.bell_s - SCHOOL_DWELL_S - route.service_s,
                    end_s=school.bell_s,
                    vehicle_class=FEWEST_ROUTES.type_id,
                    group=school_id,
                    covers=frozenset(route.stop_ids),
                )
            )
        alternatives[school_id].append(option)

    # The product's choice (the same as plans make): the best variant, the same at every school, as
    # the incumbent (no MILP: choose_route_sets' root alone took up to 12 s of a 60 s run on the
    # largest instances), then routes of different sets mixed within a school (set partitioning
    # with chaining).
    left_s = time_limit_s * (1.0 - SAFETY_SHARE) - (time.monotonic() - started)
    choice = choose_plan_trips(
        alternatives,
        deadhead_s,
        params=SolverParams(
            seed=seed,
            chain_effort_s=max(0.0, CHOICE_EFFORT_SHARE * time_limit_s - CHOICE_ROOT_RESERVE_S),
            chain_time_limit_s=max(MIN_CHOICE_S, left_s),
        ),
    )
    uniform = choose_uniform_route_sets(alternatives, deadhead_s)
    buses = tuple(tuple(route_of[t] for t in chain.trip_ids) for chain in choice.chains)
    return ParkResult(
        instance=instance.name,
        max_ride_s=max_ride_s,
        buses=buses,
        n_routes=len(choice.trips),
        choice=choice,
        wall_s=time.monotonic() - started,
        n_sets_over_budget=n_sets(solved.over_budget),
        n_sets_out_of_time=n_sets(solved.out_of_time),
        n_buses_one_variant=uniform.n_vehicles,
    )


# --------------------------------------------------------------------------------------------------
# Output, checking, reference figures
# --------------------------------------------------------------------------------------------------


def solution_json(result: ParkResult, instance: ParkInstance) -> dict:
    """The solution in the benchmark's shared JSON format (README section 4).

    Every route arrives at its school at the latest allowed time, bell - dwell: chaining was
    computed for exactly those times.
    """
    bell = {s.id: s.bell_s for s in instance.schools}
    return {
        "instance": instance.name,
        "max_ride_time_s": result.max_ride_s,
        "buses": [
            {
                "id": b + 1,
                "routes": [
                    {
                        "school": r.school_id,
                        "stops": list(r.stop_ids),
                        "arrival_s": bell[r.school_id] - SCHOOL_DWELL_S,
                    }
                    for r in bus
                ],
            }
            for b, bus in enumerate(result.buses)
        ],
    }


def check_solution(instance_dir: Path, solution_path: Path, max_ride_s: int) -> str | None:
    """The last line of the benchmark's ``park_check.py`` (``OK buses=N`` or ``FAIL: ...``).

    Returns ``None`` when the checker is absent (``../shared`` not beside the repository).
    """
    checker = PARK_DIR / "tools" / "park_check.py"
    if not checker.is_file():
        return None
    done = subprocess.run(
        [
            sys.executable,
            str(checker),
            str(instance_dir),
            str(solution_path),
            "--max-ride",
            str(max_ride_s),
            "-q",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    return (
        lines[-1]
        if lines
        else f"FAIL: checker printed nothing (exit {done.returncode}): {done.stderr.strip()}"
    )


def lower_bound(instance_dir: Path, max_ride_s: int) -> int | None:
    """The benchmark's lower bound on buses (``tools/park_lb.py``), ``None`` when absent."""
    tools = PARK_DIR / "tools"
    if not (tools / "park_lb.py").is_file():
        return None
    if str(tools) not in sys.path:
        sys.path.insert(0, str(tools))
    import park_lb

    return int(park_lb.bounds(str(instance_dir), float(max_ride_s))["LB"])


def bird_combined() -> dict[tuple[str, int], int]:
    """BiRD ``combined`` bus counts (PNAS Table S1), read from the benchmark's README table."""
    readme = PARK_DIR / "README.md"
    if not readme.is_file():
        return {}
    header, table = None, {}
    for line in readme.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "combined" in cells and "instance" in cells:
            header = cells
        elif header and len(cells) == len(header) and re.fullmatch(r"(RSRB|CSCB)\d\d", cells[0]):
            row = dict(zip(header, cells, strict=True))
            table[(row["instance"], int(row["max ride (s)"]))] = int(row["combined"])
    return table


@dataclass(frozen=True)
class TableRow:
    instance: str
    max_ride_s: int
    buses: int
    routes: int
    lower_bound: int | None
    bird: int | None
    wall_s: float
    check: str
    method: str
    n_sets_over_budget: int = 0
    n_sets_out_of_time: int = 0
    n_buses_one_variant: int | None = None


def _fmt(value: object) -> str:
    return "-" if value is None else str(value)


def format_line(row: TableRow) -> str:
    """The one line printed per instance and ride limit."""
    return (
        f"{row.instance} ride={row.max_ride_s} buses={row.buses} routes={row.routes} "
        f"LB={_fmt(row.lower_bound)} BiRD={_fmt(row.bird)} wall={row.wall_s:.1f}s "
        f"one_variant={_fmt(row.n_buses_one_variant)} choice={row.method} "
        f"sets_over_budget={row.n_sets_over_budget} sets_out_of_time={row.n_sets_out_of_time} "
        f"check={row.check}"
    )


def format_table(rows: Sequence[TableRow], command: str) -> str:
    """A markdown table of the runs with totals per ride limit."""
    out = [
        "# schoolbus on Park-Tae-Kim (BiRD rules)",
        "",
        f"Command: `{command}`",
        "",
        "`over budget`: route sets (school x variant) the deterministic work budget did not admit.",
        "`out of time`: route sets left out because the wall clock passed its guard on this",
        "machine. `choice`: what chose the routes (`milp`, or `incumbent`: the best variant at",
        "every school), then `optimal` (proven) or `nodes` (stopped at its node limit), and",
        "`time` when the wall clock cut the MILP short. With 0 out of time and no `time` the run",
        "is deterministic for its seed.",
        "",
        "| instance | max ride (s) | buses | routes | LB | BiRD combined | wall (s) | choice "
        "| over budget | out of time | check |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.instance} | {r.max_ride_s} | {r.buses} | {r.routes} | {_fmt(r.lower_bound)} | "
            f"{_fmt(r.bird)} | {r.wall_s:.1f} | {r.method} | {r.n_sets_over_budget} | {r.n_sets_out_of_time} | {r.check} |"
        )
    for ride in sorted({r.max_ride_s for r in rows}):
        sel = [r for r in rows if r.max_ride_s == ride]
        lb = (
            sum(r.lower_bound for r in sel) if all(r.lower_bound is not None for r in sel) else None
        )
        bird = sum(r.bird for r in sel) if all(r.bird is not None for r in sel) else None
        n_ok = sum(r.check.startswith("OK") for r in sel)
        out.append(
            f"| **total ({len(sel)})** | {ride} | **{sum(r.buses for r in sel)}** | "
            f"{sum(r.routes for r in sel)} | "
            f"{_fmt(lb)} | {_fmt(bird)} | {sum(r.wall_s for r in sel):.1f} | | "
            f"{sum(r.n_sets_over_budget for r in sel)} | "
            f"{sum(r.n_sets_out_of_time for r in sel)} | {n_ok}/{len(sel)} OK |"
        )
    return "\n".join(out) + "\n"


def run(
    instance_dir: Path,
    max_ride_s: int,
    time_limit_s: float,
    out: Path,
    seed: int = 0,
    workers: int = 1,
    bird: dict[tuple[str, int], int] | None = None,
) -> TableRow:
    """Solve, write, check and describe one instance at one ride limit."""
    instance = read_instance(instance_dir)
    result = solve_instance(instance, max_ride_s, time_limit_s, seed=seed, workers=workers)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(solution_json(result, instance), indent=1) + "\n")
    check = check_solution(instance_dir, out, max_ride_s)
    if check is None:
        check = f"skipped ({PARK_DIR / 'tools' / 'park_check.py'} is absent)"
    method = result.choice.method + ("/optimal" if result.choice.is_optimal else "/nodes")
    if result.choice.stopped_on_time:
        method += "/time"
    return TableRow(
        instance=instance.name,
        max_ride_s=max_ride_s,
        buses=len(result.buses),
        routes=result.n_routes,
        lower_bound=lower_bound(instance_dir, max_ride_s),
        bird=(bird or {}).get((instance.name, max_ride_s)),
        wall_s=result.wall_s,
        check=check,
        method=method,
        n_sets_over_budget=result.n_sets_over_budget,
        n_sets_out_of_time=result.n_sets_out_of_time,
        n_buses_one_variant=result.n_buses_one_variant,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "instance_dirs", nargs="+", type=Path, help="folders holding Schools.txt and Stops.txt"
    )
    parser.add_argument(
        "--max-ride", type=int, nargs="+", default=[2700], help="ride limit(s), seconds"
    )
    parser.add_argument(
        "--time-limit", type=float, default=60.0, help="budget per instance and ride limit, seconds"
    )
    parser.add_argument("--out", type=Path, help="solution JSON (one instance and one ride limit)")
    parser.add_argument("--out-dir", type=Path, help="folder for INSTANCE-RIDE.json solutions")
    parser.add_argument("--table", type=Path, help="write a markdown table of all runs here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="routing processes (default 1)")
    args = parser.parse_args(argv)
    runs = [(d, r) for d in args.instance_dirs for r in args.max_ride]
    if args.out is not None and len(runs) != 1:
        parser.error("--out takes one instance and one ride limit; use --out-dir for several")
    if args.out is None and args.out_dir is None:
        parser.error("give --out or --out-dir")
    if not PARK_DIR.is_dir():
        print(
            f"note: {PARK_DIR} is absent: solutions are not checked, LB and BiRD not shown",
            file=sys.stderr,
        )
    bird = bird_combined()
    rows, failed = [], False
    for instance_dir, max_ride_s in runs:
        out = args.out or args.out_dir / f"{Path(instance_dir).name}-{max_ride_s}.json"
        try:
            row = run(instance_dir, max_ride_s, args.time_limit, out, args.seed, args.workers, bird)
        except SchoolbusError as error:
            print(
                f"{Path(instance_dir).name} ride={max_ride_s} error ({error.code}): {error}",
                file=sys.stderr,
            )
            failed = True
            continue
        print(format_line(row), flush=True)
        failed |= row.check.startswith("FAIL")
        rows.append(row)
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        command = "python benchmarks/park2012.py " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        args.table.write_text(format_table(rows, command))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
