"""Road graphs for school buses: drive, loaded and walk profiles, speeds, snapping and a disk cache.

The package is split along its jobs, each module importing only those before it:

- :mod:`~schoolbus.network.tags`: OSM tag rules (what a bus may drive, where a pupil may walk,
  bus speeds from ``maxspeed`` and road classes);
- :mod:`~schoolbus.network.sources`: road sources read into ways (OSM files, road layers, Overpass
  downloads through osmnx, GraphML);
- :mod:`~schoolbus.network.cache`: built networks kept on disk as gzipped JSON;
- :mod:`~schoolbus.network.graphs`: :func:`load_network`, ways → pieces → the three graphs;
- :mod:`~schoolbus.network.snapping`: nearest graph nodes of locations.

The names below are what the other stages use; import them from ``schoolbus.network``.
"""

from schoolbus.network.cache import default_cache_dir
from schoolbus.network.graphs import (
    DEFAULT_MAX_EDGE_M,
    EARTH_RADIUS_M,
    NetworkReport,
    RoadNetwork,
    largest_scc,
    load_network,
)
from schoolbus.network.snapping import Snapped, nearest_cut_road_m, snap_points
from schoolbus.network.sources import OSM_SUFFIXES, ROAD_LAYER_SUFFIXES, RoadColumns
from schoolbus.network.tags import BUS_MAX_KPH, DEFAULT_SPEED_KPH, parse_maxspeed_kph

__all__ = [
    "BUS_MAX_KPH",
    "DEFAULT_MAX_EDGE_M",
    "DEFAULT_SPEED_KPH",
    "EARTH_RADIUS_M",
    "OSM_SUFFIXES",
    "ROAD_LAYER_SUFFIXES",
    "NetworkReport",
    "RoadColumns",
    "RoadNetwork",
    "Snapped",
    "default_cache_dir",
    "largest_scc",
    "load_network",
    "nearest_cut_road_m",
    "parse_maxspeed_kph",
    "snap_points",
]
