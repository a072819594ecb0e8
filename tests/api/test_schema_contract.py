"""The schema as integrators get it: JSON request bodies only, and JSON on ?format=json."""

import json

import yaml

from tests.api.test_schema_fuzz import _openapi

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
