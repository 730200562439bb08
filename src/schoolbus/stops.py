"""Bus stops: where each pupil boards, chosen per school and shift so few stops leave short walks.

The method, in the order :func:`select_stops` applies it:

1. **Screening.** Every home's nearest walk-graph node (snapped once, before this stage, by
   :func:`schoolbus.locations.locate`) is where its walks start. A pupil is unserved,
   with the first reason that applies, when the home is farther than ``policy.snap_limit_m`` from
   that node; when the home-school distance is outside ``[policy.min_home_school_m,
   policy.max_home_school_m]``; or when the pupil uses a wheelchair and no vehicle type has a
   wheelchair place. A home geocoded coarser than ``policy.min_location_precision`` (a mahalle
   centre, say) is refused before all of these ("location not precise enough").
2. **Door-to-door pupils** (``needs_door_to_door``, or ``needs_wheelchair`` when
   ``policy.wheelchair_door_to_door``) get a stop at the ``loaded``-graph node nearest their home
   (unserved if that is farther than ``policy.snap_limit_m``); pupils of one school and shift whose
   homes share that node share the stop.
3. **Candidates.** Every other pupil may use any ``loaded``-graph node within their grade's walk
   limit (``policy.walk_limit_for_grade_m``) along the walk graph; a pupil with none is unserved,
   and the reason gives the walk to the nearest ``loaded`` node. When a drivable road that the
   network cut off (not connected to its largest strongly connected component: the edge of an
   extract or a gap in the map) is within the pupil's walk limit and nearer, the reason says that
   instead (``ReasonCode.ROAD_NOT_CONNECTED``): the map needs fixing, not the policy.
4. **Choice.** Per school and shift, a capacitated facility-location MILP (HiGHS through
   :func:`scipy.optimize.milp`) opens stops and assigns each pupil to one, minimising
   ``STOP_PENALTY_M`` per stop plus the pupils' walking metres. Pupils who share no candidate are
   solved apart; a set too large for one quick MILP is halved by position, the halves solved, and
   the whole re-solved over the stops they opened.

Distances
---------
* A pupil's walk (``walk_m``, and the quantity held to the walk limit) is the straight line from the
  home to its snapped walk-graph node plus the shortest walk-graph path from there to the stop.
  For door-to-door pupils it is the straight line from the home to the stop's node.
* The home-school distance is measured **on foot along the walk graph**, door to door (home snap +
  path + school snap): the rules it serves (no bus for pupils living close enough to walk; bused
  education covers 2-30 km in Türkiye) are about how far a child would otherwise walk. Where the
  walk graph does not connect home and school, the great-circle distance stands in; it is never
  longer than any path, so it is only used to declare a home too far, never too close.

Capacity
--------
A stop's pupils must fit one vehicle: at most the largest vehicle's seats and, if wheelchair users
board there, a vehicle type that also has enough wheelchair places. Wheelchair users count toward
both seats and wheelchair places, so the stop fits whichever way the router counts them. A place
with more pupils than one vehicle holds gets two or more stops at the same node.

Determinism
-----------
Inputs are ordered by node and student order before modelling, and each MILP is capped by
``MILP_NODE_LIMIT`` branch-and-bound nodes, so the same inputs give the same stops. The wall-clock
cap ``SolverParams.stop_time_limit_s`` is a safety net only; if it ever cuts a solve short, the
better of the solver's incumbent and the nearest-stop plan is kept.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import osmnx as ox
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

from schoolbus.executor import Executor, SerialExecutor
from schoolbus.locations import locate
from schoolbus.matrix import walk_distances
from schoolbus.model import Fleet, Located, Policy, Reason, ReasonCode, Scenario, Stop, Student
from schoolbus.network import RoadNetwork, nearest_cut_road_m, snap_points
from schoolbus.params import SolverParams
from schoolbus.stopnames import name_stops

STOP_PENALTY_M = 600.0
"""Cost of opening one stop, in metres of pupils' walking (summed over pupils).

One more stop costs every pupil already aboard its dwell: the default 30 s of service plus about
15 s to brake and pull out. With some 15 pupils aboard on average (half a 30-seat minibus) that is
about 675 pupil-seconds, what 600 m of walking costs at a child's pace of roughly 1 m/s. So the
model opens another stop only when it spares the pupils more than 600 m of walking in total: it
merges two stops if 10 pupils then walk 50 m farther (500 m), but not if 20 walk 40 m farther.
"""

logger = logging.getLogger(__name__)

MILP_NODE_LIMIT = 20_000
"""Branch-and-bound nodes per MILP: a deterministic budget (the time limit is not)."""

MATRIX_CHUNK_CELLS = 2_000_000
"""Walk-distance matrix cells computed at once (16 MB of float64): bounds memory at any scale."""

MAX_MILP_PAIRS = 20_000
"""Pupil-candidate pairs per MILP. HiGHS solves 20,000-27,000 pairs (300 pupils on a 100 m street
grid; 100 pupils in central Helsinki) in one to two seconds, but time grows faster than size
(44,000 pairs on the grid ran past 10 s), so larger sets of pupils are halved by position and
solved part by part."""

MAX_POLISH_PAIRS = 3 * MAX_MILP_PAIRS
"""Pairs allowed in the MILP that re-solves split parts over the candidates they opened; with only
opened stops as candidates its LP is nearly integral, so it stays fast at this size."""

METRES_PER_DEGREE = 111_195.0
"""Metres per degree of latitude (mean Earth radius), for the rough planar split only."""


@dataclass(frozen=True)
class StopSelection:
    """Stops for every school and shift, and what became of each student.

    Every student of the scenario is a key of exactly one of ``walk_m`` and ``unserved``, and every
    key of ``walk_m`` is in exactly one stop's ``student_ids``.

    Attributes
    ----------
    stops : tuple of Stop
        Ordered by school, shift and id; ids read ``<school>-<shift>-S001`` (shared stops) and
        ``<school>-<shift>-D001`` (door-to-door stops).
    walk_m : dict of str to float
        Walk from home to the assigned stop, metres (see the module docstring), per student id.
    unserved : dict of str to Reason
        Why a student has no stop, per student id.
    """

    stops: tuple[Stop, ...]
    walk_m: dict[str, float]
    unserved: dict[str, Reason]


@dataclass(frozen=True)
class _Fit:
    """A vehicle shape a stop's pupils must fit: seats and wheelchair places (Pareto-optimal)."""

    seats: int
    wheelchair_places: int


@dataclass(frozen=True)
class _Candidates:
    """Stops a pupil may walk to: indices into the sorted ``loaded`` node array, and walks, m."""

    node_index: np.ndarray
    walk_m: np.ndarray


def imprecise_location_reason(student: Student, policy: Policy) -> Reason | None:
    """The reason a pupil whose home is known only roughly is not planned, or ``None``.

    A geocoded home coarser than ``policy.min_location_precision`` (a mahalle or ilçe centre) is
    never planned as if it were the home: the pupil is unserved until a person places it.
    """
    precision = student.location_precision
    if precision is None or policy.is_location_precise_enough(precision):
        return None
    return Reason.make(
        ReasonCode.LOCATION_IMPRECISE,
        precision=precision,
        needed=policy.min_location_precision,
    )


def select_stops(
    scenario: Scenario,
    network: RoadNetwork,
    params: SolverParams,
    *,
    located: Located | None = None,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StopSelection:
    """Choose bus stops for every school and shift and assign each student to one or say why not.

    Parameters
    ----------
    scenario : Scenario
        Students, schools, fleet (for stop capacity) and policy (walk, snap and distance limits).
    network : RoadNetwork
        ``walk`` carries pupils to stops; stops are nodes of ``loaded``.
    params : SolverParams
        ``stop_time_limit_s`` caps each stop MILP, seconds.
    located : Located, optional
        The scenario's homes and schools on ``network`` (:func:`schoolbus.locations.locate`, which
        the pipeline calls once per plan); located here when not given.
    executor : Executor, optional
        Where the stop MILPs (one per school and shift) run; by default in this process. Any
        executor gives the same stops.
    progress : callable, optional
        ``progress(done, total)`` in schools and shifts.

    Returns
    -------
    StopSelection
        The stops, each served student's walk in metres, and each unserved student's reason.
    """
    policy = scenario.policy
    students = scenario.students
    fits = _vehicle_fits(scenario.fleet)
    if not fits:
        return StopSelection((), {}, {s.id: Reason.make(ReasonCode.NO_VEHICLE) for s in students})
    if not students:
        return StopSelection((), {}, {})

    if located is None:
        located = locate(scenario, network)
    unserved: dict[str, Reason] = {}
    home_nodes = np.array([located.homes_walk[s.id].node_id for s in students], dtype=np.int64)
    home_snap_m = np.array([located.homes_walk[s.id].snap_m for s in students], dtype=float)
    for s, snap_m in zip(students, home_snap_m):
        if snap_m > policy.snap_limit_m:
            unserved[s.id] = Reason.make(
                ReasonCode.FAR_FROM_ROAD, snap_m=round(float(snap_m), 1), limit_m=policy.snap_limit_m
            )
    for s in students:
        reason = imprecise_location_reason(s, policy)
        if reason is not None:
            unserved[s.id] = reason
    _screen_home_school_distance(scenario, network, located, home_nodes, home_snap_m, unserved)
    if not any(f.wheelchair_places for f in fits):
        for s in students:
            if s.needs_wheelchair and s.id not in unserved:
                unserved[s.id] = Reason.make(ReasonCode.NO_WHEELCHAIR_PLACE)

    walk_m: dict[str, float] = {}
    stops: list[Stop] = []
    waiting = [i for i, s in enumerate(students) if s.id not in unserved]
    door = [i for i in waiting if _is_door_to_door(students[i], policy)]
    shared = [i for i in waiting if not _is_door_to_door(students[i], policy)]
    stops += _door_to_door_stops(scenario, network, located, door, fits, walk_m, unserved)
    loaded_nodes = np.array(sorted(network.loaded.nodes), dtype=np.int64)
    candidates = _candidate_stops(
        students, shared, home_nodes, home_snap_m, policy, network, loaded_nodes, unserved
    )
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in shared:
        if i in candidates:
            groups[(students[i].school_id, students[i].shift)].append(i)
    ordered = sorted(groups.items())
    chosen_by_group = (executor or SerialExecutor()).map(
        _choose_group_task,
        [(members, {i: candidates[i] for i in members}, {i: students[i] for i in members}) for _, members in ordered],
        (fits, params.stop_time_limit_s),
        progress=progress,
    )
    for ((school_id, shift), _members), chosen in zip(ordered, chosen_by_group):
        for k, (node_index, riders) in enumerate(chosen, start=1):
            node_id = int(loaded_nodes[node_index])
            stops.append(
                make_stop(network, f"{school_id}-{shift}-S{k:03d}", node_id, school_id, shift,
                           tuple(students[i].id for i in riders), is_door_to_door=False)
            )
            for i in riders:
                walk_m[students[i].id] = float(_walk_to(candidates[i], node_index))

    _explain_cut_roads(scenario, network, located, unserved)
    stops.sort(key=lambda st: (st.school_id, st.shift, st.id))
    places = [(school.name, school.location) for school in scenario.schools] + list(network.places)
    return StopSelection(name_stops(stops, network, places), walk_m, unserved)


# --------------------------------------------------------------------------------------------------
# Screening
# --------------------------------------------------------------------------------------------------


def homes_outside_network(scenario: Scenario, network: RoadNetwork) -> list[tuple[str, float]]:
    """Pupils whose home lies outside the road network's area, with the distance to its nearest road.

    Outside means beyond the bounding box of the walk graph (every road and path read) widened by
    ``policy.snap_limit_m``: such a home would be unserved, and is worth reporting before planning
    (a wrong extract, or a wrong coordinate). Distances are great-circle metres to the nearest
    walk-graph node. In the scenario's order.
    """
    return homes_outside_area(scenario.students, network, scenario.policy.snap_limit_m)


def homes_outside_area(students: Sequence[Student], network: RoadNetwork, margin_m: float) -> list[tuple[str, float]]:
    """:func:`homes_outside_network` for ``students`` alone, with the margin ``margin_m`` (metres).

    The one implementation behind ``check-inputs`` and the service's student uploads.
    """
    if not students or network.walk.number_of_nodes() == 0:
        return []
    xy = np.array([(d["x"], d["y"]) for _, d in network.walk.nodes(data=True)], dtype=float)
    (west, south), (east, north) = xy.min(axis=0), xy.max(axis=0)
    margin_lat = margin_m / M_PER_DEG_LAT
    margin_lon = margin_m / (M_PER_DEG_LAT * max(0.01, math.cos(math.radians((south + north) / 2))))
    outside = [
        s
        for s in students
        if not (west - margin_lon <= s.location[0] <= east + margin_lon
                and south - margin_lat <= s.location[1] <= north + margin_lat)
    ]
    if not outside:
        return []
    snapped = snap_points(network.walk, [s.location for s in outside])
    return [(s.id, float(m)) for s, m in zip(outside, snapped.snap_m)]


M_PER_DEG_LAT = 111_195.0
"""Metres per degree of latitude on the mean Earth (for a margin around a bounding box)."""


NO_ROAD_CODES = {
    ReasonCode.FAR_FROM_ROAD: "snap_m",
    ReasonCode.DOOR_FAR_FROM_ROAD: "snap_m",
    ReasonCode.NO_STOP_WITHIN_WALK: "nearest_m",
    ReasonCode.NO_ROAD_ON_FOOT: "",
}
"""Reasons that say no usable road is near, with the parameter holding how far the nearest one is."""


def _explain_cut_roads(
    scenario: Scenario, network: RoadNetwork, located: Located, unserved: dict[str, Reason]
) -> None:
    """Say so when a home without a usable road is next to a drivable road the network cut off.

    A road cut with the largest strongly connected component (at the edge of an extract, or
    behind a gap in the map) is within the pupil's walk limit and nearer than the road the first
    reason measured and than every connected road in a straight line: the real cause is the
    map, not the distance, and the reason becomes ``ROAD_NOT_CONNECTED``.
    """
    policy = scenario.policy
    pupils = [s for s in scenario.students if s.id in unserved and unserved[s.id].code in NO_ROAD_CODES]
    if not pupils:
        return
    locations = [s.location for s in pupils]
    cut_m = nearest_cut_road_m(network, locations)
    connected = [located.homes_loaded[s.id].snap_m for s in pupils]
    for s, road_m, snap_m in zip(pupils, cut_m, connected):
        reason = unserved[s.id]
        name = NO_ROAD_CODES[reason.code]
        nearest = float(reason.param(name)) if name else math.inf
        # The cut road must be nearer than any connected road, by the walk measured and in a
        # straight line: a connected road just across a fence is a walking problem, not the map's.
        if road_m <= policy.walk_limit_for_grade_m(s.grade) and road_m < min(nearest, snap_m):
            unserved[s.id] = Reason.make(
                ReasonCode.ROAD_NOT_CONNECTED, road_m=round(float(road_m), 1), snap_m=round(float(snap_m), 1)
            )


def _is_door_to_door(student: Student, policy: Policy) -> bool:
    wheelchair_at_door = student.needs_wheelchair and policy.wheelchair_door_to_door
    return student.needs_door_to_door or wheelchair_at_door


def _vehicle_fits(fleet: Fleet) -> list[_Fit]:
    """The Pareto-optimal (seats, wheelchair places) shapes of the fleet, most seats first.

    Wheelchair places are capped at seats because wheelchair users are counted in both.
    """
    shapes = sorted(
        {(v.seats, min(v.wheelchair_places, v.seats)) for v in fleet.vehicle_types if v.seats > 0},
        reverse=True,
    )
    fits: list[_Fit] = []
    for seats, places in shapes:
        if not fits or places > fits[-1].wheelchair_places:
            fits.append(_Fit(seats, places))
    return fits


def _fits_one_vehicle(fits: Sequence[_Fit], n_pupils: int, n_wheelchairs: int) -> bool:
    return any(f.seats >= n_pupils and f.wheelchair_places >= n_wheelchairs for f in fits)


def _screen_home_school_distance(
    scenario: Scenario,
    network: RoadNetwork,
    located: Located,
    home_nodes: np.ndarray,
    home_snap_m: np.ndarray,
    unserved: dict[str, Reason],
) -> None:
    """Mark students living too close to or too far from school (walking distance, door to door)."""
    policy = scenario.policy
    min_m, max_m = policy.min_home_school_m, policy.max_home_school_m
    if min_m <= 0 and max_m is None:
        return
    by_school: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(scenario.students):
        if s.id not in unserved:
            by_school[s.school_id].append(i)
    schools = [sc for sc in scenario.schools if sc.id in by_school]
    if not schools:
        return
    for school in schools:
        school_node, school_snap_m = located.schools_walk[school.id].node_id, located.schools_walk[school.id].snap_m
        members = np.array(by_school[school.id])
        targets, target_of = np.unique(home_nodes[members], return_inverse=True)
        path_m = walk_distances(network.walk, [int(school_node)], targets.tolist())[0]
        door_m = path_m[target_of] + home_snap_m[members] + school_snap_m
        for i, dist_m in zip(members, door_m):
            s = scenario.students[i]
            if np.isfinite(dist_m):
                if dist_m < min_m:
                    unserved[s.id] = Reason.make(
                        ReasonCode.TOO_CLOSE_TO_SCHOOL, distance_m=round(float(dist_m), 1), limit_m=min_m
                    )
                elif max_m is not None and dist_m > max_m:
                    unserved[s.id] = Reason.make(
                        ReasonCode.TOO_FAR_FROM_SCHOOL, distance_m=round(float(dist_m), 1), limit_m=max_m
                    )
            elif max_m is not None:
                (lon, lat), (school_lon, school_lat) = s.location, school.location
                line_m = float(ox.distance.great_circle(lat, lon, school_lat, school_lon))
                if line_m > max_m:
                    unserved[s.id] = Reason.make(
                        ReasonCode.TOO_FAR_FROM_SCHOOL_STRAIGHT, distance_m=round(line_m, 1), limit_m=max_m
                    )


# --------------------------------------------------------------------------------------------------
# Door-to-door stops
# --------------------------------------------------------------------------------------------------


def _door_to_door_stops(
    scenario: Scenario,
    network: RoadNetwork,
    located: Located,
    door: list[int],
    fits: list[_Fit],
    walk_m: dict[str, float],
    unserved: dict[str, Reason],
) -> list[Stop]:
    """A stop at the ``loaded`` node nearest each door-to-door pupil's home (shared by siblings)."""
    if not door:
        return []
    policy = scenario.policy
    students = scenario.students
    at_node: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for i in door:
        s = students[i]
        node, snap_m = located.homes_loaded[s.id].node_id, located.homes_loaded[s.id].snap_m
        if snap_m > policy.snap_limit_m:
            unserved[s.id] = Reason.make(
                ReasonCode.DOOR_FAR_FROM_ROAD, snap_m=round(float(snap_m), 1), limit_m=policy.snap_limit_m
            )
        else:
            at_node[(s.school_id, s.shift, int(node))].append(i)
            walk_m[s.id] = float(snap_m)
    stops: list[Stop] = []
    numbers: Counter[tuple[str, str]] = Counter()
    for (school_id, shift, node_id), members in sorted(at_node.items()):
        is_wheelchair = [students[i].needs_wheelchair for i in members]
        for riders in _pack_in_order(members, is_wheelchair, fits):
            numbers[(school_id, shift)] += 1
            stop_id = f"{school_id}-{shift}-D{numbers[(school_id, shift)]:03d}"
            stops.append(
                make_stop(network, stop_id, node_id, school_id, shift,
                           tuple(students[i].id for i in riders), is_door_to_door=True)
            )
    return stops


# --------------------------------------------------------------------------------------------------
# Candidate stops
# --------------------------------------------------------------------------------------------------


def _candidate_stops(
    students: Sequence[Student],
    shared: list[int],
    home_nodes: np.ndarray,
    home_snap_m: np.ndarray,
    policy: Policy,
    network: RoadNetwork,
    loaded_nodes: np.ndarray,
    unserved: dict[str, Reason],
) -> dict[int, _Candidates]:
    """Loaded-graph nodes each pupil may walk to; pupils with none become unserved.

    Candidates farther than the pupil's nearest candidate plus ``STOP_PENALTY_M`` are dropped: no
    optimal plan uses them, since opening a stop at the nearest candidate for that pupil alone
    would cost less than the walk it saves (and one pupil always fits a vehicle).
    """
    if not shared:
        return {}
    limit_m = {i: policy.walk_limit_for_grade_m(students[i].grade) for i in shared}
    by_node: dict[int, list[int]] = defaultdict(list)
    for i in shared:
        by_node[int(home_nodes[i])].append(i)
    sources = sorted(by_node)
    candidates: dict[int, _Candidates] = {}
    stranded: list[int] = []
    for rows, path_m in _walk_rows(network, sources, loaded_nodes, max(limit_m.values())):
        for row, node in zip(path_m, rows):
            for i in by_node[node]:
                walk = row + home_snap_m[i]
                (within,) = np.nonzero(walk <= limit_m[i])
                if within.size == 0:
                    stranded.append(i)
                    continue
                walk = walk[within]
                keep = walk <= walk.min() + STOP_PENALTY_M
                candidates[i] = _Candidates(within[keep], walk[keep])
    if stranded:
        stranded_nodes = sorted({int(home_nodes[i]) for i in stranded})
        nearest_m: dict[int, float] = {}
        for rows, path_m in _walk_rows(network, stranded_nodes, loaded_nodes, None):
            nearest_m.update(zip(rows, path_m.min(axis=1)))
        for i in stranded:
            nearest = nearest_m[int(home_nodes[i])] + home_snap_m[i]
            unserved[students[i].id] = (
                Reason.make(
                    ReasonCode.NO_STOP_WITHIN_WALK,
                    limit_m=float(limit_m[i]),
                    nearest_m=round(float(nearest), 1),
                )
                if np.isfinite(nearest)
                else Reason.make(ReasonCode.NO_ROAD_ON_FOOT, limit_m=float(limit_m[i]))
            )
    return candidates


def _walk_rows(
    network: RoadNetwork, sources: list[int], targets: np.ndarray, limit_m: float | None
) -> Iterator[tuple[list[int], np.ndarray]]:
    """Walk distances from ``sources`` to ``targets`` in chunks of ``MATRIX_CHUNK_CELLS`` cells."""
    n_rows = max(1, MATRIX_CHUNK_CELLS // max(1, len(targets)))
    target_list = targets.tolist()
    for start in range(0, len(sources), n_rows):
        rows = sources[start : start + n_rows]
        yield rows, walk_distances(network.walk, rows, target_list, limit_m=limit_m)


def _walk_to(candidates: _Candidates, node_index: int) -> float:
    return float(candidates.walk_m[np.searchsorted(candidates.node_index, node_index)])


# --------------------------------------------------------------------------------------------------
# Choosing stops: capacitated facility location per school and shift
# --------------------------------------------------------------------------------------------------

_Plan = list[tuple[int, list[int]]]
"""Stops as ``(candidate, riders)``; a candidate holding several stops appears once per stop."""


@dataclass(frozen=True)
class _Pairs:
    """Which candidates each pupil may walk to, and how far.

    Pair ``e`` lets pupil ``pupil[e]`` use candidate ``cand[e]``, ``walk_m[e]`` metres away; pupils
    and candidates are indices into one school and shift's lists.
    """

    pupil: np.ndarray
    cand: np.ndarray
    walk_m: np.ndarray

    def subset(self, keep: np.ndarray) -> _Pairs:
        return _Pairs(self.pupil[keep], self.cand[keep], self.walk_m[keep])

    def cost(self, plan: _Plan) -> float:
        """The objective: ``STOP_PENALTY_M`` per stop plus every rider's walk, metres."""
        walk_of: dict[tuple[int, int], float] = dict(
            zip(zip(self.pupil.tolist(), self.cand.tolist()), self.walk_m.tolist())
        )
        walked_m = sum(walk_of[(i, j)] for j, riders in plan for i in riders)
        return STOP_PENALTY_M * len(plan) + walked_m


def _choose_group_task(
    shared: tuple[list[_Fit], float],
    group: tuple[list[int], dict[int, _Candidates], dict[int, Student]],
) -> list[tuple[int, list[int]]]:
    """:func:`_choose_group_stops` for one school and shift, as an executor task."""
    fits, time_limit_s = shared
    members, candidates, students = group
    return _choose_group_stops(members, candidates, students, fits, time_limit_s)


def _choose_group_stops(
    members: list[int],
    candidates: dict[int, _Candidates],
    students: Sequence[Student] | dict[int, Student],
    fits: list[_Fit],
    time_limit_s: float,
) -> list[tuple[int, list[int]]]:
    """Open stops for one school and shift; returns ``(loaded node index, riders)`` per stop.

    Pupils who share no candidate, directly or through others, form independent sub-problems.
    """
    n_pairs = [candidates[i].node_index.size for i in members]
    pupil = np.repeat(np.arange(len(members)), n_pairs)
    node = np.concatenate([candidates[i].node_index for i in members])
    cand_nodes, cand = np.unique(node, return_inverse=True)
    pairs = _Pairs(pupil, cand, np.concatenate([candidates[i].walk_m for i in members]))
    is_wheelchair = np.array([students[i].needs_wheelchair for i in members])
    xy_m = np.array([_plane_m(students[i].location) for i in members])
    n_pupils = len(members)
    bipartite = sp.coo_array(
        (np.ones(pupil.size), (pupil, n_pupils + cand)), shape=(n_pupils + cand_nodes.size,) * 2
    )
    _, label = connected_components(bipartite, directed=False)
    by_component = np.argsort(label[pupil], kind="stable")
    _, starts = np.unique(label[pupil][by_component], return_index=True)
    chosen: list[tuple[int, list[int]]] = []
    for part in np.split(by_component, starts[1:]):
        for c, riders in _solve_pupils(pairs.subset(part), is_wheelchair, xy_m, fits, time_limit_s):
            chosen.append((int(cand_nodes[c]), [members[r] for r in riders]))
    chosen.sort()
    return chosen


def _plane_m(location: tuple[float, float]) -> tuple[float, float]:
    """Rough planar metres (equirectangular), only to split pupils into halves by position."""
    lon, lat = location
    return lon * METRES_PER_DEGREE * np.cos(np.radians(lat)), lat * METRES_PER_DEGREE


def _solve_pupils(
    pairs: _Pairs,
    is_wheelchair: np.ndarray,
    xy_m: np.ndarray,
    fits: list[_Fit],
    time_limit_s: float,
) -> _Plan:
    """Stops for one connected set of pupils.

    A set with more than ``MAX_MILP_PAIRS`` pupil-candidate pairs is halved by position until each
    part is small enough; after the parts are solved, one more MILP over the candidates they opened
    lets pupils near the cuts share stops across them.
    """
    pupils = np.unique(pairs.pupil)
    if pupils.size == 1:  # a pupil alone: the nearest candidate is optimal
        return _nearest_stops(pairs, is_wheelchair, fits)
    parts = _split_pupils(pupils, pairs, xy_m)
    if len(parts) == 1:
        return _solve_facility_location(pairs, is_wheelchair, fits, time_limit_s)
    plan: _Plan = []
    for part in parts:
        plan += _solve_facility_location(
            pairs.subset(np.isin(pairs.pupil, part)), is_wheelchair, fits, time_limit_s
        )
    opened = pairs.subset(np.isin(pairs.cand, [j for j, _ in plan]))
    if opened.pupil.size <= MAX_POLISH_PAIRS:
        polished = _solve_facility_location(opened, is_wheelchair, fits, time_limit_s)
        if pairs.cost(polished) < pairs.cost(plan):
            plan = polished
    return plan


def _split_pupils(pupils: np.ndarray, pairs: _Pairs, xy_m: np.ndarray) -> list[np.ndarray]:
    """Halve ``pupils`` at the median of their wider coordinate until each part is small enough."""
    n_pairs = np.bincount(pairs.pupil, minlength=len(xy_m))
    if n_pairs[pupils].sum() <= MAX_MILP_PAIRS or pupils.size < 2:
        return [pupils]
    points = xy_m[pupils]
    axis = int(np.argmax(np.ptp(points, axis=0)))
    order = np.lexsort((pupils, points[:, axis]))
    half = pupils.size // 2
    return _split_pupils(pupils[order[:half]], pairs, xy_m) + _split_pupils(
        pupils[order[half:]], pairs, xy_m
    )


def _solve_facility_location(
    pairs: _Pairs, is_wheelchair: np.ndarray, fits: list[_Fit], time_limit_s: float
) -> _Plan:
    """Capacitated facility location by MILP: which candidates open, how many stops, who goes where.

    Variables: ``x[e]`` (binary) sends pupil ``pupil[e]`` to candidate ``cand[e]``; ``y[j, t]``
    (integer) counts stops at candidate ``j`` sized for vehicle shape ``t``. Shapes other than the
    largest are only offered where wheelchair users may board::

        minimise    STOP_PENALTY_M * sum y + sum walk_m[e] * x[e]
        subject to  sum_j x[i, j] = 1                                   one stop per pupil
                    x[i, j] <= sum_t y[j, t]                            only open stops
                    sum_i x[i, j] <= sum_t seats[t] * y[j, t]           seats
                    sum_wheelchair x[i, j] <= sum_t places[t] * y[j, t] wheelchair places

    The link ``x <= y`` is redundant given the capacity rows but makes the LP relaxation tight
    (almost always integral), which is what lets HiGHS finish in seconds. When HiGHS returns no
    solution, or a worse one than every pupil at the nearest candidate, the latter is used.
    """
    pupils, e_pupil = np.unique(pairs.pupil, return_inverse=True)
    cands, e_cand = np.unique(pairs.cand, return_inverse=True)
    n_pupils, n_cand, n_x = pupils.size, cands.size, pairs.pupil.size
    seats_of = np.array([f.seats for f in fits])
    places_of = np.array([f.wheelchair_places for f in fits])
    wheelchair_pair = is_wheelchair[pairs.pupil]
    has_wheelchair = np.zeros(n_cand, dtype=bool)
    has_wheelchair[e_cand[wheelchair_pair]] = True

    n_shapes = np.where(has_wheelchair, len(fits), 1)
    y_first = np.cumsum(n_shapes) - n_shapes
    y_cand = np.repeat(np.arange(n_cand), n_shapes)
    y_shape = np.arange(y_cand.size) - y_first[y_cand]
    n_y = y_cand.size
    y_col = n_x + np.arange(n_y)
    y_seats, y_places = seats_of[y_shape], places_of[y_shape]

    # Link rows, one per pair: +1 on x[e], -1 on every y column of the pair's candidate.
    n_link = n_shapes[e_cand]
    link_row = np.repeat(np.arange(n_x), n_link)
    link_y = np.repeat(y_first[e_cand], n_link) + (
        np.arange(link_row.size) - np.repeat(np.cumsum(n_link) - n_link, n_link)
    )
    wheelchair_cand = np.flatnonzero(has_wheelchair)
    place_row = np.full(n_cand, -1)
    place_row[wheelchair_cand] = np.arange(wheelchair_cand.size)
    y_wheelchair = has_wheelchair[y_cand]

    r_link = n_pupils
    r_seats = r_link + n_x
    r_places = r_seats + n_cand
    n_rows = r_places + wheelchair_cand.size
    x_col = np.arange(n_x)
    entries = [  # (rows, columns, values) of each block of the constraint matrix
        (e_pupil, x_col, 1.0),
        (r_link + x_col, x_col, 1.0),
        (r_link + link_row, n_x + link_y, -1.0),
        (r_seats + e_cand, x_col, 1.0),
        (r_seats + y_cand, y_col, -y_seats),
        (r_places + place_row[e_cand[wheelchair_pair]], x_col[wheelchair_pair], 1.0),
        (r_places + place_row[y_cand[y_wheelchair]], y_col[y_wheelchair], -y_places[y_wheelchair]),
    ]
    rows = np.concatenate([r for r, _, _ in entries])
    cols = np.concatenate([c for _, c, _ in entries])
    vals = np.concatenate([np.broadcast_to(np.asarray(v, float), r.shape) for r, _, v in entries])
    lower = np.full(n_rows, -np.inf)
    upper = np.zeros(n_rows)
    lower[:n_pupils] = upper[:n_pupils] = 1.0
    n_reach = np.bincount(e_cand, minlength=n_cand)
    result = milp(
        np.concatenate([pairs.walk_m, np.full(n_y, STOP_PENALTY_M)]),
        integrality=np.ones(n_x + n_y),
        bounds=Bounds(0, np.concatenate([np.ones(n_x), np.ceil(n_reach[y_cand] / y_seats)])),
        constraints=LinearConstraint(sp.csr_array((vals, (rows, cols)), shape=(n_rows, n_x + n_y)),
                                     lower, upper),
        options={"time_limit": time_limit_s, "node_limit": MILP_NODE_LIMIT},
    )
    if "time limit" in result.message.lower():
        logger.warning(
            "a stop MILP (%d pupils) reached its %g s wall-clock guard before its node limit; the stops "
            "may differ on a faster or less busy machine (raise SolverParams.stop_time_limit_s)",
            n_pupils,
            time_limit_s,
        )
    fallback = _nearest_stops(pairs, is_wheelchair, fits)
    if result.x is None:
        return fallback
    x = result.x[:n_x] > 0.5
    y = np.rint(result.x[n_x:]).astype(int)
    plan: _Plan = []
    for j in np.unique(e_cand[x]):
        riders = sorted(pupils[e_pupil[x & (e_cand == j)]].tolist())
        mine = np.flatnonzero(y_cand == j)
        slots = [fits[y_shape[k]] for k in mine for _ in range(y[k])]
        wheelchair = is_wheelchair[riders].tolist()
        plan += [(int(cands[j]), group) for group in _pack_balanced(riders, wheelchair, slots)]
    return fallback if pairs.cost(fallback) < pairs.cost(plan) else plan


def _nearest_stops(pairs: _Pairs, is_wheelchair: np.ndarray, fits: list[_Fit]) -> _Plan:
    """The fallback plan: every pupil at their nearest candidate, split where a vehicle is full."""
    order = np.lexsort((pairs.cand, pairs.walk_m, pairs.pupil))
    first = np.ones(order.size, dtype=bool)
    first[1:] = pairs.pupil[order][1:] != pairs.pupil[order][:-1]
    riders_at: dict[int, list[int]] = defaultdict(list)
    for e in order[first]:
        riders_at[int(pairs.cand[e])].append(int(pairs.pupil[e]))
    plan: _Plan = []
    for j, riders in sorted(riders_at.items()):
        plan += [(j, g) for g in _pack_in_order(riders, is_wheelchair[riders].tolist(), fits)]
    return plan


def _pack_in_order(riders: list[int], wheelchair: list[bool], fits: list[_Fit]) -> list[list[int]]:
    """Fill stops one after another, opening the next when no vehicle could take one more pupil.

    ``wheelchair[k]`` says whether ``riders[k]`` uses a wheelchair.
    """
    groups: list[list[int]] = [[]]
    n_wheelchairs = 0
    for rider, is_wheelchair in zip(riders, wheelchair):
        if not _fits_one_vehicle(fits, len(groups[-1]) + 1, n_wheelchairs + is_wheelchair):
            groups.append([])
            n_wheelchairs = 0
        groups[-1].append(rider)
        n_wheelchairs += is_wheelchair
    return groups


def _pack_balanced(riders: list[int], wheelchair: list[bool], slots: list[_Fit]) -> list[list[int]]:
    """Share ``riders`` evenly among ``slots`` (one stop each) within each slot's vehicle shape.

    Always succeeds when the riders fit the slots' total seats and wheelchair places (the MILP's
    constraints): wheelchair users go first to slots with places left, then the others to the
    emptiest slot with a seat left. Empty slots are dropped.
    """
    groups: list[list[int]] = [[] for _ in slots]
    n_wheelchairs = [0] * len(slots)
    for needs_place in (True, False):
        for rider in (r for r, w in zip(riders, wheelchair) if w == needs_place):
            open_slots = [
                k
                for k, f in enumerate(slots)
                if len(groups[k]) < f.seats
                and (not needs_place or n_wheelchairs[k] < f.wheelchair_places)
            ]
            k = min(open_slots, key=lambda k: (len(groups[k]), k))
            groups[k].append(rider)
            n_wheelchairs[k] += needs_place
    return [sorted(g) for g in groups if g]


def make_stop(
    network: RoadNetwork,
    stop_id: str,
    node_id: int,
    school_id: str,
    shift: str,
    student_ids: tuple[str, ...],
    *,
    is_door_to_door: bool,
) -> Stop:
    """A ``Stop`` at a ``loaded`` node (named later, by :func:`schoolbus.stopnames.name_stops`)."""
    data = network.loaded.nodes[node_id]
    return Stop(
        id=stop_id,
        location=(float(data["x"]), float(data["y"])),
        node_id=node_id,
        school_id=school_id,
        shift=shift,
        student_ids=student_ids,
        is_door_to_door=is_door_to_door,
    )
