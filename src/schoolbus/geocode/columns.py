"""Column names of address tables: the address columns a students file may carry, and the
columns ``schoolbus geocode`` adds. Kept apart so :mod:`schoolbus.ingest` can accept them without
importing the geocoder.
"""

from __future__ import annotations

__all__ = ["ADDRESS_COLUMNS", "GEOCODE_COLUMNS", "address_part_of"]

ADDRESS_COLUMNS: dict[str, str] = {
    # English name and Turkish name (with and without Turkish letters) → address part.
    "address": "address", "adres": "address",
    "province": "province", "il": "province",
    "district": "district", "ilce": "district", "ilçe": "district",
    "neighbourhood": "neighbourhood", "mahalle": "neighbourhood",
    "street": "street", "cadde_sokak": "street", "sokak": "street", "cadde": "street",
    "house_number": "house_number", "bina_no": "house_number",
    "unit": "unit", "daire": "unit",
}
"""Address columns a students file may have instead of (or besides) ``lon``/``lat``.

``address`` holds a whole one-line address; the others hold one part each. ``unit`` (daire) is
read but not used for placing: every flat of a building is at the building.
"""

GEOCODE_COLUMNS = ("geocode_precision", "geocode_score", "geocode_match")
"""Columns ``schoolbus geocode`` adds beside ``lon`` and ``lat``."""


def address_part_of(column: str) -> str | None:
    """The address part a column holds (``"ilçe"`` → ``"district"``), or ``None``."""
    return ADDRESS_COLUMNS.get(column.strip().lower())
