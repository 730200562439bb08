"""Output writers keep memory flat: 2,000 parent notices need no more memory than 200.

Each count is rendered in a fresh Python process (so one run's caches cannot hide another's
growth) and that process's peak resident memory (``VmHWM``) is read from the kernel. Laying out every notice
before writing one PDF, as the writer once did, holds about 2 MB per notice: 2,000 notices would
peak near 4 GB. Streaming a chunk at a time keeps the peak where 200 notices put it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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
    from fixtures_plan import make_plan
    from schoolbus.outputs.sheets import render_parent_notices

    n_families, out = int(sys.argv[1]), Path(sys.argv[2])
    plan = make_plan()
    students, assignments = [], []
    # Copies of the fixture's pupils, each a family of their own, until there are n_families.
    lone = [(s, a) for s, a in zip(plan.scenario.students, plan.assignments) if s.family_id is None]
    for k in range(n_families):
        student, assignment = lone[k % len(lone)]
        new_id = f"{{student.id}}-{{k}}"
        students.append(dataclasses.replace(student, id=new_id))
        assignments.append(dataclasses.replace(assignment, student_id=new_id))
    big = dataclasses.replace(
        plan,
        scenario=dataclasses.replace(plan.scenario, students=tuple(students)),
        assignments=tuple(assignments),
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
