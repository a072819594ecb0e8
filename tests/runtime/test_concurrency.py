"""Concurrent events on one instance, on PostgreSQL: serialised, never applied twice."""

import threading
import time
from collections import Counter

import pytest
from django.db import close_old_connections, connection, transaction
from django.db.backends.signals import connection_created

from config.exceptions import PlatformError
from runtime import services
from runtime.models import Instance
from tests.conftest import example_seed
from tests.runtime.helpers import online
from tests.schema_check import _schema

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _instance_in(state_events: list[str]) -> Instance:
    online(example_seed("design-example"))
    instance = services.instance_create(
        flow_code="design-example", business_key="k", context={"amount": 5}
    )
    for event in state_events:
        services.instance_event_fire(instance_id=instance.pk, event=event)
    return Instance.objects.get(pk=instance.pk)


def _fire_at_once(instance_id: int, events: list[str]) -> list[str]:
    """Fire each event from its own thread and connection, all released together."""
    barrier = threading.Barrier(len(events))
    outcomes = [None] * len(events)

    def fire(index, event):
        try:
            connection.ensure_connection()
            barrier.wait()
            result = services.instance_event_fire(instance_id=instance_id, event=event)
            outcomes[index] = result["state"]
        except PlatformError as exc:
            outcomes[index] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=fire, args=(i, e)) for i, e in enumerate(events)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _assert_history_is_one_chain(instance: Instance) -> None:
    hops = list(instance.history.values_list("from_state", "to_state"))
    for (_, previous_to), (from_state, _) in zip(hops, hops[1:], strict=False):
        assert from_state == previous_to, hops
    assert hops[-1][1] == instance.state


def test_twenty_concurrent_e4_apply_exactly_as_a_serial_order_allows():
    instance = _instance_in(["E1", "E2", "E3"])
    assert instance.state == "S3"

    outcomes = _fire_at_once(instance.pk, ["E4"] * 20)

    # Serially: the first two E4 return to S3 through C2, the third reaches S4, the rest
    # find no E4 from S4.
    assert Counter(outcomes) == {"S3": 2, "S4": 1, "NO_TRANSITION": 17}
    instance.refresh_from_db()
    assert instance.state == "S4"
    assert instance.event_counts["E4"] == 3
    assert instance.events.filter(event="E4").count() == 3
    _assert_history_is_one_chain(instance)


def test_twenty_concurrent_self_transitions_all_apply_and_none_is_lost():
    instance = _instance_in(["E1"])
    outcomes = _fire_at_once(instance.pk, ["E11"] * 20)
    assert outcomes == ["S1"] * 20
    instance.refresh_from_db()
    assert instance.event_counts["E11"] == 20
    assert instance.revision == 21  # E1 and twenty E11
    assert instance.history.filter(event="E11").count() == 20
    _assert_history_is_one_chain(instance)


@pytest.fixture
def short_lock_timeout(transactional_db):
    """Every new connection waits 300 ms for a lock, as EVENT_LOCK_TIMEOUT_MS=300 sets it."""

    def shorten(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")

    connection_created.connect(shorten)
    connection.close()
    yield
    connection_created.disconnect(shorten)
    connection.close()


def test_an_event_that_waits_too_long_for_the_lock_fails_fast_with_retry_after(
    business, short_lock_timeout
):
    instance = _instance_in([])
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock():
        close_old_connections()
        with transaction.atomic():
            Instance.objects.select_for_update().get(pk=instance.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(5)
        _schema()  # the answer's schema check loads it once: not the event's time
        started = time.monotonic()
        response = business.post(
            f"/api/v1/instances/{instance.pk}/events/", {"event": "E1"}, format="json"
        )
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join()

    assert response.status_code == 409
    assert response.json()["code"] == "INSTANCE_BUSY"
    assert response["Retry-After"] == "1"
    assert waited < 2
    instance.refresh_from_db()
    assert instance.state == "START" and instance.revision == 0
