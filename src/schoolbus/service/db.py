"""The service's store: SQLAlchemy 2 tables, engine set-up, and create/migrate on start.

One schema serves SQLite (the default, one file in the data folder) and PostgreSQL (psycopg 3).
Children's home locations are held in exactly two places: the uploaded students table
(``input_files`` rows of kind ``students``) and each scenario's ``scenario.json`` document
(``scenarios.document``). ``plans.document`` is the ``plan.json`` contract, which has none.

Migrations
----------
``schema_version`` holds one row with the version of the tables. A new database gets every table
and :data:`SCHEMA_VERSION`; an older one is brought forward by the steps in :data:`MIGRATIONS`
(version ``v`` to ``v + 1``) in one transaction; a newer one is refused, so an old schoolbus never
writes into tables it does not understand.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool

SCHEMA_VERSION = 2
"""Version of the tables this code writes (2: second factor, settings, public ids)."""

PUBLIC_ID_BYTES = 12
"""Random bytes of a public id (16 URL-safe characters): what URLs and the API name rows by."""
PUBLIC_ID_TABLES = ("projects", "scenarios", "jobs", "plans")


def new_public_id() -> str:
    """A random, non-sequential id for URLs and the API (the integer keys stay inside)."""
    return secrets.token_urlsafe(PUBLIC_ID_BYTES)


def _version_2(connection: Connection) -> None:
    """Version 1 → 2: the users' second factor, and a random public id for every existing project,
    scenario, job and plan (the ``settings`` table is created after the steps)."""
    for column, kind in (("totp_secret", "VARCHAR(64)"), ("totp_pending", "VARCHAR(64)"), ("totp_last_step", "BIGINT")):
        connection.exec_driver_sql(f"ALTER TABLE users ADD COLUMN {column} {kind}")  # nosec B608 - constant names
    for table in PUBLIC_ID_TABLES:
        connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN public_id VARCHAR(32)")  # nosec B608 - constant names
        ids = [row[0] for row in connection.exec_driver_sql(f"SELECT id FROM {table}")]  # nosec B608
        for row_id in ids:
            connection.execute(
                text(f"UPDATE {table} SET public_id = :public_id WHERE id = :id"),  # nosec B608 - constant names
                {"public_id": new_public_id(), "id": row_id},
            )
        connection.exec_driver_sql(f"CREATE UNIQUE INDEX ix_{table}_public_id ON {table} (public_id)")  # nosec B608


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _version_2}
"""``MIGRATIONS[v]`` moves a database from version ``v`` to ``v + 1``; version 1 is the first."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another (the server and the job processes share the file)."""

ROLES = ("admin", "officer", "manager", "contractor")
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED_STATUSES = ("succeeded", "failed", "cancelled")
INPUT_KINDS = ("students", "schools", "fleet", "policy", "hazards")


class StoreError(Exception):
    """The database cannot be used by this version of schoolbus."""


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator):
    """A UTC timestamp that reads back timezone-aware on SQLite too (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class SchemaVersion(Base):
    __tablename__ = "schema_version"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A password someone else chose or printed (first admin, `users create`) must be replaced
    # before the account can do anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The authenticator-app secret once confirmed; the one shown on the enrolment page until then;
    # the last time step a code was accepted for (a code never works twice).
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    totp_pending: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)

    @property
    def has_totp(self) -> bool:
        return bool(self.totp_secret)


class Setting(Base):
    """A service-wide setting an administrator changes at run time (``require_totp``)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, so a stolen database holds no usable token."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random token, the row its SHA-256 and CSRF secret."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(5), default="tr")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Project(Base):
    """A district's planning work: input files, a road network, scenarios, jobs and plans.

    The road network is a file: ``network_path`` (absolute) with its ``network_kind`` (``osm`` or
    ``roads``) and SHA-256, as :class:`schoolbus.planfile.NetworkSource` records it.
    """

    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    network_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    network_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    network_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    network_filename: Mapped[str | None] = mapped_column(String(255), nullable=True)


class ProjectMember(Base):
    __tablename__ = "project_members"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class InputFile(Base):
    """The latest validated upload of one kind (students, schools, fleet, policy) for a project."""

    __tablename__ = "input_files"
    __table_args__ = (UniqueConstraint("project_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    n_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ScenarioRecord(Base):
    """A validated scenario; ``document`` is its ``scenario.json`` (home locations included)."""

    __tablename__ = "scenarios"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True, default=new_public_id)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    document: Mapped[str] = mapped_column(Text)
    n_students: Mapped[int] = mapped_column(Integer)
    n_schools: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Job(Base):
    """A planning job; the table is the queue, so a job survives any restart of the server.

    ``attempt`` is a fresh random token each time a worker starts the job: a worker writes its
    result only while the row still carries its token and ``running``, so a worker orphaned by a
    crashed server can never overwrite what the restarted server decided.
    """

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True, default=new_public_id)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(20), default="plan")
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    stage: Mapped[str] = mapped_column(String(40), default="")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    time_limit_s: Mapped[float] = mapped_column(Float, default=5.0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    demo_n_students: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    plan_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PlanRecord(Base):
    """A finished, checked plan; ``document`` is its ``plan.json`` (no home locations)."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True, default=new_public_id)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id", ondelete="SET NULL"), nullable=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str] = mapped_column(String(120))
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class VehicleContractor(Base):
    """Which contractor account drives a vehicle-day of a plan (and so may see its route sheet)."""

    __tablename__ = "vehicle_contractors"
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class PlanVersion(Base):
    """A plan's place in its project's history and in the publishing workflow.

    ``status`` is ``draft`` (an officer's, seen by officers and managers only), ``published``
    (approved by a manager: what contractors and parent notices use; one per project) or
    ``superseded`` (published before; still downloadable). A plan without a row predates
    versions and counts as published version 1.
    """

    __tablename__ = "plan_versions"
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    parent_plan_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    author: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEntry(Base):
    """One download (or account change): who, what, when."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(Text)


# --------------------------------------------------------------------------------------------------
# Engines
# --------------------------------------------------------------------------------------------------


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` URLs name the psycopg 3 driver explicitly."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, pooled: bool = True) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    ``pooled=False`` (job processes) opens a connection per use and keeps none.
    """
    url = normalise_url(url)
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    kwargs: dict = {}
    if is_sqlite:
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_pre_ping"] = True
    if not pooled:
        kwargs["poolclass"] = NullPool
    engine = create_engine(url, **kwargs)
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            # WAL lets the server read while a job process writes its progress.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

    return engine


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> int:
    """Create the tables of a new database or bring an old one to :data:`SCHEMA_VERSION`.

    Returns
    -------
    int
        The schema version now in the database.

    Raises
    ------
    StoreError
        When the database was written by a newer schoolbus.
    """
    with engine.begin() as connection:
        if not inspect(connection).has_table(SchemaVersion.__tablename__):
            Base.metadata.create_all(connection)
            connection.execute(SchemaVersion.__table__.insert().values(version=SCHEMA_VERSION))
            return SCHEMA_VERSION
        found = connection.execute(select(SchemaVersion.version)).scalar()
        if found is None:
            raise StoreError("the schema_version table is empty: this is not a schoolbus database")
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"the database has schema version {found}, newer than this schoolbus understands "
                f"({SCHEMA_VERSION}): upgrade schoolbus"
            )
        for version in range(found, SCHEMA_VERSION):
            MIGRATIONS[version](connection)
        connection.execute(SchemaVersion.__table__.update().values(version=SCHEMA_VERSION))
        # Tables added by later versions without a data change are created here too.
        Base.metadata.create_all(connection)
        return SCHEMA_VERSION
