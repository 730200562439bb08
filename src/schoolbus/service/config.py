"""Where the service keeps its data and how it runs, read once from arguments and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATABASE_URL_ENV = "SCHOOLBUS_DATABASE_URL"
DATA_DIR_ENV = "SCHOOLBUS_DATA_DIR"
MAX_JOBS_ENV = "SCHOOLBUS_MAX_JOBS"
COOKIE_SECURE_ENV = "SCHOOLBUS_COOKIE_SECURE"
DEMO_STUDENTS_ENV = "SCHOOLBUS_DEMO_STUDENTS"

DATABASE_FILE = "schoolbus.db"
DEFAULT_MAX_JOBS = 1
"""Planning jobs solved at once. Each runs in its own process and takes one core while routing."""

DEFAULT_DEMO_STUDENTS = 300
SESSION_TTL_S = 12 * 3600
"""A web sign-in lasts a working day."""
TOKEN_TTL_S = 30 * 24 * 3600
"""An API bearer token lasts a month unless revoked."""


def default_data_dir() -> Path:
    """``$SCHOOLBUS_DATA_DIR`` if set, else ``~/.local/share/schoolbus``."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else Path.home() / ".local" / "share" / "schoolbus"


@dataclass(frozen=True)
class ServiceConfig:
    """How one service instance runs.

    Attributes
    ----------
    data_dir : Path
        Uploaded road networks, the network cache, rendered maps and sheets, and (by default) the
        SQLite database live here.
    database_url : str or None
        A SQLAlchemy URL; ``None``: ``sqlite:///<data_dir>/schoolbus.db``.
    max_jobs : int
        Planning jobs solved at once, each in its own process; more wait in the queue.
    preload_demo : bool
        On the first start (no project yet) create the ``demo`` project on the Helsinki extract and
        queue its planning job.
    demo_n_students : int
        Pupils generated for the demo project.
    cookie_secure : bool
        Mark the sign-in cookie ``Secure`` (browsers treat http://localhost as secure too); turn
        off only behind a plain-HTTP intranet address.
    print_admin_password : callable or None
        Called with ``(username, password)`` when the first start creates the admin account.
    """

    data_dir: Path
    database_url: str | None = None
    max_jobs: int = DEFAULT_MAX_JOBS
    preload_demo: bool = True
    demo_n_students: int = DEFAULT_DEMO_STUDENTS
    cookie_secure: bool = True
    print_admin_password: object = None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the store."""
        return self.database_url or f"sqlite:///{Path(self.data_dir).resolve() / DATABASE_FILE}"

    @classmethod
    def from_env(cls, data_dir: Path | None = None, **overrides) -> ServiceConfig:
        """A config from ``SCHOOLBUS_*`` variables, then ``overrides``."""
        values = {
            "data_dir": Path(data_dir) if data_dir is not None else default_data_dir(),
            "database_url": os.environ.get(DATABASE_URL_ENV) or None,
            "max_jobs": int(os.environ.get(MAX_JOBS_ENV, DEFAULT_MAX_JOBS)),
            "cookie_secure": os.environ.get(COOKIE_SECURE_ENV, "1") not in ("0", "false", "no"),
            "demo_n_students": int(os.environ.get(DEMO_STUDENTS_ENV, DEFAULT_DEMO_STUDENTS)),
        }
        values.update(overrides)
        return cls(**values)
