"""The interactive map: layers per vehicle, road-following routes, privacy, offline assets."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from fixtures_plan import STUDENTS, UNSERVED_REASON, make_plan
from schoolbus.errors import InputError
from schoolbus.outputs.export import path_from_steps
from schoolbus.outputs.i18n import shift_label
from schoolbus.outputs.maps import render_map

JSON_STRING = r'"(?:[^"\\]|\\.)*"'


@pytest.fixture(scope="module")
def plan():
    return make_plan()


@pytest.fixture(scope="module")
def page(plan, tmp_path_factory) -> str:
    path = render_map(plan, tmp_path_factory.mktemp("map") / "plan.html")
    return path.read_text(encoding="utf-8")


def layer_groups(html: str) -> dict[str, dict[str, str]]:
    """Group heading → {layer label without tags: feature-group variable} from the layer control."""
    block = re.search(r"L\.control\.groupedLayers\(\s*null,\s*\{(.*?)\n\s*\},\s*\{", html, re.S)
    assert block, "no grouped layer control in the page"
    groups: dict[str, dict[str, str]] = {}
    for heading, body in re.findall(rf"({JSON_STRING})\s*:\s*\{{(.*?)\}},", block[1], re.S):
        groups[json.loads(heading)] = {
            re.sub(r"<[^>]+>", "", json.loads(label)).strip(): var
            for label, var in re.findall(rf"({JSON_STRING})\s*:\s*(feature_group_\w+)", body)
        }
    return groups


def polylines(html: str) -> list[tuple[list[list[float]], str]]:
    """Every polyline in the page: its [lat, lon] points and the layer variable it is added to."""
    found = re.findall(r"L\.polyline\(\s*(\[\[.*?\]\]),\s*\{.*?\}\s*\)\.addTo\((\w+)\)", html, re.S)
    return [(json.loads(points), layer) for points, layer in found]


def popups(html: str) -> list[str]:
    return [json.loads(s) for s in re.findall(rf"\.bindPopup\(({JSON_STRING})", html)]


def test_one_layer_per_vehicle_grouped_by_school_and_shift(plan, page):
    groups = layer_groups(page)
    schools = {s.id: s.name for s in plan.scenario.schools}
    expected: dict[str, set[str]] = {}
    for trip in plan.trips:
        expected.setdefault(f"{schools[trip.school_id]} · {shift_label(trip.shift, 'tr')}", set()).add(trip.vehicle_id)
    assert set(groups) == set(expected) | {"Yerler"}
    for heading, vehicles in expected.items():
        labels = groups[heading]
        assert sorted(label.split(" · ")[0] for label in labels) == sorted(vehicles), heading
    # V1 chains S1's morning shift with S2: one layer in each group, the same colour in both.
    v1_layers = [
        var for g in groups.values() for label, var in g.items() if label.startswith("V1 ·")
    ]
    assert len(v1_layers) == 2


def test_each_trip_is_drawn_along_its_road_steps_in_its_vehicles_layer(plan, page):
    groups = layer_groups(page)
    layer_vehicle = {
        var: label.split(" · ")[0] for g in groups.values() for label, var in g.items()
    }
    lines = polylines(page)
    for trip in plan.trips:
        expected = [[lat, lon] for lon, lat in path_from_steps(trip)]
        matches = [layer for points, layer in lines if points == expected]
        assert len(matches) == 1, f"{trip.id}: route line missing or duplicated"
        assert layer_vehicle[matches[0]] == trip.vehicle_id
    # Routes bend with the streets: T1 has six points, not a straight stop-to-stop segment.
    t1 = next(t for t in plan.trips if t.id == "T1")
    assert len(path_from_steps(t1)) == 6 > len(t1.visits)
    # Nothing else is drawn as a line when walk lines are off.
    assert len(lines) == len(plan.trips)


def test_page_loads_nothing_but_tiles_from_the_web(page):
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link[^>]*\bhref\s*=", page, re.I)
    assert not re.search(r"url\(\s*['\"]?https?:", page, re.I)
    assert "@import" not in page
    assert "$(`" not in page, "folium's jQuery popups would fail without jQuery"
    assert "L.Control.GroupedLayers=" in page and "L.tileLayer(" in page
    tile_urls = re.findall(r"L\.tileLayer\(\s*\"(https?://[^\"]+)\"", page)
    assert tile_urls == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]


def test_popups_show_times_and_pupils_as_id_and_initials_only(plan, page):
    texts = popups(page)
    stop_a = next(t for t in texts if "<h4>Ilgaz Sokak</h4>" in t)
    t1 = next(t for t in plan.trips if t.id == "T1")
    t3 = next(t for t in plan.trips if t.id == "T3")
    assert "07:00" in stop_a and "12:37" in stop_a and "12:38" in stop_a
    assert "st01 A.Y." in stop_a and "st02 M.Ş." in stop_a
    assert t1.visits[0].stop_id == "A" and t3.visits[-1].stop_id == "A"
    school = next(t for t in texts if "Etlik Şehit Öğretmen İlkokulu" in t and "07:30" in t)
    assert "12:30" in school and "13:00" in school and "18:00" in school


def test_no_home_location_unless_walk_lines_are_asked_for(plan, page, tmp_path):
    homes = [f"[{s.location[1]}, {s.location[0]}]" for s in STUDENTS if s.id != "st10"]
    # st10's door-to-door stop is at home by definition; everyone else's home must not appear.
    assert not [h for h in homes if h in page]
    with_walks = render_map(plan, tmp_path / "walks.html", show_walk_lines=True).read_text(
        encoding="utf-8"
    )
    routed_homes = [
        f"[{s.location[1]}, {s.location[0]}]" for s in STUDENTS if s.id not in ("st10", "st12")
    ]
    assert all(h in with_walks for h in routed_homes)
    unserved_home = next(s.location for s in STUDENTS if s.id == "st12")
    assert f"[{unserved_home[1]}, {unserved_home[0]}]" not in with_walks
    assert len(polylines(with_walks)) == len(plan.trips) + 11


def test_unserved_pupils_are_counted_at_their_school_with_the_reason(plan, page):
    s2 = plan.scenario.school("S2")
    badge = re.search(
        rf"L\.marker\(\s*\[{s2.location[1]}, {s2.location[0]}\].*?"
        r'"html": "\\u003cdiv class=\\"sb-unserved\\"\\u003e(\d+)\\u003c/div\\u003e"',
        page,
        re.S,
    )
    assert badge and badge[1] == "1"
    reason_popup = next(t for t in popups(page) if "yürüme sınırı içinde durak yok" in t)
    assert UNSERVED_REASON.code in reason_popup
    assert "st12 M.A." in reason_popup and "Ayşe Işık Ortaokulu" in reason_popup


def test_summary_shows_vehicles_and_cost_per_pupil(page):
    assert "₺754,55" in page and "₺136.572,73" in page
    assert re.search(r"<td>Araçlar</td><td>3</td>", page)


def test_same_plan_same_page(plan, page, tmp_path):
    again = render_map(plan, tmp_path / "again.html").read_text(encoding="utf-8")
    assert again == page


def test_arabic_map_is_labelled_in_arabic_right_to_left(plan, tmp_path):
    html = render_map(plan, tmp_path / "ar.html", language="ar").read_text(encoding="utf-8")
    assert '<html lang="ar">' in html
    assert 'dir="rtl"' in html and "الطبقات" in html
    assert "direction: rtl" in html


def test_trip_without_steps_draws_no_line_but_keeps_its_stops(plan, tmp_path):
    bare = tuple(dataclasses.replace(t, steps=()) if t.id == "T2" else t for t in plan.trips)
    html = render_map(dataclasses.replace(plan, trips=bare), tmp_path / "bare.html").read_text(
        encoding="utf-8"
    )
    assert len(polylines(html)) == len(plan.trips) - 1
    assert any("<h4>İstiklal Caddesi</h4>" in t for t in popups(html))


def test_unknown_language_is_an_input_error(plan, tmp_path):
    with pytest.raises(InputError) as error:
        render_map(plan, tmp_path / "x.html", language="de")
    assert error.value.problems[0].value == "de"
    assert not Path(tmp_path / "x.html").exists()


def test_names_cannot_break_out_of_the_page_scripts(plan, tmp_path):
    hostile = "Sokak`${alert(1)}<script>x</script>"
    stops = tuple(dataclasses.replace(s, name=hostile) if s.id == "A" else s for s in plan.stops)
    html = render_map(dataclasses.replace(plan, stops=stops), tmp_path / "h.html").read_text(
        "utf-8"
    )
    assert "<script>x</script>" not in html
    # Tooltips go into JavaScript template literals, where "${" would run code: it is escaped.
    tooltips = re.findall(r"\.bindTooltip\(\s*`(.*?)`", html, re.S)
    assert any("&#36;{alert(1)}" in t for t in tooltips)
    assert not any("${" in t or "<script" in t for t in tooltips)
    # Popups are JSON strings, where "${" is inert; they show the name as escaped text.
    assert any("<h4>Sokak`${alert(1)}&lt;script&gt;" in t for t in popups(html))
