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
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench import data
from bench.async_events import async_rows
from bench.infra import PYTHON, ROOT, Children, free_port, start_gunicorn
from bench.plans import WORKERS, Plan, plans, rows_for, rules_rows
from bench.report import Result, Row, table

HERE = Path(__file__).resolve().parent
INSTANCES = 10_000
GROWTH_SMALL = 1_000  # instances, one history row each: 1,000 rows
GROWTH_LARGE = 100_000  # instances with 9 applied events each: 1,000,000 history rows
GROWTH_EVENTS = 9
REST_CLIENTS = 4  # closed-loop connections: two per gunicorn worker, each its own API token


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
    # Ctrl-C raises KeyboardInterrupt even where SIGINT came in ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError, psycopg.Error) as exc:
        print(f"\nbench failed: {exc}", file=sys.stderr)
        return 2
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
