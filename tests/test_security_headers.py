"""Security headers on every response: pages, API, errors, files; HSTS only over TLS.

Each response is checked for a Content-Security-Policy without ``unsafe-inline`` scripts, ``nosniff``,
``frame-ancestors 'none'``, ``Referrer-Policy`` and ``Cache-Control: no-store``; a page's policy
carries a fresh nonce per response, and that nonce is the one on the page's ``<style>``.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from schoolbus.service import auth
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig
from security_figures import record

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    config = ServiceConfig(data_dir=tmp_path_factory.mktemp("headers"), preload_demo=False, print_admin_password=lambda u, p: None)
    application = create_app(config)
    with TestClient(application, base_url="https://testserver"):
        with application.state.sessions.begin() as session:
            auth.create_user(session, "olga", "officer", PASSWORD)
        yield application


def browser(app, base_url: str = "https://testserver") -> TestClient:
    client = TestClient(app, base_url=base_url)
    token = CSRF.search(client.get("/login").text).group(1)
    client.post("/login", data={"username": "olga", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    return client


def token_headers(client: TestClient) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", json={"username": "olga", "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def assert_secured(response, *, is_tls: bool = True) -> None:
    h = response.headers
    policy = h["content-security-policy"]
    assert "frame-ancestors 'none'" in policy, (response.url, policy)
    assert "default-src 'none'" in policy
    script_sources = re.search(r"script-src([^;]*)", policy)
    assert script_sources is None or "unsafe-inline" not in script_sources[1]
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cache-control"] == "no-store"
    assert ("strict-transport-security" in h) is is_tls, response.url


def test_every_kind_of_response_carries_the_headers(app):
    client = browser(app)
    api = token_headers(client)
    project = client.post("/api/v1/projects", json={"name": "başlık"}, headers=api).json()
    responses = [
        client.get("/login"),  # page, anonymous
        client.get("/"),  # page, signed in
        client.get(f"/projects/{project['id']}"),
        client.get("/compare"),  # page with 422
        client.get("/api/v1/health"),  # API, anonymous
        client.get("/api/v1/me", headers=api),
        client.get("/api/v1/projects", headers=api),
        client.get("/api/v1/plans/999999", headers=api),  # API error
        TestClient(app, base_url="https://testserver").get("/api/v1/me"),  # 401
        client.get("/openapi.json"),
        client.get("/no-such-page"),  # 404 from the router
        client.post("/api/v1/auth/token", json={"username": "olga", "password": "wrong-password!"}),
    ]
    for response in responses:
        assert_secured(response)
    record("headers_every_response", responses=len(responses), failures=0)


def test_page_nonce_is_fresh_and_on_the_style(app):
    client = browser(app)
    nonces = []
    for _ in range(2):
        response = client.get("/")
        nonce = NONCE.search(response.headers["content-security-policy"])[1]
        assert f'<style nonce="{nonce}">' in response.text
        assert "<script" not in response.text  # pages run no script at all
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_api_responses_are_sandboxed(app):
    response = TestClient(app, base_url="https://testserver").get("/api/v1/health")
    assert "sandbox" in response.headers["content-security-policy"]


def test_hsts_only_over_tls(app):
    plain = TestClient(app, base_url="http://testserver")
    assert_secured(plain.get("/api/v1/health"), is_tls=False)
    behind_proxy = plain.get("/api/v1/health", headers={"X-Forwarded-Proto": "https"})
    assert_secured(behind_proxy, is_tls=True)
