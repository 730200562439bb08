"""Chaining trips onto vehicles and choosing route sets: known answers and invariants."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult

from schoolbus.params import SolverParams
from schoolbus.scheduling import (
    Chain,
    ChainTrip,
    chain_trips,
    choose_plan_trips,
    choose_route_sets,
    choose_trips,
    choose_uniform_route_sets,
    count_vehicles,
)
from schoolbus.scheduling import choice as scheduling
from schoolbus.scheduling.choice import _choose_greedy

H = 3600  # seconds per hour, for readable clock times


def trip(trip_id, start_place, end_place, start_s, end_s, vehicle_class="bus", group=None, **kw):
    return ChainTrip(trip_id, start_place, end_place, start_s, end_s, vehicle_class, group, **kw)


def by_id(trips):
    return {t.id: t for t in trips}


def assert_valid_chains(chains: tuple[Chain, ...], trips, deadhead_s):
    """Every trip in exactly one chain; each chain one class and time-feasible link by link."""
    ids = [i for c in chains for i in c.trip_ids]
    assert sorted(ids) == sorted(t.id for t in trips)
    lookup = by_id(trips)
    for c in chains:
        members = [lookup[i] for i in c.trip_ids]
        assert {t.vehicle_class for t in members} == {c.vehicle_class}
        for a, b in itertools.pairwise(members):
            assert a.end_s + deadhead_s[a.end_place, b.start_place] <= b.start_s


# ---- chain_trips: hand-made cases ----------------------------------------------------------------


def test_interval_trips_need_as_many_vehicles_as_overlap():
    # Zero deadhead: vehicles = the most trips running at once (interval partitioning). Here the
    # 08:00-09:00 hour has three trips running at once.
    deadhead = np.zeros((1, 1))
    trips = [
        trip("a", 0, 0, 7 * H, 8.5 * H),
        trip("b", 0, 0, 8 * H, 9 * H),
        trip("c", 0, 0, 8.2 * H, 8.8 * H),
        trip("d", 0, 0, 9 * H, 10 * H),  # may follow b (ends 9:00 exactly) or a or c
        trip("e", 0, 0, 9.5 * H, 11 * H),
    ]
    chains = chain_trips(trips, deadhead)
    assert len(chains) == 3
    assert_valid_chains(chains, trips, deadhead)


def test_deadhead_time_can_forbid_a_link():
    # Place 0 -> 1 takes 600 s: trip y starts 500 s after x ends, so y needs a second vehicle.
    deadhead = np.array([[0.0, 600.0], [600.0, 0.0]])
    trips = [trip("x", 1, 0, 0, 1000), trip("y", 1, 1, 1500, 2500)]
    assert len(chain_trips(trips, deadhead)) == 2
    trips = [trip("x", 1, 0, 0, 1000), trip("y", 1, 1, 1600, 2500)]  # exactly in time
    assert [c.trip_ids for c in chain_trips(trips, deadhead)] == [("x", "y")]


def test_chains_never_mix_vehicle_classes():
    deadhead = np.zeros((1, 1))
    trips = [trip("x", 0, 0, 0, 100, "minibus_wheelchair"), trip("y", 0, 0, 200, 300, "bus")]
    chains = chain_trips(trips, deadhead)
    assert sorted(c.trip_ids for c in chains) == [("x",), ("y",)]
    assert count_vehicles(trips, deadhead) == 2


def test_least_deadhead_among_minimum_covers():
    # Two morning trips end at schools P (place 0) and Q (1) at 08:00; two later trips start at
    # stops near P (2) and near Q (3). Any pairing needs 2 vehicles; the crossed one drives 10x.
    dist = np.array(
        [
            [0, 0, 1_000, 10_000],
            [0, 0, 10_000, 1_000],
            [0, 0, 0, 0],
            [0, 0, 0, 0],
        ],
        dtype=float,
    )
    time_s = dist / 10.0
    trips = [
        trip("to_P", 2, 0, 7 * H, 8 * H),
        trip("to_Q", 3, 1, 7 * H, 8 * H),
        trip("from_near_Q", 3, 1, 12 * H, 13 * H),
        trip("from_near_P", 2, 0, 12 * H, 13 * H),
    ]
    chains = chain_trips(trips, time_s, dist)
    assert sorted(c.trip_ids for c in chains) == [("to_P", "from_near_P"), ("to_Q", "from_near_Q")]
    assert sum(c.deadhead_m for c in chains) == 2_000


def test_depot_runs_count_in_the_tie_break():
    # x ends at place 0; y and z start at 1 and 2, both 1000 m from 0, both reachable after x.
    # Without a depot, z is 1 m nearer, so x -> z. With a depot (place 3) next to z's start but
    # 20 km from y's, chaining y after x saves the long pull-out to y: x -> y.
    dist = np.array(
        [
            [0, 1_000, 999, 5_000],
            [1_000, 0, 1, 20_000],
            [999, 1, 0, 100],
            [5_000, 20_000, 100, 0],
        ],
        dtype=float,
    )
    time_s = dist / 10.0
    trips = [
        trip("x", 3, 0, 6 * H, 7 * H),
        trip("y", 1, 1, 8 * H, 9 * H),
        trip("z", 2, 2, 8 * H, 9 * H),
    ]
    no_depot = chain_trips(trips, time_s, dist)
    assert ("x", "z") in [c.trip_ids for c in no_depot]
    with_depot = chain_trips(trips, time_s, dist, depot_places=(3,))
    assert ("x", "y") in [c.trip_ids for c in with_depot]
    # x starts at the depot (no pull-out): x->y is 1000 + pull-in 20000; z alone 100 + 100.
    # The other cover would cost 999 + 100 for x->z and 20000 + 20000 for y alone.
    assert sum(c.deadhead_m for c in with_depot) == 1_000 + 20_000 + 200


def test_double_shift_days_chain_four_trips_per_vehicle():
    # Two double-shift schools, each with a sabah shift (07:20-12:00) and an öğle shift
    # (12:30-17:30): four trips a day each, eight trips. With a fleet of two vehicles the only
    # plan is for each vehicle to run all four trips of one school: morning in, midday out
    # (sabah pupils home), midday in (öğle pupils to school), evening out.
    # Places: school S 0, its stops 1 and 2; school U 3, its stops 4 and 5 (far from S's).
    dist = np.full((6, 6), 60_000.0)
    for a, b in itertools.product((0, 1, 2), repeat=2):
        dist[a, b] = 0 if a == b else 3_000
    for a, b in itertools.product((3, 4, 5), repeat=2):
        dist[a, b] = 0 if a == b else 3_000
    time_s = dist / 10.0  # 300 s within a school's area, 6000 s between the two
    clock = lambda h, m: h * H + m * 60  # noqa: E731
    trips = []
    for school, stop_a, stop_b, cls in (("S", 1, 2, "bus"), ("U", 4, 5, "bus")):
        place = 0 if school == "S" else 3
        trips += [
            trip(f"{school}-sabah-in", stop_a, place, clock(6, 40), clock(7, 20), cls, school),
            trip(f"{school}-sabah-out", place, stop_b, clock(12, 0), clock(12, 15), cls, school),
            trip(f"{school}-ogle-in", stop_b, place, clock(12, 15), clock(12, 30), cls, school),
            trip(f"{school}-ogle-out", place, stop_a, clock(17, 30), clock(18, 0), cls, school),
        ]
    # The midday in-trip starts at stop_b right when the out-trip ends there (0 s deadhead).
    # A vehicle could also cross to the other school in the 5 idle hours after 07:20; distance
    # makes the two local days the unique best plan.
    chains = chain_trips(trips, time_s, dist)
    assert count_vehicles(trips, time_s) == 2
    assert sorted(c.trip_ids for c in chains) == [
        ("S-sabah-in", "S-sabah-out", "S-ogle-in", "S-ogle-out"),
        ("U-sabah-in", "U-sabah-out", "U-ogle-in", "U-ogle-out"),
    ]
    assert_valid_chains(chains, trips, time_s)


def test_bad_trips_are_refused():
    with pytest.raises(ValueError, match="end_s"):
        trip("x", 0, 0, 100, 100)
    with pytest.raises(ValueError, match="unique"):
        chain_trips([trip("x", 0, 0, 0, 1), trip("x", 0, 0, 5, 6)], np.zeros((1, 1)))


def test_chaining_does_not_depend_on_input_order():
    rng = random.Random(3)
    trips, deadhead = random_trips(rng, 30)
    first = chain_trips(trips, deadhead[0], deadhead[1])
    shuffled = trips.copy()
    rng.shuffle(shuffled)
    assert chain_trips(shuffled, deadhead[0], deadhead[1]) == first


# ---- chain_trips: invariants on random trip sets -------------------------------------------------


def random_trips(rng: random.Random, n: int, n_places: int = 6, n_classes: int = 2):
    xy = np.array([(rng.uniform(0, 10_000), rng.uniform(0, 10_000)) for _ in range(n_places)])
    dist = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2)
    trips = []
    for k in range(n):
        start = rng.uniform(6 * H, 18 * H)
        trips.append(
            trip(
                f"t{k}",
                rng.randrange(n_places),
                rng.randrange(n_places),
                start,
                start + rng.uniform(300, 5_000),
                f"class{rng.randrange(n_classes)}",
            )
        )
    return trips, (dist / 8.0, dist)


def max_matching_vehicles(trips, deadhead_s) -> int:
    """n - maximum matching of the "may follow" bipartite graph, by networkx (independent code)."""
    graph = nx.Graph()
    left = [("out", t.id) for t in trips]
    graph.add_nodes_from(left)
    graph.add_nodes_from(("in", t.id) for t in trips)
    for a in trips:
        for b in trips:
            if (
                a.vehicle_class == b.vehicle_class
                and a.end_s + deadhead_s[a.end_place, b.start_place] <= b.start_s
            ):
                graph.add_edge(("out", a.id), ("in", b.id))
    matching = nx.bipartite.hopcroft_karp_matching(graph, top_nodes=left)
    return len(trips) - len(matching) // 2


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40), depot=st.booleans())
def test_chains_are_a_minimum_time_feasible_cover(seed, n, depot):
    rng = random.Random(seed)
    trips, (time_s, dist) = random_trips(rng, n)
    chains = chain_trips(trips, time_s, dist, depot_places=(0,) if depot else ())
    assert_valid_chains(chains, trips, time_s)
    assert len(chains) == max_matching_vehicles(trips, time_s) == count_vehicles(trips, time_s)


# ---- choosing route sets -------------------------------------------------------------------------


def early_schools_and_b(b_options):
    """Schools A1 and A2 (same bell, 07:00) and school B (bell 09:00) with given route sets.

    Places: A1 0, A2 1, B 2, B's stops 3 and 4; every drive takes 100 s.
    """
    deadhead = np.full((5, 5), 100.0)
    np.fill_diagonal(deadhead, 0.0)
    alternatives = {
        "A1": [[trip("a1", 3, 0, 6 * H, 7 * H, group="A1")]],
        "A2": [[trip("a2", 4, 1, 6 * H, 7 * H, group="A2")]],
        "B": b_options,
    }
    return alternatives, deadhead


def test_fewest_routes_is_not_fewest_buses():
    # B's first set has one long route that must start before A1 and A2 release their buses
    # (3 buses); its second set has two short routes that each follow an A school (2 buses).
    one_long = [trip("b-long", 3, 2, 6.5 * H, 9 * H, group="B")]
    two_short = [
        trip("b-short-1", 3, 2, 8 * H, 9 * H, group="B"),
        trip("b-short-2", 4, 2, 8.2 * H, 9 * H, group="B"),
    ]
    alternatives, deadhead = early_schools_and_b([one_long, two_short])
    choice = choose_route_sets(alternatives, deadhead)
    assert choice.chosen == {"A1": 0, "A2": 0, "B": 1}
    assert choice.n_vehicles == 2 and choice.method == "milp" and choice.is_optimal
    assert choice.lower_bound == 2
    assert_valid_chains(choice.chains, choice.trips, deadhead)
    # The greedy fallback finds it too (it tries every alternative of every group).
    assert _choose_greedy([alternatives[g] for g in alternatives], deadhead) == [0, 0, 1]
    # So does the best "alternative k everywhere" (A1 and A2 have only their 0th), without a MILP.
    uniform = choose_uniform_route_sets(alternatives, deadhead)
    assert uniform.chosen == {"A1": 0, "A2": 0, "B": 1}
    assert uniform.n_vehicles == 2 and uniform.method == "uniform"
    assert not uniform.is_optimal and not uniform.stopped_on_time
    assert_valid_chains(uniform.chains, uniform.trips, deadhead)


def test_distance_breaks_ties_between_route_sets():
    # Both sets of B need the same buses; the second drives less.
    longer = [trip("b-1", 3, 2, 8 * H, 9 * H, group="B", distance_m=9_000)]
    shorter = [trip("b-2", 3, 2, 8 * H, 9 * H, group="B", distance_m=4_000)]
    alternatives, deadhead = early_schools_and_b([longer, shorter])
    choice = choose_route_sets(alternatives, deadhead)
    assert choice.chosen["B"] == 1 and choice.n_vehicles == 2
    assert "tie-break" in choice.message


def test_uniform_choice_needs_an_alternative_per_group():
    with pytest.raises(ValueError, match="no alternative"):
        choose_uniform_route_sets({"A1": []}, np.zeros((1, 1)))


def recording_milp(monkeypatch, pretend_time_limit: bool = False) -> list[dict]:
    """Record the keyword arguments of every MILP solved; optionally report each as cut short
    by HiGHS's time limit (keeping the solution HiGHS found), as a slow machine would see it."""
    calls: list[dict] = []
    real = scheduling.milp

    def milp(*args, **kwargs):
        calls.append({**kwargs, "c": args[0], "options": dict(kwargs["options"])})  # scipy pops
        result = real(*args, **kwargs)
        if pretend_time_limit:
            result = OptimizeResult(
                {**result, "status": 1, "message": "Time limit reached. (HiGHS Status 13: ...)"}
            )
        return result

    monkeypatch.setattr(scheduling, "milp", milp)
    return calls


def test_every_choice_milp_phase_stops_on_nodes_and_is_only_guarded_by_time(monkeypatch):
    calls = recording_milp(monkeypatch)
    longer = [trip("b-1", 3, 2, 8 * H, 9 * H, group="B", distance_m=9_000)]
    shorter = [trip("b-2", 3, 2, 8 * H, 9 * H, group="B", distance_m=4_000)]
    alternatives, deadhead = early_schools_and_b([longer, shorter])
    effort_s = 0.01
    params = SolverParams(chain_effort_s=effort_s, chain_time_limit_s=20)
    choice = choose_route_sets(alternatives, deadhead, deadhead * 10, params=params)
    assert len(calls) == 2  # vehicles, then the distance tie-break
    for kwargs in calls:
        # As many nodes as the effort pays for at the estimated cost per node and variable.
        n_variables = len(kwargs["c"])
        expected = int(effort_s / (scheduling.NODE_S_PER_VARIABLE * n_variables))
        assert kwargs["options"]["node_limit"] == max(1, expected) > 1
        assert 0 < kwargs["options"]["time_limit"] <= 20
        # Flows are integer too, so the objective (vehicles) is known to be an integer.
        assert np.all(kwargs["integrality"] == 1)
    assert choice.chosen["B"] == 1 and not choice.stopped_on_time


def test_a_choice_cut_short_by_the_time_guard_says_so(monkeypatch):
    recording_milp(monkeypatch, pretend_time_limit=True)
    one_long = [trip("b-long", 3, 2, 6.5 * H, 9 * H, group="B", covers=frozenset({"b3"}))]
    alternatives, deadhead = early_schools_and_b([one_long])
    for name in ("A1", "A2"):
        alternatives[name] = [
            [replace(t, covers=frozenset({name})) for t in alternatives[name][0]]
        ]
    by_sets = choose_route_sets(alternatives, deadhead, params=SolverParams(chain_time_limit_s=3))
    assert by_sets.stopped_on_time and "3 s guard" in by_sets.message
    candidates = [t for options in alternatives.values() for option in options for t in option]
    mixed = choose_trips(candidates, deadhead, params=SolverParams(chain_time_limit_s=3))
    assert mixed.stopped_on_time and mixed.n_vehicles == 3
    # Reaching the MILP's proven bound still proves optimality, whatever stopped it.
    assert mixed.is_optimal == (mixed.lower_bound == 3)


def test_mixing_routes_of_two_sets_saves_a_bus():
    # Each set of B has one late (short) route and one early (long) one, for different stops;
    # taking the two short routes from the two sets lets both follow an A school.
    covers = lambda *s: frozenset(s)  # noqa: E731
    set_1 = [
        trip("s1-b3-short", 3, 2, 8 * H, 9 * H, group="B", covers=covers("b3")),
        trip("s1-b4-long", 4, 2, 6.5 * H, 9 * H, group="B", covers=covers("b4")),
    ]
    set_2 = [
        trip("s2-b3-long", 3, 2, 6.5 * H, 9 * H, group="B", covers=covers("b3")),
        trip("s2-b4-short", 4, 2, 8 * H, 9 * H, group="B", covers=covers("b4")),
    ]
    alternatives, deadhead = early_schools_and_b([set_1, set_2])
    for name in ("A1", "A2"):
        alternatives[name] = [[replace(t, covers=covers(name)) for t in alternatives[name][0]]]
    by_sets = choose_route_sets(alternatives, deadhead)
    assert by_sets.n_vehicles == 3
    candidates = [t for options in alternatives.values() for option in options for t in option]
    mixed = choose_trips(candidates, deadhead, incumbent=by_sets.trips)
    assert mixed.n_vehicles == 2 and mixed.method == "milp"
    assert sorted(t.id for t in mixed.trips) == ["a1", "a2", "s1-b3-short", "s2-b4-short"]


def test_plans_choose_as_the_benchmark_does_mixing_sets_to_save_the_bus():
    # choose_plan_trips, the choice plans make, finds the mix that one set per group cannot.
    covers = lambda *s: frozenset(s)  # noqa: E731
    set_1 = [
        trip("s1-b3-short", 3, 2, 8 * H, 9 * H, group="B", covers=covers("b3")),
        trip("s1-b4-long", 4, 2, 6.5 * H, 9 * H, group="B", covers=covers("b4")),
    ]
    set_2 = [
        trip("s2-b3-long", 3, 2, 6.5 * H, 9 * H, group="B", covers=covers("b3")),
        trip("s2-b4-short", 4, 2, 8 * H, 9 * H, group="B", covers=covers("b4")),
    ]
    alternatives, deadhead = early_schools_and_b([set_1, set_2])
    for name in ("A1", "A2"):
        alternatives[name] = [[replace(t, covers=covers(name)) for t in alternatives[name][0]]]
    choice = choose_plan_trips(alternatives, deadhead, deadhead * 10)
    assert choice.n_vehicles == 2 < choose_route_sets(alternatives, deadhead).n_vehicles
    assert sorted(t.id for t in choice.trips) == ["a1", "a2", "s1-b3-short", "s2-b4-short"]
    assert_valid_chains(choice.chains, choice.trips, deadhead)


def test_with_one_alternative_per_group_plans_chain_without_a_milp(monkeypatch):
    calls = recording_milp(monkeypatch)
    one = [trip("b-1", 3, 2, 8 * H, 9 * H, group="B", covers=frozenset({"b3"}))]
    alternatives, deadhead = early_schools_and_b([one])
    choice = choose_plan_trips(alternatives, deadhead, deadhead * 10, depot_places=(0,))
    assert calls == [] and choice.method == "only"
    trips = [t for options in alternatives.values() for t in options[0]]
    assert choice.chains == chain_trips(trips, deadhead, deadhead * 10, depot_places=(0,))


def test_a_set_that_leaves_a_stop_out_is_never_the_plan_choice():
    # B's second set was routed under a tight cap and left stop b4 out: taken whole it would need
    # a bus fewer, but b4's pupils would have no trip. The choice serves every stop.
    one_long = [trip("b-long", 3, 2, 6.5 * H, 9 * H, group="B", covers=frozenset({"b3", "b4"}))]
    capped = [trip("b3-short", 3, 2, 8 * H, 9 * H, group="B", covers=frozenset({"b3"}))]
    alternatives, deadhead = early_schools_and_b([one_long, capped])
    for name in ("A1", "A2"):
        alternatives[name] = [[replace(t, covers=frozenset({name})) for t in alternatives[name][0]]]
    choice = choose_plan_trips(alternatives, deadhead, deadhead * 10)
    assert sorted(t.id for t in choice.trips) == ["a1", "a2", "b-long"]
    assert choice.n_vehicles == 3


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_plan_choice_never_needs_more_vehicles_than_the_best_uniform_one(seed):
    rng = random.Random(seed)
    deadhead = np.array([[0.0, 900.0, 300.0], [900.0, 0.0, 600.0], [300.0, 600.0, 0.0]])
    alternatives = {}
    for school, bell in ((0, 8 * H), (1, 8.5 * H), (2, 9 * H)):
        stops = [f"s{school}{k}" for k in range(3)]
        options = []
        for k in range(rng.randint(1, 3)):
            cut = rng.randint(1, len(stops))
            parts = [stops[:cut], stops[cut:]] if cut < len(stops) else [stops]
            options.append(
                [
                    trip(f"{school}/{k}/{r}", (school + 1) % 3, school, bell - rng.uniform(600, 3_000), bell,
                         group=school, covers=frozenset(part))
                    for r, part in enumerate(parts)
                ]
            )
        alternatives[school] = options
    choice = choose_plan_trips(alternatives, deadhead, params=SolverParams(chain_effort_s=0.0))
    assert choice.n_vehicles <= choose_uniform_route_sets(alternatives, deadhead).n_vehicles
    items = sorted(i for options in alternatives.values() for t in options[0] for i in t.covers)
    assert sorted(i for t in choice.trips for i in t.covers) == items
    assert_valid_chains(choice.chains, choice.trips, deadhead)


def brute_force_vehicles(alternatives, deadhead_s) -> int:
    return min(
        count_vehicles([t for option in combo for t in option], deadhead_s)
        for combo in itertools.product(*alternatives.values())
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_route_set_choice_matches_brute_force(seed):
    rng = random.Random(seed)
    n_places = 6
    xy = np.array([(rng.uniform(0, 10_000), rng.uniform(0, 10_000)) for _ in range(n_places)])
    deadhead = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2) / 8.0
    alternatives = {}
    for g in range(rng.randint(1, 4)):
        bell = rng.uniform(7 * H, 10 * H)
        options = []
        for k in range(rng.randint(1, 3)):
            options.append(
                [
                    trip(
                        f"g{g}k{k}r{r}",
                        rng.randrange(n_places),
                        g % n_places,
                        bell - rng.uniform(600, 3_000),
                        bell,
                        group=g,
                    )
                    for r in range(rng.randint(0, 3))
                ]
            )
        alternatives[g] = options
    choice = choose_route_sets(alternatives, deadhead, params=SolverParams(chain_time_limit_s=20))
    assert choice.is_optimal
    assert choice.n_vehicles == brute_force_vehicles(alternatives, deadhead)
    assert_valid_chains(choice.chains, choice.trips, deadhead)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_trip_choice_matches_brute_force(seed):
    # Up to 9 candidate routes of two schools covering four stops each in random ways: the best
    # exact partition of the stops, by enumeration, needs as many vehicles as choose_trips says.
    rng = random.Random(seed)
    deadhead = np.array([[0.0, 900.0], [900.0, 0.0]])
    candidates = []
    for school, bell in ((0, 8 * H), (1, 9 * H)):
        stops = [f"s{school}{k}" for k in range(4)]
        for stop in stops:  # every stop alone: a partition always exists
            candidates.append(
                trip(
                    f"{stop}-alone",
                    1 - school,
                    school,
                    bell - rng.uniform(600, 3_000),
                    bell,
                    covers=frozenset({stop}),
                )
            )
        for r in range(rng.randint(0, 3)):
            covered = frozenset(rng.sample(stops, rng.randint(2, 4)))
            candidates.append(
                trip(
                    f"c{school}{r}",
                    1 - school,
                    school,
                    bell - rng.uniform(600, 4_000),
                    bell,
                    covers=covered,
                )
            )
    items = set().union(*(t.covers for t in candidates))
    best = min(
        count_vehicles(subset, deadhead)
        for size in range(1, len(candidates) + 1)
        for subset in itertools.combinations(candidates, size)
        if sum(len(t.covers) for t in subset) == len(items)
        and set().union(*(t.covers for t in subset)) == items
    )
    choice = choose_trips(candidates, deadhead, params=SolverParams(chain_time_limit_s=20))
    assert choice.is_optimal and choice.n_vehicles == best
    assert sorted(i for t in choice.trips for i in t.covers) == sorted(items)
    assert_valid_chains(choice.chains, choice.trips, deadhead)


def test_nothing_to_choose_needs_no_vehicle():
    deadhead = np.zeros((1, 1))
    assert chain_trips([], deadhead) == ()
    empty = choose_route_sets({"school without pupils": [[]]}, deadhead)
    assert empty.n_vehicles == 0 and empty.chosen == {"school without pupils": 0}
    assert choose_trips([], deadhead).n_vehicles == 0
