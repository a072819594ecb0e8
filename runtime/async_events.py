"""Async events: stored in one transaction, applied by a worker in another (docs/async.md).

Transaction 1 (`event_accept`) stores the event record as `accepted` (on PostgreSQL in one
statement, runtime/accept.py) and, once it commits, wakes the workers; wake-ups are shared
(runtime/queue.py): the database is the queue of record. Workers apply ready events in
batches (runtime/batches.py): oldest first, each instance's in acceptance order, leased in the
database, retried with backoff until the attempts run out; then the event is `failed`, the
instance unchanged, and `event_replay` can retry it, unless the failing action's transition
names an errorTarget: then the last try moves the instance there and the event is `done`.
A worker killed mid-event leaves a lease that expires; the sweeper wakes the workers again.

This module keeps the ORM path, one instance at a time (`instance_events_process`): SQLite's,
and the locked step every path takes for an event whose transitions call actions: claim it
(status `processing`, attempts + 1, a lease until `next_attempt_at`), then apply it in
transaction 2 with the instance row locked and mark it `done` in that same transaction, so a
redelivered or duplicated task finds nothing to do.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from clients.access import grant_user_id, may_act_as, visible
from config import metrics
from config.exceptions import (
    InstanceBusy,
    NotFound,
    PlatformError,
    ServiceUnavailable,
)
from config.logs import log_context
from rules import RuleError, request_budget
from runtime.accept import accept_statement
from runtime.apply import apply_event, error_target, error_target_apply
from runtime.exceptions import ActionFailed, IdempotencyMismatch, RoleForbidden, StateConflict
from runtime.models import Attempt, EventRecord, Instance
from runtime.outbox import result_notify, retry_delay
from runtime.queue import wake_workers
from runtime.services import (
    PENDING,
    event_body,
    event_by_request_id,
    fingerprint,
    lock_instance,
)
from runtime.simulation import error_body
from runtime.subscriptions import callback_url_check

logger = logging.getLogger(__name__)
RETRYABLE = (ActionFailed, InstanceBusy, ServiceUnavailable)


def event_accept(
    *,
    instance_id: int,
    event: str,
    role: int | None = None,
    context: dict | None = None,
    request_id: str | None = None,
    expected_state: str | None = None,
    callback_url: str | None = None,
    entry_revision: int | None = None,
    user=None,
) -> EventRecord:
    """Store an async event as accepted (or return the one stored under its requestId).

    The instance must be of a flow `user` may see, checked by the query that finds it.
    """
    record = _new_record(event, role, context, request_id, expected_state, callback_url)
    record.entry_revision = entry_revision
    if connection.vendor == "postgresql":
        return _accept_in_one_statement(record, user, instance_id=instance_id)
    instance = visible(Instance.objects.filter(pk=instance_id), user).only("pk").first()
    if instance is None:
        raise NotFound(f"No instance with id {instance_id}.", {"instanceId": instance_id})
    if request_id is not None:
        stored = event_by_request_id(instance, request_id, record.fingerprint)
        if stored is not None:
            return stored
    record.instance = instance
    try:
        with transaction.atomic():
            record.save()
            wake_workers()
    except IntegrityError:  # the same requestId, stored by a concurrent request
        return event_by_request_id(instance, request_id, record.fingerprint)
    return record


def _new_record(event, role, context, request_id, expected_state, callback_url) -> EventRecord:
    if callback_url:
        callback_url_check(callback_url, path="callbackUrl")
    record = EventRecord(
        event=event,
        role=role,
        context=context or {},
        request_id=request_id,
        expected_state=expected_state,
        callback_url=callback_url,
        is_async=True,
    )
    record.fingerprint = fingerprint(event_body(record)) if request_id is not None else ""
    return record


def _accept_in_one_statement(record: EventRecord, user, **instance) -> EventRecord:
    """PostgreSQL: find, check access, replay or insert in one statement (runtime/accept.py)."""
    answer = accept_statement(record, user_id=grant_user_id(user), **instance)
    if answer.instance_id is None:
        if "instance_id" in instance:
            raise NotFound(
                f"No instance with id {instance['instance_id']}.",
                {"instanceId": instance["instance_id"]},
            )
        raise NotFound(
            f"No instance {instance['business_key']!r} in flow {instance['flow']!r}.",
            {"flow": instance["flow"], "businessKey": instance["business_key"]},
        )
    record.instance_id = answer.instance_id
    if answer.record_id is not None:
        record.pk = answer.record_id
        wake_workers()
        return record
    if answer.replay_id is not None:
        stored = EventRecord(pk=answer.replay_id, request_id=record.request_id,
                             fingerprint=answer.replay_fingerprint, status=answer.replay_status,
                             instance_id=answer.instance_id)  # fmt: skip
        if stored.fingerprint != record.fingerprint:
            raise IdempotencyMismatch(
                f"requestId {record.request_id!r} was used with a different body.",
                {"requestId": record.request_id, "eventId": stored.pk},
            )
        return stored
    # Stored by a request that committed while this statement ran: read it with a new snapshot.
    return event_by_request_id(Instance(pk=answer.instance_id), record.request_id,
                               record.fingerprint)  # fmt: skip


def instance_events_process(*, instance_id: int) -> int:
    """Apply the instance's pending async events in acceptance order, as far as they go;
    how many it took."""
    taken = 0
    while (record := _claim(instance_id)) is not None:
        taken += 1
        if not event_apply_locked(record) or not _has_pending(instance_id):
            break
    return taken


def ready_events_process(*, limit: int = 100) -> int:
    """The ORM path of a wake-up: every instance whose oldest pending event is due, one at a
    time, until a pass applies nothing; how many events it took."""
    taken = 0
    while True:
        now = timezone.now()
        heads = (
            EventRecord.objects.filter(status__in=PENDING)
            .values("instance_id")
            .annotate(head=Min("id"))
            .values("head")
        )
        ready = (
            EventRecord.objects.filter(pk__in=heads)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("id")
            .values_list("instance_id", flat=True)
        )
        passed = 0
        for instance_id in list(ready[:limit]):
            try:
                passed += instance_events_process(instance_id=instance_id)
            except NotFound:  # deleted since
                continue
        if not passed:
            return taken
        taken += passed


def _has_pending(instance_id: int) -> bool:
    """Whether to claim again, asked without the lock (one light query instead of a claim).

    Missing an event accepted this very moment loses nothing: its accept wakes the workers
    again once it commits.
    """
    return EventRecord.objects.filter(instance_id=instance_id, status__in=PENDING).exists()


def _claim(instance_id: int) -> EventRecord | None:
    """The instance's oldest pending event, leased to this worker, if it is due."""
    with transaction.atomic():
        # One claimer at a time per instance; only the row lock is needed here, not the row.
        locked = Instance.objects.select_for_update().filter(pk=instance_id).values_list("pk")
        if not locked:
            raise NotFound(f"No instance with id {instance_id}.", {"instanceId": instance_id})
        record = (
            EventRecord.objects.filter(instance_id=instance_id, status__in=PENDING)
            .order_by("id")
            .first()
        )
        if record is None:
            return None
        now = timezone.now()
        if record.next_attempt_at and record.next_attempt_at > now:
            wake_workers(at=record.next_attempt_at)  # head of the line waits
            return None
        if record.attempts >= settings.ASYNC_MAX_ATTEMPTS:  # its workers died every time
            event_fail(record, "ATTEMPTS_EXHAUSTED", "The event's workers stopped every time.")
            wake_workers()  # the events behind it go on
            return None
        record.status = EventRecord.Status.PROCESSING
        record.attempts += 1
        record.next_attempt_at = now + timedelta(seconds=settings.ASYNC_LEASE_SECONDS)
        record.save(update_fields=["status", "attempts", "next_attempt_at"])
        return record


def event_apply_locked(record: EventRecord) -> bool:
    """Transaction 2 of a claimed event, its instance locked; True when the instance may go on
    to its next event.

    Each event spends its own expression budget: a hostile event queued before honest ones
    fails alone instead of using up theirs.
    """
    try:
        ids = log_context(instance_id=record.instance_id, event_id=record.pk)
        with request_budget(fresh=True), ids, transaction.atomic():
            instance = lock_instance(record.instance_id)
            lease = EventRecord.objects.filter(pk=record.pk).values_list(
                "status", "next_attempt_at"
            )[0]
            if lease != (EventRecord.Status.PROCESSING, record.next_attempt_at):
                return True  # another worker took it over after our lease ran out
            Attempt.objects.create(event_record=record, **_apply_or_divert(instance, record))
        seconds = (record.finished_at - record.created_at).total_seconds()
        metrics.async_event_ended(instance.flow.code, seconds)  # committed
    except RETRYABLE as exc:
        return _retry_or_fail(record, exc)
    except (OperationalError, InterfaceError) as exc:  # lock timeout, database gone
        return _retry_or_fail(record, ServiceUnavailable(f"Database error: {exc}"))
    except (PlatformError, RuleError) as exc:
        with transaction.atomic():
            Attempt.objects.create(event_record=record, error=exc.message)
            event_fail(record, error=error_body(exc))
    return True


def _apply_or_divert(instance: Instance, record: EventRecord) -> dict:
    """Apply the event; on its last try, a failed action whose transition names an
    errorTarget moves the instance there instead (same transaction, the instance still
    locked, nothing written yet). What its Attempt row records."""
    try:
        apply_event(instance, record)
    except ActionFailed as exc:
        target = error_target(instance, exc)
        if record.attempts < settings.ASYNC_MAX_ATTEMPTS or target is None:
            raise
        error_target_apply(instance, record, exc, target)
        logger.info("event %s went to its errorTarget: %s", record.pk, exc.message)
        return {"status": exc.details.get("status"), "error": exc.message}
    return {}


def _retry_or_fail(record: EventRecord, exc: PlatformError) -> bool:
    with transaction.atomic():
        Attempt.objects.create(
            event_record=record, status=exc.details.get("status"), error=exc.message
        )
        if record.attempts >= settings.ASYNC_MAX_ATTEMPTS:
            event_fail(record, error=error_body(exc))
            return True
        due = timezone.now() + timedelta(seconds=retry_delay(record.attempts))
        EventRecord.objects.filter(pk=record.pk).update(
            status=EventRecord.Status.ACCEPTED, next_attempt_at=due, error=error_body(exc)
        )
        wake_workers(at=due)
    logger.info("event %s will be retried: %s", record.pk, exc.message)
    return False


def event_fail(record: EventRecord, code: str = "", message: str = "", *, error=None) -> None:
    """Mark the event failed (inside the caller's transaction) and tell its callbackUrl."""
    record.status = EventRecord.Status.FAILED
    record.error = error or {"code": code, "message": message, "details": {}}
    record.finished_at = timezone.now()
    record.next_attempt_at = None
    record.save(update_fields=["status", "error", "finished_at", "next_attempt_at"])
    result_notify(record)
    instance = Instance.objects.filter(pk=record.instance_id)
    flow = instance.values_list("flow__code", flat=True).first() or ""  # rare: a query is fine
    seconds = (record.finished_at - record.created_at).total_seconds()
    code = record.error.get("code", "")
    transaction.on_commit(lambda: metrics.async_event_ended(flow, seconds, code))


@transaction.atomic
def event_replay(*, record: EventRecord) -> EventRecord:
    """Put a failed async event back in line with fresh attempts."""
    record = EventRecord.objects.select_for_update().get(pk=record.pk)
    if not (record.is_async and record.status == EventRecord.Status.FAILED):
        raise StateConflict(
            "Only a failed async event can be replayed.",
            {"eventId": record.pk, "status": record.status},
        )
    record.status = EventRecord.Status.ACCEPTED
    record.attempts = 0
    record.next_attempt_at = None
    record.finished_at = None
    record.save(update_fields=["status", "attempts", "next_attempt_at", "finished_at"])
    wake_workers()
    return record


def event_submit(
    *,
    user,
    flow_code: str,
    business_key: str,
    event: str,
    role: int | None = None,
    context: dict | None = None,
    request_id: str | None = None,
) -> EventRecord:
    """Accept an event for the instance named by flow and business key, as `user` would on
    REST: of a flow it may see, as one of its roles (idempotent on requestId)."""
    if not may_act_as(user, role):
        raise RoleForbidden(f"This client may not act as role {role}.", {"role": role})
    if connection.vendor == "postgresql":
        record = _new_record(event, role, context, request_id, None, None)
        return _accept_in_one_statement(record, user, flow=flow_code, business_key=business_key)
    instances = visible(Instance.objects.all(), user)
    instance = instances.filter(flow__code=flow_code, business_key=business_key).first()
    if instance is None:
        raise NotFound(
            f"No instance {business_key!r} in flow {flow_code!r}.",
            {"flow": flow_code, "businessKey": business_key},
        )
    return event_accept(
        instance_id=instance.pk,
        event=event,
        role=role,
        context=context,
        request_id=request_id,
        user=user,
    )
