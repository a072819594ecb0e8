"""A worker asked to stop (SIGTERM) is gone within 10 s, even in the middle of a slow action.

Orchestrators send SIGTERM and kill what is still alive soon after (compose after 10 s). The
work lives in the database, so a worker stopped mid-event loses nothing: the event's lease
expires and another worker applies it, once.
"""

import os
import signal
import subprocess
import time

import pytest

from runtime.models import EventRecord, Instance
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
STOP_WITHIN = 10  # seconds: compose's stop_grace_period, the shortest an orchestrator gives
EVENTS = 3


def _queue_slow_events(business, callback_server) -> tuple[Instance, list[int]]:
    """An instance with EVENTS async E11 events queued, each calling the /slow action."""
    doc = example_seed("design-example")
    self_transition = next(t for t in doc["smTransitions"] if t["eventValue"] == "E11")
    self_transition["transitionAction"] = callback_server.url("/slow")
    online(doc)
    instance = instance_create(flow_code="design-example", business_key="busy")
    Instance.objects.filter(pk=instance.pk).update(state="S1")
    ids = []
    for n in range(EVENTS):
        response = business.post(
            f"/api/v1/instances/{instance.pk}/events/",
            {"event": "E11", "async": True, "context": {"n": n}},
            format="json",
        )
        assert response.status_code == 202, response.content
        ids.append(response.json()["eventId"])
    return instance, ids


def _seconds_to_exit(process: subprocess.Popen, *, group: bool) -> float:
    started = time.monotonic()
    if group:
        os.killpg(process.pid, signal.SIGTERM)
    else:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        return float("inf")
    return time.monotonic() - started


@pytest.mark.parametrize(
    "group",
    [False, True],
    ids=["sent-to-the-main-process-as-orchestrators-do", "sent-to-the-process-group-as-ctrl-c"],
)
def test_a_worker_stuck_in_a_slow_action_stops_within_ten_seconds_and_the_event_applies_once(
    business, start_worker, callback_server, group
):
    # The action answers after 15 s and the worker waits up to 30 s: left alone, the task
    # would hold the worker well past the orchestrator's patience.
    callback_server.respond("/slow", delay=STOP_WITHIN + 5)
    instance, ids = _queue_slow_events(business, callback_server)
    first = start_worker(CALLBACK_TIMEOUT="30")
    wait_for(lambda: callback_server.requests_to("/slow"))

    seconds = _seconds_to_exit(first.process, group=group)
    assert seconds <= STOP_WITHIN, f"exited after {seconds:.1f} s:\n" + "".join(first.log[-40:])
    assert EventRecord.objects.filter(pk__in=ids, status="done").count() == 0

    callback_server.respond("/slow")  # now the action answers at once
    start_worker()
    wait_for(lambda: EventRecord.objects.filter(pk__in=ids, status="done").count() == EVENTS, 30)
    instance.refresh_from_db()
    assert instance.event_counts == {"E11": EVENTS}
    applied = list(instance.history.filter(event="E11").values_list("event_record_id", flat=True))
    assert applied == ids
