"""Addresses → homes on the offline index: fuzzy street matching, house numbers, a clear precision.

How one address is placed:

1. The stated mahalle, ilçe, il and other place words are matched to the index's areas (fuzzy, at
   least :data:`AREA_MIN_SIMILARITY`); the street is then looked for only among the streets inside
   every area found. Only when nothing there comes close is the whole index searched, at a lower
   score.
2. The street name is matched with rapidfuzz; numbers in a name must agree exactly ("1203. Sokak"
   is not "1230. Sokak") and a different street type (Cadde for Sokak) costs points. A rival street
   of almost the same similarity, or one name found in several places, caps the score below
   :data:`AMBIGUOUS_SCORE_CAP` so a person looks.
3. On the street: the house with that number (``house``), else a point interpolated between the
   nearest numbered houses of the same side (``interpolated``), else the street's middle
   (``street``). Without a street: the mahalle (``neighbourhood``) or ilçe (``district``) centre;
   without anything: ``none``.

The score (0–100) says how sure the name match is, not how precise the point is: read both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from schoolbus.geocode.index import Area, GeocodeIndex, area_key, metres_between
from schoolbus.geocode.normalize import split_street_type
from schoolbus.geocode.parse import AddressQuery, parse_address, query_from_parts
from schoolbus.model import LOCATION_PRECISIONS

__all__ = [
    "PRECISIONS",
    "GeocodeResult",
    "Geocoder",
    "is_precise_enough",
]

PRECISIONS = LOCATION_PRECISIONS
"""Location precisions from best to worst; ``manual`` is a home placed by a person."""

AREA_MIN_SIMILARITY = 85.0
"""A stated mahalle/ilçe name matches an area of the index at this similarity (0-100) or more."""

AREA_KIND_BONUS = 5.0
"""Similarity points an area of the kind a column names (mahalle, ilçe) gets over another kind."""

STREET_MIN_SIMILARITY = 60.0
"""Below this similarity (0-100) no street is taken; the answer falls back to the area."""

OUTSIDE_AREA_PENALTY = 20.0
"""Score lost when the street is found only outside the stated mahalle/ilçe."""

NUMBER_MISMATCH_PENALTY = 40.0
"""Score lost when the numbers in two street names differ (1203. vs 1230. Sokak)."""

TYPE_MISMATCH_PENALTY = 10.0
"""Score lost when the street types differ (Cadde vs Sokak)."""

HOUSE_NOT_FOUND_PENALTY = 10.0
"""Score lost when a stated house number is neither on the street nor between two of its houses."""

RIVAL_MARGIN = 5.0
"""A different street within this many similarity points of the best makes the match ambiguous."""

SAME_NAME_APART_M = 500.0
"""Two streets of one name farther apart than this (metres) are different places."""

NAME_FIRST_MIN_SIMILARITY = 85.0
"""A street found by its name alone (its type word unreadable) needs this similarity (0-100)."""

UNKNOWN_TYPE_PENALTY = 10.0
"""Score lost when the street type could not be read."""

UNKNOWN_TYPE_SCORE_CAP = 85
"""Highest score of a street found by its name alone."""

AMBIGUOUS_SCORE_CAP = 70
"""Highest score of an ambiguous match (a rival street, or one name in several places)."""

MAX_INTERPOLATION_GAP = 20
"""House numbers are interpolated between neighbours at most this many numbers apart."""

NEAR_NUMBER_GAP = 4
"""With a numbered house on one side only, a number at most this far from it goes beside it."""

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class GeocodeResult:
    """Where an address was placed.

    ``lon``/``lat`` are ``None`` exactly when ``precision`` is ``"none"``; ``score`` is 0-100;
    ``match`` is the matched OSM street (and house number) or area, as named in OSM.
    """

    lon: float | None
    lat: float | None
    precision: str
    score: int
    match: str

    @property
    def location(self) -> tuple[float, float] | None:
        """``(lon, lat)`` or ``None``."""
        return None if self.lon is None or self.lat is None else (self.lon, self.lat)


NOT_FOUND = GeocodeResult(None, None, "none", 0, "")


def is_precise_enough(precision: str | None, minimum: str) -> bool:
    """Whether ``precision`` is at least ``minimum`` (``None``: coordinates typed in, always enough)."""
    if precision is None:
        return True
    return PRECISIONS.index(precision) <= PRECISIONS.index(minimum)


class Geocoder:
    """Places addresses on one :class:`~schoolbus.geocode.index.GeocodeIndex`, offline.

    Results are cached per distinct address, so repeated addresses (siblings) cost nothing.
    """

    def __init__(self, index: GeocodeIndex):
        self.index = index
        self._street_keys: dict[str, list[int]] = {}
        for k, street in enumerate(index.streets):
            for key in street.keys:
                self._street_keys.setdefault(key, []).append(k)
        self._area_keys: dict[str, list[int]] = {}
        for k, area in enumerate(index.areas):
            for key in area.keys:
                self._area_keys.setdefault(key, []).append(k)
        self._all_street_keys = sorted(self._street_keys)
        self._name_parts: dict[str, list[int]] = {}
        for key, ids in self._street_keys.items():
            name, street_type = split_street_type(key)
            if street_type is not None:
                self._name_parts.setdefault(name, []).extend(ids)
        self._name_part_list = sorted(self._name_parts)
        self._area_key_list = sorted(self._area_keys)
        self._choices_cache: dict[frozenset[int] | None, list[str]] = {}
        self.geocode = lru_cache(maxsize=65536)(self._geocode)

    def geocode_line(self, line: str) -> GeocodeResult:
        """Place one free-text address line."""
        return self.geocode(parse_address(line))

    def geocode_parts(self, parts: Mapping[str, str]) -> GeocodeResult:
        """Place one address given as a table's parts (see :func:`query_from_parts`)."""
        return self.geocode(query_from_parts(**parts))

    # ---- the steps --------------------------------------------------------------------------

    def _geocode(self, query: AddressQuery) -> GeocodeResult:
        if query.is_empty:
            return NOT_FOUND
        matched: list[Area] = []
        street_phrase = query.street
        for phrase, preferred in (
            (query.neighbourhood, "neighbourhood"),
            (query.district, "district"),
            (query.province, "province"),
        ):
            if phrase:
                area = self._match_area(phrase, preferred)
                if area is not None:
                    matched.append(area)
        for phrase in query.areas:
            area = self._match_area(phrase, None)
            if area is not None:
                matched.append(area)
            elif street_phrase is None:
                street_phrase = phrase  # "Kalevankatu, Helsinki": the unplaced name is the street
        allowed = _streets_in_all(matched)
        if street_phrase:
            found = self._match_street(street_phrase, query.house_number, allowed)
            if found is not None:
                return found
        unplaced = [p for p in (street_phrase, *query.areas) if p and self._match_area(p, None) is None]
        for phrase in dict.fromkeys(unplaced):
            found = self._match_street_name_first(phrase, query.house_number, allowed)
            if found is not None:
                return found
        for kind in ("neighbourhood", "district", "province"):
            for area in matched:
                if area.kind == kind:
                    precision = "district" if kind == "province" else kind
                    score = 100 if not street_phrase else 50
                    return GeocodeResult(area.point[0], area.point[1], precision, score, area.name)
        return NOT_FOUND

    def _match_area(self, phrase: str, preferred_kind: str | None) -> Area | None:
        key = area_key(phrase)
        if not key:
            return None
        hits = process.extract(
            key, self._area_key_list, scorer=fuzz.ratio, limit=5, score_cutoff=AREA_MIN_SIMILARITY
        )
        # The most similar name; then the kind the column asked for; then the smaller area.
        ranked = [
            (similarity + (AREA_KIND_BONUS if self.index.areas[k].kind == preferred_kind else 0), -len(self.index.areas[k].street_ids), -k)
            for choice, similarity, _ in hits
            for k in self._area_keys[choice]
        ]
        if not ranked:
            return None
        return self.index.areas[-max(ranked)[2]]

    def _choices(self, allowed: frozenset[int] | None) -> list[str]:
        if allowed is None:
            return self._all_street_keys
        if allowed not in self._choices_cache:
            keys = {key for k in allowed for key in self.index.streets[k].keys}
            self._choices_cache[allowed] = sorted(keys)
        return self._choices_cache[allowed]

    def _match_street(
        self, phrase: str, house_number: str | None, allowed: frozenset[int] | None
    ) -> GeocodeResult | None:
        candidates = self._street_candidates(phrase, allowed)
        penalty = 0.0
        if allowed is not None and (not candidates or candidates[0][0] < 80):
            wider = self._street_candidates(phrase, None)
            if wider and (not candidates or wider[0][0] - OUTSIDE_AREA_PENALTY > candidates[0][0]):
                candidates, penalty = wider, OUTSIDE_AREA_PENALTY
        if not candidates or candidates[0][0] < STREET_MIN_SIMILARITY:
            return None
        best_similarity = candidates[0][0]
        near_best = [c for c in candidates if c[0] >= best_similarity - RIVAL_MARGIN]
        # Among near-equal streets, the ones that have the stated house number are the evidence.
        if house_number is not None:
            with_house = [c for c in near_best if house_number in self.index.streets[c[1]].houses]
            if with_house:
                near_best = with_house
        similarity, street_id = near_best[0]
        street = self.index.streets[street_id]
        # A rival is another street as close in name: a different name, or the same name elsewhere
        # (one name split in pieces along one road is not a rival).
        names = set(street.keys)
        rivals = [
            c
            for c in near_best[1:]
            if names.isdisjoint(self.index.streets[c[1]].keys)
            or metres_between(self.index.streets[c[1]].point, street.point) > SAME_NAME_APART_M
        ]
        score = similarity - penalty
        location, precision, number_text = self._place_on_street(street, house_number)
        if house_number is not None and precision == "street":
            score -= HOUSE_NOT_FOUND_PENALTY
        score = max(0, min(100, round(score)))
        if rivals:
            score = min(score, AMBIGUOUS_SCORE_CAP)
        match = street.name + (f" {number_text}" if number_text else "")
        return GeocodeResult(location[0], location[1], precision, score, match)

    def _match_street_name_first(
        self, phrase: str, house_number: str | None, allowed: frozenset[int] | None
    ) -> GeocodeResult | None:
        """A street whose name (without its type) starts ``phrase``: "kiraz soakk kecioren".

        For addresses whose street-type word is mistyped past recognition. Only a phrase of two
        words or more, or with a number in the name, is tried; the score loses
        :data:`UNKNOWN_TYPE_PENALTY` and never passes :data:`UNKNOWN_TYPE_SCORE_CAP`.
        """
        words = phrase.split()
        if len(words) < 2 and not _DIGITS.search(phrase):
            return None
        best: tuple[float, str] | None = None
        for n_words in range(1, min(3, len(words)) + 1):
            window = " ".join(words[:n_words])
            hit = process.extractOne(window, self._name_part_list, scorer=fuzz.ratio, score_cutoff=NAME_FIRST_MIN_SIMILARITY)
            if hit is not None and _DIGITS.findall(window) == _DIGITS.findall(hit[0]):
                if best is None or hit[1] > best[0]:
                    best = (hit[1], hit[0])
        if best is None:
            return None
        ids = [k for k in self._name_parts[best[1]] if allowed is None or k in allowed]
        if not ids:
            return None
        street = self.index.streets[ids[0]]
        location, precision, number_text = self._place_on_street(street, house_number)
        score = min(UNKNOWN_TYPE_SCORE_CAP, round(best[0] - UNKNOWN_TYPE_PENALTY))
        if len(ids) > 1:
            score = min(score, AMBIGUOUS_SCORE_CAP)
        match = street.name + (f" {number_text}" if number_text else "")
        return GeocodeResult(location[0], location[1], precision, max(0, score), match)

    def _street_candidates(self, phrase: str, allowed: frozenset[int] | None) -> list[tuple[float, int]]:
        """Streets ordered by similarity to ``phrase`` (best first), at most a handful."""
        choices = self._choices(allowed)
        hits = process.extract(phrase, choices, scorer=fuzz.ratio, limit=8, score_cutoff=40)
        if phrase in self._street_keys and all(h[0] != phrase for h in hits):
            hits.insert(0, (phrase, 100.0, -1))
        best_of: dict[int, float] = {}
        for key, _, _ in hits:
            similarity = street_similarity(phrase, key)
            for k in self._street_keys.get(key, []):
                if allowed is None or k in allowed:
                    best_of[k] = max(best_of.get(k, 0.0), similarity)
        return sorted(((s, k) for k, s in best_of.items()), key=lambda c: (-c[0], c[1]))

    def _place_on_street(self, street, house_number: str | None) -> tuple[list[float], str, str]:
        """The point for ``house_number`` on ``street``, its precision and the number used."""
        if house_number is None:
            return street.point, "street", ""
        houses = street.houses
        if house_number in houses:
            return houses[house_number], "house", house_number
        digits = _DIGITS.match(house_number)
        if digits is None:
            return street.point, "street", ""
        wanted = int(digits.group())
        if digits.group() in houses:
            # "12b" asked, only "12" mapped: the building is the same or next door.
            return houses[digits.group()], "house", digits.group()
        numbered = sorted(
            (int(m.group()), number) for number in houses if (m := _DIGITS.match(number)) is not None
        )
        same_side = [(n, k) for n, k in numbered if n % 2 == wanted % 2] or numbered
        below = [(n, k) for n, k in same_side if n < wanted]
        above = [(n, k) for n, k in same_side if n > wanted]
        if below and above and above[0][0] - below[-1][0] <= MAX_INTERPOLATION_GAP:
            (n0, k0), (n1, k1) = below[-1], above[0]
            t = (wanted - n0) / (n1 - n0)
            a, b = houses[k0], houses[k1]
            point = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
            return point, "interpolated", f"{house_number} (between {k0} and {k1})"
        near = [(abs(n - wanted), k) for n, k in same_side if abs(n - wanted) <= NEAR_NUMBER_GAP]
        if near:
            _, k = min(near)
            return houses[k], "interpolated", f"{house_number} (beside {k})"
        return street.point, "street", ""


def street_similarity(query_key: str, street_key: str) -> float:
    """Similarity (0-100) of two street keys: fuzzy on the name, exact on its numbers and type."""
    query_name, query_type = split_street_type(query_key)
    street_name, street_type = split_street_type(street_key)
    similarity = fuzz.ratio(query_name, street_name)
    if _DIGITS.findall(query_name) != _DIGITS.findall(street_name):
        similarity -= NUMBER_MISMATCH_PENALTY
    if query_type and street_type and query_type != street_type:
        similarity -= TYPE_MISMATCH_PENALTY
    return max(0.0, similarity)


def _streets_in_all(areas: list[Area]) -> frozenset[int] | None:
    """Streets inside every area (the smallest area's when they do not overlap); ``None``: any."""
    if not areas:
        return None
    ordered = sorted(areas, key=lambda a: len(a.street_ids))
    allowed = set(ordered[0].street_ids)
    for area in ordered[1:]:
        narrower = allowed & set(area.street_ids)
        if narrower:
            allowed = narrower
    return frozenset(allowed)
