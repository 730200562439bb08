"""The optional Nominatim geocoder, against responses the tests record themselves (no network)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from geopy.adapters import BaseSyncAdapter
from typer.testing import CliRunner

from schoolbus.cli import app
from schoolbus.errors import InputError
from schoolbus.geocode.nominatim import NominatimGeocoder, precision_of

RECORDED = {
    "Ulubatlı Hasan Mh. 1203. Sk. No:5, Haliliye": [
        {
            "lat": "37.1652", "lon": "38.804", "class": "building", "type": "yes", "addresstype": "building",
            "display_name": "5, 1203. Sokak, Ulubatlı Hasan Mahallesi, Haliliye, Şanlıurfa, Türkiye",
            "address": {"house_number": "5", "road": "1203. Sokak"},
        }
    ],
    "Ulubatlı Hasan Mh., Haliliye": [
        {
            "lat": "37.165", "lon": "38.805", "class": "place", "type": "neighbourhood",
            "addresstype": "neighbourhood", "display_name": "Ulubatlı Hasan Mahallesi, Haliliye",
            "address": {},
        }
    ],
}


class RecordedAdapter(BaseSyncAdapter):
    """Answers geopy's requests from :data:`RECORDED` and counts them."""

    requests: list[str] = []

    def get_json(self, url, *, timeout, headers):
        query = parse_qs(urlsplit(url).query)
        RecordedAdapter.requests.append(url)
        assert query["format"] == ["json"]
        return RECORDED.get(query["q"][0], [])

    def get_text(self, url, *, timeout, headers):
        return json.dumps(self.get_json(url, timeout=timeout, headers=headers))


@pytest.fixture()
def recorded():
    RecordedAdapter.requests = []
    return RecordedAdapter


def test_refused_without_explicit_permission():
    with pytest.raises(InputError, match="sends pupils' addresses"):
        NominatimGeocoder("https://nominatim.openstreetmap.org")


def test_cli_refuses_without_permission(tmp_path):
    students = tmp_path / "s.csv"
    students.write_text("id,address\n1,X Sokak 5\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["geocode", str(students), "--out", str(tmp_path / "o.csv"), "--nominatim-url", "https://example.org"]
    )
    assert result.exit_code == 2
    assert "allow_personal_data_transfer" in result.output


def test_answers_with_precision_and_a_cache(tmp_path, recorded):
    cache = tmp_path / "nominatim.json"
    geocoder = NominatimGeocoder(
        "http://nominatim.internal:8080", allow_personal_data_transfer=True, cache_path=cache,
        min_delay_s=0, adapter_factory=recorded,
    )
    house = geocoder.geocode_parts({"address": "Ulubatlı Hasan Mh. 1203. Sk. No:5", "district": "Haliliye"})
    assert (house.lon, house.lat, house.precision) == (38.804, 37.1652, "house")
    area = geocoder.geocode_text("Ulubatlı Hasan Mh., Haliliye")
    assert area.precision == "neighbourhood" and area.score < 80
    missing = geocoder.geocode_text("Nowhere 1")
    assert missing.precision == "none" and missing.location is None
    assert len(recorded.requests) == 3
    assert recorded.requests[0].startswith("http://nominatim.internal:8080/search?")
    # A second geocoder reads the cache file: nothing is sent again.
    again = NominatimGeocoder(
        "http://nominatim.internal:8080", allow_personal_data_transfer=True, cache_path=cache,
        min_delay_s=0, adapter_factory=recorded,
    )
    assert again.geocode_text("Ulubatlı Hasan Mh. 1203. Sk. No:5, Haliliye") == house
    assert again.geocode_text("Nowhere 1").precision == "none"
    assert len(recorded.requests) == 3


@pytest.mark.parametrize(
    ("raw", "precision"),
    [
        ({"addresstype": "building", "address": {}}, "house"),
        ({"class": "highway", "addresstype": "road"}, "street"),
        ({"addresstype": "suburb"}, "neighbourhood"),
        ({"addresstype": "village"}, "neighbourhood"),
        ({"addresstype": "town"}, "district"),
        ({"class": "boundary", "addresstype": "state"}, "district"),
    ],
)
def test_precision_of_nominatim_answers(raw, precision):
    assert precision_of(raw) == precision
