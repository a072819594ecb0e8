"""Async events (issue 7, async part): accepted and applied per second through Redis and Celery.

The suite's own Redis is started with the database (bench/run.py `setup`, so the gunicorns
publish to it); here one Celery worker with concurrency 2 (two prefork processes, like the
2 gunicorn workers and the 2 service processes of the sync rows; no beat: nothing is lost
on a healthy broker, and the sweeper would only share the CPUs) is started through
bench.infra.Children, so it is stopped on every exit.

1. Warm-up: 1 s of async events from one connection, then wait until they are all applied
   (workers up, connected, tasks imported; the gunicorns' broker connections made).
2. Measurement: `{"event": "GO", "async": true}` at random bench-plain instances through the
   REST gunicorn (throttle off) from bench.load, 4 connections, for one window of twice the
   round's seconds; the 202s inside the window are accepted/s.
3. Drain: wait (at most DRAIN_SECONDS) until no event record of the measurement is pending.
   applied/s is the records done over the workers' time, from their first claim (the lease's
   start) to the last finished_at; the latency is finished_at - created_at of each record.

The workers run while the events are fired, so they share the 2 CPUs with gunicorn and the
load generator, as they would in production on one machine.
"""

from __future__ import annotations

import json
import sys
import time

import psycopg

from bench.infra import PYTHON, Children, _end
from bench.plans import WORKERS
from bench.report import Row, ms, percentile, rate_text, ratio_text

LEASE_SECONDS = 90  # ASYNC_LEASE_SECONDS given to the workers: claim time = lease - this
DRAIN_SECONDS = 40
WARM_DRAIN_SECONDS = 40


def async_rows(children: Children, context: dict, args) -> list[Row]:
    """Start the workers, fire, drain, and return the async rows of the table."""
    env = {
        **context["env"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ASYNC_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    worker = children.spawn(
        "celery-worker",
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(WORKERS),
            "--hostname",
            "bench-async@%h",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env,
    )
    try:
        return _measure(children, context, args, worker)
    finally:
        if worker.poll() is None:
            _end(worker)
        children.procs = [(n, p) for n, p in children.procs if p is not worker]


def _measure(children: Children, context: dict, args, worker) -> list[Row]:
    url = context["url"]
    spec = {
        "url": context["rest"],
        "path": "/api/v1/instances/{id}/events/",
        "body": {"event": "GO", "async": True},
        "ok": 202,
        "ids": context["ids"]["plain"],
        "tokens": context["tokens"],
    }
    began = time.monotonic()
    warm = {**spec, "tokens": spec["tokens"][:1], "start_at": time.time() + 1, "seconds": 0}
    warm["seed"] = 7
    _fire(children, context, "async-warm", warm, 30)
    warm_pending = _drain(url, 0, worker, WARM_DRAIN_SECONDS)
    if warm_pending:
        raise RuntimeError(
            f"async warm-up: {warm_pending} events still pending after {WARM_DRAIN_SECONDS} s;"
            f" see {children.workdir}/celery-worker.log"
        )
    baseline = _scalar(url, "SELECT coalesce(max(id), 0) FROM runtime_eventrecord")
    _log(f"async: worker ready after {time.monotonic() - began:.1f} s")

    seconds = 2 * args.seconds
    run = {**spec, "start_at": time.time() + 1.5, "seconds": seconds, "seed": 7_000}
    fired = _fire(children, context, "async-fire", run, 1.5 + seconds + 60)
    accepted_rate = fired["count"] / seconds
    accept_lat = sorted(fired["latencies_us"])
    drain_began = time.monotonic()
    pending = _drain(url, baseline, worker, DRAIN_SECONDS)
    drained = time.monotonic() - drain_began

    with psycopg.connect(url, autocommit=True) as conn:
        done, failed, first_claim, last_done = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'done'),"
            " count(*) FILTER (WHERE status = 'failed'),"
            " extract(epoch FROM min(next_attempt_at) FILTER (WHERE status = 'done')),"
            " extract(epoch FROM max(finished_at) FILTER (WHERE status = 'done'))"
            " FROM runtime_eventrecord WHERE id > %s AND is_async",
            (baseline,),
        ).fetchone()
        latencies = sorted(
            row[0]
            for row in conn.execute(
                "SELECT round(extract(epoch FROM finished_at - created_at) * 1e6)::bigint"
                " FROM runtime_eventrecord WHERE id > %s AND is_async AND status = 'done'",
                (baseline,),
            )
        )
    busy = float(last_done) - (float(first_claim) - LEASE_SECONDS) if done else 0.0
    applied_rate = done / busy if busy > 0 else float("nan")
    _log(
        f"async: {fired['count']} accepted in {seconds:g} s ({done + failed + pending} records"
        f" with the 1.5 s lead-in), {done} done in {busy:.1f} s of worker time,"
        f" drained {drained:.1f} s after the window"
        + (f", {failed} failed" if failed else "")
        + (f", {pending} still pending" if pending else "")
    )

    results = context.get("results", {})
    accepted_figure = rate_text(accepted_rate, "req/s")
    if fired["errors"]:
        accepted_figure += f" ({fired['errors']} errors: {(fired['first_error'] or '')[:60]})"
    applied_figure = rate_text(applied_rate, "/s")
    if failed or pending:
        applied_figure += f" ({failed} failed, {pending} not applied in {DRAIN_SECONDS} s)"
    return [
        Row(
            f"async accepted: REST 202, gunicorn {WORKERS} workers",
            accepted_figure,
            ms(percentile(accept_lat, 50)),
            ms(percentile(accept_lat, 99)),
            ratio_text(_ratio(accepted_rate, results.get("rest_plain")), "REST sync"),
        ),
        Row(
            f"async applied: Celery, {WORKERS} processes, accept→done",
            applied_figure,
            ms(percentile(latencies, 50)),
            ms(percentile(latencies, 99)),
            ratio_text(_ratio(applied_rate, results.get("svc_plain2")), "service 2p"),
            "info (no goal in issue 7)",
            "info",
        ),
    ]


def _ratio(rate: float, reference) -> float:
    """`rate` over a sync measurement's median rate (NaN when there is none)."""
    return rate / reference.rate if reference is not None and reference.rate else float("nan")


def _fire(children: Children, context: dict, name: str, spec: dict, timeout: float) -> dict:
    proc = children.start(name, [PYTHON, "-m", "bench.load", json.dumps(spec)], context["env"])
    return json.loads(children.finish(proc, timeout=timeout))


def _drain(url: str, baseline: int, worker, limit: float) -> int:
    """Wait until no async record after `baseline` is pending; the number still pending."""
    deadline = time.monotonic() + limit
    while True:
        pending = _scalar(
            url,
            "SELECT count(*) FROM runtime_eventrecord WHERE id > %s AND is_async"
            " AND status IN ('accepted', 'processing')",
            (baseline,),
        )
        if pending == 0 or time.monotonic() >= deadline:
            return pending
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {worker.returncode}")
        time.sleep(0.25)


def _scalar(url: str, sql: str, params: tuple = ()) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchone()[0]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
