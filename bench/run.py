"""The suite: `python -m bench` (what `make bench` runs). See bench/README.md.

It starts its own PostgreSQL (platform/postgres.sh on a free port, its own data directory)
and two gunicorns (2 workers each: throttling off, and on at its default rate), loads the
data, then runs every measurement for a fixed window, round after round (each round runs
every measurement once, so a noisy minute hits all of them alike), and prints one table:
medians over the rounds, ratios measured in the same run, the issue's goals, OK or MISS.
Everything it started is stopped on the way out: at the end, on failure and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import data
from bench.async_events import async_rows
from bench.infra import PYTHON, ROOT, Children, free_port, start_gunicorn
from bench.report import Result, Row, ms, rate_text, ratio_text, table, verdict

HERE = Path(__file__).resolve().parent
INSTANCES = 10_000
GROWTH_SMALL = 1_000  # instances, one history row each: 1,000 rows
GROWTH_LARGE = 100_000  # instances with 9 applied events each: 1,000,000 history rows
GROWTH_EVENTS = 9
REST_CLIENTS = 4  # closed-loop connections: two per gunicorn worker, each its own API token
WORKERS = 2


@dataclass
class Plan:
    key: str
    label: str
    kind: str  # a bench.drivers kind, or "http"
    procs: int = 1
    spec: dict = field(default_factory=dict)
    unit: str = "TPS"
    startup: float = 2.5  # seconds from spawn to the shared start: Django import and warm-up


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    parser.add_argument(
        "--seconds",
        type=float,
        default=float(os.environ.get("BENCH_SECONDS", 4)),
        help="measured window of each measurement in each round",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s: a smoke test")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin each one-process measurement and its PostgreSQL backend to CPU 0",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="statecenter-bench-"))
    children = Children(workdir)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    began = time.monotonic()
    failed = True
    try:
        context = setup(children, args)
        rows = measure_all(children, context, args)
        rows += rules_rows(workdir)
        rows += async_rows(context)
        print(header(context, args, time.monotonic() - began))
        print(table(rows))
        save(rows, context, args)
        failed = False
        return 1 if any(r.verdict == "MISS" for r in rows) else 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping what the suite started", file=sys.stderr)
        return 130
    finally:
        children.stop()
        if failed or args.keep_logs:
            print(f"logs: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def setup(children: Children, args) -> dict:
    step = _stepper()
    url = children.start_postgres(free_port(55480))
    step(f"PostgreSQL on {url}")
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    env["API_THROTTLE_RATE"] = "0"
    prepared = json.loads(
        _run_json(children, "prepare", ["-m", "bench.data", "prepare", str(REST_CLIENTS)], env, 120)
    )
    step("schema migrated, bench machines online, API clients made")
    small = data.clone_database(url, "bench_growth_1k")
    large = data.clone_database(url, "bench_growth_1m")
    plain, choice = prepared["plain"]["template"], prepared["choice"]["template"]
    ids = {
        "plain": data.load_instances(url, template=plain, count=INSTANCES, prefix="p-"),
        "choice": data.load_instances(url, template=choice, count=INSTANCES, prefix="c-"),
        "orders": data.load_orders(url, INSTANCES),
        "small": data.load_instances(small, template=plain, count=GROWTH_SMALL, prefix="g-"),
    }
    step(f"{INSTANCES:,} instances per machine, {INSTANCES:,} django-fsm-2 orders")
    ids["large"] = data.load_instances(
        large, template=plain, count=GROWTH_LARGE, prefix="g-", events=GROWTH_EVENTS
    )
    sizes = {"main": data.settle(url), "small": data.settle(small), "large": data.settle(large)}
    step(f"growth data: {sizes['small']} and {sizes['large']}")
    rest_env = {**env, "DJANGO_SETTINGS_MODULE": "config.settings"}
    rest = start_gunicorn(
        children, "gunicorn", port=free_port(18480), env=rest_env, workers=WORKERS
    )
    throttled_env = {k: v for k, v in rest_env.items() if k != "API_THROTTLE_RATE"}
    throttled = start_gunicorn(
        children, "gunicorn-throttled", port=free_port(18580), env=throttled_env, workers=WORKERS
    )
    step(f"gunicorn ({WORKERS} workers) at {rest} and, throttled, at {throttled}")
    for base in (rest, throttled):  # first requests import, connect and compile: not measured
        warm = {
            "url": base,
            "path": "/api/v1/instances/{id}/events/",
            "body": {"event": "GO"},
            "ids": ids["plain"],
            "tokens": prepared["tokens"],
            "start_at": time.time() + 2,
            "seconds": 0,
            "seed": 0,
        }
        _run_json(children, "warm-up", ["-m", "bench.load", json.dumps(warm)], env, 60)
    step("gunicorn workers warmed up")
    return {
        "url": url,
        "small": small,
        "large": large,
        "ids": ids,
        "sizes": sizes,
        "rest": rest,
        "throttled": throttled,
        "tokens": prepared["tokens"],
        "env": env,
    }


def _stepper():
    began = time.monotonic()

    def step(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {message}", file=sys.stderr, flush=True)

    return step


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
            "service, plain, 2 processes",
            "service",
            procs=2,
            spec={"ids": ids["plain"], "event": "GO"},
            startup=3.0,
        ),
        Plan(
            "svc_choice2",
            "service, 2 choice states, 2 processes",
            "service",
            procs=2,
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


def measure_all(children: Children, context: dict, args) -> list[Row]:
    todo = plans(context, args)
    results = {p.key: Result(p.label, p.unit) for p in todo}
    for round_no in range(1, args.rounds + 1):
        for plan in todo:
            runs = run_plan(children, context, plan, args.seconds, round_no)
            rate, p50, p99 = results[plan.key].add_round(runs)
            late = max(r["late"] for r in runs)
            print(
                f"round {round_no}/{args.rounds}  {plan.label:<52} {rate:>10,.0f} {plan.unit:<5}"
                f" p50 {p50 / 1000:6.2f} ms  p99 {p99 / 1000:6.2f} ms"
                + (f"  ({late:.1f} s late)" if late > 0.25 else "")
                + (
                    f"  {sum(r['errors'] for r in runs)} errors" if results[plan.key].errors else ""
                ),
                file=sys.stderr,
                flush=True,
            )
    return rows_for(results)


def run_plan(children: Children, context: dict, plan: Plan, seconds: float, round_no: int):
    env = dict(context["env"])
    if "database_url" in plan.spec:
        env["DATABASE_URL"] = plan.spec["database_url"]
    start_at = time.time() + plan.startup
    procs = []
    for n in range(plan.procs):
        spec = {**plan.spec, "start_at": start_at, "seconds": seconds, "seed": round_no * 100 + n}
        if plan.kind == "http":
            args = ["-m", "bench.load", json.dumps(spec)]
        else:
            args = ["-m", "bench.drivers", plan.kind, json.dumps(spec)]
        procs.append(children.start(f"{plan.key}-{n}", [PYTHON, *args], env))
    return [json.loads(children.finish(p, timeout=plan.startup + seconds + 60)) for p in procs]


def _run_json(children: Children, name: str, args: list[str], env: dict, timeout: float) -> str:
    return children.finish(children.start(name, [PYTHON, *args], env), timeout=timeout)


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
        return r[a].rate / r[b].rate if r[b].rate else float("nan")

    def engine_row(key: str, ratio_cell: str = "") -> Row:
        res = r[key]
        return Row(
            res.label, f"{res.rate:,.0f} /s", f"{res.p50:.1f} µs", f"{res.p99:.1f} µs", ratio_cell
        )

    svc_raw, svc_fsm = ratio("svc_plain1", "raw1"), ratio("svc_plain1", "fsm")
    rest_plain, rest_choice = ratio("rest_plain", "svc_plain2"), ratio("rest_choice", "svc_choice2")
    p99_limit = 50_000
    grow50 = r["grow_large"].p50 / r["grow_small"].p50
    grow99 = r["grow_large"].p99 / r["grow_small"].p99
    return [
        row("raw1", ratio="1.00 (reference)"),
        row("raw4", ratio=ratio_text(ratio("raw4", "raw1"), "1 conn")),
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
        row("svc_choice1", ratio=ratio_text(ratio("svc_choice1", "svc_plain1"), "plain")),
        row("svc_plain2", ratio=ratio_text(ratio("svc_plain2", "svc_plain1"), "1 process")),
        row("svc_choice2", ratio=ratio_text(ratio("svc_choice2", "svc_choice1"), "1 process")),
        row(
            "rest_plain",
            ratio=ratio_text(rest_plain, "service 2p"),
            goal="≥ 0.60 × service, p99 < 50 ms",
            ok=rest_plain >= 0.60 and r["rest_plain"].p99 < p99_limit,
        ),
        row(
            "rest_choice",
            ratio=ratio_text(rest_choice, "service 2p"),
            goal="≥ 0.60 × service, p99 < 50 ms",
            ok=rest_choice >= 0.60 and r["rest_choice"].p99 < p99_limit,
        ),
        row(
            "rest_throttled", ratio=ratio_text(ratio("rest_throttled", "rest_plain"), "no throttle")
        ),
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
    """bench/bench_rules.py (issue 3's expression benchmark), its checks as rows."""
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


def header(context: dict, args, elapsed: float) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"\nStatecenter bench · commit {commit}{' + local changes' if dirty else ''} · "
        f"{os.cpu_count()} CPUs, load {load} · Python {platform.python_version()} · "
        f"{args.rounds} rounds × {args.seconds:g} s, medians{' · pinned' if args.pin else ''} · "
        f"{INSTANCES:,} random instances · suite took {elapsed:.0f} s\n"
    )


def save(rows: list[Row], context: dict, args) -> None:
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"results-{stamp}.json").write_text(
        json.dumps(
            {
                "rounds": args.rounds,
                "seconds": args.seconds,
                "sizes": context["sizes"],
                "rows": [r.__dict__ for r in rows],
            },
            indent=1,
        )
    )
