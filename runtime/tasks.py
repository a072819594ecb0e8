"""Celery tasks: thin, they take ids and call the service of the same name.

`statecenter.submit_event` is the documented way for other systems to send an event through
the broker instead of REST: payload {token, flow, businessKey, event, context?, role?,
requestId?}, checked like a REST request (runtime/apis/broker.py).
"""

import logging

from celery import shared_task

from config.exceptions import NotFound, PlatformError
from runtime import async_events, batches, outbox, sweep
from runtime.apis import broker

logger = logging.getLogger(__name__)


@shared_task(name="runtime.process_instance")
def process_instance(instance_id: int) -> None:
    try:
        async_events.instance_events_process(instance_id=instance_id)
    except NotFound:  # deleted since: nothing left to do
        logger.info("instance %s is gone; nothing to process", instance_id)


@shared_task(name="runtime.process_ready")
def process_ready() -> int:
    """A shared wake-up: apply whatever async events are ready, in batches."""
    return batches.events_process_ready()


@shared_task(name="runtime.send_ready")
def send_ready() -> int:
    """A shared wake-up: send whatever deliveries are due, in batches."""
    return outbox.deliveries_send_ready()


@shared_task(name="runtime.send_deliveries")
def send_deliveries(stream: str) -> None:
    """What a worker of an earlier version asked for (one stream): now any due ones."""
    outbox.deliveries_send_ready()


@shared_task(name="runtime.sweep")
def run_sweep() -> dict:
    done = sweep.sweep()
    if any(done.values()):  # Celery's own lines for this task are DEBUG (config/logs.py)
        logger.info("sweep: %s", ", ".join(f"{name} {n}" for name, n in done.items() if n))
    return done


@shared_task(name="statecenter.submit_event")
def submit_event(payload: dict) -> dict:
    """Accept an event sent through the broker, checked like an async REST event."""
    try:
        record = broker.event_submitted(payload)
    except PlatformError as exc:
        logger.warning("submitted event refused: %s %s", exc.code, exc.message)
        broker.submission_refused(payload, exc)  # for operators, in the admin
        return {"code": exc.code, "message": exc.message, "details": exc.details}
    return {"eventId": record.pk, "status": record.status}
