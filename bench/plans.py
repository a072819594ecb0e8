"""What the suite measures (plans) and how each figure is judged (rows of the table).

The goals: the sync service (a path without actions, 1 process) at least 1.0 x raw
psycopg's locking transaction on one connection and 2.5 x django-fsm-2; REST fire at least
1.5 x a DRF + django-fsm-2 endpoint on the same server, p99 under 50 ms; the API layer's own
CPU per request (web worker CPU per request minus the service's CPU per event) at most 0.5 ms
and within 2 x the CPU per request of a constant DRF view; latency with 1,000,000 history
rows within 20% of latency with 1,000 at p50, 50% at p99; the service and REST with metrics
on at least 0.90 x the same with metrics off. Every ratio is taken per round, each round's
pair measured back to back, and the median of those is shown.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.infra import PYTHON, ROOT
from bench.report import Result, Row, ms, rate_text, ratio_text, verdict

HERE = Path(__file__).resolve().parent
WORKERS = 2  # gunicorn workers, and service processes for the REST ratio
P99_LIMIT_US = 50_000
API_CPU_LIMIT_S = 0.000_5  # the API layer's own CPU per request


@dataclass
class Plan:
    key: str
    label: str
    kind: str  # a bench.drivers kind, or "http"
    procs: int = 1
    spec: dict = field(default_factory=dict)
    unit: str = "TPS"
    startup: float = 2.5  # seconds from spawn to the shared start: Django import and warm-up


# The engine step is measured against the code of this commit too, in the same rounds: the
# last one before the modeling extensions (lists and "*" as sources, entry actions, error
# targets), which must leave a machine without them as fast as it was.
ENGINE_BEFORE = os.environ.get("BENCH_ENGINE_BEFORE", "40df9e8")


def engine_plans(context: dict) -> list[Plan]:
    """The engine step, and the same on the files of ENGINE_BEFORE when context has them."""
    machines = ROOT / "bench" / "machines"
    now = [
        Plan(
            "eng_plain",
            "engine decide(), plain",
            "engine",
            unit="/s",
            spec={"machine": str(machines / "plain.json"), "hops": 1},
            startup=1.5,
        ),
        Plan(
            "eng_choice",
            "engine decide(), 2 choice states + guards",
            "engine",
            unit="/s",
            spec={"machine": str(machines / "two-choice.json"), "hops": 3},
            startup=1.5,
        ),
    ]
    root = context.get("engine_before")
    if root is None:
        return now
    at = {"root": str(root), "env": {"PYTHONPATH": str(root)}}
    return now + [
        replace(
            plan, key=f"{plan.key}_before", label=f"{plan.label}, at {ENGINE_BEFORE}",
            spec={**plan.spec, **at},
        )
        for plan in now
    ]  # fmt: skip


def plans(context: dict, args) -> list[Plan]:
    ids, url = context["ids"], context["url"]
    pin = {"pin": 0} if args.pin else {}
    fire = "/api/v1/instances/{id}/events/"

    def rest(server: str, kind: str, path: str = fire) -> dict:
        return {
            "server": server,
            "url": context[server],
            "path": path,
            "body": {"event": "GO"},
            "ids": ids[kind],
            "tokens": context["tokens"],
        }

    return [
        Plan(
            "raw1",
            "database limit: psycopg 3, 1 connection",
            "raw",
            spec={"ids": ids["plain"], "database_url": url, **pin},
            startup=1.5,
        ),
        Plan(
            "raw4",
            "database limit: psycopg 3, 4 connections",
            "raw",
            procs=4,
            spec={"ids": ids["plain"], "database_url": url},
            startup=2.0,
        ),
        Plan(
            "raw_cas1",
            "psycopg 3, compare-and-set by hand, 1 connection",
            "raw_cas",
            spec={"ids": ids["plain"], "database_url": url, **pin},
            startup=1.5,
        ),
        Plan(
            "raw_ours",
            "psycopg 3, our statements (+ pending check, event record)",
            "raw_statements",
            spec={
                "ids": ids["plain"],
                "database_url": url,
                "template": context["templates"]["plain"],
                **pin,
            },
            startup=1.5,
        ),
        Plan(
            "fsm", "django-fsm-2 @transition, 1 process", "fsm", spec={"ids": ids["orders"], **pin}
        ),
        *engine_plans(context),
        Plan(
            "svc_plain1",
            "service instance_event_fire, plain, 1 process",
            "service",
            spec={"ids": ids["plain"], "event": "GO", **pin},
        ),
        Plan(
            "svc_lock1",
            "service, plain, locking path, 1 process",
            "service",
            spec={"ids": ids["plain"], "event": "GO", "path": "lock", **pin},
        ),
        Plan(
            "svc_choice1",
            "service, 2 choice states, 1 process",
            "service",
            spec={"ids": ids["choice"], "event": "GO", **pin},
        ),
        Plan(
            "svc_plain2",
            f"service, plain, {WORKERS} processes",
            "service",
            procs=WORKERS,
            spec={"ids": ids["plain"], "event": "GO"},
            startup=3.0,
        ),
        Plan(
            "svc_choice2",
            f"service, 2 choice states, {WORKERS} processes",
            "service",
            procs=WORKERS,
            spec={"ids": ids["choice"], "event": "GO"},
            startup=3.0,
        ),
        Plan(
            "rest_plain",
            f"REST fire, plain, gunicorn {WORKERS} workers",
            "http",
            unit="req/s",
            spec=rest("rest", "plain"),
            startup=1.5,
        ),
        Plan(
            "rest_fsm",
            f"REST peer: DRF + django-fsm-2, gunicorn {WORKERS} workers",
            "http",
            unit="req/s",
            spec=rest("rest", "orders", "/bench/orders/{id}/events/"),
            startup=1.5,
        ),
        Plan(
            "rest_const",
            f"HTTP floor: a constant DRF view, gunicorn {WORKERS} workers",
            "http",
            unit="req/s",
            spec=rest("rest", "plain", "/bench/constant/{id}/events/"),
            startup=1.5,
        ),
        Plan(
            "svc_plain2_off",
            f"service, plain, {WORKERS} processes, metrics off",
            "service",
            procs=WORKERS,
            spec={"ids": ids["plain"], "event": "GO", "env": {"METRICS_ENABLED": "false"}},
            startup=3.0,
        ),
        Plan(
            "rest_plain_off",
            f"REST fire, plain, gunicorn {WORKERS} workers, metrics off",
            "http",
            unit="req/s",
            spec=rest("rest_off", "plain"),
            startup=1.5,
        ),
        Plan(
            "rest_choice",
            f"REST fire, 2 choice states, gunicorn {WORKERS} w.",
            "http",
            unit="req/s",
            spec=rest("rest", "choice"),
            startup=1.5,
        ),
        Plan(
            "rest_throttled",
            "REST fire, plain, throttle on (600/s per client)",
            "http",
            unit="req/s",
            spec=rest("throttled", "plain"),
            startup=1.5,
        ),
        Plan(
            "rest_gthread",
            f"REST fire, plain, gthread {WORKERS} workers × 4 threads",
            "http",
            unit="req/s",
            spec=rest("gthread", "plain"),
            startup=1.5,
        ),
        Plan(
            "rest_granian",
            f"REST fire, plain, granian {WORKERS} workers",
            "http",
            unit="req/s",
            spec=rest("granian", "plain"),
            startup=1.5,
        ),
        Plan(
            "rest_fsm_granian",
            f"REST peer: DRF + django-fsm-2, granian {WORKERS} workers",
            "http",
            unit="req/s",
            spec=rest("granian", "orders", "/bench/orders/{id}/events/"),
            startup=1.5,
        ),
        Plan(
            "grow_small",
            "growth: service, 1k history rows, 1k instances",
            "service",
            spec={"ids": ids["small"], "event": "GO", "database_url": context["small"], **pin},
        ),
        Plan(
            "grow_large",
            "growth: service, 1M history rows, 100k instances",
            "service",
            spec={"ids": ids["large"], "event": "GO", "database_url": context["large"], **pin},
        ),
    ]


# The order within a round: what a goal compares runs back to back, so that a busy spell on
# this shared machine falls on both sides of a ratio rather than on one.
RUN_ORDER = [
    "raw1", "svc_plain1", "fsm", "svc_lock1", "raw_cas1", "raw_ours", "raw4", "eng_plain",
    "eng_plain_before", "eng_choice", "eng_choice_before", "svc_choice1", "svc_plain2_off",
    "svc_plain2", "rest_plain_off", "rest_plain", "rest_fsm", "rest_const", "svc_choice2",
    "rest_choice", "rest_throttled", "rest_gthread", "rest_granian", "rest_fsm_granian",
    "grow_small", "grow_large",
]  # fmt: skip


def paired(a: list[float], b: list[float]) -> float:
    """The median over the rounds of a / b, each round's pair measured side by side."""
    ratios = [x / y for x, y in zip(a, b, strict=True) if y]
    return statistics.median(ratios) if ratios else float("nan")


def engine_rows(r: dict[str, Result]) -> list[Row]:
    """The engine step's rows; with the ENGINE_BEFORE rows, its CPU per call against them."""

    def engine_row(key: str, ratio_cell: str = "", goal: str = "", ok=None) -> Row:
        res = r[key]
        return Row(
            res.label,
            f"{res.rate:,.0f} /s",
            f"{res.p50:.1f} µs",
            f"{res.p99:.1f} µs",
            ratio_cell,
            goal,
            "" if ok is None else verdict(ok),
        )

    rows = [engine_row("eng_plain")]
    plain = paired(r["eng_choice"].rates, r["eng_plain"].rates)
    rows.append(engine_row("eng_choice", ratio_text(plain, "plain")))
    for key in ("eng_plain", "eng_choice"):
        if f"{key}_before" not in r:
            continue
        # CPU per call is 1 / rate in one busy process: now over before = before's rate / ours.
        cpu = paired(r[f"{key}_before"].rates, r[key].rates)
        rows.append(
            engine_row(
                f"{key}_before",
                f"CPU per call now {cpu:.2f} × this",
                "now ≤ 1.10 × before",
                cpu <= 1.10,
            )
        )
    return rows


def rows_for(r: dict[str, Result]) -> list[Row]:
    def row(key: str, label: str | None = None, ratio: str = "", goal: str = "", ok=None):
        res = r[key]
        figure = rate_text(res.rate, res.unit)
        if res.errors:
            figure += f" ({res.errors} errors: {res.first_error[:60]})"
        return Row(
            label or res.label,
            figure,
            ms(res.p50),
            ms(res.p99),
            ratio,
            goal,
            "" if ok is None else verdict(ok),
        )

    def ratio(a: str, b: str) -> float:
        return paired(r[a].rates, r[b].rates)

    svc_raw, svc_fsm = ratio("svc_plain1", "raw1"), ratio("svc_plain1", "fsm")
    rest_peer = ratio("rest_plain", "rest_fsm")
    # Paired rounds, metrics on (the rows above them) over off, measured back to back.
    svc_metrics = ratio("svc_plain2", "svc_plain2_off")
    rest_metrics = ratio("rest_plain", "rest_plain_off")
    grow50 = paired(r["grow_large"].p50s, r["grow_small"].p50s)
    grow99 = paired(r["grow_large"].p99s, r["grow_small"].p99s)
    api_cpu = [w - s for w, s in zip(r["rest_plain"].cpus, r["svc_plain1"].cpus, strict=False)]
    api_own = statistics.median(api_cpu) if api_cpu else float("nan")
    api_floor = paired(api_cpu, r["rest_const"].cpus)
    return [
        row("raw1", ratio="1.00 (reference)"),
        row("raw4", ratio=ratio_text(ratio("raw4", "raw1"), "1 conn")),
        row("raw_cas1", ratio=ratio_text(ratio("raw_cas1", "raw1"), "psycopg")),
        row("raw_ours", ratio=ratio_text(ratio("raw_ours", "raw1"), "psycopg")),
        row("fsm", ratio=ratio_text(ratio("fsm", "raw1"), "psycopg")),
        *engine_rows(r),
        row(
            "svc_plain1",
            "service, plain (compare-and-set), 1 process",
            ratio=ratio_text(svc_raw, "psycopg"),
            goal="≥ 1.0 × psycopg 1 conn",
            ok=svc_raw >= 1.0,
        ),
        Row(
            "  same, against django-fsm-2",
            ratio=ratio_text(svc_fsm, "fsm-2"),
            goal="≥ 2.5 × django-fsm-2",
            verdict=verdict(svc_fsm >= 2.5),
        ),
        Row(
            "  same, against the compare-and-set by hand",
            ratio=ratio_text(ratio("svc_plain1", "raw_cas1"), "by hand"),
        ),
        row("svc_lock1", ratio=ratio_text(ratio("svc_lock1", "raw1"), "psycopg")),
        Row(
            "  same, against our statements by hand",
            ratio=ratio_text(ratio("svc_lock1", "raw_ours"), "by hand"),
        ),
        row("svc_choice1", ratio=ratio_text(ratio("svc_choice1", "svc_plain1"), "plain")),
        row("svc_plain2", ratio=ratio_text(ratio("svc_plain2", "svc_plain1"), "1 process")),
        row("svc_choice2", ratio=ratio_text(ratio("svc_choice2", "svc_choice1"), "1 process")),
        row(
            "rest_plain",
            ratio=ratio_text(rest_peer, "REST peer"),
            goal="≥ 1.5 × REST peer, p99 < 50 ms",
            ok=rest_peer >= 1.5 and r["rest_plain"].p99 < P99_LIMIT_US,
        ),
        Row(
            "  same, against the service",
            ratio=ratio_text(ratio("rest_plain", "svc_plain2"), "service 2p"),
        ),
        row("rest_fsm", ratio=ratio_text(ratio("rest_fsm", "fsm"), "fsm-2 1p")),
        row("rest_const", ratio=ratio_text(ratio("rest_const", "rest_plain"), "REST fire")),
        row("rest_choice", ratio=ratio_text(ratio("rest_choice", "svc_choice2"), "service 2p")),
        cpu_row("CPU per event: service, plain, 1 process", r["svc_plain1"].cpu),
        cpu_row("CPU per request: web worker, REST fire", r["rest_plain"].cpu),
        cpu_row("CPU per request: web worker, REST peer", r["rest_fsm"].cpu),
        cpu_row("CPU per request: web worker, constant view", r["rest_const"].cpu),
        cpu_row(
            "CPU per request: the API layer's own (worker − service)",
            api_own,
            ratio=ratio_text(api_floor, "constant view"),
            goal="≤ 0.50 ms, ≤ 2 × constant view",
            ok=api_own <= API_CPU_LIMIT_S and api_floor <= 2.0,
        ),
        row(
            "svc_plain2_off",
            ratio=ratio_text(svc_metrics, "metrics off"),
            goal="on ≥ 0.90 × off",
            ok=svc_metrics >= 0.90,
        ),
        row(
            "rest_plain_off",
            ratio=ratio_text(rest_metrics, "metrics off"),
            goal="on ≥ 0.90 × off",
            ok=rest_metrics >= 0.90,
        ),
        row(
            "rest_throttled", ratio=ratio_text(ratio("rest_throttled", "rest_plain"), "no throttle")
        ),
        row("rest_gthread", ratio=ratio_text(ratio("rest_gthread", "rest_plain"), "sync workers")),
        row("rest_granian", ratio=ratio_text(ratio("rest_granian", "rest_plain"), "gunicorn")),
        Row(
            "  same, against the REST peer on granian",
            ratio=ratio_text(ratio("rest_granian", "rest_fsm_granian"), "REST peer"),
        ),
        cpu_row(
            "CPU per request: granian worker, REST fire",
            r["rest_granian"].cpu,
            ratio=ratio_text(paired(r["rest_granian"].cpus, r["rest_plain"].cpus), "gunicorn"),
        ),
        row("rest_fsm_granian"),
        row("grow_small", ratio="1.00 (reference)"),
        row(
            "grow_large",
            ratio=ratio_text(grow50, "1k, p50"),
            goal="p50 ≤ 1.20 × 1k",
            ok=grow50 <= 1.20,
        ),
        Row(
            "  same, p99",
            ratio=ratio_text(grow99, "1k, p99"),
            goal="p99 ≤ 1.50 × 1k",
            verdict=verdict(grow99 <= 1.50),
        ),
    ]


def cpu_row(label: str, seconds: float, ratio: str = "", goal: str = "", ok=None) -> Row:
    figure = "—" if seconds != seconds else f"{seconds * 1000:.3f} ms CPU"
    return Row(label, figure, ratio=ratio, goal=goal, verdict="" if ok is None else verdict(ok))


def rules_rows(workdir: Path) -> list[Row]:
    """bench/bench_rules.py (the expressions benchmark), its checks as rows."""
    done = subprocess.run(
        [PYTHON, str(HERE / "bench_rules.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    (workdir / "bench_rules.log").write_text(done.stdout + done.stderr)
    rows = []
    for status, name, figure in re.findall(r"^(OK|FAIL)\s+(.+?): (.+)$", done.stdout, re.M):
        rows.append(
            Row(
                f"expressions: {name}",
                figure,
                goal="bench_rules.py",
                verdict="OK" if status == "OK" else "MISS",
            )
        )
    if not rows:
        rows.append(Row("expressions: bench_rules.py", f"exit {done.returncode}", verdict="MISS"))
    return rows
