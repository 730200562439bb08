"""The web page: server-rendered Jinja templates over the same store calls as the API.

Sign-in sets an HttpOnly, SameSite=Lax (and Secure) session cookie; every form carries the
session's CSRF token and every POST checks it (the sign-in form uses a double-submit cookie, as
there is no session yet). The only script on the page is none: a page with a running job
refreshes itself with a meta tag, and downloads are plain links to the API (which accepts the
session cookie for GET requests only).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from schoolbus.errors import InputError, Problem
from schoolbus.service import auth, store
from schoolbus.service.auth import EDIT, READ_FULL, AuthError, SignedIn
from schoolbus.service.config import SESSION_TTL_S
from schoolbus.service.db import ROLES, Job, User
from schoolbus.service.schemas import Id
from schoolbus.service.deps import LOGIN_CSRF_COOKIE, SESSION_COOKIE, db_session
from schoolbus.service.i18n import PAGE_LANGUAGES, page_language, translate
from schoolbus.service.jobs import cancel_job
from schoolbus.service.routers.plans import COMPARED_METRICS, compare
from schoolbus.service.scenarios import default_fleet_yaml

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))

POLICY_FIELDS = (
    ("walk_limit_m", "Walk limit (m)", float),
    ("max_ride_min", "Longest ride (min)", float),
    ("arrival_buffer_min", "Arrival before the bell (min)", float),
    ("escort_max_grade", "Escort up to grade", int),
)
METRIC_LABELS = {
    "n_vehicles": "Vehicles",
    "n_trips": "Trips",
    "n_students": "Pupils",
    "n_routed": "Pupils carried",
    "n_unserved": "Pupils without a bus place",
    "distance_m": "Distance per day",
    "deadhead_m": "Empty driving per day",
    "cost_per_day": "Cost per day",
    "cost_per_year": "Cost per year",
    "cost_per_student_per_day": "Cost per pupil per day",
    "cost_per_student_per_year": "Cost per pupil per year",
    "mean_ride_s": "Mean ride",
    "p95_ride_s": "95th percentile ride",
    "max_ride_s": "Longest ride",
    "mean_walk_m": "Mean walk",
    "max_walk_m": "Longest walk",
}
CHARTED_METRICS = ("n_vehicles", "cost_per_day", "cost_per_student_per_year", "n_unserved", "mean_ride_s", "distance_m")
CHART_WIDTH_PX = 320


def page_user(request: Request, session: Session = Depends(db_session, scope="function")) -> SignedIn:
    signed = auth.signed_in(session, request.cookies.get(SESSION_COOKIE))
    if signed is None:
        raise AuthError("sign in")
    return signed


class PasswordFirst(Exception):
    """The account must replace its one-time password; the app redirects to the password page."""


def active_user(signed: SignedIn = Depends(page_user)) -> SignedIn:
    if signed.user.must_change_password:
        raise PasswordFirst()
    return signed


def check_csrf(signed: SignedIn, token: str | None) -> None:
    if not auth.csrf_ok(signed.csrf_token, token):
        raise auth.Forbidden("the form's CSRF token is missing or wrong; reload the page")


def render(request: Request, name: str, signed: SignedIn | None, status_code: int = 200, **context) -> HTMLResponse:
    language = signed.language if signed else page_language(request.cookies.get("schoolbus_lang"))
    response = templates.TemplateResponse(
        request,
        name,
        {
            "_": lambda text: translate(text, language),
            "language": language,
            "languages": PAGE_LANGUAGES,
            "signed": signed,
            "user": signed.user if signed else None,
            "csrf": signed.csrf_token if signed else "",
            **context,
        },
        status_code=status_code,
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --------------------------------------------------------------------------------------------------
# Sign-in
# --------------------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, error: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, login_csrf=token, error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=request.app.state.config.cookie_secure)
    return response


@router.post("/login")
def login(
    request: Request,
    username: str = Form(...),
    password: str = Form(...),
    csrf_token: str = Form(""),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    if not auth.csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _back("/login?error=csrf")
    try:
        user = auth.authenticate(session, username, password)
    except AuthError:
        return _back("/login?error=credentials")
    language = page_language(request.cookies.get("schoolbus_lang"))
    cookie = auth.open_session(session, user, language)
    response = _back("/account/password" if user.must_change_password else "/")
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_TTL_S,
        httponly=True,
        secure=request.app.state.config.cookie_secure,
        samesite="lax",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form(""), signed: SignedIn = Depends(page_user), session: Session = Depends(db_session, scope="function")) -> Response:
    check_csrf(signed, csrf_token)
    auth.close_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = _back("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language")
def set_language(
    request: Request,
    language: str = Form(...),
    csrf_token: str = Form(""),
    next: str = Form("/"),
    signed: SignedIn = Depends(page_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    from schoolbus.service.db import WebSession

    row = session.get(WebSession, signed.session_id)
    row.language = page_language(language)
    # Only a path on this site: never an open redirect.
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = _back(target)
    response.set_cookie("schoolbus_lang", row.language, samesite="lax", secure=request.app.state.config.cookie_secure)
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, signed: SignedIn = Depends(page_user)) -> HTMLResponse:
    return render(request, "password.html", signed, error=None)


@router.post("/account/password")
def password_change(
    request: Request,
    current_password: str = Form(...),
    new_password: str = Form(...),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(page_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    user = session.get(User, signed.user.id)
    try:
        auth.change_password(session, user, current_password, new_password)
    except (AuthError, ValueError) as error:
        return render(request, "password.html", signed, status_code=422, error=str(error))
    store.audit(session, user, "change_password", user.username)
    return _back("/")


# --------------------------------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def index(request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    user = signed.user
    sheets = []
    if user.role == "contractor":
        for record in store.list_plans(session, user):
            vehicles = sorted(auth.contractor_vehicles(session, user, record.id))
            sheets.append({"plan": record, "vehicles": vehicles})
    return render(
        request,
        "index.html",
        signed,
        projects=store.list_projects(session, user),
        sheets=sheets,
        may_create=user.role in ("admin", "officer"),
    )


@router.post("/projects")
def create_project(
    request: Request,
    name: str = Form(""),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    try:
        project = store.create_project(session, signed.user, name)
    except InputError as error:
        return render(
            request, "index.html", signed, status_code=422, projects=store.list_projects(session, signed.user),
            sheets=[], may_create=True, problems=error.problems,
        )
    return _back(f"/projects/{project.id}")


def _project_page(request: Request, session: Session, signed: SignedIn, project_id: Id, status_code: int = 200, **extra) -> HTMLResponse:
    user = signed.user
    project = store.get_project(session, user, project_id, auth.READ_SUMMARY)
    may_edit = auth.may(session, user, project_id, EDIT)
    files = store.input_files(session, project_id)
    jobs = store.list_jobs(session, user, project_id)
    policy_values = {}
    fleet_text = ""
    if may_edit:
        import yaml

        if "policy" in files and files["policy"].filename.endswith((".yaml", ".yml")):
            policy_values = yaml.safe_load(files["policy"].content.decode("utf-8")) or {}
        if "fleet" in files:
            fleet_text = files["fleet"].content.decode("utf-8", errors="replace")
        else:
            fleet_text = default_fleet_yaml()
    plans = store.list_plans(session, user, project_id)
    return render(
        request,
        "project.html",
        signed,
        status_code=status_code,
        project=project,
        may_edit=may_edit,
        may_full=auth.may(session, user, project_id, READ_FULL),
        files=files,
        scenarios=store.list_scenarios(session, user, project_id),
        jobs=jobs,
        plans=[{"record": p, "summary": store.plan_summary(p)} for p in plans],
        refresh=any(j.status in ("queued", "running") for j in jobs),
        policy_fields=POLICY_FIELDS,
        policy_values=policy_values if isinstance(policy_values, dict) else {},
        fleet_text=extra.pop("fleet_text", fleet_text),
        is_demo=project.name == store.DEMO_PROJECT,
        hazard_map=_hazard_map(files) if may_edit else None,
        problems=extra.pop("problems", None),
        problem_title=extra.pop("problem_title", None),
        **extra,
    )


def _hazard_map(files):
    from schoolbus.service.routers.hazards import hazard_map_data

    return hazard_map_data(files)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_page(project_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    return _project_page(request, session, signed, project_id)


def _invalid(request, session, signed, project_id, error: InputError, title: str, **extra) -> HTMLResponse:
    session.rollback()
    return _project_page(request, session, signed, project_id, status_code=422, problems=error.problems, problem_title=title, **extra)


@router.post("/projects/{project_id}/files/{kind}")
async def upload(
    project_id: Id,
    kind: str,
    request: Request,
    file: UploadFile = File(...),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    content = await file.read()
    try:
        if kind == "network":
            store.save_network(session, signed.user, project_id, request.app.state.config.data_dir, file.filename, content)
        else:
            store.save_input(session, signed.user, project_id, kind, file.filename, content)
    except InputError as error:
        return _invalid(request, session, signed, project_id, error, kind)
    return _back(f"/projects/{project_id}")


@router.post("/projects/{project_id}/policy")
async def set_policy(project_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> Response:
    form = await request.form()
    check_csrf(signed, form.get("csrf_token"))
    document = {}
    problems = []
    for key, label, kind in POLICY_FIELDS:
        raw = str(form.get(key, "")).strip().replace(",", ".")
        if not raw:
            continue
        try:
            document[key] = kind(float(raw)) if kind is int and float(raw).is_integer() else kind(raw)
        except ValueError:
            problems.append(Problem("policy", None, key, raw, "a number" if kind is float else "a whole number"))
    try:
        if problems:
            raise InputError(problems)
        store.save_document(session, signed.user, project_id, "policy", document)
    except InputError as error:
        return _invalid(request, session, signed, project_id, error, "policy")
    return _back(f"/projects/{project_id}")


@router.post("/projects/{project_id}/fleet")
def set_fleet(
    project_id: Id,
    request: Request,
    fleet_yaml: str = Form(""),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    try:
        store.save_input(session, signed.user, project_id, "fleet", "fleet.yaml", fleet_yaml.encode("utf-8"))
    except InputError as error:
        return _invalid(request, session, signed, project_id, error, "fleet", fleet_text=fleet_yaml)
    return _back(f"/projects/{project_id}")


def budget_from_form(text: str) -> float | None:
    """The scenario form's annual budget (empty: none); a clear problem when it is not a number."""
    from schoolbus.budget import budget_problem
    from schoolbus.ingest import _number

    if not text.strip():
        return None
    value = _number(text.strip())
    if value is None or budget_problem(value) is not None:
        raise InputError([Problem("scenario", None, "budget", text, budget_problem(-1) or "")])
    return value


@router.post("/projects/{project_id}/scenarios")
def create_scenario(
    project_id: Id,
    request: Request,
    name: str = Form(""),
    budget: str = Form(""),
    choose_bells: str = Form(""),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    try:
        store.create_scenario(session, signed.user, project_id, name, budget_from_form(budget), choose_bells == "on")
    except InputError as error:
        return _invalid(request, session, signed, project_id, error, "scenario")
    return _back(f"/projects/{project_id}")


@router.post("/scenarios/{scenario_id}/jobs")
def run(
    scenario_id: Id,
    request: Request,
    time_limit_s: float = Form(5.0),
    seed: int = Form(0),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    record = store.get_scenario(session, signed.user, scenario_id, EDIT)
    try:
        store.submit_job(session, signed.user, scenario_id, min(max(time_limit_s, 0.1), store.MAX_TIME_LIMIT_S), max(seed, 0))
    except InputError as error:
        return _invalid(request, session, signed, record.project_id, error, "job")
    session.commit()
    request.app.state.runner.wake()
    return _back(f"/projects/{record.project_id}")


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: Id, request: Request, csrf_token: str = Form(""), signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> Response:
    check_csrf(signed, csrf_token)
    job: Job = store.get_job(session, signed.user, job_id, EDIT)
    cancel_job(request.app.state.sessions, job_id)
    request.app.state.runner.wake()
    return _back(f"/projects/{job.project_id}")


# --------------------------------------------------------------------------------------------------
# Plans and comparison
# --------------------------------------------------------------------------------------------------


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(plan_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    user = signed.user
    record = store.get_plan(session, user, plan_id)
    document = json.loads(record.document)
    vehicle_ids = [v["id"] for v in document["vehicles"]]
    sheet_ids = auth.sheet_vehicles(session, user, plan_id, record.project_id, vehicle_ids)
    is_contractor = user.role == "contractor"
    may_edit = not is_contractor and auth.may(session, user, record.project_id, EDIT)
    contractors = [u.username for u in session.scalars(select(User).where(User.role == "contractor").order_by(User.username))] if may_edit else []
    return render(
        request,
        "plan.html",
        signed,
        record=record,
        summary=None if is_contractor else document["summary"],
        currency=document.get("currency", ""),
        vehicles=document["vehicles"] if not is_contractor else [v for v in document["vehicles"] if v["id"] in sheet_ids],
        sheet_ids=sheet_ids,
        show_map=not is_contractor,
        may_full=not is_contractor and auth.may(session, user, record.project_id, READ_FULL),
        may_edit=may_edit,
        contractor_map=store.contractor_map(session, plan_id) if may_edit else {},
        contractors=contractors,
        exports=("routes.csv", "stops.csv", "assignments.csv", "vehicles.csv", "plan.xlsx", "routes.geojson", "stops.geojson"),
        metric_labels=METRIC_LABELS,
    )


@router.post("/plans/{plan_id}/contractors")
async def set_contractors(plan_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> Response:
    form = await request.form()
    check_csrf(signed, form.get("csrf_token"))
    assignments = {
        key[len("vehicle_"):]: (str(value) or None)
        for key, value in form.items()
        if key.startswith("vehicle_")
    }
    store.assign_contractors(session, signed.user, plan_id, assignments)
    return _back(f"/plans/{plan_id}")


def _bars(values: list[float | None]) -> list[float]:
    """Bar lengths in pixels, the largest value at full width."""
    numbers = [v for v in values if isinstance(v, (int, float))]
    top = max(numbers, default=0) or 1
    return [CHART_WIDTH_PX * (v / top) if isinstance(v, (int, float)) and v > 0 else 0.0 for v in values]


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    plan_id: list[int] = Query([]),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    if len(plan_id) < 2:
        return render(request, "compare.html", signed, comparison=None, status_code=422)
    comparison = compare(session, signed.user, plan_id[:6])
    rows = {m["key"]: m["values"] for m in comparison.metrics}
    charts = [{"key": key, "label": METRIC_LABELS[key], "values": rows[key], "bars": _bars(rows[key])} for key in CHARTED_METRICS]
    return render(
        request,
        "compare.html",
        signed,
        comparison=comparison,
        rows=[(METRIC_LABELS[key], key, rows[key]) for key in COMPARED_METRICS],
        charts=charts,
        chart_width=CHART_WIDTH_PX,
    )


# --------------------------------------------------------------------------------------------------
# Accounts (admin)
# --------------------------------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    if signed.user.role != "admin":
        raise auth.Forbidden("only an admin may manage accounts")
    return render(request, "users.html", signed, users=list(session.scalars(select(User).order_by(User.id))), roles=ROLES, created=None, error=None)


@router.post("/admin/users")
def create_user(
    request: Request,
    username: str = Form(""),
    role: str = Form(""),
    project_id: int | None = Form(None),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    if signed.user.role != "admin":
        raise auth.Forbidden("only an admin may manage accounts")
    created, error = None, None
    try:
        user, password = auth.create_user(session, username.strip(), role)
        if project_id:
            store.add_member(session, signed.user, project_id, user.username)
        store.audit(session, signed.user, "create_user", f"{user.username} ({user.role})")
        created = (user.username, password)
    except (ValueError, InputError, store.NotFound) as err:
        session.rollback()
        error = str(err)
    return render(
        request, "users.html", signed, status_code=422 if error else 200,
        users=list(session.scalars(select(User).order_by(User.id))), roles=ROLES, created=created, error=error,
    )


@router.post("/projects/{project_id}/members")
def add_member(
    project_id: Id,
    request: Request,
    username: str = Form(""),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    try:
        store.add_member(session, signed.user, project_id, username.strip())
    except (InputError, store.NotFound) as error:
        problems = error.problems if isinstance(error, InputError) else [Problem("member", None, "username", username, "an existing account")]
        return _invalid(request, session, signed, project_id, InputError(problems), "member")
    return _back(f"/projects/{project_id}")
