"""Applying ready async events in batches: transaction 2 of an async event, on PostgreSQL.

A wake-up (`runtime.process_ready`) says only that there is work. The worker that takes it
claims the oldest ready instances at once: those whose oldest pending event is due. The claim
is one short transaction: lock those instance rows (`FOR NO KEY UPDATE SKIP LOCKED`, so
claimers split the work and an accept's foreign-key check never waits), then, with a fresh
snapshot taken after the locks, lease every pending event of each: status `processing`,
`next_attempt_at` the lease's end, which is also the lease's token. Another claimer finds
these instances' oldest events leased and skips them, so an instance has one worker at a time.

Then each instance's events are applied in acceptance order, each with its own expression
budget. An event whose path calls no action takes a compare-and-set instead of a row lock: the
engine decides from the instance as claimed (or as the previous event left it), and one
prepared statement writes the instance only where its revision is still the one decided on
and the lease still ours, and then the record (done, attempts + 1), the history hops and the
attempt row. In autocommit that is the event's one round trip; timers, subscribers or a
callbackUrl add ORM writes, and then it runs in a transaction with them. An event whose path
calls an action takes the locked step (async_events._apply): its attempt is counted and
committed first, since an HTTP call cannot be undone. After that step, a lost race, a retry
or a failure to write, the instance's other events are released for a later claim, which
reads the instance afresh.

Attempts are counted per try: before an action, or with the outcome of an event without one.
A worker killed while deciding an event without actions (bounded by its expression budget)
leaves it uncounted, so it is tried again after the lease; a worker killed during an action
has counted it, so an event that kills its worker every time fails after its attempts.
"""

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from config import metrics
from config.exceptions import PlatformError
from config.logs import log_context
from rules import RuleError, request_budget
from runtime import async_events, outbox, timers
from runtime.apply import decide, has_actions, record_done, writes_more
from runtime.fastpath import SET_INSTANCE, InstanceRow, history_hops, instance_row
from runtime.models import Attempt, EventRecord
from runtime.queue import wake_workers
from runtime.simulation import error_body
from runtime.statements import execute, execute_all, json_text, json_value

logger = logging.getLogger(__name__)
PROCESSING = EventRecord.Status.PROCESSING

INSTANCES = 32  # instances per claim: a full claim wakes another worker to share the rest
RUN = 50  # events of one instance per claim
TASK_SECONDS = 10.0  # then the task hands the rest to a new wake-up (time limits, fairness)

# The oldest instances whose oldest pending event is due: accepted events (event_queue_idx)
# and leases run out (event_due_idx), oldest first, each the head of its instance's line
# (an event_pending_idx probe). A plan per index, whatever the statistics say: see the model.
# A scalar subquery, not NOT EXISTS: that would become an anti-join, which a planner that
# expects one pending row may run as a scan of the whole index per candidate.
HEAD = """e.id = (SELECT min(p.id) FROM runtime_eventrecord p
                WHERE p.instance_id = e.instance_id AND p.status IN ('accepted', 'processing'))"""
CANDIDATES = f"""
SELECT i.id FROM runtime_instance i
 WHERE i.id IN (
   SELECT h.instance_id FROM (
     (SELECT e.id, e.instance_id FROM runtime_eventrecord e
       WHERE e.status = 'accepted' AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= %(now)s)
         AND {HEAD}
       ORDER BY e.id LIMIT %(limit)s)
     UNION ALL
     (SELECT e.id, e.instance_id FROM runtime_eventrecord e
       WHERE e.status = 'processing' AND e.next_attempt_at <= %(now)s AND {HEAD}
       ORDER BY e.id LIMIT %(limit)s)
   ) h ORDER BY h.id LIMIT %(limit)s)
 FOR NO KEY UPDATE OF i SKIP LOCKED
"""

# Run after CANDIDATES in the same transaction: its snapshot sees every claim committed
# before our locks were granted, so the head check holds on current rows. Per instance, its
# first RUN pending events in order (event_pending_idx), if the first one is due.
CLAIM = """
WITH run AS (
  SELECT p.id FROM unnest(%(ids)s::bigint[]) AS x(id)
  CROSS JOIN LATERAL (
    SELECT e.id, first_value(e.next_attempt_at) OVER (ORDER BY e.id) AS head_due
      FROM runtime_eventrecord e
     WHERE e.instance_id = x.id AND e.status IN ('accepted', 'processing')
     ORDER BY e.id LIMIT %(run)s) p
   WHERE p.head_due IS NULL OR p.head_due <= %(now)s
), claimed AS (
  UPDATE runtime_eventrecord e SET status = 'processing', next_attempt_at = %(lease)s
    FROM run WHERE e.id = run.id
  RETURNING e.id, e.instance_id, e.event, e.role, e.context, e.request_id, e.expected_state,
            e.entry_revision, e.callback_url, e.created_at
)
SELECT c.id, c.instance_id, c.event, c.role, c.context, c.request_id, c.expected_state,
       c.entry_revision, c.callback_url, c.created_at,
       i.state, i.context, i.event_counts, i.business_key, i.created_at, i.machine_id,
       i.flow_id, i.revision, m.revision, m.created_at, f.code, f.has_subscribers
  FROM claimed c
  JOIN runtime_instance i ON i.id = c.instance_id
  JOIN machines_machine m ON m.id = i.machine_id
  JOIN machines_flow f ON f.id = i.flow_id
 ORDER BY c.id
"""

# The compare-and-set write of one event: nothing at all unless the instance is still at
# the revision decided on and the event still leased to us.
WRITE = f"""
WITH upd AS (
  UPDATE runtime_instance{SET_INSTANCE}
   WHERE id = %(id)s AND revision = %(revision)s
     AND EXISTS (SELECT 1 FROM runtime_eventrecord r WHERE r.id = %(record)s
                  AND r.status = 'processing' AND r.next_attempt_at = %(lease)s)
  RETURNING id
), rec AS (
  UPDATE runtime_eventrecord
     SET status = 'done', result = %(result)s::jsonb, error = NULL, finished_at = %(now)s,
         next_attempt_at = NULL, attempts = attempts + 1
   WHERE id = %(record)s AND EXISTS (SELECT 1 FROM upd)
), {history_hops("%(record)s", "upd")}, tried AS (
  INSERT INTO runtime_attempt (event_record_id, delivery_id, at, status, error)
  SELECT %(record)s, NULL, %(now)s, NULL, '' FROM upd
)
SELECT count(*) FROM upd
"""

# Accepted and not retrying (a lease is never NULL), per instance on event_pending_idx; a
# scalar subquery per instance for the reason given at HEAD.
MEANWHILE = """
SELECT EXISTS (
  SELECT 1 FROM unnest(%(ids)s::bigint[]) AS x(id)
   WHERE (SELECT e.id FROM runtime_eventrecord e
           WHERE e.instance_id = x.id AND e.status IN ('accepted', 'processing')
             AND e.next_attempt_at IS NULL LIMIT 1) IS NOT NULL)
"""

RELEASE = """
UPDATE runtime_eventrecord SET status = 'accepted', next_attempt_at = NULL
 WHERE id = ANY(%(ids)s) AND status = 'processing' AND next_attempt_at = %(lease)s
"""


@dataclass(slots=True)
class Claimed:
    """A leased event: the EventRecord attributes the engine, outbox and timers read."""

    pk: int
    instance_id: int
    event: str
    role: int | None
    context: dict
    request_id: str | None
    expected_state: str | None
    entry_revision: int | None
    callback_url: str | None
    created_at: datetime
    lease: datetime
    status: str = EventRecord.Status.PROCESSING
    result: dict | None = None
    error: dict | None = None
    finished_at: datetime | None = None
    is_async: bool = True


def events_process_ready(*, seconds: float = TASK_SECONDS) -> int:
    """Apply ready async events, batch after batch, while they come in full batches; how
    many were taken.

    A batch that was not full took everything ready when it was claimed: the task ends there
    rather than chase a trickle of new events, each of which has its own wake-up on the way.
    """
    if connection.vendor != "postgresql":  # SQLite: one writer, the ORM path
        return async_events.ready_events_process()
    deadline = time.monotonic() + seconds
    taken = 0
    while time.monotonic() < deadline:
        runs = claim()
        if not runs:
            return taken
        full = len(runs) == INSTANCES
        if full:
            wake_workers()  # more is ready than one batch: let another worker share it
        # Events with actions wait for the end of the batch: a slow action then delays
        # only its own instance's events, never the other instances of the batch.
        waiting = [left for instance, events in runs if (left := run_apply(instance, events))]
        for events in waiting:
            _apply_locked(events[0])
            _release(events)
        taken += sum(len(events) for _, events in runs)
        if not full:
            if _accepted_meanwhile([instance.pk for instance, _ in runs]):
                wake_workers()
            return taken
    wake_workers()  # out of time with work left, perhaps: the next wake-up goes on
    return taken


def _accepted_meanwhile(instance_ids: list[int]) -> bool:
    """Whether events came for these instances while we held them: their wake-up found the
    instances leased to us and passed them by, so someone must look again."""
    (found,) = execute(MEANWHILE, {"ids": instance_ids})
    return found


def claim(*, limit: int = INSTANCES) -> list[tuple[InstanceRow, list["Claimed"]]]:
    """Lease the pending events of up to `limit` ready instances: [(instance, events)]."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.ASYNC_LEASE_SECONDS)
    with transaction.atomic():
        ids = [row[0] for row in execute_all(CANDIDATES, {"now": now, "limit": limit})]
        if not ids:
            return []
        rows = execute_all(CLAIM, {"ids": ids, "now": now, "lease": lease, "run": RUN})
    runs: dict[int, tuple[InstanceRow, list[Claimed]]] = {}  # oldest first, by first event
    for row in rows:
        instance_id = row[1]
        if instance_id not in runs:
            runs[instance_id] = (instance_row(instance_id, row[10:]), [])
        event = Claimed(row[0], instance_id, row[2], row[3], json_value(row[4]), *row[5:10], lease)
        runs[instance_id][1].append(event)
    return list(runs.values())


def run_apply(instance: InstanceRow, events: list[Claimed]) -> list[Claimed]:
    """Apply one instance's leased events in order, as far as the compare-and-set goes.

    Returns the events from the first one whose path calls an action (still leased, for the
    locked step); releases the rest when something else stops the run.
    """
    for n, record in enumerate(events):
        try:
            # Each event its own budget, as on the ORM path; its ids in every log line.
            ids = log_context(instance_id=instance.pk, event_id=record.pk)
            with request_budget(fresh=True), ids:
                outcome = _apply_one(instance, record)
        except Exception:
            logger.exception("event %s stopped its batch; released for a retry", record.pk)
            outcome = STOP
        if outcome is LOCKED:
            return events[n:]
        if outcome is STOP:
            _release(events[n:])
            return []
    return []


GO_ON, LOCKED, STOP = "go on", "locked", "stop"


def _apply_one(instance: InstanceRow, record: Claimed) -> str:
    """Apply one event without actions: GO_ON when the next may follow from memory."""
    try:
        compiled, decision, merged = decide(instance, record)
    except (PlatformError, RuleError) as exc:
        _fail(record, exc, instance.flow.code)
        return GO_ON
    if has_actions(decision):
        return LOCKED
    now = timezone.now()
    record_done(record, instance, decision, [None] * len(decision.hops), now)
    counts = {**instance.event_counts, record.event: instance.event_counts.get(record.event, 0) + 1}
    more = bool(record.callback_url) or writes_more(instance, compiled, decision)
    with transaction.atomic() if more else nullcontext():
        if not _write(instance, record, decision, merged, counts, now):
            return STOP  # a lost race or a lease run out: someone else has this instance
        instance.state, instance.context, instance.event_counts = decision.to_state, merged, counts
        instance.revision += 1  # the timers armed now remember the revision of this entry
        if more:
            timers.timers_rearm(instance=instance, compiled=compiled, decision=decision, now=now)
            outbox.transition_notify(instance=instance, record=record, decision=decision,
                                     compiled=compiled, now=now)  # fmt: skip
    metrics.async_event_ended(instance.flow.code, (now - record.created_at).total_seconds())
    logger.debug("applied %s: %s -> %s", record.event, decision.from_state, decision.to_state)
    return GO_ON


def _release(events: list[Claimed]) -> None:
    """Give back the events still leased to us, for a later claim that reads the instance."""
    execute(RELEASE, {"ids": [e.pk for e in events], "lease": events[0].lease})


def _write(instance, record: Claimed, decision, merged: dict, counts: dict, now) -> bool:
    hops = [[h.event, h.from_state, h.to_state, h.transition.id] for h in decision.hops]
    (written,) = execute(
        WRITE,
        {
            "id": instance.pk,
            "record": record.pk,
            "lease": record.lease,
            "revision": instance.revision,
            "next_revision": instance.revision + 1,
            "state": decision.to_state,
            "new_context": json_text(merged),
            "event_counts": json_text(counts),
            "result": json_text(record.result),
            "request_id": record.request_id,
            "hops": json_text(hops),
            "now": now,
        },
    )
    return bool(written)


def _apply_locked(record: Claimed) -> None:
    """An event whose path calls an action: count the attempt, then the locked step."""
    try:
        with (
            request_budget(fresh=True),
            log_context(instance_id=record.instance_id, event_id=record.pk),
        ):
            stored = EventRecord.objects.get(pk=record.pk)
            if (stored.status, stored.next_attempt_at) != (PROCESSING, record.lease):
                return  # our lease ran out and another worker has it
            if stored.attempts >= settings.ASYNC_MAX_ATTEMPTS:  # its workers died every time
                with transaction.atomic():
                    async_events.event_fail(stored, "ATTEMPTS_EXHAUSTED",
                                            "The event's workers stopped every time.")  # fmt: skip
                return
            counted = EventRecord.objects.filter(
                pk=record.pk, status=PROCESSING, next_attempt_at=record.lease
            ).update(attempts=F("attempts") + 1)
            if counted:  # committed before the action runs: a death mid-call counts
                stored.attempts += 1
                async_events.event_apply_locked(stored)
    except Exception:
        logger.exception("event %s failed in the locked step; released for a retry", record.pk)


def _fail(record: Claimed, exc, flow: str) -> None:
    """An event the engine refused: failed, counted, its callbackUrl told; the rest go on."""
    now = timezone.now()
    record.status, record.error = EventRecord.Status.FAILED, error_body(exc)
    record.finished_at = now
    with transaction.atomic():
        failed = EventRecord.objects.filter(
            pk=record.pk, status=EventRecord.Status.PROCESSING, next_attempt_at=record.lease
        ).update(
            status=record.status,
            error=record.error,
            finished_at=now,
            next_attempt_at=None,
            attempts=F("attempts") + 1,
        )
        if failed:
            Attempt.objects.create(event_record_id=record.pk, error=exc.message)
            outbox.result_notify(record)
    if failed:
        seconds = (now - record.created_at).total_seconds()
        metrics.async_event_ended(flow, seconds, code=record.error["code"])
