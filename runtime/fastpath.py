"""The sync event on PostgreSQL in two prepared statements, under the instance's row lock.

Events on one instance are serialised: two concurrent events never both apply from the same
state. This path does it with a row lock (LOCK is `SELECT ... FOR UPDATE`), held while the
event decides, calls its actions and writes; it is the path of every event whose path calls
an action (an HTTP call cannot be undone) or writes timers or outbox rows, and of an event
that lost the compare-and-set race too often. An event without any of those takes the
compare-and-set of runtime/cas.py instead, which reads with LOCK minus its lock.

The ORM path spends most of an event compiling and instantiating queries: the locking
select, the replay/pending check and four writes. Here one prepared statement locks the
instance and answers the replay and pending questions, and one prepared statement writes
the event record, its history hops and the instance. Everything else is the ORM path's own
code: the engine, the expectations, the actions, the outcome, the timers and the outbox, so
the two paths cannot drift apart. SQLite, and every other write, keeps the ORM.

What is measured per event is kept lean (`make bench`): the instance, its flow and machine
and the event are plain slotted objects with the attributes that shared code reads, not
Django models (building four models cost more than the engine step), and JSON travels as
text cast in SQL, the hops as one JSON array, which psycopg adapts far faster than Jsonb
and array parameters.

The statements run on a plain (server-binding) psycopg cursor of Django's own connection,
inside the caller's `transaction.atomic()`, so they share its transaction; psycopg errors
are turned into Django's (a lock timeout stays an OperationalError: 409 INSTANCE_BUSY).
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from clients.access import GRANT_SQL, grant_user_id
from config.exceptions import NotFound
from runtime import outbox, timers
from runtime.apply import decide_and_act, event_outcome
from runtime.statements import json_text, json_value, run_prepared

# The replay record is joined on the requestId (NULL joins nothing); the pending count uses
# the partial index event_pending_idx. FOR UPDATE OF i locks the instance row only. The
# grant check is part of the WHERE clause: an instance of a flow the caller may not see is
# neither found nor locked, and access costs no statement of its own.
LOCK = f"""
SELECT i.state, i.context, i.event_counts, i.business_key, i.created_at, i.machine_id,
       i.flow_id, i.revision, m.revision, m.created_at, f.code, f.has_subscribers,
       (SELECT count(*) FROM runtime_eventrecord p
         WHERE p.instance_id = i.id AND p.status IN ('accepted', 'processing')),
       r.id, r.fingerprint, r.result
  FROM runtime_instance i
  JOIN machines_machine m ON m.id = i.machine_id
  JOIN machines_flow f ON f.id = i.flow_id
  LEFT JOIN runtime_eventrecord r ON r.instance_id = i.id AND r.request_id = %(request_id)s
 WHERE i.id = %(id)s AND {GRANT_SQL}
   FOR UPDATE OF i
"""

# What every write of a decided event sets on the instance (here, in runtime/cas.py and in
# runtime/batches.py): its new state, context, counts and revision.
SET_INSTANCE = """
     SET state = %(state)s, context = %(new_context)s::jsonb,
         event_counts = %(event_counts)s::jsonb, revision = %(next_revision)s,
         updated_at = %(now)s"""


def history_hops(record: str, source: str) -> str:
    """The `hops` CTE of those writes: one history row per hop, from a JSON array of
    [event, from, to, transition id] in order, for the event record `record` (an SQL
    expression), written only if the CTE `source` returned a row."""
    return f"""hops AS (
  INSERT INTO runtime_historyentry (instance_id, event_record_id, event, from_state, to_state,
      transition_id, request_id, at)
  SELECT %(id)s, {record}, h.hop->>0, h.hop->>1, h.hop->>2, (h.hop->>3)::bigint,
      %(request_id)s::varchar, %(now)s
    FROM {source}, jsonb_array_elements(%(hops)s::jsonb) WITH ORDINALITY AS h(hop, n)
   ORDER BY h.n
)"""


# The three writes of apply.apply_event in one statement: the record, its history hops and
# the instance's new state, context, counts and revision.
WRITE = f"""
WITH rec AS (
  INSERT INTO runtime_eventrecord (instance_id, event, role, context, request_id, fingerprint,
      status, result, error, created_at, finished_at, is_async, expected_state,
      entry_revision, callback_url, attempts, next_attempt_at)
  VALUES (%(id)s, %(event)s, %(role)s::integer, %(context)s::jsonb, %(request_id)s::varchar,
      %(fingerprint)s, 'done', %(result)s::jsonb, NULL, %(now)s, %(now)s, false,
      %(expected_state)s::varchar, NULL, NULL, 0, NULL)
  RETURNING id
), {history_hops("rec.id", "rec")}, upd AS (
  UPDATE runtime_instance{SET_INSTANCE}
   WHERE id = %(id)s
)
SELECT id FROM rec
"""


@dataclass(slots=True)
class FlowRow:
    pk: int
    code: str
    has_subscribers: bool


@dataclass(slots=True)
class MachineRow:  # what machines.compiled.compiled_machine keys its cache on
    pk: int
    revision: int
    created_at: datetime


@dataclass(slots=True)
class InstanceRow:
    """The locked instance: the attributes the engine, actions, timers and outbox read."""

    pk: int
    business_key: str
    state: str
    context: dict
    event_counts: dict
    revision: int
    created_at: datetime
    flow: FlowRow
    machine: MachineRow

    @property
    def flow_id(self) -> int:
        return self.flow.pk

    @property
    def machine_id(self) -> int:
        return self.machine.pk


@dataclass(slots=True)
class SyncEvent:
    """A sync event on its way to its record: the EventRecord attributes the shared code uses."""

    event: str
    role: int | None = None
    context: dict | None = None
    request_id: str | None = None
    expected_state: str | None = None
    fingerprint: str = ""
    pk: int | None = None
    instance: InstanceRow | None = None
    status: str | None = None
    result: dict | None = None
    error: dict | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    is_async: bool = False
    entry_revision: int | None = None
    callback_url: str | None = None


def lock_instance(instance_id: int, request_id: str | None, user=None):
    """(instance, replay record or None, pending async events) with the row locked.

    The instance carries its flow and machine; the replay record has its id, requestId,
    fingerprint and result. An instance of a flow `user` may not see is NotFound.
    """
    return read_instance(run_prepared, LOCK, instance_id, request_id, user)


def read_instance(run, statement: str, instance_id: int, request_id: str | None, user=None):
    """(instance, replay or None, pending) from LOCK or its lock-free twin (runtime/cas.py),
    run by `run` (run_prepared, or statements.execute outside a transaction)."""
    params = {"id": instance_id, "request_id": request_id, "user_id": grant_user_id(user)}
    row = run(statement, params)
    if row is None:
        raise NotFound(f"No instance with id {instance_id}.", {"instanceId": instance_id})
    instance = instance_row(instance_id, row[:12])
    pending, replay_id, replay_fingerprint, replay_result = row[12:]
    replay = None
    if replay_id is not None:  # only what services._same_body and event_outcome read
        replay = SyncEvent(
            event="",
            pk=replay_id,
            request_id=request_id,
            fingerprint=replay_fingerprint,
            result=json_value(replay_result),
        )
    return instance, replay, pending


def instance_row(instance_id: int, row: tuple) -> InstanceRow:
    """The instance from the twelve columns LOCK starts with (the batches select them too)."""
    (state, context, counts, business_key, created_at, machine_id, flow_id, revision,
     m_revision, m_created_at, flow_code, has_subscribers) = row  # fmt: skip
    return InstanceRow(
        pk=instance_id,
        business_key=business_key,
        state=state,
        context=json_value(context),
        event_counts=json_value(counts),
        revision=revision,
        created_at=created_at,
        flow=FlowRow(pk=flow_id, code=flow_code, has_subscribers=has_subscribers),
        machine=MachineRow(pk=machine_id, revision=m_revision, created_at=m_created_at),
    )


def apply_event(instance: InstanceRow, record: SyncEvent) -> dict:
    """apply.apply_event for a sync event, its three ORM writes made one statement."""
    now = timezone.now()
    compiled, decision, merged = decide_and_act(instance, record, now)
    record.created_at = now
    params = write_params(instance, record, decision, merged, now)
    (record.pk,) = run_prepared(WRITE, {**params, "next_revision": instance.revision + 1})
    instance.revision += 1  # the timers armed now remember the revision of this entry
    instance.state, instance.context = decision.to_state, merged  # what an enterAction hears
    timers.timers_rearm(instance=instance, compiled=compiled, decision=decision, now=now)
    outbox.transition_notify(instance=instance, record=record, decision=decision,
                             compiled=compiled, now=now)  # fmt: skip
    return event_outcome(record)


def write_params(instance: InstanceRow, record: SyncEvent, decision, merged: dict, now) -> dict:
    """What a statement writing a decided sync event needs: the record, its history hops (a
    JSON array of [event, from, to, transition id]) and the instance's new state, context and
    counts. The new revision (and, for a compare-and-set, the one read) come from each caller."""
    counts = {**instance.event_counts, record.event: instance.event_counts.get(record.event, 0) + 1}
    hops = [[h.event, h.from_state, h.to_state, h.transition.id] for h in decision.hops]
    return {
        "id": instance.pk,
        "event": record.event,
        "role": record.role,
        "context": json_text(record.context),
        "request_id": record.request_id,
        "fingerprint": record.fingerprint,
        "result": json_text(record.result),
        "now": now,
        "expected_state": record.expected_state,
        "hops": json_text(hops),
        "state": decision.to_state,
        "new_context": json_text(merged),
        "event_counts": json_text(counts),
    }
