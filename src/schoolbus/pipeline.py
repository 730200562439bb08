"""Orchestration only: inputs and a road network in, a checked plan out.

``plan()`` runs locating (every home, school, depot and pinned place snapped to the roads once) →
stops → routing per school, shift and direction → chaining into vehicle-days → costing → the
independent checker. It decides nothing itself beyond what each stage returns, with
one rule of its own: a student is carried both ways or not at all, so a student one direction
cannot serve is taken out and the rest is planned again (a few rounds at most).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from schoolbus.check import check_plan
from schoolbus.costing import cost_plan
from schoolbus.errors import PlanCheckError, SolverError
from schoolbus.executor import Executor, SerialExecutor
from schoolbus.locations import locate
from schoolbus.matrix import search_graph, travel_matrices
from schoolbus.model import Located, Plan, Reason, ReasonCode, Scenario, Stop
from schoolbus.network import RoadNetwork
from schoolbus.params import SolverParams
from schoolbus.routing.problem import RoutingProblem, RoutingSolution, seconds_matrix
from schoolbus.routing.solve import FLEET_CODES, solve_routing
from schoolbus.scheduling.choice import choose_plan_trips
from schoolbus.scheduling.vehicle_days import (
    RoutedTrip,
    build_vehicle_days,
    chain_trip_from_route,
    depot_places,
    over_fleet,
)
from schoolbus.scheduling.vehicle_days import assignments as pupil_assignments
from schoolbus.stops import select_stops
from schoolbus.trips import GroupProblem, group_matrices, group_problems, group_specs

ProgressFn = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as work advances; ``total`` 0 means unknown."""

logger = logging.getLogger(__name__)

MAX_ROUNDS = 4
"""Re-planning rounds after students are taken out (each round can only take out more)."""



PLANNING_CPU_S_PER_PUPIL = 0.022
"""CPU seconds of planning per pupil on the 2-core reference machine (``benchmarks/scale.py``:
1.8 CPU-minutes for 5,000 pupils)."""
DOCUMENTS_CPU_S_PER_PUPIL = 0.062
"""CPU seconds of sheets, notices, map and exports per pupil on the same machine (5.2 CPU-minutes
for 5,000 pupils)."""


def rough_minutes(n_students: int, n_workers: int) -> tuple[int, int]:
    """A rough forecast, in whole minutes (at least 1), of planning and of writing the documents.

    Only for the line shown before a long run; measured rates, not a promise.
    """
    share = max(1, n_workers)
    planning = PLANNING_CPU_S_PER_PUPIL * n_students / share / 60
    documents = DOCUMENTS_CPU_S_PER_PUPIL * n_students / share / 60
    return max(1, round(planning)), max(1, round(documents))


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def plan(
    scenario: Scenario,
    network: RoadNetwork,
    params: SolverParams | None = None,
    *,
    progress: ProgressFn | None = None,
    executor: Executor | None = None,
) -> Plan:
    """Plan school transport for ``scenario`` on ``network`` and check the result.

    Parameters
    ----------
    scenario : Scenario
        Validated inputs (see :mod:`schoolbus.ingest`).
    network : RoadNetwork
        Road graphs (see :func:`schoolbus.network.load_network`).
    params : SolverParams, optional
        Time limits and seed; the same inputs and seed give the same plan.
    progress : callable, optional
        ``progress(stage, done, total)`` for progress bars and job status.
    executor : Executor, optional
        Where the routing solves (one per school, shift, direction and duration cap) run; by
        default in this process. Any executor gives the same plan.

    Returns
    -------
    Plan
        A plan that has passed :func:`schoolbus.check.check_plan`. Students who cannot be carried
        are in it as ``unserved`` with their reason.

    Raises
    ------
    SolverError
        When a solver fails outright. PlanCheckError when the checker finds a violation (a bug).
    """
    params = params or SolverParams()
    report = progress or _no_progress
    executor = executor or SerialExecutor()
    roads = roads_for_scenario(scenario, network)
    return _plan_located(scenario, roads, locate(scenario, roads), params, report, executor)


def _plan_located(
    scenario: Scenario,
    network: RoadNetwork,
    located: Located,
    params: SolverParams,
    report: ProgressFn,
    executor: Executor,
) -> Plan:
    """:func:`plan` on roads with the scenario's hazards honoured and its locations snapped.

    ``located`` may hold more pupils than ``scenario`` (the budgeted plans carry some of them).
    """
    if scenario.budget_per_year is not None:
        return _plan_within_budget(scenario, network, located, params, report, executor)
    if scenario.choose_bells:
        return _plan_with_chosen_bells(scenario, network, located, params, report, executor)
    report("stops", 0, 1)
    selection = select_stops(
        scenario,
        network,
        params,
        located=located,
        executor=executor,
        progress=lambda done, total: report("stops", done, total),
    )
    if scenario.pins:
        from schoolbus.pins import apply_stop_pins

        selection = apply_stop_pins(selection, scenario, network, located)
    unserved = dict(selection.unserved)
    stops = selection.stops

    for _ in range(MAX_ROUNDS):
        routed, newly_unserved = _route_and_chain(scenario, network, located, stops, params, report, executor)
        if not newly_unserved:
            break
        unserved.update(newly_unserved)
        stops = _without_students(stops, set(newly_unserved))
    else:
        raise SolverError(f"students kept dropping out after {MAX_ROUNDS} planning rounds")

    chosen, chains, depot_of_place = routed
    report("building trips", 0, len(chosen))
    trips, vehicles = build_vehicle_days(
        scenario, network.loaded, chosen, chains, depot_of_place, lambda done, total: report("building trips", done, total)
    )
    assignments = pupil_assignments(scenario, stops, selection.walk_m, unserved, trips)
    costs = cost_plan(scenario, trips, vehicles, assignments)
    result = Plan(
        scenario=scenario,
        stops=tuple(stops),
        assignments=assignments,
        trips=tuple(trips),
        vehicles=costs.vehicles,
        summary=costs.summary,
        costs=costs.lines,
        network_name=network.name,
        seed=params.seed,
        routing_backend=params.routing_backend,
    )
    report("checking", 0, 1)
    violations = check_plan(result, network)
    report("checking", 1, 1)
    if violations:
        raise PlanCheckError(violations)
    return result


def _plan_within_budget(scenario, roads, located, params, report, executor) -> Plan:
    """The budgeted plan (:mod:`schoolbus.budget` chooses whom to carry), checked like any plan.

    Every candidate plan is made on the same roads and located pupils (budgets carry a part of them).
    """
    from schoolbus.budget import plan_within_budget

    result = plan_within_budget(scenario, lambda s: _plan_located(s, roads, located, params, report, executor))
    violations = check_plan(result, roads)
    if violations:
        raise PlanCheckError(violations)
    return result


def _plan_with_chosen_bells(scenario, roads, located, params, report, executor) -> Plan:
    """The plan with bells chosen within the schools' windows (:mod:`schoolbus.bells`)."""
    return _choose_bells(scenario, roads, located, params, report, executor).plan


def plan_bells(
    scenario: Scenario,
    network: RoadNetwork,
    params: SolverParams | None = None,
    *,
    progress: ProgressFn | None = None,
    executor: Executor | None = None,
):
    """Plan with the current bells and with bells chosen within ``scenario.bell_windows``.

    Returns a :class:`schoolbus.bells.BellChoice`: the chosen plan (the current bells' when moving
    saves nothing), the current plan and each school's offset. Both plans are checked.
    """
    roads = roads_for_scenario(scenario, network)
    report = progress or _no_progress
    return _choose_bells(scenario, roads, locate(scenario, roads), params or SolverParams(), report,
                         executor or SerialExecutor())


def _choose_bells(scenario, roads, located, params, report, executor):
    """:func:`plan_bells` on located roads: every plan it makes reads the same snapped locations."""
    from schoolbus.bells import choose_bells

    def plan_fixed(s: Scenario) -> Plan:
        return _plan_located(replace(s, choose_bells=False), roads, located, params, report, executor)

    return choose_bells(scenario, roads, plan_fixed, located=located)


def roads_for_scenario(scenario: Scenario, network: RoadNetwork) -> RoadNetwork:
    """``network`` with the scenario's hazards honoured (the same network when it has none)."""
    from schoolbus.hazards import apply_hazards

    roads, cut = apply_hazards(network, scenario.hazards)
    if scenario.hazards:
        logger.info(
            "hazards: %d walk, %d drive and %d loaded edges cut", cut.n_walk_edges, cut.n_drive_edges, cut.n_loaded_edges
        )
    return roads


def _without_students(stops, student_ids: set[str]) -> tuple[Stop, ...]:
    """Stops with ``student_ids`` taken out; stops left empty disappear."""
    kept = []
    for stop in stops:
        riders = tuple(i for i in stop.student_ids if i not in student_ids)
        if riders:
            kept.append(replace(stop, student_ids=riders))
    return tuple(kept)


def _solve_group(params: SolverParams, problem: RoutingProblem) -> RoutingSolution:
    """One routing solve, as an executor task (a top-level function, so workers can import it)."""
    return solve_routing(problem, params)


def _route_and_chain(scenario, network, located: Located, stops, params, report, executor: Executor):
    """Route every group (under each duration cap), choose trips, chain; or name who dropped out.

    Returns ``((chosen routes, chains, depot of each place), {})`` when every student on a stop was
    carried both ways, else ``(None, {student_id: reason})`` for the students to take out.
    """
    caps: tuple[int | None, ...] = (None, *params.route_duration_caps_s)
    alternatives: dict[Hashable, list[list[RoutedTrip]]] = defaultdict(list)
    dropped: dict[str, Reason] = {}
    places: dict[int, int] = {}

    def place(node: int) -> int:
        return places.setdefault(node, len(places))

    depots = scenario.fleet.depots
    depot_nodes = located.depot_nodes()
    depot_of_place = depot_places(depots, [depot_nodes[d.id] for d in depots], place)
    school_nodes = located.school_nodes()

    specs = group_specs(scenario, stops, school_nodes)
    report("matrices", 0, len(specs))
    matrices = executor.map(
        group_matrices,
        specs,
        search_graph(network.loaded),
        progress=lambda done, total: report("matrices", done, total),
    )
    n_done = 0
    n_capped = 0
    for cap_index, cap in enumerate(caps):
        groups = [
            group
            for spec, (time_s, distance_m) in zip(specs, matrices)
            for group in group_problems(spec, time_s, distance_m, max_duration_s=cap)
        ]
        total = len(groups) * len(caps)
        report("routing", n_done, total)
        solutions = executor.map(
            _solve_group,
            [group.problem for group in groups],
            params,
            progress=lambda done, _, before=n_done, total=total: report("routing", before + done, total),
        )
        n_done += len(groups)
        for group, solution in zip(groups, solutions):
            n_capped += solution.is_time_capped
            if cap_index == 0:
                dropped_here = _unrouted_reasons(group, solution.unrouted)
                for student_id, reason in dropped_here.items():
                    dropped.setdefault(student_id, reason)
            option = []
            for k, route in enumerate(solution.routes):
                trip_id = f"{group.key.label()}#{cap_index}.{k}"
                option.append(RoutedTrip(group, route, chain_trip_from_route(group, route, place, trip_id, scenario.policy)))
            alternatives[group.key].append(option)
    report("routing", n_done, n_done)
    if n_capped:
        logger.warning(
            "%d of %d routing searches were ended by the time cap (%g s: --time-limit on the command "
            "line, SolverParams.time_limit_s in Python) before their deterministic work limit, so "
            "this plan may differ on a faster or less busy machine; raise the cap to make it repeatable",
            n_capped,
            n_done,
            params.time_limit_s,
        )
    if dropped:
        return None, dropped

    report("chaining", 0, 1)
    nodes = np.array(sorted(places, key=places.get), dtype=np.int64)
    deadhead = travel_matrices(network.drive, list(nodes), list(nodes))
    by_id = {r.chain_trip.id: r for options in alternatives.values() for option in options for r in option}
    choice = choose_plan_trips(
        {key: [[r.chain_trip for r in option] for option in options] for key, options in alternatives.items()},
        seconds_matrix(deadhead.time_s),
        deadhead.distance_m,
        depot_places=tuple(depot_of_place),
        params=params,
    )
    if choice.stopped_on_time:
        logger.warning(
            "choosing trips: the %g s guard cut the MILP short before its node budget (%s); the plan "
            "may differ between runs (raise chain_time_limit_s)",
            params.chain_time_limit_s,
            choice.message,
        )
    chosen = [by_id[t.id] for t in choice.trips]
    report("chaining", 1, 1)

    over = over_fleet(scenario.fleet, choice.chains, chosen)
    if over:
        return None, over
    return (chosen, choice.chains, depot_of_place), {}


def _unrouted_reasons(group: GroupProblem, unrouted) -> dict[str, Reason]:
    """Why each student of an unrouted stop is not carried; fleet shortfalls counted per group."""
    key = group.key
    where = {"school_id": key.school_id, "shift": key.shift, "direction": key.direction.value}
    short = [u for u in unrouted if u.reasons[0].code in FLEET_CODES]
    n_seats = int(sum(group.problem.demand[u.stop] for u in short))
    n_wheelchairs = int(sum(group.problem.wheelchair_demand[u.stop] for u in short))
    shortfall = {"seats": n_seats} | ({"places": n_wheelchairs} if n_wheelchairs else {})
    reasons = {}
    for u in unrouted:
        if u.reasons[0].code in FLEET_CODES:
            reason = Reason.make(ReasonCode.FLEET_RAN_OUT, u.reasons, **where, **shortfall)
        else:
            reason = Reason.make(ReasonCode.NO_TRIP, u.reasons, **where)
        for student_id in group.stops[u.stop - 1].student_ids:
            reasons[student_id] = reason
    return reasons


@dataclass(frozen=True)
class Outputs:
    """Where :func:`write_outputs` put each artifact of a plan."""

    plan_json: Path
    scenario_json: Path
    map_html: Path
    route_sheets: tuple[Path, ...]
    parent_notices: tuple[Path, ...]
    exports: dict[str, Path]


def write_outputs(
    result: Plan,
    out_dir: str | Path,
    network_source=None,
    *,
    language: str = "tr",
    family_notices: bool = False,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
    roads=None,
) -> Outputs:
    """Write a checked plan and everything people use from it into ``out_dir``.

    ``plan.json`` and ``scenario.json`` (the latter holds home locations: keep it private),
    ``map.html`` (works offline), ``sheets/`` (route sheets per vehicle-day, HTML and PDF, in
    ``language``), ``notices/`` (parent notices in each family's language: a booklet per school
    and shift, and a file per family with ``family_notices``) and ``exports/`` (CSV, XLSX,
    GeoJSON). Renderers take the finished plan; nothing is recomputed. Sheets and notices are
    rendered one document (or one small chunk of notices) at a time in the tasks of ``executor``,
    so memory stays flat however many pupils the plan has; ``progress(stage, done, total)``
    follows them document by document. ``roads`` (the road graph, optional) lets route sheets
    draw the streets around each trip and stop.
    """
    from schoolbus.outputs.export import export_tables
    from schoolbus.outputs.maps import render_map
    from schoolbus.outputs.sheets import render_parent_notices, render_route_sheets
    from schoolbus.planfile import SCENARIO_FILE, write_plan

    report = progress or _no_progress
    out = Path(out_dir)
    report("plan file", 0, 1)
    plan_json = write_plan(result, out, network_source)
    report("plan file", 1, 1)
    report("map", 0, 1)
    map_html = render_map(result, out / "map.html", language=language)
    report("map", 1, 1)
    report("exports", 0, 1)
    exports = export_tables(result, out / "exports", language=language)
    report("exports", 1, 1)
    report("route sheets", 0, len(result.vehicles))
    sheets = render_route_sheets(
        result,
        out / "sheets",
        language=language,
        roads=roads,
        executor=executor,
        progress=lambda done, total: report("route sheets", done, total),
    )
    notices = render_parent_notices(
        result,
        out / "notices",
        family_files=family_notices,
        executor=executor,
        progress=lambda done, total: report("notices", done, total),
    )
    return Outputs(
        plan_json=plan_json,
        scenario_json=out / SCENARIO_FILE,
        map_html=map_html,
        route_sheets=tuple(sheets),
        parent_notices=tuple(notices),
        exports=exports,
    )


def compare_scenarios(
    scenarios,
    load_roads: Callable[[tuple[str, ...]], RoadNetwork],
    out_dir: str | Path,
    params: SolverParams | None = None,
    *,
    network_source=None,
    language: str = "tr",
    progress: ProgressFn | None = None,
    executor: Executor | None = None,
) -> tuple[tuple[tuple[str, Plan], ...], Path]:
    """Plan each scenario, write ``OUT/<name>/`` (plan files and map) and ``OUT/comparison/``.

    Parameters
    ----------
    scenarios : sequence of Scenario
        Variants of one base case (see :func:`schoolbus.scenarios.scenarios_from_file`); each
        name becomes a folder.
    load_roads : callable
        ``load_roads(forbidden_road_classes) -> RoadNetwork``; called once per distinct set of
        forbidden road classes (usually once in all).
    language : str
        Language of the maps and the comparison report.
    progress : callable, optional
        As for :func:`plan`; stages are prefixed with the scenario's name.
    executor : Executor, optional
        With more than one worker and more than one scenario, each scenario is planned as one
        task of ``executor`` (the sweep fans out); otherwise scenarios are planned in turn, each
        with ``executor`` for its routing. Either way the plans are the same.

    Returns
    -------
    (plans, report)
        ``(name, plan)`` pairs in input order, and the path of ``comparison.html``.
    """
    from schoolbus.outputs.maps import render_map
    from schoolbus.outputs.reports import render_comparison
    from schoolbus.planfile import write_plan
    from schoolbus.scenarios import COMPARISON_DIR

    out = Path(out_dir)
    executor = executor or SerialExecutor()
    networks: dict[tuple[str, ...], RoadNetwork] = {}
    for scenario in scenarios:
        classes = tuple(scenario.policy.forbidden_road_classes)
        if classes not in networks:
            networks[classes] = load_roads(classes)
    if executor.n_workers > 1 and len(scenarios) > 1:
        report = progress or _no_progress
        report("scenarios", 0, len(scenarios))
        results = executor.map(
            _plan_scenario,
            list(scenarios),
            (networks, params),
            progress=lambda done, total: report("scenarios", done, total),
        )
    else:
        results = []
        for scenario in scenarios:
            named = None
            if progress is not None:

                def named(stage: str, done: int, total: int, prefix: str = scenario.name) -> None:
                    progress(f"{prefix}: {stage}", done, total)

            classes = tuple(scenario.policy.forbidden_road_classes)
            results.append(plan(scenario, networks[classes], params, progress=named, executor=executor))
    plans = []
    for scenario, result in zip(scenarios, results):
        write_plan(result, out / scenario.name, network_source)
        render_map(result, out / scenario.name / "map.html", language=language)
        plans.append((scenario.name, result))
    coverage = _coverage_curve(scenarios, networks, params, executor)
    comparison = render_comparison(plans, out / COMPARISON_DIR, language=language, coverage=coverage)
    return tuple(plans), comparison


def _coverage_curve(scenarios, networks, params, executor):
    """The cost–coverage curve of the first scenario with a budget, or ``None`` when none has one."""
    from schoolbus.budget import coverage_curve

    budgeted = next((s for s in scenarios if s.budget_per_year is not None), None)
    if budgeted is None:
        return None
    roads = roads_for_scenario(budgeted, networks[tuple(budgeted.policy.forbidden_road_classes)])
    located = locate(budgeted, roads)  # once for every plan of the curve
    params = params or SolverParams()
    return budgeted.name, coverage_curve(
        budgeted, lambda s: _plan_located(s, roads, located, params, _no_progress, executor)
    )


def _plan_scenario(shared: tuple[dict[tuple[str, ...], RoadNetwork], SolverParams | None], scenario: Scenario) -> Plan:
    """One scenario of a sweep, planned in one executor task."""
    networks, params = shared
    return plan(scenario, networks[tuple(scenario.policy.forbidden_road_classes)], params)
