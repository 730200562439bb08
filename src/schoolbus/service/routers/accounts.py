"""/api/v1 auth, me, users and audit."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select
from sqlalchemy.orm import Session

from schoolbus.service import auth, store
from schoolbus.service.db import AuditEntry, User
from schoolbus.service.deps import admin_user, api_user, bearer, db_session
from schoolbus.service.schemas import AuditOut, PasswordIn, TokenIn, TokenOut, UserCreatedOut, UserIn, UserOut

router = APIRouter()


@router.post("/auth/token", response_model=TokenOut, tags=["auth"], summary="Sign in: a bearer token")
def issue_token(body: TokenIn, session: Session = Depends(db_session, scope="function")) -> TokenOut:
    user = auth.authenticate(session, body.username, body.password)
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


@router.post("/me/password", status_code=204, tags=["auth"], summary="Replace your password")
def change_password(body: PasswordIn, user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")) -> None:
    auth.change_password(session, user, body.current_password, body.new_password)
    store.audit(session, user, "change_password", user.username)


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


@router.get("/audit", response_model=list[AuditOut], tags=["users"], summary="Downloads and account changes")
def audit_log(
    limit: int = Query(200, ge=1, le=10_000),
    _: User = Depends(admin_user),
    session: Session = Depends(db_session, scope="function"),
) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
