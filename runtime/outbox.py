"""The outbox: callbacks written in the event's transaction and sent by workers, in order.

Subscribers hear of every committed event that leaves an instance in a state they watch
(one notification per event, with its path through choice states); a state's enterAction
hears of each time an instance comes to rest there (runtime/entries.py); an async event's
`callbackUrl` hears its outcome or error. Each delivery belongs to a stream (a subscription
and an instance, an instance's entries, or an event); a stream's deliveries go out oldest
first, each one retried with backoff until it is delivered or out of attempts. Every try is
an Attempt row.

Sending is shared like applying (runtime/batches.py): a wake-up (`runtime.send_ready`) says
there are due deliveries, and the worker that takes it leases the heads of many streams at
once (on PostgreSQL one statement, `FOR UPDATE SKIP LOCKED`, so workers split them), calls
them side by side on SENDERS threads through the process's pooled HTTP client, records the
delivered ones together, and leases more heads as calls end. Only a stream's oldest pending
delivery is ever leased, so a stream has one call in flight and its order holds, while
different streams go out in parallel.
"""

import logging
import os
import random
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from config import metrics
from runtime.entries import enter_payload, enter_stream
from runtime.http import CallbackError, CallbackResult, post_json
from runtime.models import Attempt, Delivery, EventRecord, Subscription
from runtime.queue import wake_senders
from runtime.statements import execute, execute_all, json_value

logger = logging.getLogger(__name__)


def transition_notify(
    *, instance, record: EventRecord, decision, compiled, now, error=None
) -> None:
    """Write one notification per subscriber watching the state the event left the instance
    in, the entered state's enterAction call (runtime/entries.py) and the callbackUrl result.

    One per applied event, not one per hop: the hops through choice states are in `path`,
    and nobody is told of a choice state on its own, since no instance ever rests in one.
    `error`: the action's error, when an errorTarget took the instance where it rests.
    """
    subscriptions = ()
    if instance.flow.has_subscribers:
        subscriptions = Subscription.objects.filter(flow_id=instance.flow_id, active=True)
    deliveries = []
    for subscription in subscriptions:
        if subscription.wants(decision.to_state):
            payload = notification(subscription.pk, instance, record, decision, now)
            delivery = _delivery(
                f"s{subscription.pk}:i{instance.pk}", subscription.url, payload, now
            )
            delivery.subscription = subscription
            deliveries.append(delivery)
    url = compiled.states[decision.to_state].enter_action
    if url:
        payload = enter_payload(instance=instance, state=decision.to_state, record=record,
                                decision=decision, error=error, now=now)  # fmt: skip
        deliveries.append(_delivery(enter_stream(instance.pk), url, payload, now))
    if record.callback_url:
        deliveries.append(result_delivery(record, now))
    if deliveries:
        Delivery.objects.bulk_create(deliveries)
        wake_senders()


def instance_enter_notify(*, instance, compiled) -> None:
    """A new instance's initial state's enterAction call, if it has one (same transaction)."""
    url = compiled.states[instance.state].enter_action
    if url:
        now = instance.created_at
        payload = enter_payload(instance=instance, state=instance.state, now=now)
        _delivery(enter_stream(instance.pk), url, payload, now).save()
        wake_senders()


def notification(subscription_id: int, instance, record, decision, now) -> dict:
    """A subscriber's payload: the event, where it left the instance, and its whole path.

    A hop's `event` is the event of the transition it took: the applied event on the first
    hop, null on the automatic hops out of choice states, as in the instance's history.
    """
    return {
        "type": "transition",
        "subscriptionId": subscription_id,
        "instanceId": instance.pk,
        "businessKey": instance.business_key,
        "flow": instance.flow.code,
        "smId": instance.machine_id,
        "eventId": record.pk,
        "event": record.event,
        "requestId": record.request_id,
        "fromState": decision.from_state,
        "toState": decision.to_state,
        "state": decision.to_state,
        "path": [
            {
                "fromState": hop.from_state,
                "toState": hop.to_state,
                "transitionId": hop.transition.id,
                "event": hop.event,
            }
            for hop in decision.hops
        ],
        "at": now.isoformat(),
    }


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
        result_delivery(record, timezone.now()).save()
        wake_senders()


def _delivery(stream: str, url: str, payload: dict, now) -> Delivery:
    return Delivery(
        stream=stream,
        url=url,
        payload=payload,
        webhook_id=f"msg_{uuid.uuid4().hex}",
        next_attempt_at=now,
    )


SENDERS = 16  # calls in flight per worker process, each to a different stream
REFILL_AT = SENDERS // 2  # claim more heads when no more calls than this are in flight
PAUSE = 0.05  # seconds between looks for new heads while every call in flight is slow
TASK_SECONDS = 10.0  # then the task stops claiming and hands the rest to a new wake-up

# The due heads of the oldest streams, leased: attempts + 1 and next_attempt_at the lease's
# end, so no other claimer sees them as due, and the stream's next delivery waits for them.
CLAIM = """
WITH heads AS (
  SELECT d.id FROM runtime_delivery d
   WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s
     AND d.id = (SELECT min(p.id) FROM runtime_delivery p
                  WHERE p.stream = d.stream AND p.status = 'pending')
   ORDER BY d.next_attempt_at LIMIT %(limit)s
     FOR UPDATE SKIP LOCKED
)
UPDATE runtime_delivery d SET attempts = d.attempts + 1, next_attempt_at = %(lease)s
  FROM heads WHERE d.id = heads.id
RETURNING d.id, d.stream, d.url, d.payload, d.webhook_id, d.subscription_id, d.attempts
"""

DELIVERED = """
WITH sent AS (
  SELECT * FROM unnest(%(ids)s::bigint[], %(statuses)s::integer[]) AS s(id, status)
), done AS (
  UPDATE runtime_delivery d SET status = 'delivered', finished_at = %(now)s
    FROM sent WHERE d.id = sent.id AND d.status = 'pending'
), tried AS (
  INSERT INTO runtime_attempt (event_record_id, delivery_id, at, status, error)
  SELECT NULL, sent.id, %(now)s, sent.status, '' FROM sent
)
SELECT count(*) FROM sent
"""


def deliveries_send_ready(*, seconds: float = TASK_SECONDS) -> int:
    """Send due deliveries until none is due and none in flight; how many were tried.

    Calls go out on SENDERS threads. While they are in flight, new heads are claimed as
    calls end, so a slow receiver holds a thread, not the other streams: a stream that
    becomes due meanwhile is sent within PAUSE by the same worker.
    """
    deadline = time.monotonic() + seconds
    in_flight: dict[Future, Delivery] = {}
    tried = 0
    while True:
        claiming = time.monotonic() < deadline
        if claiming and len(in_flight) <= REFILL_AT:
            room = SENDERS - len(in_flight)
            batch = _claim_heads(room)
            if len(batch) == room:
                wake_senders()  # more is due than this worker takes: let another share it
            in_flight.update((_senders().submit(_call, d), d) for d in batch)
            tried += len(batch)
        if not in_flight:
            break
        ended, _ = wait(in_flight, timeout=PAUSE, return_when=FIRST_COMPLETED)
        _record([(in_flight.pop(call), call.result()) for call in ended])
    if not claiming:
        wake_senders()  # out of time with work left, perhaps: the next wake-up goes on
    return tried


def _claim_heads(limit: int) -> list[Delivery]:
    """Lease the due heads of up to `limit` streams, oldest due first."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.ASYNC_LEASE_SECONDS)
    if connection.vendor != "postgresql":
        return _claim_heads_orm(limit, now, lease)
    rows = execute_all(CLAIM, {"now": now, "lease": lease, "limit": limit})
    return [
        Delivery(
            pk=pk,
            stream=stream,
            url=url,
            payload=json_value(payload),
            webhook_id=webhook_id,
            subscription_id=subscription_id,
            attempts=attempts,
            next_attempt_at=lease,
        )
        for pk, stream, url, payload, webhook_id, subscription_id, attempts in sorted(rows)
    ]


def _claim_heads_orm(limit: int, now, lease) -> list[Delivery]:
    """CLAIM on SQLite, whose one writer (an IMMEDIATE transaction) keeps claimers apart."""
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING)
    heads = pending.values("stream").annotate(head=Min("id")).values("head")
    with transaction.atomic():
        batch = list(
            pending.filter(pk__in=heads, next_attempt_at__lte=now).order_by("next_attempt_at")[
                :limit
            ]
        )
        for delivery in batch:
            delivery.attempts += 1
            delivery.next_attempt_at = lease
        Delivery.objects.bulk_update(batch, ["attempts", "next_attempt_at"])
    return batch


def _record(ended: list[tuple[Delivery, CallbackResult | CallbackError]]) -> None:
    """The delivered ones together; each failed one with its retry or its end."""
    delivered = [(d, answer) for d, answer in ended if isinstance(answer, CallbackResult)]
    now = timezone.now()
    if delivered and connection.vendor == "postgresql":
        ids, statuses = [d.pk for d, _ in delivered], [answer.status for _, answer in delivered]
        execute(DELIVERED, {"ids": ids, "statuses": statuses, "now": now})
    elif delivered:
        with transaction.atomic():
            Attempt.objects.bulk_create(
                Attempt(delivery=d, status=answer.status) for d, answer in delivered
            )
            Delivery.objects.filter(pk__in=[d.pk for d, _ in delivered]).update(
                status=Delivery.Status.DELIVERED, finished_at=now
            )
    if delivered:
        metrics.DELIVERIES.labels(metrics.DELIVERED).inc(len(delivered))
    for delivery, answer in ended:
        if isinstance(answer, CallbackError):
            _failed(delivery, answer)


def _call(delivery: Delivery) -> CallbackResult | CallbackError:
    try:
        with metrics.DELIVERY_SECONDS.time():
            return post_json(delivery.url, delivery.payload, message_id=delivery.webhook_id)
    except CallbackError as exc:
        return exc


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _senders() -> ThreadPoolExecutor:
    """The process's sending threads, made again after a fork (threads do not fork)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(SENDERS, thread_name_prefix="statecenter-send"))
    return _pool[1]


def _failed(delivery: Delivery, exc: CallbackError) -> None:
    """Record a failed try: a retry after a backoff, or the end of the delivery."""
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
            transaction.on_commit(metrics.DELIVERIES.labels(metrics.FAILED).inc)
            return  # the stream goes on without it
        due = now + timedelta(seconds=retry_delay(delivery.attempts, exc.retry_after))
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=due)
        wake_senders(at=due)
        transaction.on_commit(metrics.DELIVERIES.labels(metrics.RETRIED).inc)


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter after `attempts` tries, or what Retry-After asked."""
    ceiling = settings.ASYNC_RETRY_MAX_SECONDS
    if retry_after is not None:
        return min(max(retry_after, 0.0), ceiling)
    backoff = min(ceiling, settings.ASYNC_RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    return backoff * random.uniform(0.5, 1.0)
