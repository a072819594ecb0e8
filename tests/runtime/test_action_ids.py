"""A transition action's webhook-id is the same on every try of one event's action.

Receivers deduplicate on webhook-id: an async event retried after a failure (or after its
worker died) calls its action again with the same id; a sync event sent again with its
requestId after a failure (which kept nothing) too. Different events, or different
transitions of one event, get different ids.
"""

import pytest
from django.conf import settings
from standardwebhooks import Webhook

from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _machine_calling(callback_server) -> None:
    doc = example_seed("design-example")
    for transition in doc["smTransitions"]:
        transition["transitionAction"] = callback_server.url(f"/act/{transition['eventValue']}")
    online(doc)


def _ids(callback_server, path: str) -> list[str]:
    webhook = Webhook(settings.CALLBACK_SECRET)
    received = callback_server.requests_to(path)
    for request in received:
        webhook.verify(request.body, request.headers)  # signed with the id it carries
    return [request.headers["webhook-id"] for request in received]


def test_every_try_of_an_async_events_action_carries_one_webhook_id(
    business, worker, callback_server
):
    _machine_calling(callback_server)
    callback_server.respond("/act/E1", sequence=[503, 503, 200])
    instance = instance_create(flow_code="design-example", business_key="k")

    response = business.post(
        f"/api/v1/instances/{instance.pk}/events/", {"event": "E1", "async": True}, format="json"
    )
    event_id = response.json()["eventId"]
    wait_for(lambda: business.get(f"/api/v1/events/{event_id}/").json()["status"] == "done")

    ids = _ids(callback_server, "/act/E1")
    assert len(ids) == 3 and len(set(ids)) == 1


def test_a_sync_event_sent_again_with_its_request_id_calls_with_the_same_webhook_id(
    business, callback_server
):
    _machine_calling(callback_server)
    callback_server.respond("/act/E1", sequence=[503, 200])
    instance = instance_create(flow_code="design-example", business_key="k")
    url = f"/api/v1/instances/{instance.pk}/events/"

    failed = business.post(url, {"event": "E1", "requestId": "r-1"}, format="json")
    done = business.post(url, {"event": "E1", "requestId": "r-1"}, format="json")

    assert (failed.status_code, done.status_code) == (502, 200)
    first, second = _ids(callback_server, "/act/E1")
    assert first == second


def test_each_event_and_each_transition_gets_its_own_webhook_id(business, callback_server):
    _machine_calling(callback_server)
    instances = [instance_create(flow_code="design-example", business_key=k) for k in "ab"]

    for instance in instances:
        for event in ("E1", "E11"):
            url = f"/api/v1/instances/{instance.pk}/events/"
            response = business.post(url, {"event": event, "requestId": event}, format="json")
            assert response.status_code == 200
    business.post(f"/api/v1/instances/{instances[0].pk}/events/", {"event": "E11"}, format="json")

    ids = _ids(callback_server, "/act/E1") + _ids(callback_server, "/act/E11")
    assert len(ids) == 5 and len(set(ids)) == 5
