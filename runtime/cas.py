"""The sync event on PostgreSQL without a row lock: a compare-and-set, for paths without actions.

Events on one instance are serialised: two concurrent events never both apply from the same
state. The locking path (runtime/fastpath.py) does it with a row lock, `SELECT ... FOR UPDATE`,
held while it decides, calls the actions and writes. It stays the path for every event whose
path calls an action, since an HTTP call cannot be undone. An event whose path calls none
needs no lock: READ is the locking path's statement without FOR UPDATE (the instance, the
grant check, the requestId replay and the pending async events), the engine decides with the
shared code (runtime/apply.py), and WRITE is one statement that writes the instance only where
its revision (and version) is still the one read and no async event waits, and the event
record and its history hops only if that write happened. Outside a transaction both run in
autocommit: two round trips, no BEGIN or COMMIT. A concurrent event that wrote first makes
WRITE write nothing (its UPDATE waits for the row, then finds another revision); the event
then reads and decides again, up to TRIES times, and after that takes the locking path, which
waits its turn (409 INSTANCE_BUSY past the lock timeout) instead of failing under contention.

The paths that write more take the locking path from the start, decided again under the
lock, which may decide differently: a hop with an action, a flow with subscribers (outbox rows
in the same transaction), a state entered that has an enterAction (its outbox row, likewise),
a state left or entered with timers (timers re-armed with the new revision). The same
requestId sent twice at once cannot apply twice: the second WRITE loses on the revision or,
if its instance changed meanwhile, on the unique (instance, requestId) of the event records;
either way it reads again and answers the replay.
"""

from contextlib import nullcontext

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone

from runtime.apply import decide, event_outcome, has_actions, record_done, writes_more
from runtime.fastpath import LOCK, SET_INSTANCE, InstanceRow, SyncEvent, history_hops, write_params
from runtime.fastpath import read_instance as fastpath_read
from runtime.statements import execute, run_prepared

TRIES = 3  # reads and decisions before the event waits for the lock instead
LOCKED = "locked"  # apply_event: this event takes the locking path
LOST = "lost"  # apply_event: another event wrote first; read and decide again

READ = LOCK.replace("FOR UPDATE OF i", "")
assert READ != LOCK, "READ is LOCK without its lock"

# Nothing at all unless the instance is still at the revision and version decided on and no
# async event waits (a scalar subquery on event_pending_idx, as in runtime/batches.py).
WRITE = f"""
WITH upd AS (
  UPDATE runtime_instance{SET_INSTANCE}
   WHERE id = %(id)s AND revision = %(revision)s AND machine_id = %(machine_id)s
     AND (SELECT p.id FROM runtime_eventrecord p
           WHERE p.instance_id = %(id)s AND p.status IN ('accepted', 'processing')
           LIMIT 1) IS NULL
  RETURNING id
), rec AS (
  INSERT INTO runtime_eventrecord (instance_id, event, role, context, request_id, fingerprint,
      status, result, error, created_at, finished_at, is_async, expected_state,
      entry_revision, callback_url, attempts, next_attempt_at)
  SELECT upd.id, %(event)s, %(role)s::integer, %(context)s::jsonb, %(request_id)s::varchar,
      %(fingerprint)s, 'done', %(result)s::jsonb, NULL, %(now)s, %(now)s, false,
      %(expected_state)s::varchar, NULL, NULL, 0, NULL
    FROM upd
  RETURNING id
), {history_hops("rec.id", "rec")}
SELECT id FROM rec
"""


def read_instance(instance_id: int, request_id: str | None, user=None):
    """fastpath.lock_instance without the lock: (instance, replay or None, pending events)."""
    # statements.execute connects first: outside a transaction nobody may have.
    return fastpath_read(execute, READ, instance_id, request_id, user)


def needs_lock(instance: InstanceRow, compiled, decision) -> bool:
    """Whether the event calls out, or writes more than the instance, its record and history."""
    return has_actions(decision) or writes_more(instance, compiled, decision)


def apply_event(instance: InstanceRow, record: SyncEvent):
    """The event's outcome if WRITE applied it; LOST if another event wrote first; LOCKED if
    its path must take the lock. Refusals (expectedState, no transition) raise as usual."""
    if instance.flow.has_subscribers:  # known before deciding: no decision made twice
        return LOCKED
    now = timezone.now()
    compiled, decision, merged = decide(instance, record)
    if needs_lock(instance, compiled, decision):
        return LOCKED
    record_done(record, instance, decision, [None] * len(decision.hops), now)
    record.created_at = now
    params = {
        **write_params(instance, record, decision, merged, now),
        "revision": instance.revision,
        "next_revision": instance.revision + 1,
        "machine_id": instance.machine.pk,
    }
    # In a caller's transaction a savepoint keeps it usable after a requestId clash; in
    # autocommit the failed statement took nothing with it.
    db = connections[DEFAULT_DB_ALIAS]
    try:
        with transaction.atomic() if db.in_atomic_block else nullcontext():
            row = run_prepared(WRITE, params)
    except IntegrityError:  # the same requestId stored meanwhile: the replay answers
        return LOST
    if row is None:
        return LOST
    (record.pk,) = row
    instance.revision += 1
    return event_outcome(record)
