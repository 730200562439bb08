"""Several depots: each vehicle-day starts and ends at the depot nearest to its day.

Known answers on a few hand-numbered places, invariants with hypothesis, and whole plans on the
real Helsinki extract: the chained depot, the checker, re-planning, sheets and the map.
"""

from __future__ import annotations

import csv
import dataclasses
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolbus.changes import ADD_PUPIL, read_changes
from schoolbus.check import check_plan
from schoolbus.matrix import travel_matrices
from schoolbus.model import Depot, Status, ViolationCode
from schoolbus.network import load_network, snap_points
from schoolbus.params import SolverParams
from schoolbus.pipeline import plan
from schoolbus.planfile import NetworkSource, read_plan, write_plan
from schoolbus.replan import replan
from schoolbus.scheduling import ChainTrip, chain_trips
from schoolbus.scheduling.chaining import home_depot
from schoolbus.synthetic import demo_scenario, read_osm_schools

H = 3600


def line_matrices(xs: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Places on a straight road at ``xs`` metres: distances, and times at 10 m/s."""
    x = np.asarray(xs, dtype=float)
    dist = np.abs(x[:, None] - x[None, :])
    return dist / 10.0, dist


def test_each_chain_returns_to_the_depot_nearest_its_day():
    # Places on one road: depot W at 0 m, depot E at 20 km; school 1 at 1 km with its stops at
    # 500 m and 1.5 km; school 2 at 19 km with its stops at 18.5 and 19.5 km. Morning trips only,
    # both schools at 8:00, so no vehicle can do both: two vehicles, one parked at each depot.
    time_s, dist = line_matrices([0, 20_000, 1_000, 500, 19_000, 18_500])
    trips = [
        ChainTrip("w", 3, 2, 7.5 * H, 8 * H, "bus"),
        ChainTrip("e", 5, 4, 7.5 * H, 8 * H, "bus"),
    ]
    chains = {c.trip_ids: c for c in chain_trips(trips, time_s, dist, depot_places=(0, 1))}
    assert chains[("w",)].depot_place == 0
    assert chains[("e",)].depot_place == 1
    # W: 500 m out to the first stop, 1 km back from school; E: 1.5 km out, 1 km back.
    assert chains[("w",)].deadhead_m == 500 + 1_000
    assert chains[("e",)].deadhead_m == 1_500 + 1_000
    # With depot W alone, the eastern vehicle drives the whole road twice.
    (east_only_west,) = [c for c in chain_trips(trips, time_s, dist, depot_places=(0,)) if c.trip_ids == ("e",)]
    assert east_only_west.depot_place == 0 and east_only_west.deadhead_m == 18_500 + 19_000


def test_a_tie_between_depots_goes_to_the_one_listed_first():
    _, dist = line_matrices([0, 2_000, 1_000])
    assert home_depot(2, 2, dist, (0, 1)) == 0
    assert home_depot(2, 2, dist, (1, 0)) == 1
    assert home_depot(2, 2, dist, ()) is None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 25), n_depots=st.integers(1, 4))
def test_chains_keep_the_minimum_cover_and_pay_their_own_depot_runs(seed, n, n_depots):
    rng = random.Random(seed)
    xs = [rng.uniform(0, 30_000) for _ in range(n_depots + 2 * n)]
    time_s, dist = line_matrices(xs)
    trips = []
    for k in range(n):
        start = rng.uniform(6 * H, 16 * H)
        trips.append(ChainTrip(f"t{k}", n_depots + 2 * k, n_depots + 2 * k + 1, start, start + rng.uniform(600, 3_600), "bus"))
    depots = tuple(range(n_depots))
    chains = chain_trips(trips, time_s, dist, depot_places=depots)
    # Depots never change how few vehicles are needed: pull-outs and pull-ins do not constrain time.
    assert len(chains) == len(chain_trips(trips, time_s))
    by_id = {t.id: t for t in trips}
    for chain in chains:
        first, last = by_id[chain.trip_ids[0]], by_id[chain.trip_ids[-1]]
        runs = [dist[d, first.start_place] + dist[last.end_place, d] for d in depots]
        assert chain.depot_place == depots[int(np.argmin(runs))]
        between = sum(dist[by_id[a].end_place, by_id[b].start_place] for a, b in zip(chain.trip_ids, chain.trip_ids[1:]))
        assert chain.deadhead_m == pytest.approx(between + min(runs))


# ---- whole plans on the real Helsinki extract ----------------------------------------------------


@pytest.fixture(scope="module")
def two_depots(helsinki_pbf, tmp_path_factory):
    """The 120-pupil Helsinki demo with a depot at its western school and one at its middle one."""
    folder = tmp_path_factory.mktemp("depots")
    network = load_network(osm=helsinki_pbf, cache_dir=folder / "cache")
    scenario = demo_scenario(read_osm_schools(helsinki_pbf), network.drive, n_students=120, seed=3)
    west = min(scenario.schools, key=lambda s: s.location[0])
    east = sorted(scenario.schools, key=lambda s: s.location[0])[len(scenario.schools) // 2]
    depots = (Depot("W", "Garaj Batı", west.location), Depot("E", "Garaj Doğu", east.location))
    scenario = dataclasses.replace(scenario, fleet=dataclasses.replace(scenario.fleet, depots=depots))
    result = plan(scenario, network, SolverParams(seed=0))
    write_plan(result, folder / "plan", NetworkSource.from_file("osm", helsinki_pbf))
    return folder, network, scenario, result


def _trip_end_nodes(result, network):
    """Each trip's first and last road node on the drive graph, by trip id."""
    stop_nodes = {s.id: s.node_id for s in result.stops}
    schools = result.scenario.schools
    school_nodes = dict(zip((s.id for s in schools), snap_points(network.loaded, [s.location for s in schools]).node_ids))

    def node(visit):
        return int(stop_nodes[visit.stop_id] if visit.stop_id else school_nodes[visit.school_id])

    return {t.id: (node(t.visits[0]), node(t.visits[-1])) for t in result.trips}


@pytest.mark.slow
def test_every_vehicle_day_starts_and_ends_at_its_nearest_depot(two_depots):
    _, network, scenario, result = two_depots
    assert check_plan(result, network) == []
    depot_nodes = dict(
        zip(("W", "E"), (int(n) for n in snap_points(network.drive, [d.location for d in scenario.fleet.depots]).node_ids))
    )
    ends = _trip_end_nodes(result, network)
    trips = {t.id: t for t in result.trips}
    for vehicle in result.vehicles:
        first, last = ends[vehicle.trip_ids[0]][0], ends[vehicle.trip_ids[-1]][1]
        out_m = travel_matrices(network.drive, list(depot_nodes.values()), [first]).distance_m[:, 0]
        in_m = travel_matrices(network.drive, [last], list(depot_nodes.values())).distance_m[0, :]
        runs = dict(zip(depot_nodes, out_m + in_m))
        assert vehicle.depot_id == min(runs, key=lambda d: (runs[d], list(depot_nodes).index(d)))
        assert vehicle.deadhead_m >= runs[vehicle.depot_id] - 1.0
        assert vehicle.distance_m == pytest.approx(vehicle.deadhead_m + sum(trips[t].distance_m for t in vehicle.trip_ids), abs=0.2)
    # Both depots are used: the first listed is not everyone's depot.
    assert {v.depot_id for v in result.vehicles} == {"W", "E"}


@pytest.mark.slow
def test_the_checker_holds_each_vehicle_to_its_own_depot(two_depots):
    _, network, _, result = two_depots
    vehicle = result.vehicles[0]
    other = "E" if vehicle.depot_id == "W" else "W"
    moved = dataclasses.replace(result, vehicles=(dataclasses.replace(vehicle, depot_id=other), *result.vehicles[1:]))
    assert ViolationCode.DEADHEAD_MISMATCH in {v.code for v in check_plan(moved, network)}
    # Without a depot its day would start at its first stop: the depot runs it counts are wrong.
    parked_nowhere = dataclasses.replace(result, vehicles=(dataclasses.replace(vehicle, depot_id=None), *result.vehicles[1:]))
    assert ViolationCode.DEADHEAD_MISMATCH in {v.code for v in check_plan(parked_nowhere, network)}
    unknown = dataclasses.replace(result, vehicles=(dataclasses.replace(vehicle, depot_id="X"), *result.vehicles[1:]))
    assert ViolationCode.VEHICLE_UNKNOWN_DEPOT in {v.code for v in check_plan(unknown, network)}


@pytest.mark.slow
def test_the_plan_file_sheets_and_map_name_each_vehicles_depot(two_depots):
    from schoolbus.outputs.maps import render_map
    from schoolbus.outputs.sheets import render_route_sheets

    folder, _, _, result = two_depots
    again = read_plan(folder / "plan")
    assert [(v.id, v.depot_id) for v in again.vehicles] == [(v.id, v.depot_id) for v in result.vehicles]
    sheets = render_route_sheets(result, folder / "sheets", language="tr")
    names = {"W": "Garaj Batı", "E": "Garaj Doğu"}
    for vehicle in result.vehicles:
        (sheet,) = [p for p in sheets if p.suffix == ".html" and vehicle.id in p.name]
        html = sheet.read_text(encoding="utf-8")
        assert names[vehicle.depot_id] in html
        assert names["E" if vehicle.depot_id == "W" else "W"] not in html
    page = render_map(result, folder / "map.html").read_text(encoding="utf-8")
    for depot_id, name in names.items():
        assert name in page
        # The depot's popup lists the vehicles parked there, and only those.
        mine = [v.id for v in result.vehicles if v.depot_id == depot_id]
        assert mine and f"Garaj {depot_id}" in page
        assert ", ".join(mine) in page
    assert ", ".join(v.id for v in result.vehicles) not in page


@pytest.mark.slow
def test_replanning_keeps_each_vehicle_at_its_depot(two_depots, tmp_path):
    folder, network, _, _ = two_depots
    base = read_plan(folder / "plan")
    routed = next(a for a in base.assignments if a.status is Status.ROUTED)
    pupil = next(s for s in base.scenario.students if s.id == routed.student_id)
    path = tmp_path / "changes.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["change", "student_id", "lon", "lat", "school_id", "shift", "grade"])
        writer.writeheader()
        writer.writerow(
            {"change": ADD_PUPIL, "student_id": "NEW", "lon": pupil.location[0] + 0.0003, "lat": pupil.location[1],
             "school_id": pupil.school_id, "shift": pupil.shift, "grade": 6}
        )
    result = replan(base, read_changes(path, base), network)
    before = {v.id: v.depot_id for v in base.vehicles}
    after = {v.id: v.depot_id for v in result.plan.vehicles}
    assert all(after[v] == before[v] for v in after if v in before)
    assert set(after.values()) <= {"W", "E"}
    assert check_plan(result.plan, network) == []
