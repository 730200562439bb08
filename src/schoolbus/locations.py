"""Locating a scenario on its roads: every home, school, depot and pinned place snapped once.

The stage right after the network. :func:`locate` snaps each kind of location to the graph the
later stages use it on, with one vectorised :func:`schoolbus.network.snap_points` call per graph
and kind, and returns a :class:`schoolbus.model.Located` that stops, routing, chaining, bells and
re-planning read instead of snapping again:

=================  ==========  ======================================================
locations          graph       used by
=================  ==========  ======================================================
homes              ``walk``    walks to stops, home-school walking distance, pins
homes              ``loaded``  door-to-door stops, the nearest road of a stranded home
schools            ``walk``    home-school walking distance
schools            ``loaded``  where trips start and end
depots             ``drive``   where vehicle-days start and end
pinned places      ``loaded``  where a ``stop_location`` pin puts its stop
=================  ==========  ======================================================

Snapping is exact and per point (the nearest node by great-circle distance), so a location gets
the same node whichever other locations are snapped with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from schoolbus.model import Located, Location, RoadPoint, Scenario
from schoolbus.network import RoadNetwork, snap_points

__all__ = ["locate"]


def locate(scenario: Scenario, roads: RoadNetwork) -> Located:
    """Snap every location of ``scenario`` to the road graphs of ``roads``, once.

    Parameters
    ----------
    scenario : Scenario
        Validated inputs: its students' homes, schools, depots and ``stop_location`` pins.
    roads : RoadNetwork
        The graphs the plan is made on (with the scenario's hazards already honoured).

    Returns
    -------
    Located
        Each location's nearest node and snap distance (metres) on the graph it is used on.

    Raises
    ------
    RoadNetworkError
        A graph with no nodes has a location to take.
    """
    students, schools, depots = scenario.students, scenario.schools, scenario.fleet.depots
    homes = [s.location for s in students]
    student_ids = [s.id for s in students]
    school_ids = [s.id for s in schools]
    places = {p.stop_id: p.location for p in scenario.pins if p.stop_id is not None and p.location is not None}
    return Located(
        homes_walk=_snap(roads.walk, student_ids, homes),
        homes_loaded=_snap(roads.loaded, student_ids, homes),
        schools_walk=_snap(roads.walk, school_ids, [s.location for s in schools]),
        schools_loaded=_snap(roads.loaded, school_ids, [s.location for s in schools]),
        depots_drive=_snap(roads.drive, [d.id for d in depots], [d.location for d in depots]),
        pinned_places_loaded=_snap(roads.loaded, list(places), list(places.values())),
    )


def _snap(graph: nx.Graph, ids: Sequence[str], locations: Sequence[Location]) -> dict[str, RoadPoint]:
    """``id -> RoadPoint`` of each location on ``graph``, in the given order (one call, none if empty)."""
    if not locations:
        return {}
    snapped = snap_points(graph, locations)
    return {
        key: RoadPoint(int(node), float(snap_m))
        for key, node, snap_m in zip(ids, snapped.node_ids, snapped.snap_m, strict=True)
    }
