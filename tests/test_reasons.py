"""Reasons are codes with parameters; words come from the catalogues, and the CLI groups them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from schoolbus import cli
from schoolbus.model import Reason, ReasonCode, Status
from schoolbus.outputs.reasons import SENTENCES, TITLES, describe_reason, group_reasons, reason_title

EXAMPLE_PARAMS = {
    "snap_m": 450.0, "limit_m": 300.0, "road_m": 95.0, "distance_m": 2500.0, "nearest_m": 2021.0,
    "types": "minibus", "seats": 30, "max_seats": 16, "places": 2, "max_places": 1, "ride_s": 2460,
    "limit_s": 2400, "duration_s": 3700, "cap_s": 3600, "school_id": "S1", "shift": "sabah",
    "direction": "to_school", "needed": 3, "vehicle_type": "midibus", "count": 2, "short": 1, "text": "x",
}  # fmt: skip


def example(code: ReasonCode) -> Reason:
    return Reason.make(code, **EXAMPLE_PARAMS)


@pytest.mark.parametrize("code", list(ReasonCode))
def test_every_code_has_a_title_and_a_sentence(code):
    assert code in TITLES and code in SENTENCES


@pytest.mark.parametrize("language", ["tr", "ar"])
@pytest.mark.parametrize("code", [c for c in ReasonCode if c is not ReasonCode.TEXT])
def test_every_reason_reads_in_turkish_and_arabic_not_english(code, language):
    english = describe_reason(example(code), "en")
    translated = describe_reason(example(code), language)
    assert translated != english
    assert reason_title(example(code), language) != reason_title(example(code), "en")
    assert "%(" not in translated and "None" not in translated


def test_causes_follow_the_reason_in_the_readers_language():
    reason = Reason.make(
        ReasonCode.NO_TRIP,
        (Reason.make(ReasonCode.RIDE_LIMIT_ALONE, ride_s=2460, limit_s=2400),),
        school_id="S1", shift="sabah", direction="from_school",
    )
    assert describe_reason(reason, "tr") == (
        "eve dönüş seferi yok (okul S1, vardiya sabah): yolculuk süresi sınırı tek başına bile "
        "tutturulamıyor (doğrudan sürüş 41 dk > sınır 40 dk)"
    )
    assert reason.codes == (ReasonCode.NO_TRIP, ReasonCode.RIDE_LIMIT_ALONE)
    # Grouped by the most specific cause.
    assert reason_title(reason) == "ride limit impossible"


def test_a_reason_missing_a_parameter_still_reads():
    assert describe_reason(Reason.make(ReasonCode.FAR_FROM_ROAD)) == "home is – from the nearest road; limit –"


def test_reasons_group_by_kind_with_counts_and_first_ids():
    far = [(f"s{k}", Reason.make(ReasonCode.NO_STOP_WITHIN_WALK, limit_m=500.0, nearest_m=600.0 + k))
           for k in range(7)]
    cut = [("c1", Reason.make(ReasonCode.ROAD_NOT_CONNECTED, road_m=95.0, snap_m=2021.0))]
    assert group_reasons(far + cut, "en", n_ids=3) == [
        ("no bus stop within the walk limit", 7, ["s0", "s1", "s2"]),
        ("home next to a road cut off from the road network", 1, ["c1"]),
    ]


def test_the_cli_prints_one_line_per_kind_of_reason():
    assignments = [
        SimpleNamespace(student_id=f"s{k}", status=Status.UNSERVED,
                        reason=Reason.make(ReasonCode.NO_STOP_WITHIN_WALK, limit_m=500.0, nearest_m=600.0 + 10 * k))
        for k in range(230)
    ] + [SimpleNamespace(student_id="[r]", status=Status.ROUTED, reason=None)]
    with cli.console.capture() as captured:
        cli._print_unserved(SimpleNamespace(assignments=assignments))
    lines = " ".join(captured.get().split())
    assert lines == " ".join(" ".join([
        "  unserved ×230: no bus stop within the walk limit — s0, s1, s2, s3, s4, … (+225)",
        "      e.g. s0: no bus stop within the walk limit of 500 m (nearest road a bus may use is 600 m walk)",
    ]).split())
