"""Road graphs for school buses (being split into sources, tags, graphs, cache and snapping)."""

from schoolbus.network.graphs import *  # noqa: F403
from schoolbus.network.graphs import (  # noqa: F401
    CACHE_FORMAT,
    EARTH_RADIUS_M,
    _bus_speed_kph,
    _largest_scc,
    _ways_from_road_layer,
    nearest_cut_road_m,
)
