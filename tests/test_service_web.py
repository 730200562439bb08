"""The web page through a test client: sign-in with CSRF, cookie flags, inline upload errors, roles,
Turkish and English.

(The browser run through Chromium, the load test and the schemathesis run are in
``test_service_live.py``.)
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from schoolbus.service import auth
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BAD_STUDENTS = b"id,lon,lat,school_id,shift,grade\nA1,32.85,39.98,S,tam,6\nA2,232.85,39.98,S,tam,6\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    config = ServiceConfig(data_dir=tmp_path_factory.mktemp("web"), preload_demo=False, print_admin_password=lambda u, p: None)
    application = create_app(config)
    with TestClient(application, base_url="https://testserver"):
        with application.state.sessions.begin() as session:
            for username, role in [("olga", "officer"), ("mert", "manager"), ("cem", "contractor")]:
                auth.create_user(session, username, role, PASSWORD)
            auth.create_user(session, "yeni", "officer")
        yield application


def sign_in(app, username: str, password: str = PASSWORD) -> TestClient:
    client = TestClient(app, base_url="https://testserver")
    page = client.get("/login")
    token = CSRF.search(page.text).group(1)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def csrf_of(client: TestClient, url: str) -> str:
    return CSRF.search(client.get(url).text).group(1)


def test_pages_need_a_sign_in(app):
    client = TestClient(app, base_url="https://testserver")
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_session_cookie_flags(app):
    client = TestClient(app, base_url="https://testserver")
    token = CSRF.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"username": "olga", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert "schoolbus_session=" in cookie
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie


def test_sign_in_rejects_a_missing_csrf_token_and_a_wrong_password(app):
    client = TestClient(app, base_url="https://testserver")
    client.get("/login")
    no_csrf = client.post("/login", data={"username": "olga", "password": PASSWORD}, follow_redirects=False)
    assert no_csrf.headers["location"] == "/login?error=csrf"
    token = CSRF.search(client.get("/login").text).group(1)
    wrong = client.post("/login", data={"username": "olga", "password": "nope-nope-nope", "csrf_token": token}, follow_redirects=False)
    assert wrong.headers["location"] == "/login?error=credentials"
    assert "schoolbus_session" not in client.cookies


def test_forms_without_the_csrf_token_are_refused(app):
    client = sign_in(app, "olga")
    assert client.post("/projects", data={"name": "x"}).status_code == 403
    assert client.post("/projects", data={"name": "x", "csrf_token": "forged"}).status_code == 403
    ok = client.post("/projects", data={"name": "Etlik", "csrf_token": csrf_of(client, "/")}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/projects/")


def test_upload_errors_show_inline_with_rows_and_columns(app):
    client = sign_in(app, "olga")
    created = client.post("/projects", data={"name": "Altındağ", "csrf_token": csrf_of(client, "/")}, follow_redirects=False)
    url = created.headers["location"]
    response = client.post(
        f"{url}/files/students", data={"csrf_token": csrf_of(client, url)}, files={"file": ("ogrenciler.csv", BAD_STUDENTS)}
    )
    assert response.status_code == 422
    rows = re.findall(r'<tr class="problem"><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>', response.text)
    assert rows == [("ogrenciler.csv", "3", "lon")]
    assert "Dosyada sorunlar var" in response.text  # Turkish is the default page language


def test_english_page(app):
    client = sign_in(app, "olga")
    switched = client.post("/language", data={"language": "en", "next": "/", "csrf_token": csrf_of(client, "/")}, follow_redirects=False)
    assert switched.headers["location"] == "/"
    assert "New project" in client.get("/").text
    evil = client.post("/language", data={"language": "tr", "next": "//evil.example", "csrf_token": csrf_of(client, "/")}, follow_redirects=False)
    assert evil.headers["location"] == "/"


def test_one_time_password_must_be_replaced_first(app):
    with app.state.sessions.begin() as session:
        _, password = auth.create_user(session, "gecici", "manager")
    client = sign_in(app, "gecici", password)
    assert client.get("/", follow_redirects=False).headers["location"] == "/account/password"
    token = csrf_of(client, "/account/password")
    weak = client.post("/account/password", data={"current_password": password, "new_password": "short", "repeat_password": "short", "csrf_token": token})
    assert weak.status_code == 422
    done = client.post(
        "/account/password", data={"current_password": password, "new_password": PASSWORD, "repeat_password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303 and client.get("/").status_code == 200


def test_roles_on_pages(app):
    manager = sign_in(app, "mert")
    assert "create-project" not in manager.get("/").text
    assert manager.get("/admin/users").status_code == 403
    contractor = sign_in(app, "cem")
    assert "Güzergâh föyleriniz" in contractor.get("/").text
    with app.state.sessions.begin() as session:
        auth.create_user(session, "boss", "admin", PASSWORD)
    admin = sign_in(app, "boss")
    token = csrf_of(admin, "/admin/users")
    made = admin.post("/admin/users", data={"username": "veli", "role": "contractor", "csrf_token": token})
    assert made.status_code == 200 and re.search(r'id="one-time-password">\S{12,}<', made.text)
    assert admin.post("/admin/users", data={"username": "veli", "role": "contractor", "csrf_token": token}).status_code == 422


def test_sign_out_ends_the_session(app):
    client = sign_in(app, "olga")
    out = client.post("/logout", data={"csrf_token": csrf_of(client, "/")}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
