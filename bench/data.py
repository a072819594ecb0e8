"""The benchmark's data: schema and machines through Django, bulk rows through SQL.

`python -m bench.data prepare N` migrates the database (bench.settings: the product's tables
and the django-fsm-2 peer's), imports bench/machines/*.json online and makes N API clients;
it prints their ids and tokens as JSON. It also makes one template instance per machine,
through the real services, with one applied event. The bulk load is plain SQL, for speed:
generate_series copies of the template's rows, one statement per table.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

MACHINES = Path(__file__).resolve().parent / "machines"
# What the two-choice machine's guard and cases read: the path OPEN -> C1 -> C2 -> OPEN.
CHOICE_CONTEXT = {"amount": 150, "level": "gold"}


def prepare(clients: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from clients.services import api_client_create
    from machines import services
    from runtime.services import instance_create, instance_event_fire

    call_command("migrate", verbosity=0)
    ids = {}
    for name, path, context in (
        ("plain", "plain.json", {}),
        ("choice", "two-choice.json", CHOICE_CONTEXT),
    ):
        machine = services.machine_create(
            data=json.loads((MACHINES / path).read_text()), create_flow=True
        )
        machine = services.machine_online(machine=services.machine_publish(machine=machine))
        # A template instance with one applied event: the rows the bulk load copies, so they
        # have every column the current schema has, whatever the models add.
        template = instance_create(flow_code=machine.flow.code, business_key="t", context=context)
        instance_event_fire(instance_id=template.pk, event="GO")
        ids[name] = {"machine": machine.pk, "template": template.pk}
    tokens = [
        api_client_create(name=f"bench-{n}", roles="1,2", all_flows=True)[1] for n in range(clients)
    ]
    return {**ids, "tokens": tokens}


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def clone_database(url: str, name: str) -> str:
    """A copy of `url`'s database (schema, machines, templates) named `name`; its URL."""
    source = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return with_database(url, name)


def _copy(conn, table: str, overrides: dict[str, str]) -> tuple[str, str]:
    """Column list and select list copying row `t` of `table`, with some columns replaced."""
    columns = [
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = %s AND column_name <> 'id' ORDER BY ordinal_position",
            (table,),
        )
    ]
    return ", ".join(columns), ", ".join(overrides.get(c, f"t.{c}") for c in columns)


def load_instances(url: str, *, template: int, count: int, prefix: str, events: int = 0):
    """`count` copies of the template instance in OPEN, each with its creation history row
    and `events` applied GO events (an event record and a history row each), written in
    time order as a live system would: event 1 of every instance, then event 2, ...
    Returns the new instances' id range.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT min(id), max(id) FROM runtime_historyentry WHERE instance_id = %s", (template,)
        ).fetchone()
        creation_row, event_row = rows
        event_record = conn.execute(
            "SELECT min(id) FROM runtime_eventrecord WHERE instance_id = %s", (template,)
        ).fetchone()[0]
        cols, exprs = _copy(
            conn,
            "runtime_instance",
            {
                "business_key": "%(prefix)s || g",
                "state": "'OPEN'",
                "event_counts": "jsonb_build_object('GO', %(events)s::int)",
                "revision": "%(events)s",
                "created_at": "now()",
                "updated_at": "now()",
            },
        )
        lo, hi = conn.execute(
            f"WITH new AS (INSERT INTO runtime_instance ({cols}) SELECT {exprs}"
            " FROM runtime_instance t, generate_series(1, %(count)s) g"
            " WHERE t.id = %(template)s ORDER BY g RETURNING id) SELECT min(id), max(id) FROM new",
            {"prefix": prefix, "events": events, "count": count, "template": template},
        ).fetchone()
        cols, exprs = _copy(conn, "runtime_historyentry", {"instance_id": "i", "at": "now()"})
        conn.execute(
            f"INSERT INTO runtime_historyentry ({cols}) SELECT {exprs}"
            " FROM runtime_historyentry t, generate_series(%s::bigint, %s::bigint) i"
            " WHERE t.id = %s ORDER BY i",
            (lo, hi, creation_row),
        )
        if events:
            _load_events(conn, lo, hi, events, event_record, event_row)
    return lo, hi


def _load_events(conn, lo: int, hi: int, events: int, event_record: int, event_row: int):
    ev_cols, ev_exprs = _copy(
        conn,
        "runtime_eventrecord",
        {"instance_id": "i", "created_at": "now()", "finished_at": "now()"},
    )
    h_cols, h_exprs = _copy(
        conn,
        "runtime_historyentry",
        {"instance_id": "ev.instance_id", "event_record_id": "ev.id", "at": "now()"},
    )
    conn.execute(
        f"WITH ev AS (INSERT INTO runtime_eventrecord ({ev_cols}) SELECT {ev_exprs}"
        " FROM runtime_eventrecord t, generate_series(1, %(events)s) n,"
        " generate_series(%(lo)s::bigint, %(hi)s::bigint) i"
        " WHERE t.id = %(record)s ORDER BY n, i RETURNING id, instance_id)"
        f" INSERT INTO runtime_historyentry ({h_cols}) SELECT {h_exprs}"
        " FROM runtime_historyentry t, ev WHERE t.id = %(row)s ORDER BY ev.id",
        {"events": events, "lo": lo, "hi": hi, "record": event_record, "row": event_row},
    )


def load_orders(url: str, count: int) -> tuple[int, int]:
    """The peer's rows: `count` django-fsm-2 orders in OPEN."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "WITH new AS (INSERT INTO fsmpeer_order (state, revision, updated_at)"
            " SELECT 'OPEN', 0, now() FROM generate_series(1, %s) RETURNING id)"
            " SELECT min(id), max(id) FROM new",
            (count,),
        ).fetchone()


def settle(url: str) -> dict:
    """VACUUM ANALYZE and CHECKPOINT, so no measurement pays for the load; the row counts."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("runtime_instance", "runtime_historyentry", "runtime_eventrecord")
        }


if __name__ == "__main__":
    if sys.argv[1:2] != ["prepare"]:
        sys.exit("usage: python -m bench.data prepare N_CLIENTS")
    print(json.dumps(prepare(int(sys.argv[2]))), flush=True)
