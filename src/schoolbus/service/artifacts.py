"""Rendered outputs of stored plans (map, route sheets, parent notices, exports), made once each.

The renderers of :mod:`schoolbus.outputs` are called on the plan view a role may see
(:func:`schoolbus.service.privacy.redacted_plan`); each result is written into a temporary folder and moved into
place whole, so a reader never sees half an output, and two requests for the same output render
it once.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from schoolbus.errors import SchoolbusError
from schoolbus.model import Plan
from schoolbus.planfile import NetworkSource

log = logging.getLogger(__name__)

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def rendered(folder: Path, render: Callable[[Path], object]) -> Path:
    """``folder`` after ``render(tmp)`` filled it once (rendering happens only the first time)."""
    if folder.is_dir():
        return folder
    with _lock(folder):
        if folder.is_dir():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        try:
            render(partial)
            partial.rename(folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return folder


def plan_folder(data_dir: Path, plan_key: str) -> Path:
    """Where a plan's outputs live; ``plan_key`` names the plan *and* its content (see routers)."""
    return Path(data_dir) / "artifacts" / f"plan-{plan_key}"


def map_html(data_dir: Path, plan_key: str, view: str, plan: Plan, language: str) -> Path:
    """The interactive map of ``plan`` (``view`` names the role's view: full or manager)."""
    from schoolbus.outputs.maps import render_map

    folder = rendered(
        plan_folder(data_dir, plan_key) / f"map-{view}-{language}",
        lambda out: render_map(plan, out / "map.html", language=language),
    )
    return folder / "map.html"


def route_sheets(
    data_dir: Path, plan_key: str, view: str, plan: Plan, language: str, network_source: NetworkSource | None = None
) -> Path:
    """The folder of route sheets (``route_sheet_<vehicle>.<language>.html``/``.pdf``).

    With the plan's ``network_source``, each trip's
    map is drawn over the surrounding streets and each stop gets its area inset, as on the
    command line; the network is read (from the service's cache) only when sheets are rendered.
    """
    from schoolbus.outputs.sheets import render_route_sheets

    def render(out: Path):
        roads = None
        if network_source is not None:
            try:
                network = network_source.load(plan.scenario.policy.forbidden_road_classes, cache_dir=data_dir / "cache")
                roads = network.drive
            except SchoolbusError as error:
                # The network file changed or went missing since planning: sheets without streets.
                log.warning("route sheets of %s drawn without streets: %s", plan_key, error)
        return render_route_sheets(plan, out, language=language, roads=roads)

    return rendered(plan_folder(data_dir, plan_key) / f"sheets-{view}-{language}", render)


def parent_notices(data_dir: Path, plan_key: str, plan: Plan, progress: Callable[[int, int], None] | None = None) -> Path:
    """The folder of parent notices (a booklet per school and shift, and ``notices.pdf`` with them all).

    ``progress(done, total)`` is called as booklets are written (when they are rendered now).
    """
    from schoolbus.outputs.sheets import render_parent_notices

    return rendered(
        notices_folder(data_dir, plan_key),
        lambda out: render_parent_notices(plan, out, combined=True, progress=progress),
    )


def notices_folder(data_dir: Path, plan_key: str) -> Path:
    """Where :func:`parent_notices` keeps a plan's notices (present once they are rendered)."""
    return plan_folder(data_dir, plan_key) / "notices"


def exports(data_dir: Path, plan_key: str, plan: Plan, language: str) -> Path:
    """The folder of exported tables (CSV, XLSX, GeoJSON)."""
    from schoolbus.outputs.export import export_tables

    return rendered(
        plan_folder(data_dir, plan_key) / f"exports-{language}",
        lambda out: export_tables(plan, out, language=language),
    )
