"""What changed between two plans: pupils added, removed and moved, stop times per vehicle-day, cost.

:func:`diff_plans` compares two finished plans by id (pupils, stops, vehicle-days). It reads only
the plans, never the network, so it works on any two plan directories (a plan and its re-plan, or
two plans from scratch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from schoolbus.model import Plan, Status


@dataclass(frozen=True)
class PupilMove:
    """A pupil in both plans whose stop, pickup or drop-off differs (times in seconds after midnight)."""

    student_id: str
    old_stop_id: str | None
    new_stop_id: str | None
    old_pickup_s: int | None
    new_pickup_s: int | None
    old_dropoff_s: int | None
    new_dropoff_s: int | None

    @property
    def is_stop_changed(self) -> bool:
        """Whether the pupil uses another stop (or is now carried, or no longer)."""
        return self.old_stop_id != self.new_stop_id

    @property
    def shift_s(self) -> int:
        """The larger of the pickup and drop-off shifts, seconds (0 when a side is missing)."""
        pairs = ((self.old_pickup_s, self.new_pickup_s), (self.old_dropoff_s, self.new_dropoff_s))
        return max((abs(a - b) for a, b in pairs if a is not None and b is not None), default=0)


@dataclass(frozen=True)
class StopTimeChange:
    """A stop call of a vehicle-day that appeared, disappeared or moved in time."""

    vehicle_id: str
    stop_id: str
    old_arrive_s: int | None
    new_arrive_s: int | None


@dataclass(frozen=True)
class PlanDiff:
    """Two plans compared. Money is in the plans' currency; ``b`` minus ``a``."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    moved: tuple[PupilMove, ...]
    now_unserved: tuple[str, ...]
    now_served: tuple[str, ...]
    stops_added: tuple[str, ...]
    stops_removed: tuple[str, ...]
    stop_times: tuple[StopTimeChange, ...]
    vehicles_added: tuple[str, ...]
    vehicles_removed: tuple[str, ...]
    vehicles_changed: tuple[str, ...]
    cost_per_day_a: float
    cost_per_day_b: float
    cost_per_year_a: float
    cost_per_year_b: float
    currency: str

    @property
    def cost_per_day_delta(self) -> float:
        return round(self.cost_per_day_b - self.cost_per_day_a, 2)

    @property
    def cost_per_year_delta(self) -> float:
        return round(self.cost_per_year_b - self.cost_per_year_a, 2)

    def n_moved_beyond(self, threshold_s: int) -> int:
        """Pupils in both plans whose stop changed or whose time moved more than ``threshold_s``."""
        return sum(m.is_stop_changed or m.shift_s > threshold_s for m in self.moved)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``schoolbus diff --json``)."""
        document = asdict(self)
        document["cost_per_day_delta"] = self.cost_per_day_delta
        document["cost_per_year_delta"] = self.cost_per_year_delta
        return document


def _stop_calls(plan: Plan) -> dict[tuple[str, str], int]:
    """``(vehicle_id, stop_id) -> arrival`` for every stop call of every trip (both directions)."""
    calls: dict[tuple[str, str], int] = {}
    for trip in plan.trips:
        for visit in trip.visits:
            if visit.stop_id is not None:
                calls[(f"{trip.vehicle_id}/{trip.direction.value}", visit.stop_id)] = visit.arrive_s
    return calls


def diff_plans(a: Plan, b: Plan) -> PlanDiff:
    """Compare plan ``a`` (before) with plan ``b`` (after), by pupil, stop and vehicle-day id."""
    old = {x.student_id: x for x in a.assignments}
    new = {x.student_id: x for x in b.assignments}
    moved = []
    for student_id in sorted(set(old) & set(new)):
        x, y = old[student_id], new[student_id]
        if (x.stop_id, x.pickup_s, x.dropoff_s) != (y.stop_id, y.pickup_s, y.dropoff_s):
            moved.append(
                PupilMove(student_id, x.stop_id, y.stop_id, x.pickup_s, y.pickup_s, x.dropoff_s, y.dropoff_s)
            )
    both = set(old) & set(new)
    calls_a, calls_b = _stop_calls(a), _stop_calls(b)
    stop_times = [
        StopTimeChange(key[0], key[1], calls_a.get(key), calls_b.get(key))
        for key in sorted(set(calls_a) | set(calls_b))
        if calls_a.get(key) != calls_b.get(key)
    ]
    trips_a = {t.id: t for t in a.trips}
    trips_b = {t.id: t for t in b.trips}
    va = {v.id: v for v in a.vehicles}
    vb = {v.id: v for v in b.vehicles}

    def day(trips, vehicle):
        return [(t.direction, t.visits) for t in (trips[i] for i in vehicle.trip_ids)]

    changed = sorted(v for v in set(va) & set(vb) if day(trips_a, va[v]) != day(trips_b, vb[v]))
    stops_a = {s.id for s in a.stops}
    stops_b = {s.id for s in b.stops}
    return PlanDiff(
        added=tuple(sorted(set(new) - set(old))),
        removed=tuple(sorted(set(old) - set(new))),
        moved=tuple(moved),
        now_unserved=tuple(
            sorted(i for i in both if old[i].status is Status.ROUTED and new[i].status is Status.UNSERVED)
        ),
        now_served=tuple(
            sorted(i for i in both if old[i].status is Status.UNSERVED and new[i].status is Status.ROUTED)
        ),
        stops_added=tuple(sorted(stops_b - stops_a)),
        stops_removed=tuple(sorted(stops_a - stops_b)),
        stop_times=tuple(stop_times),
        vehicles_added=tuple(sorted(set(vb) - set(va))),
        vehicles_removed=tuple(sorted(set(va) - set(vb))),
        vehicles_changed=tuple(changed),
        cost_per_day_a=a.summary.cost_per_day,
        cost_per_day_b=b.summary.cost_per_day,
        cost_per_year_a=a.summary.cost_per_year,
        cost_per_year_b=b.summary.cost_per_year,
        currency=b.scenario.prices.currency,
    )
