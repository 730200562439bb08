"""What only the PyVRP routing backend does: its 32-bit seeds and a time cap that ends its search.

The known answers, exact limits and invariants that every backend shares run for PyVRP too, in
``test_routing.py``, whose ``backend`` fixture covers every name in ``ROUTING_BACKENDS``.
"""

from __future__ import annotations

import pytest

from schoolbus.routing import pyvrp_backend
from test_routing import check_a_time_cap_ends_the_search, make_problem, pairs_matrix, solve


def test_pyvrp_time_cap_that_ends_the_search_still_returns_checked_routes_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an iteration limit far beyond what 10 ms of CPU time can do: the safety cap ends the search
    monkeypatch.setattr(pyvrp_backend, "MIN_ITERATIONS", 10**9)
    check_a_time_cap_ends_the_search("pyvrp")


def test_pyvrp_takes_seeds_beyond_32_bits() -> None:
    # PyVRP seeds its search with an unsigned 32-bit integer; schoolbus seeds are any int, so a
    # larger one must still solve (to the known optimum: the two close pairs) and repeat itself.
    problem = make_problem(pairs_matrix(), demand=[3, 3, 3, 3])
    big = solve(problem, "pyvrp", seed=2**40 + 5)
    assert {frozenset(r.stops) for r in big.routes} == {frozenset({1, 2}), frozenset({3, 4})}
    assert solve(problem, "pyvrp", seed=2**40 + 5) == big
