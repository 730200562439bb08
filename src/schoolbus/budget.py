"""Serve within a budget: which pupils to carry when the money cannot carry them all.

A prize-collecting choice over a routing plan. Each pupil weighs :func:`priority_weight` (their
``priority`` column plus the scenario's :class:`~schoolbus.model.PriorityRules`). The full plan is
made first; when it costs more than the budget, each routed pupil is charged their share of it (a
vehicle's year split among its trips by duration, each trip's share equally among its riders:
the cost breakdown of :mod:`schoolbus.costing`, except that an escort is charged to the pupils
young enough to need one and a wheelchair vehicle's premium to its wheelchair users), and pupils
are taken in order of weight per TRY of share until the shares fill the budget. Those pupils are planned again by the same engine; when
the new plan costs more than the budget, the share allowance shrinks in proportion and the choice
is made again; when it costs less, the unspent part is offered to the next pupils. The best plan
within the budget (most weighted pupils, then least cost) of at most :data:`MAX_ROUNDS` rounds
is returned; planning nobody always fits, so a plan within the budget always exists.

Every pupil left out for money is unserved with :func:`budget_reason`; pupils the full plan could
not carry keep their own reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from schoolbus.costing import cost_plan, trip_riders
from schoolbus.model import Assignment, Plan, PriorityRules, Scenario, School, Status, Student

MAX_ROUNDS = 6
"""Plans made after the full one, at most, while fitting the budget."""

SHRINK_MARGIN = 0.97
"""When a chosen set costs more than the budget, the next allowance is this share of the fit."""

METRES_PER_KM = 1000.0
EARTH_RADIUS_M = 6_371_009.0

ORDER_VALUE = "value"
"""Take pupils by weight per TRY of their share of the full plan (the planner's order)."""
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
    shares = _cost_shares(full)
    ranked = _ranked(full, shares, order)
    best = _nobody(scenario, full)
    allowance = budget
    tried: set[frozenset[str]] = set()
    for _ in range(MAX_ROUNDS):
        chosen = _fill(ranked, shares, allowance)
        if not chosen or frozenset(chosen) in tried:
            break
        tried.add(frozenset(chosen))
        result = _plan_chosen(scenario, full, chosen, plan_fn)
        cost = result.summary.cost_per_year
        if cost <= budget:
            if _better(result, best):
                best = result
            if cost <= 0 or budget - cost < min(shares[i] for i in chosen):
                break  # no pupil's share fits in what is left
            allowance += budget - cost
        else:
            allowance *= budget / cost * SHRINK_MARGIN
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


def _cost_shares(full: Plan) -> dict[str, float]:
    """Each routed pupil's share of the full plan's annual cost, charged to whom it is caused by.

    A vehicle's escort is charged to the pupils young enough to need one, and the premium of a
    vehicle with wheelchair places over the cheapest type that seats its largest load to its
    wheelchair users; the rest of its cost is split as the costing breakdown splits it (among its
    trips by duration, each trip's share equally among its riders).
    """
    scenario = full.scenario
    days = scenario.prices.school_days_per_year
    markup = 1.0 + scenario.prices.overhead_share
    students = {s.id: s for s in scenario.students}
    trips = {t.id: t for t in full.trips}
    shares: dict[str, float] = defaultdict(float)

    def charge(riders: Sequence[str], amount: float) -> None:
        for student_id in riders:
            shares[student_id] += amount / len(riders)

    for vehicle in full.vehicles:
        own = [trips[i] for i in vehicle.trip_ids]
        riders = sorted({i for t in own for i in trip_riders(t)})
        rest = vehicle.cost_per_day * days
        vehicle_type = scenario.fleet.vehicle_type(vehicle.vehicle_type)
        young = [i for i in riders if scenario.policy.needs_escort(students[i].grade)]
        if vehicle.escort and young and not vehicle_type.always_escort:
            escort = scenario.prices.escort_day_rate * markup * days
            charge(young, escort)
            rest -= escort
        wheelchair = [i for i in riders if students[i].needs_wheelchair]
        if wheelchair:
            load = max((len(trip_riders(t)) for t in own), default=0)
            cheaper = [v.day_rate for v in scenario.fleet.vehicle_types if v.seats >= load and v.wheelchair_places == 0]
            premium = max(0.0, (vehicle_type.day_rate - min(cheaper, default=vehicle_type.day_rate)) * markup * days)
            charge(wheelchair, premium)
            rest -= premium
        total_s = sum(t.duration_s for t in own)
        for trip in own:
            share = trip.duration_s / total_s if total_s > 0 else 1 / len(own)
            trip_riders_ = trip_riders(trip)
            if trip_riders_:
                charge(trip_riders_, rest * share)
    return dict(shares)


def _ranked(full: Plan, shares: dict[str, float], order: str) -> list[str]:
    """Routed pupils of the full plan, best first, in a stable order."""
    weights = weights_of(full.scenario)
    routed = [a.student_id for a in full.assignments if a.status is Status.ROUTED]
    if order == ORDER_VALUE:
        return sorted(routed, key=lambda i: (-weights[i] / max(shares.get(i, 0.0), 1e-9), i))
    if order == ORDER_PRIORITY_NEAREST:
        students = {s.id: s for s in full.scenario.students}
        schools = {s.id: s for s in full.scenario.schools}

        def home_school_m(i: str) -> float:
            return _great_circle_m(students[i].location, schools[students[i].school_id].location)

        return sorted(routed, key=lambda i: (-weights[i], home_school_m(i), i))
    raise ValueError(f"unknown order {order!r}")


def _fill(ranked: list[str], shares: dict[str, float], allowance: float) -> list[str]:
    """Pupils in ``ranked`` order whose shares fit in ``allowance`` (skipping those that do not)."""
    chosen = []
    spent = 0.0
    for student_id in ranked:
        share = shares.get(student_id, 0.0)
        if spent + share <= allowance:
            chosen.append(student_id)
            spent += share
    return chosen


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
