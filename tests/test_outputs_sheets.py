"""Route sheets and parent notices: what a driver and a family read, in their language."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from fixtures_plan import STUDENTS, make_plan
from schoolbus.errors import InputError
from schoolbus.executor import ProcessExecutor
from schoolbus.model import Direction, RoadStep, Trip, Visit
from schoolbus.outputs import sheets as sheets_module
from schoolbus.outputs.i18n import clock, translations
from schoolbus.outputs.sheets import (
    Arrival,
    Manoeuvre,
    action_from_turn,
    compass_from_bearing,
    describe,
    direction_lines,
    directions,
    render_parent_notices,
    render_route_sheets,
    turn_deg,
)
from schoolbus.stopnames import coordinates_text


@pytest.fixture(scope="module")
def plan():
    return make_plan()


@pytest.fixture(scope="module")
def sheets_tr(plan, tmp_path_factory):
    return render_route_sheets(
        plan, tmp_path_factory.mktemp("tr"), contractor="Etlik Turizm Ltd. Şti."
    )


@pytest.fixture(scope="module")
def sheets_ar(plan, tmp_path_factory):
    return render_route_sheets(plan, tmp_path_factory.mktemp("ar"), language="ar")


@pytest.fixture(scope="module")
def notices(plan, tmp_path_factory):
    return render_parent_notices(plan, tmp_path_factory.mktemp("notices"), family_files=True, combined=True)


def pdf_page_texts(path) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(path).pages]


def pdf_text(path) -> str:
    """All text of a PDF with runs of whitespace made single spaces."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(path).pages).split())


def places(plan, trip):
    stops = {s.id: s for s in plan.stops}
    schools = {s.id: s for s in plan.scenario.schools}
    return {
        i: (stops[v.stop_id].location if v.stop_id else schools[v.school_id].location)
        for i, v in enumerate(trip.visits)
    }


def _installed_font_families() -> str:
    fc_list = shutil.which("fc-list")
    return (
        subprocess.run([fc_list, ":", "family"], capture_output=True, text=True).stdout
        if fc_list
        else ""
    )


def visit_name(plan, visit):
    if visit.stop_id:
        return next(s.name for s in plan.stops if s.id == visit.stop_id)
    return plan.scenario.school(visit.school_id).name


# --- directions: tiny cases with known answers ---------------------------------------------


def test_t1_turns_right_then_left_and_stops_half_way_along_kuscagiz(plan):
    t1 = next(t for t in plan.trips if t.id == "T1")
    items = directions(t1, places(plan, t1))
    kinds = [
        (i.action, i.street, i.compass) if isinstance(i, Manoeuvre) else i.visit_index
        for i in items
    ]
    assert kinds == [
        ("depart", "Ilgaz Sokak", "north"),
        ("right", "Kuşçağız Sokak", "east"),
        1,
        ("continue", "Kuşçağız Sokak", "east"),
        ("left", "Gölbaşı Caddesi", "north"),
        2,
    ]
    # B sits half-way along Kuşçağız Sokak: the step's length is split evenly there.
    right, cont = items[1], items[3]
    assert right.distance_m == pytest.approx(cont.distance_m)
    assert right.distance_m + cont.distance_m == pytest.approx(t1.steps[1].distance_m)


def test_a_street_split_into_several_steps_reads_as_one_line(plan):
    t2 = next(t for t in plan.trips if t.id == "T2")
    (step,) = t2.steps
    halves = (
        dataclasses.replace(step, coords=step.coords[:2], distance_m=100.0),
        dataclasses.replace(step, coords=step.coords[1:], distance_m=200.0),
    )
    items = directions(dataclasses.replace(t2, steps=halves), places(plan, t2))
    assert items == [Manoeuvre("depart", "İstiklal Caddesi", 300.0, "east"), Arrival(1)]


def test_home_run_turns_are_mirrored(plan):
    t3 = next(t for t in plan.trips if t.id == "T3")
    actions = [i.action for i in directions(t3, places(plan, t3)) if isinstance(i, Manoeuvre)]
    assert actions == ["depart", "right", "continue", "left"]


@pytest.mark.parametrize("trip_id", ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"])
def test_directions_cover_the_whole_trip_once(plan, trip_id):
    trip = next(t for t in plan.trips if t.id == trip_id)
    items = directions(trip, places(plan, trip))
    assert [i.visit_index for i in items if isinstance(i, Arrival)] == list(
        range(1, len(trip.visits))
    )
    assert sum(i.distance_m for i in items if isinstance(i, Manoeuvre)) == pytest.approx(
        trip.distance_m
    )


@pytest.mark.parametrize(
    ("heading_in", "heading_out", "expected"),
    [
        (0, 90, "right"),  # north, then east
        (0, 270, "left"),  # north, then west
        (90, 100, "continue"),  # a gentle bend on the same street
        (350, 30, "slight_right"),  # across north: +40°
        (10, 190, "uturn"),
        (180, 135, "slight_left"),  # south, then south-east: 45° is a bend
        (180, 90, "left"),  # south, then east
    ],
)
def test_turn_names(heading_in, heading_out, expected):
    assert action_from_turn(turn_deg(heading_in, heading_out), same_street=True) == expected


@given(st.floats(0, 360, exclude_max=True), st.floats(-179, 179))
def test_turn_is_the_signed_heading_change_and_left_mirrors_right(heading, change):
    assert turn_deg(heading, (heading + change) % 360) == pytest.approx(change, abs=1e-6)
    right = action_from_turn(change, same_street=False)
    left = action_from_turn(-change, same_street=False)
    assert right.replace("right", "left") == left.replace("right", "left")
    assert compass_from_bearing(heading) in (
        "north",
        "northeast",
        "east",
        "southeast",
        "south",
        "southwest",
        "west",
        "northwest",
    )


# --- route sheets ----------------------------------------------------------------------------


def test_one_html_and_one_pdf_per_vehicle_day(plan, sheets_tr):
    names = [p.name for p in sheets_tr]
    assert names == [
        f"route_sheet_{v.id}.tr.{ext}" for v in plan.vehicles for ext in ("html", "pdf")
    ]


def test_turkish_sheet_lists_stops_in_order_with_times(plan, sheets_tr):
    for vehicle in plan.vehicles:
        text = pdf_text(next(p for p in sheets_tr if p.name == f"route_sheet_{vehicle.id}.tr.pdf"))
        position = 0
        for trip_id in vehicle.trip_ids:
            trip = next(t for t in plan.trips if t.id == trip_id)
            position = text.index(f"Sefer {trip.id} ·", position)
            for i, visit in enumerate(trip.visits):
                time_s = visit.depart_s if i == 0 else visit.arrive_s
                expected = f"{visit_name(plan, visit)} — {clock(time_s)}"
                position = text.index(expected, position)  # ValueError if missing or out of order
        assert "Etlik Turizm Ltd. Şti." in text


def test_sheet_has_vehicle_facts_blank_fields_directions_and_totals(sheets_tr):
    text = pdf_text(next(p for p in sheets_tr if p.name == "route_sheet_V1.tr.pdf"))
    for expected in (
        "Araç sınıfı midibus_27",
        "Koltuk sayısı 27",
        "Rehber personel evet",
        "Plaka",
        "Şoför Adı soyadı İmza",
        # Each turn says how far ahead it is; an arrival how far from the last turn.
        "Ilgaz Sokak üzerinde kuzey yönünde ilerleyin 560 m sonra sağa dönerek Kuşçağız Sokak yoluna girin",
        "● 2. Kuşçağız Sokak — 07:02 (260 m sonra varış)",
        "Kuşçağız Sokak üzerinde devam edin 260 m sonra sola dönerek Gölbaşı Caddesi yoluna girin",
        "Toplam mesafe 8,5 km",
        "st01 A.Y.",
        "st04 Ö.Ç.",
    ):
        assert expected in text, expected
    for letters in ("ğ", "ş", "ı", "İ"):
        assert letters in text
    v2 = pdf_text(next(p for p in sheets_tr if p.name == "route_sheet_V2.tr.pdf"))
    assert "Rehber personel hayır" in v2 and "st10 E.D. (tekerlekli sandalye)" in v2
    # No escort aboard V2, so no escort line to sign.
    assert v2.count("Adı soyadı") == 1


def test_sheets_never_show_home_locations(plan, sheets_tr):
    html = "".join(p.read_text(encoding="utf-8") for p in sheets_tr if p.suffix == ".html")
    # Stops print their coordinates (lat, lon): a home's never appears, in any order or precision
    # that could place it (single numbers may coincide with a stop's, e.g. a shared latitude).
    for student in STUDENTS:
        lon, lat = student.location
        for text in (f"{lat:.5f}, {lon:.5f}", f"{lat}, {lon}", f"{lon}, {lat}", f"{lat:.6f},{lon:.6f}"):
            assert text not in html, (student.id, text)
    # Door-to-door stops sit at a home: they get no coordinates or QR code.
    door = next(s for s in plan.stops if s.is_door_to_door)
    assert coordinates_text(door.location) not in html


def test_arabic_sheet_is_right_to_left_and_arabic(sheets_ar):
    html = next(p for p in sheets_ar if p.name == "route_sheet_V1.ar.html").read_text(
        encoding="utf-8"
    )
    assert re.search(r'<html lang="ar" dir="rtl">', html)
    text = pdf_text(next(p for p in sheets_ar if p.name == "route_sheet_V1.ar.pdf"))
    for expected in ("ورقة المسار", "إرشادات الطريق", "انعطف يميناً إلى", "Kuşçağız Sokak", "07:02"):
        assert expected in text, expected
    fonts = {
        str(font["/BaseFont"])
        for page in PdfReader(next(p for p in sheets_ar if p.suffix == ".pdf")).pages
        for font in page["/Resources"]["/Font"].values()
    }
    if "Noto Naskh Arabic" in _installed_font_families():
        assert any("Noto-Naskh-Arabic" in f for f in fonts), fonts


def test_english_on_request(plan, tmp_path):
    paths = render_route_sheets(
        dataclasses.replace(plan, vehicles=plan.vehicles[:1]), tmp_path, language="en"
    )
    text = pdf_text(paths[1])
    assert "Route sheet — Vehicle V1" in text and "After 560 m, turn right onto Kuşçağız Sokak" in text


def test_unknown_sheet_language_is_an_input_error(plan, tmp_path):
    with pytest.raises(InputError):
        render_route_sheets(plan, tmp_path, language="fr")


# --- parent notices --------------------------------------------------------------------------


# Families in order of their first pupil: st05 and st09 (family FAM-H) share one notice.
NOTICE_KEYS = ["st01", "st02", "st03", "st04", "FAM-H", "st06", "st07", "st08", "st10", "st11",
               "st12"]  # fmt: skip


def notice_pages(pdf_path) -> dict[str, str]:
    """Each family's page text, by family key (FAM-H's page is the one naming st05)."""
    texts = [" ".join(page.extract_text().split()) for page in PdfReader(pdf_path).pages]
    pages = {}
    for key in NOTICE_KEYS:
        (text,) = [t for t in texts if key.replace("FAM-H", "st05") in t]
        pages[key] = text
    assert len(texts) == len(pages)
    return pages


def test_one_notice_per_family_in_the_familys_language(plan, notices):
    html_paths = [p for p in notices if p.suffix == ".html"]
    assert sorted(p.name for p in html_paths) == sorted(f"notice_{key}.html" for key in NOTICE_KEYS)
    language = {s.id: s.language for s in STUDENTS} | {"FAM-H": "ar"}
    for path in html_paths:
        key = path.stem.removeprefix("notice_")
        html = path.read_text(encoding="utf-8")
        direction = "rtl" if language[key] == "ar" else "ltr"
        assert f'<html lang="{language[key]}" dir="{direction}">' in html, key
        assert len(PdfReader(path.with_suffix(".pdf")).pages) == 1, key


def test_notices_come_in_a_booklet_per_school_and_shift_in_plan_order(plan, notices):
    # A family's notice is in the booklet of its first child's school and shift: FAM-H's first
    # child, st05, rides S1's afternoon (öğle) shift; st09, its second, goes to S2.
    booklets = [p for p in notices if p.name.startswith("notices_")]
    assert [p.name for p in booklets] == ["notices_S1_ogle.pdf", "notices_S1_sabah.pdf", "notices_S2_tam.pdf"]
    first_child = {a.student_id: a for a in plan.assignments}
    seen = []
    for booklet in booklets:
        texts = [" ".join(page.extract_text().split()) for page in PdfReader(booklet).pages]
        keys = [key for text in texts for key in NOTICE_KEYS if key.replace("FAM-H", "st05") in text]
        assert len(keys) == len(texts)
        assert keys == [k for k in NOTICE_KEYS if k in keys], "families in plan order"
        first = [first_child[k.replace("FAM-H", "st05")] for k in keys]
        assert len({(a.school_id, a.shift) for a in first}) == 1, booklet.name
        shift = first[0].shift.replace("ö", "o").replace("ğ", "g")
        assert booklet.name == f"notices_{first[0].school_id}_{shift}.pdf"
        seen += keys
    assert sorted(seen) == sorted(NOTICE_KEYS)


def test_notice_pdf_has_a_page_per_family_with_stop_walk_and_times(plan, notices):
    pages = notice_pages(next(p for p in notices if p.name == "notices.pdf"))
    assert "Ilgaz Sokak durağına yürüyün (yaklaşık 120 m)." in pages["st01"]
    assert "07:00" in pages["st01"] and "12:37" in pages["st01"]
    assert "Walk to the stop at Kuşçağız Sokak, about 240 m." in pages["st03"]
    assert "Servis kapınızın önünde durur." in pages["st10"]
    assert "لم نتمكن من تأمين مكان لطفلكم" in pages["st12"]
    # One pupil per notice except the siblings' one.
    assert {key: sum(s.id in text for s in STUDENTS) for key, text in pages.items()} == {
        key: 2 if key == "FAM-H" else 1 for key in NOTICE_KEYS
    }


def test_siblings_at_two_schools_get_one_arabic_slip_with_both_stops_and_times(plan, notices):
    html = next(p for p in notices if p.name == "notice_FAM-H.html").read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl">' in html
    text = notice_pages(next(p for p in notices if p.name == "notices.pdf"))["FAM-H"]
    assert "يذكر هذا الإشعار محطة كل طفل من أطفالكم" in text
    assignments = {a.student_id: a for a in plan.assignments}
    for student_id, school, street in (
        ("st05", "Etlik Şehit Öğretmen İlkokulu", "Işıklar Caddesi"),
        ("st09", "Ayşe Işık Ortaokulu", "İstiklal Caddesi"),
    ):
        a = assignments[student_id]
        for expected in (student_id, school, street, clock(a.pickup_s), clock(a.dropoff_s)):
            assert expected in text, (student_id, expected)
        assert html.count(f">{student_id} (") == 1
    assert text.count("امشوا إلى المحطة عند") == 2
    # The siblings' home is printed nowhere.
    home = next(s.location for s in STUDENTS if s.id == "st05")
    assert str(home[0]) not in html and str(home[1]) not in html


def test_pupil_without_family_still_gets_their_own_slip(notices):
    html = next(p for p in notices if p.name == "notice_st06.html").read_text(encoding="utf-8")
    assert "st06" in html and "st05" not in html and "st09" not in html
    assert "يذكر هذا الإشعار" not in html  # no "each of your children" line for one child


def test_large_family_fits_one_page_and_lists_an_unserved_child(plan, tmp_path):
    # Four siblings, one of them (st12) without a bus place; their family id is also the id of a
    # pupil who has no family, whose notice must not be overwritten.
    family = {"st01", "st02", "st11", "st12"}
    students = tuple(
        dataclasses.replace(s, family_id="st07", language="tr") if s.id in family else s
        for s in plan.scenario.students
    )
    scenario = dataclasses.replace(plan.scenario, students=students)
    paths = render_parent_notices(
        dataclasses.replace(plan, scenario=scenario), tmp_path, family_files=True, combined=True
    )
    names = [p.name for p in paths if p.suffix == ".html"]
    assert "notice_st07.html" in names and "notice_st07-2.html" in names
    assert len(names) == len(NOTICE_KEYS) - 3  # three notices fewer
    assert len(PdfReader(paths[-1]).pages) == len(names)
    pages = PdfReader(tmp_path / "notice_st07.pdf").pages
    assert len(pages) == 1
    first = " ".join(pages[0].extract_text().split())
    for student_id in sorted(family):
        assert student_id in first, student_id
    assert "Bu dönem çocuğunuza okul servisinde yer ayrılamadı." in first
    assert first.count("durağına yürüyün") == 3
    lone = (tmp_path / "notice_st07-2.html").read_text(encoding="utf-8")
    assert "st07" in lone and "st01" not in lone


def test_family_without_a_catalogue_gets_turkish(plan, tmp_path):
    students = tuple(
        dataclasses.replace(s, language="fa") if s.id == "st01" else s
        for s in plan.scenario.students
    )
    scenario = dataclasses.replace(plan.scenario, students=students)
    paths = render_parent_notices(
        dataclasses.replace(plan, scenario=scenario, assignments=plan.assignments[:1]),
        tmp_path,
        family_files=True,
        combined=True,
    )
    assert [p.name for p in paths] == ["notice_st01.html", "notice_st01.pdf", "notices_S1_sabah.pdf", "notices.pdf"]
    assert '<html lang="tr" dir="ltr">' in paths[0].read_text(encoding="utf-8")


def test_a_booklet_longer_than_a_chunk_is_joined_in_order(plan, notices, tmp_path, monkeypatch):
    # Notices are laid out NOTICE_CHUNK_FAMILIES at a time and freed; with chunks of two families
    # the booklets (and notices.pdf) must read exactly as when each booklet is one chunk.
    monkeypatch.setattr(sheets_module, "NOTICE_CHUNK_FAMILIES", 2)
    chunked = render_parent_notices(plan, tmp_path, combined=True)
    whole = {p.name: p for p in notices if p.suffix == ".pdf"}
    assert [p.name for p in chunked] == [n for n in whole if n.startswith("notices")]
    # Pages that share fonts with Arabic ones may read a mirrored bracket back out as its twin
    # (one glyph, one ToUnicode entry); what is printed is the same.
    def unbracketed(path):
        return [text.translate(str.maketrans("", "", "()")) for text in pdf_page_texts(path)]

    for path in chunked:
        assert unbracketed(path) == unbracketed(whole[path.name]), path.name
    assert not list(tmp_path.glob(".*part*")), "chunk files left behind"


@pytest.mark.slow
def test_any_executor_writes_the_same_sheets_and_notices(plan, sheets_tr, notices, tmp_path):
    with ProcessExecutor(2) as executor:
        sheets = render_route_sheets(
            plan, tmp_path / "sheets", contractor="Etlik Turizm Ltd. Şti.", executor=executor
        )
        booklets = render_parent_notices(plan, tmp_path / "notices", family_files=True, combined=True, executor=executor)
    assert [p.name for p in sheets] == [p.name for p in sheets_tr]
    for ours, theirs in zip(sheets, sheets_tr):
        if ours.suffix == ".html":
            assert ours.read_text(encoding="utf-8") == theirs.read_text(encoding="utf-8")
        else:
            assert pdf_page_texts(ours) == pdf_page_texts(theirs)
    assert [p.name for p in booklets] == [p.name for p in notices]
    for ours, theirs in zip(booklets, notices):
        if ours.suffix == ".pdf":
            assert pdf_page_texts(ours) == pdf_page_texts(theirs), ours.name


# --- directions on unnamed roads and dead ends ------------------------------------------------

EAST, NORTH = 0.0013, 0.0009  # about 110 m and 100 m at Keçiören's latitude


def _trip_along(steps, n_visits: int = 2):
    visits = tuple(Visit(0, 0, stop_id=f"P{k}") for k in range(n_visits))
    return Trip("X", "V", "van", "S", "sabah", Direction.TO_SCHOOL, visits, 0.0, 0, tuple(steps))


def test_unnamed_roads_are_named_by_class_and_merged_when_driven_straight_on():
    o = (32.85, 39.96)
    a, b, c, d = ((o[0] + k * EAST, o[1]) for k in (1, 2, 3, 3))
    d = (d[0], d[1] + NORTH)
    steps = (
        RoadStep("Etlik Caddesi", 110.0, (o, a)),
        RoadStep("", 110.0, (a, b), "service"),
        RoadStep("", 110.0, (b, c), "residential"),  # straight on: the same line
        RoadStep("", 100.0, (c, d), "service"),  # a left turn: its own line
    )
    trip = _trip_along(steps)
    items = directions(trip, {0: o, 1: d})
    manoeuvres = [i for i in items if isinstance(i, Manoeuvre)]
    assert [(m.action, m.street, m.road_class, round(m.distance_m)) for m in manoeuvres] == [
        ("depart", "Etlik Caddesi", "", 110),
        ("straight", "", "service", 220),
        ("left", "", "service", 100),
    ]
    tr = translations("tr")
    texts = [str(describe(m, tr, "tr")) for m in manoeuvres]
    assert texts[1:] == ["Düz devam edin ve servis yolu boyunca ilerleyin", "Sola dönün ve servis yolu boyunca ilerleyin"]
    assert not any("adsız yol" in t or "(" in t for t in texts)
    lines = direction_lines(items, tr, "tr")
    assert [re.sub("<[^>]+>", "", str(line.get("text", ""))) for line in lines] == [
        "Etlik Caddesi üzerinde doğu yönünde ilerleyin",
        "110 m sonra düz devam edin ve servis yolu boyunca ilerleyin",  # the distance before the turn, first
        "220 m sonra sola dönün ve servis yolu boyunca ilerleyin",
        "",
    ]
    assert lines[-1] == {"arrival": True, "visit_index": 1, "after": "100 m"}


def test_an_out_and_back_along_one_road_says_turn_around():
    # A dead-end service road: out 200 m to the stop, then back the same way.
    o = (32.85, 39.96)
    end = (o[0] + 2 * EAST, o[1])
    mid = (o[0] + EAST, o[1])
    steps = (RoadStep("", 440.0, (o, mid, end, mid, o), "service"),)
    trip = _trip_along(steps, 3)
    items = directions(trip, {0: o, 1: end, 2: o})
    kinds = [(i.action, round(i.distance_m)) if isinstance(i, Manoeuvre) else i.visit_index for i in items]
    assert kinds == [("depart", 220), 1, ("uturn", 220), 2]
    assert str(describe(items[2], translations("tr"), "tr")) == "Geri dönün ve servis yolu üzerinden geri gelin"
    # On the sheet the leg is said as an out-and-back: back the same way, and how far.
    texts = [str(line["text"]) for line in direction_lines(items, translations("tr"), "tr") if not line["arrival"]]
    assert texts[1] == "Geri dönün ve servis yolu üzerinden aynı yoldan 220 m geri gelin"
    ar = [str(line["text"]) for line in direction_lines(items, translations("ar"), "ar") if not line["arrival"]]
    assert ar[1] == "استدر وعد على طريق خدمة من الطريق نفسه مسافة 220 م"


def test_a_turnaround_without_a_stop_is_said_too():
    o = (32.85, 39.96)
    end = (o[0] + 2 * EAST, o[1])
    steps = (RoadStep("Çıkmaz Sokak", 440.0, (o, end, o)),)
    items = directions(_trip_along(steps), {0: o, 1: o})
    assert [i.action for i in items if isinstance(i, Manoeuvre)] == ["depart", "uturn"]
