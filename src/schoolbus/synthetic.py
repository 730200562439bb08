"""Realistic test districts: schools from OpenStreetMap tags and students generated on streets.

Programme officers use this to try policies before real registers arrive, and ``schoolbus demo``
uses it to build its Helsinki case. Everything is deterministic for a given seed.

Grades come from what a school's tags say it is (OSM ``amenity=kindergarten``, ``isced:level``,
or words in its name such as *ilkokul*, *ortaokul*, *lise*, *ala-aste*, *yläaste*, *lukio*).
Shifts follow Turkish practice: the first primary school runs double shift (sabahçı 07:20–12:00,
öğlenci 12:30–17:30); the others run one full-day shift, their bells staggered by
``BELL_STAGGER_S`` so that a vehicle can serve more than one school.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schoolbus.errors import InputError, Problem
from schoolbus.model import PRESCHOOL_GRADE, Location, School, Shift, Student

MORNING_SHIFT = Shift("sabah", bell_s=7 * 3600 + 20 * 60, dismissal_s=12 * 3600)
AFTERNOON_SHIFT = Shift("ogle", bell_s=12 * 3600 + 30 * 60, dismissal_s=17 * 3600 + 30 * 60)
FULL_DAY_FIRST_BELL_S = 8 * 3600
FULL_DAY_LENGTH_S = 7 * 3600
BELL_STAGGER_S = 40 * 60
"""Bells of full-day schools are this far apart, so one vehicle can reach a second school."""

GRADES_BY_LEVEL = {
    "preschool": (PRESCHOOL_GRADE, PRESCHOOL_GRADE),
    "primary": (1, 4),
    "middle": (5, 8),
    "high": (9, 12),
    "mixed": (1, 8),
}
NAME_LEVEL_WORDS = (
    ("preschool", ("anaokul", "kindergarten", "päiväkoti", "roudat")),
    ("primary", ("ilkokul", "ala-aste", "alakoulu", "primary", "elementary")),
    ("middle", ("ortaokul", "yläaste", "yläkoulu", "middle", "secondary")),
    ("high", ("lise", "lukio", "high school", "gymnasium")),
)
RESIDENTIAL_CLASSES = ("residential", "living_street", "unclassified", "tertiary")
HOUSE_SETBACK_M = (8.0, 25.0)
"""A generated home stands this far (uniform range) from its street's centreline."""

LANGUAGE_SHARES = (("tr", 0.55), ("ar", 0.40), ("en", 0.05))
"""Family languages in the demo: host community, Syrian families, others."""

SIBLING_HOME_SHARE = 0.25
"""Share of homes with more than one pupil who may need transport."""
SIBLINGS_PER_HOME = (2, 3)
"""How many pupils such a home has (uniform over this inclusive range)."""
FAMILY_ID_FORMAT = "FAM{:04d}"
"""Family ids of sibling homes, numbered by home from 1; an only child has ``family_id=None``."""
SCHOOL_CHOICE_RADIUS_M = 5_000.0
"""A generated pupil attends a school within this straight-line distance of home whenever there is
one, and the nearest school otherwise. Pupils are enrolled by address (adrese dayalı kayıt), so a
district's children go to school in their own part of it; an extract smaller than this (the demo's
Helsinki is under 2 km across) is not affected."""

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class OsmSchool:
    """A school found in an OSM file, before shifts are assigned."""

    id: str
    name: str
    location: Location
    level: str


def level_from_tags(amenity: str | None, isced: str | None, name: str) -> str:
    """Which school level OSM tags describe: preschool, primary, middle, high or mixed."""
    if amenity == "kindergarten":
        return "preschool"
    if isced:
        levels = {part.strip() for part in str(isced).replace(",", ";").split(";")}
        if levels <= {"0"}:
            return "preschool"
        if levels <= {"1"}:
            return "primary"
        if levels <= {"2"}:
            return "middle"
        if levels <= {"3"}:
            return "high"
    # Turkish dotted capital İ casefolds to "i" plus a combining dot (U+0307): drop the dot so
    # "İlkokulu" matches "ilkokul".
    lowered = name.casefold().replace("\u0307", "")
    for level, words in NAME_LEVEL_WORDS:
        if any(word in lowered for word in words):
            return level
    return "mixed"


SCHOOL_TAGS = {"amenity": ["school", "kindergarten"]}


def schools_from_features(features, source: str) -> tuple[OsmSchool, ...]:
    """Schools from a GeoDataFrame of OSM features tagged ``amenity=school|kindergarten``.

    Locations are representative points of the mapped area (or the node), ``(lon, lat)``.

    Raises
    ------
    InputError
        When there is no school or kindergarten at all.
    """
    if features is None or len(features) == 0:
        raise InputError([Problem(source, None, "amenity", "none", "at least one amenity=school or kindergarten")])
    schools = []
    for index, row in features.reset_index().iterrows():
        osm_id = row.get("id", row.get("osmid", index))
        amenity = row.get("amenity")
        name = row.get("name")
        name = name if isinstance(name, str) and name else f"{amenity} {osm_id}"
        isced = row.get("isced:level")
        level = level_from_tags(amenity, isced if isinstance(isced, str) else None, name)
        point = row.geometry.representative_point()
        schools.append(OsmSchool(f"osm{osm_id}", name, (round(point.x, 7), round(point.y, 7)), level))
    return tuple(sorted(schools, key=lambda s: s.id))


def read_osm_schools(osm_path: str | Path) -> tuple[OsmSchool, ...]:
    """Schools and kindergartens in an OSM file (``.osm.pbf`` via pyrosm, ``.osm``/``.osm.bz2`` via osmnx)."""
    path = Path(osm_path)
    if path.name.endswith(".pbf"):
        import pyrosm

        features = pyrosm.OSM(str(path)).get_pois(custom_filter=SCHOOL_TAGS)
    else:
        import osmnx as ox
        from osmnx._errors import InsufficientResponseError

        try:
            features = ox.features_from_xml(path, tags=SCHOOL_TAGS)
        except InsufficientResponseError:  # osmnx's word for "no school in this file"
            features = None
    return schools_from_features(features, str(path))


def fetch_osm_schools(*, place: str | None = None, bbox: tuple[float, float, float, float] | None = None):
    """Schools and kindergartens downloaded through osmnx for a place name or ``(W, S, E, N)`` box."""
    import osmnx as ox

    if place is not None:
        return schools_from_features(ox.features_from_place(place, tags=SCHOOL_TAGS), place)
    return schools_from_features(ox.features_from_bbox(bbox, tags=SCHOOL_TAGS), f"bbox {bbox}")


def assign_shifts(osm_schools: Sequence[OsmSchool]) -> tuple[School, ...]:
    """Give each school its shifts (see the module docstring for the rule)."""
    schools = []
    double_shift_done = False
    n_full_day = 0
    for s in osm_schools:
        if s.level == "primary" and not double_shift_done:
            shifts: tuple[Shift, ...] = (MORNING_SHIFT, AFTERNOON_SHIFT)
            double_shift_done = True
        else:
            bell = FULL_DAY_FIRST_BELL_S + n_full_day * BELL_STAGGER_S
            shifts = (Shift("tam", bell_s=bell, dismissal_s=bell + FULL_DAY_LENGTH_S),)
            n_full_day += 1
        schools.append(School(s.id, s.name, s.location, shifts))
    return tuple(schools)


def _offset(location: Location, east_m: float, north_m: float) -> Location:
    lon, lat = location
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return (round(lon + dlon, 7), round(lat + dlat, 7))


def _local_m(a: Location, b: Location) -> tuple[float, float]:
    """East and north offsets in metres from ``a`` to ``b`` (equirectangular, fine below ~50 km)."""
    lat0 = math.radians((a[1] + b[1]) / 2)
    east = math.radians(b[0] - a[0]) * EARTH_RADIUS_M * math.cos(lat0)
    north = math.radians(b[1] - a[1]) * EARTH_RADIUS_M
    return east, north


def _street_segments(graph) -> list[tuple[Location, Location, float]]:
    """Straight pieces of residential streets as (start, end, length_m), in a stable order."""
    segments = []
    seen = set()
    for u, v, data in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1])):
        highway = data.get("highway", "")
        highway = highway[0] if isinstance(highway, list) else highway
        if highway not in RESIDENTIAL_CLASSES or (v, u) in seen:
            continue
        seen.add((u, v))
        geometry = data.get("geometry")
        if geometry is not None:
            coords = [(float(x), float(y)) for x, y in geometry.coords]
        else:
            coords = [(graph.nodes[u]["x"], graph.nodes[u]["y"]), (graph.nodes[v]["x"], graph.nodes[v]["y"])]
        for a, b in zip(coords, coords[1:]):
            east, north = _local_m(a, b)
            length = math.hypot(east, north)
            if length > 1.0:
                segments.append((a, b, length))
    return segments


def school_choice_weights(distances_m: np.ndarray) -> np.ndarray:
    """Relative chances of a home's pupil attending each school, from straight-line distances.

    ``1 / (d + 300 m)`` for the schools within ``SCHOOL_CHOICE_RADIUS_M``, zero beyond; when no
    school is that near, the nearest (the first of equally near ones) alone.
    """
    weights = np.where(distances_m <= SCHOOL_CHOICE_RADIUS_M, 1.0 / (distances_m + 300.0), 0.0)
    if not weights.any():
        weights[int(np.argmin(distances_m))] = 1.0
    return weights


def generate_students(
    drive_graph,
    schools: Sequence[School],
    n_students: int,
    *,
    seed: int = 0,
    wheelchair_share: float = 0.03,
    grades_by_school: dict[str, tuple[int, int]] | None = None,
) -> tuple[Student, ...]:
    """Generate ``n_students`` pupils living on residential streets around ``schools``.

    Pupils live in homes. Homes are drawn uniformly along residential street length (so dense
    streets get more children) and set back ``HOUSE_SETBACK_M`` from the centreline; each home has
    a family language from ``LANGUAGE_SHARES``. A share ``SIBLING_HOME_SHARE`` of homes has 2 or 3
    siblings (``SIBLINGS_PER_HOME``; the last home is cut short when ``n_students`` is reached), who
    share the home's location, language, surname initial and a ``family_id`` (``FAM0001``, numbered
    by home); a pupil alone in their home has ``family_id=None``. Each pupil then attends a school
    drawn by :func:`school_choice_weights` (within ``SCHOOL_CHOICE_RADIUS_M`` of home, nearer
    schools likelier), one of its shifts at random and a grade in its range, and needs a wheelchair
    place with probability ``wheelchair_share``: siblings may go to different schools and shifts.

    Parameters
    ----------
    drive_graph : networkx.MultiDiGraph
        Roads with node ``x``/``y`` (lon/lat) and edge ``highway`` (and optional ``geometry``).
    schools : sequence of School
    n_students : int
    seed : int
        Same seed, same students (and families).
    grades_by_school : dict, optional
        ``school_id -> (lowest grade, highest grade)``; ``1..8`` for schools not listed.

    Raises
    ------
    InputError
        When the graph has no residential street or ``schools`` is empty.
    """
    segments = _street_segments(drive_graph)
    problems = []
    if not segments:
        problems.append(Problem("road network", None, "highway", "none", f"streets of class {RESIDENTIAL_CLASSES}"))
    if not schools:
        problems.append(Problem("schools", None, None, 0, "at least one school"))
    if problems:
        raise InputError(problems)
    grades_by_school = grades_by_school or {}
    rng = np.random.default_rng(seed)
    cumulative_m = np.cumsum([s[2] for s in segments])
    languages = [lang for lang, _ in LANGUAGE_SHARES]
    language_p = np.array([share for _, share in LANGUAGE_SHARES])
    letters = "ABCDEFGHIJKLMNOPRSTUVYZÇĞİÖŞÜ"
    students: list[Student] = []
    n_homes = 0
    while len(students) < n_students:
        n_homes += 1
        # A point uniform along street length: the segment holding it, then where on it.
        along_m = rng.uniform() * cumulative_m[-1]
        seg_index = min(int(np.searchsorted(cumulative_m, along_m, side="right")), len(segments) - 1)
        a, b, length = segments[seg_index]
        t = rng.uniform()
        on_street = (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
        east, north = _local_m(a, b)
        side = 1.0 if rng.uniform() < 0.5 else -1.0
        setback = rng.uniform(*HOUSE_SETBACK_M) * side
        home = _offset(on_street, -north / length * setback, east / length * setback)
        language = str(rng.choice(languages, p=language_p))
        surname = letters[int(rng.integers(len(letters)))]
        has_siblings = bool(rng.uniform() < SIBLING_HOME_SHARE)
        n_children = int(rng.integers(SIBLINGS_PER_HOME[0], SIBLINGS_PER_HOME[1] + 1)) if has_siblings else 1
        n_children = min(n_children, n_students - len(students))
        family_id = FAMILY_ID_FORMAT.format(n_homes) if n_children > 1 else None
        distances = np.array([math.hypot(*_local_m(home, s.location)) for s in schools])
        weights = school_choice_weights(distances)
        for _ in range(n_children):
            school = schools[int(rng.choice(len(schools), p=weights / weights.sum()))]
            shift = school.shifts[int(rng.integers(len(school.shifts)))]
            low, high = grades_by_school.get(school.id, GRADES_BY_LEVEL["mixed"])
            grade = int(rng.integers(low, high + 1))
            initials = letters[int(rng.integers(len(letters)))] + "." + surname + "."
            students.append(
                Student(
                    id=f"STU{len(students) + 1:04d}",
                    location=home,
                    school_id=school.id,
                    shift=shift.name,
                    grade=grade,
                    needs_wheelchair=bool(rng.uniform() < wheelchair_share),
                    language=language,
                    initials=initials,
                    family_id=family_id,
                )
            )
    return tuple(students)


def district_from_osm(osm_schools: Sequence[OsmSchool], drive_graph, n_students: int, *, seed: int = 0):
    """``osm_schools`` with shifts assigned, and ``n_students`` generated around them.

    Returns ``(schools, students)``.
    """
    schools = assign_shifts(osm_schools)
    grades = {s.id: GRADES_BY_LEVEL[s.level] for s in osm_schools}
    students = generate_students(drive_graph, schools, n_students, seed=seed, grades_by_school=grades)
    return schools, students


PUPILS_PER_SCHOOL = 170
"""Pupils per school in a generated district of any size (a Turkish district's average is close)."""
SITE_LEVELS = ("primary", "middle", "primary", "high")
"""Levels of generated school sites, in turn: primary schools are the commonest."""
FULL_DAY_BELLS = 3
"""Full-day schools of a generated district ring at one of this many bells, 40 minutes apart."""


def school_sites(
    osm_schools: Sequence[OsmSchool], drive_graph, n_schools: int, *, seed: int = 0
) -> tuple[OsmSchool, ...]:
    """``n_schools`` schools: the extract's own (in its order), then sites on residential streets.

    Where an extract has too few schools for the pupils asked for, schools are sited at points drawn
    along residential street length (``GEN001``, ``GEN002``…, levels in turn from ``SITE_LEVELS``),
    so a district of any size can be generated on any extract. Same seed, same sites.
    """
    sites = list(osm_schools[:n_schools])
    segments = _street_segments(drive_graph)
    if len(sites) < n_schools and not segments:
        raise InputError(
            [Problem("road network", None, "highway", "none", "residential streets to place schools on")]
        )
    rng = np.random.default_rng(seed)
    lengths = np.array([length for _, _, length in segments])
    picks = rng.choice(len(segments), size=max(0, n_schools - len(sites)), p=lengths / lengths.sum()) if segments else []
    for k, segment in enumerate(picks, start=1):
        a, b, _ = segments[int(segment)]
        t = float(rng.uniform(0.2, 0.8))
        location = (round(a[0] + t * (b[0] - a[0]), 7), round(a[1] + t * (b[1] - a[1]), 7))
        sites.append(OsmSchool(f"GEN{k:03d}", f"{k}. Okul (generated site)", location, SITE_LEVELS[k % len(SITE_LEVELS)]))
    return tuple(sites)


def shifts_for_district(sites: Sequence[OsmSchool]) -> tuple[School, ...]:
    """Shifts of a generated district: every other school double-shift (07:20–12:00, 12:30–17:30),
    as many Turkish primary and middle schools are; the others full day at one of ``FULL_DAY_BELLS``
    bells 40 minutes apart, so vehicles can chain schools."""
    schools = []
    for k, site in enumerate(sites):
        if k % 2 == 0:
            shifts: tuple[Shift, ...] = (MORNING_SHIFT, AFTERNOON_SHIFT)
        else:
            bell = FULL_DAY_FIRST_BELL_S + (k // 2) % FULL_DAY_BELLS * BELL_STAGGER_S
            shifts = (Shift("tam", bell_s=bell, dismissal_s=bell + FULL_DAY_LENGTH_S),)
        schools.append(School(site.id, site.name, site.location, shifts))
    return tuple(schools)


def district_scenario(
    osm_schools: Sequence[OsmSchool],
    drive_graph,
    n_students: int,
    *,
    n_schools: int | None = None,
    seed: int = 0,
    name: str = "district",
):
    """A generated district of any size: about ``PUPILS_PER_SCHOOL`` pupils a school.

    Schools from :func:`school_sites`, shifts from :func:`shifts_for_district`, pupils from
    :func:`generate_students` (grades by level, families, 3 % wheelchair users), the example fleet
    and the demo's policy, a depot at the schools' centre. Used by the scale benchmark.
    """
    from schoolbus.ingest import DEFAULT_FLEET, DEFAULT_PRICES
    from schoolbus.model import Depot, Fleet, Scenario

    n_schools = n_schools or max(1, round(n_students / PUPILS_PER_SCHOOL))
    sites = school_sites(osm_schools, drive_graph, n_schools, seed=seed)
    schools = shifts_for_district(sites)
    grades = {s.id: GRADES_BY_LEVEL[s.level] for s in sites}
    students = generate_students(drive_graph, schools, n_students, seed=seed, grades_by_school=grades)
    lons = [s.location[0] for s in schools]
    lats = [s.location[1] for s in schools]
    depot = Depot("DEPOT", "Garaj", (round(sum(lons) / len(lons), 7), round(sum(lats) / len(lats), 7)))
    fleet = Fleet(DEFAULT_FLEET.vehicle_types, depots=(depot,))
    return Scenario(name, students, schools, fleet, demo_policy(), DEFAULT_PRICES)


DEMO_N_STUDENTS = 300
DEMO_POLICY_NOTE = (
    "The demo extract is about 1 x 1.7 km, so Turkey's 2-30 km eligibility band would exclude every "
    "pupil; the demo policy sets no minimum home-school distance and short walk limits instead."
)


def demo_policy():
    """The demo's policy: short walks for young pupils, 30-minute rides, escorts up to grade 4."""
    from schoolbus.model import GradeWalkLimit, Policy

    return Policy(
        walk_limit_m=500.0,
        grade_walk_limits=(GradeWalkLimit(max_grade=4, walk_limit_m=300.0),),
        max_ride_s=30 * 60,
        arrival_buffer_s=5 * 60,
        min_home_school_m=0.0,
    )


def demo_scenario(osm_schools: Sequence[OsmSchool], drive_graph, *, n_students: int = DEMO_N_STUDENTS, seed: int = 0):
    """The demo district: OSM schools, generated pupils, the example fleet and the demo policy."""
    from schoolbus.ingest import DEFAULT_FLEET, DEFAULT_PRICES
    from schoolbus.model import Depot, Fleet, Scenario

    schools, students = district_from_osm(osm_schools, drive_graph, n_students, seed=seed)
    lons = [s.location[0] for s in schools]
    lats = [s.location[1] for s in schools]
    # The depot stands beside the schools' centre: contractors park near the schools they serve.
    depot = Depot("DEPOT", "Garaj", (round(sum(lons) / len(lons), 7), round(sum(lats) / len(lats), 7)))
    fleet = Fleet(DEFAULT_FLEET.vehicle_types, depots=(depot,))
    return Scenario("demo", students, schools, fleet, demo_policy(), DEFAULT_PRICES)


def demo_variants(base):
    """The demo's scenario comparison: the base policy against 800 m walks for every pupil."""
    from dataclasses import replace

    longer_walks = replace(base.policy, walk_limit_m=800.0, grade_walk_limits=())
    return (replace(base, name="base"), replace(base, name="walk-800", policy=longer_walks))
