"""Who may reach what: every route of the service (the OpenAPI schema's and the page's), for
anonymous, contractor, manager, officer, admin and an officer of another project ("outsider").

:data:`MATRIX` classifies each route once; a route the app serves that the table does not list
fails :func:`test_every_route_is_classified`, so a new route cannot ship unclassified. Each cell
is ``allow`` (the request gets past authorisation: any status but 401, 403 or a redirect to the
sign-in page), ``deny`` (one of those) or ``any`` (public routes: only never a 500). State is
restored after every request, so the order of the requests changes nothing.

The second part checks "one 403 for not yours or not there": another project's object and an
object that does not exist get the same answer, and adding a member never tells an admin's name
from an unknown one.
"""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import delete, select

from schoolbus.service import auth
from schoolbus.service.app import page_routes
from schoolbus.service.db import Project, Setting, User, WebSession
from schoolbus.service.deps import SESSION_COOKIE
from security_figures import record
from security_service import PASSWORD, seeded_service

ROLES = ("anonymous", "contractor", "manager", "officer", "admin", "outsider")
ACCOUNT = {"contractor": "cem", "manager": "mert", "officer": "olga", "admin": "admin", "outsider": "oscar"}
SIGNED = frozenset(ACCOUNT)
EVERYONE = frozenset(ROLES)
OFFICERS = frozenset({"officer", "admin"})
READERS = frozenset({"manager", "officer", "admin"})
ADMIN = frozenset({"admin"})
CREATORS = frozenset({"officer", "admin", "outsider"})
SHEETS = frozenset({"contractor", "officer", "admin"})
APPROVERS = frozenset({"manager", "admin"})
PUBLIC = "public"

# (method, path) -> roles allowed (PUBLIC: anyone, only checked never to fail).
MATRIX: dict[tuple[str, str], frozenset | str] = {
    # API: service and accounts
    ("GET", "/api/v1/health"): EVERYONE,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("DELETE", "/api/v1/auth/token"): SIGNED,
    ("GET", "/api/v1/me"): SIGNED,
    ("POST", "/api/v1/me/password"): SIGNED,
    ("POST", "/api/v1/me/logout-everywhere"): SIGNED,
    ("POST", "/api/v1/me/totp"): SIGNED,
    ("POST", "/api/v1/me/totp/confirm"): SIGNED,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users/{username}/disable"): ADMIN,
    ("POST", "/api/v1/users/{username}/enable"): ADMIN,
    ("POST", "/api/v1/users/{username}/revoke-tokens"): ADMIN,
    ("PUT", "/api/v1/users/{username}/role"): ADMIN,
    ("GET", "/api/v1/settings"): ADMIN,
    ("PUT", "/api/v1/settings"): ADMIN,
    ("GET", "/api/v1/audit"): ADMIN,
    # API: projects and inputs
    ("GET", "/api/v1/projects"): SIGNED,  # each sees their own list
    ("POST", "/api/v1/projects"): CREATORS,
    ("GET", "/api/v1/projects/{project_id}"): READERS,
    ("POST", "/api/v1/projects/{project_id}/members"): OFFICERS,
    ("PUT", "/api/v1/projects/{project_id}/files/{kind}"): OFFICERS,
    ("GET", "/api/v1/projects/{project_id}/files/{kind}"): OFFICERS,
    ("PUT", "/api/v1/projects/{project_id}/policy"): OFFICERS,
    ("PUT", "/api/v1/projects/{project_id}/fleet"): OFFICERS,
    ("PUT", "/api/v1/projects/{project_id}/network"): OFFICERS,
    ("GET", "/api/v1/projects/{project_id}/scenarios"): READERS,
    ("POST", "/api/v1/projects/{project_id}/scenarios"): OFFICERS,
    ("GET", "/api/v1/scenarios/{scenario_id}"): READERS,
    ("GET", "/api/v1/scenarios/{scenario_id}/scenario.json"): OFFICERS,
    ("GET", "/api/v1/projects/{project_id}/jobs"): READERS,
    ("POST", "/api/v1/jobs"): OFFICERS,
    ("GET", "/api/v1/jobs/{job_id}"): READERS,
    ("POST", "/api/v1/jobs/{job_id}/cancel"): OFFICERS,
    # API: plans and outputs
    ("GET", "/api/v1/plans"): SIGNED,  # each sees their own list
    ("GET", "/api/v1/plans/{plan_id}"): READERS,
    ("GET", "/api/v1/plans/{plan_id}/map"): READERS,
    ("GET", "/api/v1/plans/{plan_id}/sheets"): SHEETS,
    ("GET", "/api/v1/plans/{plan_id}/sheets.zip"): SHEETS,
    ("GET", "/api/v1/plans/{plan_id}/sheets/{vehicle_id}.{format}"): SHEETS,
    ("GET", "/api/v1/plans/{plan_id}/notices.pdf"): OFFICERS,
    ("GET", "/api/v1/plans/{plan_id}/exports/{name}"): OFFICERS,
    ("GET", "/api/v1/plans/{plan_id}/contractors"): OFFICERS,
    ("PUT", "/api/v1/plans/{plan_id}/contractors"): OFFICERS,
    ("GET", "/api/v1/comparisons"): READERS,
    ("GET", "/api/v1/comparisons/report.html"): READERS,
    # API: addresses and geocoding (home locations: officers and admins; the online geocoder: admins)
    ("PUT", "/api/v1/projects/{project_id}/addresses"): OFFICERS,
    ("GET", "/api/v1/projects/{project_id}/geocode"): OFFICERS,
    ("PUT", "/api/v1/projects/{project_id}/geocode/manual"): OFFICERS,
    ("GET", "/api/v1/geocoding/settings"): ADMIN,
    ("PUT", "/api/v1/geocoding/settings"): ADMIN,
    # API: versions and publishing (never contractors: they see published route sheets only)
    ("GET", "/api/v1/plans/{plan_id}/version"): READERS,
    ("GET", "/api/v1/projects/{project_id}/versions"): READERS,
    ("GET", "/api/v1/plans/{plan_a}/diff/{plan_b}"): READERS,
    ("POST", "/api/v1/plans/{plan_id}/replan"): OFFICERS,  # officers draft
    ("POST", "/api/v1/plans/{plan_id}/approve"): APPROVERS,  # managers publish
    # The schema and its viewers: public (they hold no data)
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    # Pages
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): SIGNED,
    ("POST", "/language"): SIGNED,
    ("GET", "/account/password"): SIGNED,
    ("POST", "/account/password"): SIGNED,
    ("POST", "/account/logout-everywhere"): SIGNED,
    ("GET", "/account/totp"): SIGNED,
    ("POST", "/account/totp"): SIGNED,
    ("GET", "/"): SIGNED,
    ("POST", "/projects"): CREATORS,
    ("GET", "/projects/{project_id}"): READERS,
    ("POST", "/projects/{project_id}/files/{kind}"): OFFICERS,
    ("POST", "/projects/{project_id}/policy"): OFFICERS,
    ("POST", "/projects/{project_id}/fleet"): OFFICERS,
    ("POST", "/projects/{project_id}/scenarios"): OFFICERS,
    ("POST", "/projects/{project_id}/members"): OFFICERS,
    ("POST", "/scenarios/{scenario_id}/jobs"): OFFICERS,
    ("POST", "/jobs/{job_id}/cancel"): OFFICERS,
    ("GET", "/plans/{plan_id}"): frozenset({"contractor", "manager", "officer", "admin"}),
    ("POST", "/plans/{plan_id}/contractors"): OFFICERS,
    ("GET", "/compare"): READERS,
    ("GET", "/plans/{plan_id}/unserved"): OFFICERS,  # pupils' ids and schools: the full view only
    ("GET", "/plans/{plan_id}/spreadsheet/{name}"): OFFICERS,  # pupil-level tables: the full view only
    ("GET", "/plans/{plan_id}/notices"): OFFICERS,  # prepares the parent notices: the full view only
    ("GET", "/favicon.ico"): PUBLIC,  # the page's icon: no data
    ("GET", "/favicon.svg"): PUBLIC,
    ("GET", "/admin/users"): ADMIN,
    ("POST", "/admin/users"): ADMIN,
    ("POST", "/admin/users/{username}/{action}"): ADMIN,
    ("POST", "/admin/settings"): ADMIN,
    ("GET", "/admin/audit"): ADMIN,
    ("GET", "/projects/{project_id}/geocode"): OFFICERS,
    ("POST", "/projects/{project_id}/geocode/upload"): OFFICERS,
    ("POST", "/projects/{project_id}/geocode/manual"): OFFICERS,
    ("GET", "/geocode-static/{name}"): PUBLIC,  # Leaflet and the review script: no data
    ("GET", "/plans/{plan_id}/versions"): READERS,
    ("POST", "/plans/{plan_id}/versions/replan"): OFFICERS,
    ("POST", "/plans/{plan_id}/versions/approve"): APPROVERS,
    ("POST", "/projects/{project_id}/hazards"): OFFICERS,
    ("POST", "/projects/{project_id}/hazards/clear"): OFFICERS,
    ("GET", "/hazard-static/hazard_draw.js"): PUBLIC,  # the drawing control: no data
}

STUDENTS = b"id,lon,lat,school_id,shift,grade\nA1,32.85,39.98,S,tam,6\n"
ROADS = json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"highway": "residential"}, "geometry": {"type": "LineString", "coordinates": [[32.85, 39.98], [32.86, 39.98]]}}]}).encode()
ADDRESSES = b"id;school_id;shift;grade;adres\nA1;S;tam;6;Kizilay Mah. Ataturk Blv. No 1\n"
CHANGES = b"change,student_id\nremove_pupil,NOBODY\n"
_unique = itertools.count()


def served_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app answers: the OpenAPI schema's, the page's and the docs'."""
    routes = set()
    for path, operations in app.openapi()["paths"].items():
        routes |= {(method.upper(), path) for method in operations}
    # Every route outside the schema: the pages of every router (site, geocoding, versions).
    for route in page_routes(app):
        routes |= {(method, route.path) for method in route.methods if method != "HEAD"}
    routes |= {("GET", app.openapi_url), ("GET", app.docs_url), ("GET", app.swagger_ui_oauth2_redirect_url), ("GET", app.redoc_url)}
    return routes


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    with seeded_service(tmp_path_factory, "access") as s:
        with s.app.state.sessions.begin() as session:
            # No road network: a job request is refused after the role check (no worker starts).
            session.scalar(select(Project).where(Project.public_id == s.project_id)).network_path = None
            auth.create_user(session, "victim", "manager", PASSWORD)
        yield s


def test_every_route_is_classified(seeded):
    served = served_routes(seeded.app)
    assert served - MATRIX.keys() == set(), "classify these routes in MATRIX"
    assert MATRIX.keys() - served == set(), "MATRIX lists routes the app does not serve"


def _snapshot(session) -> list[tuple]:
    return [(u.id, u.password_hash, u.role, u.is_active, u.must_change_password, u.totp_secret, u.totp_pending) for u in session.scalars(select(User))]


def _restore(session, snapshot) -> None:
    for uid, password_hash, role, is_active, must_change, secret, pending in snapshot:
        user = session.get(User, uid)
        user.password_hash, user.role, user.is_active, user.must_change_password = password_hash, role, is_active, must_change
        user.totp_secret, user.totp_pending = secret, pending
    session.execute(delete(Setting))


def _request(s, method: str, path: str, role: str):
    """Send one request for ``(method, path)`` as ``role`` (fresh token and browser session)."""
    ids = {
        "project_id": s.project_id, "scenario_id": s.scenario_id, "job_id": s.job_id, "plan_id": s.plan_ids[0],
        "kind": "students", "vehicle_id": "V1", "format": "html", "name": "routes.csv", "username": "victim",
        "action": "revoke-tokens", "plan_a": s.plan_ids[0], "plan_b": s.plan_ids[1],
    }
    url = path.format(**ids)
    headers, cookies, csrf = {}, {}, ""
    if role != "anonymous":
        with s.app.state.sessions.begin() as session:
            user = session.scalar(select(User).where(User.username == ACCOUNT[role]))
            headers = {"Authorization": f"Bearer {auth.issue_token(session, user)}"}
            cookie = auth.open_session(session, user, "en")
            session.flush()
            csrf = session.scalar(select(WebSession.csrf_token).where(WebSession.token_sha256 == auth.sha256_hex(cookie)))
            cookies = {SESSION_COOKIE: cookie}
    n = next(_unique)
    is_api = path.startswith("/api/")
    kwargs: dict = {}
    if is_api:
        bodies = {
            "/api/v1/auth/token": {"username": ACCOUNT.get(role, "nobody"), "password": PASSWORD},
            "/api/v1/me/password": {"current_password": PASSWORD, "new_password": PASSWORD + "-new"},
            "/api/v1/me/totp/confirm": {"code": "000000"},
            "/api/v1/users": {"username": f"new{n}", "role": "manager", "password": PASSWORD},
            "/api/v1/users/{username}/role": {"role": "contractor"},
            "/api/v1/settings": {"require_totp": False},
            "/api/v1/projects": {"name": f"project {n}"},
            "/api/v1/projects/{project_id}/members": {"username": "victim"},
            "/api/v1/projects/{project_id}/policy": {"walk_limit_m": 800},
            "/api/v1/projects/{project_id}/fleet": {"vehicle_types": [{"id": "midi", "seats": 25, "day_rate": 1000}]},
            "/api/v1/projects/{project_id}/scenarios": {"name": f"scenario {n}"},
            "/api/v1/jobs": {"scenario_id": s.scenario_id, "time_limit_s": 1},
            "/api/v1/plans/{plan_id}/contractors": {"assignments": {}},
            "/api/v1/projects/{project_id}/geocode/manual": {"row": 2, "lon": 32.85, "lat": 39.98},
            "/api/v1/geocoding/settings": {},
        }
        if method in ("POST", "PUT") and path in bodies:
            kwargs["json"] = bodies[path]
        if path.endswith("/files/{kind}") and method == "PUT":
            kwargs["files"] = {"file": ("students.csv", STUDENTS)}
        if path.endswith("/network"):
            kwargs["files"] = {"file": ("roads.geojson", ROADS)}
        if path.endswith("/addresses"):
            kwargs["files"] = {"file": ("addresses.csv", ADDRESSES)}
        if path.endswith("/replan"):
            kwargs["files"] = {"file": ("changes.csv", CHANGES)}
        if path in ("/api/v1/comparisons", "/api/v1/comparisons/report.html"):
            kwargs["params"] = {"plan_id": s.plan_ids}
        send_headers = headers
    else:
        forms = {
            "/login": {"username": ACCOUNT.get(role, "nobody"), "password": PASSWORD},
            "/language": {"language": "en", "next": "/"},
            "/account/password": {"current_password": PASSWORD, "new_password": PASSWORD + "-new", "repeat_password": PASSWORD + "-new"},
            "/account/totp": {"code": "000000"},
            "/projects": {"name": f"page project {n}"},
            "/projects/{project_id}/policy": {"walk_limit_m": "800"},
            "/projects/{project_id}/fleet": {"fleet_yaml": "vehicle_types: []\n"},
            "/projects/{project_id}/scenarios": {"name": f"page scenario {n}"},
            "/projects/{project_id}/members": {"username": "victim"},
            "/scenarios/{scenario_id}/jobs": {"time_limit_s": "1", "seed": "0"},
            "/admin/users": {"username": f"page{n}", "role": "manager"},
            "/admin/settings": {},
            "/projects/{project_id}/geocode/manual": {"row": "2", "lon": "32.85", "lat": "39.98"},
        }
        if method == "POST":
            kwargs["data"] = {**forms.get(path, {}), "csrf_token": csrf}
        if path.endswith("/files/{kind}"):
            kwargs["files"] = {"file": ("students.csv", STUDENTS)}
        if path.endswith("/geocode/upload"):
            kwargs["files"] = {"file": ("addresses.csv", ADDRESSES)}
        if path.endswith("/versions/replan"):
            kwargs["files"] = {"file": ("changes.csv", CHANGES)}
        if path == "/compare":
            kwargs["params"] = {"plan_id": s.plan_ids}
        send_headers = {}
    s.client.cookies.clear()
    for key, value in cookies.items():
        s.client.cookies.set(key, value)
    try:
        return s.client.request(method, url, headers=send_headers, follow_redirects=False, **kwargs)
    finally:
        s.client.cookies.clear()


def _verdict(response) -> str:
    location = response.headers.get("location", "")
    # Signing out also lands on the sign-in page, but ends the session it was given.
    signed_out = f"{SESSION_COOKIE}=" in response.headers.get("set-cookie", "")
    if response.status_code in (401, 403) or (response.status_code == 303 and location.startswith("/login") and not signed_out):
        return "deny"
    return "allow"


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_role_route_matrix(seeded):
    s = seeded
    wrong = []
    n_cases = 0
    for (method, path), allowed in sorted(MATRIX.items()):
        for role in ROLES:
            with s.app.state.sessions.begin() as session:
                snapshot = _snapshot(session)
            response = _request(s, method, path, role)
            with s.app.state.sessions.begin() as session:
                _restore(session, snapshot)
            n_cases += 1
            if response.status_code >= 500:
                wrong.append((method, path, role, response.status_code, "server error"))
                continue
            if allowed == PUBLIC:
                continue
            expected = "allow" if role in allowed else "deny"
            if _verdict(response) != expected:
                wrong.append((method, path, role, response.status_code, f"expected {expected}: {response.text[:120]}"))
    record("access_role_route_matrix", routes=len(MATRIX), roles=len(ROLES), cases=n_cases, failures=len(wrong))
    assert wrong == [], "\n".join(map(str, wrong))


# --------------------------------------------------------------------------------------------------
# One answer for "not yours" and "not there"
# --------------------------------------------------------------------------------------------------


def fresh(s, username: str) -> dict[str, str]:
    """A new bearer token (the matrix above revoked the seeded ones on purpose)."""
    with s.app.state.sessions.begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        return {"Authorization": f"Bearer {auth.issue_token(session, user)}"}


@pytest.mark.parametrize(
    "template",
    [
        "/api/v1/projects/{}",
        "/api/v1/projects/{}/scenarios",
        "/api/v1/projects/{}/jobs",
        "/api/v1/scenarios/{}",
        "/api/v1/jobs/{}",
        "/api/v1/plans/{}",
        "/api/v1/plans/{}/map",
        "/api/v1/plans/{}/sheets",
        "/api/v1/plans/{}/version",
        "/api/v1/projects/{}/versions",
        "/api/v1/projects/{}/geocode",
    ],
)
def test_not_yours_and_not_there_look_the_same(seeded, template):
    s = seeded
    existing = {"projects": s.project_id, "scenarios": s.scenario_id, "jobs": s.job_id, "plans": s.plan_ids[0]}[template.split("/")[3]]
    missing = "no-such-id-0000"
    for username in ("oscar", "can"):  # an officer of another project; a contractor without vehicles
        theirs = s.client.get(template.format(existing), headers=fresh(s, username))
        absent = s.client.get(template.format(missing), headers=fresh(s, username))
        assert theirs.status_code == absent.status_code == 403, (username, theirs.text, absent.text)
        assert theirs.json()["message"].replace(str(existing), "N") == absent.json()["message"].replace(str(missing), "N")
    assert s.client.get(template.format(missing), headers=fresh(s, "admin")).status_code == 404


@pytest.mark.parametrize("template", ["/plans/{}/versions", "/projects/{}/geocode"])
def test_pages_not_yours_and_not_there_look_the_same(seeded, template):
    s = seeded
    existing = s.plan_ids[0] if template.startswith("/plans") else s.project_id
    missing = "no-such-id-0000"
    for username in ("oscar", "can"):
        browser = s.browser(username)
        theirs, absent = browser.get(template.format(existing)), browser.get(template.format(missing))
        assert theirs.status_code == absent.status_code == 403, (username, theirs.status_code, absent.status_code)
    assert s.browser("admin").get(template.format(missing)).status_code == 404


def test_adding_a_member_does_not_tell_admins_from_unknown_names(seeded):
    s = seeded
    url = f"/api/v1/projects/{s.project_id}/members"
    admin = s.client.post(url, json={"username": "admin"}, headers=fresh(s, "olga"))
    nobody = s.client.post(url, json={"username": "no-such-account"}, headers=fresh(s, "olga"))
    assert admin.status_code == nobody.status_code == 422
    assert admin.json()["problems"][0]["expected"] == nobody.json()["problems"][0]["expected"]
    outsider = s.client.post(url, json={"username": "admin"}, headers=fresh(s, "oscar"))
    assert outsider.status_code == 403
