"""The web page speaks Turkish and English from one catalogue and writes numbers the local way.

* Every message the page's templates and routers ask for is in the ``service`` catalogue of both
  languages, translated, with the same placeholders.
* Pages rendered in Turkish carry none of a list of English words that leaked before (and no raw
  codes: shift codes, reason codes, stage names); pages in English none of the Turkish ones.
* Money, distances and durations are written by Babel the language's way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from schoolbus.outputs.i18n import po_path
from schoolbus.service.i18n import PAGE_LANGUAGES, Formats, shift_name, stage_label, translate

SERVICE_DIR = Path(__file__).resolve().parent.parent / "src" / "schoolbus" / "service"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
KEYWORDS = {"_": None, "N_": None, "translate": (1,)}
PYTHON_SOURCES = ("app.py", "i18n.py", "routers/pages.py", "routers/page_data.py", "routers/page_forms.py", "routers/geocode.py", "routers/versions.py", "routers/hazards.py")


def page_messages() -> set[str]:
    """Every message id the page's templates and routers ask gettext (or ``translate``) for."""
    found = set()
    for name in PYTHON_SOURCES:
        method_map = [(name, "python")]
        found |= {m for _, _, m, _, _ in extract_from_dir(SERVICE_DIR, method_map, keywords=KEYWORDS)}
    method_map = [("templates/*.html", "jinja2")]
    found |= {m for _, _, m, _, _ in extract_from_dir(SERVICE_DIR, method_map, keywords=KEYWORDS)}
    return {m for m in found if isinstance(m, str) and m}


def test_extraction_finds_the_page_messages():
    messages = page_messages()
    assert {"Make the plan", "Pupils without a bus place", "choosing stops", "Pupils file saved."} <= messages
    assert len(messages) > 200


@pytest.mark.parametrize("language", PAGE_LANGUAGES)
def test_every_page_message_is_translated_with_the_same_placeholders(language):
    with po_path(language, "service").open("rb") as f:
        catalog = read_po(f, locale=language)
    missing = sorted(m for m in page_messages() if catalog.get(m) is None or not catalog.get(m).string)
    assert missing == [], f"{language}: untranslated {missing}"
    for message in page_messages():
        assert set(PLACEHOLDER.findall(catalog.get(message).string)) == set(PLACEHOLDER.findall(message)), message


@pytest.mark.parametrize(
    "language, amount, expected",
    [("tr", 27800, "₺27.800,00"), ("en", 27800, "TRY\u00a027,800.00")],
)
def test_money_is_written_the_language_way(language, amount, expected):
    assert Formats(language).money(amount, "TRY") == expected


def test_numbers_distances_and_durations():
    tr, en = Formats("tr"), Formats("en")
    assert tr.km(82_800) == "82,8 km" and en.km(82_800) == "82.8 km"
    assert tr.minutes(90) == "1,5 dk" and en.minutes(90) == "1.5 min"
    assert tr.number(1000.0) == "1.000" and en.number(1000.0) == "1,000"
    assert tr.metric("cost_per_day", 8800.0, "TRY") == "₺8.800,00"


def test_shift_and_stage_names_are_words():
    assert shift_name("ogle", "tr") == "Öğle" and shift_name("tam", "tr") == "Tam gün"
    assert shift_name("tam", "en") == "Full day"
    assert stage_label("stops", "tr") == "duraklar seçiliyor"
    assert stage_label("budget 2: routing", "en") == "budget 2: routing"
    assert translate("Plan", "tr") == "Plan" and translate("Make the plan", "tr") == "Planla"


def test_a_running_job_shows_its_stage_time_and_estimate_in_words():
    import datetime as dt

    from schoolbus.service.db import Job, utcnow
    from schoolbus.service.routers.pages import _job_view, _typical_job_s

    now = utcnow()
    done = Job(status="succeeded", started_at=now - dt.timedelta(seconds=200), finished_at=now - dt.timedelta(seconds=110))
    running = Job(status="running", stage="routing", done=1, total=4, started_at=now - dt.timedelta(seconds=30))
    view = _job_view(running, "tr", _typical_job_s([running, done]))
    assert view["stage"] == "güzergâhlar çiziliyor" and view["status_words"] == "çalışıyor"
    assert view["percent"] == 25 and view["elapsed"].endswith(" dk")
    assert view["remaining"].startswith("yaklaşık 1,0 dk kaldı")
    first = _job_view(running, "en")  # no earlier plan: the stage's share gives the estimate
    assert first["remaining"].startswith("about 1.5 min left in this stage")
