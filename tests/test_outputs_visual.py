"""Look at the outputs as a person would: the map in a browser, offline; PDFs as pictures.

Needs Debian's ``chromium`` and ``poppler-utils`` (``pdftoppm``); each test skips, saying so, when
they are missing. Set ``SCHOOLBUS_PREVIEW_DIR`` to keep the PNGs for a human look, e.g.::

    SCHOOLBUS_PREVIEW_DIR=/tmp/previews .venv/bin/python -m pytest tests/test_outputs_visual.py
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures_plan import make_plan
from schoolbus.outputs.maps import PLAIN_BACKGROUND, SIDEBAR_WIDTH_PX, render_map, vehicle_colours
from schoolbus.outputs.sheets import _notice_chunks, families_from_plan, render_parent_notices, render_route_sheets

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOPPM = shutil.which("pdftoppm")
WINDOW = (1280, 800)
BROWSER_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def plan():
    return make_plan()


@pytest.fixture(scope="module")
def preview_dir(tmp_path_factory) -> Path:
    wanted = os.environ.get("SCHOOLBUS_PREVIEW_DIR")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("previews")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(html: Path, png: Path, tmp_path: Path) -> Image.Image:
    """A headless-Chromium screenshot of ``html`` with every host name unresolvable (no network)."""
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--virtual-time-budget=3000",
            f"--screenshot={png}",
            html.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=BROWSER_TIMEOUT_S,
    )
    return Image.open(png).convert("RGB")


def pdf_pages(pdf: Path, prefix: Path, dpi: int = 60) -> list[Image.Image]:
    subprocess.run(
        [PDFTOPPM, "-png", "-r", str(dpi), str(pdf), str(prefix)], check=True, timeout=120
    )
    return [
        Image.open(p).convert("RGB") for p in sorted(prefix.parent.glob(f"{prefix.name}-*.png"))
    ]


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def count_near(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """Pixels within ``tolerance`` (sum of channel differences) of the colour ``rgb``."""
    pixels = np.asarray(image, dtype=np.int32)
    return int((np.abs(pixels - np.array(rgb)).sum(axis=2) <= tolerance).sum())


def dark_pixels(image: Image.Image, below: int) -> np.ndarray:
    return np.asarray(image.convert("L")) < below


def ink_centre_x(image: Image.Image, top: float, bottom: float) -> float:
    """Mean x (0..1) of dark pixels in a horizontal band given as fractions of the page height."""
    w, h = image.size
    _, xs = np.nonzero(dark_pixels(image.crop((0, int(h * top), w, int(h * bottom))), 128))
    assert xs.size, "no text in the band"
    return float(xs.mean()) / w


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)"
)
def test_map_shows_every_route_offline(plan, preview_dir, tmp_path):
    html = render_map(plan, preview_dir / "map.html")
    image = screenshot(html, preview_dir / "map.png", tmp_path)
    map_area = image.crop((SIDEBAR_WIDTH_PX, 0, *WINDOW))
    for vehicle_id, (colour, _) in vehicle_colours(plan).items():
        assert count_near(map_area, hex_rgb(colour)) > 300, f"route of {vehicle_id} not visible"
    # No tiles come without a network: the plain background shows and the routes lie on it.
    assert (
        count_near(map_area, hex_rgb(PLAIN_BACKGROUND), tolerance=6)
        > 0.3 * map_area.width * map_area.height
    )
    sidebar = image.crop((0, 0, SIDEBAR_WIDTH_PX, WINDOW[1]))
    assert dark_pixels(sidebar, 100).sum() > 2000, "legend and layer list missing"


@pytest.mark.skipif(
    PDFTOPPM is None, reason="pdftoppm is not installed (apt-get install poppler-utils)"
)
def test_sheet_pages_read_left_to_right_in_turkish_and_right_to_left_in_arabic(plan, preview_dir):
    one_vehicle = dataclasses.replace(plan, vehicles=plan.vehicles[:1])
    centres = {}
    for language in ("tr", "ar"):
        paths = render_route_sheets(
            one_vehicle, preview_dir / f"sheets_{language}", language=language
        )
        pdf = next(p for p in paths if p.suffix == ".pdf")
        pages = pdf_pages(pdf, preview_dir / f"sheet_{language}")
        assert pages, "no page rendered"
        for page in pages:
            w, h = page.size
            assert 1.40 < h / w < 1.43  # A4 portrait
            # More than the running head and page number alone (a trip's tail may be short).
            assert dark_pixels(page, 200).sum() > 0.004 * w * h, "a blank page"
        # The title line sits at the start of the line: left in Turkish, right in Arabic.
        centres[language] = ink_centre_x(pages[0], 0.05, 0.09)
    assert centres["tr"] < 0.45 < 0.55 < centres["ar"], centres


@pytest.mark.skipif(
    PDFTOPPM is None, reason="pdftoppm is not installed (apt-get install poppler-utils)"
)
def test_notice_pages_follow_each_familys_script(plan, preview_dir):
    paths = render_parent_notices(plan, preview_dir / "notices", combined=True)
    pages = pdf_pages(next(p for p in paths if p.name == "notices.pdf"), preview_dir / "notice")
    # notices.pdf holds the booklets (school and shift order), each in plan order
    families = [family for chunk in _notice_chunks(plan) for _, family in chunk.families]
    assert sorted(f.key for f in families) == sorted(f.key for f in families_from_plan(plan))
    assert len(pages) == len(families) < len(plan.assignments)  # siblings share a page
    for family, page in zip(families, pages):
        w, h = page.size
        assert 1.40 < h / w < 1.43  # A4 portrait
        centre = ink_centre_x(page, 0.06, 0.11)  # the notice's title
        if family.language == "ar":
            assert centre > 0.55, family.key
        else:
            assert centre < 0.45, family.key
