"""The schema as integrators get it: JSON request bodies only, and JSON on ?format=json."""

import json

import pytest
import yaml

from tests.api.test_schema_fuzz import _openapi
from tests.conftest import without_ids

METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def _request_bodies(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS and "requestBody" in operation:
                yield f"{method.upper()} {path}", operation["requestBody"]


def test_every_request_body_in_the_schema_is_json_only():
    bodies = dict(_request_bodies(_openapi()))

    assert len(bodies) >= 5  # the schema was read, and has bodies to check
    not_json = {
        op: list(body["content"])
        for op, body in bodies.items()
        if set(body["content"]) != {"application/json"}
    }
    assert not_json == {}


def test_a_form_encoded_body_is_415_in_the_error_format(business):
    response = business.post(
        "/api/v1/instances/",
        "flow=design-example&businessKey=form-1",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "VALIDATION_ERROR",
        "message": 'Unsupported media type "application/x-www-form-urlencoded" in request.',
        "details": {},
    }


def test_a_multipart_body_is_415_in_the_error_format(designer):
    response = designer.post("/api/v1/flows/", {"code": "form-flow"}, format="multipart")

    assert response.status_code == 415
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["message"].startswith('Unsupported media type "multipart/form-data')
    assert body["details"] == {}


def test_the_schema_is_json_with_format_json(anonymous):
    response = anonymous.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "application/json"
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/instances/" in schema["paths"]
    assert not [path for path in schema["paths"] if not path.startswith("/api/v1/")]


def test_the_schema_is_yaml_by_default_and_with_format_yaml(anonymous):
    for url in ("/api/schema/", "/api/schema/?format=yaml"):
        response = anonymous.get(url)

        assert response.status_code == 200, url
        assert response["Content-Type"].split(";")[0] == "application/vnd.oai.openapi", url
        schema = yaml.safe_load(response.content)
        assert "/api/v1/instances/" in schema["paths"], url


def test_the_schema_still_follows_the_accept_header(anonymous):
    response = anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response["Content-Type"].split(";")[0] == "application/vnd.oai.openapi+json"
    assert "/api/v1/instances/" in json.loads(response.content)["paths"]


def test_a_schema_format_it_does_not_have_is_an_error_in_the_error_format(anonymous):
    unknown = anonymous.get("/api/schema/?format=xml")
    unacceptable = anonymous.get("/api/schema/", HTTP_ACCEPT="text/csv")

    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
    assert (unacceptable.status_code, unacceptable.json()["code"]) == (406, "VALIDATION_ERROR")


def test_the_docs_pages_load_their_scripts_from_this_server(anonymous):
    for url, script in (
        ("/api/docs/", "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/api/redoc/", "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
    ):
        response = anonymous.get(url)

        assert response.status_code == 200, url
        page = response.content.decode()
        assert script in page, url
        assert "http://" not in page and "https://" not in page, url


# Answers typed down to the fields ----------------------------------------------------------

# The only values the schema leaves open: business data and what an expression read.
FREE_FORM = {
    "InstanceOutput.context",
    "Simulation.context",
    "ScenarioStep.context",  # a saved step's context: the business data an event carries
    "Error.details",
    "ConditionCheck.names",
    "ConditionCheck.value",
}


def _open_values(schema):
    """Every place in an answer's schema that says nothing about its value (Name.field)."""
    components = schema["components"]["schemas"]
    found, seen = set(), set()

    def walk(node, where):
        if "$ref" in node:
            name = node["$ref"].rpartition("/")[2]
            if name not in seen:
                seen.add(name)
                walk(components[name], name)
            return
        for variant in node.get("allOf", []) + node.get("oneOf", []):
            walk(variant, where)
        kind = node.get("type")
        if kind is None and not {"allOf", "oneOf", "anyOf", "enum"} & set(node):
            found.add(where)
        elif kind == "array":
            walk(node.get("items", {}), where)
        elif kind == "object":
            for field, value in node.get("properties", {}).items():
                walk(value, f"{where}.{field}")
            extra = node.get("additionalProperties")
            if "properties" not in node and extra in (None, True, {}):
                found.add(where)
            elif isinstance(extra, dict) and extra:
                walk(extra, where)

    for item in schema["paths"].values():
        for method, operation in item.items():
            for answer in operation.get("responses", {}).values() if method in METHODS else ():
                for content in answer.get("content", {}).values():
                    walk(content["schema"], "")
    return found


def test_every_answer_is_typed_down_to_its_fields():
    assert _open_values(_openapi()) == FREE_FORM


def test_integer_enums_name_their_values_for_generated_clients():
    components = _openapi()["components"]["schemas"]

    status = components["MachineStatusEnum"]
    assert list(zip(status["enum"], status["x-enum-varnames"], strict=True)) == [
        (1, "TESTING"),
        (2, "PUBLISHED"),
        (3, "ONLINE"),
        (4, "DISABLED"),
    ]
    assert components["StateTypeEnum"]["x-enum-varnames"] == ["NORMAL", "CHOICE"]
    assert components["YesNoEnum"]["x-enum-varnames"] == ["YES", "NO"]
    assert "NullEnum" not in components


def test_operations_are_named_for_what_they_do():
    operations = {
        operation["operationId"]
        for item in _openapi()["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    }

    assert {"instance_event_fire", "machine_get", "machine_replace", "machine_publish"} <= (
        operations
    )
    assert not [name for name in operations if name.startswith("v1_")]


def test_version_is_a_string_in_every_answer_and_taken_as_one(designer, seed, flow):
    schema = _openapi()["components"]["schemas"]
    assert schema["MachineInfo"]["properties"]["version"]["type"] == "string"
    assert schema["InfoIn"]["properties"]["version"]["type"] == "string"
    doc = without_ids(seed())
    doc["smInfo"]["version"] = "7"

    created = designer.post("/api/v1/machines/", doc, format="json")

    assert created.status_code == 201
    assert created.json()["smInfo"]["version"] == "7"
    for bad in ("seven", "0", "-1", "1.5", "٣"):
        doc["smInfo"]["version"] = bad
        refused = designer.post("/api/v1/machines/", doc, format="json")
        assert refused.status_code == 400, bad
        assert refused.json()["details"]["problems"][0]["path"] == "smInfo.version", bad


def test_an_answer_the_schema_does_not_describe_fails_the_api_tests(designer, seed, flow):
    from schemathesis.openapi.checks import JsonSchemaError

    from tests.schema_check import check_answer

    response = designer.post("/api/v1/machines/", without_ids(seed()), format="json")
    assert response.status_code == 201
    check_answer("POST", response)  # as it is: described
    answer = response.json()
    answer["smInfo"]["version"] = 1  # a number where the schema says a string
    response.content = json.dumps(answer).encode()

    with pytest.raises(JsonSchemaError, match='1 is not of type "string"'):
        check_answer("POST", response)
