"""The API's request and response bodies (pydantic), kept apart from the domain model.

Times are ISO 8601 UTC; durations ``_s`` seconds; the plan document is the ``plan.json`` contract
(``docs/plan-format.md``), or for managers that document without student-level data.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Path as FastApiPath
from pydantic import BaseModel, ConfigDict, Field

Role = Literal["admin", "officer", "manager", "contractor"]
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
InputKind = Literal["students", "schools", "fleet", "policy", "hazards"]


class ProblemOut(BaseModel):
    """One problem in an input, as the CLI prints it (``message``) and field by field."""

    file: str
    row: int | None = Field(description="Row as numbered in Excel (header = row 1); null for a whole file or a key")
    column: str | None
    value: Any = Field(description="What the file holds there (text when not JSON-ready)")
    expected: str
    message: str


class ErrorOut(BaseModel):
    """Every error response: a stable ``code``, a message, and for invalid inputs each problem."""

    code: str = Field(examples=["invalid_input", "forbidden", "not_found", "unauthorized"])
    message: str
    problems: list[ProblemOut] = []


class TokenIn(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(
        default=None, pattern=r"^[0-9]{6}$", description="The authenticator app's code, for accounts with a second factor"
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    must_change_password: bool


MIN_PASSWORD_CHARS = 10
USERNAME_PATTERN = r"^[a-z0-9._-]+$"
NOT_BLANK = r"\S"
"""Names must hold a visible character (they are stripped before use)."""


class PasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=1024)


class TotpSetupOut(BaseModel):
    secret: str = Field(description="Base32 secret to type into the authenticator app")
    otpauth_uri: str = Field(description="The same as an otpauth:// URI (what a QR code carries)")


class TotpCodeIn(BaseModel):
    code: str = Field(pattern=r"^[0-9]{6}$")


class RoleIn(BaseModel):
    role: Role


class SettingsIn(BaseModel):
    model_config = ConfigDict(strict=True)
    require_totp: bool = Field(description="Admins and officers must sign in with an authenticator app")


class SettingsOut(BaseModel):
    require_totp: bool


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=80, pattern=USERNAME_PATTERN)
    role: Role
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_CHARS, max_length=1024, description="Omit to get a one-time password"
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: Role
    is_active: bool
    must_change_password: bool
    has_totp: bool = False


class UserCreatedOut(UserOut):
    one_time_password: str | None = Field(description="Shown once, when the server generated it")


class ProjectIn(BaseModel):
    name: str = Field(min_length=1, max_length=120, pattern=NOT_BLANK, description="Unique among projects (else 422)")


class InputFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: InputKind
    filename: str
    n_rows: int | None
    uploaded_at: dt.datetime


class ProjectOut(BaseModel):
    id: str
    name: str
    created_at: dt.datetime
    network_filename: str | None
    files: list[InputFileOut] = []


class MemberIn(BaseModel):
    username: str = Field(min_length=1, max_length=80, description="An officer, manager or contractor account (else 422)")


class ScenarioIn(BaseModel):
    name: str = Field(min_length=1, max_length=120, pattern=NOT_BLANK)
    budget_per_year: float | None = Field(None, ge=0, description="Annual budget: carry the most priority-weighted pupils within it")
    choose_bells: bool = Field(False, description="Move bells within the schools file's bell_earliest/bell_latest windows to need the fewest vehicles")


class ScenarioOut(BaseModel):
    id: str
    project_id: str
    name: str
    n_students: int
    n_schools: int
    created_at: dt.datetime


class JobIn(BaseModel):
    # Strict: `true` is not a seed, "3" is not an id.
    model_config = ConfigDict(strict=True)
    scenario_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    time_limit_s: float = Field(default=5.0, gt=0, le=600, description="Seconds per routing solve (a cap)")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class JobOut(BaseModel):
    id: str
    project_id: str
    scenario_id: str | None
    kind: Literal["plan", "demo"]
    status: JobStatus
    stage: str
    done: int
    total: int
    error: str | None
    time_limit_s: float
    seed: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    plan_id: str | None


class PlanOut(BaseModel):
    id: str
    project_id: str
    scenario_id: str | None
    job_id: str | None
    name: str
    created_at: dt.datetime
    summary: dict[str, Any] | None = Field(description="The plan's summary; null for contractors")


class SheetOut(BaseModel):
    vehicle_id: str
    pdf_url: str
    html_url: str


class ContractorsIn(BaseModel):
    assignments: dict[str, str | None] = Field(description="vehicle id → contractor username (null removes)")


class ComparisonOut(BaseModel):
    plans: list[PlanOut]
    metrics: list[dict[str, Any]] = Field(description="One row per metric: key, values (one per plan, in order)")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: dt.datetime
    username: str
    action: str
    target: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    schema_version: int
    running_jobs: int


PUBLIC_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
"""Public ids are random URL-safe tokens (``db.new_public_id``); integer keys never leave the store."""

Id = Annotated[str, FastApiPath(pattern=PUBLIC_ID_PATTERN, description="A public id (random, not sequential)")]
"""A path parameter naming a project, scenario, job or plan."""
PublicId = Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]
