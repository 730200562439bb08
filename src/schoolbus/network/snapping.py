"""Snapping points to road graphs: the nearest node of each ``(lon, lat)`` location.

Nodes and locations are put on the unit sphere, where straight-line (chord) order equals
great-circle order, so a KD-tree gives the exact nearest node by great-circle distance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

from schoolbus.errors import RoadNetworkError
from schoolbus.network.graphs import EARTH_RADIUS_M, RoadNetwork

__all__ = ["Snapped", "nearest_cut_road_m", "snap_points"]


@dataclass(frozen=True)
class Snapped:
    """Nearest graph node of each location.

    ``node_ids`` (int64) and ``snap_m`` (float, great-circle metres) have one entry per location.
    """

    node_ids: np.ndarray
    snap_m: np.ndarray



def snap_points(graph: nx.Graph, locations: Sequence[tuple[float, float]]) -> Snapped:
    """Find the nearest node of ``graph`` to each ``(lon, lat)`` location.

    Nodes and locations are put on the unit sphere, where straight-line (chord) order equals
    great-circle order, so a KD-tree gives the exact nearest node by great-circle distance.

    Parameters
    ----------
    graph : networkx.Graph
        Any graph whose nodes have ``x`` (lon) and ``y`` (lat) in degrees.
    locations : sequence of (lon, lat)
        Points to snap, degrees.

    Returns
    -------
    Snapped
        ``node_ids`` (int64) and ``snap_m`` (great-circle metres), one per location.

    Raises
    ------
    RoadNetworkError
        The graph has no nodes.
    """
    if graph.number_of_nodes() == 0:
        raise RoadNetworkError("cannot snap to a road graph without nodes")
    node_ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=float)
    points = np.asarray(locations, dtype=float).reshape(-1, 2)
    if len(points) == 0:
        return Snapped(node_ids=np.empty(0, dtype=np.int64), snap_m=np.empty(0, dtype=float))
    chord, index = cKDTree(_unit_sphere(xy)).query(_unit_sphere(points))
    snap_m = 2 * EARTH_RADIUS_M * np.arcsin(np.clip(np.asarray(chord) / 2, 0.0, 1.0))
    return Snapped(node_ids=node_ids[index], snap_m=snap_m)


def nearest_cut_road_m(network: RoadNetwork, locations: Sequence[tuple[float, float]]) -> np.ndarray:
    """Great-circle metres from each location to the nearest cut-off drivable road point (inf if none)."""
    if not network.cut_drive_points or not locations:
        return np.full(len(locations), np.inf)
    tree = cKDTree(_unit_sphere(np.asarray(network.cut_drive_points, dtype=float)))
    chord, _ = tree.query(_unit_sphere(np.asarray(locations, dtype=float)))
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))


def _unit_sphere(lon_lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon_lat[:, 0]), np.radians(lon_lat[:, 1])
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))
