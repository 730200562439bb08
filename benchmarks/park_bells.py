"""Park–Tae–Kim instances with each school's bell free within ±30 min of its published bell.

For each instance, ``benchmarks/park2012.py`` solves it with the published bells (its routes and its
chaining, BiRD's rules); then each school's chosen routes are moved with its bell, in 10-minute
steps within ``--window-min`` of the published one, and chained again onto the fewest buses
(:func:`schoolbus.scheduling.chain_trips`, exact), school by school while a move saves buses (then
empty driving), as :func:`schoolbus.bells.choose_bells` searches a district. Routes are not
re-solved: the buses with moved bells are an upper bound of what re-planning would need.

Usage: ``.venv/bin/python benchmarks/park_bells.py ../shared/benchmarks/park2012/RSRB01 [...]
[--max-ride 2700] [--time-limit 30] [--window-min 30]``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from park2012 import FEET_PER_S, _feet_matrix, read_instance, solve_instance  # noqa: E402
from schoolbus.bells import BELL_STEP_S, search_offsets  # noqa: E402
from schoolbus.scheduling import chain_trips  # noqa: E402

METRES_PER_FOOT = 0.3048


def bells_free(instance_dir: Path, max_ride_s: int, time_limit_s: float, window_s: int) -> tuple[int, int, dict]:
    """(buses with published bells, buses with bells moved, offsets by school)."""
    instance = read_instance(instance_dir)
    result = solve_instance(instance, max_ride_s, time_limit_s)
    trips = list(result.choice.trips)
    schools = sorted(instance.schools, key=lambda s: s.id)
    feet = _feet_matrix([*schools, *instance.stops])
    deadhead_s, deadhead_m = feet / FEET_PER_S, feet * METRES_PER_FOOT
    steps = window_s // BELL_STEP_S
    options = {s.id: sorted((k * BELL_STEP_S for k in range(-steps, steps + 1)), key=lambda o: (abs(o), o)) for s in schools}

    def buses(offsets: dict[int, int]) -> tuple[int, float]:
        moved = [replace(t, start_s=t.start_s + offsets[t.group], end_s=t.end_s + offsets[t.group]) for t in trips]
        chains = chain_trips(moved, deadhead_s, deadhead_m)
        return len(chains), round(float(sum(c.deadhead_m for c in chains)), 1)

    published = buses(dict.fromkeys(options, 0))
    offsets, best = search_offsets(options, buses)
    return published[0], best[0], offsets


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("instances", nargs="+", type=Path)
    parser.add_argument("--max-ride", type=int, default=2700)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--window-min", type=int, default=30)
    args = parser.parse_args(argv)
    print(f"| instance | ride limit | buses, published bells | buses, bells within ±{args.window_min} min | saving |")
    print("|---|---|---|---|---|")
    for instance_dir in args.instances:
        published, moved, _ = bells_free(instance_dir, args.max_ride, args.time_limit, args.window_min * 60)
        print(f"| {instance_dir.name} | {args.max_ride} s | {published} | {moved} | {1 - moved / published:.0%} |", flush=True)


if __name__ == "__main__":
    main()
