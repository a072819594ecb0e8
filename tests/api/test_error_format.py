"""Errors outside the views keep the API's format: unmatched URLs, unexpected errors, the schema."""

from django.test import RequestFactory

from config.exceptions import server_error
from tests.api.test_schema_fuzz import _openapi


def test_an_api_url_no_route_matches_answers_not_found_as_json(business):
    response = business.get("/api/v1/events/null,null/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "NOT_FOUND",
        "message": "No API route for /api/v1/events/null,null/.",
        "details": {},
    }


def test_a_page_outside_the_api_stays_a_page(anonymous):
    response = anonymous.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_unexpected_error_under_the_api_answers_json():
    response = server_error(RequestFactory().post("/api/v1/instances/1/events/"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert b'"code": "SERVER_ERROR"' in response.content


def test_an_unexpected_error_outside_the_api_answers_a_page():
    response = server_error(RequestFactory().get("/admin/"))

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_the_schema_documents_the_error_answers_of_each_operation():
    paths = _openapi()["paths"]
    read = paths["/api/v1/instances/{instance_id}/"]["get"]["responses"]
    fire = paths["/api/v1/instances/{instance_id}/events/"]["post"]["responses"]
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

    assert {"200", "400", "401", "403", "404", "429", "503"} <= set(read)
    assert "409" not in read
    assert {"200", "202", "409", "415", "422", "502"} <= set(fire)
    assert fire["409"]["content"] == error
    assert "INSTANCE_BUSY" in fire["409"]["description"]
