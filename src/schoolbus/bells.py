"""Bell-time scenarios: move schools' bells within their windows to need the fewest vehicles.

A school moves all its shifts by one offset (its double-shift gap kept), in :data:`BELL_STEP_S`
steps, so that every shift with a :class:`~schoolbus.model.BellWindow` rings inside it. Routes do
not depend on the hour (travel times do not vary through the day), so a school's trips under a
moved bell are its trips under the current bell, moved by the offset. The search therefore plans
once, then chains the moved trips onto vehicles (:func:`schoolbus.scheduling.chain_trips`, exact
fewest vehicles, then least empty driving) for candidate offsets: school by school, each school's
every allowed offset tried with the others fixed, in passes until none improves (at most
:data:`MAX_PASSES`). The chosen bells are then planned in full and checked; when that plan does not
need fewer vehicles (then cost less) than the current bells', the current bells are kept.

:func:`bell_table` compares two finished plans school by school (bells, vehicles, cost).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from schoolbus.costing import GROUP_SCHOOL
from schoolbus.locations import locate
from schoolbus.matrix import travel_matrices
from schoolbus.model import Direction, Located, Plan, Scenario, School, Shift
from schoolbus.network import RoadNetwork
from schoolbus.routing.problem import seconds_matrix
from schoolbus.scheduling import ChainTrip, chain_trips

BELL_STEP_S = 600
"""Bells move in 10-minute steps."""

MAX_PASSES = 3
"""Passes of the school-by-school search, at most."""

PlanFn = Callable[[Scenario], Plan]


@dataclass(frozen=True)
class BellChoice:
    """The plan with the chosen bells and the plan with the current ones."""

    plan: Plan
    current: Plan
    offsets_s: dict[str, int]


def allowed_offsets_s(school: School, windows: Sequence) -> tuple[int, ...]:
    """Offsets (seconds, multiples of :data:`BELL_STEP_S`, 0 first) keeping the school's shifts in their windows.

    A school without a window stays (``(0,)``); one whose windows no offset meets stays too.
    """
    mine = [w for w in windows if w.school_id == school.id]
    if not mine:
        return (0,)
    low, high = -86_400, 86_400
    for window in mine:
        bell_s = school.shift(window.shift).bell_s
        low, high = max(low, window.earliest_s - bell_s), min(high, window.latest_s - bell_s)
    first = -(-low // BELL_STEP_S)
    offsets = [k * BELL_STEP_S for k in range(first, high // BELL_STEP_S + 1)]
    if not offsets:
        return (0,)
    return tuple(sorted(offsets, key=lambda o: (abs(o), o)))


def moved(school: School, offset_s: int) -> School:
    """``school`` with every shift's bell and dismissal moved by ``offset_s``."""
    if not offset_s:
        return school
    return replace(
        school, shifts=tuple(Shift(s.name, s.bell_s + offset_s, s.dismissal_s + offset_s) for s in school.shifts)
    )


def choose_bells(
    scenario: Scenario, network: RoadNetwork, plan_fn: PlanFn, *, located: Located | None = None
) -> BellChoice:
    """Bells within the windows that need the fewest vehicles (then the least empty driving).

    Parameters
    ----------
    scenario : Scenario
        With ``bell_windows``; ``choose_bells`` is ignored (the plans made here do not choose).
    network : RoadNetwork
        The roads ``plan_fn`` plans on (its ``drive`` graph gives the empty runs between trips).
    plan_fn : callable
        ``plan_fn(scenario) -> Plan``: a checked plan of a scenario that chooses nothing.
    located : Located, optional
        The scenario's schools and depots on ``network`` (:func:`schoolbus.locations.locate`);
        located here when not given.
    """
    fixed = replace(scenario, choose_bells=False)
    current = plan_fn(fixed)
    options = {s.id: allowed_offsets_s(s, scenario.bell_windows) for s in scenario.schools}
    if all(o == (0,) for o in options.values()) or not current.trips:
        return BellChoice(replace(current, scenario=scenario), current, dict.fromkeys(options, 0))
    evaluate = _chainer(current, network, located if located is not None else locate(scenario, network))
    offsets, best = search_offsets(options, evaluate)
    if not any(offsets.values()):
        return BellChoice(replace(current, scenario=scenario), current, offsets)
    schools = tuple(moved(s, offsets[s.id]) for s in scenario.schools)
    chosen = plan_fn(replace(fixed, schools=schools))
    if _key(chosen) >= _key(current):
        return BellChoice(replace(current, scenario=scenario), current, dict.fromkeys(options, 0))
    return BellChoice(replace(chosen, scenario=replace(scenario, schools=schools)), current, offsets)


def _key(result: Plan) -> tuple[int, float]:
    return result.summary.n_vehicles, result.summary.cost_per_year


def _chainer(
    current: Plan, network: RoadNetwork, located: Located
) -> Callable[[dict[str, int]], tuple[int, float]]:
    """``evaluate(offsets) -> (vehicles, empty metres)`` of the current trips moved by school offsets."""
    scenario = current.scenario
    stop_nodes = {s.id: s.node_id for s in current.stops}
    school_nodes = located.school_nodes()
    places: dict[int, int] = {}

    def place(node: int) -> int:
        return places.setdefault(int(node), len(places))

    depot_nodes = located.depot_nodes()
    depot_places = tuple(place(depot_nodes[d.id]) for d in scenario.fleet.depots)
    base = []
    for trip in current.trips:
        ends = []
        for visit in (trip.visits[0], trip.visits[-1]):
            ends.append(place(stop_nodes[visit.stop_id] if visit.stop_id is not None else school_nodes[visit.school_id]))
        base.append((trip, ends[0], ends[1]))
    nodes = sorted(places, key=places.get)
    deadhead = travel_matrices(network.drive, nodes, nodes)
    deadhead_s = seconds_matrix(deadhead.time_s)
    deadhead_m = np.asarray(deadhead.distance_m, dtype=float)

    def evaluate(offsets: dict[str, int]) -> tuple[int, float]:
        trips = [
            ChainTrip(
                id=trip.id,
                start_place=start,
                end_place=end,
                start_s=trip.start_s + offsets[trip.school_id],
                end_s=trip.end_s + offsets[trip.school_id],
                vehicle_class=trip.vehicle_type,
                group=(trip.school_id, trip.shift, trip.direction is Direction.TO_SCHOOL),
                distance_m=trip.distance_m,
            )
            for trip, start, end in base
        ]
        chains = chain_trips(trips, deadhead_s, deadhead_m, depot_places=depot_places)
        return len(chains), round(float(sum(c.deadhead_m for c in chains)), 1)

    return evaluate


@dataclass(frozen=True)
class BellRow:
    """One school under the current and the chosen bells (first shift's bell, seconds)."""

    school_id: str
    name: str
    current_bell_s: int
    chosen_bell_s: int
    current_vehicles: int
    chosen_vehicles: int
    current_cost_per_year: float
    chosen_cost_per_year: float


def bell_table(current: Plan, chosen: Plan) -> tuple[BellRow, ...]:
    """School by school: bells, vehicles serving the school and its cost share, in both plans."""

    def vehicles(result: Plan) -> dict[str, int]:
        trips = {t.id: t for t in result.trips}
        count: dict[str, int] = {}
        for vehicle in result.vehicles:
            for school_id in {trips[t].school_id for t in vehicle.trip_ids}:
                count[school_id] = count.get(school_id, 0) + 1
        return count

    def costs(result: Plan) -> dict[str, float]:
        return {line.key: line.cost_per_year for line in result.costs if line.group == GROUP_SCHOOL}

    before_v, after_v = vehicles(current), vehicles(chosen)
    before_c, after_c = costs(current), costs(chosen)
    moved_schools = {s.id: s for s in chosen.scenario.schools}
    return tuple(
        BellRow(
            school_id=school.id,
            name=school.name,
            current_bell_s=school.shifts[0].bell_s,
            chosen_bell_s=moved_schools[school.id].shifts[0].bell_s,
            current_vehicles=before_v.get(school.id, 0),
            chosen_vehicles=after_v.get(school.id, 0),
            current_cost_per_year=before_c.get(school.id, 0.0),
            chosen_cost_per_year=after_c.get(school.id, 0.0),
        )
        for school in current.scenario.schools
    )


def search_offsets(options, evaluate):
    """Move one school's bell at a time to the offset ``evaluate`` scores lowest, until no move helps.

    ``options`` maps each school to its allowed offsets (seconds, 0 included); ``evaluate(offsets)``
    returns a comparable score (fewest vehicles, then least empty driving). At most
    ``MAX_PASSES`` passes over the schools, in id order, so the result is deterministic.
    Returns ``(offsets, best score)``.
    """
    offsets = dict.fromkeys(options, 0)
    best = evaluate(offsets)
    for _ in range(MAX_PASSES):
        improved = False
        for school_id in sorted(options):
            for offset in options[school_id]:
                if offset == offsets[school_id]:
                    continue
                trial = {**offsets, school_id: offset}
                score = evaluate(trial)
                if score < best:
                    best, offsets, improved = score, trial, True
        if not improved:
            break
    return offsets, best
