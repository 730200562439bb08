"""Serve within a budget: which pupils to carry when the money cannot carry them all.

A prize-collecting choice over a routing plan. Each pupil weighs :func:`priority_weight` (their
``priority`` column plus the scenario's :class:`~schoolbus.model.PriorityRules`). The full plan is
made first; when it costs more than the budget, two orders of the pupils are each cut at a prefix
the budget plans (every length tried planned by the same engine), and the better plan within the
budget (most weighted pupils, then least cost) is kept:

* **trips' worth of neighbours** (:func:`_by_clusters`): the full plan's trips to school as units
  (their riders live close together, so the engine chains their trips onto few vehicles), taken
  greedily by weight per TRY of the vehicles they add; the longest prefix the budget plans found
  by interpolating the engine's costs between a prefix that fits and one that does not, a trip
  at a time and then a few seats at a time, in at most :data:`MAX_SEARCH_PLANS` plans;
* **the simple rule** (also the baseline of ``benchmarks/budget.py``,
  :data:`ORDER_PRIORITY_NEAREST`): pupils in priority order, nearest to school first among equals.

Planning nobody always fits, so a plan within the budget always exists.

Every pupil left out for money is unserved with :func:`budget_reason`; pupils the full plan could
not carry keep their own reason.
"""

from __future__ import annotations

import math
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
    Trip,
)

PREFIX_TOLERANCE = 0.02
"""The baseline's bisection stops when its bounds are this share of the pupils apart."""

MAX_SEARCH_PLANS = 7
"""The planner's work budget: how many prefixes of its order of trips the engine plans, at most."""

MIN_PUPIL_STEP = 4
"""The planner stops bisecting on pupils inside a trip's worth when its bounds are this close."""

MINUTE_S = 60
"""The planner's estimate of vehicles needed counts trips running at once, minute by minute."""

CHAIN_MARGIN_S = 10 * MINUTE_S
"""The estimate counts a trip as running this long before it starts: a vehicle must get to its
first stop, so a trip home that ends minutes before another school's trip starts rarely chains
onto it (the engine, planning fewer pupils, finds other routes than the full plan's)."""

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
        return _by_clusters(scenario, full, plan_fn)
    if order == ORDER_PRIORITY_NEAREST:
        return _by_prefix(scenario, full, plan_fn)
    raise ValueError(f"unknown order {order!r}")


def _by_clusters(scenario: Scenario, full: Plan, plan_fn: PlanFn) -> Plan:
    """The planner: the full plan's trips to school as units, the most weight per TRY first.

    The engine chains short trips of nearby pupils onto few vehicles, and long trips gathering
    scattered pupils onto many: carrying a district's heaviest pupils wherever they live costs
    more vehicles per pupil than carrying whole neighbourhoods. So the units are the full plan's
    trips to school (their riders live close together and fill a vehicle), taken greedily by the
    weight of their riders per TRY of the vehicles they add (:func:`_cluster_order`, which counts
    the trips running at once). The engine then plans prefixes of that order until it finds the
    longest the budget plans (:func:`_search_order`), within :data:`MAX_SEARCH_PLANS` plans. The
    simple rule's plan is also made and the better one kept, so the planner is never worse than
    the baseline.
    """
    budget = scenario.budget_per_year or 0.0
    order, boundaries = _cluster_order(full, budget)
    lengths, estimates = [n for n, _ in boundaries], [cost for _, cost in boundaries]
    clusters = _search_order(scenario, full, plan_fn, order, lengths, estimates)
    candidates = (clusters, _by_prefix(scenario, full, plan_fn))
    return max(candidates, key=lambda result: (weighted_served(result), -result.summary.cost_per_year))


def _cluster_order(full: Plan, allowance: float) -> tuple[list[str], list[tuple[int, float]]]:
    """The full plan's routed pupils, a trip to school's riders at a time, the best trips first.

    A trip's riders ride home on trips of the full plan too; the unit runs over the trip to school
    and the home trip that carries most of its riders. Units are opened on one timeline, minute by
    minute: a unit adds the vehicles by which it raises the most trips ever running at once, each
    priced as the full plan's vehicle that drives its trip to school. While some unit fits in
    ``allowance`` (money per year), the one with the most weight per TRY added is taken (free
    units first, the heaviest among them); then the rest, heaviest first. Within a unit its riders
    come heaviest first. Returns the order and, after each unit, the prefix length reached and the
    estimated annual cost so far (starting with ``(0, 0.0)``).
    """
    days = full.scenario.prices.school_days_per_year
    weights = weights_of(full.scenario)
    routed = {a.student_id for a in full.assignments if a.status is Status.ROUTED}
    cost_of_vehicle = {v.id: v.cost_per_day * days for v in full.vehicles}
    home_trip_of: dict[str, Trip] = {}
    for trip in full.trips:
        if trip.direction is Direction.FROM_SCHOOL:
            home_trip_of.update(dict.fromkeys(trip_riders(trip), trip))

    def span(trip: Trip) -> tuple[int, int]:
        return max(0, (trip.start_s - CHAIN_MARGIN_S) // MINUTE_S), trip.end_s // MINUTE_S + 1

    units = []  # (riders heaviest first, weight, cost of a vehicle, spans)
    for trip in sorted(full.trips, key=lambda t: t.id):
        riders = sorted((i for i in trip_riders(trip) if i in routed), key=lambda i: (-weights[i], i))
        if trip.direction is not Direction.TO_SCHOOL or not riders:
            continue
        homes = [home_trip_of[i] for i in riders if i in home_trip_of]
        spans = [span(trip)]
        if homes:
            spans.append(span(max(homes, key=lambda t: (homes.count(t), t.id))))
        units.append((riders, sum(weights[i] for i in riders), cost_of_vehicle[trip.vehicle_id], spans))

    n_minutes = max((end for *_, spans in units for _, end in spans), default=0) + 1
    running = np.zeros(n_minutes, dtype=np.int32)
    order: list[str] = []
    boundaries = [(0, 0.0)]
    left = list(range(len(units)))
    while left:
        peak = int(running.max())
        added = {}
        for k in left:
            _, _, vehicle_cost, spans = units[k]
            busiest = max(int(running[start:end].max()) + 1 for start, end in spans)
            added[k] = max(0, busiest - peak) * vehicle_cost
        spent = boundaries[-1][1]
        affordable = [k for k in left if spent + added[k] <= allowance]
        if affordable:
            best = max(affordable, key=lambda k: (units[k][1] / added[k] if added[k] else math.inf, units[k][1], -k))
        else:
            best = max(left, key=lambda k: (units[k][1] / len(units[k][0]), -k))
        cost = added[best]
        left.remove(best)
        riders, _, _, spans = units[best]
        for start, end in spans:
            running[start:end] += 1
        order.extend(riders)
        boundaries.append((len(order), spent + cost))
    return order, boundaries


def _search_order(
    scenario: Scenario,
    full: Plan,
    plan_fn: PlanFn,
    order: Sequence[str],
    boundaries: Sequence[int],
    estimates: Sequence[float],
) -> Plan:
    """The best plan within the budget of a prefix of ``order``, found with a few plans.

    ``boundaries`` are the prefix lengths worth trying (whole units), in increasing order, the last
    one all of ``order``; ``estimates`` the estimated annual cost of each. The first length tried
    is the longest the budget buys by the estimate. The lengths known to fit and not to fit then
    bracket the answer (nobody fits; all of ``order`` costs the full plan's cost, more than the
    budget): each next length is where the engine's annual cost, interpolated over pupils between
    the two, meets the budget (the unit boundary nearest to it inside the bracket; the middle one
    when the engine charged the longer length no more), so every plan narrows the bracket by at
    least a unit. Once the bracket is one unit wide, the remaining plans bisect on pupils inside
    that unit (its heaviest riders first) down to :data:`MIN_PUPIL_STEP`. At most
    :data:`MAX_SEARCH_PLANS` plans are made; the best plan that fits (most weight, then least cost)
    is kept, whichever length it came from (the engine's cost does not always grow with pupils).
    """
    budget = scenario.budget_per_year or 0.0
    best = _nobody(scenario, full)
    cost_at: dict[int, float] = {0: 0.0, len(order): full.summary.cost_per_year}
    n_plans = 0

    def tries(length: int) -> bool:
        nonlocal best, n_plans
        n_plans += 1
        result = _plan_chosen(scenario, full, list(order[:length]), plan_fn)
        cost_at[length] = result.summary.cost_per_year
        fits = result.summary.cost_per_year <= budget
        if fits and _better(result, best):
            best = result
        return fits

    def towards_budget(low: int, high: int) -> float:
        """Pupils where the engine's cost, linear between ``low`` and ``high`` pupils, meets the budget."""
        rise = cost_at[high] - cost_at[low]
        if rise <= 0:
            return (low + high) / 2
        return low + (budget - cost_at[low]) / rise * (high - low)

    fits_k, fails_k = 0, len(boundaries) - 1
    k = max((j for j, cost in enumerate(estimates) if cost <= budget), default=0)
    while n_plans < MAX_SEARCH_PLANS and fails_k - fits_k > 1:
        k = min(max(k, fits_k + 1), fails_k - 1)
        if tries(boundaries[k]):
            fits_k = k
        else:
            fails_k = k
        target = towards_budget(boundaries[fits_k], boundaries[fails_k])
        k = min(range(fits_k + 1, max(fits_k + 2, fails_k)), key=lambda j: (abs(boundaries[j] - target), j))
    low, high = boundaries[fits_k], boundaries[fails_k]
    while n_plans < MAX_SEARCH_PLANS and high - low > MIN_PUPIL_STEP:
        middle = (low + high) // 2
        if tries(middle):
            low = middle
        else:
            high = middle
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
