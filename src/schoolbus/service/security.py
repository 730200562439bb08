"""Headers on every response and request bodies bounded before anyone reads them.

One ASGI middleware wraps the whole app, so no route can forget either:

* **Security headers** on every response (pages, API, files): a Content-Security-Policy, with a
  fresh nonce per request for the page's own ``<style>`` (pages have no script at all),
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

UPLOAD_ROUTES = (
    ("PUT", re.compile(r"^/api/v1/projects/[^/]+/(files/[^/]+|network)$")),
    ("POST", re.compile(r"^/projects/[^/]+/files/[^/]+$")),
)
"""(method, path) of the routes that take a file; the only ones allowed :data:`MAX_UPLOAD_BYTES`."""

API_PREFIX = "/api/v1"
NONCE_BYTES = 16
SESSION_COOKIE = "schoolbus_session"
HSTS = "max-age=31536000; includeSubDomains"
PAGE_POLICY = (
    "default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; form-action 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Pages: no script at all, only the nonce'd ``<style>``, the plan map in a same-origin frame."""
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


def with_nonce(html: str, nonce: str) -> str:
    """A rendered map with its nonce placeholders replaced by ``nonce``.

    :mod:`schoolbus.outputs.maps` writes a placeholder as the nonce of its own scripts and
    styles; a stored map never holds a real nonce, each response gets a fresh one.
    """
    from schoolbus.outputs.maps import CSP_NONCE_PLACEHOLDER

    return html.replace(f'nonce="{CSP_NONCE_PLACEHOLDER}"', f'nonce="{nonce}"')


def body_limit(method: str, path: str) -> int:
    """The largest body a request to ``method path`` may carry, in bytes."""
    if is_upload(method, path):
        return MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES
    return MAX_BODY_BYTES


def is_upload(method: str, path: str) -> bool:
    return any(method == m and pattern.match(path) for m, pattern in UPLOAD_ROUTES)


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
        scope.setdefault("state", {})["csp_nonce"] = nonce
        path, method = scope["path"], scope["method"]
        is_api = path.startswith(API_PREFIX) or path == "/openapi.json"
        tls = is_tls(scope)

        def secured(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
            present = {k.lower() for k, _ in headers}
            policy = API_POLICY if is_api else PAGE_POLICY.format(nonce=nonce)
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

