"""Every location snapped once: ``locations.locate`` on real roads, and no stage snapping again.

``plan()`` locates homes, schools, depots and pinned places right after the roads; the stages read
the nodes from that one :class:`~schoolbus.model.Located`. The counting tests wrap
``snap_points`` wherever a module of the package looks it up and assert that one plan (bells
chosen or a budget searched, which plan many times, and a re-plan too) snaps each kind of location
to each graph at most once, and only in ``schoolbus.locations``. The checker snaps on its own on
purpose (it shares no code with the producer) and is left out of the count.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import schoolbus.bells
import schoolbus.budget
import schoolbus.pins
import schoolbus.replan
from schoolbus.changes import ADD_PUPIL, apply_to_scenario, read_changes
from schoolbus.locations import locate
from schoolbus.model import Depot, Pin, Plan, Scenario, Status
from schoolbus.network import RoadNetwork, load_network, snap_points
from schoolbus.params import SolverParams
from schoolbus.pipeline import plan
from schoolbus.replan import replan
from schoolbus.synthetic import demo_scenario, read_osm_schools
from test_bells import three_schools
from test_pipeline import FAST, grid  # noqa: F401  (grid fixture)

EARTH_RADIUS_M = 6_371_008.8
PARAMS = SolverParams(time_limit_s=5.0, seed=0)


@pytest.fixture(scope="module")
def helsinki(helsinki_pbf, tmp_path_factory) -> tuple[RoadNetwork, Scenario]:
    """Real roads and a 60-pupil demo district with door-to-door pupils, two depots and a pinned stop."""
    network = load_network(osm=helsinki_pbf, cache_dir=tmp_path_factory.mktemp("locations") / "cache")
    scenario = demo_scenario(read_osm_schools(helsinki_pbf), network.drive, n_students=60, seed=3)
    students = list(scenario.students)
    for k in range(0, len(students), 11):
        students[k] = replace(students[k], needs_door_to_door=True)
    first = scenario.fleet.depots[0]
    depots = (first, Depot("D2", "İkinci garaj", (first.location[0] + 0.01, first.location[1] - 0.005)))
    pinned = students[1]
    pins = (
        Pin("stop_location", stop_id="MANUAL-1", location=pinned.location),
        Pin("pupil_stop", student_id=pinned.id, stop_id="MANUAL-1"),
    )
    scenario = replace(
        scenario,
        students=tuple(students),
        fleet=replace(scenario.fleet, depots=depots),
        policy=replace(scenario.policy, min_home_school_m=300.0),
        pins=pins,
    )
    return network, scenario


def brute_nearest(graph, location: tuple[float, float]) -> tuple[int, float]:
    """The nearest node of ``graph`` by the haversine formula over every node, and its metres."""
    nodes = list(graph.nodes)
    lon = np.radians([graph.nodes[n]["x"] for n in nodes])
    lat = np.radians([graph.nodes[n]["y"] for n in nodes])
    lon0, lat0 = np.radians(location[0]), np.radians(location[1])
    h = np.sin((lat - lat0) / 2) ** 2 + np.cos(lat) * np.cos(lat0) * np.sin((lon - lon0) / 2) ** 2
    metres = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))
    best = int(np.argmin(metres))
    return int(nodes[best]), float(metres[best])


def test_locate_finds_the_nearest_node_of_every_location_on_real_roads(helsinki):
    network, scenario = helsinki
    located = locate(scenario, network)
    homes = {s.id: s.location for s in scenario.students}
    schools = {s.id: s.location for s in scenario.schools}
    depots = {d.id: d.location for d in scenario.fleet.depots}
    places = {"MANUAL-1": scenario.pins[0].location}
    for points, graph, where in (
        (located.homes_walk, network.walk, homes),
        (located.homes_loaded, network.loaded, homes),
        (located.schools_walk, network.walk, schools),
        (located.schools_loaded, network.loaded, schools),
        (located.depots_drive, network.drive, depots),
        (located.pinned_places_loaded, network.loaded, places),
    ):
        assert list(points) == list(where)  # every location, in the scenario's order
        for key, location in where.items():
            node, metres = brute_nearest(graph, location)
            assert points[key].node_id == node
            assert points[key].snap_m == pytest.approx(metres, rel=1e-6, abs=1e-3)
    # A home and its walk node: the two graphs differ, and a bus stop is never nearer than a path.
    assert any(located.homes_walk[i].node_id != located.homes_loaded[i].node_id for i in homes)
    assert all(located.homes_walk[i].snap_m <= located.homes_loaded[i].snap_m + 1e-6 for i in homes)
    assert located.school_nodes() == {i: p.node_id for i, p in located.schools_loaded.items()}
    assert list(located.depot_nodes()) == ["DEPOT", "D2"]


def test_a_location_gets_the_same_node_whichever_others_are_snapped_with_it(helsinki):
    network, scenario = helsinki
    located = locate(scenario, network)
    some = scenario.students[5:9]
    alone = locate(replace(scenario, students=some, pins=()), network)
    assert alone.homes_walk == {s.id: located.homes_walk[s.id] for s in some}
    assert alone.homes_loaded == {s.id: located.homes_loaded[s.id] for s in some}
    one = snap_points(network.walk, [some[0].location])
    assert (int(one.node_ids[0]), float(one.snap_m[0])) == (
        located.homes_walk[some[0].id].node_id,
        located.homes_walk[some[0].id].snap_m,
    )


def own_graphs(roads: RoadNetwork) -> RoadNetwork:
    """The network with a loaded graph of its own, as where a forbidden class (a motorway) is cut:
    where nothing is cut, ``loaded`` is the ``drive`` object and the counts below could not tell
    the two apart."""
    return replace(roads, loaded=roads.loaded.copy()) if roads.loaded is roads.drive else roads


def count_snaps(monkeypatch, scenario: Scenario, roads: RoadNetwork) -> Counter:
    """Record every ``snap_points`` call as ``(calling module, graph, kind of locations)``.

    Every module of the package that holds ``snap_points`` gets the counting wrapper, so a stage
    that snaps again, however it imported the function, is counted.
    """
    real = snap_points
    calls: Counter = Counter()
    kinds = {
        "homes": [s.location for s in scenario.students],
        "schools": [s.location for s in scenario.schools],
        "depots": [d.location for d in scenario.fleet.depots],
        "pinned places": [p.location for p in scenario.pins if p.location is not None],
    }
    graphs = {id(roads.walk): "walk", id(roads.loaded): "loaded", id(roads.drive): "drive"}
    assert len(graphs) == 3, "give the loaded profile a graph of its own (own_graphs) to tell the graphs apart"

    def counting(graph, locations):
        points = [tuple(p) for p in locations]
        kind = next((k for k, v in kinds.items() if points == v), "other")
        caller = sys._getframe(1).f_globals["__name__"]
        calls[(caller, graphs.get(id(graph), "another graph"), kind)] += 1
        return real(graph, locations)

    for name, module in list(sys.modules.items()):
        if name.startswith("schoolbus") and getattr(module, "snap_points", None) is real:
            monkeypatch.setattr(module, "snap_points", counting)
    return calls


def producer_snaps(calls: Counter) -> Counter:
    """The calls of everything but the independent checker."""
    return Counter({k: n for k, n in calls.items() if k[0] != "schoolbus.check"})


def assert_located_once(calls: Counter, expected: set[tuple[str, str]]) -> None:
    producer = producer_snaps(calls)
    assert {k[0] for k in producer} == {"schoolbus.locations"}, producer
    assert max(producer.values()) == 1, producer
    assert {(graph, kind) for _, graph, kind in producer} == expected


def test_a_plan_snaps_each_kind_of_location_to_each_graph_once(helsinki, monkeypatch):
    network, scenario = helsinki
    network = own_graphs(network)
    unpinned = plan(replace(scenario, pins=()), network, PARAMS)
    calls = count_snaps(monkeypatch, scenario, network)
    result = plan(scenario, network, PARAMS)
    assert_located_once(
        calls,
        {
            ("walk", "homes"),
            ("loaded", "homes"),
            ("walk", "schools"),
            ("loaded", "schools"),
            ("drive", "depots"),
            ("loaded", "pinned places"),
        },
    )
    # The plan reads those nodes: door-to-door stops, two depots, the pinned stop, the screening.
    statuses = Counter(a.status for a in result.assignments)
    assert statuses[Status.ROUTED] >= 40
    assert any(s.is_door_to_door for s in result.stops)
    assert {v.depot_id for v in unpinned.vehicles} <= {"DEPOT", "D2"}
    pinned = next(a for a in result.assignments if a.student_id == scenario.students[1].id)
    assert pinned.stop_id == "MANUAL-1"
    assert any(caller == "schoolbus.check" for caller, _, _ in calls)  # the checker still snaps on its own


GRID_KINDS = {("walk", "homes"), ("loaded", "homes"), ("walk", "schools"), ("loaded", "schools"), ("drive", "depots")}


def test_chosen_bells_and_a_budget_locate_once_for_all_their_plans(grid, monkeypatch):  # noqa: F811
    scenario = three_schools()
    grid = own_graphs(grid)
    current = plan(scenario, grid, FAST)  # three vehicles: one per school
    calls = count_snaps(monkeypatch, scenario, grid)
    chosen = plan(replace(scenario, choose_bells=True), grid, FAST)
    assert chosen.summary.n_vehicles < 3  # two plans at least were made: current and chosen bells
    assert_located_once(calls, GRID_KINDS)
    calls.clear()
    budgeted = plan(replace(scenario, budget_per_year=current.summary.cost_per_year / 2), grid, FAST)
    assert 0 < budgeted.summary.n_routed < len(scenario.students)  # a search over part-plans
    assert_located_once(calls, GRID_KINDS)


def test_a_replan_locates_once(helsinki, monkeypatch, tmp_path):
    network, scenario = helsinki
    network = own_graphs(network)
    scenario = replace(scenario, pins=())
    base: Plan = plan(scenario, network, PARAMS)
    routed = next(a for a in base.assignments if a.status is Status.ROUTED)
    home = next(s for s in scenario.students if s.id == routed.student_id)
    path = tmp_path / "changes.csv"
    row = {"change": ADD_PUPIL, "student_id": "NEW1", "lon": home.location[0] + 0.0003, "lat": home.location[1],
           "school_id": home.school_id, "shift": home.shift, "grade": 6}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    changes = read_changes(Path(path), base)
    calls = count_snaps(monkeypatch, apply_to_scenario(scenario, changes, base), network)
    result = replan(base, changes, network, PARAMS)
    assert next(a for a in result.plan.assignments if a.student_id == "NEW1").status is Status.ROUTED
    assert_located_once(
        calls, {("walk", "homes"), ("loaded", "homes"), ("walk", "schools"), ("loaded", "schools"), ("drive", "depots")}
    )


def test_the_modules_that_snap_are_the_locator_and_the_checker_and_the_pre_plan_checks():
    # Guards the wrapper above: it must find the modules that hold snap_points at all.
    holders = {
        name
        for name, module in sys.modules.items()
        if name.startswith("schoolbus") and getattr(module, "snap_points", None) is snap_points
    }
    assert {"schoolbus.locations", "schoolbus.check"} <= holders
    assert not holders & {"schoolbus.pipeline", "schoolbus.bells", "schoolbus.replan", "schoolbus.pins"}
    assert schoolbus.bells and schoolbus.budget and schoolbus.pins and schoolbus.replan  # imported above
