"""Prepared statements on Django's own connection: the hot paths' hand-written SQL.

The sync fast path, the one-statement accept, the async batches and the delivery claims
run their statements here, on a plain (server-binding) psycopg cursor of the connection
Django holds, so they share its transaction, its errors (a lock timeout stays an
OperationalError) and its query log (DEBUG and CaptureQueriesContext see them like any other).
JSON travels as text cast in SQL, which psycopg adapts far faster than Jsonb parameters.
"""

import json
import time

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

NEVER_BY_COUNT = 2**31 - 1  # psycopg's prepare_threshold: only prepare=True statements


def execute(sql: str, params: dict) -> tuple | None:
    """Run a prepared statement and return its one row; in autocommit outside a transaction,
    where Django may not be connected yet."""
    connections[DEFAULT_DB_ALIAS].ensure_connection()
    return run_prepared(sql, params)


def execute_all(sql: str, params: dict) -> list[tuple]:
    """execute, for a statement of many rows: all of them."""
    connections[DEFAULT_DB_ALIAS].ensure_connection()
    return run_prepared(sql, params, rows=True)


def run_prepared(sql: str, params: dict, *, rows: bool = False):
    """Run a prepared statement on the open connection, in its transaction if one is open,
    and return its one row (or, with `rows`, all of them)."""
    start = time.monotonic()
    # The wrapper itself, not django.db.connection: every attribute read through that proxy
    # is a context-local lookup, and this runs on every event.
    db = connections[DEFAULT_DB_ALIAS]
    raw = db.connection
    if raw.prepare_threshold is None:
        # Django connects with prepare_threshold=None unless OPTIONS set one, and psycopg then
        # prepares nothing, prepare=True included. A threshold no statement reaches prepares
        # ours only: Django's own cursors bind on the client and are never prepared.
        raw.prepare_threshold = NEVER_BY_COUNT
    # A server-binding cursor, so that the statement can be prepared.
    with db.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        found = cursor.fetchall() if rows else cursor.fetchone()
    if db.queries_logged:
        db.queries_log.append({"sql": sql, "time": f"{time.monotonic() - start:.3f}"})
    return found


def json_value(value):
    # Django registers jsonb to load as text on its connections (its JSONField decodes it).
    return json.loads(value) if isinstance(value, str) else value


def json_text(value) -> str:
    return json.dumps(value)  # as Django's JSONField encodes (its default encoder)
