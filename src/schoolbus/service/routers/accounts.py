"""/api/v1 auth, me, users, settings and audit."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select
from sqlalchemy.orm import Session

from schoolbus.service import auth, store, totp
from schoolbus.service.auth import AuthError
from schoolbus.service.db import AuditEntry, User
from schoolbus.service.deps import admin_user, api_user, bearer, db_session
from schoolbus.service.schemas import (
    AuditOut,
    PasswordIn,
    RoleIn,
    SettingsIn,
    SettingsOut,
    TokenIn,
    TokenOut,
    TotpCodeIn,
    TotpSetupOut,
    UserCreatedOut,
    UserIn,
    UserOut,
)

router = APIRouter()

TOO_MANY = {429: {"description": "Too many failed sign-ins: wait `Retry-After` seconds"}}


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def sign_in(request: Request, session: Session, username: str, password: str, totp_code: str | None, how: str) -> User:
    """Authenticate with the app's throttle; every success and failure is in the audit log.

    A failure is committed at once, since the request's transaction is rolled back when the
    error propagates.
    """
    address = client_address(request)
    try:
        user = auth.authenticate(
            session, username, password, throttle=request.app.state.throttle, address=address, totp_code=totp_code
        )
    except AuthError as error:
        session.rollback()
        store.audit(session, None, "login_failed", f"{username} from {address} ({how}: {error.code})", username=username)
        session.commit()
        raise
    store.audit(session, user, "login_ok", f"from {address} ({how})")
    return user


@router.post("/auth/token", response_model=TokenOut, tags=["auth"], summary="Sign in: a bearer token", responses=TOO_MANY)
def issue_token(body: TokenIn, request: Request, session: Session = Depends(db_session, scope="function")) -> TokenOut:
    user = sign_in(request, session, body.username, body.password, body.totp_code, "api")
    return TokenOut(access_token=auth.issue_token(session, user), must_change_password=user.must_change_password)


@router.delete("/auth/token", status_code=204, tags=["auth"], summary="Sign out: revoke this token")
def revoke_token(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> None:
    if credentials is not None:
        auth.revoke_token(session, credentials.credentials)


@router.get("/me", response_model=UserOut, tags=["auth"])
def me(user: User = Depends(api_user)) -> User:
    return user


@router.post(
    "/me/password", status_code=204, tags=["auth"], summary="Replace your password (every other session and token is revoked)"
)
def change_password(
    body: PasswordIn,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    user: User = Depends(api_user),
    session: Session = Depends(db_session, scope="function"),
) -> None:
    keep = credentials.credentials if credentials is not None else None
    auth.change_password(session, user, body.current_password, body.new_password, keep_token=keep)
    store.audit(session, user, "change_password", user.username)


@router.post("/me/logout-everywhere", status_code=204, tags=["auth"], summary="Revoke every session and token of your account")
def logout_everywhere(user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> None:
    n = auth.revoke_all(session, user)
    store.audit(session, user, "logout_everywhere", f"{n} sessions and tokens")


@router.post("/me/totp", response_model=TotpSetupOut, tags=["auth"], summary="Start setting up an authenticator app")
def start_totp(user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> TotpSetupOut:
    if user.totp_secret:
        raise ValueError("totp: this account already has an authenticator app")
    secret = auth.start_totp(user)
    return TotpSetupOut(secret=secret, otpauth_uri=totp.provisioning_uri(secret, user.username))


@router.post("/me/totp/confirm", response_model=UserOut, tags=["auth"], summary="Confirm the authenticator app with one of its codes")
def confirm_totp(body: TotpCodeIn, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> User:
    auth.confirm_totp(user, body.code)
    store.audit(session, user, "totp_enrolled", user.username)
    return user


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(_: User = Depends(admin_user), session: Session = Depends(db_session, scope="function")) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


@router.post("/users", response_model=UserCreatedOut, status_code=201, tags=["users"])
def create_user(body: UserIn, admin: User = Depends(admin_user), session: Session = Depends(db_session, scope="function")) -> UserCreatedOut:
    user, password = auth.create_user(session, body.username, body.role, body.password)
    store.audit(session, admin, "create_user", f"{user.username} ({user.role})")
    return UserCreatedOut(
        **UserOut.model_validate(user).model_dump(),
        one_time_password=password if body.password is None else None,
    )


@router.post("/users/{username}/disable", response_model=UserOut, tags=["users"], summary="Disable an account (its sessions and tokens end)")
def disable_user(username: str, admin: User = Depends(admin_user), session: Session = Depends(db_session, scope="function")) -> User:
    return store.set_active(session, admin, username, False)


@router.post("/users/{username}/enable", response_model=UserOut, tags=["users"], summary="Enable a disabled account")
def enable_user(username: str, admin: User = Depends(admin_user), session: Session = Depends(db_session, scope="function")) -> User:
    return store.set_active(session, admin, username, True)


@router.post("/users/{username}/revoke-tokens", response_model=UserOut, tags=["users"], summary="End every session and API token of an account")
def revoke_user_tokens(username: str, admin: User = Depends(admin_user), session: Session = Depends(db_session, scope="function")) -> User:
    return store.revoke_tokens(session, admin, username)


@router.put("/users/{username}/role", response_model=UserOut, tags=["users"], summary="Change an account's role (its sessions and tokens end)")
def change_role(username: str, body: RoleIn, admin: User = Depends(admin_user), session: Session = Depends(db_session, scope="function")) -> User:
    return store.change_role(session, admin, username, body.role)


@router.get("/settings", response_model=SettingsOut, tags=["users"], summary="Service-wide security settings")
def get_settings(_: User = Depends(admin_user), session: Session = Depends(db_session, scope="function")) -> SettingsOut:
    return SettingsOut(require_totp=auth.is_totp_required(session))


@router.put("/settings", response_model=SettingsOut, tags=["users"], summary="Change the security settings")
def put_settings(body: SettingsIn, admin: User = Depends(admin_user), session: Session = Depends(db_session, scope="function")) -> SettingsOut:
    return store.change_settings(session, admin, body.require_totp)


@router.get("/audit", response_model=list[AuditOut], tags=["users"], summary="Sign-ins, uploads, jobs, downloads and account changes")
def audit_log(
    limit: int = Query(200, ge=1, le=10_000),
    _: User = Depends(admin_user),
    session: Session = Depends(db_session, scope="function"),
) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
