"""A small, hand-made, finished plan for the renderer tests (maps, sheets, notices, exports).

The place is a made-up grid of real-sounding Keçiören (Ankara) streets around lon 32.85, lat 39.96:

* east-west: Ağaçlı Sokak (lat 39.9610), İstiklal Caddesi (39.9640), Kuşçağız Sokak (39.9670),
  Şehit Doğan Caddesi (39.9700);
* north-south: Ilgaz Sokak (lon 32.8500), Gölbaşı Caddesi (32.8560), Işıklar Caddesi (32.8620),
  Çiğdem Sokak (32.8680).

Two schools: S1, a double-shift primary school (``sabah`` and ``öğle``) at Gölbaşı × Şehit Doğan,
and S2, a middle school at Çiğdem × İstiklal. Three vehicle-days: V1 chains S1's morning shift with
S2 (four trips), V2 is a wheelchair minibus for S2 without an escort, V3 serves S1's afternoon
shift. Twelve students: a wheelchair user with a door-to-door stop (st10), Arabic-speaking pupils
(st05, st06, st09, st12), an English-speaking one (st03), and st12, unserved with a reason. st05
and st09 are siblings (family ``FAM-H``, one home): st05 goes to S1's afternoon shift from stop C,
st09 to S2 from stop E, so their family's one notice lists two schools, stops and times.

Every trip's road path follows the grid, so each turn has a known answer: T1 heads north on Ilgaz
Sokak, turns right onto Kuşçağız Sokak (passing stop B half-way) and left onto Gölbaşı Caddesi.
Visit times are derived once, here, from the path length at a fixed speed, so they agree with the
geometry; the renderers under test only read them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from schoolbus.model import (
    Assignment,
    CostLine,
    Depot,
    Direction,
    Fleet,
    Location,
    Plan,
    Policy,
    Prices,
    Reason,
    ReasonCode,
    RoadStep,
    Scenario,
    School,
    Shift,
    Status,
    Stop,
    Student,
    Summary,
    Trip,
    VehicleDay,
    VehicleType,
    Visit,
)

EARTH_RADIUS_M = 6_371_008.8
BUS_SPEED_M_PER_S = 6.0
"""21.6 km/h through narrow residential streets."""
STOP_SERVICE_S = 30
STOP_SERVICE_PER_STUDENT_S = 5
SCHOOL_DWELL_S = 180
ESCORT_DAY_RATE = 650.0
SCHOOL_DAYS_PER_YEAR = 181


def hms(hours: int, minutes: int, seconds: int = 0) -> int:
    """Seconds after midnight."""
    return hours * 3600 + minutes * 60 + seconds


def haversine_m(a: Location, b: Location) -> float:
    """Great-circle distance in metres between two ``(lon, lat)`` points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


# Grid lines ---------------------------------------------------------------------------------------
AGACLI, ISTIKLAL, KUSCAGIZ, SEHIT_DOGAN = 39.9610, 39.9640, 39.9670, 39.9700
ILGAZ, GOLBASI, ISIKLAR, CIGDEM = 32.8500, 32.8560, 32.8620, 32.8680

S1_LOC: Location = (GOLBASI, SEHIT_DOGAN)
S2_LOC: Location = (CIGDEM, ISTIKLAL)
DEPOT_LOC: Location = (32.8450, 39.9600)

STOP_LOC: dict[str, Location] = {
    "A": (ILGAZ, 39.9620),  # Ilgaz Sokak, south of İstiklal
    "B": (32.8530, KUSCAGIZ),  # Kuşçağız Sokak, half-way between Ilgaz and Gölbaşı
    "C": (ISIKLAR, 39.9655),  # Işıklar Caddesi
    "D": (32.8600, SEHIT_DOGAN),  # Şehit Doğan Caddesi
    "E": (32.8590, ISTIKLAL),  # İstiklal Caddesi
    "F": (CIGDEM, 39.9620),  # Çiğdem Sokak, at st10's door
    "G": (32.8650, AGACLI),  # Ağaçlı Sokak
}
STOP_STREET = {
    "A": "Ilgaz Sokak",
    "B": "Kuşçağız Sokak",
    "C": "Işıklar Caddesi",
    "D": "Şehit Doğan Caddesi",
    "E": "İstiklal Caddesi",
    "F": "Çiğdem Sokak",
    "G": "Ağaçlı Sokak",
}

MIDIBUS = VehicleType(id="midibus_27", seats=27, day_rate=2450.0, count=4)
WHEELCHAIR_MINIBUS = VehicleType(
    id="minibus_14_wc", seats=14, day_rate=2100.0, wheelchair_places=1, count=1
)

SCHOOLS = (
    School(
        id="S1",
        name="Etlik Şehit Öğretmen İlkokulu",
        location=S1_LOC,
        shifts=(Shift("sabah", hms(7, 30), hms(12, 30)), Shift("öğle", hms(13, 0), hms(18, 0))),
    ),
    School(
        id="S2",
        name="Ayşe Işık Ortaokulu",
        location=S2_LOC,
        shifts=(Shift("tam", hms(8, 30), hms(15, 0)),),
    ),
)
DEPOTS = (Depot(id="D1", name="Keçiören Garajı", location=DEPOT_LOC),)


def _student(
    sid: str, stop: str | None, school: str, shift: str, grade: int, initials: str, **kw
) -> Student:
    """A student living about 150 m north-east of ``stop`` (or at ``kw['location']``)."""
    lon, lat = STOP_LOC[stop] if stop else (32.8720, 39.9580)
    location = kw.pop("location", (round(lon + 0.0011, 6), round(lat + 0.0009, 6)))
    return Student(
        id=sid,
        location=location,
        school_id=school,
        shift=shift,
        grade=grade,
        initials=initials,
        **kw,
    )


STUDENTS = (
    _student("st01", "A", "S1", "sabah", 3, "A.Y."),
    _student("st02", "A", "S1", "sabah", 2, "M.Ş."),
    _student("st03", "B", "S1", "sabah", 4, "J.K.", language="en"),
    _student("st04", "B", "S1", "sabah", 1, "Ö.Ç."),
    _student("st05", "C", "S1", "öğle", 2, "R.H.", language="ar", family_id="FAM-H"),
    _student("st06", "C", "S1", "öğle", 4, "Y.H.", language="ar"),
    _student("st07", "D", "S1", "öğle", 1, "İ.G."),
    _student("st08", "E", "S2", "tam", 6, "Ş.K."),
    # st05's sibling: same home, same family and language, another school.
    _student(
        "st09",
        "E",
        "S2",
        "tam",
        7,
        "N.A.",
        language="ar",
        family_id="FAM-H",
        location=(round(ISIKLAR + 0.0011, 6), round(39.9655 + 0.0009, 6)),
    ),
    _student(
        "st10",
        "F",
        "S2",
        "tam",
        6,
        "E.D.",
        needs_wheelchair=True,
        needs_door_to_door=True,
        location=STOP_LOC["F"],
    ),
    _student("st11", "G", "S2", "tam", 8, "Ç.B."),
    _student("st12", None, "S2", "tam", 5, "M.A.", language="ar"),
)
UNSERVED_REASON = Reason.make(ReasonCode.NO_STOP_WITHIN_WALK, limit_m=1000.0, nearest_m=1240.0)
UNSERVED_WORDS = "no bus stop within the walk limit of 1,000 m (nearest road a bus may use is 1,240 m walk)"
UNSERVED_TITLE = "no bus stop within the walk limit"
WALK_M = {"st01": 120.0, "st02": 185.0, "st03": 240.0, "st04": 95.0, "st05": 310.0, "st06": 310.0,
          "st07": 150.0, "st08": 200.0, "st09": 265.0, "st10": 0.0, "st11": 175.0}  # fmt: skip

STOPS = (
    Stop("A", STOP_LOC["A"], 101, "S1", "sabah", ("st01", "st02"), STOP_STREET["A"]),
    Stop("B", STOP_LOC["B"], 102, "S1", "sabah", ("st03", "st04"), STOP_STREET["B"]),
    Stop("C", STOP_LOC["C"], 103, "S1", "öğle", ("st05", "st06"), STOP_STREET["C"]),
    Stop("D", STOP_LOC["D"], 104, "S1", "öğle", ("st07",), STOP_STREET["D"]),
    Stop("E", STOP_LOC["E"], 105, "S2", "tam", ("st08", "st09"), STOP_STREET["E"]),
    Stop("F", STOP_LOC["F"], 106, "S2", "tam", ("st10",), STOP_STREET["F"], is_door_to_door=True),
    Stop("G", STOP_LOC["G"], 107, "S2", "tam", ("st11",), STOP_STREET["G"]),
)
_STOP_BY_ID = {s.id: s for s in STOPS}

Leg = tuple[str, Sequence[Location]]
"""A street name and the path's vertices along it, for building a ``RoadStep``."""

# Road paths: each leg is one street; consecutive legs share their junction vertex.
PATHS: dict[str, tuple[Leg, ...]] = {
    # S1 sabah to school: A north on Ilgaz, right onto Kuşçağız (through B), left onto Gölbaşı.
    "T1": (
        ("Ilgaz Sokak", [STOP_LOC["A"], (ILGAZ, ISTIKLAL), (ILGAZ, KUSCAGIZ)]),
        ("Kuşçağız Sokak", [(ILGAZ, KUSCAGIZ), STOP_LOC["B"], (GOLBASI, KUSCAGIZ)]),
        ("Gölbaşı Caddesi", [(GOLBASI, KUSCAGIZ), S1_LOC]),
    ),
    # S2 to school: E east along İstiklal Caddesi to the school.
    "T2": (("İstiklal Caddesi", [STOP_LOC["E"], (ISIKLAR, ISTIKLAL), S2_LOC]),),
    # S1 sabah home: south on Gölbaşı, right onto Kuşçağız (through B), left onto Ilgaz to A.
    "T3": (
        ("Gölbaşı Caddesi", [S1_LOC, (GOLBASI, KUSCAGIZ)]),
        ("Kuşçağız Sokak", [(GOLBASI, KUSCAGIZ), STOP_LOC["B"], (ILGAZ, KUSCAGIZ)]),
        ("Ilgaz Sokak", [(ILGAZ, KUSCAGIZ), (ILGAZ, ISTIKLAL), STOP_LOC["A"]]),
    ),
    # S2 home: west along İstiklal Caddesi to E.
    "T4": (("İstiklal Caddesi", [S2_LOC, (ISIKLAR, ISTIKLAL), STOP_LOC["E"]]),),
    # S2 to school, wheelchair minibus: G east on Ağaçlı, left onto Çiğdem (through F) to S2.
    "T5": (
        ("Ağaçlı Sokak", [STOP_LOC["G"], (CIGDEM, AGACLI)]),
        ("Çiğdem Sokak", [(CIGDEM, AGACLI), STOP_LOC["F"], S2_LOC]),
    ),
    # S2 home, wheelchair minibus: south on Çiğdem (through F), right onto Ağaçlı to G.
    "T6": (
        ("Çiğdem Sokak", [S2_LOC, STOP_LOC["F"], (CIGDEM, AGACLI)]),
        ("Ağaçlı Sokak", [(CIGDEM, AGACLI), STOP_LOC["G"]]),
    ),
    # S1 öğle to school: C north on Işıklar, left onto Şehit Doğan (through D) to the school.
    "T7": (
        ("Işıklar Caddesi", [STOP_LOC["C"], (ISIKLAR, KUSCAGIZ), (ISIKLAR, SEHIT_DOGAN)]),
        ("Şehit Doğan Caddesi", [(ISIKLAR, SEHIT_DOGAN), STOP_LOC["D"], S1_LOC]),
    ),
    # S1 öğle home: east on Şehit Doğan (through D), right onto Işıklar to C.
    "T8": (
        ("Şehit Doğan Caddesi", [S1_LOC, STOP_LOC["D"], (ISIKLAR, SEHIT_DOGAN)]),
        ("Işıklar Caddesi", [(ISIKLAR, SEHIT_DOGAN), (ISIKLAR, KUSCAGIZ), STOP_LOC["C"]]),
    ),
}

# (trip id, vehicle, vehicle type, school, shift, direction, first visit's arrival, places in order)
TRIP_SPECS = (
    ("T1", "V1", MIDIBUS, "S1", "sabah", Direction.TO_SCHOOL, hms(7, 0), ("A", "B", "S1")),
    ("T2", "V1", MIDIBUS, "S2", "tam", Direction.TO_SCHOOL, hms(8, 10), ("E", "S2")),
    ("T3", "V1", MIDIBUS, "S1", "sabah", Direction.FROM_SCHOOL, hms(12, 30), ("S1", "B", "A")),
    ("T4", "V1", MIDIBUS, "S2", "tam", Direction.FROM_SCHOOL, hms(15, 0), ("S2", "E")),
    ("T5", "V2", WHEELCHAIR_MINIBUS, "S2", "tam", Direction.TO_SCHOOL, hms(8, 5), ("G", "F", "S2")),
    (
        "T6",
        "V2",
        WHEELCHAIR_MINIBUS,
        "S2",
        "tam",
        Direction.FROM_SCHOOL,
        hms(15, 0),
        ("S2", "F", "G"),
    ),
    ("T7", "V3", MIDIBUS, "S1", "öğle", Direction.TO_SCHOOL, hms(12, 35), ("C", "D", "S1")),
    ("T8", "V3", MIDIBUS, "S1", "öğle", Direction.FROM_SCHOOL, hms(18, 0), ("S1", "D", "C")),
)


def _location(place: str) -> Location:
    return S1_LOC if place == "S1" else S2_LOC if place == "S2" else STOP_LOC[place]


def _build_trip(spec) -> Trip:
    trip_id, vehicle_id, vtype, school_id, shift, direction, start_s, places = spec
    steps = tuple(
        RoadStep(street, sum(haversine_m(a, b) for a, b in zip(coords, coords[1:])), tuple(coords))
        for street, coords in PATHS[trip_id]
    )
    path: list[Location] = [steps[0].coords[0]]
    for step in steps:
        path.extend(step.coords[1:])
    along_m = [0.0]
    for a, b in zip(path, path[1:]):
        along_m.append(along_m[-1] + haversine_m(a, b))
    riders = tuple(sid for p in places if p in _STOP_BY_ID for sid in _STOP_BY_ID[p].student_ids)
    visits = []
    depart_s, index = start_s, 0
    for place in places:
        found = path.index(_location(place), index)
        arrive_s = (
            start_s
            if not visits
            else depart_s + round((along_m[found] - along_m[index]) / BUS_SPEED_M_PER_S)
        )
        index = found
        if place in _STOP_BY_ID:
            pupils = _STOP_BY_ID[place].student_ids
            depart_s = arrive_s + STOP_SERVICE_S + STOP_SERVICE_PER_STUDENT_S * len(pupils)
            on, off = (pupils, ()) if direction is Direction.TO_SCHOOL else ((), pupils)
            visits.append(Visit(arrive_s, depart_s, stop_id=place, board=on, alight=off))
        else:
            depart_s = arrive_s + SCHOOL_DWELL_S
            on, off = ((), riders) if direction is Direction.TO_SCHOOL else (riders, ())
            visits.append(Visit(arrive_s, depart_s, school_id=place, board=on, alight=off))
    return Trip(
        id=trip_id,
        vehicle_id=vehicle_id,
        vehicle_type=vtype.id,
        school_id=school_id,
        shift=shift,
        direction=direction,
        visits=tuple(visits),
        distance_m=sum(s.distance_m for s in steps),
        duration_s=visits[-1].depart_s - visits[0].arrive_s,
        steps=steps,
    )


TRIPS = tuple(_build_trip(spec) for spec in TRIP_SPECS)
DEADHEAD_M = {"V1": 4200.0, "V2": 3600.0, "V3": 3800.0}
ESCORT = {"V1": True, "V2": False, "V3": True}


def _vehicle_day(vehicle_id: str, vtype: VehicleType) -> VehicleDay:
    trips = [t for t in TRIPS if t.vehicle_id == vehicle_id]
    cost = vtype.day_rate + (ESCORT_DAY_RATE if ESCORT[vehicle_id] else 0.0)
    return VehicleDay(
        id=vehicle_id,
        vehicle_type=vtype.id,
        seats=vtype.seats,
        wheelchair_places=vtype.wheelchair_places,
        escort=ESCORT[vehicle_id],
        trip_ids=tuple(t.id for t in trips),
        depot_id="D1",
        deadhead_m=DEADHEAD_M[vehicle_id],
        distance_m=sum(t.distance_m for t in trips) + DEADHEAD_M[vehicle_id],
        cost_per_day=cost,
    )


VEHICLES = (
    _vehicle_day("V1", MIDIBUS),
    _vehicle_day("V2", WHEELCHAIR_MINIBUS),
    _vehicle_day("V3", MIDIBUS),
)


def _assignment(student: Student) -> Assignment:
    stop = next((s for s in STOPS if student.id in s.student_ids), None)
    if stop is None:
        return Assignment(
            student.id, student.school_id, student.shift, Status.UNSERVED, reason=UNSERVED_REASON
        )
    to_trip = next(
        t
        for t in TRIPS
        if t.direction is Direction.TO_SCHOOL and any(v.stop_id == stop.id for v in t.visits)
    )
    home_trip = next(
        t
        for t in TRIPS
        if t.direction is Direction.FROM_SCHOOL and any(v.stop_id == stop.id for v in t.visits)
    )
    pickup_s = next(v.depart_s for v in to_trip.visits if v.stop_id == stop.id)
    dropoff_s = next(v.arrive_s for v in home_trip.visits if v.stop_id == stop.id)
    return Assignment(
        student_id=student.id,
        school_id=student.school_id,
        shift=student.shift,
        status=Status.ROUTED,
        stop_id=stop.id,
        walk_m=WALK_M[student.id],
        pickup_s=pickup_s,
        dropoff_s=dropoff_s,
        ride_to_school_s=to_trip.visits[-1].arrive_s - pickup_s,
        ride_home_s=dropoff_s - home_trip.visits[0].depart_s,
    )


ASSIGNMENTS = tuple(_assignment(s) for s in STUDENTS)


def make_plan() -> Plan:
    """The fixed small plan described in this module's docstring."""
    scenario = Scenario(
        name="Keçiören deneme",
        students=STUDENTS,
        schools=SCHOOLS,
        fleet=Fleet(vehicle_types=(MIDIBUS, WHEELCHAIR_MINIBUS), depots=DEPOTS),
        policy=Policy(walk_limit_m=1000.0, escort_max_grade=4),
        prices=Prices(
            escort_day_rate=ESCORT_DAY_RATE,
            school_days_per_year=SCHOOL_DAYS_PER_YEAR,
            currency="TRY",
        ),
    )
    routed = [a for a in ASSIGNMENTS if a.status is Status.ROUTED]
    rides = sorted(r for a in routed for r in (a.ride_to_school_s, a.ride_home_s))
    walks = [a.walk_m for a in routed]
    cost_per_day = sum(v.cost_per_day for v in VEHICLES)
    cost_per_year = cost_per_day * SCHOOL_DAYS_PER_YEAR
    summary = Summary(
        n_vehicles=len(VEHICLES),
        n_trips=len(TRIPS),
        n_students=len(STUDENTS),
        n_routed=len(routed),
        n_unserved=len(STUDENTS) - len(routed),
        distance_m=sum(v.distance_m for v in VEHICLES),
        deadhead_m=sum(v.deadhead_m for v in VEHICLES),
        cost_per_day=cost_per_day,
        cost_per_year=cost_per_year,
        cost_per_student_per_day=cost_per_day / len(routed),
        cost_per_student_per_year=cost_per_year / len(routed),
        max_ride_s=rides[-1],
        mean_ride_s=sum(rides) / len(rides),
        p95_ride_s=float(rides[math.ceil(0.95 * len(rides)) - 1]),
        mean_walk_m=sum(walks) / len(walks),
        max_walk_m=max(walks),
    )
    costs = tuple(
        CostLine(
            "school", school.id, n, cost_per_day * n / len(routed), cost_per_year * n / len(routed)
        )
        for school in SCHOOLS
        for n in [sum(1 for a in routed if a.school_id == school.id)]
    )
    return Plan(
        scenario=scenario,
        stops=STOPS,
        assignments=ASSIGNMENTS,
        trips=TRIPS,
        vehicles=VEHICLES,
        summary=summary,
        costs=costs,
        network_name="Keçiören hand-made grid",
        seed=0,
    )


def lone_pupil_copies(plan: Plan, n: int) -> tuple[tuple[Student, ...], tuple[Assignment, ...]]:
    """``n`` copies of ``plan``'s pupils without a family (new ids ``<id>-<k>``, each a family of
    their own) and their assignments, for plans of many families."""
    lone = [(s, a) for s, a in zip(plan.scenario.students, plan.assignments) if s.family_id is None]
    students, assignments = [], []
    for k in range(n):
        student, assignment = lone[k % len(lone)]
        students.append(dataclasses.replace(student, id=f"{student.id}-{k}"))
        assignments.append(dataclasses.replace(assignment, student_id=f"{student.id}-{k}"))
    return tuple(students), tuple(assignments)
