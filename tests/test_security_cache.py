"""The network cache holds data, never code: gzipped JSON that reads back the same graphs in the
same order (a cached network must give the same plan), and a pickle dropped where the cache file
belongs is never unpickled.
"""

from __future__ import annotations

import gzip
import json
import pickle  # nosec B403 - the test writes a hostile pickle to prove it is never loaded
from pathlib import Path

import networkx as nx
import pytest

from schoolbus.network import load_network
from schoolbus.network.cache import CACHE_FORMAT


class _Marker:
    """Unpickling this creates a file: proof that a pickle was loaded."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.fixture(scope="module")
def cached(helsinki_pbf, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    built = load_network(osm=helsinki_pbf, cache_dir=cache)
    again = load_network(osm=helsinki_pbf, cache_dir=cache)
    return built, again


def test_cache_file_is_gzipped_json(cached):
    built, again = cached
    path = Path(built.report.cache_path)
    assert path.name.endswith(".json.gz") and again.report.is_from_cache
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        document = json.load(handle)
    assert document["format"] == CACHE_FORMAT


def test_cache_reads_back_the_same_graphs_in_the_same_order(cached):
    built, again = cached
    # the whole network, not only its graphs: landmarks name stops, cut-off roads give reasons
    assert len(built.places) > 100 and again.places == built.places
    assert len(built.cut_drive_points) > 10 and again.cut_drive_points == built.cut_drive_points
    assert built.report == again.report.__class__(**{**again.report.__dict__, "is_from_cache": False})
    for name in ("drive", "loaded", "walk"):
        a, b = getattr(built, name), getattr(again, name)
        assert nx.utils.graphs_equal(a, b)
        assert list(a.nodes(data=True)) == list(b.nodes(data=True))
        assert list(a.edges(keys=True, data=True)) == list(b.edges(keys=True, data=True))
        assert [list(a.adj[n]) for n in a] == [list(b.adj[n]) for n in b]
        if a.is_directed():
            assert [list(a.pred[n]) for n in a] == [list(b.pred[n]) for n in b]
        # one shared key dict per edge, as networkx builds it
        u, v, k = next(iter(b.edges(keys=True)))
        assert b._adj[u][v] is (b._pred[v][u] if b.is_directed() else b._adj[v][u])


@pytest.mark.slow
def test_a_pickle_in_the_cache_is_never_loaded(helsinki_pbf, tmp_path):
    cache = tmp_path / "cache"
    first = load_network(osm=helsinki_pbf, cache_dir=cache)
    path = Path(first.report.cache_path)
    marker = tmp_path / "unpickled"
    path.write_bytes(pickle.dumps(_Marker(str(marker))))
    again = load_network(osm=helsinki_pbf, cache_dir=cache)
    assert not marker.exists()
    assert not again.report.is_from_cache  # rebuilt, and the cache file rewritten as JSON
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        assert json.load(handle)["format"] == CACHE_FORMAT
