"""The schoolbus domain, defined once.

Every value here is a frozen dataclass; pipeline stages return new values instead of mutating.

Conventions
-----------
* Times are whole seconds after midnight (``*_s``); durations are seconds (``*_s``).
* Distances are metres (``*_m``); speeds km/h (``*_kph``); money is in ``Prices.currency``.
* Locations are ``(lon, lat)`` in WGS 84 (EPSG:4326), GeoJSON order.
* Ids are strings as they appear in the input files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

Location = tuple[float, float]
"""A point as ``(lon, lat)`` in degrees, EPSG:4326."""

PRESCHOOL_GRADE = 0
"""Grade number used for preschool / kindergarten pupils (anaokulu)."""


class Direction(StrEnum):
    """Which way a trip carries students."""

    TO_SCHOOL = "to_school"
    FROM_SCHOOL = "from_school"


class Status(StrEnum):
    """Whether a student is carried by the plan."""

    ROUTED = "routed"
    UNSERVED = "unserved"


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shift:
    """One teaching shift of a school.

    Buses must reach the school by ``bell_s`` minus the policy's arrival buffer and may leave with
    pupils from ``dismissal_s`` plus the school dwell. Invariant: ``bell_s < dismissal_s``.
    """

    name: str
    bell_s: int
    dismissal_s: int


@dataclass(frozen=True)
class School:
    """A school (or kindergarten) with one or more shifts (double-shift schools have two)."""

    id: str
    name: str
    location: Location
    shifts: tuple[Shift, ...]

    def shift(self, name: str) -> Shift:
        """Return the shift called ``name`` (raises ``KeyError`` when the school has none)."""
        for s in self.shifts:
            if s.name == name:
                return s
        raise KeyError(f"school {self.id} has no shift {name!r}")


LOCATION_PRECISIONS = ("manual", "house", "interpolated", "street", "neighbourhood", "district", "none")
"""How precisely a geocoded home is known, best first: placed by a person, at the house, between
two numbered houses, on the street, at the mahalle centre, at the ilçe centre, not at all."""


@dataclass(frozen=True)
class Student:
    """A pupil who may need transport.

    ``grade`` is 0 for preschool, 1-4 primary, 5-8 middle, 9-12 high school. ``max_ride_s``, when
    set, is the school's limit for this pupil and overrides the policy. ``initials`` (never a full
    name) and ``language`` (``tr``, ``ar``, ``en``) are for route sheets and parent notices.
    ``family_id`` groups siblings, who share it (and one language): their family gets one parent
    notice for all of them. ``None``: the pupil is their own family. ``location_precision`` says
    how the home was found when it was geocoded from an address (one of
    :data:`LOCATION_PRECISIONS`; ``manual``: placed by a person); ``None``: coordinates given.
    ``priority`` (1 by default) and ``is_vulnerable`` weigh the pupil when a budget cannot carry
    everyone (:mod:`schoolbus.budget`).
    """

    id: str
    location: Location
    school_id: str
    shift: str
    grade: int
    needs_wheelchair: bool = False
    needs_door_to_door: bool = False
    funding_line: str | None = None
    language: str = "tr"
    initials: str | None = None
    max_ride_s: int | None = None
    family_id: str | None = None
    location_precision: str | None = None
    priority: float = 1.0
    is_vulnerable: bool = False


@dataclass(frozen=True)
class Depot:
    """Where vehicles start and end their day."""

    id: str
    name: str
    location: Location


@dataclass(frozen=True)
class VehicleType:
    """A class of vehicle a contractor offers.

    ``count`` is how many are available (``None``: as many as needed). ``day_rate`` is the contract
    price per vehicle per school day, ``km_rate`` the price per km driven. ``always_escort`` marks
    vehicle types that carry an escort whatever the pupils' ages.
    """

    id: str
    seats: int
    day_rate: float
    km_rate: float = 0.0
    wheelchair_places: int = 0
    count: int | None = None
    always_escort: bool = False


@dataclass(frozen=True)
class Fleet:
    """The vehicle types on offer and the depots they start from."""

    vehicle_types: tuple[VehicleType, ...]
    depots: tuple[Depot, ...] = ()

    def vehicle_type(self, type_id: str) -> VehicleType:
        """Return the vehicle type with id ``type_id``."""
        for v in self.vehicle_types:
            if v.id == type_id:
                return v
        raise KeyError(f"no vehicle type {type_id!r}")


@dataclass(frozen=True)
class GradeWalkLimit:
    """Pupils of grade ``<= max_grade`` walk at most ``walk_limit_m`` to their stop."""

    max_grade: int
    walk_limit_m: float


@dataclass(frozen=True)
class Policy:
    """District transport policy: what the programme promises its pupils.

    Ride times run from leaving the pupil's stop to arriving at school (morning) and from leaving
    school to reaching the pupil's stop (afternoon). A stop's service time is
    ``stop_service_s + stop_service_per_student_s * pupils``.
    """

    walk_limit_m: float = 800.0
    grade_walk_limits: tuple[GradeWalkLimit, ...] = ()
    max_ride_s: int = 2700
    arrival_buffer_s: int = 300
    stop_service_s: int = 30
    stop_service_per_student_s: int = 5
    school_dwell_s: int = 180
    snap_limit_m: float = 300.0
    min_home_school_m: float = 0.0
    max_home_school_m: float | None = None
    escort_max_grade: int = 4
    forbidden_road_classes: tuple[str, ...] = ("motorway", "motorway_link")
    wheelchair_door_to_door: bool = True  # wheelchair users are picked up at their home
    min_location_precision: str = "street"  # coarser geocoded homes are refused, never guessed

    def is_location_precise_enough(self, precision: str | None) -> bool:
        """Whether a home found at ``precision`` may be planned (``None``: coordinates given)."""
        if precision is None:
            return True
        return LOCATION_PRECISIONS.index(precision) <= LOCATION_PRECISIONS.index(
            self.min_location_precision
        )

    def walk_limit_for_grade_m(self, grade: int) -> float:
        """The walk limit for a pupil of ``grade``: the tightest grade rule that applies."""
        limits = [g.walk_limit_m for g in self.grade_walk_limits if grade <= g.max_grade]
        return min(limits, default=self.walk_limit_m)

    def needs_escort(self, grade: int) -> bool:
        """Whether a pupil of ``grade`` requires an escort (rehber personel) aboard."""
        return grade <= self.escort_max_grade


@dataclass(frozen=True)
class Prices:
    """Contract prices beyond the per-vehicle rates, and the length of the school year."""

    escort_day_rate: float = 0.0
    overhead_share: float = 0.0
    school_days_per_year: int = 181
    currency: str = "TRY"


class HazardKind(StrEnum):
    """What a hazard forbids."""

    NO_CROSSING = "no_crossing"  # pupils must not cross it (nor walk along it) on foot
    BUS_AVOID = "bus_avoid"  # buses must not drive along it (or through the area)
    BOTH = "both"


@dataclass(frozen=True)
class Hazard:
    """A road or area pupils must not cross on foot, or buses must avoid (see :mod:`schoolbus.hazards`).

    ``lines`` are line strings and ``polygons`` exterior rings, as ``(lon, lat)`` points;
    ``way_ids`` name OSM ways. At least one of the three is non-empty.
    """

    id: str
    kind: HazardKind
    lines: tuple[tuple[Location, ...], ...] = ()
    polygons: tuple[tuple[Location, ...], ...] = ()
    way_ids: tuple[int, ...] = ()
    name: str = ""

    @property
    def is_for_walk(self) -> bool:
        """Whether pupils must not cross it on foot."""
        return self.kind in (HazardKind.NO_CROSSING, HazardKind.BOTH)

    @property
    def is_for_bus(self) -> bool:
        """Whether buses must avoid it."""
        return self.kind in (HazardKind.BUS_AVOID, HazardKind.BOTH)


@dataclass(frozen=True)
class BellWindow:
    """When one shift's bell may ring if bells are chosen (see :mod:`schoolbus.bells`).

    ``earliest_s <= latest_s``, seconds after midnight. A school moves all its shifts together
    (double-shift gaps kept), so the school's move must keep each of its windowed shifts inside.
    """

    school_id: str
    shift: str
    earliest_s: int
    latest_s: int


@dataclass(frozen=True)
class PriorityRules:
    """Policy rules that weigh pupils when a budget cannot carry them all (see :mod:`schoolbus.budget`).

    A pupil's weight is their ``priority`` column (1 when empty) plus ``per_km_from_school`` for
    each km of straight line from home to school, plus ``wheelchair`` when they need one, plus
    ``vulnerable`` when flagged, plus ``young`` when their grade is at most ``young_max_grade``.
    """

    per_km_from_school: float = 0.0
    wheelchair: float = 0.0
    vulnerable: float = 0.0
    young: float = 0.0
    young_max_grade: int = 4


@dataclass(frozen=True)
class Scenario:
    """Everything a plan is made from, validated.

    ``hazards`` are honoured by the walk and bus graphs; ``budget_per_year``, when set, caps the
    plan's annual cost (pupils left out are unserved "not served within budget"), pupils weighed by
    ``priority_rules``. With ``choose_bells`` the planner moves schools' bells within their
    ``bell_windows`` to need the fewest vehicles (``schools`` then hold the chosen bells).
    """

    name: str
    students: tuple[Student, ...]
    schools: tuple[School, ...]
    fleet: Fleet
    policy: Policy = field(default_factory=Policy)
    prices: Prices = field(default_factory=Prices)
    hazards: tuple[Hazard, ...] = ()
    budget_per_year: float | None = None
    priority_rules: PriorityRules = field(default_factory=PriorityRules)
    bell_windows: tuple[BellWindow, ...] = ()
    choose_bells: bool = False

    def school(self, school_id: str) -> School:
        """Return the school with id ``school_id``."""
        for s in self.schools:
            if s.id == school_id:
                return s
        raise KeyError(f"no school {school_id!r}")


# --------------------------------------------------------------------------------------------------
# Stops and plans
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stop:
    """A place on the road where a bus picks up and drops off pupils of one school and shift.

    ``node_id`` is the drive-network node the bus stops at; ``name`` is the nearest street.
    ``is_door_to_door`` marks a stop at a pupil's home (wheelchair or policy flag).
    """

    id: str
    location: Location
    node_id: int
    school_id: str
    shift: str
    student_ids: tuple[str, ...]
    name: str = ""
    is_door_to_door: bool = False


@dataclass(frozen=True)
class Assignment:
    """What the plan does for one student; ``reason`` is set exactly when unserved."""

    student_id: str
    school_id: str
    shift: str
    status: Status
    reason: str | None = None
    stop_id: str | None = None
    walk_m: float | None = None
    pickup_s: int | None = None
    dropoff_s: int | None = None
    ride_to_school_s: int | None = None
    ride_home_s: int | None = None


@dataclass(frozen=True)
class RoadStep:
    """A stretch of a trip's road path along one street, for maps and turn-by-turn directions."""

    street: str
    distance_m: float
    coords: tuple[Location, ...]


@dataclass(frozen=True)
class Visit:
    """A trip's call at a stop or at the school.

    Exactly one of ``stop_id`` and ``school_id`` is set. ``board`` and ``alight`` are student ids.
    """

    arrive_s: int
    depart_s: int
    stop_id: str | None = None
    school_id: str | None = None
    board: tuple[str, ...] = ()
    alight: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trip:
    """One run of one vehicle for one school, shift and direction.

    ``steps`` is the road path from the first visit to the last, street by street.
    """

    id: str
    vehicle_id: str
    vehicle_type: str
    school_id: str
    shift: str
    direction: Direction
    visits: tuple[Visit, ...]
    distance_m: float
    duration_s: int
    steps: tuple[RoadStep, ...] = ()

    @property
    def start_s(self) -> int:
        """When the trip leaves its first visit's place (arrival there)."""
        return self.visits[0].arrive_s

    @property
    def end_s(self) -> int:
        """When the trip has finished at its last visit."""
        return self.visits[-1].depart_s


@dataclass(frozen=True)
class VehicleDay:
    """One vehicle's school day: its trips in time order, from and back to its depot."""

    id: str
    vehicle_type: str
    seats: int
    wheelchair_places: int
    escort: bool
    trip_ids: tuple[str, ...]
    depot_id: str | None
    deadhead_m: float
    distance_m: float
    cost_per_day: float


@dataclass(frozen=True)
class Summary:
    """Headline figures of a plan (money in ``Prices.currency``)."""

    n_vehicles: int
    n_trips: int
    n_students: int
    n_routed: int
    n_unserved: int
    distance_m: float
    deadhead_m: float
    cost_per_day: float
    cost_per_year: float
    cost_per_student_per_day: float | None
    cost_per_student_per_year: float | None
    max_ride_s: int | None
    mean_ride_s: float | None
    p95_ride_s: float | None
    mean_walk_m: float | None
    max_walk_m: float | None


@dataclass(frozen=True)
class CostLine:
    """One row of a cost breakdown: ``group`` is e.g. ``school``, ``shift`` or ``funding_line``."""

    group: str
    key: str
    n_students: int
    cost_per_day: float
    cost_per_year: float


@dataclass(frozen=True)
class Plan:
    """A finished, checked plan: the one thing every output renders."""

    scenario: Scenario
    stops: tuple[Stop, ...]
    assignments: tuple[Assignment, ...]
    trips: tuple[Trip, ...]
    vehicles: tuple[VehicleDay, ...]
    summary: Summary
    costs: tuple[CostLine, ...] = ()
    network_name: str = ""
    seed: int = 0
    routing_backend: str = "ortools"
    """The routing search that built the trips (with ``seed``, what makes the plan repeatable);
    plans written before there was a choice were all OR-Tools'."""
