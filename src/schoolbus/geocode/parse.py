"""Addresses as officers write them → the parts a geocoder looks up.

Turkish addresses run from the small to the large ("Ulubatlı Hasan Mh. 1203. Sk. No:5 D:3
Haliliye/Şanlıurfa"); Nordic and most European ones put the number after the street
("Mannerheimintie 12 A 5, 00100 Helsinki"). :func:`parse_address` reads both: the mahalle is the
phrase that ends with a mahalle word, the street the phrase that ends with a street-type word (or,
without one, the words before the first number), the house number follows ``No:`` or the street,
and what is left names the ilçe, il or city.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schoolbus.geocode.normalize import AREA_WORDS, STREET_TYPES, fold, name_key

__all__ = ["AddressQuery", "parse_address", "query_from_parts"]


@dataclass(frozen=True)
class AddressQuery:
    """One address split into parts, each already a comparison key (see :func:`name_key`).

    ``house_number`` is folded without spaces (``"12 A"`` → ``"12a"``); ``areas`` are the other
    place names found (ilçe, il, city), largest last as written. ``None``: the part is absent.
    """

    street: str | None = None
    house_number: str | None = None
    neighbourhood: str | None = None
    district: str | None = None
    province: str | None = None
    areas: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Whether nothing at all can be looked up."""
        return not (self.street or self.neighbourhood or self.district or self.province or self.areas)


# "No:5", "No.5", "No 5", "Numara 5", "Bina No:5"; a following "/3" is the flat (daire).
_HOUSE_RE = re.compile(r"\b(?:bina\s+)?(?:no|numara|nu)\b\s*[:.]?\s*(\d+(?:\s?[a-z](?![\w:.]))?)", re.I)
# "D:3", "D.3", "Daire 3", "Kat:2", "K.2", "Blok A": parts of the building, not of the address.
_UNIT_RE = re.compile(r"\b(?:(?:daire|kat|blok)\b\s*[:.]?|(?:d|k|bl)\s*[:.])\s*\w{1,4}\b", re.I)
_SLASH_FLAT_RE = re.compile(r"(\d+\s*[a-z]?)\s*/\s*\d+\b", re.I)
# Building and site names: "Gül Apt.", "Yıldız Apartmanı", "Güneş Sitesi".
_BUILDING_RE = re.compile(r"[^\s,]+\s+(?:apt|apartman|apartmani|apartmanı|sitesi|site)\b\.?", re.I)
_POSTCODE_RE = re.compile(r"\b\d{5}\b")
_NUMBER_TOKEN = re.compile(r"\d+[a-z]?")


def _turkish_lower(text: str) -> str:
    return text.replace("İ", "i").replace("I", "ı").lower()


def parse_address(line: str) -> AddressQuery:
    """Split one free-text address line into its parts.

    Parameters
    ----------
    line : str
        E.g. ``"Ulubatlı Hasan Mh. 1203. Sk. No:5 D:3 Haliliye"`` or
        ``"Mannerheimintie 12 A 5, Helsinki"``.

    Returns
    -------
    AddressQuery
        Empty parts are ``None``; nothing is guessed beyond what the words say.
    """
    text = _turkish_lower(line)
    house = None
    match = _HOUSE_RE.search(text)
    if match:
        house = _house_key(match.group(1))
        text = text[: match.start()] + " , " + text[match.end() :]
    text = _SLASH_FLAT_RE.sub(r"\1", text)
    text = _UNIT_RE.sub(" ", text)
    text = _BUILDING_RE.sub(" , ", text)
    text = _POSTCODE_RE.sub(" ", text)
    # "Haliliye/Şanlıurfa": a slash between names separates places.
    text = text.replace("/", " , ")
    segments = [_fix_type_typos(name_key(s)) for s in text.split(",")]
    segments = [s for s in segments if s]
    neighbourhood = street = None
    leftovers: list[list[str]] = []
    street_types = set(STREET_TYPES.values())
    area_words = set(AREA_WORDS.values())
    for segment in segments:
        words = segment.split()
        start = 0
        for k, word in enumerate(words):
            phrase = words[start:k]
            if word in area_words and phrase and neighbourhood is None:
                neighbourhood = " ".join(phrase + [word])
                start = k + 1
            elif word in street_types and phrase and street is None:
                street = " ".join(phrase + [word])
                start = k + 1
        if start < len(words):
            leftovers.append(words[start:])
    areas: list[str] = []
    for words in leftovers:
        if street is None and _has_number_after_words(words):
            k = next(i for i, w in enumerate(words) if i > 0 and _NUMBER_TOKEN.fullmatch(w))
            street = " ".join(words[:k])
            if house is None:
                house = _number_with_letter(words, k)
            continue
        if street is None and _NUMBER_TOKEN.fullmatch(words[0]) and len(words) > 1:
            areas.append(" ".join(words))  # "1405 sikqk": a numbered street, its type past guessing
            continue
        if house is None and _NUMBER_TOKEN.fullmatch(words[0]) and street is not None and not areas:
            house = _number_with_letter(words, 0)
            words = words[1 + (len(words) > 1 and _is_letter(words[1])) :]
        words = [w for w in words if not _NUMBER_TOKEN.fullmatch(w)]
        if words:
            areas.append(" ".join(words))
    return AddressQuery(street=street, house_number=house, neighbourhood=neighbourhood, areas=tuple(areas))


def query_from_parts(
    *,
    address: str | None = None,
    street: str | None = None,
    house_number: str | None = None,
    neighbourhood: str | None = None,
    district: str | None = None,
    province: str | None = None,
) -> AddressQuery:
    """An address from a table's columns; a one-line ``address`` fills what the columns leave out.

    The street column may itself carry the number (``"1203. Sk. No:5"``); a mahalle column without
    the word "Mahallesi" is taken as a mahalle all the same.
    """
    parsed = parse_address(address) if address else AddressQuery()
    if street:
        from_street = parse_address(street)
        street_key = from_street.street or (from_street.areas[0] if from_street.areas else None)
        street_key = street_key or name_key(street)
        parsed_house = from_street.house_number
    else:
        street_key, parsed_house = parsed.street, None
    house = _house_key(house_number) if house_number else parsed_house or parsed.house_number
    mahalle = name_key(neighbourhood) if neighbourhood else parsed.neighbourhood
    areas = parsed.areas
    return AddressQuery(
        street=street_key,
        house_number=house,
        neighbourhood=mahalle,
        district=name_key(district) if district else None,
        province=name_key(province) if province else None,
        areas=areas,
    )


# Whole type words an officer may mistype ("Sokka", "Cadesi"); short forms are too short to guess.
_LONG_TYPE_WORDS = {
    word: short
    for word, short in {**STREET_TYPES, **AREA_WORDS}.items()
    if len(word) >= 5
}


def _fix_type_typos(key: str) -> str:
    """Words a typing error or two away from a street-type or mahalle word become its short form.

    One error (a swap counts as one) in words of 4-5 letters, two in longer words.
    """
    from rapidfuzz.distance import OSA

    short_forms = set(STREET_TYPES.values()) | set(AREA_WORDS.values())
    words = key.split()
    # The first word is a name ("Bulevardi" in Helsinki is a street, not a mistyped "Bulvarı").
    for k, word in enumerate(words[1:], start=1):
        if len(word) < 4 or word in short_forms or any(ch.isdigit() for ch in word):
            continue
        allowed = 1 if len(word) <= 5 else 2
        for long_word, short in _LONG_TYPE_WORDS.items():
            if OSA.distance(word, long_word, score_cutoff=allowed) <= allowed:
                words[k] = short
                break
    return " ".join(words)


def _house_key(number: str) -> str | None:
    """``"12 A"`` → ``"12a"``; ``None`` when there is no digit."""
    key = fold(str(number)).replace(" ", "")
    return key if any(ch.isdigit() for ch in key) else None


def _is_letter(word: str) -> bool:
    return len(word) == 1 and word.isalpha()


def _number_with_letter(words: list[str], k: int) -> str:
    if k + 1 < len(words) and _is_letter(words[k + 1]):
        return words[k] + words[k + 1]
    return words[k]


def _has_number_after_words(words: list[str]) -> bool:
    return any(i > 0 and _NUMBER_TOKEN.fullmatch(w) for i, w in enumerate(words))
