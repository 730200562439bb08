"""Files → validated scenario (being split into readers, fields and the domain mapping)."""

from schoolbus.ingest.domain import *  # noqa: F403
from schoolbus.ingest.domain import (  # noqa: F401
    _DEPOT_KEYS,
    _POLICY_KEYS,
    _PRICE_KEYS,
    _VEHICLE_KEYS,
    SCHOOL_WINDOW_COLUMNS,
    TIME_OF_DAY_EXPECTED,
    _check_columns,
    _number,
    _raise_if,
    _read_table,
    _Row,
    _Table,
    fleet_from_mapping,
    policy_from_mapping,
    read_document,
    time_of_day_s,
)
