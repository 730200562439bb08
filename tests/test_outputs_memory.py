"""Output writers keep memory flat: 2,000 parent notices need no more memory than 200, and a
worker rendering one document is sent that document's part of the plan, not the whole plan.

Each count is rendered in a fresh Python process (so one run's caches cannot hide another's
growth) and that process's peak resident memory (``VmHWM``) is read from the kernel. Laying out every notice
before writing one PDF, as the writer once did, holds about 2 MB per notice: 2,000 notices would
peak near 4 GB. Streaming a chunk at a time keeps the peak where 200 notices put it.
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fixtures_plan import lone_pupil_copies, make_plan
from schoolbus.executor import SerialExecutor
from schoolbus.model import Plan
from schoolbus.outputs.sheets import _notice_chunks, render_parent_notices, render_route_sheets

TESTS = Path(__file__).resolve().parent

GROWTH_BOUND_MB = 100
"""How much more the 2,000-notice run may peak than the 200-notice run. Measured: 0-10 MB. Laying
out every notice first would add about 3.6 GB; a font configuration per notice, about 400 MB."""

PEAK_BOUND_MB = 600
"""An absolute ceiling for the 2,000-notice run (measured about 250 MB, the libraries included)."""

RENDER = textwrap.dedent(
    """
    import dataclasses, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from fixtures_plan import lone_pupil_copies, make_plan
    from schoolbus.outputs.sheets import render_parent_notices

    n_families, out = int(sys.argv[1]), Path(sys.argv[2])
    plan = make_plan()
    # Only copies of the fixture's pupils, each a family of their own: n_families notices.
    students, assignments = lone_pupil_copies(plan, n_families)
    big = dataclasses.replace(
        plan, scenario=dataclasses.replace(plan.scenario, students=students), assignments=assignments
    )
    paths = render_parent_notices(big, out)
    from pypdf import PdfReader
    pages = sum(len(PdfReader(p).pages) for p in paths)
    # VmHWM: this program's own peak. (ru_maxrss would also count the pages of the test process
    # that forked it, which the kernel carries across exec into the child's high-water mark.)
    status = Path("/proc/self/status").read_text()
    print(pages, int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) // 1024)
    """
)


def peak_mb(n_families: int, out: Path) -> tuple[int, int]:
    """(pages written, peak resident MB) of a fresh process writing ``n_families`` notices."""
    script = RENDER.format(tests=str(TESTS))
    done = subprocess.run(
        [sys.executable, "-c", script, str(n_families), str(out)], capture_output=True, text=True, check=True
    )
    pages, peak = done.stdout.split()[-2:]
    return int(pages), int(peak)


@pytest.mark.slow
def test_two_thousand_notices_peak_no_higher_than_two_hundred(tmp_path):
    pages_small, small_mb = peak_mb(200, tmp_path / "small")
    pages_large, large_mb = peak_mb(2000, tmp_path / "large")
    assert (pages_small, pages_large) == (200, 2000)
    assert large_mb <= small_mb + GROWTH_BOUND_MB, (small_mb, large_mb)
    assert large_mb <= PEAK_BOUND_MB, large_mb


def grown(plan: Plan, n_families: int) -> Plan:
    """``plan`` and ``n_families`` more pupils, copies of its lone ones; the copies ride no trip, so
    route sheets stay as they were."""
    students, assignments = lone_pupil_copies(plan, n_families)
    return dataclasses.replace(
        plan,
        scenario=dataclasses.replace(plan.scenario, students=plan.scenario.students + students),
        assignments=plan.assignments + assignments,
    )


class Recording(SerialExecutor):
    """Runs every task in this process and keeps what each one would be sent: the shared value and
    its item, as a worker process receives them."""

    def __init__(self) -> None:
        self.tasks: list[tuple[object, object]] = []

    def map(self, fn, items, shared=None, *, progress=None):
        self.tasks += [pickle.loads(pickle.dumps((shared, item))) for item in items]
        return super().map(fn, items, shared, progress=progress)


def pupils_of(plan: Plan) -> set[str]:
    return {s.id for s in plan.scenario.students}


def test_each_document_task_carries_only_the_pupils_its_document_names(tmp_path):
    plan = make_plan()
    sheets, notices = Recording(), Recording()
    render_route_sheets(plan, tmp_path / "sheets", executor=sheets)
    render_parent_notices(plan, tmp_path / "notices", executor=notices)

    trips = {t.id: t for t in plan.trips}
    assert len(sheets.tasks) == len(plan.vehicles)
    for (shared, part), vehicle in zip(sheets.tasks, plan.vehicles):
        assert not any(isinstance(value, Plan) for value in shared)
        assert part.vehicles == (vehicle,)
        on_board = {s for t in vehicle.trip_ids for v in trips[t].visits for s in (*v.board, *v.alight)}
        assert pupils_of(part) == on_board
        assert {s.id for s in part.stops} == {v.stop_id for t in vehicle.trip_ids for v in trips[t].visits} - {None}
    assert len(notices.tasks) >= 1
    named = set()
    for shared, chunk in notices.tasks:
        assert not any(isinstance(value, Plan) for value in shared)
        families = {a.student_id for _, family in chunk.families for a in family.assignments}
        assert pupils_of(chunk.plan) == families
        assert {a.student_id for a in chunk.plan.assignments} == families
        named |= families
    assert named == pupils_of(plan)


def test_what_a_document_task_is_sent_does_not_grow_with_the_plan(tmp_path):
    """Ten times the pupils: the same bytes to each route sheet's task, and a notice task's bytes
    bounded by its chunk of families (whole plans once went to every worker: 130 MB at 20,000 pupils)."""
    sent = {}
    for n in (300, 3000):
        big = grown(make_plan(), n)
        sheets = Recording()
        render_route_sheets(big, tmp_path / f"sheets{n:05d}", executor=sheets)  # paths of one length
        chunks = _notice_chunks(big)
        assert sum(len(c.families) for c in chunks) >= n
        sent[n] = (
            max(len(pickle.dumps(task)) for task in sheets.tasks),
            max(len(pickle.dumps(chunk)) for chunk in chunks),
        )
    assert sent[3000][0] == sent[300][0]
    assert sent[3000][1] <= 1.1 * sent[300][1], sent
