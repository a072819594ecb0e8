"""The sweeper, run every few seconds by Celery beat: nothing due stays waiting.

It fires due timers, and wakes the workers for async events and deliveries that are due but
that no message will wake: the broker was down when they were stored, their worker died holding a
lease, or their retry message was lost. Processing is idempotent, so waking twice is harmless.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from runtime.async_events import event_accept
from runtime.models import Delivery, EventRecord, Timer
from runtime.queue import wake_senders, wake_workers
from runtime.services import PENDING

STALE_AFTER = timedelta(seconds=5)  # an accepted event nobody claimed within this is woken


def sweep() -> dict:
    """One pass: fire timers, wake due events and deliveries; what it did, for the logs."""
    return {
        "timers": timers_fire_due(),
        "instances": _wake_events(),
        "streams": _wake_deliveries(),
    }


def timers_fire_due(*, limit: int = 200) -> int:
    """Submit every due timer as an async event, at most once each; how many fired."""
    fired = 0
    with transaction.atomic():
        due = Timer.objects.select_for_update(skip_locked=True).filter(due_at__lte=timezone.now())
        for timer in due.order_by("due_at")[:limit]:
            event_accept(
                instance_id=timer.instance_id,
                event=timer.event,
                request_id=f"timer:{timer.instance_id}:{timer.entry_revision}:{timer.event}",
                expected_state=timer.state,
                entry_revision=timer.entry_revision,
            )
            timer.delete()
            fired += 1
    return fired


def _wake_events() -> int:
    now = timezone.now()
    due = EventRecord.objects.filter(status__in=PENDING, next_attempt_at__lte=now)
    unclaimed = EventRecord.objects.filter(
        status=EventRecord.Status.ACCEPTED,
        next_attempt_at__isnull=True,
        created_at__lte=now - STALE_AFTER,
    )
    # One shared wake-up is enough: the worker that takes it claims every ready instance.
    ready = due.exists() or unclaimed.exists()
    if ready:
        wake_workers()
    return int(ready)


def _wake_deliveries() -> int:
    due = Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now() - STALE_AFTER
    )
    # One shared wake-up, as for events: the worker that takes it sends every due head.
    ready = due.exists()
    if ready:
        wake_senders()
    return int(ready)
