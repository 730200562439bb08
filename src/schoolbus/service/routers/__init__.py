"""Thin routers: translate HTTP to :mod:`schoolbus.service.store` calls and back."""
