"""The public API: what ``import schoolbus`` offers, and the README's example run as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import schoolbus

ROOT = Path(__file__).resolve().parent.parent


def readme_python_example() -> str:
    """The one ``python`` block of the README's "Python API" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return block


def test_every_public_name_resolves_to_what_its_module_defines():
    from schoolbus import check, ingest, model, network, params, pipeline, replan

    assert schoolbus.load_scenario is ingest.load_scenario
    assert schoolbus.load_network is network.load_network
    assert schoolbus.plan is pipeline.plan
    assert schoolbus.write_outputs is pipeline.write_outputs
    assert schoolbus.check_plan is check.check_plan
    assert schoolbus.Plan is model.Plan and schoolbus.Scenario is model.Scenario
    assert schoolbus.SolverParams is params.SolverParams
    # importing the submodule of the same name does not hide the function
    assert schoolbus.replan is replan and callable(replan)
    for name in schoolbus.__all__:
        assert getattr(schoolbus, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        _ = schoolbus.not_there


def test_import_schoolbus_loads_no_stage_and_no_solver():
    code = (
        "import sys, schoolbus\n"
        "heavy = [m for m in ('schoolbus.pipeline', 'schoolbus.network', 'networkx', 'pyvrp', 'ortools',"
        " 'pandas', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.slow
def test_submodule_imported_first_still_leaves_the_function_public():
    code = "import schoolbus.replan\nimport schoolbus\nprint(type(schoolbus.replan).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "function"


@pytest.mark.slow
def test_the_readme_example_runs_on_the_helsinki_extract(helsinki_pbf, tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "data" / "examples", tmp_path / "data" / "examples")
    (tmp_path / "Helsinki.osm.pbf").symlink_to(helsinki_pbf)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHOOLBUS_CACHE_DIR", str(tmp_path / "cache"))

    exec(compile(readme_python_example(), "README.md", "exec"), {})

    printed = capsys.readouterr().out
    assert re.search(r"^\d+ vehicles, \d+ of 40 pupils carried, [\d,]+ per year$", printed, flags=re.M)
    assert (tmp_path / "plans" / "api" / "plan.json").is_file()
    assert (tmp_path / "plans" / "api" / "map.html").is_file()


def test_the_readme_module_table_names_every_module_that_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| module | does |", 1)[1].split("\n\n", 1)[0]
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    named = {name for cell in first_cells for name in re.findall(r"`([a-z_]+(?:\.py|/))`", cell)}
    package = ROOT / "src" / "schoolbus"
    modules = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    packages = {f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert named == modules | packages
