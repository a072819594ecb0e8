"""The outbox: callbacks written in the event's transaction and sent by workers, in order.

Subscribers hear of every committed hop into a state they watch; an async event's
`callbackUrl` hears its outcome or error. Each delivery belongs to a stream (a subscription
and an instance, or an event); a stream's deliveries go out oldest first, each one retried
with backoff until it is delivered or out of attempts. Every try is an Attempt row.
"""

import logging
import random
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from runtime.http import CallbackError, post_json
from runtime.models import Attempt, Delivery, EventRecord, Subscription
from runtime.queue import enqueue_stream

logger = logging.getLogger(__name__)


def transition_notify(*, instance, record: EventRecord, decision, now) -> None:
    """Write a delivery per subscriber and matching hop, and the event's result callback."""
    subscriptions = ()
    if instance.flow.has_subscribers:
        subscriptions = Subscription.objects.filter(flow_id=instance.flow_id, active=True)
    deliveries = []
    for subscription in subscriptions:
        for hop in decision.hops:
            if subscription.wants(hop.to_state):
                payload = {
                    "type": "transition",
                    "subscriptionId": subscription.pk,
                    "instanceId": instance.pk,
                    "businessKey": instance.business_key,
                    "flow": instance.flow.code,
                    "smId": instance.machine_id,
                    "eventId": record.pk,
                    "event": record.event,
                    "fromState": hop.from_state,
                    "toState": hop.to_state,
                    "transitionId": hop.transition.id,
                    "state": decision.to_state,
                    "at": now.isoformat(),
                }
                stream = f"s{subscription.pk}:i{instance.pk}"
                delivery = _delivery(stream, subscription.url, payload, now)
                delivery.subscription = subscription
                deliveries.append(delivery)
    if record.callback_url:
        deliveries.append(result_delivery(record, now))
    if deliveries:
        Delivery.objects.bulk_create(deliveries)
        for stream in {d.stream for d in deliveries}:
            enqueue_stream(stream)


def result_delivery(record: EventRecord, now) -> Delivery:
    """The callback telling an async event's caller how it ended (unsaved)."""
    payload = {"type": "event", "eventId": record.pk, "status": record.status}
    if record.result is not None:
        payload["result"] = {"eventId": record.pk, **record.result}
    if record.error is not None:
        payload["error"] = record.error
    return _delivery(f"e{record.pk}", record.callback_url, payload, now)


def result_notify(record: EventRecord) -> None:
    """Store and send the result callback of an event that failed (a done one goes with it)."""
    if record.callback_url:
        delivery = result_delivery(record, timezone.now())
        delivery.save()
        enqueue_stream(delivery.stream)


def _delivery(stream: str, url: str, payload: dict, now) -> Delivery:
    return Delivery(
        stream=stream,
        url=url,
        payload=payload,
        webhook_id=f"msg_{uuid.uuid4().hex}",
        next_attempt_at=now,
    )


def deliveries_send(*, stream: str) -> None:
    """Send a stream's due deliveries oldest first; stop at one that must wait."""
    while (delivery := _claim(stream)) is not None:
        if not _send(delivery):
            return


def _claim(stream: str) -> Delivery | None:
    """The stream's oldest pending delivery, leased to this worker, if it is due."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .filter(stream=stream, status=Delivery.Status.PENDING)
            .order_by("id")
            .first()
        )
        if delivery is None:
            return None
        now = timezone.now()
        if delivery.next_attempt_at > now:  # backing off, or leased: the head of the line waits
            enqueue_stream(stream, at=delivery.next_attempt_at)
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=settings.ASYNC_LEASE_SECONDS)
        delivery.save(update_fields=["attempts", "next_attempt_at"])
        return delivery


def _send(delivery: Delivery) -> bool:
    """Make one attempt and record it; True when the stream may go on to the next delivery."""
    try:
        result = post_json(delivery.url, delivery.payload, message_id=delivery.webhook_id)
    except CallbackError as exc:
        return _failed(delivery, exc)
    with transaction.atomic():
        Attempt.objects.create(delivery=delivery, status=result.status)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.DELIVERED, finished_at=timezone.now()
        )
    return True


def _failed(delivery: Delivery, exc: CallbackError) -> bool:
    now = timezone.now()
    gone = exc.status == 410
    with transaction.atomic():
        Attempt.objects.create(delivery=delivery, status=exc.status, error=exc.reason)
        if gone and delivery.subscription_id:  # the subscriber asked to be forgotten
            Subscription.objects.filter(pk=delivery.subscription_id).update(active=False)
        if gone or delivery.attempts >= settings.ASYNC_MAX_ATTEMPTS:
            Delivery.objects.filter(pk=delivery.pk).update(
                status=Delivery.Status.FAILED, finished_at=now
            )
            logger.warning("delivery %s failed for good: %s", delivery.webhook_id, exc.reason)
            return True  # the stream goes on without it
        due = now + timedelta(seconds=retry_delay(delivery.attempts, exc.retry_after))
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=due)
        enqueue_stream(delivery.stream, at=due)
    return False


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter after `attempts` tries, or what Retry-After asked."""
    ceiling = settings.ASYNC_RETRY_MAX_SECONDS
    if retry_after is not None:
        return min(max(retry_after, 0.0), ceiling)
    backoff = min(ceiling, settings.ASYNC_RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    return backoff * random.uniform(0.5, 1.0)
