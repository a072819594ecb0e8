"""docs/webhooks.md shows what the platform really sends, and its verification snippet works.

One scenario with a real worker and a real receiver (tests/callback_server.py) makes every
kind of call: a transition action, a subscriber notification through a choice state, an async
event's result when done and when failed. Each JSON example of the page that follows a
`<!-- payload: NAME -->` line must equal the call of that name, but for the values that
differ from run to run (ids, times, URLs); the `<!-- answer: ... -->` example is the API's
answer to the same request. The ```python block after `<!-- verify -->` is run as a receiver
would run it, on a real notification.

The enter action and error target examples (after `<!-- enter-payload: NAME -->`) are the
outbox rows the platform writes in the same cases, ids and times aside; the workers send
those rows as they are (tests/runtime/test_enter_actions.py checks the calls, signed).
"""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings

from runtime import async_events
from runtime.models import Delivery, EventRecord, Subscription
from runtime.services import instance_create, instance_event_fire
from tests.conftest import example_seed
from tests.runtime.extensions import extended_online
from tests.runtime.helpers import online
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
PAYLOAD = re.compile(r"<!-- payload: ([\w-]+) -->\n```json\n(.*?)\n```", re.S)
ENTER_PAYLOAD = re.compile(r"<!-- enter-payload: ([\w-]+) -->\n```json\n(.*?)\n```", re.S)
ANSWER = re.compile(r"<!-- answer: ([\w-]+) -->\n```json\n(.*?)\n```", re.S)
VERIFY = re.compile(r"<!-- verify -->\n```python\n(.*?)\n```", re.S)
# Values that change from run to run; the examples show plausible ones.
VARYING = {"instanceId", "eventId", "subscriptionId", "smId", "transitionId", "at", "url"}


def _examples() -> dict[str, dict]:
    return {name: json.loads(body) for name, body in PAYLOAD.findall(DOC.read_text())}


def _same_shape(value):
    """`value` with the varying values blanked out, so two runs compare equal."""
    if isinstance(value, dict):
        return {k: "…" if k in VARYING else _same_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_same_shape(v) for v in value]
    return value


def _machine(callback_server):
    doc = example_seed("design-example")
    for transition in doc["smTransitions"]:
        if (transition["sourceState"], transition["eventValue"]) == ("START", "E1"):
            transition["transitionAction"] = callback_server.url("/hooks/reserve-stock")
        if (transition["sourceState"], transition["eventValue"]) == ("S21", "E3"):
            transition["transitionAction"] = callback_server.url("/hooks/ship")
    online(doc)


def _fire(client, instance, body: dict, status: int = 200) -> dict:
    response = client.post(f"/api/v1/instances/{instance.pk}/events/", body, format="json")
    assert response.status_code == status, response.content
    return response.json()


@pytest.fixture
def sent(business, worker, callback_server) -> dict:
    """Every kind of call the platform makes, as the receiver got them (body and headers)."""
    _machine(callback_server)
    callback_server.respond("/hooks/ship", status=503)  # the shipping service is down
    instance = instance_create(
        flow_code="design-example", business_key="order-42", context={"amount": 150}
    )
    hook = callback_server.url("/hooks/orders")
    subscribed = business.post(
        "/api/v1/subscriptions/",
        {"flow": "design-example", "url": hook, "states": ["S21"]},
        format="json",
    )
    assert subscribed.status_code == 201
    result_url = callback_server.url("/hooks/results")

    _fire(business, instance, {"event": "E1", "requestId": "order-42-e1", "context": {"n": 1}})
    done = _fire(business, instance, {"event": "E2", "requestId": "order-42-e2", "async": True,
                 "callbackUrl": result_url}, 202)  # fmt: skip
    wait_for(lambda: EventRecord.objects.get(pk=done["eventId"]).status == "done")
    failed = _fire(business, instance, {"event": "E3", "requestId": "order-42-e3", "async": True,
                   "callbackUrl": result_url}, 202)  # fmt: skip
    wait_for(lambda: EventRecord.objects.get(pk=failed["eventId"]).status == "failed", timeout=30)
    wait_for(lambda: len(callback_server.requests_to("/hooks/results")) == 2)
    wait_for(lambda: callback_server.requests_to("/hooks/orders"))
    action = callback_server.requests_to("/hooks/reserve-stock")
    notified = callback_server.requests_to("/hooks/orders")
    results = callback_server.requests_to("/hooks/results")
    assert len(action) == 1 and len(notified) == 1
    return {
        "action": action[0],
        "notification": notified[0],
        "result-done": results[0],
        "result-failed": results[1],
        "subscription": Subscription.objects.get(),
    }


def test_every_payload_example_of_the_page_is_what_the_platform_sends(sent):
    examples = _examples()
    assert set(examples) == {"action", "notification", "result-done", "result-failed"}
    for name, example in examples.items():
        assert _same_shape(example) == _same_shape(sent[name].json()), name


@pytest.mark.django_db
def test_the_pages_refusal_of_a_choice_state_is_the_apis(business):
    online(example_seed("design-example"))
    (example,) = [json.loads(body) for name, body in ANSWER.findall(DOC.read_text())]
    body = {"flow": "design-example", "url": "http://localhost/hooks", "states": ["C1"]}

    refused = business.post("/api/v1/subscriptions/", body, format="json")

    assert (refused.status_code, refused.json()) == (400, example)


def test_the_pages_verification_snippet_accepts_a_real_notification_once(sent, monkeypatch):
    (snippet,) = VERIFY.findall(DOC.read_text())
    monkeypatch.setenv("CALLBACK_SECRET", settings.CALLBACK_SECRET)
    receiver: dict = {}
    exec(compile(snippet, str(DOC), "exec"), receiver)  # as a receiver's module would run
    handled = []
    receiver["handle"] = handled.append
    notification = sent["notification"]

    assert receiver["receive"](notification.body, notification.headers) == 204
    assert receiver["receive"](notification.body, notification.headers) == 204  # a retry
    assert handled == [notification.json()]  # handled once
    forged = notification.body.replace(b"S21", b"S22")
    headers = {**notification.headers, "webhook-id": "msg_forged"}
    assert receiver["receive"](forged, headers) == 400
    assert len(handled) == 1


def test_every_payload_is_what_the_openapi_schema_describes_to_integrators(sent):
    from tests.runtime.test_subscriptions import _problems

    for name, component in (
        ("notification", "SubscriberNotification"),
        ("result-done", "AsyncResult"),
        ("result-failed", "AsyncResult"),
    ):
        schema = {"$ref": f"#/components/schemas/{component}"}
        assert _problems(sent[name].json(), schema) == [], name


def _written(stream: str) -> list[dict]:
    return [d.payload for d in Delivery.objects.filter(stream=stream).order_by("id")]


def test_the_pages_enter_action_and_error_target_examples_are_what_the_platform_writes(
    callback_server, settings
):
    settings.ASYNC_MAX_ATTEMPTS = 1  # the action's first try is its last
    callback_server.respond("/hooks/ship", status=503)
    extended_online(
        enter={"START": callback_server.url("/hooks/start"),
               "S21": callback_server.url("/hooks/s21")},
        actions={("S21", "E3"): callback_server.url("/hooks/ship")},
        error_targets={("S21", "E3"): "S22"},
    )  # fmt: skip
    instance = instance_create(
        flow_code="design-example", business_key="order-42", context={"amount": 150}
    )
    instance_event_fire(instance_id=instance.pk, event="E1", context={"n": 1},
                        request_id="order-42-e1")  # fmt: skip
    instance_event_fire(instance_id=instance.pk, event="E2", request_id="order-42-e2")
    record = async_events.event_accept(
        instance_id=instance.pk,
        event="E3",
        request_id="order-42-e3",
        callback_url=callback_server.url("/hooks/results"),
    )
    async_events.instance_events_process(instance_id=instance.pk)

    created, entered = _written(f"a:i{instance.pk}")
    (result,) = _written(f"e{record.pk}")
    sent = {"enter": entered, "enter-created": created, "result-error-target": result}
    examples = {name: json.loads(text) for name, text in ENTER_PAYLOAD.findall(DOC.read_text())}
    assert set(examples) == set(sent)
    for name, example in examples.items():
        assert _same_shape(example) == _same_shape(sent[name]), name
