"""What /readyz checks: the database answers, no migration is pending, the broker is reachable.

Each check is bounded by TIMEOUT seconds (connect and statement timeouts), and the database
and broker checks run side by side, so a dead or silent server makes the probe answer 503 in
about TIMEOUT seconds instead of hanging. The database is reached on a connection of the
probe's own, never the process's, so a probe neither waits on nor breaks a request's.
"""

import copy
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from django.conf import settings
from django.db import connections
from django.db.migrations.loader import MigrationLoader

TIMEOUT = 2  # seconds


def problems() -> dict[str, str]:
    """The parts that are not ready, each with why; empty when everything is."""
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz")
    try:
        database = pool.submit(_database)
        broker = pool.submit(_broker)
        found = {**database.result(), **broker.result()}
    finally:
        pool.shutdown(wait=False)
    return found


def _database() -> dict[str, str]:
    connection = _probe_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        pending = _pending_migrations(connection)
    except Exception as exc:  # any failure to answer is the database's problem
        return {"database": _reason(exc)}
    finally:
        connection.close()
    if pending:
        return {"migrations": f"{len(pending)} pending: {', '.join(pending[:5])}"}
    return {}


def _probe_connection():
    """A new connection like the default one, with short connect and statement timeouts."""
    default = connections["default"]
    settings = copy.deepcopy(default.settings_dict)
    options = settings.setdefault("OPTIONS", {})
    if default.vendor == "postgresql":
        options["connect_timeout"] = TIMEOUT
        statement = f"-c statement_timeout={TIMEOUT * 1000}"
        options["options"] = f"{options.get('options', '')} {statement}".strip()
    elif default.vendor == "sqlite":
        options["timeout"] = TIMEOUT  # waiting for a lock
    return type(default)(settings, alias="readyz")


def _pending_migrations(connection) -> list[str]:
    """The migrations of this code that the database has not applied."""
    with connection.cursor() as cursor:
        if "django_migrations" not in connection.introspection.table_names(cursor):
            applied = set()
        else:
            cursor.execute("SELECT app, name FROM django_migrations")
            applied = set(cursor.fetchall())
    return [
        f"{app}.{name}"
        for (app, name), replaces in _migrations()
        if (app, name) not in applied and not (replaces and replaces <= applied)
    ]


@cache
def _migrations() -> tuple:
    """Every migration on disk, with those it replaces (a squash), read once per process:
    the code does not change under a running process, only the database does."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    nodes = sorted(graph.nodes.items())
    return tuple((key, {tuple(r) for r in migration.replaces}) for key, migration in nodes)


def _broker() -> dict[str, str]:
    from config.celery import app

    options = {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT}
    url = settings.CELERY_BROKER_URL
    try:
        with app.connection_for_write(
            url, connect_timeout=TIMEOUT, transport_options=options
        ) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=TIMEOUT)
    except Exception as exc:
        return {"broker": _reason(exc)}
    return {}


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
