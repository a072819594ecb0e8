"""A state's enterAction: one outbox call each time an instance comes to rest in that state.

Written in the transaction of the event (or of the instance's creation) and sent by the
workers like a subscriber notification: signed, retried, in order per instance; its failure
never undoes the state change. Migrating an instance calls nothing; hops through choice states
call nothing of their own.
"""

import pytest
from django.conf import settings
from standardwebhooks import Webhook

from machines import services as machine_services
from runtime import services
from runtime.models import Delivery, Instance
from runtime.services import instance_create, instance_event_fire, instance_migrate
from tests.conftest import example_seed
from tests.runtime.extensions import extended, extended_online
from tests.runtime.helpers import online
from tests.worker import wait_for

URL = "http://127.0.0.1:9/enter"
VARYING = ("instanceId", "smId", "eventId", "at")


def _entries(instance) -> list[dict]:
    deliveries = Delivery.objects.filter(stream=f"a:i{instance.pk}").order_by("id")
    return [{"url": d.url, **d.payload} for d in deliveries]


def _fixed(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k not in VARYING}


@pytest.mark.django_db
def test_a_sync_event_into_a_state_with_an_enter_action_writes_one_call_to_it():
    extended_online(enter={"S1": URL + "/s1"})
    instance = instance_create(flow_code="design-example", business_key="k", context={"a": 1})
    assert _entries(instance) == []  # START has no enterAction

    answer = instance_event_fire(instance_id=instance.pk, event="E1", context={"b": 2},
                                 request_id="r1")  # fmt: skip

    (entry,) = _entries(instance)
    assert _fixed(entry) == {
        "url": URL + "/s1", "type": "enter", "businessKey": "k", "flow": "design-example",
        "state": "S1", "event": "E1", "requestId": "r1", "fromState": "START",
        "path": [{"fromState": "START", "toState": "S1", "event": "E1",
                  "transitionId": answer["path"][0]["transitionId"]}],
        "error": None, "context": {"a": 1, "b": 2},
    }  # fmt: skip
    assert (entry["instanceId"], entry["eventId"]) == (instance.pk, answer["eventId"])
    assert entry["smId"] == instance.machine_id and entry["at"]


@pytest.mark.django_db
def test_a_self_transition_comes_to_rest_again_and_calls_again():
    extended_online(enter={"S1": URL})
    instance = instance_create(flow_code="design-example", business_key="k")
    for event in ("E1", "E11", "E11"):
        instance_event_fire(instance_id=instance.pk, event=event)

    entries = _entries(instance)
    assert [(e["event"], e["fromState"], e["state"]) for e in entries] == [
        ("E1", "START", "S1"), ("E11", "S1", "S1"), ("E11", "S1", "S1"),
    ]  # fmt: skip
    assert len({e["eventId"] for e in entries}) == 3


@pytest.mark.django_db
def test_only_the_state_the_instance_rests_in_is_called_not_the_choice_passed_through():
    extended_online(enter={"S21": URL + "/s21", "S22": URL + "/s22"})
    instance = instance_create(flow_code="design-example", business_key="k", context={"amount": 5})
    instance_event_fire(instance_id=instance.pk, event="E1")
    instance_event_fire(instance_id=instance.pk, event="E2")  # S1 -> C1 -> S22

    (entry,) = _entries(instance)
    assert (entry["url"], entry["state"], entry["fromState"]) == (URL + "/s22", "S22", "S1")
    assert [(h["fromState"], h["toState"], h["event"]) for h in entry["path"]] == [
        ("S1", "C1", "E2"), ("C1", "S22", None),
    ]  # fmt: skip


@pytest.mark.django_db
def test_creating_an_instance_calls_its_initial_states_enter_action_in_the_same_transaction():
    extended_online(enter={"START": URL + "/start"})
    instance = instance_create(flow_code="design-example", business_key="k", context={"a": 1})

    (entry,) = _entries(instance)
    assert _fixed(entry) == {
        "url": URL + "/start", "type": "enter", "businessKey": "k", "flow": "design-example",
        "state": "START", "event": None, "requestId": None, "fromState": None, "path": None,
        "error": None, "context": {"a": 1},
    }  # fmt: skip
    assert entry["eventId"] is None and entry["instanceId"] == instance.pk


@pytest.mark.django_db
def test_a_creation_refused_for_its_business_key_writes_no_call():
    extended_online(enter={"START": URL})
    instance_create(flow_code="design-example", business_key="k")
    with pytest.raises(services.DuplicateBusinessKey):
        instance_create(flow_code="design-example", business_key="k")
    assert Delivery.objects.count() == 1


@pytest.mark.django_db
def test_migrating_an_instance_calls_no_enter_action():
    first = extended_online(enter={"START": URL, "S1": URL})
    instance = instance_create(flow_code="design-example", business_key="k")
    instance_event_fire(instance_id=instance.pk, event="E1")
    draft = machine_services.machine_create(data=extended(enter={"S1": URL + "/v2"}))
    second = machine_services.machine_publish(machine=draft)
    assert second.pk != first.pk
    before = Delivery.objects.count()

    instance_migrate(instance_id=instance.pk, sm_id=second.pk)

    assert Instance.objects.get(pk=instance.pk).machine_id == second.pk
    assert Delivery.objects.count() == before == 2


@pytest.mark.django_db
def test_a_machine_without_enter_actions_writes_no_call():
    online(example_seed("design-example"))
    instance = instance_create(flow_code="design-example", business_key="k", context={"amount": 1})
    for event in ("E1", "E11", "E2", "E3", "E4"):
        instance_event_fire(instance_id=instance.pk, event=event)
    assert Instance.objects.get(pk=instance.pk).state == "S3"
    assert not Delivery.objects.exists()


def _verified(received) -> dict:
    return Webhook(settings.CALLBACK_SECRET).verify(received.body, received.headers)


def _fire(client, instance, body: dict, status: int = 200) -> dict:
    response = client.post(f"/api/v1/instances/{instance.pk}/events/", body, format="json")
    assert response.status_code == status, response.content
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_entry_calls_are_signed_and_one_instances_go_out_in_the_order_it_entered_its_states(
    business, worker, callback_server
):
    extended_online(enter={"START": callback_server.url("/start"),
                           "S1": callback_server.url("/s1")})  # fmt: skip
    instance = instance_create(flow_code="design-example", business_key="k")
    for event in ("E1", "E11"):
        _fire(business, instance, {"event": event})

    wait_for(lambda: Delivery.objects.filter(status="delivered").count() == 3)
    received = sorted(callback_server.requests, key=lambda r: r.at)
    payloads = [_verified(r) for r in received]  # signed as every webhook is
    assert [(r.path, p["state"], p["event"]) for r, p in zip(received, payloads, strict=True)] == [
        ("/start", "START", None), ("/s1", "S1", "E1"), ("/s1", "S1", "E11"),
    ]  # fmt: skip
    assert {d.stream for d in Delivery.objects.all()} == {f"a:i{instance.pk}"}


@pytest.mark.django_db(transaction=True)
def test_a_failing_entry_call_is_retried_and_never_undoes_the_state_change(
    business, worker, callback_server
):
    callback_server.respond("/s1", sequence=[500, 500, 200])
    extended_online(enter={"S1": callback_server.url("/s1")})
    instance = instance_create(flow_code="design-example", business_key="k")

    answer = _fire(business, instance, {"event": "E1"})

    assert answer["state"] == "S1"
    delivery = wait_for(lambda: Delivery.objects.filter(status="delivered").first(), timeout=30)
    assert [a.status for a in delivery.tries.all()] == [500, 500, 200]
    received = callback_server.requests_to("/s1")
    assert len({r.headers["webhook-id"] for r in received}) == 1  # one message, tried 3 times
    assert _verified(received[-1])["eventId"] == answer["eventId"]
    assert Instance.objects.get(pk=instance.pk).state == "S1"


@pytest.mark.django_db(transaction=True)
def test_an_async_event_into_a_state_with_an_enter_action_calls_it(
    business, worker, callback_server
):
    extended_online(enter={"S1": callback_server.url("/s1")})
    instance = instance_create(flow_code="design-example", business_key="k")

    accepted = _fire(business, instance, {"event": "E1", "async": True, "requestId": "a1"}, 202)

    wait_for(lambda: callback_server.requests_to("/s1"))
    payload = _verified(callback_server.requests_to("/s1")[0])
    assert (payload["eventId"], payload["requestId"]) == (accepted["eventId"], "a1")
    assert (payload["type"], payload["fromState"], payload["state"]) == ("enter", "START", "S1")
    assert Instance.objects.get(pk=instance.pk).state == "S1"
