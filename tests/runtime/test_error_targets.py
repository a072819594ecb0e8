"""A transition's errorTarget: where an async event goes when its action fails on its last try.

Instead of ending `failed` with the instance unchanged, the event moves the instance to the
error target in the same transaction, as one history hop carrying the error, and ends `done`;
from there it is an applied event like any other. Sync events are unaffected: a failing
action is a 502 and nothing is kept.
"""

import pytest
from django.conf import settings
from standardwebhooks import Webhook

from machines.models import Flow
from runtime import async_events
from runtime.models import (
    Attempt,
    Delivery,
    EventRecord,
    HistoryEntry,
    Instance,
    Subscription,
    Timer,
)
from runtime.services import instance_create
from tests.runtime.extensions import extended, extended_online
from tests.runtime.helpers import footprint, online
from tests.worker import wait_for


def _fire(client, instance, body: dict, status: int) -> dict:
    response = client.post(f"/api/v1/instances/{instance.pk}/events/", body, format="json")
    assert response.status_code == status, response.content
    return response.json()


def _verified(received) -> dict:
    return Webhook(settings.CALLBACK_SECRET).verify(received.body, received.headers)


@pytest.mark.django_db(transaction=True)
def test_an_async_event_whose_action_keeps_failing_goes_to_the_error_target(
    business, worker, callback_server
):
    callback_server.respond("/act", status=503)
    extended_online(
        actions={("START", "E1"): callback_server.url("/act")},
        error_targets={("START", "E1"): "S22"},
        enter={"S22": callback_server.url("/enter-s22")},
    )
    instance = instance_create(flow_code="design-example", business_key="k", context={"a": 1})
    subscribed = business.post("/api/v1/subscriptions/", {"flow": "design-example",
                               "url": callback_server.url("/sub")}, format="json")  # fmt: skip
    assert subscribed.status_code == 201
    body = {"event": "E1", "async": True, "context": {"b": 2},
            "callbackUrl": callback_server.url("/result")}  # fmt: skip

    event_id = _fire(business, instance, body, 202)["eventId"]

    wait_for(lambda: EventRecord.objects.get(pk=event_id).status in ("done", "failed"), timeout=30)
    record = business.get(f"/api/v1/events/{event_id}/").json()
    assert record["status"] == "done" and record["attempts"] == 3
    result, error = record["result"], record["result"]["error"]
    assert (result["fromState"], result["toState"], result["state"]) == ("START", "S22", "S22")
    assert (error["code"], error["details"]["status"]) == ("ACTION_FAILED", 503)
    transition_id = error["details"]["transitionId"]
    assert result["path"] == [{"fromState": "START", "toState": "S22", "event": "E1",
                               "transitionId": transition_id, "action": None}]  # fmt: skip
    assert len(callback_server.requests_to("/act")) == 3
    assert [a.status for a in Attempt.objects.filter(event_record_id=event_id)] == [503] * 3

    stored = Instance.objects.get(pk=instance.pk)
    assert (stored.state, stored.context, stored.event_counts) == ("S22", {"a": 1, "b": 2},
                                                                   {"E1": 1})  # fmt: skip
    hops = list(HistoryEntry.objects.filter(instance=instance).order_by("id"))
    assert len(hops) == 2  # the creation and ONE hop
    assert (hops[1].event, hops[1].from_state, hops[1].to_state, hops[1].transition_id) == (
        "E1", "START", "S22", transition_id,
    )  # fmt: skip
    assert hops[1].error == error and hops[0].error is None
    history = business.get(f"/api/v1/instances/{instance.pk}/history/").json()
    assert history[1]["error"]["code"] == "ACTION_FAILED" and history[0]["error"] is None

    # Then an applied event like any other: subscribers, the enterAction, the callbackUrl.
    for path in ("/sub", "/enter-s22", "/result"):
        wait_for(lambda path=path: callback_server.requests_to(path))
    notification = _verified(callback_server.requests_to("/sub")[0])
    assert (notification["eventId"], notification["state"]) == (event_id, "S22")
    entered = _verified(callback_server.requests_to("/enter-s22")[0])
    assert (entered["state"], entered["fromState"], entered["error"]) == ("S22", "START", error)
    told = _verified(callback_server.requests_to("/result")[0])
    assert (told["status"], told["result"]["error"]) == ("done", error)


@pytest.mark.django_db
def test_an_action_failing_before_the_last_try_is_retried_as_before(callback_server, settings):
    settings.ASYNC_MAX_ATTEMPTS = 2
    callback_server.respond("/act", status=500)
    extended_online(actions={("START", "E1"): callback_server.url("/act")},
                    error_targets={("START", "E1"): "S22"})  # fmt: skip
    instance = instance_create(flow_code="design-example", business_key="k")
    record = async_events.event_accept(instance_id=instance.pk, event="E1")

    async_events.instance_events_process(instance_id=instance.pk)

    record.refresh_from_db()
    assert (record.status, record.attempts) == ("accepted", 1)  # a retry is due
    assert record.error["code"] == "ACTION_FAILED"
    assert Instance.objects.get(pk=instance.pk).state == "START"
    EventRecord.objects.filter(pk=record.pk).update(next_attempt_at=None)  # due now

    async_events.instance_events_process(instance_id=instance.pk)

    record.refresh_from_db()
    assert (record.status, record.attempts, record.error) == ("done", 2, None)
    assert record.result["toState"] == "S22" and record.result["error"]["code"] == "ACTION_FAILED"
    assert Instance.objects.get(pk=instance.pk).state == "S22"
    assert HistoryEntry.objects.filter(instance=instance, error__isnull=False).count() == 1


@pytest.mark.django_db
def test_a_failed_branch_action_goes_to_its_transitions_error_target_from_where_it_started(
    callback_server, settings
):
    settings.ASYNC_MAX_ATTEMPTS = 1
    callback_server.respond("/act", status=500)
    extended_online(actions={("C1", None): callback_server.url("/act")},
                    error_targets={("C1", None): "S1"})  # fmt: skip
    instance = instance_create(flow_code="design-example", business_key="k", context={"amount": 5})
    async_events.event_accept(instance_id=instance.pk, event="E1")
    async_events.instance_events_process(instance_id=instance.pk)
    record = async_events.event_accept(instance_id=instance.pk, event="E2")  # S1 -> C1 -> S22

    async_events.instance_events_process(instance_id=instance.pk)

    record.refresh_from_db()
    assert record.status == "done" and record.result["state"] == "S1"  # a loop back, one hop
    assert [h["fromState"] + ">" + h["toState"] for h in record.result["path"]] == ["S1>S1"]
    last = HistoryEntry.objects.filter(instance=instance).order_by("id").last()
    assert (last.from_state, last.to_state, last.error["code"]) == ("S1", "S1", "ACTION_FAILED")


@pytest.mark.django_db
def test_without_an_error_target_the_event_still_fails_and_the_instance_stays(
    callback_server, settings
):
    settings.ASYNC_MAX_ATTEMPTS = 1
    callback_server.respond("/act", status=500)
    extended_online(actions={("START", "E1"): callback_server.url("/act"),
                             ("S1", "E11"): callback_server.url("/act")},
                    error_targets={("S1", "E11"): "S22"})  # fmt: skip
    instance = instance_create(flow_code="design-example", business_key="k")
    before = footprint(instance.pk)
    record = async_events.event_accept(instance_id=instance.pk, event="E1")

    async_events.instance_events_process(instance_id=instance.pk)

    record.refresh_from_db()
    assert (record.status, record.error["code"], record.result) == ("failed", "ACTION_FAILED", None)
    assert footprint(instance.pk)[:4] == before[:4]
    assert not HistoryEntry.objects.filter(error__isnull=False).exists()


@pytest.mark.django_db
def test_a_sync_event_whose_action_fails_is_still_a_502_with_nothing_kept(
    business, callback_server
):
    callback_server.respond("/act", status=500)
    extended_online(actions={("START", "E1"): callback_server.url("/act")},
                    error_targets={("START", "E1"): "S22"},
                    enter={"S22": callback_server.url("/enter")})  # fmt: skip
    instance = instance_create(flow_code="design-example", business_key="k")
    flow = Flow.objects.get(code="design-example")
    Subscription.objects.create(flow=flow, url=callback_server.url("/sub"))
    Flow.objects.filter(pk=flow.pk).update(has_subscribers=True)
    before = footprint(instance.pk)

    answer = _fire(business, instance, {"event": "E1"}, 502)

    assert answer["code"] == "ACTION_FAILED"
    assert footprint(instance.pk) == before
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_the_error_target_arms_its_timers_and_drops_those_of_the_state_left(
    callback_server, settings
):
    settings.ASYNC_MAX_ATTEMPTS = 1
    callback_server.respond("/act", status=500)
    doc = extended(actions={("S1", "E11"): callback_server.url("/act")},
                   error_targets={("S1", "E11"): "S22"})  # fmt: skip
    for transition in doc["smTransitions"]:
        if (transition["sourceState"], transition["eventValue"]) in (("S1", "E2"), ("S22", "E3")):
            transition["timerSeconds"] = 600
    online(doc)
    instance = instance_create(flow_code="design-example", business_key="k")
    async_events.event_accept(instance_id=instance.pk, event="E1")
    async_events.instance_events_process(instance_id=instance.pk)
    assert list(Timer.objects.values_list("state", "event")) == [("S1", "E2")]
    record = async_events.event_accept(instance_id=instance.pk, event="E11")

    async_events.instance_events_process(instance_id=instance.pk)

    record.refresh_from_db()
    assert (record.status, record.result["state"]) == ("done", "S22")
    stored = Instance.objects.get(pk=instance.pk)
    assert list(Timer.objects.values_list("state", "event", "entry_revision")) == [
        ("S22", "E3", stored.revision)
    ]
