"""Async events: accepted, applied and their latency, through REST, Redis and Celery.

The suite's own Redis is started with the database (bench/run.py `setup`, so the gunicorns
publish to it); here one Celery worker with concurrency 2 (two prefork processes, like the
2 gunicorn workers and the 2 service processes of the sync rows; no beat: nothing is lost
on a healthy broker, and the sweeper would only share the CPUs) is started through
bench.infra.Children, so it is stopped on every exit. The workers run while the events are
sent, sharing the 2 CPUs with gunicorn and the senders, as on one machine in production.

0. Accepting, no worker running: REST sync fire, then REST `{"event": "GO", "async": true}`,
   back to back on the throttle-off gunicorn (bench.load, 4 connections, the round's
   seconds each), PAIRS times: what accepting alone costs against a sync event (information).
   The async events are left pending: a backlog, applied when the worker starts, whose first
   to last done is the workers' capacity (information).
1. Warm-up: 1 s of async events from one connection, then wait until they are all applied.
2. Full load, the workers running as in production: the async events for twice the round's
   seconds. accepted/s: the 202s in that window, against REST sync fire of the same run;
   applied/s: the records done over the time from the first accept to the last done (the
   drain), against the service in 2 processes; p50/p99: accept→done (finished_at -
   created_at).
3. Paced: the same events at half that applied rate, open loop (bench/async_load.py
   `paced`); accept→done p50/p99 at a load the workers keep up with.
4. Broker: as many `statecenter.submit_event` messages as REST accepted in step 2, published
   at once by one process with a bare Celery app (bench/async_load.py `broker`); applied/s
   as in step 2 (first accept to last done), against REST async's.
5. Deliveries: DELIVERIES pending notifications to one subscriber (bench/receiver.py, which
   answers 204 at once), DELIVERY_STREAMS streams of a few each, written as the outbox
   writes them, and one `runtime.send_ready` wake-up; delivered/s from the first to the last
   delivered, against the applied/s of step 2, and each stream checked to have gone out in
   order.
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import time

import psycopg

from bench.infra import PYTHON, Children, _end, free_port
from bench.plans import WORKERS
from bench.report import Row, ms, percentile, rate_text, ratio_text, verdict

DRAIN_SECONDS = 40
WARM_DRAIN_SECONDS = 40
PACED_P50_US, PACED_P99_US = 50_000, 250_000
PAIRS = 3  # REST sync / async accept pairs, back to back
DELIVERIES, DELIVERY_STREAMS = 3_000, 1_000
RECEIVER_PORT = 18780

# Deliveries as the outbox writes them for a subscriber, DELIVERIES / DELIVERY_STREAMS per
# stream in id order, all due now.
OUTBOX = """
INSERT INTO runtime_delivery (stream, url, payload, webhook_id, subscription_id, status,
    attempts, next_attempt_at, created_at)
SELECT 'bench:i' || (g %% %(streams)s), %(url)s,
       jsonb_build_object('type', 'transition', 'instanceId', g %% %(streams)s, 'n', g),
       'msg_bench_' || %(run)s || '_' || g, NULL, 'pending', 0, now(), now()
  FROM generate_series(1, %(count)s) AS g
"""


def async_rows(children: Children, context: dict, args) -> list[Row]:
    """Accept a backlog, start the workers, measure, and return the async rows of the table."""
    baseline = _max_id(context["url"])
    pairs = _accept_pairs(children, context, args)
    env = {
        **context["env"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
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
        backlog = _applied(context["url"], baseline, worker, children, "backlog")
        rows = _measure(children, context, args, worker, pairs)
        return rows + [_backlog_row(context, backlog)]
    finally:
        if worker.poll() is None:
            _end(worker)
        children.procs = [(n, p) for n, p in children.procs if p is not worker]


def _accept_pairs(children: Children, context: dict, args) -> dict:
    """REST sync fire, then REST async accept, back to back, PAIRS times, no worker running:
    what accepting costs against what a sync event costs, on the same gunicorn at the same
    moment. The sync events go to the first half of the instances and the async ones to the
    second, which keeps its events pending (a sync event would find them: 409)."""
    lo, hi = context["ids"]["plain"]
    sync_spec = {
        **_rest_spec(context),
        "body": {"event": "GO"},
        "ok": 200,
        "ids": [lo, lo + (hi - lo) // 2],
    }
    async_spec = {**_rest_spec(context), "ids": [lo + (hi - lo) // 2 + 1, hi]}
    ratios, rates, latencies, errors, first_error = [], [], [], 0, None
    for n in range(PAIRS):
        done = []
        for name, spec in (("sync", sync_spec), ("async", async_spec)):
            spec = {
                **spec,
                "start_at": time.time() + 1.0,
                "seconds": args.seconds,
                "seed": 6_000 + n,
            }
            done.append(_fire(children, context, f"async-pair-{name}-{n}", spec, args.seconds + 60))
        sync, accepted = (d["count"] / args.seconds for d in done)
        ratios.append(accepted / sync if sync else float("nan"))
        rates.append(accepted)
        latencies += done[1]["latencies_us"]
        errors += done[0]["errors"] + done[1]["errors"]
        first_error = first_error or done[0]["first_error"] or done[1]["first_error"]
        _log(
            f"async pair {n + 1}/{PAIRS}: REST sync {sync:,.0f} req/s,"
            f" async accepted {accepted:,.0f} req/s"
        )
    return {
        "accepted": statistics.median(rates),
        "ratio": statistics.median(ratios),
        "latencies_us": sorted(latencies),
        "errors": errors,
        "first_error": first_error,
    }


def _measure(children: Children, context: dict, args, worker, pairs: dict) -> list[Row]:
    url = context["url"]
    began = time.monotonic()
    warm = {**_rest_spec(context), "tokens": context["tokens"][:1], "seconds": 0, "seed": 7}
    _fire(children, context, "async-warm", {**warm, "start_at": time.time() + 1}, 30)
    _drain(url, 0, worker, WARM_DRAIN_SECONDS, "async warm-up", children)
    _log(f"async: worker ready after {time.monotonic() - began:.1f} s")
    seconds = 2 * args.seconds

    baseline = _max_id(url)
    run = {**_rest_spec(context), "start_at": time.time() + 1.5, "seconds": seconds, "seed": 7_000}
    fired = _fire(children, context, "async-fire", run, 1.5 + seconds + 60)
    full = _applied(url, baseline, worker, children, "full load")
    _log(f"async full load: {fired['count'] / seconds:,.0f} req/s accepted beside the workers")

    baseline = _max_id(url)
    rate = max(10.0, full["rate"] / 2) if full["rate"] == full["rate"] else 50.0
    pace = {**_rest_spec(context), "rate": rate, "start_at": time.time() + 1.5}
    pace.update(seconds=seconds, seed=8_000)
    paced = _load(children, context, "async-paced", "paced", pace, 1.5 + seconds + 60)
    slow = _applied(url, baseline, worker, children, f"paced at {rate:,.0f}/s")

    baseline = _max_id(url)
    spec = {**_broker_spec(context), "count": max(500, fired["count"]), "seed": 9_000}
    spec.update(start_at=time.time() + 1.0, seconds=seconds)
    sent = _load(children, context, "async-broker", "broker", spec, 1.0 + seconds + 60)
    broker = _applied(url, baseline, worker, children, "broker", expect=sent["count"])
    full["accepted_rate"] = fired["count"] / seconds
    full["accept_latencies_us"] = sorted(fired["latencies_us"])
    sent = _deliveries(children, context, worker)
    return _rows(context, pairs, full, paced, slow, broker, sent)


def _deliveries(children: Children, context: dict, worker) -> dict:
    """DELIVERIES pending deliveries to a local receiver, one wake-up, and the send rate."""
    from celery import Celery

    port = free_port(RECEIVER_PORT)
    children.spawn("receiver", [PYTHON, "-m", "bench.receiver", str(port)], context["env"])
    _listening(port)
    url = context["url"]
    with psycopg.connect(url, autocommit=True) as conn:
        baseline = conn.execute("SELECT coalesce(max(id), 0) FROM runtime_delivery").fetchone()[0]
        conn.execute(
            OUTBOX,
            {
                "streams": DELIVERY_STREAMS,
                "url": f"http://127.0.0.1:{port}/hook",
                "count": DELIVERIES,
                "run": str(int(time.time())),
            },
        )
    publisher = Celery("bench-wake", broker=context["env"]["CELERY_BROKER_URL"])
    publisher.send_task("runtime.send_ready")
    deadline = time.monotonic() + DRAIN_SECONDS
    pending_sql = "SELECT count(*) FROM runtime_delivery WHERE id > %s AND status = 'pending'"
    while (pending := _scalar(url, pending_sql, (baseline,))) and time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {worker.returncode}")
        time.sleep(0.05)
    with psycopg.connect(url, autocommit=True) as conn:
        delivered, failed, first, last = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'delivered'),"
            " count(*) FILTER (WHERE status = 'failed'), extract(epoch FROM min(finished_at)),"
            " extract(epoch FROM max(finished_at)) FROM runtime_delivery WHERE id > %s",
            (baseline,),
        ).fetchone()
        (out_of_order,) = conn.execute(
            "SELECT count(*) FROM (SELECT finished_at < lag(finished_at) OVER"
            " (PARTITION BY stream ORDER BY id) AS early FROM runtime_delivery"
            " WHERE id > %s) d WHERE early",
            (baseline,),
        ).fetchone()
    busy = float(last) - float(first) if delivered > 1 else 0.0
    note = "".join(
        part
        for part, shown in (
            (f" ({failed} failed)", failed),
            (f" ({pending} not sent in {DRAIN_SECONDS} s)", pending),
            (f" ({out_of_order} out of their stream's order)", out_of_order),
        )
        if shown
    )
    _log(f"deliveries: {delivered} delivered in {busy:.2f} s{note}")
    return {"rate": (delivered - 1) / busy if busy > 0 else float("nan"), "note": note}


def _listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the webhook receiver did not listen on port {port}")


def _rows(context, pairs, full, paced, slow, broker, sent) -> list[Row]:
    results = context.get("results", {})
    rest_sync, service = results.get("rest_plain"), results.get("svc_plain2")
    accepted = _ratio(full["accepted_rate"], rest_sync)
    applied = _ratio(full["rate"], service)
    by_broker = broker["rate"] / full["rate"] if full["rate"] else float("nan")
    delivered = sent["rate"] / full["rate"] if full["rate"] else float("nan")
    paced_ok = slow["p50"] <= PACED_P50_US and slow["p99"] <= PACED_P99_US
    accept_lat = full["accept_latencies_us"]
    return [
        Row(
            f"async accepted: REST 202, gunicorn {WORKERS} workers, Celery {WORKERS} p. running",
            rate_text(full["accepted_rate"], "req/s"),
            ms(percentile(accept_lat, 50)),
            ms(percentile(accept_lat, 99)),
            ratio_text(accepted, "REST sync"),
            "≥ 1.00 × REST sync fire",
            verdict(accepted >= 1.0),
        ),
        Row(
            f"async at full load: applied, Celery {WORKERS} p., first accept → last done",
            rate_text(full["rate"], "/s") + full["note"],
            ms(full["p50"]),
            ms(full["p99"]),
            ratio_text(applied, "service 2p"),
            "≥ 0.50 × service 2p",
            verdict(applied >= 0.5),
        ),
        Row(
            f"async paced at {slow['sent_rate']:,.0f}/s (half the applied rate): accept→done",
            rate_text(slow["rate"], "/s") + slow["note"] + _errors(paced),
            ms(slow["p50"]),
            ms(slow["p99"]),
            "",
            "p50 ≤ 50 ms, p99 ≤ 250 ms",
            verdict(paced_ok),
        ),
        Row(
            "async by broker statecenter.submit_event: applied, first accept → last done",
            rate_text(broker["rate"], "/s") + broker["note"],
            ms(broker["p50"]),
            ms(broker["p99"]),
            ratio_text(by_broker, "REST async"),
            "≥ 0.80 × REST async applied",
            verdict(by_broker >= 0.8),
        ),
        Row(
            f"deliveries to one subscriber, {DELIVERY_STREAMS:,} streams, first → last sent",
            rate_text(sent["rate"], "/s") + sent["note"],
            "",
            "",
            ratio_text(delivered, "async applied"),
            "≥ 1.00 × async applied",
            verdict(delivered >= 1.0 and not sent["note"]),
        ),
        Row(
            f"  async accepted alone: REST 202, no worker running, {PAIRS} pairs",
            rate_text(pairs["accepted"], "req/s") + _errors(pairs),
            ms(percentile(pairs["latencies_us"], 50)),
            ms(percentile(pairs["latencies_us"], 99)),
            ratio_text(pairs["ratio"], "REST sync, paired"),
            "info: what accepting costs",
        ),
    ]


def _backlog_row(context: dict, backlog: dict) -> Row:
    capacity = _ratio(backlog["capacity"], context.get("results", {}).get("svc_plain2"))
    return Row(
        f"  async applied from a backlog, {WORKERS} processes alone, first → last done",
        rate_text(backlog["capacity"], "/s") + backlog["note"],
        "",
        "",
        ratio_text(capacity, "service 2p"),
        "info: the workers' capacity",
    )


def _applied(url: str, baseline: int, worker, children, name: str, expect: int = 0) -> dict:
    """Wait for the records after `baseline` to be applied; their rates and latencies.

    accepted: records over first to last created_at; rate: done over first created_at to
    last finished_at (the drain); p50/p99: finished_at - created_at (µs).
    """
    if expect:
        _arrived(url, baseline, expect, worker)
    pending = _drain(url, baseline, worker, DRAIN_SECONDS, name, children, strict=False)
    with psycopg.connect(url, autocommit=True) as conn:
        done, failed, first, last_created, first_done, last_done = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'done'),"
            " count(*) FILTER (WHERE status = 'failed'), extract(epoch FROM min(created_at)),"
            " extract(epoch FROM max(created_at)), extract(epoch FROM min(finished_at)),"
            " extract(epoch FROM max(finished_at))"
            " FROM runtime_eventrecord WHERE id > %s AND is_async",
            (baseline,),
        ).fetchone()
        latencies = [
            row[0]
            for row in conn.execute(
                "SELECT round(extract(epoch FROM finished_at - created_at) * 1e6)::bigint"
                " FROM runtime_eventrecord WHERE id > %s AND is_async AND status = 'done'"
                " ORDER BY 1",
                (baseline,),
            )
        ]
    drain = float(last_done) - float(first) if done else 0.0
    busy = float(last_done) - float(first_done) if done > 1 else 0.0
    span = float(last_created) - float(first) if done else 0.0
    records = done + failed + pending
    note = (
        f" ({failed} failed, {pending} not applied in {DRAIN_SECONDS} s)"
        if failed or pending
        else ""
    )
    _log(f"async {name}: {records} records, {done} done in {drain:.2f} s{note}")
    return {
        "rate": done / drain if drain > 0 else float("nan"),
        "capacity": (done - 1) / busy if busy > 0 else float("nan"),
        "accepted": records / span if span > 0 else float("nan"),
        "sent_rate": records / span if span > 0 else float("nan"),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "note": note,
    }


def _rest_spec(context: dict) -> dict:
    return {
        "url": context["rest"],
        "path": "/api/v1/instances/{id}/events/",
        "body": {"event": "GO", "async": True},
        "ok": 202,
        "ids": context["ids"]["plain"],
        "tokens": context["tokens"],
    }


def _broker_spec(context: dict) -> dict:
    """The publisher's payload parts: an API client's token (every flow granted), the plain
    machine's flow and its instances' business keys."""
    lo, hi = context["ids"]["plain"]
    with psycopg.connect(context["url"], autocommit=True) as conn:
        flow = conn.execute(
            "SELECT f.code FROM runtime_instance i JOIN machines_flow f ON f.id = i.flow_id"
            " WHERE i.id = %s",
            (lo,),
        ).fetchone()[0]
        keys = [
            row[0]
            for row in conn.execute(
                "SELECT business_key FROM runtime_instance WHERE id BETWEEN %s AND %s", (lo, hi)
            )
        ]
    broker = context["env"]["CELERY_BROKER_URL"]
    return {"broker": broker, "token": context["tokens"][0], "flow": flow, "keys": keys}


def _ratio(rate: float, reference) -> float:
    """`rate` over a sync measurement's median rate (NaN when there is none)."""
    return rate / reference.rate if reference is not None and reference.rate else float("nan")


def _fire(children: Children, context: dict, name: str, spec: dict, timeout: float) -> dict:
    proc = children.start(name, [PYTHON, "-m", "bench.load", json.dumps(spec)], context["env"])
    return json.loads(children.finish(proc, timeout=timeout))


def _load(children: Children, context: dict, name: str, kind: str, spec: dict, timeout):
    args = [PYTHON, "-m", "bench.async_load", kind, json.dumps(spec)]
    return json.loads(children.finish(children.start(name, args, context["env"]), timeout=timeout))


def _arrived(url: str, baseline: int, expect: int, worker) -> None:
    """Wait until the broker's messages have all been accepted (or a drain's time passed)."""
    deadline = time.monotonic() + DRAIN_SECONDS
    sql = "SELECT count(*) FROM runtime_eventrecord WHERE id > %s AND is_async"
    while _scalar(url, sql, (baseline,)) < expect and time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {worker.returncode}")
        time.sleep(0.1)


def _drain(url, baseline, worker, limit, name, children, strict=True) -> int:
    """Wait until no async record after `baseline` is pending; the number still pending."""
    deadline = time.monotonic() + limit
    while True:
        pending = _scalar(
            url,
            "SELECT count(*) FROM runtime_eventrecord WHERE id > %s AND is_async"
            " AND status IN ('accepted', 'processing')",
            (baseline,),
        )
        if pending == 0:
            return 0
        if time.monotonic() >= deadline:
            if strict:
                raise RuntimeError(
                    f"{name}: {pending} events still pending after {limit} s;"
                    f" see {children.workdir}/celery-worker.log"
                )
            return pending
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {worker.returncode}")
        time.sleep(0.05)


def _max_id(url: str) -> int:
    return _scalar(url, "SELECT coalesce(max(id), 0) FROM runtime_eventrecord")


def _errors(result: dict) -> str:
    if not result["errors"]:
        return ""
    return f" ({result['errors']} errors: {(result['first_error'] or '')[:60]})"


def _scalar(url: str, sql: str, params: tuple = ()) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchone()[0]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
