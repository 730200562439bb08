"""Scheduling: routes into vehicle-days.

- :mod:`~schoolbus.scheduling.chaining`: trips chained onto the fewest vehicles, least deadhead,
  each vehicle at its nearest depot.
- :mod:`~schoolbus.scheduling.choice`: which of routing's alternative trips to drive (MILPs).
- :mod:`~schoolbus.scheduling.vehicle_days`: the rules that turn chains into ``VehicleDay`` values
  (fleet counts, escorts, depots) and pupils' assignments; the pipeline and re-planning share them.
"""

from schoolbus.scheduling.chaining import Chain, ChainTrip, chain_trips, count_vehicles
from schoolbus.scheduling.choice import (
    RouteSetChoice,
    TripChoice,
    choose_plan_trips,
    choose_route_sets,
    choose_trips,
    choose_uniform_route_sets,
)

__all__ = [
    "Chain",
    "ChainTrip",
    "RouteSetChoice",
    "TripChoice",
    "chain_trips",
    "choose_plan_trips",
    "choose_route_sets",
    "choose_trips",
    "choose_uniform_route_sets",
    "count_vehicles",
]
