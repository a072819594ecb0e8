"""Async events applied in batches by several real workers, one of them killed mid-way."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.services import api_client_create
from config.celery import app
from config.exceptions import NotFound
from runtime.async_events import event_accept
from runtime.models import Attempt, EventRecord, HistoryEntry, Instance
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online
from tests.worker import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

INSTANCES, EVENTS = 200, 20


def _accept_up_front() -> dict[int, list[int]]:
    """Every instance in S1 with EVENTS self-loop events accepted, interleaved across
    instances as concurrent senders would; each instance's event ids in acceptance order."""
    online(example_seed("design-example"))
    keys = [f"k{n}" for n in range(INSTANCES)]
    ids = [instance_create(flow_code="design-example", business_key=key).pk for key in keys]
    Instance.objects.filter(pk__in=ids).update(state="S1")
    accepted = {instance_id: [] for instance_id in ids}
    for n in range(EVENTS):
        for instance_id in ids:
            record = event_accept(instance_id=instance_id, event="E11", context={"n": n})
            accepted[instance_id].append(record.pk)
    return accepted


def _done() -> int:
    return EventRecord.objects.filter(status="done").count()


@pytest.mark.redis
def test_three_workers_apply_batches_in_order_once_each_when_one_is_killed(start_worker):
    accepted = _accept_up_front()
    total = INSTANCES * EVENTS
    workers = [start_worker() for _ in range(3)]
    app.send_task("runtime.process_ready")  # the accepts' own wake-ups went before the purge
    wait_for(lambda: _done() >= total // 4, timeout=120)
    workers[1].kill()  # SIGKILL, holding leases on the events of its batch
    assert _done() < total, "the kill came after the end: nothing was tested"

    wait_for(lambda: _done() == total, timeout=180)
    assert not EventRecord.objects.exclude(status="done").exists()
    for instance_id, ids in accepted.items():
        applied = HistoryEntry.objects.filter(instance_id=instance_id, event="E11")
        assert list(applied.values_list("event_record_id", flat=True)) == ids
        instance = Instance.objects.get(pk=instance_id)
        assert (instance.revision, instance.event_counts) == (EVENTS, {"E11": EVENTS})
        assert instance.context == {"n": EVENTS - 1}
    assert set(EventRecord.objects.values_list("attempts", flat=True)) == {1}
    assert Attempt.objects.count() == total
    for worker in workers:  # each took wake-ups: the batches were shared
        assert any("runtime.process_ready" in line for line in worker.log)


def test_accepting_is_one_statement_whether_new_replayed_or_refused():
    online(example_seed("design-example"))
    instance = instance_create(flow_code="design-example", business_key="k")
    client, _ = api_client_create(name="other", flows=[])
    accept = {"instance_id": instance.pk, "event": "E1", "request_id": "r-1"}
    with CaptureQueriesContext(connection) as new:
        first = event_accept(**accept)
    with CaptureQueriesContext(connection) as replayed:
        again = event_accept(**accept)
    with CaptureQueriesContext(connection) as refused, pytest.raises(NotFound):
        event_accept(**accept, user=client.user)

    assert (len(new), len(replayed), len(refused)) == (1, 1, 1)
    assert (again.pk, again.status) == (first.pk, "accepted")
    assert EventRecord.objects.filter(instance=instance).count() == 1
