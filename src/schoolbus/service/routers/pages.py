"""The web page: server-rendered Jinja templates over the same store calls as the API.

Sign-in sets an HttpOnly, SameSite=Lax (and Secure) session cookie; every form carries the
session's CSRF token and every POST checks it (the sign-in form uses a double-submit cookie, as
there is no session yet). The only script on the page is none: a page with a running job
refreshes itself with a meta tag, and downloads are plain links to the API (which accepts the
session cookie for GET requests only).
"""

from __future__ import annotations

import json
import math
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from schoolbus.errors import InputError, Problem
from schoolbus.service import auth, security, store, totp
from schoolbus.service.auth import EDIT, READ_FULL, AuthError, SignedIn
from schoolbus.service.config import SESSION_TTL_S
from schoolbus.service.db import ROLES, Job, Project, User
from schoolbus.service.deps import LOGIN_CSRF_COOKIE, SESSION_COOKIE, db_session
from schoolbus.service.i18n import PAGE_LANGUAGES, page_language, translate
from schoolbus.service.jobs import cancel_job
from schoolbus.service.routers.accounts import sign_in
from schoolbus.service.routers.plans import COMPARED_METRICS, compare
from schoolbus.service.routers.projects import read_upload
from schoolbus.service.scenarios import default_fleet_yaml
from schoolbus.service.schemas import PUBLIC_ID_PATTERN, Id
from schoolbus.service.throttle import TooManyAttempts

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


class TotpFirst(Exception):
    """The account must set up its authenticator app; the app redirects to the enrolment page."""


def active_user(signed: SignedIn = Depends(page_user), session: Session = Depends(db_session, scope="function")) -> SignedIn:
    if signed.user.must_change_password:
        raise PasswordFirst()
    if auth.needs_totp_enrolment(session, signed.user):
        raise TotpFirst()
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
    code: str = Form(""),
    csrf_token: str = Form(""),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    if not auth.csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _back("/login?error=csrf")
    try:
        user = sign_in(request, session, username, password, code.strip() or None, "page")
    except TooManyAttempts as error:
        retry = math.ceil(error.retry_after_s)
        response = render(request, "login.html", None, status_code=429, login_csrf=csrf_token, error="throttled", retry_after_s=retry)
        response.headers["Retry-After"] = str(retry)
        return response
    except auth.SecondFactorNeeded:
        return _back("/login?error=totp")
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
        auth.change_password(session, user, current_password, new_password, keep_session_id=signed.session_id)
    except (AuthError, ValueError) as error:
        return render(request, "password.html", signed, status_code=422, error=str(error))
    store.audit(session, user, "change_password", user.username)
    return _back("/")


@router.post("/account/logout-everywhere")
def logout_everywhere(csrf_token: str = Form(""), signed: SignedIn = Depends(page_user), session: Session = Depends(db_session, scope="function")) -> Response:
    check_csrf(signed, csrf_token)
    user = session.get(User, signed.user.id)
    n = auth.revoke_all(session, user)
    store.audit(session, user, "logout_everywhere", f"{n} sessions and tokens")
    response = _back("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/account/totp", response_class=HTMLResponse)
def totp_form(request: Request, signed: SignedIn = Depends(page_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    user = session.get(User, signed.user.id)
    secret = None if user.totp_secret else auth.start_totp(user)
    uri = totp.provisioning_uri(secret, user.username) if secret else None
    return render(request, "totp.html", signed, secret=secret, otpauth_uri=uri, error=None,
                  required=auth.needs_totp_enrolment(session, user))


@router.post("/account/totp")
def totp_confirm(
    request: Request,
    code: str = Form(""),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(page_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    user = session.get(User, signed.user.id)
    try:
        auth.confirm_totp(user, code.strip())
    except ValueError as error:
        secret = user.totp_pending
        return render(request, "totp.html", signed, status_code=422, secret=secret,
                      otpauth_uri=totp.provisioning_uri(secret, user.username) if secret else None, error=str(error),
                      required=auth.needs_totp_enrolment(session, user))
    store.audit(session, user, "totp_enrolled", user.username)
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
    return _back(f"/projects/{project.public_id}")


def _project_page(request: Request, session: Session, signed: SignedIn, project_id: Id, status_code: int = 200, **extra) -> HTMLResponse:
    user = signed.user
    project = store.get_project(session, user, project_id, auth.READ_SUMMARY)
    may_edit = auth.may(session, user, project.id, EDIT)
    files = store.input_files(session, project.id)
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
    if may_edit:
        # The hazard drawing map: Leaflet and hazard_draw.js, same-origin files carrying the nonce.
        security.allow_page_scripts(request)
    return render(
        request,
        "project.html",
        signed,
        status_code=status_code,
        project=project,
        may_edit=may_edit,
        may_full=auth.may(session, user, project.id, READ_FULL),
        files=files,
        scenarios=store.list_scenarios(session, user, project_id),
        jobs=jobs,
        plans=[{"record": p, "summary": store.plan_summary(p)} for p in plans],
        plan_public_ids={p.id: p.public_id for p in plans},
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
def upload(
    project_id: Id,
    kind: str,
    request: Request,
    file: UploadFile = File(...),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    try:
        content = read_upload(file)
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
    for key, _label, kind in POLICY_FIELDS:
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
        await run_in_threadpool(store.save_document, session, signed.user, project_id, "policy", document)
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
    from schoolbus.ingest import number_from_cell as _number

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
        return _invalid(request, session, signed, store.public_id_of(session, Project, record.project_id), error, "job")
    session.commit()
    request.app.state.runner.wake()
    return _back(f"/projects/{store.public_id_of(session, Project, record.project_id)}")


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: Id, request: Request, csrf_token: str = Form(""), signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> Response:
    check_csrf(signed, csrf_token)
    job: Job = store.get_job(session, signed.user, job_id, EDIT)
    cancel_job(request.app.state.sessions, job.id)
    request.app.state.runner.wake()
    return _back(f"/projects/{store.public_id_of(session, Project, job.project_id)}")


# --------------------------------------------------------------------------------------------------
# Plans and comparison
# --------------------------------------------------------------------------------------------------


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(plan_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    user = signed.user
    record = store.get_plan(session, user, plan_id)
    document = json.loads(record.document)
    vehicle_ids = [v["id"] for v in document["vehicles"]]
    sheet_ids = auth.sheet_vehicles(session, user, record.id, record.project_id, vehicle_ids)
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
        contractor_map=store.contractor_map(session, record.id) if may_edit else {},
        project_public_id=store.public_id_of(session, Project, record.project_id),
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
    await run_in_threadpool(store.assign_contractors, session, signed.user, plan_id, assignments)
    return _back(f"/plans/{plan_id}")


def _bars(values: list[float | None]) -> list[float]:
    """Bar lengths in pixels, the largest value at full width."""
    numbers = [v for v in values if isinstance(v, (int, float))]
    top = max(numbers, default=0) or 1
    return [CHART_WIDTH_PX * (v / top) if isinstance(v, (int, float)) and v > 0 else 0.0 for v in values]


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    plan_id: list[Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]] = Query([]),
    project_id: str | None = Query(None, pattern=PUBLIC_ID_PATTERN),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    if len(plan_id) < 2:
        # Back to the project the (empty) selection came from, when it is one this user may see.
        project = store.by_public_id(session, Project, project_id) if project_id else None
        back = f"/projects/{project.public_id}" if project and auth.may(session, signed.user, project.id, auth.READ_SUMMARY) else "/"
        return render(request, "compare.html", signed, comparison=None, back=back, status_code=422)
    comparison = compare(session, signed.user, plan_id[:6])
    back = f"/projects/{comparison.plans[0].project_id}"
    rows = {m["key"]: m["values"] for m in comparison.metrics}
    # "numbers", not "values": Jinja would find the dict's values() method first.
    charts = [{"key": key, "label": METRIC_LABELS[key], "numbers": rows[key], "bars": _bars(rows[key])} for key in CHARTED_METRICS]
    return render(
        request,
        "compare.html",
        signed,
        comparison=comparison,
        rows=[(METRIC_LABELS[key], key, rows[key]) for key in COMPARED_METRICS],
        charts=charts,
        chart_width=CHART_WIDTH_PX,
        back=back,
    )


# --------------------------------------------------------------------------------------------------
# Accounts (admin)
# --------------------------------------------------------------------------------------------------


def _users_page(request: Request, session: Session, signed: SignedIn, status_code: int = 200, created=None, error=None) -> HTMLResponse:
    return render(
        request, "users.html", signed, status_code=status_code,
        users=list(session.scalars(select(User).order_by(User.id))), roles=ROLES, created=created, error=error,
        require_totp=auth.is_totp_required(session),
    )


def _admin(signed: SignedIn) -> None:
    if signed.user.role != "admin":
        raise auth.Forbidden("only an admin may manage accounts")


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    _admin(signed)
    return _users_page(request, session, signed)


USER_ACTIONS = ("disable", "enable", "revoke-tokens", "role")


@router.post("/admin/users/{username}/{action}")
def user_action(
    username: str,
    action: str,
    request: Request,
    role: str = Form(""),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    """Disable, enable, revoke the sessions and tokens of, or change the role of an account."""
    check_csrf(signed, csrf_token)
    _admin(signed)
    try:
        if action == "disable":
            store.set_active(session, signed.user, username, False)
        elif action == "enable":
            store.set_active(session, signed.user, username, True)
        elif action == "revoke-tokens":
            store.revoke_tokens(session, signed.user, username)
        elif action == "role":
            store.change_role(session, signed.user, username, role)
        else:
            raise store.NotFound(f"no account action {action!r}; expected one of {', '.join(USER_ACTIONS)}")
    except (ValueError, store.NotFound) as error:
        session.rollback()
        return _users_page(request, session, signed, status_code=422, error=str(error))
    return _back("/admin/users")


@router.post("/admin/settings")
def settings(
    request: Request,
    require_totp: str = Form(""),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    _admin(signed)
    store.change_settings(session, signed.user, require_totp == "on")
    return _back("/admin/users")


AUDIT_PAGE_ROWS = 500


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    _admin(signed)
    from schoolbus.service.db import AuditEntry

    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(AUDIT_PAGE_ROWS)))
    return render(request, "audit.html", signed, entries=entries)


@router.post("/admin/users")
def create_user(
    request: Request,
    username: str = Form(""),
    role: str = Form(""),
    project_id: str | None = Form(None),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    _admin(signed)
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
    return _users_page(request, session, signed, status_code=422 if error else 200, created=created, error=error)


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
