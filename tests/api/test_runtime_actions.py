"""Transition actions called on a real local HTTP server: payload, signature, and failures."""

import pytest
from django.conf import settings
from standardwebhooks import Webhook

from tests.conftest import example_seed
from tests.runtime.helpers import footprint, online

pytestmark = pytest.mark.django_db


def _machine_with_actions(server, first="/begin", second="/large"):
    doc = example_seed("design-example")
    doc["smInfo"]["flowCode"] = "with-actions"
    doc["smTransitions"][2]["transitionAction"] = server.url(first)  # S1 -E2-> C1
    doc["smTransitions"][3]["transitionAction"] = server.url(second)  # C1 -> S21
    return online(doc)


def _instance_in_s1(client, amount=500):
    response = client.post(
        "/api/v1/instances/",
        {"flow": "with-actions", "businessKey": "k", "context": {"amount": amount}},
        format="json",
    )
    instance = response.json()["id"]
    client.post(f"/api/v1/instances/{instance}/events/", {"event": "E1"}, format="json")
    return instance


def _fire_e2(client, instance, **body):
    return client.post(
        f"/api/v1/instances/{instance}/events/", {"event": "E2", **body}, format="json"
    )


def test_each_hop_calls_its_action_with_the_payload_and_a_valid_signature(
    business, callback_server
):
    machine = _machine_with_actions(callback_server)
    instance = _instance_in_s1(business)
    response = _fire_e2(business, instance, requestId="req-9", context={"note": "hi"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [p["action"] for p in body["path"]] == [
        {"url": callback_server.url("/begin"), "status": 200},
        {"url": callback_server.url("/large"), "status": 200},
    ]
    first, second = (
        callback_server.requests_to("/begin")[0],
        callback_server.requests_to("/large")[0],
    )
    assert first.json() == {
        "instanceId": instance,
        "businessKey": "k",
        "flow": "with-actions",
        "smId": machine.pk,
        "event": "E2",
        "fromState": "S1",
        "toState": "C1",
        "transitionId": body["path"][0]["transitionId"],
        "context": {"amount": 500, "note": "hi"},
        "requestId": "req-9",
    }
    assert (second.json()["fromState"], second.json()["toState"]) == ("C1", "S21")
    for received in (first, second):
        Webhook(settings.CALLBACK_SECRET).verify(received.body, received.headers)
    assert first.headers["webhook-id"] != second.headers["webhook-id"]


@pytest.mark.parametrize(
    "script, reason",
    [({"status": 500}, "HTTP 500"), ({"delay": 2.0}, "timed out")],
    ids=["http-500", "timeout"],
)
def test_a_failing_action_fails_the_event_and_keeps_nothing(
    business, callback_server, settings, script, reason
):
    settings.CALLBACK_TIMEOUT = 0.5
    _machine_with_actions(callback_server)
    callback_server.respond("/large", **script)
    instance = _instance_in_s1(business)
    before = footprint(instance)

    response = _fire_e2(business, instance, context={"amount": 900})
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "ACTION_FAILED"
    assert reason in body["message"] and body["details"]["url"] == callback_server.url("/large")
    assert footprint(instance) == before
    assert len(callback_server.requests_to("/begin")) == 1  # the first hop's call was made


def test_a_host_off_the_allow_list_fails_the_event_without_a_call(
    business, callback_server, settings
):
    _machine_with_actions(callback_server)
    settings.CALLBACK_ALLOWED_HOSTS = ["biz.example"]
    instance = _instance_in_s1(business)
    before = footprint(instance)
    response = _fire_e2(business, instance)
    assert (response.status_code, response.json()["code"]) == (502, "ACTION_FAILED")
    assert "allow-list" in response.json()["message"]
    assert callback_server.requests == []
    assert footprint(instance) == before


def test_a_redirecting_action_fails_and_the_target_is_not_called(business, callback_server):
    _machine_with_actions(callback_server)
    callback_server.respond("/begin", redirect_to=callback_server.url("/elsewhere"))
    instance = _instance_in_s1(business)
    before = footprint(instance)
    response = _fire_e2(business, instance)
    assert (response.status_code, response.json()["code"]) == (502, "ACTION_FAILED")
    assert callback_server.requests_to("/elsewhere") == []
    assert footprint(instance) == before


def test_the_validator_refuses_metadata_and_link_local_action_urls_even_with_a_star(
    designer, settings
):
    settings.CALLBACK_ALLOWED_HOSTS = ["*"]
    doc = example_seed("audit")
    doc["smTransitions"][0]["transitionAction"] = "http://169.254.169.254/latest/meta-data/"
    doc["smTransitions"][1]["transitionAction"] = "http://[fe80::1]/hook"
    designer.post("/api/v1/flows/", {"code": "audit", "name": "a"}, format="json")
    sm_id = designer.post("/api/v1/machines/", doc, format="json").json()["smInfo"]["smId"]

    report = designer.post(f"/api/v1/machines/{sm_id}/validate").json()

    codes = [(p["code"], p["where"]["transition"]) for p in report["errors"]]
    assert codes == [("ACTION_URL_INVALID", 0), ("ACTION_URL_INVALID", 1)]
    assert designer.post(f"/api/v1/machines/{sm_id}/publish").status_code == 400
