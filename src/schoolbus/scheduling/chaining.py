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
the pull-out from and pull-in to a depot when depots are given.

Depots
------
With several depots, each vehicle starts and ends its day at one of them: the one nearest to its
day, i.e. with the least pull-out to its first trip plus pull-in from its last (ties go to the
depot listed first). While matching, a link between two trips is priced as saving the pull-in
after the first and the pull-out before the second to their nearest depots; with one depot this is
exact, with several it is the usual nearest-depot approximation (the chain's depot is then chosen
exactly for the chain that results).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import min_weight_full_bipartite_matching


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
        chaining, the key of the alternatives in :func:`schoolbus.scheduling.choice.choose_route_sets`.
    distance_m : float
        Distance the trip itself drives, metres (a tie-break when choosing trips).
    covers : frozenset
        The items the trip serves (e.g. stop ids); only
        :func:`schoolbus.scheduling.choice.choose_trips` reads it.
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
            raise ValueError(f"trip {self.id}: end_s {self.end_s} must exceed start_s {self.start_s}")


@dataclass(frozen=True)
class Chain:
    """One vehicle's trips in driving order.

    ``deadhead_m`` is the empty driving between its trips, plus the pull-out from and the pull-in
    to its depot when chaining was given depots (metres; 0 without a distance matrix).
    ``depot_place`` is the place of that depot (``None`` without depots or distances).
    """

    vehicle_class: str
    trip_ids: tuple[str, ...]
    deadhead_m: float
    depot_place: int | None = None


def pull_out_m(deadhead_m: np.ndarray, depot_places: Sequence[int], start_places: np.ndarray) -> np.ndarray:
    """Metres from the nearest depot to each of ``start_places`` (zeros without depots)."""
    if not len(depot_places):
        return np.zeros(len(start_places))
    return deadhead_m[np.asarray(depot_places, dtype=np.int64)][:, start_places].min(axis=0)


def pull_in_m(deadhead_m: np.ndarray, depot_places: Sequence[int], end_places: np.ndarray) -> np.ndarray:
    """Metres from each of ``end_places`` to its nearest depot (zeros without depots)."""
    if not len(depot_places):
        return np.zeros(len(end_places))
    return deadhead_m[end_places][:, np.asarray(depot_places, dtype=np.int64)].min(axis=1)


def home_depot(
    first_start_place: int, last_end_place: int, deadhead_m: np.ndarray, depot_places: Sequence[int]
) -> int | None:
    """The depot place with the least pull-out to ``first_start_place`` plus pull-in from
    ``last_end_place``; the first listed on a tie, ``None`` without depots."""
    if not len(depot_places):
        return None
    runs_m = [float(deadhead_m[d, first_start_place]) + float(deadhead_m[last_end_place, d]) for d in depot_places]
    return int(depot_places[int(np.argmin(runs_m))])


def may_follow(ends: Sequence[ChainTrip], starts: Sequence[ChainTrip], deadhead_s: np.ndarray) -> np.ndarray:
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
    depot_places: Sequence[int],
) -> np.ndarray:
    """Distance change when ``trips[cols]`` follows ``trips[rows]`` instead of the depot runs.

    Joining two trips replaces a pull-in and a pull-out by one deadhead, so with depots the cost
    of an edge is ``deadhead - pull_in(i) - pull_out(j)`` (possibly negative).
    """
    if deadhead_m is None:
        return np.zeros(len(rows))
    end_place = np.array([t.end_place for t in trips], dtype=np.int64)
    start_place = np.array([t.start_place for t in trips], dtype=np.int64)
    cost = deadhead_m[end_place[rows], start_place[cols]].astype(float)
    if len(depot_places):
        cost = (
            cost
            - pull_in_m(deadhead_m, depot_places, end_place[rows])
            - pull_out_m(deadhead_m, depot_places, start_place[cols])
        )
    return cost


def _chain_one_class(
    trips: list[ChainTrip],
    deadhead_s: np.ndarray,
    deadhead_m: np.ndarray | None,
    depot_places: Sequence[int],
) -> list[Chain]:
    """Minimum path cover of one vehicle class's trips, least deadhead among minimum covers."""
    n = len(trips)
    rows, cols = np.nonzero(may_follow(trips, trips, deadhead_s))
    successor = np.full(n, -1, dtype=np.int64)
    if len(rows):
        cost = _edge_costs_m(trips, rows, cols, deadhead_m, depot_places)
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
        chains.append(_chain_of([trips[k] for k in members], deadhead_m, depot_places))
    return chains


def _chain_of(members: list[ChainTrip], deadhead_m: np.ndarray | None, depot_places: Sequence[int]) -> Chain:
    """One chain with its depot and its empty driving in metres, depot runs included."""
    trip_ids = tuple(t.id for t in members)
    if deadhead_m is None:
        return Chain(members[0].vehicle_class, trip_ids, 0.0)
    total = sum(float(deadhead_m[a.end_place, b.start_place]) for a, b in itertools.pairwise(members))
    depot = home_depot(members[0].start_place, members[-1].end_place, deadhead_m, depot_places)
    if depot is not None:
        total += float(deadhead_m[depot, members[0].start_place]) + float(deadhead_m[members[-1].end_place, depot])
    return Chain(members[0].vehicle_class, trip_ids, total, depot)


def chain_trips(
    trips: Sequence[ChainTrip],
    deadhead_s: np.ndarray,
    deadhead_m: np.ndarray | None = None,
    depot_places: Sequence[int] = (),
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
        covers are broken arbitrarily (but deterministically) and chains get no depot.
    depot_places : sequence of int
        Place indices of the depots. Each chain starts and ends at the one nearest to its day
        (see the module notes); its pull-out and pull-in count towards the deadhead (they never
        constrain time: a vehicle may leave its depot at any hour).

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
    depot_places = tuple(int(p) for p in depot_places)
    # A fixed order (time, then id) makes the matching, hence the result, independent of the
    # order the caller happened to list the trips in.
    ordered = sorted(trips, key=lambda t: (t.vehicle_class, t.start_s, t.end_s, t.id))
    chains: list[Chain] = []
    for vehicle_class in sorted({t.vehicle_class for t in ordered}):
        members = [t for t in ordered if t.vehicle_class == vehicle_class]
        chains.extend(_chain_one_class(members, deadhead_s, deadhead_m, depot_places))
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
