"""Serve within a budget: weighted pupils carried by the planner against a simple baseline.

On a generated district (:func:`schoolbus.synthetic.district_scenario` on the Helsinki extract
pyrosm ships, the example fleet and policy), pupils are weighed by the priority rules below (a
seeded 15 % of pupils flagged vulnerable). The full plan is made once; then, for budgets at 25, 50
and 75 % of its annual cost, two choices of whom to carry are each planned by the same engine:

* **planner**: :func:`schoolbus.budget.plan_within_budget`: the full plan's trips to school as
  units (neighbours, whose trips the engine chains onto few vehicles), the most weight per TRY of
  the vehicles they add first, cut at the longest prefix the budget plans (the engine's costs
  interpolated between a prefix that fits and one that does not, a bounded number of plans); and
  the simple rule below, keeping the better;
* **baseline**: pupils in priority order, the nearest to school first among equals, until the
  budget is spent: the longest such prefix the budget plans (a bisection on its length).

Both plans must cost at most the budget. Results go to ``benchmarks/results/budget/`` as JSON and a
Markdown table (the one in ``benchmarks/README.md``).

Usage: ``.venv/bin/python benchmarks/budget.py [--n 2000] [--seed 0] [--out-dir DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import pyrosm

from schoolbus.budget import ORDER_PRIORITY_NEAREST, ORDER_VALUE, plan_within_budget, weighted_served
from schoolbus.ingest import read_fleet, read_policy
from schoolbus.model import GradeBand, PriorityRules
from schoolbus.network import load_network
from schoolbus.params import SolverParams
from schoolbus.pipeline import plan
from schoolbus.synthetic import district_scenario, read_osm_schools

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "data" / "examples"
FRACTIONS = (0.25, 0.5, 0.75)
VULNERABLE_SHARE = 0.15
RULES = PriorityRules(per_km_from_school=0.5, wheelchair=2.0, vulnerable=2.0, grade_bands=(GradeBand(max_grade=4, weight=1.0),))
"""The benchmark's priority rules: a pupil weighs 1, plus these."""


def district(n_students: int, seed: int):
    """The generated district with the example fleet and policy, and seeded vulnerability flags."""
    osm = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    policy = read_policy(EXAMPLES / "policy.yaml")
    roads = load_network(osm=osm, forbidden_road_classes=policy.forbidden_road_classes)
    generated = district_scenario(read_osm_schools(osm), roads.drive, n_students, seed=seed, name=f"budget-{n_students}")
    fleet, prices = read_fleet(EXAMPLES / "fleet.yaml")
    rng = random.Random(seed)
    students = tuple(replace(s, is_vulnerable=rng.random() < VULNERABLE_SHARE) for s in generated.students)
    scenario = replace(
        generated, students=students, policy=policy, prices=prices, fleet=replace(fleet, depots=generated.fleet.depots), priority_rules=RULES
    )
    return scenario, roads


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=HERE / "results" / "budget")
    args = parser.parse_args(argv)
    scenario, roads = district(args.n, args.seed)
    params = SolverParams(seed=args.seed)
    n_plans = 0
    planned: dict[tuple[str, ...], object] = {}

    def plan_fn(s):
        # The planner also tries the simple rule: the baseline's plans are the same plans, made once.
        nonlocal n_plans
        key = tuple(x.id for x in s.students)
        if key not in planned:
            n_plans += 1
            planned[key] = plan(s, roads, params)
        return planned[key]

    started = time.perf_counter()
    load_before = os.getloadavg()
    full = plan_fn(scenario)
    total_weight = weighted_served(full)
    print(f"full plan: {full.summary.n_routed} pupils, {full.summary.n_vehicles} vehicles, {full.summary.cost_per_year:,.0f} per year", file=sys.stderr)
    rows = []
    for fraction in FRACTIONS:
        budget = round(full.summary.cost_per_year * fraction, 2)
        budgeted = replace(scenario, budget_per_year=budget)
        row = {"fraction": fraction, "budget_per_year": budget}
        for label, order in (("planner", ORDER_VALUE), ("baseline", ORDER_PRIORITY_NEAREST)):
            result = plan_within_budget(budgeted, plan_fn, order=order, full=full)
            assert result.summary.cost_per_year <= budget
            row[label] = {
                "n_served": result.summary.n_routed,
                "weighted": round(weighted_served(result), 2),
                "cost_per_year": result.summary.cost_per_year,
                "n_vehicles": result.summary.n_vehicles,
            }
        row["gain"] = row["planner"]["weighted"] / row["baseline"]["weighted"] - 1 if row["baseline"]["weighted"] else None
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    result = {
        "n_students": len(scenario.students),
        "n_schools": len(scenario.schools),
        "full": {
            "n_served": full.summary.n_routed,
            "weighted": round(total_weight, 2),
            "cost_per_year": full.summary.cost_per_year,
            "n_vehicles": full.summary.n_vehicles,
        },
        "rows": rows,
        "n_plans": n_plans,
        "wall_s": round(time.perf_counter() - started, 1),
        "load_average": {"start": [round(x, 1) for x in load_before], "end": [round(x, 1) for x in os.getloadavg()]},
        "n_cpus": os.cpu_count(),
        "seed": args.seed,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"budget-{args.n}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out_dir / f"budget-{args.n}.md").write_text(table(result), encoding="utf-8")
    print(table(result))


def table(result) -> str:
    """The Markdown table of benchmarks/README.md."""
    full = result["full"]
    lines = [
        f"Full plan: {full['n_served']} of {result['n_students']} pupils ({full['weighted']:,.1f} weighted), "
        f"{full['n_vehicles']} vehicles, {full['cost_per_year']:,.0f} TRY per year; {result['n_plans']} plans "
        f"in {result['wall_s']:,.0f} s on {result['n_cpus']} CPUs (load average, 1/5/15 min: "
        f"{'/'.join(map(str, result['load_average']['start']))} at the start, "
        f"{'/'.join(map(str, result['load_average']['end']))} at the end).",
        "",
        "| budget | planner: pupils / weighted / cost | baseline: pupils / weighted / cost | weighted gain |",
        "|---|---|---|---|",
    ]
    for row in result["rows"]:
        cells = []
        for label in ("planner", "baseline"):
            r = row[label]
            cells.append(f"{r['n_served']} / {r['weighted']:,.1f} / {r['cost_per_year']:,.0f}")
        gain = "–" if row["gain"] is None else f"{row['gain']:+.1%}"
        lines.append(f"| {row['fraction']:.0%} ({row['budget_per_year']:,.0f}) | {cells[0]} | {cells[1]} | {gain} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
