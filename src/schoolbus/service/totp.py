"""Time-based one-time passwords (RFC 6238, the authenticator-app second factor), with hmac.

Six digits, HMAC-SHA1, 30-second steps: what every authenticator app expects from an
``otpauth://totp/...`` URI. A code is accepted for the current step and one step either side
(clock drift), and never twice: the caller keeps the last step used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote, urlencode

STEP_S = 30
DIGITS = 6
SECRET_BYTES = 20
"""160 bits, the key length RFC 4226 recommends for HMAC-SHA1."""
DRIFT_STEPS = 1
ISSUER = "schoolbus"


def new_secret() -> str:
    """A random base32 secret (no padding), as authenticator apps take it."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)


def code_at(secret: str, step: int) -> str:
    """The code of time step ``step`` (RFC 4226 HOTP with the step as counter)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def current_step(now_s: float | None = None) -> int:
    return int((time.time() if now_s is None else now_s) // STEP_S)


def matching_step(secret: str, code: str | None, last_step: int | None = None, now_s: float | None = None) -> int | None:
    """The time step ``code`` belongs to (within the drift, after ``last_step``), or ``None``."""
    if not code or not code.isdigit() or len(code) != DIGITS:
        return None
    now = current_step(now_s)
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (usually from a QR code)."""
    label = quote(f"{ISSUER}:{username}")
    query = urlencode({"secret": secret, "issuer": ISSUER, "algorithm": "SHA1", "digits": DIGITS, "period": STEP_S})
    return f"otpauth://totp/{label}?{query}"
