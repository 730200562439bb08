"""Chain trips onto vehicles: fewest vehicles first, then least empty driving.

Routing builds trips school by school; this module decides which vehicle drives which trips in a
day. It knows nothing about roads or solvers beyond a deadhead matrix between *places* (integer
indices into that matrix: schools, stops, depots, whatever the caller numbers), so the real
pipeline and the Park benchmark runner use the same code.

The chaining rule
-----------------
A vehicle may drive trip ``j`` after trip ``i`` exactly when it can reach ``j``'s first place in
time::

    end_s[i] + deadhead_s[end_place[i], start_place[j]] <= start_s[j]

and both trips need the same vehicle class (the pipeline chooses a class per trip, e.g. a
wheelchair-accessible minibus; a chain never mixes classes, because its vehicle is one vehicle).
Every trip takes time (``end_s > start_s``) and deadheads are non-negative, so the "may follow"
relation is a DAG and a chain is a path in it.

Fewest vehicles is a minimum path cover of that DAG, i.e. ``n_trips`` minus a maximum matching
in the bipartite graph (trip as predecessor, trip as successor) -- the classical result of Dantzig
and Fulkerson (1954) used for vehicle scheduling ever since. Among all minimum covers
:func:`chain_trips` returns one with least deadhead distance (a min-cost maximum matching), counting
the pull-out from and pull-in to the depot when a depot is given.

:func:`choose_route_sets` goes one step earlier: routing may offer several alternative route sets
per group (school, shift, direction) -- e.g. built under different caps on route duration, since
fewest routes is not fewest vehicles: shorter routes start later and free their vehicle sooner,
so they chain better. It chooses one set per group with a MILP (HiGHS through
``scipy.optimize.milp``) that minimises vehicles after chaining, as Bertsimas, Delarue and Martin
(PNAS 2019, "BiRD") select routing scenarios, then breaks ties by trip plus deadhead distance.
:func:`choose_trips` lifts the one-set-per-group restriction: any candidate trips whose
``covers`` partition the stops (set partitioning with the same chaining flow).

Both MILPs are exact about chaining, because trips that end at the same place and time are
interchangeable predecessors (a school at its bell) and trips with the same possible
predecessors are interchangeable successors: the flow runs between such classes, a
transportation problem whose optimum is integral for any fixed choice.

Determinism
-----------
Each MILP phase stops on a branch-and-bound node limit, a budget that does not depend on the machine
(HiGHS is deterministic), so the same inputs give the same choice. The limit is
``SolverParams.chain_effort_s`` estimated seconds at ``NODE_S_PER_VARIABLE`` per node and variable:
a node costs about the same per variable whatever the model's size, so one effort fits small and
large choices alike. ``chain_time_limit_s`` is a guard only: when it cuts a phase short the choice
says so (``stopped_on_time``), because what HiGHS had found by then depends on the machine's speed.
The flow variables are declared integer too (for a fixed choice they are integral anyway): the
objective, vehicles, is then an integer, which HiGHS uses to prune every node whose bound does not
promise a whole vehicle less -- on the Park benchmark's largest instances this proved optimality at
the root where continuous flows left HiGHS searching for minutes.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from schoolbus.params import SolverParams

MILP_OPTIMAL = 0
"""``scipy.optimize.milp`` status: solved to optimality."""

MIN_MILP_S = 0.1
"""Least time limit handed to HiGHS, seconds (it needs a moment to read the model)."""

NODE_S_PER_VARIABLE = 2e-5
"""Estimated seconds of one branch-and-bound node per MILP variable: the node limit's yardstick.
Measured on this machine (2 cores) on the Park benchmark's choices: 1.2e-5 at 1,400 variables,
1.3e-5 at 5,700 and 1.6e-5 to 2.4e-5 at 16,800 (aside from the root node, which no node limit
bounds)."""

EFFORT_SHARE = 0.5
"""The share of ``chain_time_limit_s`` that nodes may take when ``chain_effort_s`` is not given; the
rest is room for the root node and a slower machine."""

TIME_LIMIT_WORDS = "Time limit"
"""How ``scipy.optimize.milp``'s message starts when HiGHS stopped on its time limit."""


@dataclass(frozen=True)
class ChainTrip:
    """A trip as the chainer sees it: where and when it starts and ends, nothing in between.

    Attributes
    ----------
    id : str
        Unique among the trips chained together.
    start_place, end_place : int
        Indices into the deadhead matrices of the trip's first and last place.
    start_s : float
        Seconds after midnight when the vehicle must be at ``start_place`` (e.g. the first
        pickup of a morning trip).
    end_s : float
        Seconds after midnight when the vehicle is free at ``end_place`` (e.g. after drop-off at
        the school); ``end_s > start_s``.
    vehicle_class : str
        Only trips of the same class share a vehicle.
    group : Hashable
        What the trip belongs to, e.g. ``(school_id, shift, direction)``; informational for
        chaining, the key of the alternatives in :func:`choose_route_sets`.
    distance_m : float
        Distance the trip itself drives, metres (a tie-break in :func:`choose_route_sets`).
    covers : frozenset
        The items the trip serves (e.g. stop ids); only :func:`choose_trips` reads it.
    """

    id: str
    start_place: int
    end_place: int
    start_s: float
    end_s: float
    vehicle_class: str
    group: Hashable = None
    distance_m: float = 0.0
    covers: frozenset = frozenset()

    def __post_init__(self) -> None:
        # Positive duration makes "may follow" acyclic; a zero-length trip is a caller's bug.
        if not self.end_s > self.start_s:
            raise ValueError(
                f"trip {self.id}: end_s {self.end_s} must exceed start_s {self.start_s}"
            )


@dataclass(frozen=True)
class Chain:
    """One vehicle's trips in driving order.

    ``deadhead_m`` is the empty driving between its trips, plus the pull-out from and the pull-in
    to the depot when chaining was given one (metres; 0 without a distance matrix).
    """

    vehicle_class: str
    trip_ids: tuple[str, ...]
    deadhead_m: float


# --------------------------------------------------------------------------------------------------
# Chaining
# --------------------------------------------------------------------------------------------------


def _may_follow(
    ends: Sequence[ChainTrip], starts: Sequence[ChainTrip], deadhead_s: np.ndarray
) -> np.ndarray:
    """Boolean matrix ``[i, j]``: trip ``starts[j]`` may follow ``ends[i]`` on one vehicle."""
    end_s = np.array([t.end_s for t in ends], dtype=float)
    end_place = np.array([t.end_place for t in ends], dtype=np.int64)
    start_s = np.array([t.start_s for t in starts], dtype=float)
    start_place = np.array([t.start_place for t in starts], dtype=np.int64)
    reach_s = end_s[:, None] + deadhead_s[end_place[:, None], start_place[None, :]]
    same_class = (
        np.array([t.vehicle_class for t in ends], dtype=object)[:, None]
        == np.array([t.vehicle_class for t in starts], dtype=object)[None, :]
    )
    return (reach_s <= start_s[None, :]) & same_class


def _edge_costs_m(
    trips: Sequence[ChainTrip],
    rows: np.ndarray,
    cols: np.ndarray,
    deadhead_m: np.ndarray | None,
    depot_place: int | None,
) -> np.ndarray:
    """Distance change when ``trips[cols]`` follows ``trips[rows]`` instead of the depot run.

    Joining two trips replaces a pull-in and a pull-out by one deadhead, so with a depot the cost
    of an edge is ``deadhead - pull_in(i) - pull_out(j)`` (possibly negative).
    """
    if deadhead_m is None:
        return np.zeros(len(rows))
    end_place = np.array([t.end_place for t in trips], dtype=np.int64)
    start_place = np.array([t.start_place for t in trips], dtype=np.int64)
    cost = deadhead_m[end_place[rows], start_place[cols]].astype(float)
    if depot_place is not None:
        cost = (
            cost
            - deadhead_m[end_place[rows], depot_place]
            - deadhead_m[depot_place, start_place[cols]]
        )
    return cost


def _chain_one_class(
    trips: list[ChainTrip],
    deadhead_s: np.ndarray,
    deadhead_m: np.ndarray | None,
    depot_place: int | None,
) -> list[Chain]:
    """Minimum path cover of one vehicle class's trips, least deadhead among minimum covers."""
    n = len(trips)
    rows, cols = np.nonzero(_may_follow(trips, trips, deadhead_s))
    successor = np.full(n, -1, dtype=np.int64)
    if len(rows):
        cost = _edge_costs_m(trips, rows, cols, deadhead_m, depot_place)
        # Shift edge weights to >= 1 (LAPJVsp needs non-zero weights) and price "no successor"
        # above any total of edge weights, so every extra matched edge (one vehicle fewer) beats
        # any saving in distance: a lexicographic objective in one assignment problem.
        weight = cost - cost.min() + 1.0
        unmatched = float(n) * float(weight.max()) + 1.0
        dummy = np.arange(n)
        biadjacency = sparse.csr_array(
            (
                np.concatenate([weight, np.full(n, unmatched)]),
                (np.concatenate([rows, dummy]), np.concatenate([cols, n + dummy])),
            ),
            shape=(n, 2 * n),
        )
        row_ind, col_ind = min_weight_full_bipartite_matching(biadjacency)
        real = col_ind < n
        successor[row_ind[real]] = col_ind[real]
    has_predecessor = np.zeros(n, dtype=bool)
    has_predecessor[successor[successor >= 0]] = True
    chains = []
    for head in np.flatnonzero(~has_predecessor):
        members = [int(head)]
        while successor[members[-1]] >= 0:
            members.append(int(successor[members[-1]]))
        chains.append(
            Chain(
                vehicle_class=trips[head].vehicle_class,
                trip_ids=tuple(trips[k].id for k in members),
                deadhead_m=_chain_deadhead_m([trips[k] for k in members], deadhead_m, depot_place),
            )
        )
    return chains


def _chain_deadhead_m(
    members: list[ChainTrip], deadhead_m: np.ndarray | None, depot_place: int | None
) -> float:
    """Empty driving of one chain in metres, depot runs included when there is a depot."""
    if deadhead_m is None:
        return 0.0
    total = sum(
        float(deadhead_m[a.end_place, b.start_place]) for a, b in itertools.pairwise(members)
    )
    if depot_place is not None:
        total += float(deadhead_m[depot_place, members[0].start_place])
        total += float(deadhead_m[members[-1].end_place, depot_place])
    return total


def chain_trips(
    trips: Sequence[ChainTrip],
    deadhead_s: np.ndarray,
    deadhead_m: np.ndarray | None = None,
    depot_place: int | None = None,
) -> tuple[Chain, ...]:
    """Chain trips onto the fewest vehicles, then with the least deadhead distance.

    Parameters
    ----------
    trips : sequence of ChainTrip
        Trips with unique ids; any vehicle classes (a chain only joins trips of one class).
    deadhead_s : ndarray of float, shape (n_places, n_places)
        Empty-vehicle drive time between places, seconds (``inf``: unreachable).
    deadhead_m : ndarray of float, shape (n_places, n_places), optional
        Empty-vehicle drive distance between places, metres; without it ties between minimum
        covers are broken arbitrarily (but deterministically).
    depot_place : int, optional
        Place index of the depot; its pull-out and pull-in distances count towards the
        deadhead (they never constrain time: a vehicle may leave the depot at any hour).

    Returns
    -------
    tuple of Chain
        Every trip in exactly one chain; the number of chains is the minimum number of vehicles
        (exact: minimum path cover by bipartite matching). Chains are ordered by their first
        trip's ``start_s``; trips within a chain in driving order.

    Raises
    ------
    ValueError
        If two trips share an id.
    """
    ids = [t.id for t in trips]
    if len(set(ids)) != len(ids):
        raise ValueError("trip ids must be unique")
    deadhead_s = np.asarray(deadhead_s, dtype=float)
    if deadhead_m is not None:
        deadhead_m = np.asarray(deadhead_m, dtype=float)
    # A fixed order (time, then id) makes the matching, hence the result, independent of the
    # order the caller happened to list the trips in.
    ordered = sorted(trips, key=lambda t: (t.vehicle_class, t.start_s, t.end_s, t.id))
    chains: list[Chain] = []
    for vehicle_class in sorted({t.vehicle_class for t in ordered}):
        members = [t for t in ordered if t.vehicle_class == vehicle_class]
        chains.extend(_chain_one_class(members, deadhead_s, deadhead_m, depot_place))
    by_id = {t.id: t for t in trips}
    chains.sort(key=lambda c: (by_id[c.trip_ids[0]].start_s, c.trip_ids[0]))
    return tuple(chains)


def count_vehicles(trips: Sequence[ChainTrip], deadhead_s: np.ndarray) -> int:
    """The minimum number of vehicles for ``trips``: :func:`chain_trips` without distances.

    It uses the same sparse assignment (LAPJVsp) rather than scipy's Hopcroft-Karp
    ``maximum_bipartite_matching``, which took 3 to 60 s on 800 school routes whose "may follow"
    graph LAPJVsp matches in 0.02 s.
    """
    return len(chain_trips(trips, deadhead_s))


# --------------------------------------------------------------------------------------------------
# Choosing trips: one route set per group, or any trips that cover every item once
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Selection:
    """A choice among candidate trips, as the MILP sees it.

    The binary variables are *options*, each a bundle of trips (a whole route set, or one trip);
    every partition row (a group, or an item to cover) must hold exactly one chosen option.
    Trips ending at the same place and time in the same class are interchangeable as predecessors
    ("end classes", e.g. a school at its bell), and trips with the same possible predecessors are
    interchangeable as successors ("start classes"): the chaining flow runs between these classes,
    which is exact (a transportation problem) and far smaller than trip-to-trip.
    """

    trips: list[ChainTrip]
    trip_option: np.ndarray  # (n_trips,) the option each trip belongs to
    n_options: int
    rows: list[list[int]]  # options per partition row
    end_keys: list[tuple[int, float, str]]
    trip_end: np.ndarray  # (n_trips,) end class of each trip
    follow: np.ndarray  # (n_end_classes, n_trips) bool: end class may precede trip

    def option_sizes(self) -> np.ndarray:
        """Trips per option."""
        return np.bincount(self.trip_option, minlength=self.n_options).astype(float)

    def counts(self, trip_class: np.ndarray, n_classes: int) -> sparse.csr_array:
        """``(n_classes, n_options)``: trips of each option in each class."""
        return sparse.csr_array(
            (np.ones(len(self.trips)), (trip_class, self.trip_option)),
            shape=(n_classes, self.n_options),
        )


def _selection(
    trips: list[ChainTrip],
    trip_option: Sequence[int],
    n_options: int,
    rows: list[list[int]],
    deadhead_s: np.ndarray,
) -> _Selection:
    end_index: dict[tuple[int, float, str], int] = {}
    trip_end = np.array(
        [
            end_index.setdefault((t.end_place, t.end_s, t.vehicle_class), len(end_index))
            for t in trips
        ],
        dtype=np.int64,
    )
    end_keys = list(end_index)
    representatives = [
        ChainTrip("end", place, place, end_s - 1.0, end_s, vc) for place, end_s, vc in end_keys
    ]
    follow = (
        _may_follow(representatives, trips, deadhead_s) if trips else np.zeros((0, 0), dtype=bool)
    )
    return _Selection(
        trips, np.asarray(trip_option, dtype=np.int64), n_options, rows, end_keys, trip_end, follow
    )


@dataclass(frozen=True)
class _Limits:
    """What stops one MILP phase: ``effort_s`` (estimated, deterministic), ``time_s`` (a guard)."""

    effort_s: float
    time_s: float

    def nodes(self, n_variables: int) -> int:
        """The node limit: as many nodes as ``effort_s`` pays for, at least the root."""
        return max(1, int(self.effort_s / (NODE_S_PER_VARIABLE * max(n_variables, 1))))


def _stopped_on_time(result) -> bool:
    return result.status != MILP_OPTIMAL and str(result.message).startswith(TIME_LIMIT_WORDS)


def _solve_selection(
    sel: _Selection,
    trip_in: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray],
    objective_option: np.ndarray,
    objective_edge: np.ndarray,
    vehicle_limit: int | None,
    limits: _Limits,
):
    """Solve the selection MILP; ``edges`` pair end classes with ``trip_in``'s start classes.

    Variables: ``x[v]`` (binary: option ``v`` chosen), then ``z[e]`` (integer: vehicles passing
    from end class to start class). For a fixed ``x`` the ``z`` problem is a transportation
    problem, hence integral, so integer ``z`` cuts off no choice; it makes the vehicle count an
    integer objective, which HiGHS exploits (see the module notes). With ``vehicle_limit``, the
    vehicles ``sum(trips chosen) - sum(z)`` may not exceed it.
    """
    edge_end, edge_in = edges
    n_opt, n_edges = sel.n_options, len(edge_end)
    n_in = int(trip_in.max(initial=-1)) + 1
    n_end = len(sel.end_keys)
    n_rows = len(sel.rows)
    link = sparse.csr_array(
        (np.ones(n_edges), (edge_in, np.arange(n_edges))), shape=(n_in, n_edges)
    )
    leave = sparse.csr_array(
        (np.ones(n_edges), (edge_end, np.arange(n_edges))), shape=(n_end, n_edges)
    )
    partition = sparse.csr_array(
        (
            np.ones(sum(len(r) for r in sel.rows)),
            (
                np.repeat(np.arange(n_rows), [len(r) for r in sel.rows]),
                np.concatenate([np.asarray(r, dtype=np.int64) for r in sel.rows])
                if n_rows
                else np.zeros(0, dtype=np.int64),
            ),
        ),
        shape=(n_rows, n_opt),
    )
    blocks = [
        # exactly one option per partition row
        (
            sparse.hstack([partition, sparse.csr_array((n_rows, n_edges))]),
            np.ones(n_rows),
            np.ones(n_rows),
        ),
        # a start class takes at most as many predecessors as chosen trips are in it
        (sparse.hstack([-sel.counts(trip_in, n_in), link]), np.full(n_in, -np.inf), np.zeros(n_in)),
        # an end class releases at most as many vehicles as chosen trips end there
        (
            sparse.hstack([-sel.counts(sel.trip_end, n_end), leave]),
            np.full(n_end, -np.inf),
            np.zeros(n_end),
        ),
    ]
    if vehicle_limit is not None:
        row = np.concatenate([sel.option_sizes(), -np.ones(n_edges)])[None, :]
        blocks.append(
            (sparse.csr_array(row), np.array([-np.inf]), np.array([float(vehicle_limit)]))
        )
    return milp(
        np.concatenate([objective_option, objective_edge]),
        integrality=np.ones(n_opt + n_edges),
        bounds=Bounds(0.0, np.concatenate([np.ones(n_opt), np.full(n_edges, np.inf)])),
        constraints=[LinearConstraint(sparse.csr_array(a), lo, hi) for a, lo, hi in blocks],
        options={
            "time_limit": max(limits.time_s, MIN_MILP_S),
            "node_limit": limits.nodes(n_opt + n_edges),
            "mip_rel_gap": 0.0,
        },
    )


def _min_vehicle_options(sel: _Selection, limits: _Limits):
    """Phase 1: options minimising vehicles; start classes bundle trips by possible predecessors."""
    start_index: dict[bytes, int] = {}
    trip_in = np.array(
        [
            start_index.setdefault(np.packbits(sel.follow[:, j]).tobytes(), len(start_index))
            for j in range(len(sel.trips))
        ],
        dtype=np.int64,
    )
    first_trip = np.zeros(len(start_index), dtype=np.int64)
    first_trip[trip_in[::-1]] = np.arange(len(sel.trips))[::-1]
    edges = (
        np.nonzero(sel.follow[:, first_trip]) if len(first_trip) else (np.zeros(0, np.int64),) * 2
    )
    return _solve_selection(
        sel, trip_in, edges, sel.option_sizes(), -np.ones(len(edges[0])), None, limits
    )


def _least_distance_options(
    sel: _Selection,
    vehicles: int,
    deadhead_m: np.ndarray | None,
    depot_place: int | None,
    limits: _Limits,
):
    """Phase 2: least trip + deadhead distance among choices with at most ``vehicles`` vehicles.

    One start class per trip here, because deadhead distance depends on the trip's first place.
    """
    edge_end, edge_trip = np.nonzero(sel.follow)
    trip_m = np.array([t.distance_m for t in sel.trips], dtype=float)
    edge_m = np.zeros(len(edge_end))
    if deadhead_m is not None:
        end_place = np.array([sel.end_keys[o][0] for o in edge_end], dtype=np.int64)
        start_place = np.array([sel.trips[j].start_place for j in edge_trip], dtype=np.int64)
        edge_m = deadhead_m[end_place, start_place]
        if depot_place is not None:
            # Every chosen trip pays a pull-out and a pull-in; each link saves one of each.
            edge_m = (
                edge_m - deadhead_m[end_place, depot_place] - deadhead_m[depot_place, start_place]
            )
            trip_m += [
                deadhead_m[depot_place, t.start_place] + deadhead_m[t.end_place, depot_place]
                for t in sel.trips
            ]
    option_m = np.bincount(sel.trip_option, weights=trip_m, minlength=sel.n_options)
    return _solve_selection(
        sel,
        np.arange(len(sel.trips)),
        (edge_end, edge_trip),
        option_m,
        edge_m,
        vehicles,
        limits,
    )


@dataclass(frozen=True)
class _Outcome:
    picked: np.ndarray | None  # chosen options, or None when the MILP found nothing in time
    is_optimal: bool
    lower_bound: int | None
    message: str
    stopped_on_time: bool = False


def _optimise(
    sel: _Selection, deadhead_m: np.ndarray | None, depot_place: int | None, params: SolverParams
) -> _Outcome:
    """Phase 1 (vehicles), then phase 2 (distance) if there are distances.

    Each phase may search the nodes ``params.chain_effort_s`` pays for (:class:`_Limits`); both
    share the guard ``params.chain_time_limit_s``.
    """
    if sel.n_options == 0:
        return _Outcome(np.zeros(0, dtype=np.int64), True, 0, "nothing to choose")
    time_limit_s = params.chain_time_limit_s
    effort_s = (
        EFFORT_SHARE * time_limit_s if params.chain_effort_s is None else params.chain_effort_s
    )
    deadline = time.monotonic() + time_limit_s
    phase1 = _min_vehicle_options(sel, _Limits(effort_s, time_limit_s))
    if phase1.x is None:
        return _Outcome(
            None,
            False,
            None,
            f"MILP found no solution in {phase1.mip_node_count} nodes or {time_limit_s:g} s "
            f"({phase1.message})",
            _stopped_on_time(phase1),
        )
    picked = np.flatnonzero(phase1.x[: sel.n_options] > 0.5)
    is_optimal = phase1.status == MILP_OPTIMAL
    bound = getattr(phase1, "mip_dual_bound", None)
    lower_bound = int(math.ceil(bound - 1e-6)) if bound is not None and np.isfinite(bound) else None
    stopped_on_time = _stopped_on_time(phase1)
    if is_optimal:
        message = "MILP optimal"
    elif stopped_on_time:
        message = f"MILP stopped on its {time_limit_s:g} s guard: {phase1.message}"
    else:
        message = f"MILP stopped at its node limit (nodes searched: {phase1.mip_node_count})"
    has_distance = deadhead_m is not None or any(t.distance_m for t in sel.trips)
    if has_distance:
        phase2 = _least_distance_options(
            sel,
            int(round(phase1.fun)),
            deadhead_m,
            depot_place,
            _Limits(effort_s, deadline - time.monotonic()),
        )
        stopped_on_time = stopped_on_time or _stopped_on_time(phase2)
        if phase2.x is not None:
            picked = np.flatnonzero(phase2.x[: sel.n_options] > 0.5)
            message += "; distance tie-break applied"
        else:
            message += f"; distance tie-break found no solution ({phase2.message})"
    return _Outcome(picked, is_optimal, lower_bound, message, stopped_on_time)


@dataclass(frozen=True)
class TripChoice:
    """The trips chosen among candidates and their chains.

    Attributes
    ----------
    trips : tuple of ChainTrip
        The chosen trips, in input order.
    chains : tuple of Chain
        The chosen trips chained by :func:`chain_trips`.
    n_vehicles : int
        ``len(chains)``.
    method : str
        ``"milp"`` when the MILP chose; otherwise what chose instead (``"greedy"``,
        ``"incumbent"``).
    is_optimal : bool
        Whether the MILP proved ``n_vehicles`` minimal over all admissible choices.
    lower_bound : int or None
        The MILP's proven lower bound on vehicles (``None`` when it gave none).
    message : str
        What happened, in plain words (for logs and reports).
    stopped_on_time : bool
        Whether the time guard (``chain_time_limit_s``) cut a MILP short: then the choice may
        differ on a faster or slower machine. Otherwise it is deterministic.
    """

    trips: tuple[ChainTrip, ...]
    chains: tuple[Chain, ...]
    n_vehicles: int
    method: str
    is_optimal: bool
    lower_bound: int | None
    message: str = ""
    stopped_on_time: bool = False


@dataclass(frozen=True)
class RouteSetChoice(TripChoice):
    """A :class:`TripChoice` of whole route sets; ``chosen`` maps group -> alternative index."""

    chosen: dict[Hashable, int] = field(default_factory=dict)


def _choice_of(
    trips: Sequence[ChainTrip],
    deadhead_s: np.ndarray,
    deadhead_m: np.ndarray | None,
    depot_place: int | None,
    method: str,
    outcome: _Outcome,
) -> TripChoice:
    chains = chain_trips(trips, deadhead_s, deadhead_m, depot_place)
    # Reaching the proven lower bound proves optimality too (HiGHS may stop on its node limit
    # with the bound a hair below the vehicles it found).
    proven = outcome.lower_bound is not None and len(chains) <= outcome.lower_bound
    return TripChoice(
        tuple(trips),
        chains,
        len(chains),
        method,
        outcome.is_optimal or proven,
        outcome.lower_bound,
        outcome.message,
        outcome.stopped_on_time,
    )


def _score(
    alt_trips: list[list[list[ChainTrip]]], deadhead_s: np.ndarray, choice: list[int]
) -> tuple[int, float]:
    """Vehicles, then trip distance, of one alternative per group."""
    trips = [t for g, k in enumerate(choice) for t in alt_trips[g][k]]
    return count_vehicles(trips, deadhead_s), sum(t.distance_m for t in trips)


def _choose_uniform(alt_trips: list[list[list[ChainTrip]]], deadhead_s: np.ndarray) -> list[int]:
    """Best choice of the form "alternative k everywhere" (groups with fewer use their last)."""
    n_options = [len(options) for options in alt_trips]
    uniform = [[min(k, n - 1) for n in n_options] for k in range(max(n_options, default=1))]
    return min(uniform, key=lambda choice: _score(alt_trips, deadhead_s, choice))


def _choose_greedy(alt_trips: list[list[list[ChainTrip]]], deadhead_s: np.ndarray) -> list[int]:
    """:func:`_choose_uniform`, then one improving pass per group.

    Compares vehicles, then trip distance; used only when the MILP finds no solution.
    """
    best = _choose_uniform(alt_trips, deadhead_s)
    best_score = _score(alt_trips, deadhead_s, best)
    for g, options in enumerate(alt_trips):
        for k in range(len(options)):
            trial = best.copy()
            trial[g] = k
            trial_score = _score(alt_trips, deadhead_s, trial)
            if trial_score < best_score:
                best, best_score = trial, trial_score
    return best


def choose_uniform_route_sets(
    alternatives: Mapping[Hashable, Sequence[Sequence[ChainTrip]]], deadhead_s: np.ndarray
) -> RouteSetChoice:
    """The best choice of the form "alternative ``k`` in every group", without a MILP.

    Groups with fewer alternatives than ``k + 1`` take their last. Compares vehicles after
    chaining, then trip distance. It takes one chaining per ``k`` (a fraction of a second for
    hundreds of trips), so it is a quick, deterministic incumbent for :func:`choose_trips` where
    :func:`choose_route_sets`' MILP would be too slow to be worth it.

    Raises
    ------
    ValueError
        If a group has no alternative.
    """
    deadhead_s = np.asarray(deadhead_s, dtype=float)
    groups = list(alternatives)
    alt_trips = _alternative_trips(alternatives, groups)
    chosen = _choose_uniform(alt_trips, deadhead_s)
    picked = [t for g, k in enumerate(chosen) for t in alt_trips[g][k]]
    outcome = _Outcome(None, False, None, "alternative k in every group, the best k")
    base = _choice_of(picked, deadhead_s, None, None, "uniform", outcome)
    return _route_set_choice(base, groups, chosen)


def _route_set_choice(
    base: TripChoice, groups: list[Hashable], chosen: list[int]
) -> RouteSetChoice:
    return RouteSetChoice(
        **{f.name: getattr(base, f.name) for f in fields(TripChoice)},
        chosen=dict(zip(groups, chosen, strict=True)),
    )


def _alternative_trips(
    alternatives: Mapping[Hashable, Sequence[Sequence[ChainTrip]]], groups: list[Hashable]
) -> list[list[list[ChainTrip]]]:
    alt_trips = [[list(option) for option in alternatives[g]] for g in groups]
    for g, options in zip(groups, alt_trips, strict=True):
        if not options:
            raise ValueError(f"group {g!r} has no alternative route set")
    return alt_trips


def choose_route_sets(
    alternatives: Mapping[Hashable, Sequence[Sequence[ChainTrip]]],
    deadhead_s: np.ndarray,
    deadhead_m: np.ndarray | None = None,
    *,
    depot_place: int | None = None,
    params: SolverParams | None = None,
) -> RouteSetChoice:
    """Choose one route set per group so that the chained trips need the fewest vehicles.

    Phase 1 is a MILP over the choice and a chaining flow that minimises ``trips chosen - links``
    = vehicles; it is exact, because for a fixed choice the flow is a bipartite matching (minimum
    path cover). Phase 2, only when there are distances to compare, keeps vehicles at the phase-1
    value and minimises trip plus deadhead distance (depot runs included). Each phase stops on the
    node limit ``params.chain_effort_s`` pays for; both share the guard
    ``params.chain_time_limit_s``. The chosen trips are then chained by :func:`chain_trips`.

    Parameters
    ----------
    alternatives : mapping
        Group key -> non-empty sequence of alternative route sets, each a sequence of
        :class:`ChainTrip` (an empty set is allowed: a group with nothing to drive). Trip ids
        must be unique among trips that can be chosen together.
    deadhead_s, deadhead_m, depot_place
        As for :func:`chain_trips`.
    params : SolverParams, optional
        ``chain_effort_s`` bounds each MILP phase, ``chain_time_limit_s`` guards both.

    Returns
    -------
    RouteSetChoice
        Deterministic for the same inputs unless ``stopped_on_time``; ``is_optimal`` says
        whether the MILP proved its vehicle count minimal. When the MILP finds no solution, the
        greedy choice is used and ``method`` is ``"greedy"``.

    Raises
    ------
    ValueError
        If a group has no alternative.
    """
    params = params or SolverParams()
    deadhead_s = np.asarray(deadhead_s, dtype=float)
    deadhead_m = None if deadhead_m is None else np.asarray(deadhead_m, dtype=float)
    groups = list(alternatives)
    alt_trips = _alternative_trips(alternatives, groups)
    offsets = np.cumsum([0, *(len(options) for options in alt_trips)])
    trips = [t for options in alt_trips for option in options for t in option]
    trip_option = [
        offsets[g] + k
        for g, options in enumerate(alt_trips)
        for k, option in enumerate(options)
        for _ in option
    ]
    rows = [list(range(offsets[g], offsets[g + 1])) for g in range(len(groups))]
    sel = _selection(trips, trip_option, int(offsets[-1]), rows, deadhead_s)
    outcome = _optimise(sel, deadhead_m, depot_place, params)
    if outcome.picked is None:
        chosen = _choose_greedy(alt_trips, deadhead_s)
        method = "greedy"
        outcome = replace(outcome, message=outcome.message + "; greedy choice")
    else:
        picked = set(outcome.picked.tolist())
        chosen = [
            next(k for k in range(len(options)) if offsets[g] + k in picked)
            for g, options in enumerate(alt_trips)
        ]
        method = "milp"
    picked_trips = [t for g, k in enumerate(chosen) for t in alt_trips[g][k]]
    base = _choice_of(picked_trips, deadhead_s, deadhead_m, depot_place, method, outcome)
    return _route_set_choice(base, groups, chosen)


def choose_trips(
    candidates: Sequence[ChainTrip],
    deadhead_s: np.ndarray,
    deadhead_m: np.ndarray | None = None,
    *,
    depot_place: int | None = None,
    params: SolverParams | None = None,
    incumbent: Sequence[ChainTrip] | None = None,
) -> TripChoice:
    """Choose trips that serve every item exactly once with the fewest vehicles after chaining.

    Like :func:`choose_route_sets`, but trips may be mixed freely: any candidates whose
    ``covers`` partition the items (stops, say) of all candidates. This is set partitioning with
    a chaining flow, so it can combine, per school, short routes from one route set with long
    ones from another -- at the price of a harder MILP than one choice per group.

    Parameters
    ----------
    candidates : sequence of ChainTrip
        Each with a non-empty ``covers``; trips equal in everything but ``id`` are considered once.
    deadhead_s, deadhead_m, depot_place, params
        As for :func:`choose_route_sets`.
    incumbent : sequence of ChainTrip, optional
        A known admissible choice (e.g. from :func:`choose_route_sets`), returned when the MILP
        finds nothing better within its limits (``method`` then ``"incumbent"``).

    Raises
    ------
    ValueError
        If a candidate covers nothing, an item has no candidate covering it, or no choice was found
        and there is no incumbent.
    """
    params = params or SolverParams()
    deadhead_s = np.asarray(deadhead_s, dtype=float)
    deadhead_m = None if deadhead_m is None else np.asarray(deadhead_m, dtype=float)
    unique: dict[tuple, ChainTrip] = {}
    for t in candidates:
        if not t.covers:
            raise ValueError(f"trip {t.id} covers nothing")
        unique.setdefault(
            (
                t.covers,
                t.start_place,
                t.end_place,
                t.start_s,
                t.end_s,
                t.vehicle_class,
                t.distance_m,
            ),
            t,
        )
    trips = list(unique.values())
    covering: dict[Hashable, list[int]] = {}
    for j, t in enumerate(trips):
        for item in sorted(t.covers, key=repr):
            covering.setdefault(item, []).append(j)
    sel = _selection(trips, np.arange(len(trips)), len(trips), list(covering.values()), deadhead_s)
    outcome = _optimise(sel, deadhead_m, depot_place, params)
    choice = None
    if outcome.picked is not None:
        choice = _choice_of(
            [trips[j] for j in outcome.picked], deadhead_s, deadhead_m, depot_place, "milp", outcome
        )
    if incumbent is not None and (
        choice is None or count_vehicles(incumbent, deadhead_s) < choice.n_vehicles
    ):
        kept = replace(outcome, message=outcome.message + "; kept the incumbent")
        return _choice_of(list(incumbent), deadhead_s, deadhead_m, depot_place, "incumbent", kept)
    if choice is None:
        raise ValueError(outcome.message)
    return choice
