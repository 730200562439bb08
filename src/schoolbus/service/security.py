"""Headers on every response and request bodies bounded before anyone reads them.

One ASGI middleware wraps the whole app, so no route can forget either:

* **Security headers** on every response (pages, API, files): a Content-Security-Policy, with a
  fresh nonce per request for the page's own ``<style>`` (pages have no script at all, but for
  the few that ask for their own same-origin scripts by nonce, :func:`allow_page_scripts`),
  ``X-Content-Type-Options: nosniff``, ``frame-ancestors 'none'`` (and ``X-Frame-Options``),
  ``Referrer-Policy: no-referrer``, ``Cache-Control: no-store`` (responses may carry personal data)
  and, when the request came over TLS (``https`` scheme or ``X-Forwarded-Proto: https``), HSTS.
  API responses are sandboxed (``sandbox``: no script, an opaque origin) unless a route set its
  own policy, as the plan map does (:func:`map_policy`).
* **Body limits**: a request whose ``Content-Length`` is over its route's limit is answered 413
  at once; a body without one is counted while it streams and answered 413 when it passes the
  limit. Upload routes (the only ones with a large limit) also need a valid bearer token or
  session cookie *before* their body is read: an anonymous 1 GiB PUT is answered 401 without a
  byte of it written anywhere.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable

import anyio

from schoolbus.service import auth

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
"""Largest accepted uploaded file (a city's .osm.pbf fits)."""
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for the multipart envelope and the form's other fields around an uploaded file."""
MAX_BODY_BYTES = 2 * 1024 * 1024
"""Largest body of any other request (JSON documents, forms)."""

MAX_ADDRESS_UPLOAD_BYTES = 20 * 1024 * 1024
"""Largest address table accepted (a district's pupils fit many times over)."""
MAX_CHANGE_FILE_BYTES = 5 * 1024 * 1024
"""A change file (or a pins file) lists a few dozen changes; anything this large is a mistake."""

UPLOAD_ROUTES = (
    ("PUT", re.compile(r"^/api/v1/projects/[^/]+/(files/[^/]+|network)$"), MAX_UPLOAD_BYTES),
    ("POST", re.compile(r"^/projects/[^/]+/files/[^/]+$"), MAX_UPLOAD_BYTES),
    ("PUT", re.compile(r"^/api/v1/projects/[^/]+/addresses$"), MAX_ADDRESS_UPLOAD_BYTES),
    ("POST", re.compile(r"^/projects/[^/]+/geocode/upload$"), MAX_ADDRESS_UPLOAD_BYTES),
    # A change file and an optional pins file.
    ("POST", re.compile(r"^/api/v1/plans/[^/]+/replan$"), 2 * MAX_CHANGE_FILE_BYTES),
    ("POST", re.compile(r"^/plans/[^/]+/versions/replan$"), 2 * MAX_CHANGE_FILE_BYTES),
)
"""(method, path, largest file) of the routes that take files; the only ones allowed more than
:data:`MAX_BODY_BYTES`, and only from a signed-in caller."""

API_PREFIX = "/api/v1"
NONCE_BYTES = 16
SESSION_COOKIE = "schoolbus_session"
HSTS = "max-age=31536000; includeSubDomains"
PAGE_POLICY = (
    "default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; form-action 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Pages: no script at all, only the nonce'd ``<style>``, the plan map in a same-origin frame."""
SCRIPTED_PAGE_POLICY = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data: "
    + "{tiles}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""A page that asked for its scripts (:func:`allow_page_scripts`): the same-origin ``<script src>``
it renders with the response's nonce run, nothing inline nor any other script does; its map may
load OpenStreetMap tiles. Style attributes written as markup stay refused (scripts style through
the DOM)."""
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
"""API responses and files: nothing runs, nothing loads; an HTML file opened directly is inert."""
SHEET_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)
"""An HTML route sheet: its own inline style and images, never a script (``sandbox``)."""
MAP_TILE_SOURCES = "https://tile.openstreetmap.org https://*.tile.openstreetmap.org"


def map_policy(nonce: str) -> str:
    """The plan map's policy: its inlined Leaflet runs by ``nonce``, nothing else does.

    The map is framed by the plan page (``frame-ancestors 'self'``) and sandboxed to an opaque
    origin (``allow-scripts`` without ``allow-same-origin``): even a script that slipped in could
    neither read the session cookie's API nor the page that frames it. Style attributes stay
    allowed (Leaflet positions its panes with them; CSS cannot run script).
    """
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src-elem 'nonce-{nonce}'; "
        f"style-src-attr 'unsafe-inline'; img-src data: {MAP_TILE_SOURCES}; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-scripts allow-popups"
    )


PAGE_SCRIPTS_STATE = "page_scripts"


def allow_page_scripts(request) -> None:
    """Let this page response run its own nonce'd scripts (:data:`SCRIPTED_PAGE_POLICY`).

    Every other page keeps :data:`PAGE_POLICY` (no script at all); the middleware still sets the
    policy and every other header, so a page cannot forget one.
    """
    setattr(request.state, PAGE_SCRIPTS_STATE, True)


def with_nonce(html: str, nonce: str) -> str:
    """A rendered map with its nonce placeholders replaced by ``nonce``.

    :mod:`schoolbus.outputs.maps` writes a placeholder as the nonce of its own scripts and
    styles; a stored map never holds a real nonce, each response gets a fresh one.
    """
    from schoolbus.outputs.maps import CSP_NONCE_PLACEHOLDER

    return html.replace(f'nonce="{CSP_NONCE_PLACEHOLDER}"', f'nonce="{nonce}"')


def _upload_limit(method: str, path: str) -> int | None:
    """The largest file the upload route ``method path`` takes, or ``None`` for other routes."""
    for m, pattern, limit in UPLOAD_ROUTES:
        if method == m and pattern.match(path):
            return limit
    return None


def body_limit(method: str, path: str) -> int:
    """The largest body a request to ``method path`` may carry, in bytes."""
    limit = _upload_limit(method, path)
    return MAX_BODY_BYTES if limit is None else limit + MULTIPART_OVERHEAD_BYTES


def is_upload(method: str, path: str) -> bool:
    return _upload_limit(method, path) is not None


class BodyTooLarge(Exception):
    """Raised into the app when a streamed body passes its limit."""


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie(scope, name: str) -> str | None:
    raw = _header(scope, b"cookie") or ""
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def is_tls(scope) -> bool:
    """Whether the request reached us (or the proxy in front of us) over TLS."""
    forwarded = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
    return scope.get("scheme") == "https" or forwarded == "https"


class SecurityMiddleware:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app, sessions: Callable[[], object] | None = None):
        self.app = app
        self._sessions = sessions

    def _signed_in(self, scope) -> bool:
        """Whether the request carries a valid bearer token or session cookie (no body read)."""
        sessions = self._sessions or scope["app"].state.sessions
        authorization = _header(scope, b"authorization") or ""
        scheme, _, token = authorization.partition(" ")
        with sessions() as session:
            if scheme.lower() == "bearer" and token:
                try:
                    auth.user_from_token(session, token.strip())
                    return True
                except auth.AuthError:
                    return False
            return auth.signed_in(session, _cookie(scope, SESSION_COOKIE)) is not None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        state = scope.setdefault("state", {})
        state["csp_nonce"] = nonce
        path, method = scope["path"], scope["method"]
        is_api = path.startswith(API_PREFIX) or path == "/openapi.json"
        tls = is_tls(scope)

        def secured(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
            present = {k.lower() for k, _ in headers}
            if is_api:
                policy = API_POLICY
            elif state.get(PAGE_SCRIPTS_STATE):
                policy = SCRIPTED_PAGE_POLICY.format(nonce=nonce, tiles=MAP_TILE_SOURCES)
            else:
                policy = PAGE_POLICY.format(nonce=nonce)
            extra = {
                b"content-security-policy": policy,
                b"x-content-type-options": "nosniff",
                b"x-frame-options": "DENY",
                b"referrer-policy": "no-referrer",
                b"cache-control": "no-store",
                b"cross-origin-opener-policy": "same-origin",
                b"permissions-policy": "geolocation=(), camera=(), microphone=()",
            }
            if tls:
                extra[b"strict-transport-security"] = HSTS
            # A route that set its own policy (the map: framed by our page) keeps it.
            if b"content-security-policy" in present:
                extra.pop(b"x-frame-options")
            return headers + [(k, v.encode("latin-1")) for k, v in extra.items() if k not in present]

        async def send_secured(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": secured(list(message.get("headers", [])))}
            await send(message)

        async def refuse(status: int, code: str, text: str, headers: dict[str, str] | None = None) -> None:
            body = json.dumps({"code": code, "message": text, "problems": []}).encode()
            out = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            out += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
            await send_secured({"type": "http.response.start", "status": status, "headers": out})
            await send({"type": "http.response.body", "body": body})

        limit = body_limit(method, path)
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await refuse(413, "too_large", f"the request body is larger than {limit} bytes")
            return
        if is_upload(method, path) and not await anyio.to_thread.run_sync(self._signed_in, scope):
            if is_api:
                await refuse(401, "unauthorized", "sign in before uploading", {"WWW-Authenticate": "Bearer"})
            else:
                await send_secured({"type": "http.response.start", "status": 303, "headers": [(b"location", b"/login"), (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
            return

        received = 0
        overflowed = False
        started = False

        async def counted_receive():
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    overflowed = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message):
            nonlocal started
            if overflowed:
                # Whatever the app made of the interrupted body (a 400 from the form parser), the
                # answer is 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await refuse(413, "too_large", f"the request body is larger than {limit} bytes")
                return
            if message["type"] == "http.response.start":
                started = True
            await send_secured(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await refuse(413, "too_large", f"the request body is larger than {limit} bytes")

