"""Figures the security tests measure (cases tried, failures), for ``docs/security.md``.

Each test calls :func:`record` with what it tried. With ``SCHOOLBUS_SECURITY_FIGURES`` set to a
JSON file, the figures are merged into it, and when a ``security.md`` sits beside that file, its
block between ``<!-- figures:begin -->`` and ``<!-- figures:end -->`` is rewritten from all of
them, so the document quotes numbers the suite itself produced::

    SCHOOLBUS_SECURITY_FIGURES=docs/security-figures.json .venv/bin/python -m pytest tests/test_security_*.py
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

FIGURES_ENV = "SCHOOLBUS_SECURITY_FIGURES"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"
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
        document = path.with_name("security.md")
        if document.is_file():
            text = document.read_text(encoding="utf-8")
            table = render(data)
            text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n{table}\n{END}", text, flags=re.S)
            document.write_text(text, encoding="utf-8")


def render(data: dict[str, dict]) -> str:
    """The figures as a Markdown table: one row per measurement."""
    rows = ["| measurement | figures |", "|---|---|"]
    for test in sorted(data):
        cells = ", ".join(f"{key} = {value}" for key, value in sorted(data[test].items()))
        rows.append(f"| `{test}` | {cells} |")
    return "\n".join(rows)
