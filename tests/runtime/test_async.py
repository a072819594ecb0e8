"""Async events, callbacks, subscribers and timers, with a real worker process.

The worker runs on the test database and the tests' broker (Redis in CI, the server-less
filesystem transport otherwise), with short retry, lease and sweep times (tests/worker.py).
"""

import json
import os
import subprocess
import time

import pytest
from django.conf import settings
from standardwebhooks import Webhook

from clients.services import api_client_create
from config.celery import app
from runtime.models import Attempt, Delivery, EventRecord, Instance, Subscription
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _design_instance(key="k", **context):
    online(example_seed("design-example"))
    return instance_create(flow_code="design-example", business_key=key, context=context)


def _fire_async(client, instance_id, event, expect="accepted", **body):
    response = client.post(
        f"/api/v1/instances/{instance_id}/events/",
        {"event": event, "async": True, **body},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == expect
    return response.json()["eventId"]


def _status(event_id):
    return EventRecord.objects.get(pk=event_id).status


def _done(event_id):
    return _status(event_id) in ("done", "failed")


def _verify(received):
    Webhook(settings.CALLBACK_SECRET).verify(received.body, received.headers)
    return received.json()


def test_an_async_event_is_applied_and_its_signed_result_reaches_the_callback_url(
    business, worker, callback_server
):
    instance = _design_instance()
    event_id = _fire_async(
        business, instance.pk, "E1", callbackUrl=callback_server.url("/result"), requestId="r1"
    )
    wait_for(lambda: callback_server.requests_to("/result"))

    record = business.get(f"/api/v1/events/{event_id}/").json()
    assert record["status"] == "done" and record["result"]["state"] == "S1"
    payload = _verify(callback_server.requests_to("/result")[0])
    assert payload == {"type": "event", "eventId": event_id, "status": "done",
                       "result": record["result"]}  # fmt: skip
    assert Instance.objects.get(pk=instance.pk).state == "S1"
    again = _fire_async(business, instance.pk, "E1", expect="done", requestId="r1",
                        callbackUrl=callback_server.url("/result"))  # fmt: skip
    assert again == event_id and Instance.objects.get(pk=instance.pk).revision == 1


def test_fifty_async_events_apply_once_each_in_acceptance_order(business, worker):
    instance = _design_instance()
    first = _fire_async(business, instance.pk, "E1")
    ids = [_fire_async(business, instance.pk, "E11", context={"n": n}) for n in range(50)]

    wait_for(lambda: _done(ids[-1]), timeout=60)
    instance.refresh_from_db()
    assert instance.event_counts == {"E1": 1, "E11": 50}
    assert instance.context["n"] == 49
    applied = list(instance.history.filter(event="E11").values_list("event_record_id", flat=True))
    assert applied == ids
    assert EventRecord.objects.filter(pk__in=[first, *ids], status="done").count() == 51


def test_a_failing_action_is_retried_then_failed_and_a_replay_applies_it(
    business, operator, worker, callback_server
):
    doc = example_seed("design-example")
    doc["smTransitions"][0]["transitionAction"] = callback_server.url("/act")  # START -E1-> S1
    online(doc)
    instance = instance_create(flow_code="design-example", business_key="k")
    callback_server.respond("/act", status=500)

    event_id = _fire_async(business, instance.pk, "E1", callbackUrl=callback_server.url("/res"))
    wait_for(lambda: _done(event_id))
    record = business.get(f"/api/v1/events/{event_id}/").json()
    assert record["status"] == "failed" and record["error"]["code"] == "ACTION_FAILED"
    assert record["attempts"] == 3 and len(callback_server.requests_to("/act")) == 3
    assert Attempt.objects.filter(event_record_id=event_id).count() == 3
    assert Instance.objects.get(pk=instance.pk).state == "START"
    wait_for(lambda: callback_server.requests_to("/res"))
    assert _verify(callback_server.requests_to("/res")[0])["status"] == "failed"

    callback_server.respond("/act", status=200)
    refused = business.post(f"/api/v1/events/{event_id}/replay")  # no operator capability
    assert (refused.status_code, refused.json()["code"]) == (403, "PERMISSION_DENIED")
    response = operator.post(f"/api/v1/events/{event_id}/replay")
    assert response.status_code == 202
    wait_for(lambda: _status(event_id) == "done")
    assert Instance.objects.get(pk=instance.pk).state == "S1"
    assert operator.post(f"/api/v1/events/{event_id}/replay").status_code == 409


def test_a_receiver_failing_twice_gets_the_delivery_on_the_third_attempt(
    business, worker, callback_server
):
    callback_server.respond("/res", sequence=[500, 500, 200])
    instance = _design_instance()
    event_id = _fire_async(business, instance.pk, "E1", callbackUrl=callback_server.url("/res"))
    wait_for(lambda: Delivery.objects.filter(status="delivered").exists())
    delivery = Delivery.objects.get(stream=f"e{event_id}")
    assert [a.status for a in delivery.tries.all()] == [500, 500, 200]
    received = callback_server.requests_to("/res")
    assert len(received) == 3
    assert len({r.headers["webhook-id"] for r in received}) == 1  # one id: receivers dedupe


def test_retry_after_is_honoured_and_410_disables_the_subscription(
    business, worker, callback_server
):
    instance = _design_instance()
    callback_server.respond("/slow-down", sequence=[503, 200], headers={"Retry-After": "2"})
    event_id = _fire_async(
        business, instance.pk, "E1", callbackUrl=callback_server.url("/slow-down")
    )
    delivery = wait_for(lambda: Delivery.objects.filter(stream=f"e{event_id}").first())
    # The attempt is recorded after the answer arrives: wait for the rows, not the requests.
    wait_for(lambda: delivery.tries.count() == 2, timeout=30)
    first, second = delivery.tries.all()
    # Retry-After: 2 wins over the backoff, which starts at 0.3 s in these tests.
    assert (second.at - first.at).total_seconds() >= 1.5

    business.post(
        "/api/v1/subscriptions/",
        {"flow": "design-example", "url": callback_server.url("/gone")},
        format="json",
    )
    callback_server.respond("/gone", status=410)
    _fire_async(business, instance.pk, "E11")
    wait_for(lambda: not Subscription.objects.get().active, timeout=30)
    assert len(callback_server.requests_to("/gone")) == 1


def test_a_subscriber_gets_one_signed_notification_per_event_ending_in_its_states_in_order(
    business, worker, callback_server
):
    instance = _design_instance(amount=150)
    response = business.post(
        "/api/v1/subscriptions/",
        {"flow": "design-example", "url": callback_server.url("/sub"), "states": ["S1", "S21"]},
        format="json",
    )
    assert response.status_code == 201
    for event in ("E1", "E11", "E11", "E2"):
        assert (
            business.post(
                f"/api/v1/instances/{instance.pk}/events/", {"event": event}, format="json"
            ).status_code
            == 200
        )

    wait_for(lambda: len(callback_server.requests_to("/sub")) == 4)
    payloads = [_verify(r) for r in callback_server.requests_to("/sub")]
    assert [(p["event"], p["toState"]) for p in payloads] == [
        ("E1", "S1"), ("E11", "S1"), ("E11", "S1"), ("E2", "S21"),
    ]  # fmt: skip
    assert len({r.headers["webhook-id"] for r in callback_server.requests_to("/sub")}) == 4


def test_a_worker_killed_mid_event_applies_it_exactly_once(business, start_worker, callback_server):
    doc = example_seed("design-example")
    doc["smTransitions"][0]["transitionAction"] = callback_server.url("/slow")
    online(doc)
    instance = instance_create(flow_code="design-example", business_key="k")
    callback_server.respond("/slow", delay=1.0)
    first = start_worker()

    event_id = _fire_async(business, instance.pk, "E1")
    wait_for(lambda: callback_server.requests_to("/slow"))
    first.kill()  # in the middle of the action call, before the commit
    assert _status(event_id) == "processing"

    start_worker()
    wait_for(lambda: _status(event_id) == "done", timeout=30)
    instance.refresh_from_db()
    assert instance.state == "S1" and instance.event_counts == {"E1": 1}
    assert instance.history.filter(event="E1").count() == 1


def test_an_event_that_kills_its_worker_every_time_fails_while_others_flow(
    business, start_worker, callback_server
):
    doc = example_seed("design-example")
    doc["smTransitions"][0]["transitionAction"] = callback_server.url("/poison")
    online(doc)
    poisoned = instance_create(flow_code="design-example", business_key="poisoned")
    healthy = instance_create(flow_code="design-example", business_key="healthy")
    Instance.objects.filter(pk=healthy.pk).update(state="S1")
    callback_server.respond("/poison", delay=5)

    worker = start_worker()
    bad = _fire_async(business, poisoned.pk, "E1")
    good = _fire_async(business, healthy.pk, "E11")
    for _ in range(6):
        if _done(bad):
            break
        seen = len(callback_server.requests_to("/poison"))
        wait_for(lambda seen=seen: len(callback_server.requests_to("/poison")) > seen or _done(bad))
        if not _done(bad):
            worker.kill()
            worker = start_worker()
    wait_for(lambda: _done(bad), timeout=30)

    record = EventRecord.objects.get(pk=bad)
    assert record.status == "failed" and record.error["code"] == "ATTEMPTS_EXHAUSTED"
    assert record.attempts == 3
    assert _status(good) == "done"
    assert Instance.objects.get(pk=poisoned.pk).state == "START"


def test_a_task_delivered_twice_applies_the_event_once(business, worker):
    instance = _design_instance()
    event_id = _fire_async(business, instance.pk, "E1")
    for _ in range(3):
        app.send_task("runtime.process_instance", args=[instance.pk])
    wait_for(lambda: _status(event_id) == "done")
    app.send_task("runtime.process_instance", args=[instance.pk])
    instance.refresh_from_db()
    assert instance.event_counts == {"E1": 1} and instance.revision == 1


def test_an_event_submitted_through_the_broker_is_applied_once(worker):
    instance = _design_instance(key="order-7")
    _, token = api_client_create(name="orders", flows=["design-example"])
    payload = {"token": token, "flow": "design-example", "businessKey": "order-7", "event": "E1",
               "requestId": "broker-1", "context": {"via": "broker"}}  # fmt: skip
    app.send_task("statecenter.submit_event", args=[payload])
    app.send_task("statecenter.submit_event", args=[payload])
    wait_for(lambda: Instance.objects.get(pk=instance.pk).state == "S1")
    wait_for(lambda: not EventRecord.objects.filter(status__in=["accepted", "processing"]))
    assert EventRecord.objects.filter(request_id="broker-1").count() == 1
    assert Instance.objects.get(pk=instance.pk).context == {"via": "broker"}


def _timed_machine():
    doc = example_seed("audit")
    doc["smInfo"]["flowCode"] = "timed"
    expire = dict(doc["smTransitions"][1], eventValue="EXPIRE", timerSeconds=1)
    doc["smTransitions"].append(expire)  # APPLY -EXPIRE-> DAD_REJ after 1 s in APPLY
    return online(json.loads(json.dumps(doc)))


def test_a_timed_transition_fires_once_when_due(business, worker):
    _timed_machine()
    instance = instance_create(flow_code="timed", business_key="unpaid")
    wait_for(lambda: Instance.objects.get(pk=instance.pk).state == "DAD_REJ", timeout=15)
    record = EventRecord.objects.get(instance=instance)
    assert record.event == "EXPIRE" and record.role is None
    assert record.request_id == f"timer:{instance.pk}:0:EXPIRE"
    assert not instance.timers.exists()


def test_a_timed_transition_never_fires_after_the_instance_left_the_state(business, worker):
    _timed_machine()
    instance = instance_create(flow_code="timed", business_key="paid")
    response = business.post(
        f"/api/v1/instances/{instance.pk}/events/", {"event": "PASS"}, format="json"
    )
    assert response.status_code == 200
    time.sleep(2.5)  # past the timer's due time, and a few sweeps
    instance.refresh_from_db()
    assert instance.state == "DAD_PASS"
    assert not EventRecord.objects.filter(event="EXPIRE").exists()


def _redis(command: str) -> None:
    port = settings.CELERY_BROKER_URL.rsplit(":", 1)[1].split("/")[0]
    subprocess.run(
        ["bash", "platform/redis.sh", command],
        cwd=settings.BASE_DIR,
        env={**os.environ, "REDIS_PORT_TEST": port},
        check=True,
        capture_output=True,
    )


@pytest.mark.redis
def test_with_the_broker_down_events_are_stored_first_and_applied_once_it_is_back(business, worker):
    instance = _design_instance()
    _redis("stop")
    try:
        started = time.monotonic()
        event_id = _fire_async(business, instance.pk, "E1")  # 202 only because it is stored
        assert time.monotonic() - started < 10
        assert _status(event_id) == "accepted"
    finally:
        _redis("start")
    wait_for(lambda: _status(event_id) == "done", timeout=60)
    assert Instance.objects.get(pk=instance.pk).state == "S1"
