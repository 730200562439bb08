"""The service's HTTP contract is typed, and no module reaches into another's private names.

* Every JSON response of the API (``application/json`` or ``…+json``) has a typed schema in
  OpenAPI: a model, a list of models, or a map of typed values; never ``{}`` or a free-form object.
* The documents served as files are what their schemas say (GeoJSON exports, ``scenario.json``).
* ``from x import _name`` (or ``x._name``) across modules of ``src/`` is refused, but for the few
  listed below, each waiting on the engineer who owns that code.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from fixtures_plan import make_plan
from schoolbus.outputs.export import routes_geojson, stops_geojson
from schoolbus.planfile import scenario_to_dict
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig
from schoolbus.service.schemas import GeoJsonFeatureCollection, ScenarioDocument

SRC = Path(__file__).resolve().parents[1] / "src"

PRIVATE_IMPORTS_PENDING: set[tuple[str, str]] = set()
"""Private imports across modules that other work in progress removes: this list only shrinks."""


# --------------------------------------------------------------------------------------------------
# OpenAPI: every JSON response typed
# --------------------------------------------------------------------------------------------------


def untyped(schema: dict, components: dict, where: str) -> list[str]:
    """Why ``schema`` (a response body's) is not a typed contract; empty when it is."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = components.get(name)
        if target is None:
            return [f"{where}: $ref to a missing schema {name}"]
        return untyped(target, components, f"{where} → {name}")
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            return [p for i, option in enumerate(schema[union]) for p in untyped(option, components, f"{where}[{i}]")]
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        return [f"{where}: an array without typed items"] if not items else untyped(items, components, f"{where}[]")
    if kind == "object":
        if schema.get("properties"):
            return []
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and values:
            return untyped(values, components, f"{where}{{}}")
        return [f"{where}: a free-form object"]
    if kind in ("string", "integer", "number", "boolean", "null"):
        return []
    return [f"{where}: no type ({schema or '{}'})"]


def json_response_problems(spec: dict) -> list[str]:
    """Every JSON response of ``spec`` without a typed schema, as ``METHOD path status: why``."""
    components = spec.get("components", {}).get("schemas", {})
    problems = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                for media_type, content in response.get("content", {}).items():
                    if media_type == "application/json" or media_type.endswith("+json"):
                        where = f"{method.upper()} {path} {status} {media_type}"
                        problems += untyped(content.get("schema", {}), components, where)
    return problems


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("contract")
    return create_app(ServiceConfig(data_dir=data, database_url=f"sqlite:///{data / 'service.db'}"))


def test_every_json_response_has_a_typed_schema(app):
    spec = app.openapi()
    assert json_response_problems(spec) == []
    plan = spec["paths"]["/api/v1/plans/{plan_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert {o["$ref"].rsplit("/", 1)[-1] for o in plan["schema"]["anyOf"]} == {"PlanDocument", "ManagerPlanDocument"}


def test_every_api_route_documents_its_success(app):
    """A route answering with a bare Response must still say what it sends (no empty 2xx)."""
    spec = app.openapi()
    missing = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods:
            responses = spec["paths"][route.path_format][method.lower()]["responses"]
            for status, response in responses.items():
                if status.startswith("2") and status != "204" and not response.get("content"):
                    missing.append(f"{method} {route.path_format} {status}")
        assert route.response_model is not dict, route.path_format
    assert missing == []


@pytest.mark.parametrize(
    "schema, why",
    [
        ({}, "no type"),  # what a route without a response model gets
        ({"type": "object", "additionalProperties": True}, "free-form"),  # response_model=dict
        ({"type": "object"}, "free-form"),  # the old GeoJSON schema
        ({"type": "array", "items": {}}, "without typed items"),  # list[Any]
        ({"anyOf": [{"$ref": "#/components/schemas/A"}, {}]}, "no type"),  # one untyped option
        ({"$ref": "#/components/schemas/Missing"}, "missing"),
    ],
)
def test_the_check_finds_untyped_schemas(schema, why):
    components = {"A": {"type": "object", "properties": {"id": {"type": "string"}}}}
    spec = {"paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {"schema": schema}}}}}}},
            "components": {"schemas": components}}
    problems = json_response_problems(spec)
    assert len(problems) == 1 and why in problems[0]


def test_typed_maps_and_models_pass_the_check():
    components = {"A": {"type": "object", "properties": {"id": {"type": "string"}}}}
    for schema in (
        {"$ref": "#/components/schemas/A"},
        {"type": "array", "items": {"$ref": "#/components/schemas/A"}},
        {"type": "object", "additionalProperties": {"type": "string"}},
    ):
        spec = {"paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {"schema": schema}}}}}}},
                "components": {"schemas": components}}
        assert json_response_problems(spec) == []


def test_documents_served_as_files_match_their_schemas():
    plan = make_plan()
    for collection in (routes_geojson(plan), stops_geojson(plan)):
        assert GeoJsonFeatureCollection.model_validate(collection).features
    document = scenario_to_dict(plan.scenario)
    parsed = ScenarioDocument.model_validate(document)
    assert set(ScenarioDocument.model_fields) == set(document)
    assert len(parsed.students) == len(plan.scenario.students)


# --------------------------------------------------------------------------------------------------
# No private names across modules
# --------------------------------------------------------------------------------------------------


def module_of(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(path: Path) -> set[tuple[str, str]]:
    """``(file, module.name)`` for every private name of another schoolbus module that ``path`` uses.

    Both ``from schoolbus.x import _name`` and ``x._name`` after ``from schoolbus import x`` (or
    ``import schoolbus.x as x``) count; relative imports are resolved.
    """
    me = module_of(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, modules = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([source] if source else []))
            if not source.startswith("schoolbus") or source == me:
                continue
            for alias in node.names:
                if is_private(alias.name):
                    found.add((source, alias.name))
                elif is_module(f"{source}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            modules |= {a.asname: a.name for a in node.names if a.asname and a.name.startswith("schoolbus")}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and is_private(node.attr):
            source = modules.get(node.value.id)
            if source is not None and source != me:
                found.add((source, node.attr))
    file = path.relative_to(SRC).as_posix()
    return {(file, f"{source}.{name}") for source, name in found}


def test_no_private_names_cross_modules():
    found = set().union(*(private_imports(p) for p in sorted(SRC.rglob("*.py"))))
    assert sorted(found - PRIVATE_IMPORTS_PENDING) == [], "import a public name (or make it one)"
    assert sorted(PRIVATE_IMPORTS_PENDING - found) == [], "done: take these off PRIVATE_IMPORTS_PENDING"


def test_the_private_import_check_sees_both_forms(tmp_path, monkeypatch):
    package = tmp_path / "schoolbus_probe"
    monkeypatch.setattr(__import__(__name__), "SRC", tmp_path)
    package.mkdir()
    (package / "__init__.py").write_text("")
    probe = package / "probe.py"
    probe.write_text(
        "from schoolbus.planfile import _Reader, read_plan\n"
        "from schoolbus import planfile\n"
        "from schoolbus.service import privacy as p\n"
        "x = planfile._MISSING\n"
        "y = p.redacted_plan\n"
    )
    assert private_imports(probe) == {
        ("schoolbus_probe/probe.py", "schoolbus.planfile._Reader"),
        ("schoolbus_probe/probe.py", "schoolbus.planfile._MISSING"),
    }


# --------------------------------------------------------------------------------------------------
# What the service sends is what its OpenAPI document says
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    from security_service import seeded_service

    with seeded_service(tmp_path_factory, "contract-seeded") as s:
        yield s


def test_answers_match_the_openapi_schemas(seeded):
    """Officer's and manager's plan documents, versions, diffs, comparison, scenario.json, GeoJSON."""
    import jsonschema

    s = seeded
    a, b = s.plan_ids
    spec = s.client.get("/openapi.json").json()
    cases = [
        ("olga", "/api/v1/plans/{plan_id}", f"/api/v1/plans/{a}"),
        ("mert", "/api/v1/plans/{plan_id}", f"/api/v1/plans/{a}"),
        ("admin", "/api/v1/plans/{plan_id}", f"/api/v1/plans/{a}"),
        ("olga", "/api/v1/plans", "/api/v1/plans"),
        ("cem", "/api/v1/plans", "/api/v1/plans"),
        ("olga", "/api/v1/plans/{plan_id}/version", f"/api/v1/plans/{a}/version"),
        ("mert", "/api/v1/projects/{project_id}/versions", f"/api/v1/projects/{s.project_id}/versions"),
        ("olga", "/api/v1/plans/{plan_a}/diff/{plan_b}", f"/api/v1/plans/{a}/diff/{b}"),
        ("mert", "/api/v1/plans/{plan_a}/diff/{plan_b}", f"/api/v1/plans/{a}/diff/{b}"),
        ("mert", "/api/v1/comparisons", f"/api/v1/comparisons?plan_id={a}&plan_id={b}"),
        ("olga", "/api/v1/scenarios/{scenario_id}/scenario.json", f"/api/v1/scenarios/{s.scenario_id}/scenario.json"),
        ("olga", "/api/v1/plans/{plan_id}/exports/{name}", f"/api/v1/plans/{a}/exports/routes.geojson"),
        ("olga", "/api/v1/plans/{plan_id}/exports/{name}", f"/api/v1/plans/{a}/exports/stops.geojson"),
    ]
    kinds = set()
    for username, template, url in cases:
        response = s.client.get(url, headers=s.headers(username))
        assert response.status_code == 200, (username, url, response.text[:200])
        media_type = response.headers["content-type"].split(";")[0]
        schema = spec["paths"][template]["get"]["responses"]["200"]["content"][media_type]["schema"]
        jsonschema.validate(response.json(), {**schema, "components": spec["components"]})
        body = response.json()
        if template == "/api/v1/plans/{plan_id}":
            kinds.add(body.get("redacted_for", "full"))
    assert kinds == {"full", "manager"}


def test_a_plan_stored_in_an_older_format_is_served_in_this_one(seeded):
    """A 1.1 plan.json (no reason codes) in the store: officers get this version's typed document."""
    import json

    from sqlalchemy import select

    from schoolbus.planfile import FORMAT_VERSION
    from schoolbus.service.db import PlanRecord

    s = seeded
    with s.app.state.sessions.begin() as session:
        stored = session.scalar(select(PlanRecord).where(PlanRecord.public_id == s.plan_ids[1]))
        document = json.loads(stored.document)
        document["format_version"] = "1.1"
        for student in document["students"]:
            student.pop("reason_code")
        old = PlanRecord(project_id=stored.project_id, scenario_id=stored.scenario_id, name="1.1", document=json.dumps(document))
        session.add(old)
        session.flush()
        old_id = old.public_id
    served = s.client.get(f"/api/v1/plans/{old_id}", headers=s.headers("olga"))
    assert served.status_code == 200
    body = served.json()
    assert body["format_version"] == FORMAT_VERSION
    unserved = [x for x in body["students"] if x["status"] == "unserved"]
    # Words without a code read as the TEXT code, as read_plan reads them.
    assert unserved and all(x["reason_code"]["code"] == "text" for x in unserved)


def test_the_plan_schema_names_every_network_source_kind():
    import typing

    from schoolbus.planfile import SOURCE_KINDS
    from schoolbus.service.schemas import SourceKind

    assert typing.get_args(SourceKind) == SOURCE_KINDS


def test_officers_get_plan_json_as_stored(seeded):
    """The typed document changes nothing of the contract: the same keys and values as plan.json."""
    import json

    from schoolbus.planfile import NetworkSource, plan_to_dict
    from security_service import SERVER_PATH

    s = seeded
    stored = plan_to_dict(make_plan(), NetworkSource(kind="osm", value=SERVER_PATH, sha256="0" * 64))
    served = s.client.get(f"/api/v1/plans/{s.plan_ids[0]}", headers=s.headers("olga")).json()
    assert served == json.loads(json.dumps(stored))
