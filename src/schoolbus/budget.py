"""Serve within a budget: which pupils to carry when the money cannot carry them all.

A prize-collecting choice over a routing plan. Each pupil weighs :func:`priority_weight` (their
``priority`` column plus the scenario's :class:`~schoolbus.model.PriorityRules`). The full plan is
made first; when it costs more than the budget, whole trips of the full plan are chosen, the most
weight carried per TRY of the vehicles they add first (as many vehicles as trips run at once),
until they fill the budget; a pupil counts once both their trips (to school and home) are chosen. The pupils those trips carry are planned again by the same engine; the new plan's slack or overrun against the
budget widens or narrows the next choice. The best plan within the budget (most weighted pupils,
then least cost) of at most :data:`MAX_ROUNDS` plans is returned; planning nobody always fits, so
a plan within the budget always exists.

The baseline of ``benchmarks/budget.py`` (:data:`ORDER_PRIORITY_NEAREST`) instead carries the
longest prefix of pupils in priority order, nearest to school first among equals, that the budget
plans.

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
from schoolbus.model import Assignment, Plan, PriorityRules, Scenario, School, Status, Student

MAX_ROUNDS = 4
"""Plans the planner makes after the full one, at most, while fitting the budget."""

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


def budget_reason(budget_per_year: float, currency: str) -> str:
    """Why a pupil is not carried when the budget ran out (the one place this reason is worded)."""
    return f"not served within budget ({budget_per_year:,.0f} {currency} per year)"


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
    """The planner: whole trips of the full plan, the most weight per TRY first, re-planned.

    Money comes in vehicles, and a set of trips needs, of each vehicle type, about as many
    vehicles as of its trips run at once (their times in the full plan, a minute grid). Trips are
    added while that estimate fits the allowance, each time the one with the most weight per TRY of
    the estimate it adds (a trip that fits beside the chosen ones costs nothing more); a pupil
    counts half for each of their two trips. The pupils both of whose trips are chosen are planned
    again; that plan's slack or overrun against the budget widens or narrows the next choice, for
    at most :data:`MAX_ROUNDS` plans.
    """
    budget = scenario.budget_per_year or 0.0
    days = scenario.prices.school_days_per_year
    weights = weights_of(scenario)
    types = sorted({t.vehicle_type for t in full.trips})
    year_cost = {
        k: float(np.mean([v.cost_per_day for v in full.vehicles if v.vehicle_type == k])) * days for k in types
    }
    trips_of: dict[str, set[str]] = defaultdict(set)
    riders_of: dict[str, tuple[str, ...]] = {}
    span: dict[str, tuple[str, int, int]] = {}
    for trip in full.trips:
        riders_of[trip.id] = trip_riders(trip)
        span[trip.id] = (trip.vehicle_type, trip.start_s // MINUTE_S, trip.end_s // MINUTE_S + 1)
        for student_id in riders_of[trip.id]:
            trips_of[student_id].add(trip.id)
    n_minutes = max((end for _, _, end in span.values()), default=0) + 1

    def choose(allowance: float) -> list[str]:
        running = {k: np.zeros(n_minutes, dtype=np.int32) for k in types}
        peak = dict.fromkeys(types, 0)
        chosen: set[str] = set()
        spent = 0.0
        while True:
            best_id, best_key = None, None
            for trip_id, (kind, start, end) in span.items():
                if trip_id in chosen:
                    continue
                added = max(0, int(running[kind][start:end].max()) + 1 - peak[kind]) * year_cost[kind]
                if spent + added > allowance:
                    continue
                gain = sum(weights[i] / len(trips_of[i]) for i in riders_of[trip_id])
                key = (gain / added if added else math.inf, gain, trip_id)
                if gain > 0 and (best_key is None or key[:2] > best_key[:2]):
                    best_id, best_key = trip_id, key
            if best_id is None:
                break
            kind, start, end = span[best_id]
            running[kind][start:end] += 1
            new_peak = int(running[kind].max())
            spent += (new_peak - peak[kind]) * year_cost[kind]
            peak[kind] = new_peak
            chosen.add(best_id)
        return sorted(i for i in trips_of if trips_of[i] <= chosen)

    best = _nobody(scenario, full)
    allowance = budget
    tried: set[frozenset[str]] = set()
    for _ in range(MAX_ROUNDS):
        carried = choose(allowance)
        if not carried or frozenset(carried) in tried:
            break
        tried.add(frozenset(carried))
        result = _plan_chosen(scenario, full, carried, plan_fn)
        cost = result.summary.cost_per_year
        if cost <= budget and _better(result, best):
            best = result
        allowance += budget - cost  # the slack re-planning found, or its overrun
    return best


def _by_prefix(scenario: Scenario, full: Plan, plan_fn: PlanFn) -> Plan:
    """The baseline: the longest prefix of pupils in priority order (nearest first) the budget plans.

    A bisection on the prefix length, each length planned by the same engine, until the lengths
    that fit and do not fit are :data:`PREFIX_TOLERANCE` of the pupils apart.
    """
    budget = scenario.budget_per_year or 0.0
    ranked = _ranked(full)
    best = _nobody(scenario, full)
    low, high = 0, len(ranked)  # low fits (nobody), high does not (the full plan)
    tolerance = max(1, round(PREFIX_TOLERANCE * len(ranked)))
    while high - low > tolerance:
        middle = (low + high) // 2
        result = _plan_chosen(scenario, full, ranked[:middle], plan_fn)
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


# ---- the choice -------------------------------------------------------------------------------


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
