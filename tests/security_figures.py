"""Figures the security tests measure (cases tried, failures), for ``docs/security.md``.

Each test calls :func:`record` with what it tried; with ``SCHOOLBUS_SECURITY_FIGURES`` set to a
JSON file (``make security-figures`` sets ``docs/security-figures.json``) the figures are merged
into it, so the document quotes numbers the suite itself produced.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

FIGURES_ENV = "SCHOOLBUS_SECURITY_FIGURES"
_lock = threading.Lock()


def record(test: str, **figures: object) -> None:
    """Merge ``figures`` (e.g. ``cases=320, failures=0``) under ``test`` into the figures file."""
    target = os.environ.get(FIGURES_ENV)
    if not target:
        return
    path = Path(target)
    with _lock:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        data[test] = figures
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
