"""Words for the plan checker's violations: each sentence of :mod:`schoolbus.check` translated.

A :class:`~schoolbus.check.Violation` carries its code, its sentence's catalogue id (English, with
``%(name)s`` placeholders) and the parameters; the sentences are the ``violations`` catalogue
(``locales/<lang>/LC_MESSAGES/violations.po``), read at run time like the other outputs'. The CLI
(``schoolbus validate --language``), the service's failed-job messages and the API word violations
through :func:`describe_violation`; the code stays the interface tools match on.

Parameters are ids, clock times and numbers as the checker wrote them (Latin digits, as on every
document); ``place`` parameters (``stop P1``, ``school A``) and ``direction`` are worded here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from schoolbus.model import Violation
from schoolbus.outputs.i18n import N_, translations

DOMAIN = "violations"

PLACE_WORDS = {"stop": N_("stop %(id)s"), "school": N_("school %(id)s")}
"""A visit's place (``stop P1``, ``school A``) by its first word."""
PLACE_PARAMS = frozenset({"place", "from_place", "to_place"})
DIRECTION_WORDS = {"to_school": N_("to school"), "from_school": N_("home")}
GRADE = N_("grade %(grade)s")
GRADE_IN_LIST = re.compile(r"\(grade ([^)]+)\)")
"""``s1 (grade 3)`` in a list of pupils (the escort check's ``pupils``)."""


def _param(name: str, value: str, tr) -> str:
    if name in PLACE_PARAMS:
        noun, _, place_id = value.partition(" ")
        if noun in PLACE_WORDS and place_id:
            return tr.gettext(PLACE_WORDS[noun]) % {"id": place_id}
    if name == "direction" and value in DIRECTION_WORDS:
        return tr.gettext(DIRECTION_WORDS[value])
    if name == "pupils":
        return GRADE_IN_LIST.sub(lambda m: "(" + tr.gettext(GRADE) % {"grade": m.group(1)} + ")", value)
    return value


def describe_violation(violation: Violation | str, language: str = "en") -> str:
    """The violation's sentence in ``language`` (``tr``, ``en`` or ``ar``).

    In English, and for a plain string (a violation from before sentences had ids), it is the
    checker's own sentence.
    """
    if language == "en" or not isinstance(violation, Violation):
        return str(violation)
    tr = translations(language, DOMAIN)
    values = {name: _param(name, value, tr) for name, value in violation.params}
    return tr.gettext(violation.message) % values


def group_violations(violations: Iterable[Violation], n_subjects: int = 5) -> list[tuple[str, int, Sequence[str]]]:
    """``(code, count, first subjects)`` per violation code, largest group first."""
    groups: dict[str, list[str]] = {}
    for violation in violations:
        code = getattr(violation, "code", None)
        groups.setdefault(code.value if code is not None else "", []).append(getattr(violation, "subject", ""))
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [(code, len(subjects), subjects[:n_subjects]) for code, subjects in ordered]


def violations_text(violations: Sequence[Violation | str], language: str = "en", max_shown: int = 50) -> str:
    """``N violation(s) in the plan`` and the first ``max_shown``, each as ``[code] sentence``.

    What a person reads when a plan fails the checker: the CLI in its ``--language``, the service's
    failed job.
    """
    lines = "".join(
        f"\n  - [{v.code.value if isinstance(v, Violation) else ''}] {describe_violation(v, language)}"
        for v in violations[:max_shown]
    )
    return f"{len(violations)} violation(s) in the plan{lines}"
