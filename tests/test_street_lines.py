"""The streets drawn under route-sheet maps: the box query on a real extract and on random boxes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolbus.network import load_network
from schoolbus.outputs.sheets import StreetLines


@pytest.fixture(scope="module")
def streets(helsinki_pbf, tmp_path_factory):
    roads = load_network(osm=helsinki_pbf, cache_dir=tmp_path_factory.mktemp("cache"))
    return StreetLines(roads.drive)


def _brute_force(streets: StreetLines, west, south, east, north):
    """Every line with a point-wise bounding box meeting the query box, in order."""
    out = []
    for coords, _ in streets.lines:
        xs, ys = [p[0] for p in coords], [p[1] for p in coords]
        if min(xs) <= east and max(xs) >= west and min(ys) <= north and max(ys) >= south:
            out.append(coords)
    return out


def test_the_whole_extract_returns_every_street_once(streets):
    everything = streets.within(-180, -90, 180, 90)
    assert len(everything) == len(streets.lines) > 500
    assert streets.within(0, 0, 1, 1) == []  # the Gulf of Guinea has no Helsinki streets


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(24.93, 24.96),
    lat=st.floats(60.16, 60.18),
    half_lon=st.floats(0.0, 0.005),
    half_lat=st.floats(0.0, 0.003),
)
def test_a_box_query_returns_exactly_the_lines_whose_extent_meets_it(streets, lon, lat, half_lon, half_lat):
    box = (lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat)
    assert streets.within(*box) == _brute_force(streets, *box)
