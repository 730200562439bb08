"""Serve within a budget: which pupils to carry when the money cannot carry them all.

A prize-collecting choice over a routing plan. Each pupil weighs :func:`priority_weight` (their
``priority`` column plus the scenario's :class:`~schoolbus.model.PriorityRules`). The full plan is
made first; when it costs more than the budget, two orders of the pupils are each cut at a prefix
the budget plans (every length tried planned by the same engine), and the better plan within the
budget (most weighted pupils, then least cost) is kept:

* **vehicles' worth of each shift's heaviest pupils** (:func:`_by_vehicles`): the full plan's
  vehicle-days, each worth the shift's next heaviest pupils for the seats it gives each school
  shift, taken greedily by weight per TRY; the pupils in that order, the prefix the budget buys
  found a vehicle at a time and then seat by seat, in a fixed number of plans;
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

MAX_SEARCH_PLANS = 6
"""The planner's work budget: how many prefixes of its order the engine plans, at most."""

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
    band = next((band for band in rules.grade_bands if student.grade <= band.max_grade), None)
    if band is not None:
        weight += band.weight
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
        return _by_vehicles(scenario, full, plan_fn)
    if order == ORDER_PRIORITY_NEAREST:
        return _by_prefix(scenario, full, plan_fn)
    raise ValueError(f"unknown order {order!r}")


def _by_vehicles(scenario: Scenario, full: Plan, plan_fn: PlanFn) -> Plan:
    """The planner: whole vehicles' worth of each shift's heaviest pupils, the best weight per TRY first.

    Money comes in vehicle-days. Each vehicle-day of the full plan carries a number of pupils of
    each school shift (its seats there, over its trips to school and home); given to the shift's
    next heaviest pupils, they are worth a weight, and the vehicle costs what the full plan pays
    for it. Vehicles are taken greedily by weight gained per TRY (:func:`_vehicle_order`), the
    pupils they bring listed in that order. The engine then plans prefixes of that list, starting
    at the vehicles the budget buys and moving a vehicle at a time, then filling the spare seats
    between the last length that fits and the first that does not (:func:`_search_order`), within
    :data:`MAX_SEARCH_PLANS` plans. The simple rule's plan is also made and the better one kept, so
    the planner is never worse than the baseline.
    """
    budget = scenario.budget_per_year or 0.0
    order, boundaries = _vehicle_order(full, budget)
    start = max((k for k, (_, cost) in enumerate(boundaries) if cost <= budget), default=0)
    candidates = (_search_order(scenario, full, plan_fn, order, [n for n, _ in boundaries], start), _by_prefix(scenario, full, plan_fn))
    return max(candidates, key=lambda result: (weighted_served(result), -result.summary.cost_per_year))


def _vehicle_order(full: Plan, allowance: float) -> tuple[list[str], list[tuple[int, float]]]:
    """The full plan's routed pupils in the order the greedy vehicle choice brings them.

    While some vehicle still fits in ``allowance`` (money per year), the best of those is taken (a
    vehicle worth more per TRY that would overspend is passed over); then the rest, best first.
    Returns the order and, after each vehicle taken, the prefix length reached and the full plan's
    annual cost of the vehicles taken so far (starting with ``(0, 0.0)``).
    """
    days = full.scenario.prices.school_days_per_year
    weights = weights_of(full.scenario)
    heaviest: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a in full.assignments:
        if a.status is Status.ROUTED:
            heaviest[(a.school_id, a.shift)].append(a.student_id)
    for ids in heaviest.values():
        ids.sort(key=lambda i: (-weights[i], i))
    worth = {key: np.concatenate(([0.0], np.cumsum([weights[i] for i in ids]))) for key, ids in heaviest.items()}

    trips = {t.id: t for t in full.trips}
    seats: dict[str, dict[tuple[str, str], float]] = {}
    for vehicle in full.vehicles:
        riders: dict[tuple[str, str], float] = defaultdict(float)
        for trip_id in vehicle.trip_ids:
            trip = trips[trip_id]
            # A pupil rides twice (to school and home), perhaps on two vehicles: half a seat each.
            riders[(trip.school_id, trip.shift)] += len(trip_riders(trip)) / len(Direction)
        seats[vehicle.id] = dict(riders)
    cost = {v.id: v.cost_per_day * days for v in full.vehicles}

    def gained(key: tuple[str, str], before: float, after: float) -> float:
        # Fractional seats interpolate the shift's cumulative weight.
        curve = worth[key]
        return float(np.interp(after, np.arange(len(curve)), curve) - np.interp(before, np.arange(len(curve)), curve))

    taken = dict.fromkeys(heaviest, 0.0)
    left = sorted(vehicle_id for vehicle_id, by_shift in seats.items() if by_shift)
    order: list[str] = []
    boundaries = [(0, 0.0)]
    while left:
        def rank(vehicle_id: str) -> tuple[float, float]:
            gain = sum(
                gained(key, taken[key], min(taken[key] + n, len(heaviest[key]))) for key, n in seats[vehicle_id].items() if key in heaviest
            )
            return (gain / cost[vehicle_id] if cost[vehicle_id] else math.inf, gain)

        spent = boundaries[-1][1]
        affordable = [vehicle_id for vehicle_id in left if spent + cost[vehicle_id] <= allowance]
        best = max(affordable or left, key=rank)
        left.remove(best)
        for key, n in seats[best].items():
            if key not in heaviest:
                continue
            after = min(taken[key] + n, len(heaviest[key]))
            order.extend(heaviest[key][round(taken[key]) : round(after)])
            taken[key] = after
        boundaries.append((len(order), boundaries[-1][1] + cost[best]))
    listed = set(order)
    order.extend(i for key in sorted(heaviest) for i in heaviest[key] if i not in listed)  # rounding's leftovers
    return order, boundaries


def _search_order(
    scenario: Scenario, full: Plan, plan_fn: PlanFn, order: Sequence[str], boundaries: Sequence[int], start: int
) -> Plan:
    """The best plan within the budget of a prefix of ``order``, found with a few plans.

    Tries the prefix at ``boundaries[start]`` (the vehicles the budget buys by the full plan's
    prices), then a vehicle's worth more while it fits, or less until it fits; then bisects between
    the longest length that fits and the shortest that does not, down to
    :data:`PREFIX_TOLERANCE` of the pupils: the last vehicles' spare seats. At most
    :data:`MAX_SEARCH_PLANS` plans are made.
    """
    budget = scenario.budget_per_year or 0.0
    best = _nobody(scenario, full)
    fits_at, fails_at = 0, len(order) + 1
    tried: dict[int, bool] = {}
    n_plans = 0

    def tries(length: int) -> bool:
        nonlocal best, n_plans, fits_at, fails_at
        if length == 0:
            return True  # nobody: ``best`` already is that plan
        if length not in tried:
            n_plans += 1
            result = _plan_chosen(scenario, full, list(order[:length]), plan_fn)
            tried[length] = result.summary.cost_per_year <= budget
            if tried[length] and _better(result, best):
                best = result
        if tried[length]:
            fits_at = max(fits_at, length)
        else:
            fails_at = min(fails_at, length)
        return tried[length]

    k = start
    if tries(boundaries[k]):
        while k + 1 < len(boundaries) and n_plans < MAX_SEARCH_PLANS and tries(boundaries[k + 1]):
            k += 1
    else:
        while k > 0 and n_plans < MAX_SEARCH_PLANS and not tries(boundaries[k - 1]):
            k -= 1
    tolerance = max(1, round(PREFIX_TOLERANCE * len(order)))
    while n_plans < MAX_SEARCH_PLANS and fits_at < fails_at <= len(order) and fails_at - fits_at > tolerance:
        tries((fits_at + fails_at) // 2)
    return best


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
