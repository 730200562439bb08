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

from collections.abc import Mapping
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
    replan_tolerance_s: int = 300
    """How far a re-plan may move an unaffected pupil's pickup or drop-off for another pupil's
    change (±5 minutes by default)."""
    max_plausible_home_school_m: float = 50_000.0
    """A home farther than this from its school (straight line) is an input error: a typo or
    swapped coordinates, not a pupil to plan for."""

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


PIN_KINDS = ("pupil_stop", "stop_location", "trip_locked", "vehicle_locked")
"""Manual decisions every plan must keep (see ``docs/changes.md``)."""


@dataclass(frozen=True)
class Pin:
    """A manual decision that sticks, checked on every plan.

    ``pupil_stop``: pupil ``student_id`` uses stop ``stop_id``. ``stop_location``: stop ``stop_id``
    stands at the ``loaded`` node nearest ``location``. ``trip_locked``: trip ``trip_id`` keeps
    exactly ``visits`` (places, times, who boards and alights) on vehicle ``vehicle_id``.
    ``vehicle_locked``: vehicle-day ``vehicle_id`` keeps exactly the trips ``trip_ids`` (each of
    which also has its own ``trip_locked`` pin).
    """

    kind: str
    student_id: str | None = None
    stop_id: str | None = None
    location: Location | None = None
    trip_id: str | None = None
    vehicle_id: str | None = None
    visits: tuple[Visit, ...] = ()
    trip_ids: tuple[str, ...] = ()


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
class GradeBand:
    """A priority weight added for pupils in grades up to ``max_grade`` (see :class:`PriorityRules`)."""

    max_grade: int
    weight: float


@dataclass(frozen=True)
class PriorityRules:
    """Policy rules that weigh pupils when a budget cannot carry them all (see :mod:`schoolbus.budget`).

    A pupil's weight is their ``priority`` column (1 when empty) plus ``per_km_from_school`` for
    each km of straight line from home to school, plus ``wheelchair`` when they need one, plus
    ``vulnerable`` when flagged, plus the weight of the first of ``grade_bands`` (in increasing
    ``max_grade``) whose ``max_grade`` is at least their grade.
    """

    per_km_from_school: float = 0.0
    wheelchair: float = 0.0
    vulnerable: float = 0.0
    grade_bands: tuple[GradeBand, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """Everything a plan is made from, validated; ``pins`` are the manual decisions it keeps.

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
    pins: tuple[Pin, ...] = ()
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


@dataclass(frozen=True)
class RoadPoint:
    """Where a location meets one road graph: its nearest node and how far that node is.

    ``snap_m`` is the great-circle distance from the location to the node, metres.
    """

    node_id: int
    snap_m: float


@dataclass(frozen=True)
class Located:
    """A scenario's locations on the road graphs, each snapped once (see :mod:`schoolbus.locations`).

    Built right after the road network, so no later stage snaps a point again. Keyed by id, so a
    part of the scenario (some of its pupils) reads the same nodes.

    Attributes
    ----------
    homes_walk : mapping of str to RoadPoint
        Per student id: the ``walk``-graph node where the walk to a stop (or to school) starts.
    homes_loaded : mapping of str to RoadPoint
        Per student id: the nearest ``loaded``-graph node (a door-to-door pupil's stop, and how
        far the nearest usable road is when no stop can be reached).
    schools_walk : mapping of str to RoadPoint
        Per school id: the ``walk``-graph node, for walking distances between home and school.
    schools_loaded : mapping of str to RoadPoint
        Per school id: the ``loaded``-graph node where trips start and end.
    depots_drive : mapping of str to RoadPoint
        Per depot id: the ``drive``-graph node vehicles leave from and return to.
    pinned_places_loaded : mapping of str to RoadPoint
        Per stop id of a ``stop_location`` pin: the ``loaded``-graph node the stop stands at.
    """

    homes_walk: Mapping[str, RoadPoint]
    homes_loaded: Mapping[str, RoadPoint]
    schools_walk: Mapping[str, RoadPoint]
    schools_loaded: Mapping[str, RoadPoint]
    depots_drive: Mapping[str, RoadPoint]
    pinned_places_loaded: Mapping[str, RoadPoint] = field(default_factory=dict)

    def school_nodes(self) -> dict[str, int]:
        """``school_id -> loaded node`` of every school."""
        return {school_id: point.node_id for school_id, point in self.schools_loaded.items()}

    def depot_nodes(self) -> dict[str, int]:
        """``depot_id -> drive node`` of every depot, in the fleet's order."""
        return {depot_id: point.node_id for depot_id, point in self.depots_drive.items()}


# --------------------------------------------------------------------------------------------------
# Outcomes as codes
# --------------------------------------------------------------------------------------------------


class ReasonCode(StrEnum):
    """Why a pupil is not carried (or a stop not routed): stable codes; words are translations.

    The English text and the parameters each code takes are in :mod:`schoolbus.outputs.reasons`.
    """

    NO_VEHICLE = "no_vehicle"
    FAR_FROM_ROAD = "far_from_road"
    ROAD_NOT_CONNECTED = "road_not_connected"
    TOO_CLOSE_TO_SCHOOL = "too_close_to_school"
    TOO_FAR_FROM_SCHOOL = "too_far_from_school"
    TOO_FAR_FROM_SCHOOL_STRAIGHT = "too_far_from_school_straight"
    NO_WHEELCHAIR_PLACE = "no_wheelchair_place"
    DOOR_FAR_FROM_ROAD = "door_far_from_road"
    NO_STOP_WITHIN_WALK = "no_stop_within_walk"
    NO_ROAD_ON_FOOT = "no_road_on_foot"
    FLEET_EMPTY = "fleet_empty"
    FLEET_NO_ROUTES_ALLOWED = "fleet_no_routes_allowed"
    STOP_NEEDS_SEATS = "stop_needs_seats"
    STOP_NEEDS_WHEELCHAIR_PLACES = "stop_needs_wheelchair_places"
    STOP_NEEDS_MORE_WHEELCHAIR_PLACES = "stop_needs_more_wheelchair_places"
    STOP_NEEDS_SEATS_AND_PLACES = "stop_needs_seats_and_places"
    RIDE_LIMIT_ALONE = "ride_limit_alone"
    RIDE_LIMIT_ANY_ROUTE = "ride_limit_any_route"
    DURATION_CAP_ALONE = "duration_cap_alone"
    DURATION_CAP_ANY_ROUTE = "duration_cap_any_route"
    FLEET_ROUTES_USED = "fleet_routes_used"
    NO_ROUTE_FOUND = "no_route_found"
    FLEET_RAN_OUT = "fleet_ran_out"
    NO_TRIP = "no_trip"
    FLEET_TOO_SMALL = "fleet_too_small"
    LOCATION_IMPRECISE = "location_imprecise"
    FLEET_NONE_FREE = "fleet_none_free"
    NOT_WITHIN_BUDGET = "not_within_budget"
    TEXT = "text"
    """A reason read from a plan written before reasons had codes (``text``: its words)."""


class ViolationCode(StrEnum):
    """What the independent checker found wrong with a plan (a bug if it ever happens): stable codes.

    Each :class:`schoolbus.check.Violation` carries one, with its sentence (a catalogue id and its
    parameters, worded by :mod:`schoolbus.outputs.violations`) naming the trip, vehicle, student or
    stop (the ``subject``).
    """

    DUPLICATE_ID = "duplicate_id"
    TRIP_SHAPE = "trip_shape"
    TRIP_UNKNOWN_SCHOOL = "trip_unknown_school"
    TRIP_UNKNOWN_SHIFT = "trip_unknown_shift"
    LATE_AT_SCHOOL = "late_at_school"
    EARLY_FROM_SCHOOL = "early_from_school"
    TRIP_UNKNOWN_VEHICLE = "trip_unknown_vehicle"
    TRIP_NOT_LISTED_BY_VEHICLE = "trip_not_listed_by_vehicle"
    TRIP_VEHICLE_TYPE_MISMATCH = "trip_vehicle_type_mismatch"
    STOP_OF_OTHER_GROUP = "stop_of_other_group"
    BOARD_ALIGHT_WRONG_WAY_AT_STOP = "board_alight_wrong_way_at_stop"
    BOARD_ALIGHT_WRONG_WAY_AT_SCHOOL = "board_alight_wrong_way_at_school"
    SERVICE_TOO_SHORT = "service_too_short"
    NO_LOADED_ROAD = "no_loaded_road"
    FASTER_THAN_ROAD = "faster_than_road"
    WAITS_BETWEEN_VISITS = "waits_between_visits"
    TRIP_DISTANCE_MISMATCH = "trip_distance_mismatch"
    TRIP_DURATION_MISMATCH = "trip_duration_mismatch"
    ALIGHTS_WITHOUT_BOARDING = "alights_without_boarding"
    BOARDS_UNKNOWN_STUDENT = "boards_unknown_student"
    BOARDS_TWICE = "boards_twice"
    CARRIES_OTHER_GROUP = "carries_other_group"
    OVER_CAPACITY = "over_capacity"
    OVER_WHEELCHAIR_CAPACITY = "over_wheelchair_capacity"
    NEVER_ALIGHTS = "never_alights"
    STOP_NOT_ON_LOADED_ROADS = "stop_not_on_loaded_roads"
    ASSIGNMENT_UNKNOWN_STUDENT = "assignment_unknown_student"
    NO_ASSIGNMENT = "no_assignment"
    SEVERAL_ASSIGNMENTS = "several_assignments"
    ASSIGNMENT_GROUP_MISMATCH = "assignment_group_mismatch"
    UNSERVED_WITHOUT_REASON = "unserved_without_reason"
    UNSERVED_RIDES = "unserved_rides"
    ROUTED_WITH_REASON = "routed_with_reason"
    ROUTED_WITHOUT_STOP = "routed_without_stop"
    ROUTED_STOP_MISSING = "routed_stop_missing"
    STOP_GROUP_MISMATCH = "stop_group_mismatch"
    STOP_DOES_NOT_LIST_STUDENT = "stop_does_not_list_student"
    RIDES_NO_TRIP = "rides_no_trip"
    RIDES_SEVERAL_TRIPS = "rides_several_trips"
    RIDES_FROM_OTHER_STOP = "rides_from_other_stop"
    RIDE_TIME_MISMATCH = "ride_time_mismatch"
    RIDE_LIMIT_EXCEEDED = "ride_limit_exceeded"
    STOP_TIME_MISMATCH = "stop_time_mismatch"
    STOP_LISTS_UNKNOWN_STUDENT = "stop_lists_unknown_student"
    STOP_LISTS_UNROUTED_STUDENT = "stop_lists_unrouted_student"
    STOP_SERVES_OTHER_GROUP = "stop_serves_other_group"
    DOOR_STOP_TOO_FAR = "door_stop_too_far"
    DOOR_PUPIL_AT_SHARED_STOP = "door_pupil_at_shared_stop"
    NO_WALK_PATH = "no_walk_path"
    WALK_MISMATCH = "walk_mismatch"
    WALK_LIMIT_EXCEEDED = "walk_limit_exceeded"
    STOP_NOT_ON_WALK_NETWORK = "stop_not_on_walk_network"
    TRIP_WITHOUT_VEHICLE = "trip_without_vehicle"
    TRIP_ON_SEVERAL_VEHICLES = "trip_on_several_vehicles"
    VEHICLE_UNKNOWN_TYPE = "vehicle_unknown_type"
    VEHICLE_CAPACITY_MISMATCH = "vehicle_capacity_mismatch"
    VEHICLE_TRIPS_MISSING = "vehicle_trips_missing"
    VEHICLE_TRIP_NAMES_OTHER_VEHICLE = "vehicle_trip_names_other_vehicle"
    VEHICLE_DISTANCE_MISMATCH = "vehicle_distance_mismatch"
    FLEET_COUNT_EXCEEDED = "fleet_count_exceeded"
    NO_DEADHEAD_ROAD = "no_deadhead_road"
    TRIPS_OUT_OF_ORDER = "trips_out_of_order"
    CANNOT_REACH_NEXT_TRIP = "cannot_reach_next_trip"
    DEADHEAD_MISMATCH = "deadhead_mismatch"
    VEHICLE_UNKNOWN_DEPOT = "vehicle_unknown_depot"
    ESCORT_MISSING_ALWAYS = "escort_missing_always"
    ESCORT_MISSING_FOR_GRADE = "escort_missing_for_grade"
    COSTS_NOT_RECOMPUTED = "costs_not_recomputed"
    VEHICLE_COST_MISMATCH = "vehicle_cost_mismatch"
    SUMMARY_MISMATCH = "summary_mismatch"
    COST_LINE_MISSING = "cost_line_missing"
    COST_LINE_EXTRA = "cost_line_extra"
    COST_LINE_MISMATCH = "cost_line_mismatch"
    PIN_BROKEN = "pin_broken"
    """A pupil pinned to a stop, or a stop pinned to a place, that the plan does not keep."""
    LOCK_BROKEN = "lock_broken"
    """A locked trip or vehicle-day that the plan changed or dropped."""


class Violation(str):
    """One broken rule: the English sentence (it *is* the string), its ``code`` and its ``subject``.

    A ``str`` so every reader of violations as text keeps working; tools match on ``code``
    (a :class:`~schoolbus.model.ViolationCode`) and group by it. ``subject`` is what the sentence
    is about ("trip T003", "student s6", "vehicle type midi"), the part before its first colon.
    ``message`` is the sentence's catalogue id (English, with ``%(name)s`` placeholders) and
    ``params`` its ``(name, value)`` pairs, so :func:`schoolbus.outputs.violations.describe_violation`
    words it in Turkish or Arabic; the string is ``message % params``.
    """

    code: ViolationCode
    subject: str
    message: str
    params: tuple[tuple[str, str], ...]

    def __new__(cls, text: str, code: ViolationCode, message: str = "", params: tuple[tuple[str, str], ...] = ()) -> Violation:
        violation = super().__new__(cls, text)
        violation.code = code
        violation.subject = text.split(": ", 1)[0] if ": " in text else ""
        violation.message = message or text.replace("%", "%%")
        violation.params = params
        return violation

    @classmethod
    def make(cls, code: ViolationCode, message: str, **params: object) -> Violation:
        """A violation whose sentence is ``message`` (an ``N_`` catalogue id) filled with ``params``."""
        shown = {name: str(value) for name, value in params.items()}
        return cls(message % shown, code, message, tuple(sorted(shown.items())))


ReasonParam = str | int | float
"""A reason's parameter: an id or a word (``str``), a count or seconds (``int``), metres (``float``)."""


@dataclass(frozen=True)
class Reason:
    """An outcome as a code with named parameters and the reasons underneath it.

    ``params`` are ``(name, value)`` pairs sorted by name (see :meth:`make`); distances are metres,
    times seconds. ``causes`` say why in more detail (e.g. *no trip home* because *the ride limit
    is impossible even alone*).
    """

    code: ReasonCode
    params: tuple[tuple[str, ReasonParam], ...] = ()
    causes: tuple[Reason, ...] = ()

    @classmethod
    def make(cls, code: ReasonCode, causes: tuple[Reason, ...] = (), **params: ReasonParam) -> Reason:
        """A reason with ``params`` given as keywords."""
        return cls(code, tuple(sorted(params.items())), tuple(causes))

    def param(self, name: str) -> ReasonParam:
        """The parameter called ``name`` (``KeyError`` if the code has none by that name)."""
        for key, value in self.params:
            if key == name:
                return value
        raise KeyError(name)

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        """This code then every cause's, depth first: what a reason is grouped and matched by."""
        return (self.code, *(code for cause in self.causes for code in cause.codes))


# --------------------------------------------------------------------------------------------------
# Stops and plans
# --------------------------------------------------------------------------------------------------


class StopNameKind(StrEnum):
    """How a stop's name was found (see :class:`StopName`)."""

    CORNER = "corner"
    NEAR_CORNER = "near_corner"
    PLACE = "place"
    STREET = "street"
    BEARING = "bearing"
    ROAD = "road"


@dataclass(frozen=True)
class StopName:
    """What people call the place of a stop, in parts a renderer words in the reader's language.

    * ``CORNER``: at the corner of ``street`` and ``cross``;
    * ``NEAR_CORNER``: on ``street``, ``distance_m`` from the corner with ``cross``;
    * ``PLACE``: outside a named place (``place``: a school, a mosque, a shop), ``distance_m`` away;
    * ``STREET``: on ``street``, with no cross street near;
    * ``BEARING``: ``distance_m`` towards ``bearing`` (a compass point) from the nearest named
      street ``street``;
    * ``ROAD``: on an unnamed road of OSM class ``road_class`` with nothing named near.
    """

    kind: StopNameKind
    street: str = ""
    cross: str = ""
    place: str = ""
    distance_m: float = 0.0
    bearing: str = ""
    road_class: str = ""


@dataclass(frozen=True)
class Stop:
    """A place on the road where a bus picks up and drops off pupils of one school and shift.

    ``node_id`` is the drive-network node the bus stops at; ``name`` is what people call the place
    (street and cross street, a landmark, or a bearing from a named street; see
    :mod:`schoolbus.stopnames`), never an id.
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
    where: StopName | None = None
    """The name's parts, for renderers that word it in the reader's language (``None`` in
    plans written before stops had them: then ``name`` is the street)."""


@dataclass(frozen=True)
class Assignment:
    """What the plan does for one student; ``reason`` is set exactly when unserved."""

    student_id: str
    school_id: str
    shift: str
    status: Status
    reason: Reason | None = None
    stop_id: str | None = None
    walk_m: float | None = None
    pickup_s: int | None = None
    dropoff_s: int | None = None
    ride_to_school_s: int | None = None
    ride_home_s: int | None = None


@dataclass(frozen=True)
class RoadStep:
    """A stretch of a trip's road path along one street, for maps and turn-by-turn directions.

    ``road_class`` is the OSM ``highway`` class of an unnamed stretch (``service``…), so directions
    can say "service road" where there is no name; empty on named streets.
    """

    street: str
    distance_m: float
    coords: tuple[Location, ...]
    road_class: str = ""


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
