"""Replaying history: INSTANCES instances × EVENTS events through a draft, goal under 10 s.

`load(url, template)` fills a copy of the suite's database (made in bench/run.py before any
server connects to it, with the schema, the machines and the two-choice template) with
INSTANCES instances of the two-choice machine, each with EVENTS applied GO events (the
template's rows copied by SQL, bench.data.load_instances): 100,000 event records whose path
goes OPEN -> C1 -> C2 -> OPEN, through a guard and two case conditions. Each instance gets an
amount of its own, so no two instances' steps are alike: the replay remembers a decision
only for a step it saw before (runtime/replay.py), and here every one of the 100,000 events
is decided by the engine, the worst case.

`replay_rows` then runs one process (`python -m bench.replay measure SPEC`) that makes two
drafts of that flow and replays the online version's whole history through each, ROUNDS
times after a warm-up, with `runtime.replay.machine_replay_history(limit=INSTANCES)`, then
renders the answer as the API view does (DRF's JSONRenderer):

- identical: a new version, unchanged: every instance the same, every event three hops;
- changed: C2's case reads `event_count('GO') >= 5` and REVIEW gets a GO back to C1, so every
  instance differs at its first event and every event still routes through both choices.

Each row: the median seconds of a call (wall clock, and the process's CPU time: the
difference is the database's share and, on a busy machine, waiting for a CPU), its slowest,
and events replayed per second. Goal: the slowest under GOAL_SECONDS.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import psycopg

from bench import data
from bench.infra import PYTHON, Children
from bench.report import Row, verdict

INSTANCES = 10_000
EVENTS = 10
ROUNDS = 3
GOAL_SECONDS = 10.0
LABEL = f"replay history: {INSTANCES:,} instances × {EVENTS} events"


def load(url: str, template: int) -> None:
    """The history to replay, in the database at `url` (a copy of the suite's)."""
    lo, hi = data.load_instances(
        url, template=template, count=INSTANCES, prefix="r-", events=EVENTS
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE runtime_instance"
            " SET context = jsonb_set(context, '{amount}', to_jsonb(1000 + id))"
            " WHERE id BETWEEN %s AND %s",
            (lo, hi),
        )
    data.settle(url)


def replay_rows(children: Children, context: dict) -> list[Row]:
    env = {**context["env"], "DJANGO_SETTINGS_MODULE": "config.settings"}
    env["DATABASE_URL"] = context["replay"]
    proc = children.start("replay", [PYTHON, "-m", "bench.replay", "measure", "{}"], env)
    figures = json.loads(children.finish(proc, timeout=600))
    return [_row(name, figures[name]) for name in ("identical", "changed")]


def _row(name: str, figure: dict) -> Row:
    median, slowest = statistics.median(figure["seconds"]), max(figure["seconds"])
    return Row(
        f"{LABEL}, {name} draft",
        f"{median:.2f} s",
        f"CPU {statistics.median(figure['cpu']):.2f} s",
        f"max {slowest:.2f} s",
        f"{figure['events'] / median:,.0f} events/s",
        f"< {GOAL_SECONDS:g} s",
        verdict(slowest < GOAL_SECONDS),
    )


def measure() -> dict:
    """In a process of its own on the replay database: the drafts, then the timed calls."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from rest_framework.renderers import JSONRenderer

    from machines.models import Flow, Machine
    from runtime.replay import machine_replay_history

    flow = Flow.objects.get(code="bench-choice")
    online = flow.machines.get(status=Machine.Status.ONLINE)
    figures = {}
    for name, draft, differing in (
        ("identical", _draft(online, None), 0),
        ("changed", _draft(online, _slower_c2), INSTANCES),
    ):
        machine_replay_history(machine=draft, limit=10)  # compile, connect: not measured
        seconds, cpu = [], []
        for _ in range(ROUNDS):
            began, began_cpu = time.perf_counter(), time.process_time()
            answer = machine_replay_history(machine=draft, limit=INSTANCES)
            JSONRenderer().render(answer)
            seconds.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        replayed = (answer["instances"]["replayed"], answer["events"]["replayed"])
        if replayed != (INSTANCES, INSTANCES * EVENTS) or (
            answer["instances"]["differing"] != differing
        ):
            raise RuntimeError(f"{name}: unexpected replay {answer['instances']}")
        figures[name] = {"seconds": seconds, "cpu": cpu, "events": answer["events"]["replayed"]}
    return figures


def _draft(online, change):
    from machines import services
    from machines.selectors import machine_export

    draft = services.machine_new_version(machine=online)
    if change is None:
        return draft
    doc = machine_export(machine=draft)
    change(doc)
    return services.machine_replace(machine=draft, data=doc)


def _slower_c2(doc: dict) -> None:
    """C2 sends the first four GOs of an instance to REVIEW, and REVIEW takes GO to C1."""
    for t in doc["smTransitions"]:
        if t["caseCondition"] and t["caseCondition"].startswith("event_count('GO') >= 1"):
            t["caseCondition"] = "event_count('GO') >= 5 and ctx.amount < 1000000"
    guard = next(t["guardCondition"] for t in doc["smTransitions"] if t["eventValue"] == "GO")
    doc["smTransitions"].append(
        {
            "sourceState": "REVIEW",
            "eventValue": "GO",
            "targetState": "C1",
            "guardCondition": guard,
            "caseDefault": 2,
        }
    )


if __name__ == "__main__":
    if sys.argv[1:2] != ["measure"]:
        sys.exit("usage: python -m bench.replay measure '{}'")
    print(json.dumps(measure()), flush=True)
