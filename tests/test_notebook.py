"""The walkthrough notebook runs top to bottom in a real Jupyter kernel, small, on the Helsinki extract."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from schoolbus.model import CostLine

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "planning_walkthrough.ipynb"
N_STUDENTS = 40
KERNEL_TIMEOUT_S = 300

# Appended to the executed copy only: reports what the notebook built, for the assertions below.
REPORT_CELL = """
import json
print(json.dumps({
    "plan": type(result).__name__,
    "n_students": result.summary.n_students,
    "n_generated": len(scenario.students),
    "map": str(map_path.resolve()),
    "cost_columns": list(costs.columns),
    "n_cost_rows": len(costs),
    "n_cost_lines": len(result.costs),
    "comparison": str(comparison_path.resolve()),
    "plans": [name for name, _ in plans],
    "plan_types": [type(p).__name__ for _, p in plans],
}))
"""


def test_the_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


@pytest.mark.slow
def test_the_notebook_runs_and_builds_plan_map_costs_and_comparison(tmp_path, monkeypatch):
    monkeypatch.setenv("SCHOOLBUS_NOTEBOOK_STUDENTS", str(N_STUDENTS))
    monkeypatch.setenv("SCHOOLBUS_NOTEBOOK_TIME_LIMIT_S", "1")
    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "cache"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    client = NotebookClient(
        notebook, timeout=KERNEL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # Nothing written to stderr: no warnings left in the walkthrough.
    assert not [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    built = json.loads(notebook.cells[-1].outputs[0].text)
    out = tmp_path / "out" / "walkthrough"
    assert built["plan"] == "Plan" and built["n_students"] == built["n_generated"] == N_STUDENTS
    assert built["map"] == str((out / "map.html").resolve()) and (out / "map.html").stat().st_size > 50_000
    assert built["cost_columns"] == [f.name for f in dataclasses.fields(CostLine)]
    assert built["n_cost_rows"] == built["n_cost_lines"] > 0
    assert built["comparison"] == str((out / "comparison" / "comparison.html").resolve())
    assert built["plans"] == ["base", "big-buses"] and built["plan_types"] == ["Plan", "Plan"]
    for stem in ("cost_per_student_per_year", "ride_times", "vehicles_by_class"):
        assert (out / "comparison" / f"{stem}.png").exists() and (out / "comparison" / f"{stem}.svg").exists()
    # The map and the comparison are shown inline, not only written.
    shown = [o["data"].get("text/html", "") for o in outputs if "data" in o]
    assert sum("<iframe srcdoc=" in html for html in shown) == 2
    assert any(o.get("data", {}).get("image/png") for o in outputs)
