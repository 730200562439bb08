"""Renderers: maps, route sheets, reports and exports of a finished plan. They never recompute it."""
