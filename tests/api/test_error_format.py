"""Every error under /api/ is in the API's format: views, Django's own 400/403/404/500, CSRF."""

import json

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.middleware.csrf import CsrfViewMiddleware
from django.test import Client, RequestFactory

from config.exceptions import permission_denied, server_error
from machines.models import Flow, Machine
from runtime.models import EventRecord
from tests.api.test_schema_fuzz import _openapi
from tests.conftest import example_seed, without_ids
from tests.runtime.helpers import online


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


# Every 4xx the API answers in process, in the error format ----------------------------------


def _online_with_a_guard_that_raises():
    doc = example_seed("design-example")
    doc["smTransitions"][0]["guardCondition"] = "ctx.amount > 1"  # no amount: the guard raises
    return online(doc)


def _too_many_fields():
    return "/api/v1/flows/?" + "&".join(f"f{n}=1" for n in range(1_001))


def _case(status, code, method, path, body=None, who="designer", **extra):
    return dict(status=status, code=code, who=who, method=method, path=path, body=body, extra=extra)


EVENTS = "/api/v1/instances/{instance}/events/"
FOUR_XX = {
    "bad body": _case(400, "VALIDATION_ERROR", "post", "/api/v1/flows/", {"code": "a b"}),
    "not JSON": _case(
        400, "VALIDATION_ERROR", "post", "/api/v1/flows/", "{", content_type="application/json"
    ),
    "NUL in a query": _case(400, "VALIDATION_ERROR", "get", "/api/v1/subscriptions/?flow=%00"),
    "too many query fields": _case(400, "VALIDATION_ERROR", "get", _too_many_fields()),
    "a host not served": _case(
        400, "VALIDATION_ERROR", "get", "/api/v1/flows/", HTTP_HOST="evil.example"
    ),
    "no token": _case(401, "NOT_AUTHENTICATED", "get", "/api/v1/flows/", who="anonymous"),
    "not a designer": _case(403, "PERMISSION_DENIED", "get", "/api/v1/flows/", who="business"),
    "a role not its own": _case(
        403, "ROLE_FORBIDDEN", "post", EVENTS, {"event": "E1", "role": 2}, who="business"
    ),
    "no route": _case(404, "NOT_FOUND", "get", "/api/v1/nothing-here/"),
    "no such row": _case(404, "NOT_FOUND", "get", "/api/v1/instances/999999/"),
    "method": _case(405, "METHOD_NOT_ALLOWED", "delete", "/api/v1/flows/"),
    "Accept": _case(406, "VALIDATION_ERROR", "get", "/api/v1/flows/", HTTP_ACCEPT="text/csv"),
    "no transition": _case(409, "NO_TRANSITION", "post", EVENTS, {"event": "E4"}),
    "If-Match": _case(
        412, "MACHINE_CHANGED", "put", "/api/v1/machines/{draft}/", "{seed}", HTTP_IF_MATCH='"7"'
    ),
    "media type": _case(
        415, "VALIDATION_ERROR", "post", "/api/v1/flows/", "code=x", content_type="text/plain"
    ),
    "a guard that raises": _case(
        422,
        "EXPRESSION_ERROR",
        "post",
        "/api/v1/flows/design-example/fire",
        {"state": "START", "event": "E1"},
    ),
}


@pytest.fixture
def world(db):
    from machines.services import machine_new_version
    from runtime.services import instance_create

    machine = _online_with_a_guard_that_raises()
    draft = machine_new_version(machine=machine)
    instance = instance_create(flow_code="design-example", business_key="e-1")
    return {"instance": instance.pk, "draft": draft.pk}


def _request(client, case, world):
    path, body, extra = case["path"].format(**world), case["body"], case["extra"]
    if body == "{seed}":
        body = without_ids(example_seed("design-example"))
    if isinstance(body, str):
        return getattr(client, case["method"])(path, body, **extra)
    return getattr(client, case["method"])(path, body, format="json", **extra)


def _assert_error_format(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)


@pytest.mark.parametrize("case", FOUR_XX.values(), ids=FOUR_XX.keys())
def test_every_4xx_the_api_answers_in_process_is_in_the_error_format(request, world, case):
    client = request.getfixturevalue(case["who"])
    before = EventRecord.objects.count(), Machine.objects.count(), Flow.objects.count()

    response = _request(client, case, world)

    _assert_error_format(response, case["status"], case["code"])
    assert (EventRecord.objects.count(), Machine.objects.count(), Flow.objects.count()) == before


def test_a_client_over_its_rate_gets_429_in_the_error_format(business, settings):
    settings.API_THROTTLE_RATE = "1/minute"
    business.get("/api/v1/instances/")

    _assert_error_format(business.get("/api/v1/instances/"), 429, "THROTTLED")


def test_the_list_of_4xx_covers_every_status_the_api_documents():
    documented = {
        int(status)
        for operation in _operations(_openapi())
        for status in operation["responses"]
        if status.startswith("4")
    }
    tested = {case["status"] for case in FOUR_XX.values()} | {429}

    assert documented <= tested


def _operations(openapi):
    for methods in openapi["paths"].values():
        yield from (op for method, op in methods.items() if method != "parameters")


def test_a_csrf_failure_under_the_api_answers_the_error_format():
    request = RequestFactory().post("/api/v1/flows/")
    middleware = CsrfViewMiddleware(lambda request: None)

    response = middleware.process_view(request, lambda request: None, (), {})

    _assert_error_format(response, 403, "PERMISSION_DENIED")
    assert "CSRF" in json.loads(response.content)["message"]


def test_a_csrf_failure_outside_the_api_stays_djangos_page(client):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/admin/login/", {"username": "u", "password": "p"})

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_a_permission_error_django_raises_under_the_api_answers_json():
    response = permission_denied(RequestFactory().get("/api/v1/flows/"), PermissionDenied())

    _assert_error_format(response, 403, "PERMISSION_DENIED")


def test_a_bad_host_outside_the_api_stays_a_page(anonymous):
    response = anonymous.get("/admin/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_django_answers_through_the_api_handlers():
    from config import urls

    assert (urls.handler400, urls.handler403) == (
        "config.exceptions.bad_request",
        "config.exceptions.permission_denied",
    )
    assert settings.CSRF_FAILURE_VIEW == "config.exceptions.csrf_failure"
