"""Accounts under attack: throttled sign-in with Retry-After, bounded Argon2 work, revocation on
password change and "sign out everywhere", disabling and token revocation (API, page, CLI), role
changes, the audit log, and the TOTP second factor (RFC 6238) required by the administrator.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from schoolbus.service import auth, throttle, totp
from schoolbus.service.db import AuditEntry, make_engine, migrate
from schoolbus.service.throttle import LoginThrottle
from security_figures import record
from security_service import CSRF, PASSWORD, seeded_service

N_WRONG = 50
N_PARALLEL = 40

# A fresh service per test (about 2 s each, 15 tests): out of `make test-fast`, in `make test`.
pytestmark = pytest.mark.slow


@pytest.fixture()
def seeded(tmp_path_factory):
    # A fresh service per test: throttles, tokens and settings must not leak between tests.
    with seeded_service(tmp_path_factory, "accounts") as s:
        yield s


def token_for(s, username: str, password: str = PASSWORD, **extra):
    return s.client.post("/api/v1/auth/token", json={"username": username, "password": password, **extra})


def audit_actions(s) -> list[tuple[str, str, str]]:
    with s.app.state.sessions() as session:
        return [(e.username, e.action, e.target) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fifty_wrong_passwords_then_the_right_one_is_refused_with_retry_after(seeded):
    s = seeded
    clock = Clock()
    s.app.state.throttle = LoginThrottle(clock=clock)
    statuses = [token_for(s, "olga", "wrong-password-1").status_code for _ in range(N_WRONG)]
    assert statuses[: throttle.FREE_ACCOUNT_FAILURES] == [401] * throttle.FREE_ACCOUNT_FAILURES
    assert set(statuses[throttle.FREE_ACCOUNT_FAILURES :]) == {429}
    right = token_for(s, "olga")
    assert right.status_code == 429
    retry = int(right.headers["Retry-After"])
    assert 0 < retry <= throttle.MAX_DELAY_S
    clock.now += retry + 1
    assert token_for(s, "olga").status_code == 200
    assert token_for(s, "olga", "wrong-password-1").status_code == 401  # a success starts afresh
    record("accounts_throttle", wrong_attempts=N_WRONG, refused_429=statuses.count(429), right_password_during_lockout=429)


@pytest.mark.slow
def test_one_address_is_throttled_across_accounts(seeded):
    s = seeded
    s.app.state.throttle = LoginThrottle(clock=Clock())
    for k in range(throttle.FREE_ADDRESS_FAILURES):
        assert token_for(s, f"nobody{k}", "wrong-password-1").status_code == 401
    response = token_for(s, "mert")
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_page_sign_in_is_throttled_too(seeded):
    s = seeded
    s.app.state.throttle = LoginThrottle(clock=Clock())
    browser = TestClient(s.app, base_url="https://testserver")
    for _ in range(throttle.FREE_ACCOUNT_FAILURES):
        token = CSRF.search(browser.get("/login").text)[1]
        browser.post("/login", data={"username": "olga", "password": "wrong-password-1", "csrf_token": token}, follow_redirects=False)
    token = CSRF.search(browser.get("/login").text)[1]
    response = browser.post("/login", data={"username": "olga", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert 'id="login-error"' in response.text


@pytest.mark.slow
def test_parallel_sign_ins_hash_a_bounded_number_at_once(seeded, monkeypatch):
    s = seeded
    s.app.state.throttle = LoginThrottle(clock=Clock())
    busy = 0
    most = 0
    lock = threading.Lock()
    real_verify = auth._hasher.verify

    def counting_verify(*args):
        nonlocal busy, most
        with lock:
            busy += 1
            most = max(most, busy)
        try:
            time.sleep(0.02)  # hold the slot long enough for the requests to overlap
            return real_verify(*args)
        finally:
            with lock:
                busy -= 1

    class Counting:
        verify = staticmethod(counting_verify)
        hash = staticmethod(auth._hasher.hash)

    monkeypatch.setattr(auth, "_hasher", Counting())
    with ThreadPoolExecutor(N_PARALLEL) as pool:
        statuses = list(pool.map(lambda k: token_for(s, f"user{k}", "wrong-password-1").status_code, range(N_PARALLEL)))
    assert set(statuses) <= {401, 429}
    assert 1 <= most <= throttle.MAX_CONCURRENT_HASHES
    record("accounts_parallel_hashing", parallel_sign_ins=N_PARALLEL, most_hashes_at_once=most)


def test_password_change_revokes_every_other_session_and_token(seeded):
    s = seeded
    a, b = token_for(s, "olga").json()["access_token"], token_for(s, "olga").json()["access_token"]
    browser = s.browser("olga")
    assert browser.get("/", follow_redirects=False).status_code == 200
    changed = s.client.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "another-long-password"}, headers={"Authorization": f"Bearer {a}"})
    assert changed.status_code == 204
    assert s.client.get("/api/v1/me", headers={"Authorization": f"Bearer {a}"}).status_code == 200  # the one it was made with
    assert s.client.get("/api/v1/me", headers={"Authorization": f"Bearer {b}"}).status_code == 401
    assert browser.get("/", follow_redirects=False).headers["location"] == "/login"


def test_page_password_change_keeps_only_this_browser(seeded):
    s = seeded
    here, there = s.browser("mert"), s.browser("mert")
    api = s.headers("mert")
    csrf = CSRF.search(here.get("/account/password").text)[1]
    response = here.post("/account/password", data={"current_password": PASSWORD, "new_password": "another-long-password", "repeat_password": "another-long-password", "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert here.get("/", follow_redirects=False).status_code == 200
    assert there.get("/", follow_redirects=False).status_code == 303
    assert s.client.get("/api/v1/me", headers=api).status_code == 401


def test_logout_everywhere(seeded):
    s = seeded
    browser = s.browser("olga")
    other = token_for(s, "olga").json()["access_token"]
    assert s.client.post("/api/v1/me/logout-everywhere", headers=s.headers("olga")).status_code == 204
    assert s.client.get("/api/v1/me", headers=s.headers("olga")).status_code == 401
    assert s.client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    assert browser.get("/", follow_redirects=False).status_code == 303
    # The page's button does the same.
    here, there = s.browser("olga"), s.browser("olga")
    csrf = CSRF.search(here.get("/account/password").text)[1]
    assert here.post("/account/logout-everywhere", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert there.get("/", follow_redirects=False).status_code == 303


def test_admin_disables_revokes_and_changes_roles(seeded):
    s = seeded
    admin = s.headers("admin")
    assert s.client.post("/api/v1/users/mert/revoke-tokens", headers=admin).status_code == 200
    assert s.client.get("/api/v1/me", headers=s.headers("mert")).status_code == 401
    assert token_for(s, "mert").status_code == 200  # may sign in again
    disabled = s.client.post("/api/v1/users/mert/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.json()["is_active"] is False
    assert token_for(s, "mert").status_code == 401
    assert s.client.post("/api/v1/users/mert/enable", headers=admin).json()["is_active"] is True
    role = s.client.put("/api/v1/users/cem/role", json={"role": "manager"}, headers=admin)
    assert role.status_code == 200 and role.json()["role"] == "manager"
    assert s.client.get("/api/v1/me", headers=s.headers("cem")).status_code == 401  # granted for the old role
    assert s.client.post("/api/v1/users/admin/disable", headers=admin).status_code == 422  # the last admin
    assert s.client.post("/api/v1/users/nobody/disable", headers=admin).status_code == 404
    assert s.client.post("/api/v1/users/olga/disable", headers=s.headers("olga")).status_code == 403
    actions = [a for _, a, _ in audit_actions(s)]
    for action in ("revoke_tokens", "disable_user", "enable_user", "change_role", "login_ok", "login_failed"):
        assert action in actions, action


def test_admin_page_equivalents(seeded):
    s = seeded
    browser = s.browser("admin")
    page = browser.get("/admin/users")
    csrf = CSRF.search(page.text)[1]
    assert 'action="/admin/users/olga/disable"' in page.text
    assert browser.post("/admin/users/olga/revoke-tokens", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert s.client.get("/api/v1/me", headers=s.headers("olga")).status_code == 401
    assert browser.post("/admin/users/olga/disable", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert token_for(s, "olga").status_code == 401
    assert browser.post("/admin/users/olga/enable", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert browser.post("/admin/users/can/role", data={"csrf_token": csrf, "role": "manager"}, follow_redirects=False).status_code == 303
    assert browser.post("/admin/users/can/disable", data={}, follow_redirects=False).status_code == 403  # no CSRF token
    audit = browser.get("/admin/audit")
    assert audit.status_code == 200 and "change_role" in audit.text and "can: contractor -&gt; manager" in audit.text
    assert s.browser("olga").get("/admin/audit").status_code == 403


def test_uploads_and_jobs_are_audited(seeded):
    s = seeded
    pid = s.project_id
    upload = s.client.put(f"/api/v1/projects/{pid}/files/schools", files={"file": ("schools.csv", b"id,name,lon,lat,shift,bell,dismissal\nS,Okul,32.85,39.98,tam,08:30,15:00\n")}, headers=s.headers("olga"))
    assert upload.status_code == 200, upload.text
    job = s.client.post("/api/v1/jobs", json={"scenario_id": s.scenario_id, "time_limit_s": 1, "seed": 0}, headers=s.headers("olga"))
    assert job.status_code == 202, job.text
    rows = audit_actions(s)
    assert ("olga", "upload") in [(u, a) for u, a, _ in rows]
    assert ("olga", "submit_job") in [(u, a) for u, a, _ in rows]


def test_cli_disable_and_revoke_tokens(tmp_path):
    from schoolbus.cli import app as cli
    from schoolbus.service.db import session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'schoolbus.db'}")
    migrate(engine)
    with session_factory(engine).begin() as session:
        user, _ = auth.create_user(session, "olga", "officer", PASSWORD)
        token = auth.issue_token(session, user)
    runner = CliRunner()
    result = runner.invoke(cli, ["users", "revoke-tokens", "olga", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with session_factory(engine)() as session:
        with pytest.raises(auth.AuthError):
            auth.user_from_token(session, token)
    result = runner.invoke(cli, ["users", "disable", "olga", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with session_factory(engine)() as session:
        with pytest.raises(auth.AuthError):
            auth.authenticate(session, "olga", PASSWORD)
    result = runner.invoke(cli, ["users", "disable", "nobody", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0 and "nobody" in result.output and "Traceback" not in result.output
    engine.dispose()


# --------------------------------------------------------------------------------------------------
# Second factor
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unix_s", "expected"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],  # RFC 6238 appendix B, SHA-1, last 6 digits
)
def test_totp_rfc6238_vectors(unix_s, expected):
    import base64

    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code_at(secret, totp.current_step(unix_s)) == expected


def test_totp_required_for_admins_and_officers(seeded):
    s = seeded
    assert s.client.put("/api/v1/settings", json={"require_totp": "yes"}, headers=s.headers("admin")).status_code == 422
    assert s.client.put("/api/v1/settings", json={"require_totp": True}, headers=s.headers("admin")).json() == {"require_totp": True}
    # The admin who switched it on is asked too.
    assert s.client.get("/api/v1/users", headers=s.headers("admin")).status_code == 403
    refused = s.client.get("/api/v1/projects", headers=s.headers("olga"))
    assert refused.status_code == 403 and refused.json()["code"] == "totp_enrolment_required"
    assert s.client.get("/api/v1/projects", headers=s.headers("mert")).status_code == 200  # managers are not asked
    browser = s.browser("olga")
    assert browser.get("/", follow_redirects=False).headers["location"] == "/account/totp"
    page = browser.get("/account/totp")
    assert 'id="totp-secret"' in page.text and "otpauth://totp/schoolbus%3Aolga?secret=" in page.text

    setup = s.client.post("/api/v1/me/totp", headers=s.headers("olga")).json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/") and setup["secret"] in setup["otpauth_uri"]
    wrong = s.client.post("/api/v1/me/totp/confirm", json={"code": "000000" if totp.code_at(setup["secret"], totp.current_step()) != "000000" else "111111"}, headers=s.headers("olga"))
    assert wrong.status_code == 422
    code = totp.code_at(setup["secret"], totp.current_step())
    confirmed = s.client.post("/api/v1/me/totp/confirm", json={"code": code}, headers=s.headers("olga"))
    assert confirmed.status_code == 200 and confirmed.json()["has_totp"] is True
    assert s.client.get("/api/v1/projects", headers=s.headers("olga")).status_code == 200

    without = token_for(s, "olga")
    assert without.status_code == 401 and without.json()["code"] == "totp_required"
    replay = token_for(s, "olga", totp_code=code)
    assert replay.status_code == 401  # the code used to confirm cannot sign in again
    next_code = totp.code_at(setup["secret"], totp.current_step() + 1)
    assert token_for(s, "olga", totp_code=next_code).status_code == 200
    actions = [a for _, a, _ in audit_actions(s)]
    assert "totp_enrolled" in actions and "change_setting" in actions


def test_page_totp_enrolment_and_sign_in(seeded):
    import re

    s = seeded
    browser = s.browser("admin")
    csrf = CSRF.search(browser.get("/admin/users").text)[1]
    assert browser.post("/admin/settings", data={"csrf_token": csrf, "require_totp": "on"}, follow_redirects=False).status_code == 303
    assert browser.get("/admin/users", follow_redirects=False).headers["location"] == "/account/totp"
    page = browser.get("/account/totp")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)[1]
    csrf = CSRF.search(page.text)[1]
    done = browser.post("/account/totp", data={"csrf_token": csrf, "code": totp.code_at(secret, totp.current_step())}, follow_redirects=False)
    assert done.status_code == 303
    assert browser.get("/admin/users").status_code == 200
    fresh = TestClient(s.app, base_url="https://testserver")
    token = CSRF.search(fresh.get("/login").text)[1]
    no_code = fresh.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert no_code.headers["location"] == "/login?error=totp"
    token = CSRF.search(fresh.get("/login").text)[1]
    with_code = fresh.post("/login", data={"username": "admin", "password": PASSWORD, "code": totp.code_at(secret, totp.current_step() + 1), "csrf_token": token}, follow_redirects=False)
    assert with_code.status_code == 303 and with_code.headers["location"] == "/"


def test_version_1_store_is_migrated(tmp_path):
    from schoolbus.service.db import SCHEMA_VERSION, session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine)
    with engine.begin() as connection:
        for column in ("totp_secret", "totp_pending", "totp_last_step"):
            connection.exec_driver_sql(f"ALTER TABLE users DROP COLUMN {column}")
        connection.exec_driver_sql("DROP TABLE settings")
        for table in ("projects", "scenarios", "jobs", "plans"):
            connection.exec_driver_sql(f"DROP INDEX ix_{table}_public_id")
            connection.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN public_id")
        connection.exec_driver_sql("INSERT INTO users (username, password_hash, role, is_active, must_change_password, created_at) VALUES ('eski', 'x', 'officer', 1, 0, '2026-01-01 00:00:00')")
        for name in ("bir", "iki"):
            connection.exec_driver_sql(f"INSERT INTO projects (name, created_at) VALUES ('{name}', '2026-01-01 00:00:00')")
        connection.exec_driver_sql("UPDATE schema_version SET version = 1")
    assert migrate(engine) == SCHEMA_VERSION
    with session_factory(engine)() as session:
        from schoolbus.service.db import Project, User

        user = session.scalar(select(User).where(User.username == "eski"))
        assert user.role == "officer" and user.totp_secret is None
        assert not auth.is_totp_required(session)
        public_ids = [p.public_id for p in session.scalars(select(Project).order_by(Project.id))]
        assert len(public_ids) == len(set(public_ids)) == 2 and all(len(p) == 16 for p in public_ids)
        session.add(Project(name="üç"))
        session.flush()  # new rows get their public id from the model
    engine.dispose()
