"""Accounts, passwords, bearer tokens, web sessions, CSRF and who may do what.

Passwords are hashed with Argon2id (argon2-cffi's defaults follow RFC 9106's recommendation).
Bearer tokens and session cookies are random 256-bit strings; the store keeps only their SHA-256,
so a copy of the database gives no one a way in.

Roles
-----
``admin``       every project, accounts, the audit log.
``officer``     everything in the projects they are a member of (files, scenarios, jobs, every
                output, home locations in ``scenario.json``).
``manager``     reads plans without student-level data and compares them, in their projects.
``contractor``  only the route sheets of the vehicle-days assigned to them, which show pupils by
                id and initials and never a home location.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from schoolbus.service import totp
from schoolbus.service.config import SESSION_TTL_S, TOKEN_TTL_S
from schoolbus.service.db import (
    ROLES,
    ApiToken,
    Project,
    ProjectMember,
    Setting,
    User,
    VehicleContractor,
    WebSession,
    utcnow,
)
from schoolbus.service.throttle import LoginThrottle, hash_slots

TOKEN_BYTES = 32
ONE_TIME_PASSWORD_BYTES = 12
MIN_PASSWORD_CHARS = 10
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
MAX_USERNAME_CHARS = 80

_hasher = PasswordHasher()
# Verifying against this when the user does not exist costs the same time as a real check, so a
# failed sign-in does not tell whether the account exists.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(Exception):
    """Sign-in failed, or a token or session is missing, unknown or expired (HTTP 401)."""

    code = "unauthorized"


class SecondFactorNeeded(AuthError):
    """The password was right, but the account's authenticator code is missing or wrong (401)."""

    code = "totp_required"


class Forbidden(Exception):
    """Signed in, but this role may not do that (HTTP 403)."""

    code = "forbidden"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """An Argon2id hash (salt and parameters included) of ``password``.

    Slow and memory-hungry by design: called from worker threads only (the routes are plain
    ``def``), at most :data:`~schoolbus.service.throttle.MAX_CONCURRENT_HASHES` at once.
    """
    with hash_slots:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (never raises on a bad hash)."""
    try:
        with hash_slots:
            return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """A random password to print once; the account must replace it at first sign-in."""
    return secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)


def username_problem(username: str) -> str | None:
    """Why ``username`` cannot be used, or ``None``."""
    if not username or len(username) > MAX_USERNAME_CHARS or not set(username) <= USERNAME_CHARS:
        return f"1-{MAX_USERNAME_CHARS} characters of a-z, 0-9, '.', '_' or '-'"
    return None


def password_problem(password: str) -> str | None:
    """Why ``password`` is too weak, or ``None``."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"at least {MIN_PASSWORD_CHARS} characters"
    return None


def create_user(
    session: Session, username: str, role: str, password: str | None = None
) -> tuple[User, str]:
    """Create an account; without ``password`` a one-time password is generated.

    Returns
    -------
    (User, str)
        The account and the password to hand over (the generated one must be changed at first use).

    Raises
    ------
    ValueError
        Bad username, role or password, or the username is taken.
    """
    problem = username_problem(username)
    if problem:
        raise ValueError(f"username {username!r}: expected {problem}")
    if role not in ROLES:
        raise ValueError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"username {username!r} is taken")
    generated = password is None
    if password is None:
        password = one_time_password()
    elif problem := password_problem(password):
        raise ValueError(f"password: expected {problem}")
    user = User(
        username=username, password_hash=hash_password(password), role=role, must_change_password=generated
    )
    session.add(user)
    session.flush()
    return user, password


def ensure_first_admin(session: Session) -> str | None:
    """On a store with no account, create ``admin`` and return its one-time password."""
    if session.scalar(select(User.id).limit(1)) is not None:
        return None
    _, password = create_user(session, "admin", "admin")
    return password


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    throttle: LoginThrottle | None = None,
    address: str | None = None,
    totp_code: str | None = None,
) -> User:
    """The active account ``username`` whose password is ``password`` (and, when the account has
    a second factor, whose authenticator code is ``totp_code``).

    Raises
    ------
    TooManyAttempts
        The account or the address must wait (checked *before* the password).
    AuthError
        Wrong username, password or code, or a disabled account (each failure is counted).
    """
    if throttle is not None:
        throttle.check(username, address)
    user = session.scalar(select(User).where(User.username == username))
    # Give the connection back while Argon2 works (and waits for a slot): forty parallel sign-ins
    # must not hold forty database connections.
    session.commit()
    if user is None:
        verify_password(_DUMMY_HASH, password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.is_active
    if not ok:
        if throttle is not None:
            throttle.failed(username, address)
        raise AuthError("wrong username or password")
    if user.totp_secret:
        step = totp.matching_step(user.totp_secret, totp_code, user.totp_last_step)
        if step is None:
            if throttle is not None:
                throttle.failed(username, address)
            raise SecondFactorNeeded("this account needs the 6-digit code of its authenticator app (totp_code)")
        user.totp_last_step = step
    if throttle is not None:
        throttle.succeeded(username)
    return user


def change_password(
    session: Session, user: User, current: str, new: str, *, keep_token: str | None = None, keep_session_id: int | None = None
) -> None:
    """Replace ``user``'s password after checking the current one; every other session and token
    of the account is revoked (``keep_*`` names the one the change was made from)."""
    if not verify_password(user.password_hash, current):
        raise AuthError("the current password is wrong")
    if problem := password_problem(new):
        raise ValueError(f"new password: expected {problem}")
    if new == current:
        raise ValueError("new password: expected a password different from the current one")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    revoke_all(session, user, keep_token=keep_token, keep_session_id=keep_session_id)


def revoke_all(session: Session, user: User, *, keep_token: str | None = None, keep_session_id: int | None = None) -> int:
    """Revoke every bearer token and web session of ``user`` but the ones named; how many went."""
    tokens = delete(ApiToken).where(ApiToken.user_id == user.id)
    if keep_token is not None:
        tokens = tokens.where(ApiToken.token_sha256 != sha256_hex(keep_token))
    sessions = delete(WebSession).where(WebSession.user_id == user.id)
    if keep_session_id is not None:
        sessions = sessions.where(WebSession.id != keep_session_id)
    return session.execute(tokens).rowcount + session.execute(sessions).rowcount


# --------------------------------------------------------------------------------------------------
# Settings and the second factor
# --------------------------------------------------------------------------------------------------

REQUIRE_TOTP = "require_totp"
"""Setting: admins and officers must use an authenticator app (``"1"``) or may (``"0"``)."""
TOTP_ROLES = ("admin", "officer")


def setting(session: Session, key: str, default: str = "") -> str:
    row = session.get(Setting, key)
    return row.value if row is not None else default


def set_setting(session: Session, key: str, value: str) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def is_totp_required(session: Session) -> bool:
    return setting(session, REQUIRE_TOTP, "0") == "1"


def needs_totp_enrolment(session: Session, user: User) -> bool:
    """Whether ``user`` must set up an authenticator app before doing anything else."""
    return user.role in TOTP_ROLES and not user.totp_secret and is_totp_required(session)


def start_totp(user: User) -> str:
    """The pending secret shown on the enrolment page (made once, kept until confirmed)."""
    if not user.totp_pending:
        user.totp_pending = totp.new_secret()
    return user.totp_pending


def confirm_totp(user: User, code: str) -> None:
    """Make the pending secret the account's second factor once a code from the app matches.

    Raises
    ------
    ValueError
        No enrolment started, or the code does not match.
    """
    if not user.totp_pending:
        raise ValueError("totp: start the enrolment first (the page or POST /api/v1/me/totp)")
    step = totp.matching_step(user.totp_pending, code)
    if step is None:
        raise ValueError("totp code: expected the 6 digits the authenticator app shows now")
    user.totp_secret, user.totp_pending, user.totp_last_step = user.totp_pending, None, step


# --------------------------------------------------------------------------------------------------
# Bearer tokens and sessions
# --------------------------------------------------------------------------------------------------


def issue_token(session: Session, user: User) -> str:
    """A new bearer token for ``user`` (only its hash is stored)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        ApiToken(
            user_id=user.id,
            token_sha256=sha256_hex(token),
            expires_at=utcnow() + dt.timedelta(seconds=TOKEN_TTL_S),
        )
    )
    return token


def revoke_token(session: Session, token: str) -> None:
    session.execute(delete(ApiToken).where(ApiToken.token_sha256 == sha256_hex(token)))


def user_from_token(session: Session, token: str) -> User:
    """The active account a bearer token belongs to; else :class:`AuthError`."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == sha256_hex(token)))
    if row is None or row.expires_at <= utcnow():
        raise AuthError("unknown or expired token")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise AuthError("unknown or expired token")
    return user


@dataclass(frozen=True)
class SignedIn:
    """A browser's sign-in: the account, its CSRF secret and its page language."""

    user: User
    csrf_token: str
    language: str
    session_id: int


def open_session(session: Session, user: User, language: str) -> str:
    """Start a web session; returns the cookie value."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        WebSession(
            user_id=user.id,
            token_sha256=sha256_hex(token),
            csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
            language=language,
            expires_at=utcnow() + dt.timedelta(seconds=SESSION_TTL_S),
        )
    )
    return token


def close_session(session: Session, cookie: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_sha256 == sha256_hex(cookie)))


def signed_in(session: Session, cookie: str | None) -> SignedIn | None:
    """The sign-in a session cookie stands for, or ``None``."""
    if not cookie:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_sha256 == sha256_hex(cookie)))
    if row is None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return SignedIn(user, row.csrf_token, row.language, row.id)


def csrf_ok(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


# --------------------------------------------------------------------------------------------------
# Who may do what
# --------------------------------------------------------------------------------------------------

EDIT = "edit"
"""Upload files, set policy and fleet, build scenarios, run and cancel jobs, assign contractors."""
READ_FULL = "read_full"
"""Every output with student-level data: full plan.json, notices, exports, scenario.json."""
READ_SUMMARY = "read_summary"
"""Plans without student-level data, the map without pupils, job status and comparisons."""

_PROJECT_ROLES = {
    EDIT: ("officer",),
    READ_FULL: ("officer",),
    READ_SUMMARY: ("officer", "manager"),
}


def is_member(session: Session, user: User, project_id: int) -> bool:
    return session.get(ProjectMember, (project_id, user.id)) is not None


def may(session: Session, user: User, project_id: int, action: str) -> bool:
    """Whether ``user`` may do ``action`` in project ``project_id``."""
    if user.role == "admin":
        return True
    return user.role in _PROJECT_ROLES[action] and is_member(session, user, project_id)


def require(session: Session, user: User, project_id: int, action: str) -> None:
    """Raise :class:`Forbidden` unless ``user`` may do ``action`` in the project."""
    if not may(session, user, project_id, action):
        raise Forbidden(f"a {user.role} may not do this in project {project_id}")


def visible_project_ids(session: Session, user: User) -> list[int] | None:
    """Projects ``user`` may see (``None``: all, for admins); contractors see none."""
    if user.role == "admin":
        return None
    if user.role == "contractor":
        return []
    return list(session.scalars(select(ProjectMember.project_id).where(ProjectMember.user_id == user.id)))


def contractor_vehicles(session: Session, user: User, plan_id: int) -> set[str]:
    """Vehicle-days of plan ``plan_id`` assigned to ``user``."""
    return set(
        session.scalars(
            select(VehicleContractor.vehicle_id).where(
                VehicleContractor.plan_id == plan_id, VehicleContractor.user_id == user.id
            )
        )
    )


def sheet_vehicles(session: Session, user: User, plan_id: int, project_id: int, all_ids: list[str]) -> list[str]:
    """Which vehicle-days' route sheets ``user`` may download from a plan (plan order)."""
    if may(session, user, project_id, READ_FULL):
        return list(all_ids)
    if user.role == "contractor":
        mine = contractor_vehicles(session, user, plan_id)
        return [v for v in all_ids if v in mine]
    return []


def add_member(session: Session, project: Project, user: User) -> None:
    if session.get(ProjectMember, (project.id, user.id)) is None:
        session.add(ProjectMember(project_id=project.id, user_id=user.id))
