"""Computational knobs: how hard and how long to search, never what the district promises.

District policy (walk and ride limits, bell times, prices) lives in ``model.Scenario``.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SEED = 0

ROUTING_BACKENDS = ("ortools", "pyvrp")
"""Routing backends (``schoolbus.routing.<name>_backend``) behind the solver-neutral problem."""

DEFAULT_ROUTING_BACKEND = "pyvrp"
"""The backend plans use unless told otherwise: PyVRP, because side by side it needed fewer
vehicles and drove less (``benchmarks/routing_backends.py`` measures both; the figures are in
``benchmarks/README.md``). OR-Tools stays fully supported and tested (``routing_backend="ortools"``,
``--routing-backend ortools``)."""


@dataclass(frozen=True)
class SolverParams:
    """Search settings shared by every stage that optimises.

    ``time_limit_s`` caps each routing solve; ``stop_time_limit_s`` guards each stop MILP on the
    wall clock, far beyond the work its node limit allows (a root node of about 4 s on an idle
    2-core machine took 11 s beside other work), so only a run far past its budget is cut, and
    then a warning says so; ``seed`` makes runs repeatable: the same inputs and
    seed give the same plan. ``route_duration_caps_s`` lists the extra caps on route duration under
    which alternative route sets are built per school (shorter routes chain onto more buses);
    an empty tuple builds one set per school without a cap. ``routing_backend`` names the
    search behind every routing solve (one of ``ROUTING_BACKENDS``). Choosing among alternative
    routes is a MILP with a deterministic budget, ``chain_effort_s`` estimated seconds (``None``:
    half of ``chain_time_limit_s``), which each phase turns into a branch-and-bound node limit
    from the model's size; ``chain_time_limit_s`` guards it on the wall clock, far beyond that
    budget, and a choice the guard cuts short says so (a warning in the log).
    """

    time_limit_s: float = 5.0
    seed: int = DEFAULT_SEED
    route_duration_caps_s: tuple[int, ...] = ()
    stop_time_limit_s: float = 300.0
    chain_time_limit_s: float = 300.0
    chain_effort_s: float | None = 15.0
    routing_backend: str = DEFAULT_ROUTING_BACKEND
