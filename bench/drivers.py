"""The measured loops, one process each: `python -m bench.drivers KIND SPEC-JSON`.

Every driver does one unit of work per call on a random instance out of the given id range,
warms up until the shared start time `start_at` (wall clock, so parallel processes measure
the same window), then runs for `seconds` and prints one JSON line: how many calls, how many
failed, the window's length, the CPU seconds the process spent in it, and every call's
latency in microseconds.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable

MIN_WARMUP_CALLS = 50


def measure(call: Callable[[int], object], spec: dict) -> dict:
    """Warm up until spec['start_at'], then call for spec['seconds'] on random ids."""
    lo, hi = spec["ids"]
    rng = random.Random(spec.get("seed", 0))
    warm = 0
    while time.time() < spec["start_at"] or warm < MIN_WARMUP_CALLS:
        call(rng.randint(lo, hi))
        warm += 1
    begin, cpu = time.time(), time.process_time()
    end = spec["start_at"] + spec["seconds"]
    latencies, errors, first_error = [], 0, None
    clock = time.perf_counter
    while time.time() < end:
        instance_id = rng.randint(lo, hi)
        t0 = clock()
        try:
            call(instance_id)
        except Exception as exc:  # counted and reported: a benchmark must not hide failures
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"[:300]
            continue
        latencies.append(round((clock() - t0) * 1e6))
    return {
        "count": len(latencies),
        "errors": errors,
        "first_error": first_error,
        "window": time.time() - begin,
        "cpu": time.process_time() - cpu,
        "late": max(0.0, begin - spec["start_at"]),
        "latencies_us": latencies,
    }


def raw_psycopg(spec: dict) -> dict:
    """The database limit: the event's SQL by hand on one psycopg 3 connection."""
    import psycopg

    conn = psycopg.connect(spec["database_url"], autocommit=True)
    pin_backend(conn, spec)
    next_state = {("OPEN", "GO"): "OPEN"}  # bench-plain's only routing

    def call(instance_id: int) -> None:
        with conn.transaction():
            cur = conn.execute(
                "SELECT state FROM runtime_instance WHERE id = %s FOR UPDATE", (instance_id,)
            )
            source = cur.fetchone()[0]
            target = next_state[(source, "GO")]
            conn.execute(
                "UPDATE runtime_instance SET state = %s, revision = revision + 1, "
                "updated_at = now() WHERE id = %s",
                (target, instance_id),
            )
            conn.execute(
                "INSERT INTO runtime_historyentry (instance_id, event, from_state, to_state, at) "
                "VALUES (%s, 'GO', %s, %s, now())",
                (instance_id, source, target),
            )

    return measure(call, spec)


def raw_compare_and_set(spec: dict) -> dict:
    """The compare-and-set by hand, as the locking transaction above is by hand: read the
    instance without a lock, decide, and one statement in autocommit that updates the row only
    where its revision is still the one read and inserts the history row only if it did."""
    import psycopg

    conn = psycopg.connect(spec["database_url"], autocommit=True)
    pin_backend(conn, spec)
    next_state = {("OPEN", "GO"): "OPEN"}

    def call(instance_id: int) -> None:
        for _ in range(3):
            source, revision = conn.execute(
                "SELECT state, revision FROM runtime_instance WHERE id = %s", (instance_id,)
            ).fetchone()
            target = next_state[(source, "GO")]
            written = conn.execute(
                "WITH upd AS (UPDATE runtime_instance SET state = %(target)s,"
                " revision = revision + 1, updated_at = now()"
                " WHERE id = %(id)s AND revision = %(revision)s RETURNING id)"
                " INSERT INTO runtime_historyentry (instance_id, event, from_state, to_state, at)"
                " SELECT upd.id, 'GO', %(source)s, %(target)s, now() FROM upd RETURNING id",
                {"id": instance_id, "revision": revision, "source": source, "target": target},
            ).fetchone()
            if written:
                return
        raise RuntimeError("lost the race three times")

    return measure(call, spec)


def raw_statements(spec: dict) -> dict:
    """Our service's own statements by hand: the lock, the pending-events check, the event
    record, the history row and the update; what the ORM costs is the rest of its time.

    The event record is copied from the template instance's (bench.data), so it has every
    column of the current schema.
    """
    import psycopg

    conn = psycopg.connect(spec["database_url"], autocommit=True)
    pin_backend(conn, spec)
    template = conn.execute(
        "SELECT min(id) FROM runtime_eventrecord WHERE instance_id = %s", (spec["template"],)
    ).fetchone()[0]
    columns = [
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name ="
            " 'runtime_eventrecord' AND column_name <> 'id' ORDER BY ordinal_position"
        )
    ]
    overrides = {"instance_id": "%(id)s", "created_at": "now()", "finished_at": "now()"}
    insert_record = (
        f"INSERT INTO runtime_eventrecord ({', '.join(columns)}) SELECT "
        + ", ".join(overrides.get(c, f"t.{c}") for c in columns)
        + " FROM runtime_eventrecord t WHERE t.id = %(template)s RETURNING id"
    )

    def call(instance_id: int) -> None:
        with conn.transaction():
            source = conn.execute(
                "SELECT state FROM runtime_instance WHERE id = %s FOR UPDATE", (instance_id,)
            ).fetchone()[0]
            conn.execute(
                "SELECT id FROM runtime_eventrecord WHERE instance_id = %s"
                " AND status IN ('accepted', 'processing')",
                (instance_id,),
            ).fetchall()
            record = conn.execute(
                insert_record, {"id": instance_id, "template": template}
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO runtime_historyentry (instance_id, event_record_id, event,"
                " from_state, to_state, at) VALUES (%s, %s, 'GO', %s, %s, now())",
                (instance_id, record, source, source),
            )
            conn.execute(
                "UPDATE runtime_instance SET state = %s, context = %s, event_counts = %s,"
                " revision = revision + 1, updated_at = now() WHERE id = %s",
                (source, "{}", '{"GO": 1}', instance_id),
            )

    return measure(call, spec)


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()


def fsm_peer(spec: dict) -> dict:
    """django-fsm-2: select_for_update, the @transition, save, a history row."""
    _django()
    from django.db import connection

    from bench.fsmpeer.services import order_touch

    connection.ensure_connection()
    pin_backend(connection.connection, spec)
    return measure(lambda order_id: order_touch(order_id=order_id), spec)


def service(spec: dict) -> dict:
    """Our sync event service, runtime.services.instance_event_fire, in process.

    With spec['path'] == 'lock', every event takes the locking path (runtime/fastpath.py) as
    events with actions do: the compare-and-set gets no try (runtime.cas.TRIES = 0).
    """
    _django()
    from django.db import connection

    from runtime import cas
    from runtime.services import instance_event_fire

    if spec.get("path") == "lock":
        cas.TRIES = 0
    connection.ensure_connection()
    pin_backend(connection.connection, spec)
    event = spec["event"]
    return measure(
        lambda instance_id: instance_event_fire(instance_id=instance_id, event=event), spec
    )


def engine(spec: dict) -> dict:
    """The engine step alone (runtime.engine.decide) on a machine compiled from seed JSON."""
    _django()
    from pathlib import Path

    from machines.compiled import compile_definition
    from machines.interchange import parse_seed
    from runtime.engine import decide

    _, definition = parse_seed(json.loads(Path(spec["machine"]).read_text()))
    machine = compile_definition(definition)
    context = {"amount": 150, "level": "gold", "note": "bench"}
    names = {"id": 1, "businessKey": "bench-1", "createdAt": "2026-01-01T00:00:00+00:00"}
    decision = decide(machine, state="OPEN", event="GO", context=context, instance=names)
    assert decision.to_state == "OPEN" and len(decision.hops) == spec["hops"], decision
    return _rate(
        lambda: decide(
            machine,
            state="OPEN",
            event="GO",
            context=context,
            event_counts={"GO": 3},
            instance=names,
        ),
        spec,
    )


def _rate(call: Callable[[], object], spec: dict, batch: int = 200) -> dict:
    """Calls per second of a microsecond-scale call, timed in batches (no per-call clock)."""
    while time.time() < spec["start_at"]:
        call()
    begin, count = time.perf_counter(), 0
    end = begin + spec["seconds"]
    batch_us = []
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(batch):
            call()
        batch_us.append((time.perf_counter() - t0) * 1e6 / batch)
        count += batch
    return {
        "count": count,
        "errors": 0,
        "first_error": None,
        "window": time.perf_counter() - begin,
        "cpu": None,
        "late": 0.0,
        "latencies_us": batch_us,  # µs per call, averaged over each batch
    }


def pin_backend(conn, spec: dict) -> None:
    """With spec['pin'] (a CPU number): pin this process and its PostgreSQL backend to it."""
    cpu = spec.get("pin")
    if cpu is None:
        return
    backend = conn.info.backend_pid
    os.sched_setaffinity(0, {cpu})
    os.sched_setaffinity(backend, {cpu})


DRIVERS = {
    "raw": raw_psycopg,
    "raw_cas": raw_compare_and_set,
    "raw_statements": raw_statements,
    "fsm": fsm_peer,
    "service": service,
    "engine": engine,
}


def main(argv: list[str]) -> int:
    kind, spec = argv[1], json.loads(argv[2])
    print(json.dumps(DRIVERS[kind](spec)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
