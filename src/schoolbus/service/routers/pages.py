"""The web page: server-rendered Jinja templates over the same store calls as the API.

Sign-in sets an HttpOnly, SameSite=Lax (and Secure) session cookie; every form carries the
session's CSRF token and every POST checks it (the sign-in form uses a double-submit cookie, as
there is no session yet). The only script on the page is none: a page with a running job
refreshes itself with a meta tag, and downloads are plain links to the API (which accepts the
session cookie for GET requests only).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import secrets
import threading
import time
from dataclasses import asdict
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
from schoolbus.outputs.i18n import N_
from schoolbus.service import artifacts, auth, security, store, totp
from schoolbus.service.auth import EDIT, READ_FULL, AuthError, SignedIn
from schoolbus.service.config import SESSION_TTL_S
from schoolbus.service.db import ROLES, Job, Project, User
from schoolbus.service.db import utcnow as db_utcnow
from schoolbus.service.deps import LOGIN_CSRF_COOKIE, SESSION_COOKIE, db_session
from schoolbus.service.i18n import PAGE_LANGUAGES, Formats, page_language, translate
from schoolbus.service.jobs import cancel_job
from schoolbus.service.routers import page_compare, page_data, page_forms
from schoolbus.service.routers.accounts import sign_in
from schoolbus.service.routers.plans import COMPARED_METRICS, artifact_key, compare
from schoolbus.service.routers.projects import read_upload
from schoolbus.service.scenarios import default_fleet_yaml, fleet_yaml, scenario_from_document
from schoolbus.service.schemas import PUBLIC_ID_PATTERN, Id
from schoolbus.service.throttle import TooManyAttempts

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))

POLICY_FIELDS = (
    ("walk_limit_m", N_("Walk limit (m)"), float),
    ("max_ride_min", N_("Longest ride (min)"), float),
    ("arrival_buffer_min", N_("Arrival before the bell (min)"), float),
    ("escort_max_grade", N_("Escort up to grade"), int),
)
METRIC_LABELS = {
    "n_vehicles": N_("Vehicles"),
    "n_trips": N_("Trips"),
    "n_students": N_("Pupils"),
    "n_routed": N_("Pupils carried"),
    "n_unserved": N_("Pupils without a bus place"),
    "distance_m": N_("Distance per day"),
    "deadhead_m": N_("Empty driving per day"),
    "cost_per_day": N_("Cost per day"),
    "cost_per_year": N_("Cost per year"),
    "cost_per_student_per_day": N_("Cost per pupil per day"),
    "cost_per_student_per_year": N_("Cost per pupil per year"),
    "mean_ride_s": N_("Mean ride"),
    "p95_ride_s": N_("95th percentile ride"),
    "max_ride_s": N_("Longest ride"),
    "mean_walk_m": N_("Mean walk"),
    "max_walk_m": N_("Longest walk"),
}
EXPORT_LABELS = {
    # CSV tables come from /plans/{id}/spreadsheet/ (headers and separators a spreadsheet expects).
    "plan.xlsx": N_("Workbook (Excel)"),
    "routes.csv": N_("Routes (CSV)"),
    "stops.csv": N_("Stops (CSV)"),
    "assignments.csv": N_("Pupils and their stops (CSV)"),
    "vehicles.csv": N_("Vehicles (CSV)"),
    "routes.geojson": N_("Routes (GeoJSON)"),
    "stops.geojson": N_("Stops (GeoJSON)"),
}
"""The plan's export files and what the page calls them."""
FLASH_COOKIE = "schoolbus_flash"
FLASHES = {
    "uploaded-students": N_("Pupils file saved."),
    "uploaded-schools": N_("Schools file saved."),
    "uploaded-fleet": N_("Fleet file saved."),
    "uploaded-policy": N_("Policy file saved."),
    "uploaded-hazards": N_("Hazards file saved."),
    "uploaded-network": N_("Road network saved."),
    "policy-saved": N_("Policy saved. It applies to scenarios you create from now on."),
    "fleet-saved": N_("Fleet and prices saved. They apply to scenarios you create from now on."),
    "applied-new": N_("Saved and applied to a new scenario: plan it to see the effect."),
    "applied-this": N_("Saved and applied to the scenario: plan it again to see the effect."),
    "scenario-created": N_("Scenario created: make its plan next."),
    "job-submitted": N_("Planning started; its progress shows below."),
    "job-cancelled": N_("The job was cancelled."),
    "password-changed": N_("Your password was changed."),
    "contractors-saved": N_("Contractors saved."),
    "member-added": N_("Member added."),
    "totp-enrolled": N_("Authenticator app set up."),
    "hazard-added": N_("Hazard added. Scenarios created from now on carry it."),
    "hazards-cleared": N_("All hazards removed."),
}
"""Messages shown once after an action, by code (a cookie carries the code, never text)."""
CHARTED_METRICS = ("n_vehicles", "cost_per_day", "cost_per_student_per_year", "n_unserved", "mean_ride_s", "distance_m")
CHART_WIDTH_PX = 320
MIN_SHARE_FOR_ESTIMATE = 0.05
"""A job's time left is estimated once this share of its stage is done (earlier guesses jump about)."""


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
    flash_code = request.cookies.get(FLASH_COOKIE)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "_": lambda text, **params: translate(text, language) % params if params else translate(text, language),
            "fmt": Formats(language),
            "flash": translate(FLASHES[flash_code], language) if flash_code in FLASHES and status_code < 400 else None,
            "language": language,
            "languages": PAGE_LANGUAGES,
            "signed": signed,
            "user": signed.user if signed else None,
            "csrf": signed.csrf_token if signed else "",
            "min_password_chars": auth.MIN_PASSWORD_CHARS,
            **context,
        },
        status_code=status_code,
    )
    if flash_code is not None:
        response.delete_cookie(FLASH_COOKIE)
    return response


def redirect_back(url: str, flash: str | None = None) -> RedirectResponse:
    """A see-other redirect to ``url``; ``flash`` (a :data:`FLASHES` code) is said once there."""
    response = RedirectResponse(url, status_code=303)
    if flash is not None:
        response.set_cookie(FLASH_COOKIE, flash, max_age=60, httponly=True, samesite="lax")
    return response


FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.svg"


@router.get("/favicon.svg")
@router.get("/favicon.ico")
def favicon() -> Response:
    """The page's icon (a school bus); browsers ask for /favicon.ico on every page otherwise."""
    return Response(FAVICON.read_bytes(), media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


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
        return redirect_back("/login?error=csrf")
    try:
        user = sign_in(request, session, username, password, code.strip() or None, "page")
    except TooManyAttempts as error:
        retry = math.ceil(error.retry_after_s)
        response = render(request, "login.html", None, status_code=429, login_csrf=csrf_token, error="throttled", retry_after_s=retry)
        response.headers["Retry-After"] = str(retry)
        return response
    except auth.SecondFactorNeeded:
        return redirect_back("/login?error=totp")
    except AuthError:
        return redirect_back("/login?error=credentials")
    language = page_language(request.cookies.get("schoolbus_lang"))
    cookie = auth.open_session(session, user, language)
    response = redirect_back("/account/password" if user.must_change_password else "/")
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
    response = redirect_back("/login")
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
    response = redirect_back(target)
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
    repeat_password: str = Form(""),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(page_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    user = session.get(User, signed.user.id)
    if new_password != repeat_password:
        return render(request, "password.html", signed, status_code=422, error=translate("The two new passwords differ.", signed.language))
    try:
        auth.change_password(session, user, current_password, new_password, keep_session_id=signed.session_id)
    except (AuthError, ValueError) as error:
        return render(request, "password.html", signed, status_code=422, error=_password_error(error, signed.language))
    store.audit(session, user, "change_password", user.username)
    return redirect_back("/", "password-changed")


def _password_error(error: Exception, language: str) -> str:
    """The password change's refusal in the page's language."""
    if isinstance(error, AuthError):
        return translate("The current password is wrong.", language)
    text = str(error)
    if "different from the current" in text:
        return translate("The new password must differ from the current one.", language)
    if "characters" in text:
        return translate("The new password needs at least %(n)s characters.", language) % {"n": auth.MIN_PASSWORD_CHARS}
    return translate("The new password is too easy to guess; choose a longer or less common one.", language)


@router.post("/account/logout-everywhere")
def logout_everywhere(csrf_token: str = Form(""), signed: SignedIn = Depends(page_user), session: Session = Depends(db_session, scope="function")) -> Response:
    check_csrf(signed, csrf_token)
    user = session.get(User, signed.user.id)
    n = auth.revoke_all(session, user)
    store.audit(session, user, "logout_everywhere", f"{n} sessions and tokens")
    response = redirect_back("/login")
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
    return redirect_back("/", "totp-enrolled")


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
        projects=[_project_line(session, user, project) for project in store.list_projects(session, user)],
        sheets=sheets,
        may_create=user.role in ("admin", "officer"),
    )


def _project_line(session: Session, user: User, project: Project) -> dict:
    """A home page row: the project, its latest plan's pupils and cost, its latest job's status."""
    plans = store.list_plans(session, user, project.public_id) if user.role != "contractor" else []
    jobs = store.list_jobs(session, user, project.public_id)
    latest = plans[-1] if plans else None
    summary = store.plan_summary(latest) if latest is not None else None
    return {
        "project": project,
        "n_plans": len(plans),
        "status": jobs[0].status if jobs else None,
        "changed_at": max([project.created_at] + [p.created_at for p in plans] + [j.created_at for j in jobs]),
        "n_students": summary["n_students"] if summary else None,
        "cost_per_year": summary["cost_per_year"] if summary else None,
        "currency": _plan_currency(latest) if latest is not None else "",
    }


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
            request, "index.html", signed, status_code=422,
            projects=[_project_line(session, signed.user, p) for p in store.list_projects(session, signed.user)],
            sheets=[], may_create=True, problems=error.problems,
        )
    return redirect_back(f"/projects/{project.public_id}")


def _project_page(request: Request, session: Session, signed: SignedIn, project_id: Id, status_code: int = 200, **extra) -> HTMLResponse:
    user = signed.user
    language = signed.language
    project = store.get_project(session, user, project_id, auth.READ_SUMMARY)
    may_edit = auth.may(session, user, project.id, EDIT)
    files = store.input_files(session, project.id)
    jobs = store.list_jobs(session, user, project_id)
    scenarios = store.list_scenarios(session, user, project_id)
    plans = store.list_plans(session, user, project_id)
    documents = {s.id: page_data.scenario_document(s) for s in scenarios}
    base = documents[scenarios[0].id] if scenarios else None
    latest = documents[scenarios[-1].id] if scenarios else None
    scenario_rows = [
        page_data.ScenarioRow(
            record=s,
            differences=page_data.settings_summary(documents[s.id], None if i == 0 else base, language),
            has_plans=store.scenario_has_plans(session, s),
        )
        for i, s in enumerate(scenarios)
    ]
    scenario_names = {s.id: s.name for s in scenarios}
    differences = {row.record.id: row.differences for row in scenario_rows}
    policy_values: dict = {}
    fleet_text = ""
    fleet_form = None
    if may_edit:
        policy_values = _policy_form_values(files, latest)
        fleet, prices, fleet_text = _current_fleet(files, latest)
        fleet_form = extra.pop("fleet_form", None) or page_forms.fleet_form_values(fleet, prices)
        # The hazard drawing map: Leaflet and hazard_draw.js, same-origin files carrying the nonce.
        security.allow_page_scripts(request)
    running = [j for j in jobs if j.status in ("queued", "running")]
    return render(
        request,
        "project.html",
        signed,
        status_code=status_code,
        project=project,
        may_edit=may_edit,
        may_full=auth.may(session, user, project.id, READ_FULL),
        files=files,
        steps=page_data.project_steps(files, project, scenarios, plans, language),
        scenarios=scenario_rows,
        jobs=[_job_view(j, signed.language, _typical_job_s(jobs)) for j in jobs],
        plans=[
            {
                "record": p,
                "summary": store.plan_summary(p),
                "currency": _plan_currency(p),
                "scenario": scenario_names.get(p.scenario_id, ""),
                "differences": differences.get(p.scenario_id, []),
            }
            for p in plans
        ],
        plan_public_ids={p.id: p.public_id for p in plans},
        refresh=bool(running),
        policy_fields=POLICY_FIELDS,
        policy_values=extra.pop("policy_values", policy_values),
        fleet_text=extra.pop("fleet_text", fleet_text),
        fleet_form=fleet_form,
        fleet_columns=page_forms.VEHICLE_COLUMNS,
        input_files=page_data.INPUT_FILES,
        count_words=page_data.FILE_COUNT_WORDS,
        price_fields=page_forms.PRICE_FIELDS,
        is_demo=project.name == store.DEMO_PROJECT,
        hazard_map=_hazard_map(files) if may_edit else None,
        problems=extra.pop("problems", None),
        problem_title=extra.pop("problem_title", None),
        **extra,
    )


def _plan_currency(record) -> str:
    return _currency_of(record.document)


@functools.lru_cache(maxsize=64)
def _currency_of(document: str) -> str:
    return json.loads(document).get("currency", "")


def _typical_job_s(jobs: list[Job]) -> float | None:
    """The median run time of this project's finished plan jobs (``None`` before the first)."""
    times = sorted(
        (j.finished_at - j.started_at).total_seconds()
        for j in jobs
        if j.status == "succeeded" and j.started_at is not None and j.finished_at is not None
    )
    return times[len(times) // 2] if times else None


def _job_view(job: Job, language: str, typical_s: float | None = None) -> dict:
    """A job as the page shows it: stage in words, a share done, elapsed time and an estimate.

    The estimate is the project's typical plan time less the time spent (once a plan has been
    made), else the current stage's time left from its share done.
    """
    fmt = Formats(language)
    share = job.done / job.total if job.total else None
    elapsed_s = None
    remaining_s = None
    remaining_words = None
    if job.started_at is not None:
        end = job.finished_at or db_utcnow()
        elapsed_s = max((end - job.started_at).total_seconds(), 0.0)
        if job.status == "running" and typical_s is not None and typical_s > elapsed_s:
            remaining_s = typical_s - elapsed_s
            remaining_words = translate("about %(time)s left (as the project's earlier plans took)", language)
        elif job.status == "running" and share and share > MIN_SHARE_FOR_ESTIMATE:
            remaining_s = elapsed_s * (1 - share) / share
            remaining_words = translate("about %(time)s left in this stage", language)
    return {
        "public_id": job.public_id,
        "status": job.status,
        "status_words": fmt.status(job.status),
        "stage": fmt.stage(job.stage or ""),
        "done": job.done,
        "total": job.total,
        "percent": None if share is None else round(100 * min(share, 1.0)),
        "elapsed": None if elapsed_s is None else fmt.minutes(elapsed_s),
        "remaining": None if remaining_s is None else remaining_words % {"time": fmt.minutes(remaining_s)},
        "error": job.error,
        "plan_id": job.plan_id,
        "is_active": job.status in ("queued", "running"),
    }


def _policy_form_values(files: dict, latest: dict | None) -> dict:
    """The policy form's values: the project's policy file, else the latest scenario's policy."""
    import yaml

    if "policy" in files and files["policy"].filename.endswith((".yaml", ".yml")):
        values = yaml.safe_load(files["policy"].content.decode("utf-8")) or {}
        return values if isinstance(values, dict) else {}
    if latest is not None:
        policy = latest.get("policy", {})
        return {
            "walk_limit_m": policy.get("walk_limit_m"),
            "max_ride_min": policy["max_ride_s"] / 60 if policy.get("max_ride_s") is not None else None,
            "arrival_buffer_min": policy["arrival_buffer_s"] / 60 if policy.get("arrival_buffer_s") is not None else None,
            "escort_max_grade": policy.get("escort_max_grade"),
        }
    return {}


def _current_fleet(files: dict, latest: dict | None):
    """(fleet, prices, fleet.yaml text): the project's fleet file, else the latest scenario's, else the defaults."""
    from schoolbus.ingest import DEFAULT_FLEET, DEFAULT_PRICES

    if "fleet" in files:
        try:
            fleet, prices = page_forms.read_fleet_bytes(files["fleet"].filename, files["fleet"].content)
            return fleet, prices, files["fleet"].content.decode("utf-8", errors="replace")
        except InputError:
            pass
    if latest is not None:
        scenario = scenario_from_document(latest)
        return scenario.fleet, scenario.prices, fleet_yaml(scenario.fleet, scenario.prices)
    return DEFAULT_FLEET, DEFAULT_PRICES, default_fleet_yaml()


def _hazard_map(files):
    from schoolbus.service.routers.hazards import hazard_map_data

    return hazard_map_data(files)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_page(project_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    return _project_page(request, session, signed, project_id)


def invalid_page(request, session, signed, project_id, error: InputError, title: str, **extra) -> HTMLResponse:
    session.rollback()
    problems = page_forms.translated_problems(error.problems, signed.language)
    return _project_page(request, session, signed, project_id, status_code=422, problems=problems,
                         problem_title=translate(PROBLEM_TITLES.get(title, title), signed.language), **extra)


PROBLEM_TITLES = {
    "students": N_("Pupils file"),
    "schools": N_("Schools file"),
    "fleet": N_("Fleet and prices"),
    "policy": N_("Policy"),
    "hazards": N_("Hazards"),
    "network": N_("Road network"),
    "scenario": N_("Scenario"),
    "job": N_("Plan"),
    "member": N_("Members"),
}


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
            store.save_input(
                session, signed.user, project_id, kind, file.filename, content,
                language=signed.language, cache_dir=request.app.state.config.data_dir / "cache",
            )
    except InputError as error:
        return invalid_page(request, session, signed, project_id, error, kind)
    return redirect_back(f"/projects/{project_id}", f"uploaded-{kind}" if f"uploaded-{kind}" in FLASHES else None)


def _apply_target(session: Session, signed: SignedIn, project_id: str, apply_to: str):
    """The scenario a settings change starts from, and whether it is replaced: (record or None, replace)."""
    if apply_to.startswith("this:"):
        return store.get_scenario(session, signed.user, apply_to[len("this:"):], EDIT), True
    if apply_to.startswith("new:"):
        return store.get_scenario(session, signed.user, apply_to[len("new:"):], EDIT), False
    return None, False


def _apply(session, signed, project_id: str, apply_to: str, new_name: str, change) -> str | None:
    """Apply ``change`` (scenario → scenario) as ``apply_to`` asks; the flash code, or ``None``."""
    record, replace = _apply_target(session, signed, project_id, apply_to)
    if record is None:
        return None
    base = scenario_from_document(page_data.scenario_document(record))
    if replace:
        store.replace_scenario(session, signed.user, record.public_id, change(base))
        return "applied-this"
    name = new_name.strip() or f"{record.name} ({len(store.list_scenarios(session, signed.user, project_id)) + 1})"
    store.add_scenario(session, signed.user, project_id, dataclasses.replace(change(base), name=name))
    return "applied-new"


@router.post("/projects/{project_id}/policy")
async def set_policy(project_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> Response:
    form = await request.form()
    check_csrf(signed, form.get("csrf_token"))
    store.get_project(session, signed.user, project_id, EDIT)  # the right to edit before any validation
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
    apply_to, new_name = str(form.get("apply_to", "")), str(form.get("new_name", ""))
    try:
        if problems:
            raise InputError(problems)
        files = store.input_files(session, store.get_project(session, signed.user, project_id, EDIT).id)
        merged = page_forms.merged_policy(files.get("policy"), document)
        policy = await run_in_threadpool(page_forms.policy_from_form, merged)
        await run_in_threadpool(store.save_document, session, signed.user, project_id, "policy", merged)
        flash = _apply(session, signed, project_id, apply_to, new_name, lambda s: page_forms.with_policy(s, policy, document))
    except InputError as error:
        return invalid_page(request, session, signed, project_id, error, "policy", policy_values=dict(form))
    return redirect_back(f"/projects/{project_id}", flash or "policy-saved")


@router.post("/projects/{project_id}/fleet")
async def set_fleet(project_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> Response:
    """The fleet and prices form (or, with ``fleet_yaml``, the YAML text box): validated, saved, applied."""
    form = await request.form()
    check_csrf(signed, form.get("csrf_token"))
    store.get_project(session, signed.user, project_id, EDIT)  # the right to edit before any validation
    apply_to, new_name = str(form.get("apply_to", "")), str(form.get("new_name", ""))
    text = form.get("fleet_yaml")
    try:
        if text is not None:
            content = str(text).encode("utf-8")
        else:
            content = page_forms.fleet_yaml_from_form(form)
        fleet, prices = await run_in_threadpool(page_forms.read_fleet_bytes, "fleet.yaml", content)
        await run_in_threadpool(store.save_input, session, signed.user, project_id, "fleet", "fleet.yaml", content)
        flash = _apply(session, signed, project_id, apply_to, new_name, lambda s: dataclasses.replace(s, fleet=fleet, prices=prices))
    except InputError as error:
        extra = {"fleet_text": str(text)} if text is not None else {"fleet_form": page_forms.fleet_form_echo(form)}
        return invalid_page(request, session, signed, project_id, error, "fleet", **extra)
    return redirect_back(f"/projects/{project_id}", flash or "fleet-saved")


def budget_from_form(text: str) -> float | None:
    """The scenario form's annual budget (empty: none); a clear problem when it is not a number."""
    from schoolbus.budget import budget_problem
    from schoolbus.ingest import number_from_cell as number_of

    if not text.strip():
        return None
    value = number_of(text.strip())
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
    base: str = Form(""),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    """A new scenario from the project's files, or (``base``: a scenario id) as a copy of a scenario."""
    check_csrf(signed, csrf_token)
    try:
        budget_per_year = budget_from_form(budget)
        if base:
            record = store.get_scenario(session, signed.user, base, EDIT)
            scenario = scenario_from_document(page_data.scenario_document(record))
            store.add_scenario(session, signed.user, project_id, dataclasses.replace(
                scenario, name=name, budget_per_year=budget_per_year, choose_bells=choose_bells == "on"))
        else:
            store.create_scenario(
                session, signed.user, project_id, name, budget_per_year, choose_bells == "on",
                language=signed.language, cache_dir=request.app.state.config.data_dir / "cache",
            )
    except InputError as error:
        return invalid_page(request, session, signed, project_id, error, "scenario")
    return redirect_back(f"/projects/{project_id}", "scenario-created")


@router.post("/scenarios/{scenario_id}/jobs")
def run(
    scenario_id: Id,
    request: Request,
    time_limit_s: str = Form("5"),
    seed: str = Form("0"),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    record = store.get_scenario(session, signed.user, scenario_id, EDIT)
    project_public_id = store.public_id_of(session, Project, record.project_id)
    try:
        limit_s, seed_value = page_forms.run_settings(time_limit_s, seed)
        store.submit_job(session, signed.user, scenario_id, min(max(limit_s, 0.1), store.MAX_TIME_LIMIT_S), seed_value)
    except InputError as error:
        return invalid_page(request, session, signed, project_public_id, error, "job")
    session.commit()
    request.app.state.runner.wake()
    return redirect_back(f"/projects/{project_public_id}", "job-submitted")


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: Id, request: Request, csrf_token: str = Form(""), signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> Response:
    check_csrf(signed, csrf_token)
    job: Job = store.get_job(session, signed.user, job_id, EDIT)
    cancel_job(request.app.state.sessions, job.id)
    request.app.state.runner.wake()
    return redirect_back(f"/projects/{store.public_id_of(session, Project, job.project_id)}", "job-cancelled")


# --------------------------------------------------------------------------------------------------
# Plans and comparison
# --------------------------------------------------------------------------------------------------


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(plan_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    user = signed.user
    record = store.get_plan(session, user, plan_id)
    plan = store.load_plan(session, record)
    vehicle_ids = [v.id for v in plan.vehicles]
    sheet_ids = auth.sheet_vehicles(session, user, record.id, record.project_id, vehicle_ids)
    is_contractor = user.role == "contractor"
    may_edit = not is_contractor and auth.may(session, user, record.project_id, EDIT)
    contractors = [u.username for u in session.scalars(select(User).where(User.role == "contractor").order_by(User.username))] if may_edit else []
    may_full = not is_contractor and auth.may(session, user, record.project_id, READ_FULL)
    return render(
        request,
        "plan.html",
        signed,
        record=record,
        summary=None if is_contractor else asdict(plan.summary),
        currency=plan.scenario.prices.currency,
        vehicles=[asdict(v) for v in plan.vehicles if not is_contractor or v.id in sheet_ids],
        sheet_ids=sheet_ids,
        show_map=not is_contractor,
        may_full=may_full,
        may_edit=may_edit,
        contractor_map=store.contractor_map(session, record.id) if may_edit else {},
        project_public_id=store.public_id_of(session, Project, record.project_id),
        contractors=contractors,
        exports=EXPORT_LABELS,
        metric_labels=METRIC_LABELS,
        reasons=page_data.reason_counts(page_data.unserved_rows(plan, signed.language)) if may_full else [],
    )


@router.get("/plans/{plan_id}/unserved", response_class=HTMLResponse)
def unserved_page(
    plan_id: Id,
    request: Request,
    reason: str = Query("", max_length=60),
    school: str = Query("", max_length=120),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    """The plan's pupils without a bus place, with the reason in words; filter by reason and school."""
    record = store.get_plan(session, signed.user, plan_id)
    auth.require(session, signed.user, record.project_id, READ_FULL)
    rows = page_data.unserved_rows(store.load_plan(session, record), signed.language)
    shown = [r for r in rows if (not reason or r["code"] == reason) and (not school or r["school_id"] == school)]
    return render(
        request,
        "unserved.html",
        signed,
        record=record,
        project_public_id=store.public_id_of(session, Project, record.project_id),
        rows=shown,
        n_all=len(rows),
        reasons=page_data.reason_counts(rows),
        schools=sorted({(r["school_id"], r["school"]) for r in rows}, key=lambda s: s[1]),
        reason=reason,
        school=school,
    )


_notices_lock = threading.Lock()
_notices_preparing: dict[str, dict] = {}
"""Plan artifact key → {"done", "total", "started", "error"} of parent notices being rendered."""


def _prepare_notices(data_dir: Path, key: str, plan) -> None:
    state = _notices_preparing[key]

    def progress(done: int, total: int) -> None:
        state.update(done=done, total=total)

    try:
        artifacts.parent_notices(data_dir, key, plan, progress=progress)
    except Exception as error:  # noqa: BLE001 - shown on the page instead of a silent stop
        state["error"] = str(error)
        return
    with _notices_lock:
        _notices_preparing.pop(key, None)


@router.get("/plans/{plan_id}/notices", response_class=HTMLResponse)
def notices_page(plan_id: Id, request: Request, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    """Parent notices prepared in the background, with their progress; a download link once ready."""
    record = store.get_plan(session, signed.user, plan_id)
    auth.require(session, signed.user, record.project_id, READ_FULL)
    store.require_released(session, record, "parent notices")
    data_dir = Path(request.app.state.config.data_dir)
    key = artifact_key(record)
    is_ready = (artifacts.notices_folder(data_dir, key) / "notices.pdf").is_file()
    state = None
    if not is_ready:
        with _notices_lock:
            state = _notices_preparing.get(key)
            if state is None or state.get("error"):
                state = {"done": 0, "total": 0, "started": time.monotonic(), "error": None}
                _notices_preparing[key] = state
                plan = store.load_plan(session, record)
                threading.Thread(target=_prepare_notices, args=(data_dir, key, plan), daemon=True).start()
    fmt = Formats(signed.language)
    return render(
        request,
        "notices.html",
        signed,
        record=record,
        is_ready=is_ready,
        refresh=not is_ready and not (state and state.get("error")),
        error=state.get("error") if state else None,
        percent=round(100 * state["done"] / state["total"]) if state and state["total"] else 0,
        elapsed=fmt.minutes(time.monotonic() - state["started"]) if state else None,
    )


SPREADSHEET_TABLES = {"routes.csv": "routes", "stops.csv": "stops", "assignments.csv": "assignments", "vehicles.csv": "vehicles"}


@router.get("/plans/{plan_id}/spreadsheet/{name}")
def spreadsheet_csv(plan_id: Id, name: str, signed: SignedIn = Depends(active_user), session: Session = Depends(db_session, scope="function")) -> Response:
    """A plan table as a CSV for a person's spreadsheet: headers in the page's language, and in
    Turkish ``;`` between cells and decimal commas (the API's CSVs keep stable keys for tools)."""
    import tempfile

    from schoolbus.outputs.export import plan_tables, write_csv

    record = store.get_plan(session, signed.user, plan_id)
    auth.require(session, signed.user, record.project_id, READ_FULL)
    if name not in SPREADSHEET_TABLES:
        raise store.NotFound(f"no table {name!r}; expected one of {', '.join(SPREADSHEET_TABLES)}")
    table = next(t for t in plan_tables(store.load_plan(session, record), signed.language) if t.name == SPREADSHEET_TABLES[name])
    with tempfile.TemporaryDirectory(prefix="schoolbus-csv-") as folder:
        path = Path(folder) / name
        write_csv(table, path, for_spreadsheet_language=signed.language)
        content = path.read_bytes()
    store.audit(session, signed.user, "download_export", f"plan {plan_id}: {name} for a spreadsheet ({signed.language})")
    filename = f"{Path(name).stem}.{signed.language}.csv"
    return Response(content, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


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
    return redirect_back(f"/plans/{plan_id}", "contractors-saved")


def _bars(values: list[float | None]) -> list[float]:
    """Bar lengths in pixels, the largest value at full width."""
    numbers = [v for v in values if isinstance(v, (int, float))]
    top = max(numbers, default=0) or 1
    return [CHART_WIDTH_PX * (v / top) if isinstance(v, (int, float)) and v > 0 else 0.0 for v in values]


def _deltas(key: str, values: list, fmt: Formats, currency: str) -> list[str]:
    """Each value's difference from the first plan's, formatted in the metric's unit (``""`` for the first)."""
    first = values[0]
    out = [""]
    for v in values[1:]:
        if v is None or first is None:
            out.append("–")
            continue
        change = v - first
        if change == 0:
            out.append("0")
            continue
        text = fmt.metric(key, abs(change), currency)
        out.append(("+" if change > 0 else "−") + text)
    return out


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
        return render(request, "compare.html", signed, comparison=None, back=back, n_ticked=len(plan_id), status_code=422)
    comparison = compare(session, signed.user, plan_id[:6])
    fmt = Formats(signed.language)
    records = [store.get_plan(session, signed.user, p.id) for p in comparison.plans]
    currency = _plan_currency(records[0])
    back = f"/projects/{comparison.plans[0].project_id}"
    rows = {m.key: m.values for m in comparison.metrics}
    # "numbers", not "values": Jinja would find the dict's values() method first.
    charts = [
        {"key": key, "label": METRIC_LABELS[key], "numbers": rows[key], "bars": _bars(rows[key]),
         "shown": [fmt.metric(key, v, currency) for v in rows[key]]}
        for key in CHARTED_METRICS
    ]
    table = [
        {"label": METRIC_LABELS[key], "key": key, "shown": [fmt.metric(key, v, currency) for v in rows[key]],
         "deltas": _deltas(key, rows[key], fmt, currency)}
        for key in COMPARED_METRICS
    ]
    scenario_lines = _compared_scenarios(session, signed, records)
    return render(
        request,
        "compare.html",
        signed,
        comparison=comparison,
        rows=table,
        charts=charts,
        chart_width=CHART_WIDTH_PX,
        back=back,
        scenario_lines=scenario_lines,
        extras=page_compare.extra_sections(session, records, signed.language),
    )


def _compared_scenarios(session: Session, signed: SignedIn, records: list) -> list[list[str]]:
    """Per plan, what its scenario's settings are (the first) or how they differ from the first's."""
    from schoolbus.service.db import ScenarioRecord

    documents = [session.get(ScenarioRecord, r.scenario_id) if r.scenario_id else None for r in records]
    parsed = [page_data.scenario_document(d) if d is not None else None for d in documents]
    base = parsed[0]
    return [
        page_data.settings_summary(doc, None if i == 0 else base, signed.language) if doc is not None else []
        for i, doc in enumerate(parsed)
    ]


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
    return redirect_back("/admin/users")


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
    return redirect_back("/admin/users")


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
        return invalid_page(request, session, signed, project_id, InputError(problems), "member")
    return redirect_back(f"/projects/{project_id}", "member-added")
