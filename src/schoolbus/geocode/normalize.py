"""Turkish-aware normalisation of names and addresses, so that officers' spellings meet OSM's.

Every name, from an address or from OSM, goes through :func:`fold` and :func:`name_key`: Turkish
case folding (``İ``→``i``, ``I``→``ı``, then ``ı``→``i``), letters without diacritics (``ç ğ ö ş ü``
→ ``c g o s u``; officers often type ASCII), Arabic letters without vowel marks and with their
variant forms unified, punctuation to spaces, and street-type words reduced to one short form
(``Sokağı``, ``Sok.``, ``Sk.`` → ``sk``). Two spellings of one street then have the same key, and
fuzzy matching only has to absorb real typos.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["AREA_WORDS", "STREET_TYPES", "fold", "name_key", "split_street_type"]

# Letters that Unicode decomposition does not reduce to ASCII, plus Turkish dotless ı.
_LETTERS = str.maketrans(
    {
        "ı": "i",
        "ß": "ss",
        "æ": "ae",
        "ø": "o",
        "đ": "d",
        "ł": "l",
        "œ": "oe",
        # Arabic: hamza-carrying alefs → bare alef, alef maqsura → ya, ta marbuta → ha, tatweel out.
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ـ": "",
        # Persian/Kurdish forms of kaf and ya that Arabic-script names mix in.
        "ک": "ك",
        "ی": "ي",
    }
)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_NUMBER_THEN_LETTERS = re.compile(r"(\d)([^\W\d_]+)")

STREET_TYPES: dict[str, str] = {
    # Turkish street types and their abbreviations → one short form.
    "sokak": "sk", "sokagi": "sk", "sok": "sk", "sk": "sk",
    "cadde": "cd", "caddesi": "cd", "cad": "cd", "cd": "cd", "cadd": "cd",
    "bulvar": "blv", "bulvari": "blv", "bulv": "blv", "blv": "blv", "bul": "blv",
    "meydan": "mey", "meydani": "mey", "mey": "mey",
    "cikmaz": "cikmaz", "cikmazi": "cikmaz", "cikm": "cikmaz",
    "yolu": "yolu", "yol": "yolu",
    "kume": "kume", "kumeevler": "kume", "kumeevleri": "kume",
}

AREA_WORDS: dict[str, str] = {
    # The mahalle (neighbourhood) word and its abbreviations.
    "mahalle": "mah", "mahallesi": "mah", "mah": "mah", "mh": "mah", "mahal": "mah",
    "koyu": "koy", "koy": "koy",
}


def fold(text: str) -> str:
    """Lower-case ``text`` the Turkish way and strip it to base letters, digits and single spaces.

    ``"İSTİKLAL Cd."`` → ``"istiklal cd"``; ``"IŞIK"`` → ``"isik"``; ``"Mäkelänkatu"`` →
    ``"makelankatu"``; ``"شارع الجمهورية"`` keeps its Arabic letters without vowel marks.
    """
    # Turkish case folding first: dotted capital İ is i, capital I is dotless ı (which becomes i).
    text = text.replace("İ", "i").replace("I", "ı").lower()
    # Compatibility forms (𝐀, ﬁ, ½) decompose to plain letters, which may be capitals again.
    text = unicodedata.normalize("NFKD", text).lower()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.translate(_LETTERS)
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    return " ".join(text.split())


def name_key(name: str) -> str:
    """The comparison key of a street or area name: folded, type words in their short form.

    ``"1203. Sokak"``, ``"1203 sk"`` and ``"1203.Sok."`` all give ``"1203 sk"``;
    ``"Ulubatlı Hasan Mahallesi"`` gives ``"ulubatli hasan mah"``.
    """
    words = _NUMBER_THEN_LETTERS.sub(r"\1 \2", fold(name)).split()
    out = []
    for word in words:
        if word in STREET_TYPES:
            out.append(STREET_TYPES[word])
        elif word in AREA_WORDS:
            out.append(AREA_WORDS[word])
        else:
            out.append(word)
    return " ".join(out)


def split_street_type(key: str) -> tuple[str, str | None]:
    """A street key's name part and its type (``"ataturk cd"`` → ``("ataturk", "cd")``).

    The type is the last short street-type word, when the key ends with one.
    """
    words = key.split()
    short_types = set(STREET_TYPES.values())
    if len(words) > 1 and words[-1] in short_types:
        return " ".join(words[:-1]), words[-1]
    return key, None
