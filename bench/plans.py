"""What the suite measures (plans) and how each figure is judged (rows of the table).

The goals: the sync service at least 0.70 x raw psycopg and 1.2 x django-fsm-2
on one connection; REST at least 0.60 x the service with as many processes, p99 under 50 ms;
latency with 1,000,000 history rows within 20% of latency with 1,000; the service and REST
with metrics on at least 0.90 x the same with metrics off, in paired rounds.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.infra import PYTHON, ROOT
from bench.report import Result, Row, ms, rate_text, ratio_text, verdict

HERE = Path(__file__).resolve().parent
WORKERS = 2  # gunicorn workers, and service processes for the REST ratio
P99_LIMIT_US = 50_000


@dataclass
class Plan:
    key: str
    label: str
    kind: str  # a bench.drivers kind, or "http"
    procs: int = 1
    spec: dict = field(default_factory=dict)
    unit: str = "TPS"
    startup: float = 2.5  # seconds from spawn to the shared start: Django import and warm-up


def plans(context: dict, args) -> list[Plan]:
    ids, url = context["ids"], context["url"]
    pin = {"pin": 0} if args.pin else {}
    fire = "/api/v1/instances/{id}/events/"

    def rest(base: str, kind: str) -> dict:
        return {
            "url": base,
            "path": fire,
            "body": {"event": "GO"},
            "ids": ids[kind],
            "tokens": context["tokens"],
        }

    machines = HERE / "machines"
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
        Plan(
            "svc_plain1",
            "service instance_event_fire, plain, 1 process",
            "service",
            spec={"ids": ids["plain"], "event": "GO", **pin},
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
            spec=rest(context["rest"], "plain"),
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
            spec=rest(context["rest_off"], "plain"),
            startup=1.5,
        ),
        Plan(
            "rest_choice",
            f"REST fire, 2 choice states, gunicorn {WORKERS} w.",
            "http",
            unit="req/s",
            spec=rest(context["rest"], "choice"),
            startup=1.5,
        ),
        Plan(
            "rest_throttled",
            "REST fire, plain, throttle on (600/s per client)",
            "http",
            unit="req/s",
            spec=rest(context["throttled"], "plain"),
            startup=1.5,
        ),
        Plan(
            "rest_gthread",
            f"REST fire, plain, gthread {WORKERS} workers × 4 threads",
            "http",
            unit="req/s",
            spec=rest(context["gthread"], "plain"),
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
    "raw1", "svc_plain1", "fsm", "raw_ours", "raw4", "eng_plain", "eng_choice", "svc_choice1",
    "svc_plain2_off", "svc_plain2", "rest_plain_off", "rest_plain", "svc_choice2", "rest_choice",
    "rest_throttled", "rest_gthread", "grow_small", "grow_large",
]  # fmt: skip


def paired(a: list[float], b: list[float]) -> float:
    """The median over the rounds of a / b, each round's pair measured side by side."""
    ratios = [x / y for x, y in zip(a, b, strict=True) if y]
    return statistics.median(ratios) if ratios else float("nan")


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

    def engine_row(key: str, ratio_cell: str = "") -> Row:
        res = r[key]
        return Row(
            res.label, f"{res.rate:,.0f} /s", f"{res.p50:.1f} µs", f"{res.p99:.1f} µs", ratio_cell
        )

    svc_raw, svc_fsm = ratio("svc_plain1", "raw1"), ratio("svc_plain1", "fsm")
    rest_plain, rest_choice = ratio("rest_plain", "svc_plain2"), ratio("rest_choice", "svc_choice2")
    # Paired rounds, metrics on (the rows above them) over off, measured back to back.
    svc_metrics = ratio("svc_plain2", "svc_plain2_off")
    rest_metrics = ratio("rest_plain", "rest_plain_off")
    grow50 = paired(r["grow_large"].p50s, r["grow_small"].p50s)
    grow99 = paired(r["grow_large"].p99s, r["grow_small"].p99s)
    return [
        row("raw1", ratio="1.00 (reference)"),
        row("raw4", ratio=ratio_text(ratio("raw4", "raw1"), "1 conn")),
        row("raw_ours", ratio=ratio_text(ratio("raw_ours", "raw1"), "psycopg")),
        row("fsm", ratio=ratio_text(ratio("fsm", "raw1"), "psycopg")),
        engine_row("eng_plain"),
        engine_row("eng_choice", ratio_text(ratio("eng_choice", "eng_plain"), "plain")),
        row(
            "svc_plain1",
            ratio=ratio_text(svc_raw, "psycopg"),
            goal="≥ 0.70 × psycopg 1 conn",
            ok=svc_raw >= 0.70,
        ),
        Row(
            "  same, against django-fsm-2",
            ratio=ratio_text(svc_fsm, "fsm-2"),
            goal="≥ 1.20 × django-fsm-2",
            verdict=verdict(svc_fsm >= 1.20),
        ),
        Row(
            "  same, against our statements by hand",
            ratio=ratio_text(ratio("svc_plain1", "raw_ours"), "by hand"),
        ),
        row("svc_choice1", ratio=ratio_text(ratio("svc_choice1", "svc_plain1"), "plain")),
        row("svc_plain2", ratio=ratio_text(ratio("svc_plain2", "svc_plain1"), "1 process")),
        row("svc_choice2", ratio=ratio_text(ratio("svc_choice2", "svc_choice1"), "1 process")),
        row(
            "rest_plain",
            ratio=ratio_text(rest_plain, "service 2p"),
            goal="≥ 0.60 × service, p99 < 50 ms",
            ok=rest_plain >= 0.60 and r["rest_plain"].p99 < P99_LIMIT_US,
        ),
        row(
            "rest_choice",
            ratio=ratio_text(rest_choice, "service 2p"),
            goal="≥ 0.60 × service, p99 < 50 ms",
            ok=rest_choice >= 0.60 and r["rest_choice"].p99 < P99_LIMIT_US,
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
        row("rest_gthread", ratio=ratio_text(ratio("rest_gthread", "svc_plain2"), "service 2p")),
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
            goal="p99 ≤ 1.20 × 1k",
            verdict=verdict(grow99 <= 1.20),
        ),
    ]


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
