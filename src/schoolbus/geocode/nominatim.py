"""An optional online geocoder: a self-hosted Nominatim, or any Nominatim-compatible URL, via geopy.

Pupils' addresses are personal data: sending them to a server is a transfer, abroad when the
server is public. This geocoder therefore refuses to start unless ``allow_personal_data_transfer``
is set explicitly (``--allow-personal-data-transfer`` on the command line); the offline geocoder
is the default everywhere. Requests are rate-limited (public Nominatim allows one per second) and
every answer is cached in a JSON file, so a re-run sends nothing already asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from schoolbus.errors import InputError, Problem
from schoolbus.geocode.match import NOT_FOUND, GeocodeResult

__all__ = ["DEFAULT_MIN_DELAY_S", "NominatimGeocoder", "precision_of"]

DEFAULT_MIN_DELAY_S = 1.0
"""Seconds between two requests: the usage policy of the public Nominatim servers."""

DEFAULT_TIMEOUT_S = 10.0

EXTERNAL_SCORE = {"house": 80, "street": 80, "neighbourhood": 50, "district": 50}
"""Nominatim does not say how sure it is: precise answers get 80, coarse ones 50 (to review)."""

_STREET_TYPES = {"road", "street", "highway"}
_NEIGHBOURHOOD_TYPES = {"neighbourhood", "suburb", "quarter", "village", "hamlet", "city_block", "isolated_dwelling"}
_DISTRICT_TYPES = {"city_district", "district", "town", "city", "county", "municipality", "borough", "state_district"}


def precision_of(raw: Mapping) -> str:
    """The precision of one Nominatim answer, from its ``addresstype``/``class``/``address``."""
    address = raw.get("address") or {}
    kind = raw.get("addresstype") or raw.get("type") or ""
    if address.get("house_number") or kind in ("building", "house"):
        return "house"
    if raw.get("class") == "highway" or kind in _STREET_TYPES:
        return "street"
    if kind in _NEIGHBOURHOOD_TYPES:
        return "neighbourhood"
    if kind in _DISTRICT_TYPES or raw.get("class") == "boundary":
        return "district"
    return "district"


class NominatimGeocoder:
    """Geocodes through a Nominatim-compatible server. Addresses leave this machine.

    Parameters
    ----------
    url : str
        The server, e.g. ``http://nominatim.internal:8080`` (self-hosted) or
        ``https://nominatim.openstreetmap.org``.
    allow_personal_data_transfer : bool
        Must be ``True``: the explicit statement that pupils' addresses may be sent to ``url``.
    cache_path : path, optional
        JSON file of answers by query; read at start, written after every new answer.
    min_delay_s : float
        Seconds between requests.
    country_codes : str, optional
        Limit answers to these ISO countries (``"tr"``).
    adapter_factory : callable, optional
        A geopy adapter (tests pass one that serves recorded responses).

    Raises
    ------
    InputError
        When the transfer is not allowed or the URL is not http(s).
    """

    def __init__(
        self,
        url: str,
        *,
        allow_personal_data_transfer: bool = False,
        cache_path: str | Path | None = None,
        min_delay_s: float = DEFAULT_MIN_DELAY_S,
        country_codes: str | None = None,
        user_agent: str = "schoolbus-geocoder",
        adapter_factory=None,
    ):
        from geopy.extra.rate_limiter import RateLimiter
        from geopy.geocoders import Nominatim

        if not allow_personal_data_transfer:
            raise InputError(
                [
                    Problem(
                        "settings", None, "allow_personal_data_transfer", False,
                        "an explicit permission: an online geocoder sends pupils' addresses to "
                        f"{url}; use the offline geocoder (--osm) or allow the transfer",
                    )
                ]
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError([Problem("settings", None, "nominatim_url", url, "an http:// or https:// address")])
        options = {"adapter_factory": adapter_factory} if adapter_factory is not None else {}
        self.url = url
        self._nominatim = Nominatim(
            user_agent=user_agent,
            domain=parts.netloc + parts.path.rstrip("/"),
            scheme=parts.scheme,
            timeout=DEFAULT_TIMEOUT_S,
            **options,
        )
        self._geocode = RateLimiter(
            self._nominatim.geocode, min_delay_seconds=min_delay_s, max_retries=1, swallow_exceptions=False
        )
        self._country_codes = country_codes
        self._cache_path = Path(cache_path) if cache_path is not None else None
        self._cache: dict[str, dict | None] = {}
        if self._cache_path is not None and self._cache_path.exists():
            try:
                self._cache = json.loads(self._cache_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._cache = {}
        self.n_requests = 0

    def geocode_parts(self, parts: Mapping[str, str]) -> GeocodeResult:
        """Place one address given as parts (``address``, ``street``, ``house_number``, …)."""
        order = ("address", "street", "house_number", "neighbourhood", "district", "province")
        text = ", ".join(parts[p] for p in order if parts.get(p))
        return self.geocode_text(text)

    def geocode_text(self, text: str) -> GeocodeResult:
        """Place one free-text address (asked once; later from the cache)."""
        from geopy.exc import GeopyError

        if not text.strip():
            return NOT_FOUND
        key = " ".join(text.split())
        if key not in self._cache:
            try:
                location = self._geocode(
                    key, exactly_one=True, addressdetails=True, country_codes=self._country_codes
                )
            except GeopyError as error:
                raise InputError(
                    [Problem("settings", None, "nominatim_url", self.url, f"a reachable geocoder ({error})")]
                ) from None
            self.n_requests += 1
            self._cache[key] = None if location is None else dict(location.raw)
            self._save()
        raw = self._cache[key]
        if raw is None:
            return NOT_FOUND
        precision = precision_of(raw)
        return GeocodeResult(
            float(raw["lon"]), float(raw["lat"]), precision, EXTERNAL_SCORE[precision], str(raw.get("display_name", ""))
        )

    def _save(self) -> None:
        if self._cache_path is None:
            return
        self._cache_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self._cache_path.with_suffix(".partial")
        partial.write_text(json.dumps(self._cache, ensure_ascii=False), encoding="utf-8")
        partial.replace(self._cache_path)
