"""Serve within a budget: which pupils to carry when the money cannot carry them all.

A prize-collecting choice over a routing plan. Each pupil weighs :func:`priority_weight` (their
``priority`` column plus the scenario's :class:`~schoolbus.model.PriorityRules`). The full plan is
made first; when it costs more than the budget, two orders of the pupils are each cut at the longest
prefix the budget plans (a bisection on the length, every length tried planned by the same engine),
and the better plan within the budget (most weighted pupils, then least cost) is kept:

* **trips' worth per school shift** (:func:`_by_trips`): each shift's trip pairs of the full plan
  carry its heaviest pupils, and open in the order of weight per TRY of the vehicles they add (as
  many vehicles as trips run at once, so a double-shift school's vehicle carries both shifts for
  one price);
* **the simple rule** (also the baseline of ``benchmarks/budget.py``,
  :data:`ORDER_PRIORITY_NEAREST`): pupils in priority order, nearest to school first among equals.

Planning nobody always fits, so a plan within the budget always exists.

Every pupil left out for money is unserved with :func:`budget_reason`; pupils the full plan could
not carry keep their own reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from schoolbus.costing import cost_plan, trip_riders
from schoolbus.model import (
    Assignment,
    Direction,
    Plan,
    PriorityRules,
    Reason,
    ReasonCode,
    Scenario,
    School,
    Status,
    Student,
)

PREFIX_TOLERANCE = 0.02
"""The baseline's bisection stops when its bounds are this share of the pupils apart."""

MINUTE_S = 60
"""The planner's estimate of vehicles needed counts trips running at once, minute by minute."""

METRES_PER_KM = 1000.0
EARTH_RADIUS_M = 6_371_009.0

ORDER_VALUE = "value"
"""Choose whole trips by weight carried per TRY (the planner)."""
ORDER_PRIORITY_NEAREST = "priority_nearest"
"""Take pupils by weight, the nearest to school first among equals (the benchmark's baseline)."""

COVERAGE_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Budgets of a cost–coverage curve, as shares of the full plan's annual cost."""


def budget_reason(budget_per_year: float, currency: str) -> Reason:
    """Why a pupil is not carried when the budget ran out (code ``not_within_budget``)."""
    return Reason.make(ReasonCode.NOT_WITHIN_BUDGET, budget=round(budget_per_year), currency=currency)


def budget_problem(value: object) -> str | None:
    """What is wrong with an annual budget given in a file or on the command line (``None``: fine)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return None if ok else "an annual budget in the fleet's currency: a number, 0 or more"


def priority_weight(student: Student, school: School, rules: PriorityRules) -> float:
    """How much carrying ``student`` is worth (at least 0): their priority plus the rules' bonuses."""
    weight = student.priority
    weight += rules.per_km_from_school * _great_circle_m(student.location, school.location) / METRES_PER_KM
    if student.needs_wheelchair:
        weight += rules.wheelchair
    if student.is_vulnerable:
        weight += rules.vulnerable
    if student.grade <= rules.young_max_grade:
        weight += rules.young
    return max(0.0, weight)


def weights_of(scenario: Scenario) -> dict[str, float]:
    """Every pupil's :func:`priority_weight`."""
    schools = {s.id: s for s in scenario.schools}
    return {s.id: priority_weight(s, schools[s.school_id], scenario.priority_rules) for s in scenario.students}


def weighted_served(result: Plan) -> float:
    """The sum of the weights of the pupils a plan carries."""
    weights = weights_of(result.scenario)
    return sum(weights[a.student_id] for a in result.assignments if a.status is Status.ROUTED)


PlanFn = Callable[[Scenario], Plan]
"""Plans a scenario that has no budget (the pipeline's ``plan`` with its network and knobs)."""


def plan_within_budget(scenario: Scenario, plan_fn: PlanFn, *, order: str = ORDER_VALUE, full: Plan | None = None) -> Plan:
    """The plan of ``scenario`` that costs at most ``scenario.budget_per_year`` (see the module).

    Parameters
    ----------
    scenario : Scenario
        With ``budget_per_year`` set (money per school year, in ``prices.currency``).
    plan_fn : callable
        ``plan_fn(scenario) -> Plan`` for a scenario without a budget.
    order : str
        :data:`ORDER_VALUE` or :data:`ORDER_PRIORITY_NEAREST` (the baseline).
    full : Plan, optional
        The full plan, when already made.

    Returns
    -------
    Plan
        Of ``scenario`` (budget included), ``summary.cost_per_year <= budget_per_year``.
    """
    budget = scenario.budget_per_year
    assert budget is not None, "plan_within_budget needs scenario.budget_per_year"
    unbudgeted = replace(scenario, budget_per_year=None)
    full = full if full is not None else plan_fn(unbudgeted)
    if full.summary.cost_per_year <= budget:
        return replace(full, scenario=scenario)
    if order == ORDER_VALUE:
        return _by_trips(scenario, full, plan_fn)
    if order == ORDER_PRIORITY_NEAREST:
        return _by_prefix(scenario, full, plan_fn)
    raise ValueError(f"unknown order {order!r}")


def _by_trips(scenario: Scenario, full: Plan, plan_fn: PlanFn) -> Plan:
    """The planner: pupils in the order trip pairs of each school shift pay off best, re-planned.

    Money comes in vehicles, and a set of trips needs about as many vehicles as of its trips run at
    once. Each school shift's trip pairs of the full plan (its fullest trip to school with its
    fullest home, and so on) open in turn, each carrying the shift's next heaviest pupils and
    costing the vehicles it adds at its busiest minute (nothing when it runs beside the pairs
    already open: a double-shift school's vehicle carries both shifts); the pair with the most
    weight per TRY opens first. The longest prefix of that order the budget plans (each length
    tried planned by the engine) is set against the simple rule's; the better one is kept.
    """
    order, _ = _open_trips(_shift_groups(full), math.inf)
    return max(
        (_by_prefix(scenario, full, plan_fn), _longest_prefix(scenario, full, plan_fn, order)),
        key=lambda result: (weighted_served(result), -result.summary.cost_per_year),
    )


@dataclass(frozen=True)
class _ShiftGroup:
    """One school shift as the planner's estimate sees it: its pupils and its full-plan trip pairs."""

    pupils: tuple[tuple[float, str], ...]  # (weight, id), heaviest first
    pairs: tuple[tuple[int, float, tuple[tuple[int, int], ...]], ...]  # (size, year cost, [start, end) minutes)


def _shift_groups(full: Plan) -> dict[tuple[str, str], _ShiftGroup]:
    """Each school shift's pupils and trip pairs (k-th fullest trip to school with k-th home)."""
    days = full.scenario.prices.school_days_per_year
    weights = weights_of(full.scenario)
    cost_of_type: dict[str, list[float]] = defaultdict(list)
    for vehicle in full.vehicles:
        cost_of_type[vehicle.vehicle_type].append(vehicle.cost_per_day * days)
    trips_of: dict[tuple[str, str], list] = defaultdict(list)
    for trip in full.trips:
        trips_of[(trip.school_id, trip.shift)].append(trip)
    routed: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for a in full.assignments:
        if a.status is Status.ROUTED:
            routed[(a.school_id, a.shift)].append((weights[a.student_id], a.student_id))

    def span(trip) -> tuple[int, int]:
        return trip.start_s // MINUTE_S, trip.end_s // MINUTE_S + 1

    groups = {}
    for key, trips in sorted(trips_of.items()):
        by_load = {
            direction: sorted((t for t in trips if t.direction is direction), key=lambda t: (-len(trip_riders(t)), t.id))
            for direction in Direction
        }
        there, home = by_load[Direction.TO_SCHOOL], by_load[Direction.FROM_SCHOOL]
        pairs = []
        for k in range(max(len(there), len(home))):
            legs = [legs[k] for legs in (there, home) if k < len(legs)]
            fullest = max(legs, key=lambda t: len(trip_riders(t)))
            costs = cost_of_type[fullest.vehicle_type]
            pairs.append((max(1, len(trip_riders(fullest))), sum(costs) / len(costs), tuple(span(t) for t in legs)))
        groups[key] = _ShiftGroup(pupils=tuple(sorted(routed[key], key=lambda wi: (-wi[0], wi[1]))), pairs=tuple(pairs))
    return groups


def _open_trips(groups: dict[tuple[str, str], _ShiftGroup], allowance: float) -> tuple[list[str], float]:
    """Pupils in the order trip pairs open greedily within ``allowance``, and the estimated cost.

    A shift's pairs open in order (its fullest first), each at the full plan's times. Vehicles are
    counted on one timeline (a vehicle of one shift may carry another's trips later); a vehicle a
    pair adds costs what the full plan's vehicles of its type cost.
    """
    n_minutes = max((end for g in groups.values() for _, _, spans in g.pairs for _, end in spans), default=0) + 1
    running = np.zeros(n_minutes, dtype=np.int32)
    peak = 0
    n_open = dict.fromkeys(groups, 0)
    n_taken = dict.fromkeys(groups, 0)
    order: list[str] = []
    spent = 0.0
    while True:
        best_key, best_rank, best_added = None, None, 0.0
        for key, group in groups.items():
            if n_open[key] >= len(group.pairs):
                continue
            size, year_cost, spans = group.pairs[n_open[key]]
            bundle = group.pupils[n_taken[key] : n_taken[key] + size]
            if not bundle:
                continue
            busiest = max(int(running[start:end].max()) + 1 for start, end in spans)
            added = max(0, busiest - peak) * year_cost
            if spent + added > allowance:
                continue
            gain = sum(w for w, _ in bundle)
            rank = (gain / added if added else math.inf, gain)
            if gain > 0 and (best_rank is None or rank > best_rank):
                best_key, best_rank, best_added = key, rank, added
        if best_key is None:
            break
        size, _, spans = groups[best_key].pairs[n_open[best_key]]
        for start, end in spans:
            running[start:end] += 1
        peak = int(running.max())
        spent += best_added
        order.extend(i for _, i in groups[best_key].pupils[n_taken[best_key] : n_taken[best_key] + size])
        n_open[best_key] += 1
        n_taken[best_key] += size
    return order, spent


def _by_prefix(scenario: Scenario, full: Plan, plan_fn: PlanFn) -> Plan:
    """The baseline: the longest prefix of pupils in priority order (nearest first) the budget plans."""
    return _longest_prefix(scenario, full, plan_fn, _ranked(full))


def _longest_prefix(scenario: Scenario, full: Plan, plan_fn: PlanFn, order: Sequence[str]) -> Plan:
    """The longest prefix of ``order`` the budget plans, found by bisection on its length.

    Each length tried is planned by the engine; the bisection stops when the lengths that fit and
    do not fit are :data:`PREFIX_TOLERANCE` of the pupils apart.
    """
    budget = scenario.budget_per_year or 0.0
    best = _nobody(scenario, full)
    low, high = 0, len(order)  # low fits (nobody), high does not (the full plan)
    tolerance = max(1, round(PREFIX_TOLERANCE * len(order)))
    while high - low > tolerance:
        middle = (low + high) // 2
        result = _plan_chosen(scenario, full, list(order[:middle]), plan_fn)
        if result.summary.cost_per_year <= budget:
            low = middle
            if _better(result, best):
                best = result
        else:
            high = middle
    return best


def coverage_curve(
    scenario: Scenario, plan_fn: PlanFn, fractions: Sequence[float] = COVERAGE_FRACTIONS
) -> tuple[CoveragePoint, ...]:
    """Pupils served (and their weight) against annual cost, budgets a share of the full plan's cost."""
    unbudgeted = replace(scenario, budget_per_year=None)
    full = plan_fn(unbudgeted)
    points = []
    for fraction in fractions:
        budget = fraction * full.summary.cost_per_year
        result = plan_within_budget(replace(scenario, budget_per_year=budget), plan_fn, full=full)
        points.append(
            CoveragePoint(
                budget_per_year=round(budget, 2),
                cost_per_year=result.summary.cost_per_year,
                n_served=result.summary.n_routed,
                weighted_served=round(weighted_served(result), 3),
                n_vehicles=result.summary.n_vehicles,
            )
        )
    return tuple(points)


@dataclass(frozen=True)
class CoveragePoint:
    """One budget of a cost–coverage curve and the plan it bought."""

    budget_per_year: float
    cost_per_year: float
    n_served: int
    weighted_served: float
    n_vehicles: int


def marginal_costs(points: Sequence[CoveragePoint]) -> tuple[float | None, ...]:
    """Annual cost per extra pupil from each point to the next (``None`` at the first and when no pupil is added)."""
    out: list[float | None] = [None]
    for before, after in zip(points, points[1:]):
        added = after.n_served - before.n_served
        out.append((after.cost_per_year - before.cost_per_year) / added if added > 0 else None)
    return tuple(out)


# ---- shared steps ---------------------------------------------------------------------------


def _ranked(full: Plan) -> list[str]:
    """Routed pupils of the full plan by weight, the nearest to school first among equals."""
    weights = weights_of(full.scenario)
    routed = [a.student_id for a in full.assignments if a.status is Status.ROUTED]
    students = {s.id: s for s in full.scenario.students}
    schools = {s.id: s for s in full.scenario.schools}

    def home_school_m(i: str) -> float:
        return _great_circle_m(students[i].location, schools[students[i].school_id].location)

    return sorted(routed, key=lambda i: (-weights[i], home_school_m(i), i))


def _better(a: Plan, b: Plan) -> bool:
    wa, wb = weighted_served(a), weighted_served(b)
    return (wa, -a.summary.cost_per_year) > (wb, -b.summary.cost_per_year)


def _plan_chosen(scenario: Scenario, full: Plan, chosen: list[str], plan_fn: PlanFn) -> Plan:
    """Plan only the ``chosen`` pupils; the others are unserved (for money, or their own reason)."""
    keep = set(chosen)
    sub = replace(scenario, students=tuple(s for s in scenario.students if s.id in keep), budget_per_year=None)
    result = plan_fn(sub)
    return _with_everyone(scenario, full, result)


def _nobody(scenario: Scenario, full: Plan) -> Plan:
    """The plan that carries nobody: it costs nothing."""
    return _with_everyone(scenario, full, replace(full, stops=(), assignments=(), trips=(), vehicles=()))


def _with_everyone(scenario: Scenario, full: Plan, partial: Plan) -> Plan:
    """``partial`` extended to every pupil of ``scenario``, costed again over them all."""
    reason = budget_reason(scenario.budget_per_year or 0.0, scenario.prices.currency)
    own = {a.student_id: a for a in partial.assignments}
    before = {a.student_id: a for a in full.assignments}
    assignments = []
    for student in scenario.students:
        if student.id in own:
            assignments.append(own[student.id])
        elif before[student.id].status is Status.UNSERVED:
            assignments.append(before[student.id])
        else:
            assignments.append(
                Assignment(student.id, student.school_id, student.shift, Status.UNSERVED, reason=reason)
            )
    costs = cost_plan(scenario, partial.trips, partial.vehicles, assignments)
    return replace(
        partial,
        scenario=scenario,
        assignments=tuple(assignments),
        vehicles=costs.vehicles,
        summary=costs.summary,
        costs=costs.lines,
    )


def _great_circle_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))
