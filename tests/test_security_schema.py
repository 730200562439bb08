"""What schemathesis found, each pinned: rules in the schema, the right ``Allow`` on 405, a
documented 400 for malformed JSON, strict integers, GeoJSON typed as JSON.
"""

from __future__ import annotations

import pytest

from schoolbus.service.schemas import GeoJsonFeatureCollection, inline_schema
from security_service import seeded_service


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    with seeded_service(tmp_path_factory, "schema") as s:
        yield s


def test_405_names_every_method_of_the_path(seeded):
    s = seeded
    response = s.client.patch(f"/api/v1/projects/{s.project_id}/files/students", headers=s.headers("olga"))
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "PUT"}
    assert response.json()["code"] == "method_not_allowed"
    response = s.client.delete("/api/v1/auth/token/x")
    assert response.status_code == 404


def test_malformed_json_is_a_documented_400(seeded):
    s = seeded
    response = s.client.post("/api/v1/projects", content=b'{"name": ', headers={**s.headers("olga"), "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
    operation = s.client.get("/openapi.json").json()["paths"]["/api/v1/projects"]["post"]
    assert "400" in operation["responses"] and "413" in operation["responses"]


@pytest.mark.parametrize(
    "body",
    [
        {"scenario_id": "abc", "seed": False},  # a boolean is not a seed
        {"scenario_id": "abc", "seed": True},
        {"scenario_id": "abc", "seed": "3"},  # nor is a string
        {"scenario_id": "abc", "time_limit_s": True},
        {"scenario_id": 1},  # ids are public ids (text), never row numbers
        {"scenario_id": "../../etc"},  # nor paths
    ],
)
def test_job_numbers_are_strict(seeded, body):
    s = seeded
    response = s.client.post("/api/v1/jobs", json=body, headers=s.headers("olga"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"


def test_rules_are_in_the_schema(seeded):
    schemas = seeded.client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["ProjectIn"]["properties"]["name"]["pattern"] == r"\S"
    assert schemas["UserIn"]["properties"]["username"]["pattern"] == "^[a-z0-9._-]+$"
    assert schemas["PasswordIn"]["properties"]["new_password"]["minLength"] == 10
    s = seeded
    assert s.client.post("/api/v1/projects", json={"name": "   "}, headers=s.headers("olga")).json()["code"] == "invalid_request"
    assert s.client.post("/api/v1/users", json={"username": "Büyük Harf", "role": "manager"}, headers=s.headers("admin")).json()["code"] == "invalid_request"


def test_geojson_exports_are_typed_as_json(seeded):
    operation = seeded.client.get("/openapi.json").json()["paths"]["/api/v1/plans/{plan_id}/exports/{name}"]["get"]
    content = operation["responses"]["200"]["content"]
    assert content["application/geo+json"]["schema"] == inline_schema(GeoJsonFeatureCollection)
    assert content["application/geo+json"]["schema"]["properties"]["type"]["const"] == "FeatureCollection"
    s = seeded
    response = s.client.get(f"/api/v1/plans/{s.plan_ids[0]}/exports/routes.geojson", headers=s.headers("olga"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/geo+json")
    assert response.json()["type"] == "FeatureCollection"
    assert GeoJsonFeatureCollection.model_validate(response.json()).features
