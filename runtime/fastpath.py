"""The sync event on PostgreSQL in two prepared statements (issue 7, DESIGN.md 4 and 7).

The ORM path spends most of an event compiling and instantiating queries: the locking
select, the replay/pending check and four writes. Here one prepared statement locks the
instance and answers the replay and pending questions, and one prepared statement writes
the event record, its history hops and the instance. Everything else is the ORM path's own
code: the engine, the expectations, the actions, the outcome, the timers and the outbox, so
the two paths cannot drift apart. SQLite, and every other write, keeps the ORM.

The statements run on a plain (server-binding) psycopg cursor of Django's own connection,
inside the caller's `transaction.atomic()`, so they share its transaction; psycopg errors
are turned into Django's (a lock timeout stays an OperationalError: 409 INSTANCE_BUSY).
"""

import json
import time

import psycopg
from django.db import connection
from django.utils import timezone
from psycopg.types.json import Jsonb

from config.exceptions import NotFound
from machines.models import Flow, Machine
from runtime import outbox, timers
from runtime.apply import decide_and_act, event_outcome
from runtime.models import EventRecord, Instance

NEVER_BY_COUNT = 2**31 - 1  # psycopg's prepare_threshold: only prepare=True statements

# The replay record is joined on the requestId (NULL joins nothing); the pending count uses
# the partial index event_pending_idx. FOR UPDATE OF i locks the instance row only.
LOCK = """
SELECT i.state, i.context, i.event_counts, i.business_key, i.created_at, i.machine_id,
       i.flow_id, i.revision, m.revision, m.created_at, f.code, f.has_subscribers,
       (SELECT count(*) FROM runtime_eventrecord p
         WHERE p.instance_id = i.id AND p.status IN ('accepted', 'processing')),
       r.id, r.fingerprint, r.result
  FROM runtime_instance i
  JOIN machines_machine m ON m.id = i.machine_id
  JOIN machines_flow f ON f.id = i.flow_id
  LEFT JOIN runtime_eventrecord r ON r.instance_id = i.id AND r.request_id = %(request_id)s
 WHERE i.id = %(id)s
   FOR UPDATE OF i
"""

# The three writes of apply.apply_event in one statement: the record, one history row per
# hop (the hop arrays, in order) and the instance's new state, context, counts and revision.
WRITE = """
WITH rec AS (
  INSERT INTO runtime_eventrecord (instance_id, event, role, context, request_id, fingerprint,
      status, result, error, created_at, finished_at, is_async, expected_state,
      entry_revision, callback_url, attempts, next_attempt_at)
  VALUES (%(id)s, %(event)s, %(role)s::integer, %(context)s, %(request_id)s::varchar,
      %(fingerprint)s, 'done', %(result)s, NULL, %(now)s, %(now)s, false,
      %(expected_state)s::varchar, NULL, NULL, 0, NULL)
  RETURNING id
), hops AS (
  INSERT INTO runtime_historyentry (instance_id, event_record_id, event, from_state, to_state,
      transition_id, request_id, at)
  SELECT %(id)s, rec.id, h.event, h.from_state, h.to_state, h.transition_id,
      %(request_id)s::varchar, %(now)s
    FROM rec, unnest(%(hop_events)s::varchar[], %(hop_from)s::varchar[], %(hop_to)s::varchar[],
      %(hop_transitions)s::bigint[]) WITH ORDINALITY AS h(event, from_state, to_state,
      transition_id, n)
   ORDER BY h.n
), upd AS (
  UPDATE runtime_instance
     SET state = %(state)s, context = %(new_context)s, event_counts = %(event_counts)s,
         revision = %(revision)s, updated_at = %(now)s
   WHERE id = %(id)s
)
SELECT id FROM rec
"""


def lock_instance(instance_id: int, request_id: str | None):
    """(instance, replay record or None, pending async events) with the row locked.

    The instance carries its flow and machine as light objects with the fields the engine,
    the actions, the timers and the outbox read; the replay record has its id, requestId,
    fingerprint and result.
    """
    row = _execute(LOCK, {"id": instance_id, "request_id": request_id})
    if row is None:
        raise NotFound(f"No instance with id {instance_id}.", {"instanceId": instance_id})
    (state, context, counts, business_key, created_at, machine_id, flow_id, revision,
     m_revision, m_created_at, flow_code, has_subscribers, pending,
     replay_id, replay_fingerprint, replay_result) = row  # fmt: skip
    instance = Instance(
        pk=instance_id,
        business_key=business_key,
        state=state,
        context=_json(context),
        event_counts=_json(counts),
        revision=revision,
        created_at=created_at,
    )
    instance.flow = Flow(pk=flow_id, code=flow_code, has_subscribers=has_subscribers)
    instance.machine = Machine(pk=machine_id, revision=m_revision, created_at=m_created_at)
    _stored(instance)
    replay = None
    if replay_id is not None:
        replay = EventRecord(
            pk=replay_id,
            request_id=request_id,
            fingerprint=replay_fingerprint,
            result=_json(replay_result),
        )
        _stored(replay)
    return instance, replay, pending


def apply_event(instance: Instance, record: EventRecord) -> dict:
    """apply.apply_event for a sync event, its three ORM writes made one statement."""
    now = timezone.now()
    compiled, decision, merged = decide_and_act(instance, record, now)
    record.created_at = now
    counts = {**instance.event_counts, record.event: instance.event_counts.get(record.event, 0) + 1}
    hops = decision.hops
    (record.pk,) = _execute(
        WRITE,
        {
            "id": instance.pk,
            "event": record.event,
            "role": record.role,
            "context": Jsonb(record.context),
            "request_id": record.request_id,
            "fingerprint": record.fingerprint,
            "result": Jsonb(record.result),
            "now": now,
            "expected_state": record.expected_state,
            "hop_events": [hop.event for hop in hops],
            "hop_from": [hop.from_state for hop in hops],
            "hop_to": [hop.to_state for hop in hops],
            "hop_transitions": [hop.transition.id for hop in hops],
            "state": decision.to_state,
            "new_context": Jsonb(merged),
            "event_counts": Jsonb(counts),
            "revision": instance.revision + 1,
        },
    )
    _stored(record)
    instance.state = decision.to_state
    instance.context = merged
    instance.event_counts = counts
    instance.revision += 1
    instance.updated_at = now
    timers.timers_rearm(instance=instance, compiled=compiled, decision=decision, now=now)
    outbox.transition_notify(instance=instance, record=record, decision=decision, now=now)
    return event_outcome(record)


def _execute(sql: str, params: dict) -> tuple | None:
    """Run a prepared statement in Django's transaction and return its one row.

    Django's errors (a lock timeout is an OperationalError) and Django's query log (DEBUG and
    CaptureQueriesContext see the statement like any other).
    """
    start = time.monotonic()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django connects with prepare_threshold=None unless OPTIONS set one, and psycopg then
        # prepares nothing, prepare=True included. A threshold no statement reaches prepares
        # ours only: Django's own cursors bind on the client and are never prepared.
        raw.prepare_threshold = NEVER_BY_COUNT
    # A server-binding cursor, so that the statement can be prepared.
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        row = cursor.fetchone()
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - start:.3f}"})
    return row


def _json(value):
    # Django registers jsonb to load as text on its connections (its JSONField decodes it).
    return json.loads(value) if isinstance(value, str) else value


def _stored(obj) -> None:
    obj._state.adding = False
    obj._state.db = connection.alias
