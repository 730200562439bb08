"""Catalogues are complete in every language; times, distances and money read the local way."""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from schoolbus.errors import InputError
from schoolbus.outputs.i18n import (
    LOCALES_DIR,
    SUPPORTED_LANGUAGES,
    TEMPLATES_DIR,
    check_language,
    clock,
    format_distance,
    format_money,
    po_path,
    text_direction,
    translations,
)

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


# The files whose words live in the ``schoolbus`` catalogue (the comparison report has its own).
PYTHON_SOURCES = ("maps.py", "sheets.py", "export.py", "i18n.py", "reasons.py")
TEMPLATES = (
    "route_sheet.html",
    "parent_notice.html",
    "_macros.html",
    "route_map.svg",
    "map_*.html",
)


def extracted_messages() -> set:
    """Every message id the map, sheets, notices and exports ask gettext for."""
    method_map = [(name, "python") for name in PYTHON_SOURCES]
    found = {m for _, _, m, _, _ in extract_from_dir(LOCALES_DIR.parent / "outputs", method_map)}
    method_map = [(name, "jinja2") for name in TEMPLATES]
    found |= {m for _, _, m, _, _ in extract_from_dir(TEMPLATES_DIR, method_map)}
    return found


def test_extraction_finds_the_messages():
    messages = extracted_messages()
    assert "Route sheet" in messages and "Turn left onto %(street)s" in messages
    assert ("%(num)d trip", "%(num)d trips") in messages
    assert len(messages) > 100


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_message_is_translated_with_the_same_placeholders(language):
    with po_path(language).open("rb") as f:
        catalog = read_po(f, locale=language)
    for message in extracted_messages():
        entry = catalog.get(message)
        assert entry is not None, f"{language}: {message!r} missing"
        ids = [message] if isinstance(message, str) else list(message)
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        assert all(strings), f"{language}: {message!r} untranslated"
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, (
                f"{language}: {message!r} → {string!r}"
            )


def test_arabic_plurals_follow_the_arabic_rule():
    ar = translations("ar")
    forms = [
        ar.ngettext("%(num)d trip", "%(num)d trips", n) % {"num": n} for n in (1, 2, 5, 11, 100)
    ]
    assert forms == ["1 رحلة", "2 رحلتان", "5 رحلات", "11 رحلةً", "100 رحلة"]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "00:00"),
        (25240, "07:00"),
        (25259, "07:00"),
        (45453, "12:37"),
        (64800, "18:00"),
        (None, ""),
    ],
)
def test_clock_drops_seconds(seconds, expected):
    assert clock(seconds) == expected


@pytest.mark.parametrize(
    ("metres", "language", "expected"),
    [(1401.0, "tr", "1,4 km"), (1401.0, "en", "1.4 km"), (1401.0, "ar", "1.4 كم"),
     (123.0, "tr", "120 m"),
     (555.9, "en", "560 m"), (None, "tr", "")],
)  # fmt: skip
def test_distances(metres, language, expected):
    assert format_distance(metres, language) == expected


def test_money_in_turkish():
    assert format_money(136572.727, "TRY", "tr") == "₺136.572,73"


def test_a_currency_code_keeps_apart_from_its_digits():
    # English has no symbol for the lira: the code is spaced from the number, a symbol is not.
    assert format_money(8800, "TRY", "en") == "TRY\u00a08,800.00"
    assert format_money(8800, "USD", "en") == "$8,800.00"
    assert format_money(8800, "TRY", "ar") == "\u200f8,800.00\u00a0TRY"


def test_direction_and_unknown_language():
    assert text_direction("ar") == "rtl" and text_direction("tr") == "ltr"
    with pytest.raises(InputError) as error:
        check_language("xx", source="--language")
    assert error.value.problems[0].file == "--language"
