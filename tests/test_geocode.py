"""The offline geocoder: Turkish normalisation, one-line parsing, matching, precision and cache."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geocode_fixtures import (
    ATATURK_10,
    ATATURK_12,
    KIRKMAGARA,
    UH_1203,
    UH_1230_3,
    UH_BOX,
    YS_1203_5,
    write_mahalle_osm,
)
from schoolbus.errors import RoadNetworkError
from schoolbus.geocode import Geocoder, is_precise_enough, load_index, parse_address
from schoolbus.geocode.index import build_index, metres_between
from schoolbus.geocode.normalize import fold, name_key


@pytest.fixture(scope="module")
def mahalle_osm(tmp_path_factory):
    return write_mahalle_osm(tmp_path_factory.mktemp("osm") / "haliliye.osm")


@pytest.fixture(scope="module")
def geocoder(mahalle_osm):
    return Geocoder(build_index(mahalle_osm))


# ---- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("İSTİKLAL", "istiklal"),  # dotted capital İ is i
        ("IŞIK", "isik"),  # capital I is dotless ı, written i without the dot
        ("Çağlayan Şehitleri", "caglayan sehitleri"),
        ("ÖĞRETMENLER  ÜNİTESİ", "ogretmenler unitesi"),
        ("Mäkelänkatu", "makelankatu"),
        ("No:5/3", "no 5 3"),
        ("شارعُ أتاتورك", "شارع اتاتورك"),  # vowel mark dropped, hamza alef unified
    ],
)
def test_fold_is_turkish_aware(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize(
    "spelling",
    ["1203. Sokak", "1203 Sk.", "1203.Sok.", "1203 SOKAĞI", "1203. sokagi", "1203 sk"],
)
def test_numbered_street_spellings_share_one_key(spelling):
    assert name_key(spelling) == "1203 sk"


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("Atatürk Cad.", "ataturk cd"),
        ("ATATÜRK CADDESİ", "ataturk cd"),
        ("Atatürk Bulvarı", "ataturk blv"),
        ("Atatürk Blv.", "ataturk blv"),
        ("Ulubatlı Hasan Mh.", "ulubatli hasan mah"),
        ("ULUBATLI HASAN MAHALLESİ", "ulubatli hasan mah"),
    ],
)
def test_abbreviations_share_one_key(spelling, key):
    assert name_key(spelling) == key


@given(st.text(max_size=40))
def test_fold_and_name_key_are_idempotent(text):
    assert fold(fold(text)) == fold(text)
    assert name_key(name_key(text)) == name_key(text)


# ---- parsing -------------------------------------------------------------------------------------


def test_parse_the_issue_example():
    query = parse_address("Ulubatlı Hasan Mh. 1203. Sk. No:5 D:3 Haliliye")
    assert query.neighbourhood == "ulubatli hasan mah"
    assert query.street == "1203 sk"
    assert query.house_number == "5"  # D:3 is the flat, not the building
    assert query.areas == ("haliliye",)


@pytest.mark.parametrize(
    ("line", "street", "number"),
    [
        ("ULUBATLI HASAN MAHALLESİ 1203 SOKAK 7/2 HALİLİYE/ŞANLIURFA", "1203 sk", "7"),  # 7/2: bina/daire
        ("Atatürk Cd. Gül Apt. No:12 Kat:3 D:5", "ataturk cd", "12"),  # building name and floor dropped
        ("Mannerheimintie 12 A 5, 00100 Helsinki", "mannerheimintie", "12a"),  # Finnish order
        ("İstiklal Sok. No.3B", "istiklal sk", "3b"),
        ("1203. Sk., Ulubatlı Hasan Mh.", "1203 sk", None),
    ],
)
def test_parse_one_line_addresses(line, street, number):
    query = parse_address(line)
    assert (query.street, query.house_number) == (street, number)


# ---- matching on the hand-made mahalle --------------------------------------------------------


def _within(result, point, metres=1.0):
    return metres_between(result.location, point) <= metres


def test_house_in_the_stated_mahalle(geocoder):
    result = geocoder.geocode_line("Ulubatlı Hasan Mh. 1203. Sk. No:5 D:3 Haliliye")
    assert result.precision == "house"
    assert result.score >= 95
    assert _within(result, UH_1203["5"])
    assert result.match == "1203. Sokak 5"


def test_same_street_name_in_another_mahalle(geocoder):
    result = geocoder.geocode_line("Yenişehir Mah. 1203 Sok. No 5")
    assert result.precision == "house"
    assert _within(result, YS_1203_5)


def test_same_street_in_two_mahalles_without_a_mahalle_needs_review(geocoder):
    result = geocoder.geocode_line("1203. Sokak No:5")
    assert result.precision == "house"
    assert result.score <= 70  # one of two places: a person must look


def test_missing_number_is_interpolated_between_neighbours_of_the_same_side(geocoder):
    result = geocoder.geocode_line("Ulubatlı Hasan Mahallesi 1203. Sokak No:6")
    assert result.precision == "interpolated"
    midway = ((UH_1203["4"][0] + UH_1203["8"][0]) / 2, UH_1203["4"][1])
    assert _within(result, midway)


def test_no_number_gives_the_street(geocoder):
    result = geocoder.geocode_line("Ulubatlı Hasan Mh., 1203. Sokak")
    assert result.precision == "street"
    assert result.score >= 95
    lon, lat = result.location
    assert 38.801 <= lon <= 38.809 and lat == pytest.approx(37.165)


def test_ascii_upper_case_and_a_typo(geocoder):
    result = geocoder.geocode_line("ULUBATLI HASAN MAH ATATRUK CADDESI NO 10")
    assert result.precision == "house"
    assert _within(result, ATATURK_10)
    assert 80 <= result.score < 100


def test_building_with_an_address_is_found_at_its_centre(geocoder):
    result = geocoder.geocode_line("Atatürk Cd. No:12, Ulubatlı Hasan")
    assert result.precision == "house"
    assert _within(result, ATATURK_12)


def test_arabic_and_transliterated_names_match(geocoder):
    arabic = geocoder.geocode_line("شارع أتاتورك 10")
    latin = geocoder.geocode_line("Ataturk Avenue 10")
    assert arabic.precision == latin.precision == "house"
    assert _within(arabic, ATATURK_10) and _within(latin, ATATURK_10)


def test_numbers_in_street_names_must_agree(geocoder):
    """1230. Sokak is one swap from 1203. Sokak: the number decides, not the similarity."""
    result = geocoder.geocode_line("Ulubatlı Hasan Mh. 1230. Sokak No:3")
    assert _within(result, UH_1230_3)
    wrong = geocoder.geocode_line("Ulubatlı Hasan Mh. 1320. Sokak No:3")
    assert wrong.precision in ("neighbourhood", "none") or wrong.score < 80


def test_mahalle_only_gives_the_neighbourhood_centre(geocoder):
    result = geocoder.geocode_line("Ulubatlı Hasan Mahallesi")
    assert result.precision == "neighbourhood"
    w, s, e, n = UH_BOX
    assert w < result.lon < e and s < result.lat < n


def test_unknown_street_in_a_known_mahalle_falls_back_to_the_mahalle(geocoder):
    result = geocoder.geocode_line("Ulubatlı Hasan Mh. Papatya Sokak No:4")
    assert result.precision == "neighbourhood"
    assert result.score < 80


def test_place_node_is_a_neighbourhood(geocoder):
    result = geocoder.geocode_line("Kırkmağara Köyü")
    assert result.precision == "neighbourhood"
    assert _within(result, KIRKMAGARA)


def test_only_the_district(geocoder):
    result = geocoder.geocode_line("Haliliye")
    assert result.precision == "district"


@pytest.mark.parametrize("line", ["", "   ", "No:5", "Xyzzy Qwerty"])
def test_nothing_to_place(geocoder, line):
    result = geocoder.geocode_line(line)
    assert result.precision == "none"
    assert result.location is None and result.score == 0


def test_precision_order():
    assert is_precise_enough("house", "street")
    assert is_precise_enough("manual", "street")
    assert is_precise_enough(None, "house")  # typed coordinates
    assert not is_precise_enough("neighbourhood", "street")
    assert not is_precise_enough("street", "interpolated")


# ---- the index and its cache -----------------------------------------------------------------------


def test_index_is_cached_as_json_not_pickle(mahalle_osm, tmp_path):
    first = load_index(mahalle_osm, cache_dir=tmp_path)
    (cached,) = tmp_path.glob("geocode-*.json.gz")
    with gzip.open(cached, "rt", encoding="utf-8") as f:
        document = json.load(f)
    assert document["format"] == "schoolbus-geocode-index"
    again = load_index(mahalle_osm, cache_dir=tmp_path)
    assert again == first
    names = sorted(a.name for a in first.areas)
    assert names == ["Haliliye", "Kırkmağara", "Ulubatlı Hasan Mahallesi", "Yenişehir Mahallesi"]


def test_damaged_cache_is_rebuilt(mahalle_osm, tmp_path):
    first = load_index(mahalle_osm, cache_dir=tmp_path)
    (cached,) = tmp_path.glob("geocode-*.json.gz")
    cached.write_bytes(b"not gzip")
    assert load_index(mahalle_osm, cache_dir=tmp_path) == first


def test_unreadable_osm_file(tmp_path):
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node id='1'", encoding="utf-8")
    with pytest.raises(RoadNetworkError, match="cannot read OSM file"):
        load_index(bad, cache_dir=tmp_path)
    with pytest.raises(RoadNetworkError):
        load_index(tmp_path / "missing.osm.pbf", cache_dir=tmp_path)


# ---- the real Helsinki extract ----------------------------------------------------------------------


def test_helsinki_addresses_come_back_to_their_houses(helsinki_pbf, tmp_path):
    index = load_index(helsinki_pbf, cache_dir=tmp_path)
    assert len(index.streets) > 100 and index.n_houses > 500
    geocoder = Geocoder(index)
    checked = 0
    for street in index.streets:
        if "," in street.name:
            continue  # addr:street "Kaivopiha, Mannerheimintie": a mall and its street, not one name
        for number, point in sorted(street.houses.items())[:3]:
            result = geocoder.geocode_line(f"{street.name} {number}, Helsinki")
            assert result.precision == "house", (street.name, number, result)
            assert metres_between(result.location, point) < 50
            checked += 1
    assert checked > 150


def test_helsinki_swedish_name_finds_the_finnish_street(helsinki_pbf, tmp_path):
    geocoder = Geocoder(load_index(helsinki_pbf, cache_dir=tmp_path))
    finnish = geocoder.geocode_line("Yrjönkatu 21")
    swedish = geocoder.geocode_line("Georgsgatan 21")
    assert finnish.precision == swedish.precision == "house"
    assert finnish.location == swedish.location


@pytest.mark.parametrize(
    "line",
    [
        "Ulubatlı Hasan Mh. 1203. Sokka No:5",  # the type word mistyped (a swap)
        "Ulubatlı Hasan Mh. 1203. Sikqk No:5",  # past recognition: the numbered name decides
        "ULUBATLI HASAN MAHALESI 1203 SK NO 5",  # the mahalle word mistyped
    ],
)
def test_mistyped_type_words(geocoder, line):
    result = geocoder.geocode_line(line)
    assert result.precision == "house"
    assert _within(result, UH_1203["5"])


def test_a_first_word_is_a_name_not_a_mistyped_type():
    """Helsinki's "Bulevardi" is a street, not a typo of "Bulvarı"."""
    assert parse_address("Bulevardi 7, Helsinki").street == "bulevardi"
    assert parse_address("Atatürk Cadesi 10").street == "ataturk cd"


_ADDRESS_WORDS = st.sampled_from(
    ["Ulubatlı", "Hasan", "Mh.", "Mahallesi", "1203.", "Sk.", "Sokak", "No:5", "D:3", "Atatürk", "Cad.",
     "Haliliye", "/", ",", "12", "A", "Kat:2", "İSTİKLAL", "شارع", "Apt.", "5/3", "Yenişehir"]
)


@given(st.lists(_ADDRESS_WORDS, max_size=10).map(" ".join) | st.text(max_size=60))
def test_any_line_gets_an_answer_that_keeps_the_invariants(line):
    """Whatever is typed: no crash, a location exactly when placed, a score from 0 to 100."""
    result = _GEOCODER.geocode_line(line)
    assert result.precision in ("house", "interpolated", "street", "neighbourhood", "district", "none")
    assert (result.location is None) == (result.precision == "none")
    assert 0 <= result.score <= 100
    if result.location is not None:
        w, s, e, n = 38.79, 37.15, 38.86, 37.21  # inside the extract
        assert w <= result.lon <= e and s <= result.lat <= n


def _mahalle_geocoder():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        return Geocoder(build_index(write_mahalle_osm(Path(folder) / "m.osm")))


_GEOCODER = _mahalle_geocoder()
