"""Deliveries sent in batches by a real worker: in order per stream, side by side across streams.

A stream is one subscription and one instance (or one event's callbackUrl). The worker leases
only a stream's oldest pending delivery, so a stream has one call in flight at a time, while
the heads of different streams go out together (runtime/outbox.py).
"""

from collections import defaultdict

import pytest
from django.conf import settings
from standardwebhooks import Webhook

from runtime.models import Attempt, Delivery
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _instances(count: int, **context):
    online(example_seed("design-example"))
    return [
        instance_create(flow_code="design-example", business_key=f"k{n}", context=context)
        for n in range(count)
    ]


def _subscribe(client, url: str) -> None:
    response = client.post(
        "/api/v1/subscriptions/", {"flow": "design-example", "url": url}, format="json"
    )
    assert response.status_code == 201, response.content


def _fire(client, instance, event: str) -> None:
    response = client.post(f"/api/v1/instances/{instance.pk}/events/", {"event": event})
    assert response.status_code == 200, response.content


def test_each_streams_notifications_arrive_once_and_in_order(business, worker, callback_server):
    callback_server.respond("/sub", delay=0.02)
    instances = _instances(8, amount=150)
    _subscribe(business, callback_server.url("/sub"))
    for instance in instances:
        for event in ("E1", "E11", "E11", "E2"):
            _fire(business, instance, event)
    expected = Delivery.objects.count()
    assert expected == 4 * len(instances)  # one per event: E2 passes through C1 unnoticed

    wait_for(lambda: Delivery.objects.filter(status="delivered").count() == expected, timeout=30)
    received = callback_server.requests_to("/sub")
    assert len(received) == expected  # each once: no delivery was sent twice
    stream_of = dict(Delivery.objects.values_list("webhook_id", "stream"))
    arrived = defaultdict(list)
    for request in received:
        Webhook(settings.CALLBACK_SECRET).verify(request.body, request.headers)
        arrived[stream_of[request.headers["webhook-id"]]].append(request.headers["webhook-id"])
    assert len(arrived) == len(instances)
    for stream, webhook_ids in arrived.items():
        in_order = Delivery.objects.filter(stream=stream).order_by("id")
        assert webhook_ids == list(in_order.values_list("webhook_id", flat=True))
    assert Attempt.objects.filter(delivery__isnull=False, status=200).count() == expected


def test_a_slow_receiver_holds_up_only_its_own_stream(business, worker, callback_server):
    callback_server.respond("/slow", delay=1.5)
    instances = _instances(6)
    _subscribe(business, callback_server.url("/slow"))
    for instance in instances:
        _fire(business, instance, "E1")

    wait_for(lambda: len(callback_server.requests_to("/slow")) == len(instances), timeout=30)
    arrivals = [request.at for request in callback_server.requests_to("/slow")]
    # One stream after the other, even on the worker's two processes, the sixth call would
    # come at least 3 x 1.5 s after the first; side by side they come together.
    assert max(arrivals) - min(arrivals) < 1.2
    wait_for(lambda: Delivery.objects.filter(status="delivered").count() == len(instances))
