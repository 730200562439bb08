"""FastAPI dependencies shared by the routers: the store session and the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from schoolbus.service import auth
from schoolbus.service.auth import AuthError, Forbidden
from schoolbus.service.db import User

SESSION_COOKIE = "schoolbus_session"
LOGIN_CSRF_COOKIE = "schoolbus_login_csrf"
PASSWORD_CHANGE_PATHS = ("/api/v1/me", "/api/v1/me/password", "/api/v1/auth/token")
"""What an account with a one-time password may still reach (to replace it)."""

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


TOTP_ENROLMENT_PATHS = ("/api/v1/me", "/api/v1/me/totp", "/api/v1/me/totp/confirm", "/api/v1/me/password")
"""What an admin or officer without the required second factor may still reach (to set it up)."""


class PasswordChangeRequired(Forbidden):
    """The account still has its one-time password."""

    code = "password_change_required"


class TotpEnrolmentRequired(Forbidden):
    """The administrator requires a second factor of this account, and it has none yet."""

    code = "totp_enrolment_required"


def db_session(request: Request) -> Iterator[Session]:
    """One store session per request: committed when the handler returns, rolled back on error.

    Routes declare it with ``scope="function"``, so the commit happens *before* the response is
    sent: a client that follows a redirect at once must see what the request wrote.
    """
    session: Session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def api_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    session: Session = Depends(db_session, scope="function"),
) -> User:
    """The account of a bearer token, or (for reading only) of the page's session cookie.

    The cookie is accepted for GET requests alone, so the page's download links work while no
    state-changing API call can be made by a forged cross-site request.
    """
    if credentials is not None:
        user = auth.user_from_token(session, credentials.credentials)
    elif request.method in ("GET", "HEAD") and (
        signed := auth.signed_in(session, request.cookies.get(SESSION_COOKIE))
    ):
        user = signed.user
    else:
        raise AuthError("sign in: send 'Authorization: Bearer <token>' from POST /api/v1/auth/token")
    if user.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired("replace the one-time password first: POST /api/v1/me/password")
    if request.url.path not in TOTP_ENROLMENT_PATHS and auth.needs_totp_enrolment(session, user):
        raise TotpEnrolmentRequired("set up an authenticator app first: POST /api/v1/me/totp, then /api/v1/me/totp/confirm")
    return user


def admin_user(user: User = Depends(api_user)) -> User:
    if user.role != "admin":
        raise Forbidden("only an admin may do this")
    return user
