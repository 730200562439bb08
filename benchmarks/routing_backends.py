"""Compare the routing backends school by school on the Park-Tae-Kim benchmark (RSRB, CSCB).

Usage::

    python benchmarks/routing_backends.py
    python benchmarks/routing_backends.py --instances RSRB01 CSCB01 --max-ride 2700 \\
        --time-limits 0.1 1.0 --out benchmarks/results/routing_backends.json

Every school of every instance becomes one ``TO_SCHOOL`` routing problem (``park2012``'s
``routing_problem``: the fewest 66-seat routes within the ride limit, then the shortest drive),
solved by each backend of ``schoolbus.params.ROUTING_BACKENDS`` through the same
``solve_routing`` at each ``time_limit_s``. Each backend turns the time limit into its own
deterministic effort (OR-Tools: limit checks, PyVRP: iterations), so a row compares the two at
the same nominal budget; the CPU seconds say what each actually spent (``time.process_time``,
which other jobs on the machine do not inflate). A backend is better on a school when it leaves
fewer stops unrouted, or as many and needs fewer routes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from park2012 import PARK_DIR, read_instance, routing_problem
from schoolbus.params import ROUTING_BACKENDS, SolverParams
from schoolbus.routing.problem import RoutingProblem, RoutingSolution
from schoolbus.routing.solve import solve_routing
from schoolbus.trips import route_distance_m

DEFAULT_INSTANCES = ("RSRB01", "RSRB02", "RSRB03", "RSRB04", "CSCB01", "CSCB02", "CSCB03", "CSCB04")
DEFAULT_MAX_RIDES_S = (2700, 5400)
"""The benchmark's two ride limits, seconds."""
DEFAULT_TIME_LIMITS_S = (0.1, 0.3, 1.0)
"""``SolverParams.time_limit_s`` per school solve: effort levels, seconds."""
BACKEND_LABELS = {"ortools": "OR-Tools", "pyvrp": "PyVRP"}


@dataclass(frozen=True)
class SchoolResult:
    """One school solved by one backend at one effort level."""

    instance: str
    max_ride_s: int
    time_limit_s: float
    backend: str
    school_id: int
    n_stops: int
    n_routes: int
    n_unrouted: int
    drive_m: int
    cpu_s: float


def solve_school(problem: RoutingProblem, params: SolverParams) -> tuple[RoutingSolution, float]:
    """The solution and the CPU seconds this process spent on it."""
    started_s = time.process_time()
    solution = solve_routing(problem, params)
    return solution, time.process_time() - started_s


def run(
    instance_dirs: Sequence[Path],
    max_rides_s: Sequence[int],
    time_limits_s: Sequence[float],
    seed: int,
) -> list[SchoolResult]:
    """Solve every school of every instance with every backend at every effort level."""
    results: list[SchoolResult] = []
    for instance_dir in instance_dirs:
        instance = read_instance(instance_dir)
        for max_ride_s in max_rides_s:
            for school in instance.schools:
                stops = instance.stops_of(school.id)
                if not stops:
                    continue
                problem = routing_problem(school, stops, max_ride_s)
                for time_limit_s in time_limits_s:
                    for backend in ROUTING_BACKENDS:
                        params = SolverParams(
                            time_limit_s=time_limit_s, seed=seed, routing_backend=backend
                        )
                        solution, cpu_s = solve_school(problem, params)
                        results.append(
                            SchoolResult(
                                instance=instance.name,
                                max_ride_s=max_ride_s,
                                time_limit_s=time_limit_s,
                                backend=backend,
                                school_id=school.id,
                                n_stops=len(stops),
                                n_routes=len(solution.routes),
                                n_unrouted=len(solution.unrouted),
                                drive_m=sum(int(route_distance_m(problem, r.stops)) for r in solution.routes),
                                cpu_s=cpu_s,
                            )
                        )
            print(f"{instance.name} ride {max_ride_s} s: done", file=sys.stderr, flush=True)
    return results


@dataclass(frozen=True)
class Summary:
    """One table row: totals per backend over a group of schools."""

    label: str
    max_ride_s: int | str
    time_limit_s: float
    n_schools: int
    n_routes: dict[str, int]
    n_unrouted: dict[str, int]
    drive_km: dict[str, float]
    cpu_s: dict[str, float]
    n_strictly_better: dict[str, int]


def _score(result: SchoolResult) -> tuple[int, int]:
    """Lower is better: unrouted stops first, then routes."""
    return (result.n_unrouted, result.n_routes)


def summarise(label: str, results: Sequence[SchoolResult]) -> Summary:
    """Totals per backend, and on how many schools each beats every other backend."""
    by_school: dict[tuple, dict[str, SchoolResult]] = {}
    for r in results:
        by_school.setdefault((r.instance, r.max_ride_s, r.school_id), {})[r.backend] = r
    better = dict.fromkeys(ROUTING_BACKENDS, 0)
    for per_backend in by_school.values():
        for backend, result in per_backend.items():
            others = [_score(o) for b, o in per_backend.items() if b != backend]
            if others and all(_score(result) < o for o in others):
                better[backend] += 1
    rides = sorted({r.max_ride_s for r in results})
    return Summary(
        label=label,
        max_ride_s=rides[0] if len(rides) == 1 else "both",
        time_limit_s=results[0].time_limit_s,
        n_schools=len(by_school),
        n_routes={b: sum(r.n_routes for r in results if r.backend == b) for b in ROUTING_BACKENDS},
        n_unrouted={
            b: sum(r.n_unrouted for r in results if r.backend == b) for b in ROUTING_BACKENDS
        },
        drive_km={
            b: sum(r.drive_m for r in results if r.backend == b) / 1000.0 for b in ROUTING_BACKENDS
        },
        cpu_s={b: sum(r.cpu_s for r in results if r.backend == b) for b in ROUTING_BACKENDS},
        n_strictly_better=better,
    )


def summaries(results: Sequence[SchoolResult]) -> list[Summary]:
    """Rows per instance, ride limit and effort, then totals over the instances."""
    rows: list[Summary] = []
    instances = list(dict.fromkeys(r.instance for r in results))
    rides = sorted({r.max_ride_s for r in results})
    limits = sorted({r.time_limit_s for r in results})
    for max_ride_s in rides:
        for limit_s in limits:
            for name in instances:
                group = [
                    r
                    for r in results
                    if (r.instance, r.max_ride_s, r.time_limit_s) == (name, max_ride_s, limit_s)
                ]
                if group:
                    rows.append(summarise(name, group))
            if len(instances) > 1:
                group = [
                    r for r in results if (r.max_ride_s, r.time_limit_s) == (max_ride_s, limit_s)
                ]
                rows.append(summarise("**all**", group))
    return rows


def format_table(rows: Sequence[Summary], command: str) -> str:
    """A markdown table: per backend routes, drive km, CPU s and schools strictly better."""
    labels = [BACKEND_LABELS.get(b, b) for b in ROUTING_BACKENDS]
    header = ["instance", "ride s", "limit s", "schools"]
    for what in ("routes", "km", "CPU s", "better"):
        header += [f"{label} {what}" for label in labels]
    lines = [
        f"`{command}`",
        "",
        "| " + " | ".join(header) + " |",
        "| --- | ---: | ---: | ---: |" + " ---: |" * (4 * len(labels)),
    ]
    for row in rows:
        routes = [
            f"{row.n_routes[b]}"
            + (f" (+{row.n_unrouted[b]} unrouted)" if row.n_unrouted[b] else "")
            for b in ROUTING_BACKENDS
        ]
        cells = [row.label, str(row.max_ride_s), f"{row.time_limit_s:g}", str(row.n_schools)]
        cells += routes
        cells += [f"{row.drive_km[b]:,.0f}" for b in ROUTING_BACKENDS]
        cells += [f"{row.cpu_s[b]:.1f}" for b in ROUTING_BACKENDS]
        cells += [str(row.n_strictly_better[b]) for b in ROUTING_BACKENDS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        (
            "routes: all schools' routes; km: their drive, first stop to school; CPU s: this "
            "process's CPU time for all solves; better: schools where the backend leaves fewer "
            "stops unrouted, or as many and needs fewer routes, than every other backend."
        ),
    ]
    return "\n".join(lines)


def _instance_dir(name_or_path: str) -> Path:
    """An instance folder given as a path or as a name under the shared benchmark."""
    path = Path(name_or_path)
    return path if path.is_dir() else PARK_DIR / name_or_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--instances",
        nargs="+",
        default=list(DEFAULT_INSTANCES),
        help=f"instance names under {PARK_DIR} or folders (default: %(default)s)",
    )
    parser.add_argument(
        "--max-ride", nargs="+", type=int, default=list(DEFAULT_MAX_RIDES_S), help="seconds"
    )
    parser.add_argument(
        "--time-limits",
        nargs="+",
        type=float,
        default=list(DEFAULT_TIME_LIMITS_S),
        help="SolverParams.time_limit_s per school solve, seconds",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write every school's result and the table rows")
    args = parser.parse_args(argv)

    dirs = [_instance_dir(name) for name in args.instances]
    missing = [str(d) for d in dirs if not (d / "Schools.txt").is_file()]
    if missing:
        parser.error("no Park instance in " + ", ".join(missing))
    results = run(dirs, args.max_ride, args.time_limits, args.seed)
    rows = summaries(results)
    command = "python benchmarks/routing_backends.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    print(format_table(rows, command.strip()))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "command": command.strip(),
                    "schools": [asdict(r) for r in results],
                    "rows": [asdict(r) for r in rows],
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
