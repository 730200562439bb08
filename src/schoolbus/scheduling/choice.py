"""Choose which trips to drive among alternatives, so that chaining needs the fewest vehicles.

Routing may offer several alternative route sets per group (school, shift, direction) -- e.g.
built under different caps on route duration, since fewest routes is not fewest vehicles: shorter
routes start later and free their vehicle sooner, so they chain better.

:func:`choose_route_sets` chooses one set per group with a MILP (HiGHS through
``scipy.optimize.milp``) that minimises vehicles after chaining, as Bertsimas, Delarue and Martin
(PNAS 2019, "BiRD") select routing scenarios, then breaks ties by trip plus deadhead distance.
:func:`choose_trips` lifts the one-set-per-group restriction: any candidate trips whose
``covers`` partition the stops (set partitioning with the same chaining flow).
:func:`choose_plan_trips` is the strategy plans and the Park benchmark use: the best "same
alternative everywhere" choice (:func:`choose_uniform_route_sets`, no MILP) as an incumbent, then
:func:`choose_trips`, keeping the incumbent when the MILP finds nothing better within its budget.

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
large choices alike. ``chain_time_limit_s`` is a guard only, far beyond the effort: when it cuts a
phase short the choice says so (``stopped_on_time``), because what HiGHS had found by then depends
on the machine's speed. The flow variables are declared integer too (for a fixed choice they are
integral anyway): the objective, vehicles, is then an integer, which HiGHS uses to prune every node
whose bound does not promise a whole vehicle less.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from schoolbus.params import SolverParams
from schoolbus.scheduling.chaining import (
    Chain,
    ChainTrip,
    chain_trips,
    count_vehicles,
    may_follow,
    pull_in_m,
    pull_out_m,
)

MILP_OPTIMAL = 0
"""``scipy.optimize.milp`` status: solved to optimality."""

MIN_MILP_S = 0.1
"""Least time limit handed to HiGHS, seconds (it needs a moment to read the model)."""

NODE_S_PER_VARIABLE = 2e-5
"""Estimated seconds of one branch-and-bound node per MILP variable: the node limit's yardstick
(the root node, which no node limit bounds, aside). ``benchmarks/park2012.py`` measures it."""

EFFORT_SHARE = 0.5
"""The share of ``chain_time_limit_s`` that nodes may take when ``chain_effort_s`` is ``None``; the
rest is room for the root node and a slower machine."""

TIME_LIMIT_WORDS = "Time limit"
"""How ``scipy.optimize.milp``'s message starts when HiGHS stopped on its time limit."""


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
        may_follow(representatives, trips, deadhead_s) if trips else np.zeros((0, 0), dtype=bool)
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
    depot_places: tuple[int, ...],
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
        if depot_places:
            # Every chosen trip pays a pull-out and a pull-in (to its nearest depots); each link
            # saves one of each.
            edge_m = edge_m - pull_in_m(deadhead_m, depot_places, end_place) - pull_out_m(
                deadhead_m, depot_places, start_place
            )
            trip_starts = np.array([t.start_place for t in sel.trips], dtype=np.int64)
            trip_ends = np.array([t.end_place for t in sel.trips], dtype=np.int64)
            trip_m += pull_out_m(deadhead_m, depot_places, trip_starts) + pull_in_m(
                deadhead_m, depot_places, trip_ends
            )
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
    sel: _Selection, deadhead_m: np.ndarray | None, depot_places: tuple[int, ...], params: SolverParams
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
            depot_places,
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
    depot_places: tuple[int, ...],
    method: str,
    outcome: _Outcome,
) -> TripChoice:
    chains = chain_trips(trips, deadhead_s, deadhead_m, depot_places)
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
    base = _choice_of(picked, deadhead_s, None, (), "uniform", outcome)
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
    depot_places: Sequence[int] = (),
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
    deadhead_s, deadhead_m, depot_places
        As for :func:`schoolbus.scheduling.chaining.chain_trips`.
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
    outcome = _optimise(sel, deadhead_m, tuple(depot_places), params)
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
    base = _choice_of(picked_trips, deadhead_s, deadhead_m, tuple(depot_places), method, outcome)
    return _route_set_choice(base, groups, chosen)


def choose_trips(
    candidates: Sequence[ChainTrip],
    deadhead_s: np.ndarray,
    deadhead_m: np.ndarray | None = None,
    *,
    depot_places: Sequence[int] = (),
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
    deadhead_s, deadhead_m, depot_places, params
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
    outcome = _optimise(sel, deadhead_m, tuple(depot_places), params)
    choice = None
    if outcome.picked is not None:
        choice = _choice_of(
            [trips[j] for j in outcome.picked], deadhead_s, deadhead_m, tuple(depot_places), "milp", outcome
        )
    if incumbent is not None and (
        choice is None or count_vehicles(incumbent, deadhead_s) < choice.n_vehicles
    ):
        kept = replace(outcome, message=outcome.message + "; kept the incumbent")
        return _choice_of(list(incumbent), deadhead_s, deadhead_m, tuple(depot_places), "incumbent", kept)
    if choice is None:
        raise ValueError(outcome.message)
    return choice


def choose_plan_trips(
    alternatives: Mapping[Hashable, Sequence[Sequence[ChainTrip]]],
    deadhead_s: np.ndarray,
    deadhead_m: np.ndarray | None = None,
    *,
    depot_places: Sequence[int] = (),
    params: SolverParams | None = None,
) -> TripChoice:
    """The choice plans and the Park benchmark make: trips mixed freely across alternatives.

    With one alternative per group there is nothing to choose: its trips are chained
    (``method`` ``"only"``). Otherwise the best "alternative ``k`` in every group"
    (:func:`choose_uniform_route_sets`, among the alternatives that serve all of their group) is
    the incumbent of :func:`choose_trips` over every candidate, which keeps it when its MILP
    finds nothing with fewer vehicles within the node limit ``params.chain_effort_s`` pays for.

    Parameters
    ----------
    alternatives : mapping
        Group key -> non-empty sequence of alternative route sets of :class:`ChainTrip`; every trip
        needs ``covers`` (the items it serves, unique across groups) and a unique id.
    deadhead_s, deadhead_m, depot_places, params
        As for :func:`choose_trips`.

    Raises
    ------
    ValueError
        If a group has no alternative or a trip covers nothing.
    """
    deadhead_s = np.asarray(deadhead_s, dtype=float)
    groups = list(alternatives)
    alt_trips = _alternative_trips(alternatives, groups)
    if all(len(options) == 1 for options in alt_trips):
        trips = [t for options in alt_trips for t in options[0]]
        outcome = _Outcome(None, True, None, "one alternative per group")
        return _choice_of(trips, deadhead_s, deadhead_m, tuple(depot_places), "only", outcome)
    # Only sets that serve every item of their group can be the incumbent: a set routed under a
    # tight cap may leave a stop out (its trips still count as candidates for mixing).
    complete = {g: _complete_options(options) for g, options in zip(groups, alt_trips, strict=True)}
    incumbent = None
    if all(complete.values()):
        incumbent = choose_uniform_route_sets(complete, deadhead_s).trips
    return choose_trips(
        [t for options in alt_trips for option in options for t in option],
        deadhead_s,
        deadhead_m,
        depot_places=depot_places,
        params=params,
        incumbent=incumbent,
    )


def _complete_options(options: list[list[ChainTrip]]) -> list[list[ChainTrip]]:
    """The options that cover every item any option of their group covers, each exactly once."""
    items = frozenset().union(*(t.covers for option in options for t in option))
    return [
        option
        for option in options
        if sum(len(t.covers) for t in option) == len(items) and frozenset().union(*(t.covers for t in option)) == items
    ]
