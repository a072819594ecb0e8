"""Subscribers: one signed notification per applied event, for the state the instance rests in.

Choice states are virtual: an event passes through them on its way to a normal state, so
they appear in the notification's path and nobody is notified of them on their own. A
subscription naming one is refused.
"""

import pytest
from django.conf import settings
from standardwebhooks import Webhook

from machines.models import Flow
from runtime.models import Delivery, Subscription
from runtime.services import instance_create
from tests.api.test_schema_fuzz import _openapi
from tests.conftest import example_seed
from tests.runtime.helpers import online
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _subscribe(client, url: str, **body):
    return client.post(
        "/api/v1/subscriptions/", {"flow": "design-example", "url": url, **body}, format="json"
    )


def _fire(client, instance, event: str) -> dict:
    response = client.post(f"/api/v1/instances/{instance.pk}/events/", {"event": event})
    assert response.status_code == 200, response.content
    return response.json()


def _received(callback_server, path: str, count: int) -> list[dict]:
    """The first `count` notifications to `path`, each verified as a receiver would."""
    wait_for(lambda: len(callback_server.requests_to(path)) >= count)
    requests = callback_server.requests_to(path)
    webhook = Webhook(settings.CALLBACK_SECRET)
    return [webhook.verify(r.body, r.headers) for r in requests]


def test_an_event_through_a_choice_state_is_one_notification_with_its_whole_path(
    business, worker, callback_server
):
    online(example_seed("design-example"))
    instance = instance_create(flow_code="design-example", business_key="k", context={"amount": 5})
    assert _subscribe(business, callback_server.url("/all")).status_code == 201
    _fire(business, instance, "E1")
    answer = _fire(business, instance, "E2")  # S1 -> choice C1 -> S22 (amount < 100)

    first, second = _received(callback_server, "/all", 2)
    wait_for(lambda: Delivery.objects.filter(status="delivered").count() == 2)
    assert Delivery.objects.count() == 2  # none for C1, where nobody rests
    assert (first["event"], first["state"]) == ("E1", "S1")
    assert {k: second[k] for k in ("event", "eventId", "fromState", "toState", "state")} == {
        "event": "E2", "eventId": answer["eventId"], "fromState": "S1", "toState": "S22",
        "state": "S22",
    }  # fmt: skip
    assert [(h["fromState"], h["toState"], h["event"]) for h in second["path"]] == [
        ("S1", "C1", "E2"), ("C1", "S22", None),
    ]  # fmt: skip
    assert second["path"] == [{k: hop[k] for k in second["path"][0]} for hop in answer["path"]]
    for payload in (first, second):  # as the OpenAPI schema describes them to integrators
        assert _problems(payload, {"$ref": "#/components/schemas/SubscriberNotification"}) == []


def _problems(value, schema: dict, where: str = "") -> list[str]:
    """Where `value` departs from an OpenAPI schema (the types the schema of this API uses)."""
    if "$ref" in schema:
        schema = _openapi()["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null"]
    if "allOf" in schema:  # a described or nullable reference: [{"$ref": ...}]
        return [p for part in schema["allOf"] for p in _problems(value, part, where)]
    if "type" not in schema:  # any JSON value
        return []
    if "enum" in schema:
        return [] if value in schema["enum"] else [f"{where}: {value!r} not in the enum"]
    kinds = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}
    if not isinstance(value, kinds[schema["type"]]):
        return [f"{where}: not {schema['type']}"]
    if schema["type"] == "array":
        return [
            p for n, v in enumerate(value) for p in _problems(v, schema["items"], f"{where}[{n}]")
        ]
    if schema["type"] != "object":
        return []
    if "properties" not in schema:  # free-form: an error's details
        return []
    fields = schema["properties"]
    problems = [f"{where}.{k}: not in the schema" for k in value.keys() - fields.keys()]
    problems += [f"{where}.{k}: missing" for k in schema.get("required", []) if k not in value]
    return problems + [p for k in value.keys() & fields.keys()
                       for p in _problems(value[k], fields[k], f"{where}.{k}")]  # fmt: skip


def test_a_notifications_path_is_the_instances_history_of_that_event(
    business, worker, callback_server
):
    online(example_seed("design-example"))
    instance = instance_create(
        flow_code="design-example", business_key="k", context={"amount": 150}
    )
    assert _subscribe(business, callback_server.url("/s3"), states=["S3"]).status_code == 201
    for event in ("E1", "E2", "E3", "E4", "E4"):
        _fire(business, instance, event)

    # E3 into S3, then each E4 goes S3 -> choice C2 -> back to S3 (fewer than three E4 yet).
    notifications = _received(callback_server, "/s3", 3)
    assert [n["event"] for n in notifications] == ["E3", "E4", "E4"]
    history = business.get(f"/api/v1/instances/{instance.pk}/history/").json()
    hops = [(h["event"], h["fromState"], h["toState"], h["transitionId"]) for h in history]
    last_path = [(h["event"], h["fromState"], h["toState"], h["transitionId"])
                 for h in notifications[-1]["path"]]  # fmt: skip
    assert hops[-2:] == last_path == [
        ("E4", "S3", "C2", last_path[0][3]), (None, "C2", "S3", last_path[1][3]),
    ]  # fmt: skip


def test_a_subscription_naming_a_choice_state_is_refused_with_each_one_named(business):
    online(example_seed("design-example"))
    response = _subscribe(business, "http://localhost/x", states=["S1", "C1", "S4", "C2"])

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"]["problems"] == [
        {"path": "states[1]", "message": body["details"]["problems"][0]["message"]},
        {"path": "states[3]", "message": body["details"]["problems"][0]["message"]},
    ]
    assert "choice state" in body["message"] and "'C1', 'C2'" in body["message"]
    assert not Subscription.objects.exists()
    assert not Flow.objects.get(code="design-example").has_subscribers


def test_a_state_that_is_normal_in_another_version_of_the_flow_may_be_watched(business, designer):
    online(example_seed("design-example"))
    doc = example_seed("design-example")
    for state in doc["smStates"]:
        if state["stateValue"] == "C1":
            state["stateType"] = 1  # a later draft where C1 is a normal state
    doc["smTransitions"] = [t for t in doc["smTransitions"] if t["sourceState"] != "C1"]
    created = designer.post("/api/v1/machines/", doc, format="json")
    assert created.status_code == 201, created.content

    response = _subscribe(business, "http://localhost/x", states=["C1"])
    assert response.status_code == 201, response.content
    assert response.json()["states"] == ["C1"] and response.json()["active"] is True
