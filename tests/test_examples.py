"""The pictures in the README, taken the way the visual tests look at outputs (Chromium, pdftoppm).

Skipped unless ``SCHOOLBUS_EXAMPLES_DIR`` names a folder (``maps/examples`` to refresh them)::

    SCHOOLBUS_EXAMPLES_DIR=maps/examples .venv/bin/python -m pytest tests/test_examples.py -m slow

Writes ``route_sheet_page.png`` (a Turkish route sheet of the Helsinki demo, with the streets around
each trip and stop), ``notice_ar.png`` (a parent notice in Arabic) and ``map_60_vehicles.png`` (the
map of a plan with about 60 vehicle-days, as it first opens). PNGs are reduced to a palette to stay
small.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from schoolbus.model import Fleet, VehicleType
from schoolbus.network import load_network
from schoolbus.outputs.maps import render_map
from schoolbus.outputs.sheets import families_from_plan, render_parent_notices, render_route_sheets
from schoolbus.params import SolverParams
from schoolbus.pipeline import plan
from test_outputs_visual import CHROMIUM, PDFTOPPM, pdf_pages, screenshot

EXAMPLES = os.environ.get("SCHOOLBUS_EXAMPLES_DIR")
PALETTE_COLOURS = 64
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not EXAMPLES, reason="set SCHOOLBUS_EXAMPLES_DIR to write the README's pictures"),
    pytest.mark.skipif(CHROMIUM is None or PDFTOPPM is None, reason="needs chromium and pdftoppm"),
]


@pytest.fixture(scope="module")
def helsinki(helsinki_pbf, tmp_path_factory):
    return load_network(osm=helsinki_pbf, cache_dir=tmp_path_factory.mktemp("cache"))


def save_small(image, path: Path) -> None:
    image.convert("P", palette=1, colors=PALETTE_COLOURS).save(path, optimize=True)  # 1 = ADAPTIVE


def test_sheet_page_and_arabic_notice(helsinki, helsinki_pbf, tmp_path):
    from schoolbus.synthetic import demo_scenario, read_osm_schools

    scenario = demo_scenario(read_osm_schools(helsinki_pbf), helsinki.drive, n_students=120, seed=3)
    result = plan(scenario, helsinki, SolverParams(time_limit_s=2.0, seed=0))
    one = dataclasses.replace(result, vehicles=result.vehicles[:1])
    sheets = render_route_sheets(one, tmp_path / "sheets", language="tr", roads=helsinki.drive)
    pages = pdf_pages(next(p for p in sheets if p.suffix == ".pdf"), tmp_path / "sheet", dpi=80)
    save_small(pages[0], Path(EXAMPLES) / "route_sheet_page.png")

    arabic = next(f for f in families_from_plan(result) if f.language == "ar" and any(a.stop_id for a in f.assignments))
    only = dataclasses.replace(result, assignments=arabic.assignments)
    notices = render_parent_notices(only, tmp_path / "notices")
    (page,) = pdf_pages(next(p for p in notices if p.suffix == ".pdf"), tmp_path / "notice", dpi=80)
    save_small(page, Path(EXAMPLES) / "notice_ar.png")


def test_map_of_about_sixty_vehicle_days(helsinki, helsinki_pbf, tmp_path):
    from schoolbus.synthetic import demo_scenario, read_osm_schools

    scenario = demo_scenario(read_osm_schools(helsinki_pbf), helsinki.drive, n_students=550, seed=5)
    # Ten-seat minibuses and one bell for every school: little chaining, many vehicle-days.
    van = VehicleType("minibus_10", seats=10, day_rate=1800.0)
    schools = tuple(
        dataclasses.replace(s, shifts=tuple(dataclasses.replace(x, bell_s=8 * 3600, dismissal_s=13 * 3600) for x in s.shifts))
        for s in scenario.schools
    )
    scenario = dataclasses.replace(
        scenario, name="Helsinki, 550 pupils", schools=schools, fleet=Fleet((van,), scenario.fleet.depots)
    )
    result = plan(scenario, helsinki, SolverParams(time_limit_s=1.0, seed=0))
    assert len(result.vehicles) >= 40
    html = render_map(result, tmp_path / "map.html", language="en")
    image = screenshot(html, tmp_path / "map.png", tmp_path)
    save_small(image, Path(EXAMPLES) / "map_60_vehicles.png")
