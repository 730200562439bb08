"""Files → validated scenario: read the students, schools, fleet and policy that officers keep.

The package is split along its jobs, each module importing only those before it:

- :mod:`~schoolbus.ingest.fields`: generic field validators (cells of a row, keys of a document),
  each problem recorded with file, row and column, all raised at once;
- :mod:`~schoolbus.ingest.readers`: encodings and readers (CSV, XLSX, GeoJSON tables; YAML and TOML
  documents), header aliases and column checks;
- :mod:`~schoolbus.ingest.domain`: rows and keys mapped onto the domain model (students, schools,
  fleet, prices, policy) and :func:`load_scenario`.

The names below are what the public API, the other input readers (scenarios, changes, pins, the
geocoder) and the service use; import them from ``schoolbus.ingest``.
"""

from schoolbus.ingest.domain import (
    DEFAULT_FLEET,
    DEFAULT_PRICES,
    PRIORITY_KEYS,
    SCHOOL_COLUMNS,
    SCHOOL_WINDOW_COLUMNS,
    STUDENT_COLUMNS,
    STUDENT_REQUIRED_COLUMNS,
    fleet_document,
    fleet_from_mapping,
    load_scenario,
    policy_from_mapping,
    priority_rules_from_mapping,
    read_fleet,
    read_policy,
    read_priority_rules,
    read_schools,
    read_students,
)
from schoolbus.ingest.fields import (
    ROW_NUMBERING,
    TIME_OF_DAY_EXPECTED,
    Row,
    number_from_cell,
    raise_if_problems,
    time_of_day_s,
)
from schoolbus.ingest.readers import Table, check_columns, read_document, read_table

__all__ = [
    "DEFAULT_FLEET",
    "DEFAULT_PRICES",
    "PRIORITY_KEYS",
    "ROW_NUMBERING",
    "SCHOOL_COLUMNS",
    "SCHOOL_WINDOW_COLUMNS",
    "STUDENT_COLUMNS",
    "STUDENT_REQUIRED_COLUMNS",
    "TIME_OF_DAY_EXPECTED",
    "Row",
    "Table",
    "check_columns",
    "fleet_document",
    "fleet_from_mapping",
    "load_scenario",
    "number_from_cell",
    "policy_from_mapping",
    "priority_rules_from_mapping",
    "raise_if_problems",
    "read_document",
    "read_fleet",
    "read_policy",
    "read_priority_rules",
    "read_schools",
    "read_students",
    "read_table",
    "time_of_day_s",
]
