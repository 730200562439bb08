"""``create_app(config)``: the FastAPI app, its store, its job runner and its error mapping.

On start the store is created or migrated, a fresh store gets its first ``admin`` account (the
one-time password is handed to ``config.print_admin_password``), jobs orphaned by a previous
server are failed (:mod:`schoolbus.service.jobs`), and a store with no project gets the ``demo``
project with its planning job queued. None of that waits for a solve.
"""

from __future__ import annotations

import html
import logging
import math
import re
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from schoolbus.errors import InputError, SchoolbusError
from schoolbus.service import auth, store
from schoolbus.service.auth import AuthError, Forbidden
from schoolbus.service.config import ServiceConfig
from schoolbus.service.db import SCHEMA_VERSION, make_engine, migrate, session_factory
from schoolbus.service.i18n import page_language, translate
from schoolbus.service.jobs import JobRunner
from schoolbus.service.routers import accounts, geocode, hazards, pages, plans, projects, versions
from schoolbus.service.schemas import ErrorOut, HealthOut
from schoolbus.service.security import SecurityMiddleware
from schoolbus.service.throttle import LoginThrottle, TooManyAttempts

API_PREFIX = "/api/v1"
log = logging.getLogger("schoolbus.service")

ERROR_RESPONSES = {status: {"model": ErrorOut} for status in (400, 401, 403, 404, 413, 422)}
ERROR_RESPONSES[400]["description"] = "Malformed request body (JSON that does not parse, a broken multipart form)"
ERROR_RESPONSES[413]["description"] = "Request body over its limit (uploads 200 MiB, anything else 2 MiB)"


def _problem_value(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def error_body(code: str, message: str, problems=()) -> dict:
    return {
        "code": code,
        "message": message,
        "problems": [
            {
                "file": p.file,
                "row": p.row,
                "column": p.column,
                "value": _problem_value(p.value),
                "expected": p.expected,
                "message": str(p),
            }
            for p in problems
        ],
    }


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIX) and request.url.path != "/openapi.json"


def page_routes(app: FastAPI) -> list[APIRoute]:
    """Every route outside the OpenAPI schema: the pages of every router included in ``app``."""
    found: list[APIRoute] = []

    def walk(routes) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # an included router, as FastAPI keeps it
            if included is not None:
                walk(included.routes)
            elif isinstance(route, APIRoute) and not route.include_in_schema:
                found.append(route)

    walk(app.routes)
    return found


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of ``app`` answers at ``path`` (for a 405's ``Allow``)."""
    if not hasattr(app.state, "route_patterns"):
        patterns: list[tuple[re.Pattern, str]] = []
        for template, operations in app.openapi()["paths"].items():
            regex = compile_path(template)[0]
            patterns += [(regex, method.upper()) for method in operations]
        for route in page_routes(app):
            patterns += [(compile_path(route.path)[0], method) for method in route.methods]
        app.state.route_patterns = patterns
    methods = {method for regex, method in app.state.route_patterns if regex.match(path)}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def create_app(config: ServiceConfig) -> FastAPI:
    """The service app for ``config`` (nothing starts until its lifespan runs)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        Path(config.data_dir).mkdir(parents=True, exist_ok=True)
        engine = make_engine(config.url)
        migrate(engine)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            password = auth.ensure_first_admin(session)
        if password is not None:
            announce = config.print_admin_password or (
                lambda username, secret: log.warning("first start: account %r, one-time password %s", username, secret)
            )
            announce("admin", password)
        runner = JobRunner(sessions, config.url, str(Path(config.data_dir).resolve()), config.max_jobs)
        runner.start()
        if config.preload_demo:
            with sessions.begin() as session:
                store.preload_demo(session, config.demo_n_students)
            runner.wake()
        app.state.config = config
        app.state.sessions = sessions
        app.state.runner = runner
        app.state.schema_version = SCHEMA_VERSION
        try:
            yield
        finally:
            runner.stop()
            engine.dispose()

    app = FastAPI(
        title="schoolbus",
        version="1",
        summary="School-transport route planning: projects, inputs, planning jobs, plans and their outputs.",
        description=(
            "Sign in with `POST /api/v1/auth/token` and send `Authorization: Bearer <token>`. "
            "Roles: admin; officer (everything in their projects); manager (plans without student-level "
            "data, comparisons); contractor (only the route sheets of their vehicles, pupils by id and initials). "
            "No response to a manager or contractor carries a home location."
        ),
        lifespan=lifespan,
    )

    @app.exception_handler(InputError)
    async def _input_error(request: Request, error: InputError):
        head = str(error).split("\n", 1)[0]
        return JSONResponse(error_body(error.code, head, error.problems), status_code=error.http_status)

    @app.exception_handler(SchoolbusError)
    async def _schoolbus_error(request: Request, error: SchoolbusError):
        return JSONResponse(error_body(error.code, str(error)), status_code=error.http_status)

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, error: AuthError):
        if _wants_page(request):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse(error_body(error.code, str(error)), status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(TooManyAttempts)
    async def _too_many(request: Request, error: TooManyAttempts):
        retry = str(math.ceil(error.retry_after_s))
        return JSONResponse(error_body("too_many_attempts", str(error)), status_code=429, headers={"Retry-After": retry})

    @app.exception_handler(pages.PasswordFirst)
    async def _password_first(request: Request, error: pages.PasswordFirst):
        return RedirectResponse("/account/password", status_code=303)

    @app.exception_handler(pages.TotpFirst)
    async def _totp_first(request: Request, error: pages.TotpFirst):
        return RedirectResponse("/account/totp", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, error: Forbidden):
        if _wants_page(request):
            # The same words whether it is not yours or not there; in the page's language.
            language = page_language(request.cookies.get("schoolbus_lang"))
            said = html.escape(translate("You may not open this page, or it does not exist.", language))
            back = html.escape(translate("Back to the projects", language))
            return HTMLResponse(
                f"<!doctype html><html lang='{language}'><title>403</title><p>{said}</p><p><a href='/'>← {back}</a></p></html>",
                status_code=403,
            )
        return JSONResponse(error_body(getattr(error, "code", "forbidden"), str(error)), status_code=403)

    @app.exception_handler(store.NotFound)
    async def _not_found(request: Request, error: store.NotFound):
        return JSONResponse(error_body("not_found", str(error)), status_code=404)

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, error: ValueError):
        # Account rules (username, role, password strength) are reported as invalid input.
        return JSONResponse(error_body("invalid_input", str(error)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException):
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Starlette names the methods of the first route that matched the path; the path may
            # have others (GET and PUT are separate routes).
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        code = {400: "malformed_request", 404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return JSONResponse(error_body(code, str(error.detail)), status_code=error.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, error: RequestValidationError):
        from schoolbus.errors import Problem

        if any(e.get("type") == "json_invalid" for e in error.errors()):
            return JSONResponse(error_body("malformed_request", "the request body is not valid JSON"), status_code=400)
        problems = [
            Problem("request", None, ".".join(str(part) for part in e.get("loc", ())), e.get("input"), e.get("msg", ""))
            for e in error.errors()
        ]
        return JSONResponse(error_body("invalid_request", f"{len(problems)} problem(s) in the request", problems), status_code=422)

    app.state.throttle = LoginThrottle()
    app.add_middleware(SecurityMiddleware)

    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)

    @api.get("/health", response_model=HealthOut, tags=["service"])
    def health(request: Request) -> HealthOut:
        return HealthOut(status="ok", schema_version=request.app.state.schema_version, running_jobs=request.app.state.runner.n_running)

    api.include_router(accounts.router)
    api.include_router(projects.router)
    api.include_router(plans.router)
    api.include_router(geocode.router)
    api.include_router(versions.router)
    app.include_router(api)
    app.include_router(pages.router)
    app.include_router(geocode.page_router)
    app.include_router(versions.page_router)
    app.include_router(hazards.router)
    return app
