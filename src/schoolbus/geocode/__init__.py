"""Addresses → homes: an offline, Turkish-aware geocoder built from the district's OSM extract.

``load_index(osm)`` builds (or reads from the cache) the extract's address index;
``Geocoder(index).geocode_line("Ulubatlı Hasan Mh. 1203. Sk. No:5 Haliliye")`` places one address
with a precision (house, interpolated, street, neighbourhood, district, none) and a score 0-100;
:func:`schoolbus.geocode.table.geocode_table` does a whole students table. An optional
Nominatim-compatible geocoder (:mod:`schoolbus.geocode.nominatim`) sends addresses to a server and
is off unless explicitly allowed.
"""

from schoolbus.geocode.index import GeocodeIndex, load_index
from schoolbus.geocode.match import PRECISIONS, Geocoder, GeocodeResult, is_precise_enough
from schoolbus.geocode.parse import AddressQuery, parse_address

__all__ = [
    "PRECISIONS",
    "AddressQuery",
    "GeocodeIndex",
    "GeocodeResult",
    "Geocoder",
    "is_precise_enough",
    "load_index",
    "parse_address",
]
