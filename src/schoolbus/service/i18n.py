"""The web page's words and number formats in Turkish and English, from one place.

Words come from the ``service`` gettext catalogue (``locales/<lang>/LC_MESSAGES/service.po``,
message ids in English); words chosen by a code that the printed outputs also show (unserved
reasons, shift names) come from the outputs' own ``schoolbus`` catalogue, so a reason reads the
same on the page, the map and the workbook. Numbers, money, distances and durations are written
by Babel in the page's language (``₺27.800,00`` and ``82,8 km`` in Turkish, ``TRY 27,800.00`` and
``82.8 km`` in English) through :class:`Formats`, which every page template receives as ``fmt``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from schoolbus.outputs.i18n import N_, format_money, format_number, shift_label, translations

PAGE_LANGUAGES = ("tr", "en")
DEFAULT_PAGE_LANGUAGE = "tr"
DOMAIN = "service"
S_PER_MIN = 60.0
M_PER_KM = 1000.0

STAGE_WORDS: dict[str, str] = {
    "": N_("waiting to start"),
    "starting": N_("starting"),
    "demo district": N_("generating the demo district"),
    "road network": N_("reading the road network"),
    "stops": N_("choosing stops"),
    "matrices": N_("travel times"),
    "routing": N_("routing"),
    "building trips": N_("building trips"),
    "chaining": N_("chaining trips onto buses"),
    "checking": N_("checking the plan"),
    "scenarios": N_("scenarios"),
    "plan file": N_("plan file"),
    "map": N_("map"),
    "exports": N_("exports"),
    "route sheets": N_("route sheets"),
    "notices": N_("parent notices"),
    "done": N_("done"),
}
"""The planning stages jobs report (``pipeline.plan``'s ``progress``) and their words."""

STATUS_WORDS: dict[str, str] = {
    "queued": N_("queued"),
    "running": N_("running"),
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
}

ROLE_WORDS: dict[str, str] = {
    "admin": N_("administrator"),
    "officer": N_("officer"),
    "manager": N_("manager"),
    "contractor": N_("contractor"),
}


def page_language(value: str | None) -> str:
    """``value`` when the page speaks it, else the default (Turkish)."""
    return value if value in PAGE_LANGUAGES else DEFAULT_PAGE_LANGUAGE


def translate(text: str, language: str) -> str:
    """``text`` in ``language`` (the English text itself when the catalogue lacks it)."""
    return translations(page_language(language), DOMAIN).gettext(text)


def stage_label(stage: str, language: str) -> str:
    """A job's stage in words; ``"budget 3: routing"``-style prefixes keep their own text."""
    prefix, _, last = stage.rpartition(": ")
    word = STAGE_WORDS.get(last)
    if word is None:
        return stage
    said = translate(word, language)
    return f"{prefix}: {said}" if prefix else said


def shift_name(code: str, language: str) -> str:
    """A shift code (``ogle``, ``tam``, ``morning``) as a person says it: ``Öğle``, ``Tam gün``."""
    word = shift_label(code, language)
    return word[:1].upper() + word[1:] if word != code else code


def reason_title(code: str, language: str) -> str:
    """An unserved reason code's short title in ``language`` (the map's and workbook's words)."""
    from schoolbus.model import ReasonCode
    from schoolbus.outputs.reasons import TITLES

    try:
        title = TITLES[ReasonCode(code)]
    except ValueError:
        return code
    return translations(page_language(language)).gettext(title)


class Formats:
    """Numbers, money, distances and durations written the way ``language`` writes them."""

    def __init__(self, language: str):
        self.language = page_language(language)

    def number(self, value: float | None, decimals: int = 0) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return format_number(value, self.language, decimals=decimals)

    def money(self, amount: float | None, currency: str = "") -> str:
        if amount is None:
            return "–"
        if not currency:
            return self.number(amount, 2)
        return format_money(amount, currency, self.language)

    def km(self, metres: float | None) -> str:
        return "–" if metres is None else f"{self.number(metres / M_PER_KM, 1)} km"

    def metres(self, metres: float | None) -> str:
        return "–" if metres is None else f"{self.number(metres)} m"

    def minutes(self, seconds: float | None) -> str:
        if seconds is None:
            return "–"
        return f"{self.number(seconds / S_PER_MIN, 1)} {translate('min', self.language)}"

    def percent(self, share: float | None) -> str:
        return "–" if share is None else f"%{self.number(share * 100)}" if self.language == "tr" else f"{self.number(share * 100)}%"

    def signed(self, text: str, value: float | None) -> str:
        """``text`` (a formatted difference) with a ``+`` in front of a positive ``value``."""
        return f"+{text}" if value is not None and value > 0 else text

    def metric(self, key: str, value: float | None, currency: str = "") -> str:
        """A plan summary value by its key's unit (``_s`` durations, ``_m`` distances, ``cost`` money)."""
        if value is None:
            return "–"
        if key.endswith("_s"):
            return self.minutes(value)
        if key.endswith("_m"):
            return self.km(value) if key.startswith(("distance", "deadhead")) else self.metres(value)
        if key.startswith("cost"):
            return self.money(value, currency)
        return self.number(value, 0 if float(value).is_integer() else 1)

    def date(self, moment) -> str:
        """A date and time the language's way (``7 Ara 2026 09:40``, ``Dec 7, 2026, 9:40 AM``), in UTC."""
        from babel.dates import format_datetime

        return "–" if moment is None else format_datetime(moment, "medium", tzinfo=None, locale=self.language)

    def stage(self, stage: str) -> str:
        return stage_label(stage, self.language)

    def shift(self, code: str) -> str:
        return shift_name(code, self.language)

    def reason(self, code: str) -> str:
        return reason_title(code, self.language)

    def status(self, status: str) -> str:
        return translate(STATUS_WORDS.get(status, status), self.language)

    def role(self, role: str) -> str:
        return translate(ROLE_WORDS.get(role, role), self.language)


def words(mapping: Mapping[str, str], language: str) -> dict[str, str]:
    """Each value of ``mapping`` translated into ``language``."""
    return {key: translate(text, language) for key, text in mapping.items()}
