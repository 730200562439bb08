"""Vehicle routing: a solver-neutral problem (``problem``) and solver backends."""
