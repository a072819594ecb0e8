"""Accepting an async event on PostgreSQL in one prepared statement (transaction 1).

The ORM path asks three questions before its insert: does the instance exist (of a flow the
caller may see), was this requestId stored already, and only then writes. Here one statement
finds the instance with the grant check (clients/access.py GRANT_SQL), inserts the record
with `ON CONFLICT (instance_id, request_id) DO NOTHING` and returns the record stored earlier
under the requestId, if any. In autocommit that is one round trip, no BEGIN or COMMIT.

A requestId stored by a request that committed after this statement began is neither
inserted again (the unique index waits for it) nor visible to the statement's snapshot: the
rare empty answer is read once more with a fresh snapshot (`event_by_request_id`).
"""

from dataclasses import dataclass

from django.utils import timezone

from clients.access import GRANT_SQL
from runtime.statements import execute, json_text

_INSERT = """
  INSERT INTO runtime_eventrecord (instance_id, event, role, context, request_id, fingerprint,
      status, result, error, created_at, finished_at, is_async, expected_state,
      entry_revision, callback_url, attempts, next_attempt_at)
  SELECT i.id, %(event)s, %(role)s::integer, %(context)s::jsonb, %(request_id)s::varchar,
      %(fingerprint)s, 'accepted', NULL, NULL, %(now)s, NULL, true,
      %(expected_state)s::varchar, %(entry_revision)s::integer, %(callback_url)s::varchar, 0,
      NULL
    FROM i
  ON CONFLICT (instance_id, request_id) WHERE request_id IS NOT NULL DO NOTHING
  RETURNING id
"""

# The answer: the instance (none: not found or not visible), the new record (none: the
# requestId is taken) and the record stored under the requestId before this statement.
_ANSWER = """
SELECT i.id, new.id, r.id, r.fingerprint, r.status
  FROM i LEFT JOIN new ON true
  LEFT JOIN runtime_eventrecord r ON r.instance_id = i.id AND r.request_id = %(request_id)s
"""

ACCEPT_BY_ID = f"""
WITH i AS (
  SELECT i.id FROM runtime_instance i WHERE i.id = %(id)s AND {GRANT_SQL}
), new AS ({_INSERT})
{_ANSWER}
"""

ACCEPT_BY_KEY = f"""
WITH i AS (
  SELECT i.id FROM runtime_instance i JOIN machines_flow f ON f.id = i.flow_id
   WHERE f.code = %(flow)s AND i.business_key = %(business_key)s AND {GRANT_SQL}
), new AS ({_INSERT})
{_ANSWER}
"""


@dataclass(slots=True)
class Accepted:
    """What the statement answered: `instance_id` None when no visible instance matched."""

    instance_id: int | None
    record_id: int | None
    replay_id: int | None = None
    replay_fingerprint: str = ""
    replay_status: str = ""


def accept_statement(record, *, user_id, instance_id=None, flow=None, business_key=None):
    """Run the accepting statement for `record` (event, role, context, requestId, ...)."""
    params = {
        "event": record.event,
        "role": record.role,
        "context": json_text(record.context),
        "request_id": record.request_id,
        "fingerprint": record.fingerprint,
        "now": timezone.now(),
        "expected_state": record.expected_state,
        "entry_revision": record.entry_revision,
        "callback_url": record.callback_url,
        "user_id": user_id,
    }
    if instance_id is not None:
        row = execute(ACCEPT_BY_ID, {**params, "id": instance_id})
    else:
        row = execute(ACCEPT_BY_KEY, {**params, "flow": flow, "business_key": business_key})
    if row is None:
        return Accepted(instance_id=None, record_id=None)
    return Accepted(*row[:2], row[2], row[3] or "", row[4] or "")
