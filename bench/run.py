"""The suite: `python -m bench` (what `make bench` runs). See bench/README.md.

It starts its own PostgreSQL (platform/postgres.sh on a free port, its own data directory),
Redis and web servers (gunicorn as deployed, with variants, and granian; 2 workers each, on
bench/settings.py, which adds the peer's REST endpoint and a constant view), loads the data,
then runs every measurement for a fixed window, round after round (each round runs every
measurement once, so a noisy minute hits all of them alike), and prints one table: medians
over the rounds, ratios measured in the same run, the goals, OK or MISS.
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

from bench import data, replay
from bench.async_events import async_rows
from bench.infra import (
    PYTHON,
    ROOT,
    Children,
    checkout,
    free_port,
    start_granian,
    start_gunicorn,
    workers_cpu,
)
from bench.plans import (
    ENGINE_BEFORE,
    RUN_ORDER,
    WORKERS,
    Plan,
    engine_plans,
    engine_rows,
    plans,
    rows_for,
    rules_rows,
)
from bench.replay import replay_rows
from bench.report import Result, Row, ms, rate_text, table

HERE = Path(__file__).resolve().parent
INSTANCES = 10_000
GROWTH_SMALL = 1_000  # instances, one history row each: 1,000 rows
GROWTH_LARGE = 100_000  # instances with 9 applied events each: 1,000,000 history rows
GROWTH_EVENTS = 9
GTHREADS = 4  # threads per worker of the gthread gunicorn
REST_CLIENTS = 4  # closed-loop connections: two per gunicorn worker, each its own API token
ASYNC_REFERENCES = ("svc_plain2", "rest_plain")  # the sync rows the async rows compare with


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 5)))
    parser.add_argument(
        "--seconds",
        type=float,
        default=float(os.environ.get("BENCH_SECONDS", 3)),
        help="measured window of each measurement in each round",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s: a smoke test")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin each one-process measurement and its PostgreSQL backend to CPU 0",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--async-only",
        action="store_true",
        help="only the async rows and the sync rows they are compared with (REST, service 2p)",
    )
    parser.add_argument(
        "--engine-only",
        action="store_true",
        help="only the engine step, now and before the modeling extensions (no servers)",
    )
    parser.add_argument(
        "--replay-only",
        action="store_true",
        help="only the replay-history rows (no servers, no other data)",
    )
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
        busy_before = cpu_busy()
        if args.replay_only:
            context = setup_replay(children)
            rows = []
        elif args.engine_only:
            context = {
                "env": {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"},
                "sizes": {},
            }
            context["engine_before"] = checkout(ENGINE_BEFORE, workdir / "before")
            rows = measure_all(children, context, args)
        else:
            context = setup(children, args)
            rows = measure_all(children, context, args)
            rows += [] if args.async_only else rules_rows(workdir)
            rows += async_rows(children, context, args)
        rows += [] if args.async_only or args.engine_only else replay_rows(children, context)
        context["busy_before"] = busy_before
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
    # Metrics on as deployed: every process writes its counters to one multiprocess folder.
    # The "metrics off" rows turn the counting off (METRICS_ENABLED=false) in their processes.
    env["PROMETHEUS_MULTIPROC_DIR"] = str(children.workdir / "metrics")
    (children.workdir / "metrics").mkdir()
    # The broker of the async measurement (bench/async_events.py): every child, the gunicorns
    # that accept the async events included, publishes to our own Redis.
    env["CELERY_BROKER_URL"] = children.start_redis(free_port(56480))
    step(f"Redis on {env['CELERY_BROKER_URL']}")
    prepare = ["-m", "bench.data", "prepare", str(REST_CLIENTS)]
    prepared = json.loads(_run_json(children, "prepare", prepare, env, 120))
    step("schema migrated, bench machines online, API clients made")
    context = {"url": url, "env": env, "tokens": prepared["tokens"]}
    context["engine_before"] = checkout(ENGINE_BEFORE, children.workdir / "before")
    context["templates"] = {kind: prepared[kind]["template"] for kind in ("plain", "choice")}
    _load(context, step)
    _start_servers(children, context, step)
    return context


def setup_replay(children: Children) -> dict:
    """`--replay-only`: PostgreSQL, the schema and machines, and the history to replay."""
    step = _stepper()
    url = children.start_postgres(free_port(55480))
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    prepared = json.loads(_run_json(children, "prepare", ["-m", "bench.data", "prepare", "1"],
                                    env, 120))  # fmt: skip
    context = {"url": url, "env": env, "sizes": {}}
    context["replay"] = data.clone_database(url, "bench_replay")
    replay.load(context["replay"], prepared["choice"]["template"])
    step(f"PostgreSQL on {url}, {replay.INSTANCES:,} instances with {replay.EVENTS} events each")
    return context


def _load(context: dict, step) -> None:
    url, templates = context["url"], context["templates"]
    small = data.clone_database(url, "bench_growth_1k")
    large = data.clone_database(url, "bench_growth_1m")
    context["replay"] = data.clone_database(url, "bench_replay")  # before any server connects
    replay.load(context["replay"], templates["choice"])
    step(f"replay history: {replay.INSTANCES:,} instances with {replay.EVENTS} events each")
    ids = {
        # One applied event each: the event table is then not empty when settle() takes
        # its statistics, or PostgreSQL plans the foreign-key checks of every event insert
        # as scans of a table it believes empty, slower with every event (REST sync fire ran
        # at a third of its speed until autovacuum analysed the table again).
        "plain": data.load_instances(
            url, template=templates["plain"], count=INSTANCES, prefix="p-", events=1
        ),
        "choice": data.load_instances(
            url, template=templates["choice"], count=INSTANCES, prefix="c-"
        ),
        "orders": data.load_orders(url, INSTANCES),
        "small": data.load_instances(
            small, template=templates["plain"], count=GROWTH_SMALL, prefix="g-"
        ),
    }
    step(f"{INSTANCES:,} instances per machine, {INSTANCES:,} django-fsm-2 orders")
    ids["large"] = data.load_instances(
        large, template=templates["plain"], count=GROWTH_LARGE, prefix="g-", events=GROWTH_EVENTS
    )
    sizes = {"main": data.settle(url), "small": data.settle(small), "large": data.settle(large)}
    step(f"growth data: {sizes['small']} and {sizes['large']}")
    context.update(small=small, large=large, ids=ids, sizes=sizes)


# The servers: gunicorn with the product's settings as deployed (sync workers), throttling
# off; the same with metrics off; the same with the default throttle; threaded workers, which
# keep connections alive; and granian (a Rust HTTP server), the alternative measured.
SERVERS = [
    ("rest", 18480, (), True),
    ("rest_off", 18880, (), True),  # the same with metrics off
    ("throttled", 18580, (), False),
    ("gthread", 18680, ("--worker-class", "gthread", "--threads", str(GTHREADS)), True),
    ("granian", 18780, None, True),
]
METRICS_OFF = {"METRICS_ENABLED": "false"}


def _start_servers(children: Children, context: dict, step) -> None:
    for name, port, extra, throttle_off in SERVERS:
        env = dict(context["env"])  # bench.settings: the product's and the peer endpoints
        if not throttle_off:
            env.pop("API_THROTTLE_RATE")
        if name == "rest_off":
            env.update(METRICS_OFF)
        server = f"server-{name}"
        if extra is None:
            start = start_granian(children, server, port=free_port(port), env=env, workers=WORKERS)
        else:
            start = start_gunicorn(
                children, server, port=free_port(port), env=env, workers=WORKERS, extra=extra
            )
        context[name] = start
        context.setdefault("masters", {})[name] = children.pid_of(server)
        warm = {  # first requests import, connect and compile: not measured
            "url": context[name],
            "path": "/api/v1/instances/{id}/events/",
            "body": {"event": "GO"},
            "ids": context["ids"]["plain"],
            "tokens": context["tokens"],
            "start_at": time.time() + 2,
            "seconds": 0,
            "seed": 0,
        }
        _run_json(children, f"warm-{name}", ["-m", "bench.load", json.dumps(warm)], env, 60)
        kind = "granian" if extra is None else f"gunicorn {' '.join(extra)}"
        step(f"{name}: {kind} ({WORKERS} workers) at {context[name]}")


def _stepper():
    began = time.monotonic()

    def step(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {message}", file=sys.stderr, flush=True)

    return step


def measure_all(children: Children, context: dict, args) -> list[Row]:
    chosen = engine_plans(context) if args.engine_only else plans(context, args)
    todo = sorted(chosen, key=lambda plan: RUN_ORDER.index(plan.key))
    if args.async_only:
        todo = [plan for plan in todo if plan.key in ASYNC_REFERENCES]
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
    context["results"] = results  # the async rows compare with the sync service
    if args.async_only:
        shown = results.values()
        return [Row(r.label, rate_text(r.rate, r.unit), ms(r.p50), ms(r.p99)) for r in shown]
    if args.engine_only:
        return engine_rows(results)
    return rows_for(results)


def run_plan(children: Children, context: dict, plan: Plan, seconds: float, round_no: int):
    env = {**context["env"], **plan.spec.get("env", {})}
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
        cwd = Path(plan.spec.get("root", ROOT))  # another commit's files, for before/after rows
        procs.append(children.start(f"{plan.key}-{n}", [PYTHON, *args], env, cwd))
    if plan.kind == "http":  # the CPU the server's workers spend in the window
        master = context["masters"][plan.spec["server"]]
        _sleep_until(start_at)
        before = workers_cpu(master)
        _sleep_until(start_at + seconds)
        cpu = workers_cpu(master) - before
    runs = [json.loads(children.finish(p, timeout=plan.startup + seconds + 60)) for p in procs]
    if plan.kind == "http":
        (run,) = runs
        run["cpu"] = cpu
    return runs


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


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
    busy = context["busy_before"]
    warning = (
        f"\nThe CPUs were {busy:.0%} busy before the suite started: other work shares this machine,"
        " so read the ratios, and re-run at a quiet moment for absolute figures."
        if busy > 0.25
        else ""
    )
    return (
        f"\nStatecenter bench · commit {commit}{' + local changes' if dirty else ''} · "
        f"{os.cpu_count()} CPUs, load {load} · Python {platform.python_version()} · "
        f"{args.rounds} rounds × {args.seconds:g} s, medians{' · pinned' if args.pin else ''} · "
        f"{INSTANCES:,} random instances · suite took {elapsed:.0f} s{warning}\n"
    )


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of the machine's CPU time that was not idle over `seconds` (Linux /proc/stat)."""

    def sample() -> tuple[int, int]:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except OSError:
            return 0, 0
        return sum(fields), fields[3] + fields[4]  # idle + iowait

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / (total1 - total0) if total1 > total0 else 0.0


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
