"""What a plan costs: per vehicle-day, per school year, per routed student, and broken down.

Prices
------
A vehicle-day costs::

    (day_rate + km_rate * km driven + escort_day_rate if it carries an escort) * (1 + overhead_share)

where *km driven* is the vehicle's trips plus its deadhead (empty runs between trips and to and
from the depot): contractors bill every kilometre the vehicle drives, full or empty. A school year
has ``Prices.school_days_per_year`` school days (181 by default in Türkiye).

Breakdowns
----------
A vehicle shared by several trips splits its day cost among them **in proportion to trip
duration** (``Trip.duration_s``), then each trip's share equally among the pupils it carries. We
split by duration rather than by pupils because a contractor is paid for the vehicle's time:
a long run for a few pupils of a remote school occupies the bus as much as a full run for a
crowded one, and a split by pupils would hide what the remote school's service costs. A
vehicle whose trips all last zero seconds splits equally; a vehicle without trips, or a trip
without pupils, is cost nobody caused: it appears as the key :data:`UNATTRIBUTED` so that every
breakdown still sums to the plan's total.

Money is computed in full precision and rounded to cents (2 decimals) only in what
:func:`cost_plan` returns; totals are rounded sums of unrounded parts, so the rounded parts of a
breakdown may differ from the rounded total by a cent.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from schoolbus.model import (
    Assignment,
    CostLine,
    Prices,
    Scenario,
    Status,
    Summary,
    Trip,
    VehicleDay,
    VehicleType,
)

MONEY_DECIMALS = 2
"""Money is rounded to cents, and only where :func:`cost_plan` hands it out."""

METRES_PER_KM = 1000.0

RIDE_PERCENTILE = 95.0
"""``Summary.p95_ride_s`` is this percentile (numpy's default linear interpolation)."""

GROUP_SCHOOL = "school"
GROUP_SHIFT = "shift"
GROUP_FUNDING = "funding_line"
GROUPS = (GROUP_SCHOOL, GROUP_SHIFT, GROUP_FUNDING)
"""Breakdown groups in the order :func:`cost_plan` lists them."""

NO_FUNDING_LINE = "(none)"
"""Funding-line key of pupils whose register row names no funding line."""

UNATTRIBUTED = "(unattributed)"
"""Key of cost no pupil caused: vehicles without trips, trips without pupils."""


@dataclass(frozen=True)
class PlanCosts:
    """What :func:`cost_plan` returns.

    Attributes
    ----------
    vehicles : tuple of VehicleDay
        The input vehicle-days, in input order, with ``cost_per_day`` filled in (cents).
    summary : Summary
        Headline figures of the plan.
    lines : tuple of CostLine
        Breakdown by school, by school shift (key ``"<school_id>/<shift>"``) and by funding line,
        in that group order and sorted by key within a group.
    """

    vehicles: tuple[VehicleDay, ...]
    summary: Summary
    lines: tuple[CostLine, ...]


def shift_key(school_id: str, shift: str) -> str:
    """Key of a school's shift in the ``shift`` breakdown, e.g. ``"S1/sabah"``."""
    return f"{school_id}/{shift}"


def vehicle_day_cost(
    vehicle_type: VehicleType, distance_m: float, has_escort: bool, prices: Prices
) -> float:
    """Unrounded cost of one vehicle-day.

    Parameters
    ----------
    vehicle_type : VehicleType
        Supplies ``day_rate`` (per day) and ``km_rate`` (per km).
    distance_m : float
        Everything the vehicle drives in the day, trips plus deadhead, metres.
    has_escort : bool
        Whether an escort rides along (adds ``prices.escort_day_rate``).
    prices : Prices
        Escort rate and overhead share (a fraction, 0.1 = 10 %).

    Returns
    -------
    float
        Money per school day, in ``prices.currency``, not rounded.
    """
    direct = vehicle_type.day_rate + vehicle_type.km_rate * distance_m / METRES_PER_KM
    if has_escort:
        direct += prices.escort_day_rate
    return direct * (1.0 + prices.overhead_share)


def trip_riders(trip: Trip) -> tuple[str, ...]:
    """Ids of the pupils a trip carries, in boarding order (each once)."""
    return tuple(dict.fromkeys(sid for visit in trip.visits for sid in visit.board))


def cost_plan(
    scenario: Scenario,
    trips: Sequence[Trip],
    vehicles: Sequence[VehicleDay],
    assignments: Sequence[Assignment],
) -> PlanCosts:
    """Price every vehicle-day and summarise and break down the plan's cost.

    Parameters
    ----------
    scenario : Scenario
        Vehicle types (day and km rates), prices, students (funding lines) and schools.
    trips : sequence of Trip
        Every trip of the plan; ``distance_m`` and ``duration_s`` are used as given.
    vehicles : sequence of VehicleDay
        Vehicle-days whose ``cost_per_day`` is ignored and recomputed; each ``trip_ids`` entry
        must name a trip and each ``vehicle_type`` a type of ``scenario.fleet``.
    assignments : sequence of Assignment
        One per student; ride and walk figures of routed students feed the summary.

    Returns
    -------
    PlanCosts
        Vehicles with their cost, the summary and the breakdown; money rounded to cents.
    """
    prices = scenario.prices
    trips_by_id = {trip.id: trip for trip in trips}
    students = {student.id: student for student in scenario.students}

    vehicle_costs: list[float] = []
    trip_costs: dict[str, float] = {}
    unattributed = 0.0
    distance_m = 0.0
    for vehicle in vehicles:
        own_trips = [trips_by_id[trip_id] for trip_id in vehicle.trip_ids]
        driven_m = vehicle.deadhead_m + sum(trip.distance_m for trip in own_trips)
        distance_m += driven_m
        cost = vehicle_day_cost(
            scenario.fleet.vehicle_type(vehicle.vehicle_type), driven_m, vehicle.escort, prices
        )
        vehicle_costs.append(cost)
        if not own_trips:
            unattributed += cost
            continue
        for trip, share in zip(own_trips, _duration_shares(own_trips), strict=True):
            trip_costs[trip.id] = trip_costs.get(trip.id, 0.0) + cost * share

    # Cost per key of each group; each trip's share goes to its school and shift directly, and
    # through its riders to their funding lines.
    per_group: dict[str, dict[str, float]] = {group: defaultdict(float) for group in GROUPS}
    for trip_id, cost in trip_costs.items():
        trip = trips_by_id[trip_id]
        per_group[GROUP_SCHOOL][trip.school_id] += cost
        per_group[GROUP_SHIFT][shift_key(trip.school_id, trip.shift)] += cost
        riders = trip_riders(trip)
        if not riders:
            per_group[GROUP_FUNDING][UNATTRIBUTED] += cost
            continue
        for student_id in riders:
            student = students.get(student_id)
            line = student.funding_line if student is not None else None
            per_group[GROUP_FUNDING][line or NO_FUNDING_LINE] += cost / len(riders)
    if unattributed:
        for group in GROUPS:
            per_group[group][UNATTRIBUTED] += unattributed

    routed = [a for a in assignments if a.status is Status.ROUTED]
    n_routed_by_group: dict[str, dict[str, int]] = {group: defaultdict(int) for group in GROUPS}
    for a in routed:
        student = students.get(a.student_id)
        line = student.funding_line if student is not None else None
        n_routed_by_group[GROUP_SCHOOL][a.school_id] += 1
        n_routed_by_group[GROUP_SHIFT][shift_key(a.school_id, a.shift)] += 1
        n_routed_by_group[GROUP_FUNDING][line or NO_FUNDING_LINE] += 1
    # Every school and shift of the scenario gets a line, even at zero, so reports list them all.
    for school in scenario.schools:
        n_routed_by_group[GROUP_SCHOOL][school.id] += 0
        for shift in school.shifts:
            n_routed_by_group[GROUP_SHIFT][shift_key(school.id, shift.name)] += 0

    days = prices.school_days_per_year
    lines = []
    for group in GROUPS:
        keys = set(per_group[group]) | set(n_routed_by_group[group])
        for key in sorted(keys):
            cost = per_group[group].get(key, 0.0)
            lines.append(
                CostLine(
                    group=group,
                    key=key,
                    n_students=n_routed_by_group[group].get(key, 0),
                    cost_per_day=_money(cost),
                    cost_per_year=_money(cost * days),
                )
            )

    total = sum(vehicle_costs)
    summary = Summary(
        n_vehicles=len(vehicles),
        n_trips=len(trips),
        n_students=len(scenario.students),
        n_routed=len(routed),
        n_unserved=sum(1 for a in assignments if a.status is Status.UNSERVED),
        distance_m=distance_m,
        deadhead_m=sum(vehicle.deadhead_m for vehicle in vehicles),
        cost_per_day=_money(total),
        cost_per_year=_money(total * days),
        cost_per_student_per_day=_money(total / len(routed)) if routed else None,
        cost_per_student_per_year=_money(total * days / len(routed)) if routed else None,
        **_ride_and_walk_figures(routed),
    )
    priced = tuple(
        dataclasses.replace(vehicle, cost_per_day=_money(cost))
        for vehicle, cost in zip(vehicles, vehicle_costs, strict=True)
    )
    return PlanCosts(vehicles=priced, summary=summary, lines=tuple(lines))


def _duration_shares(trips: Sequence[Trip]) -> list[float]:
    """Each trip's share of its vehicle's day: by duration, equal when all last 0 s."""
    total_s = sum(trip.duration_s for trip in trips)
    if total_s <= 0:
        return [1.0 / len(trips)] * len(trips)
    return [trip.duration_s / total_s for trip in trips]


class _RideAndWalkFigures(TypedDict):
    """The ride and walk fields of :class:`~schoolbus.model.Summary`."""

    max_ride_s: int | None
    mean_ride_s: float | None
    p95_ride_s: float | None
    mean_walk_m: float | None
    max_walk_m: float | None


def _ride_and_walk_figures(routed: Iterable[Assignment]) -> _RideAndWalkFigures:
    """Ride (both directions) and walk statistics over routed students."""
    routed = list(routed)
    rides = [
        ride
        for a in routed
        for ride in (a.ride_to_school_s, a.ride_home_s)
        if ride is not None
    ]
    walks = [a.walk_m for a in routed if a.walk_m is not None]
    return {
        "max_ride_s": max(rides) if rides else None,
        "mean_ride_s": float(np.mean(rides)) if rides else None,
        "p95_ride_s": float(np.percentile(rides, RIDE_PERCENTILE)) if rides else None,
        "mean_walk_m": float(np.mean(walks)) if walks else None,
        "max_walk_m": float(max(walks)) if walks else None,
    }


def _money(amount: float) -> float:
    """Round money to cents for output (the one place costing rounds)."""
    return round(amount, MONEY_DECIMALS)
