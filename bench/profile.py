"""Profile of the sync hot path: `python -m bench profile [--events N]`.

Starts its own PostgreSQL (like the suite), loads the bench machines and instances, then, in
a Django process: lists the SQL statements of one event (service, and REST through Django's
test client with throttling off and on), times the parts of an event without a profiler
(SQL execution, engine, the rest), and profiles N events with pyinstrument, service and REST,
summarised per event in microseconds. With py-spy installed it also samples a gunicorn worker
under the REST load, which the test client does not cover. Reports land in bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
ROOT = HERE.parent


def main(argv: list[str]) -> int:
    if argv[:1] == ["inner"]:
        return inner(json.loads(argv[1]))
    parser = argparse.ArgumentParser(prog="python -m bench profile")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--spy-seconds", type=float, default=8.0)
    args = parser.parse_args(argv)

    from bench import data
    from bench.infra import PYTHON, Children, free_port, start_gunicorn

    workdir = Path(tempfile.mkdtemp(prefix="statecenter-profile-"))
    children = Children(workdir)
    try:
        url = children.start_postgres(free_port(55480))
        env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "bench.settings"}
        prep = children.start("prepare", [PYTHON, "-m", "bench.data", "prepare", "4"], env)
        prepared = json.loads(children.finish(prep, timeout=120))
        ids = {
            kind: data.load_instances(
                url, template=prepared[kind]["template"], count=10_000, prefix=f"{kind}-"
            )
            for kind in ("plain", "choice")
        }
        data.settle(url)
        spec = {"ids": ids, "token": prepared["tokens"][0], "events": args.events}
        proc = children.start(
            "inner", [PYTHON, "-m", "bench", "profile", "inner", json.dumps(spec)], env
        )
        print(children.finish(proc, timeout=900))
        spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
        if Path(spy).exists():
            rest_env = {
                **env,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "API_THROTTLE_RATE": "0",
            }
            base = start_gunicorn(
                children, "gunicorn", port=free_port(18480), env=rest_env, workers=1
            )
            print(
                spy_on_gunicorn(
                    children, spy, base, ids["plain"], prepared["tokens"], args.spy_seconds
                )
            )
        return 0
    finally:
        children.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --- inside the Django process -----------------------------------------------------------


def inner(spec: dict) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    OUT.mkdir(exist_ok=True)
    report = [statements(spec), timings(spec), planning(spec), profiles(spec)]
    text = "\n\n".join(report)
    (OUT / "profile.txt").write_text(text + "\n")
    print(text)
    print(f"\n(full pyinstrument trees in {OUT}/profile-*.txt)")
    return 0


def _fire(kind: str, spec: dict, **extra):
    from runtime.services import instance_event_fire

    lo, hi = spec["ids"][kind]
    return instance_event_fire(instance_id=random.randint(lo, hi), event="GO", **extra)


def _post(client, kind: str, spec: dict, body: dict | None = None):
    lo, hi = spec["ids"][kind]
    response = client.post(
        f"/api/v1/instances/{random.randint(lo, hi)}/events/",
        data=json.dumps(body or {"event": "GO"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {spec['token']}",
    )
    assert response.status_code == 200, response.content
    return response


def statements(spec: dict) -> str:
    """The SQL statements of one event, by path."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client()
    cases = [
        ("service, plain", lambda: _fire("plain", spec)),
        ("service, 2 choice states", lambda: _fire("choice", spec)),
        (
            "service, plain, with requestId",
            lambda: _fire("plain", spec, request_id=f"r{random.random()}"),
        ),
        ("REST, plain, throttle off", lambda: _post(client, "plain", spec)),
    ]
    lines = ["SQL statements per event"]
    for name, call in cases:
        with override_settings(API_THROTTLE_RATE="0"):
            call()  # warm: compiled machine cached, connection open
            with CaptureQueriesContext(connection) as captured:
                call()
        lines.append(f"\n{name}: {len(captured.captured_queries)} statements")
        lines += [f"  {_short(q['sql'])}" for q in captured.captured_queries]
    with override_settings(API_THROTTLE_RATE="600/second"):
        _post(client, "plain", spec)
        with CaptureQueriesContext(connection) as captured:
            _post(client, "plain", spec)
    lines.append(f"\nREST, plain, throttle on: {len(captured.captured_queries)} statements")
    lines += [f"  {_short(q['sql'])}" for q in captured.captured_queries]
    return "\n".join(lines)


def _short(sql: str, width: int = 150) -> str:
    sql = " ".join(sql.split())
    if sql.startswith("SELECT") and " FROM " in sql:
        head, _, tail = sql.partition(" FROM ")
        sql = f"SELECT <{head.count(',') + 1} columns> FROM {tail}"
    return sql if len(sql) <= width else sql[: width - 1] + "…"


class _SqlClock:
    """A connection execute_wrapper: time spent executing SQL (adapt, send, wait, fetch)."""

    def __init__(self):
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - t0
            self.count += 1


def timings(spec: dict) -> str:
    """Per event, without a profiler: wall and CPU time, inside SQL execution, in the engine."""
    from django.db import connection
    from django.test import Client

    client = Client()
    n = spec["events"]
    lines = [
        f"Time per event, no profiler ({n} events each, µs; CPU is this process's, the client's)",
        f"  {'path':<34}{'wall':>8}{'CPU':>8}{'in SQL':>8}{'stmts':>7}{'engine':>8}{'rest':>8}",
    ]
    for name, call in [
        ("service, plain", lambda: _fire("plain", spec)),
        ("service, 2 choice states", lambda: _fire("choice", spec)),
        ("REST (test client), plain", lambda: _post(client, "plain", spec)),
        ("REST (test client), 2 choices", lambda: _post(client, "choice", spec)),
    ]:
        wall, cpu, sql, count, engine = _time_calls(call, n)
        us = 1e6 / n
        lines.append(
            f"  {name:<34}{wall * us:8.0f}{cpu * us:8.0f}{sql * us:8.0f}{count / n:7.1f}"
            f"{engine * us:8.0f}{(wall - sql - engine) * us:8.0f}"
        )
    lines.append(_round_trip(connection))
    return "\n".join(lines)


def _time_calls(call, n: int) -> tuple[float, float, float, int, float]:
    """Seconds of wall, CPU, SQL execution and engine over n calls; statements executed."""
    from django.db import connection
    from django.test import override_settings

    from runtime import engine

    decide, engine_time = engine.decide, [0.0]
    with override_settings(API_THROTTLE_RATE="0"):
        for _ in range(50):
            call()
        clock = _SqlClock()
        engine.decide = _timed(decide, engine_time)
        try:
            with connection.execute_wrapper(clock):
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(n):
                    call()
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            engine.decide = decide
    return wall, cpu, clock.seconds, clock.count, engine_time[0]


def planning(spec: dict) -> str:
    """Server time of the event's reads as the ORM sends them, planned each time vs prepared."""
    import psycopg
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        _fire("plain", spec)
    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    lines = ["Server-side planning: the event's SELECTs, each run 300 times (µs per run)"]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        for sql in reads:
            each = {}
            for prepare in (False, True):
                for _ in range(20):
                    conn.execute(sql, prepare=prepare).fetchall()
                t0 = time.perf_counter()
                for _ in range(300):
                    conn.execute(sql, prepare=prepare).fetchall()
                each[prepare] = (time.perf_counter() - t0) / 300 * 1e6
            lines.append(
                f"  {each[False]:6.0f} planned, {each[True]:6.0f} prepared:  {_short(sql, 90)}"
            )
    return "\n".join(lines)


def _timed(function, into: list):
    """`function`, adding the seconds each call takes to into[0]."""

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            into[0] += time.perf_counter() - t0

    return timed


def _round_trip(connection) -> str:
    with connection.cursor() as cursor:
        for _ in range(100):
            cursor.execute("SELECT 1")
        t0 = time.perf_counter()
        for _ in range(2000):
            cursor.execute("SELECT 1")
            cursor.fetchone()
        each = (time.perf_counter() - t0) / 2000 * 1e6
    return f"  (one trivial statement through Django's cursor, SELECT 1: {each:.0f} µs)"


def profiles(spec: dict) -> str:
    from django.test import Client, override_settings
    from pyinstrument import Profiler

    client = Client()
    n = spec["events"]
    sections = []
    for slug, name, call in [
        ("service-plain", "service, plain", lambda: _fire("plain", spec)),
        ("service-choice", "service, 2 choice states", lambda: _fire("choice", spec)),
        ("rest-plain", "REST via the test client, plain", lambda: _post(client, "plain", spec)),
    ]:
        with override_settings(API_THROTTLE_RATE="0"):
            for _ in range(50):
                call()
            profiler = Profiler(interval=0.0001)
            profiler.start()
            for _ in range(n):
                call()
            profiler.stop()
        (OUT / f"profile-{slug}.txt").write_text(
            profiler.output_text(unicode=True, color=False, show_all=True)
        )
        root = profiler.last_session.root_frame()
        sections.append(summarise(name, root, n))
    return "\n\n".join(sections)


CATEGORIES = [
    ("waiting on PostgreSQL (send, wait)", lambda f, fn: "psycopg" in f and _waits(fn)),
    ("psycopg: adapt params, parse rows", lambda f, fn: "psycopg" in f),
    ("ORM: build SQL (compiler, query)", lambda f, fn: "django/db/models/sql" in f),
    ("ORM: models, fields, querysets", lambda f, fn: "django/db/models" in f),
    ("ORM: backend, cursor, transaction", lambda f, fn: "django/db" in f),
    (
        "DRF: request, auth, parsers, renderers",
        lambda f, fn: "rest_framework/" in f and "serializers" not in f and "fields" not in f,
    ),
    ("DRF: serializers, fields", lambda f, fn: "rest_framework/" in f),
    ("Django: test client, handler, middleware", lambda f, fn: "django/" in f),
    ("json / hashlib / datetime", lambda f, fn: "json/" in f or fn in ("sha256", "hexdigest")),
    ("rules (expressions)", lambda f, fn: "/rules/" in f or "simpleeval" in f),
    (
        "our code (runtime, machines, clients, config)",
        lambda f, fn: any(p in f for p in ("/runtime/", "/machines/", "/clients/", "/config/")),
    ),
]


def _waits(function: str) -> bool:
    return any(w in function for w in ("wait", "poll", "select", "recv", "send", "execute_send"))


def summarise(name: str, root, events: int) -> str:
    """Self time per category and the application frames' tree, in µs per event."""
    per_event = 1e6 / events
    totals: dict[str, float] = defaultdict(float)
    stack = [(root, root)]
    while stack:
        frame, parent = stack.pop()
        stack.extend((child, frame) for child in frame.children)
        if frame.children:
            continue
        owner = parent if frame.is_synthetic else frame  # "[self]" time belongs to its parent
        path, function = owner.file_path or "", owner.function or ""
        category = next((c for c, match in CATEGORIES if match(path, function)), "other")
        totals[category] += frame.time
    lines = [f"pyinstrument, {name}: {root.time * per_event:,.0f} µs per event (profiled)"]
    lines.append("  self time by kind:")
    for category, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {seconds * per_event:8,.0f} µs  {category}")
    lines.append("  application frames (µs per event, inclusive; library frames skipped):")
    lines += _app_tree([root], per_event, depth=0, min_us=20.0)
    return "\n".join(lines)


def _is_ours(frame) -> bool:
    path = frame.file_path or ""
    return str(ROOT) in path and "/.venv/" not in path and "/bench/" not in path


def _app_tree(frames: list, per_event: float, depth: int, min_us: float) -> list[str]:
    """Our frames below `frames`, merged by function (pyinstrument splits them by line)."""
    groups: dict[tuple, list] = defaultdict(list)
    stack = [child for frame in frames for child in frame.children]
    while stack:
        frame = stack.pop()
        if _is_ours(frame):
            groups[(frame.file_path, frame.function, frame.line_no)].append(frame)
        else:
            stack.extend(frame.children)
    lines = []
    ranked = sorted(groups.items(), key=lambda kv: -sum(f.time for f in kv[1]))
    for (path, function, line_no), members in ranked:
        us = sum(f.time for f in members) * per_event
        if us < min_us or depth > 6:
            continue
        where = f"{Path(path).relative_to(ROOT)}:{line_no}"
        lines.append(f"    {'  ' * depth}{us:8,.0f}  {function}  ({where})")
        lines += _app_tree(members, per_event, depth + 1, min_us)
    return lines


# --- a gunicorn worker under load, sampled by py-spy -------------------------------------


def spy_on_gunicorn(children, spy: str, base: str, ids, tokens, seconds: float) -> str:
    from bench.infra import PYTHON

    master = children.procs[-1][1].pid
    worker = int(
        subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()[
            0
        ]
    )
    load_spec = {
        "url": base,
        "path": "/api/v1/instances/{id}/events/",
        "body": {"event": "GO"},
        "ids": ids,
        "tokens": tokens[:2],
        "start_at": time.time() + 1.0,
        "seconds": seconds + 2,
        "seed": 1,
    }
    load = children.start(
        "spy-load", [PYTHON, "-m", "bench.load", json.dumps(load_spec)], dict(os.environ)
    )
    time.sleep(1.5)
    raw = OUT / "py-spy-gunicorn.txt"
    done = subprocess.run(
        [
            spy,
            "record",
            "--pid",
            str(worker),
            "--duration",
            str(int(seconds)),
            "--rate",
            "500",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--nonblocking",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    result = json.loads(children.finish(load, timeout=seconds + 60))
    if done.returncode != 0 or not raw.exists():
        return f"py-spy failed: {done.stderr.strip()[-300:]}"
    rate = result["count"] / result["window"]
    return _summarise_spy(raw, rate)


def _summarise_spy(raw: Path, rate: float) -> str:
    """Collapsed stacks -> share of the worker's busy samples per layer (py-spy skips idle)."""
    layers = [
        ("gunicorn: accept, parse HTTP, access log", ("gunicorn/",)),
        ("logging (access log line)", ("logging/",)),
        ("waiting on / talking to PostgreSQL", ("psycopg",)),
        ("ORM", ("django/db/",)),
        ("DRF views, auth, parsers, renderers, serializers", ("rest_framework/",)),
        ("Django handler, middleware, request, response", ("django/",)),
        ("our code", ("(runtime/", "(machines/", "(clients/", "(config/", "(rules/")),
    ]
    inclusive: dict[str, int] = defaultdict(int)
    leaf: dict[str, int] = defaultdict(int)
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        for label, needles in layers:
            if any(n in f for f in frames for n in needles):
                inclusive[label] += samples
        deepest = next(
            (
                label
                for f in reversed(frames)
                for label, needles in layers
                if any(n in f for n in needles)
            ),
            "other",
        )
        leaf[deepest] += samples
    if not total:
        return "py-spy: no samples"
    lines = [
        f"py-spy, one gunicorn worker under REST load ({rate:,.0f} req/s in all): "
        f"{total} busy samples"
    ]
    lines.append(f"  {'layer':<52}{'inclusive':>10}{'self':>8}")
    for label, _ in layers + [("other", ())]:
        lines.append(
            f"  {label:<52}{inclusive.get(label, 0) / total:10.0%}{leaf.get(label, 0) / total:8.0%}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
