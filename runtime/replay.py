"""Replaying recorded history through another version of its flow: what would it have done?

The recorded events of the instances of one version (by default the flow's online version)
go through another version (any status, a testing draft included) with the pure engine, in
the order they were applied, one instance after another. No action is called, nothing is
stored. For each instance whose replay differs, the answer names the first event whose
outcome differs; it counts the instances replayed, same and differing, and how many times
each transition would be taken, beside the recorded version's.

What is replayed: the events that were decided, `done` (applied) and `failed` with an error
the machine decided (no transition, role, guard, choice routing, expression, expected state).
Events still pending, and those that failed outside the machine (an action's callback, a
busy instance, workers that never finished), are skipped: they changed nothing and say
nothing about the machine. A sync event the machine refused left no record and cannot be
replayed. Expressions see what the recorded event saw as far as it is recorded: its context
merged into the replay's context, the replay's own event counts, the instance's id, business
key and creation time, and `now()` the moment the event was applied (docs/designer.md).
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from time import perf_counter

from config.exceptions import PlatformError, ValidationError
from machines.compiled import CompiledMachine, compiled_machine
from machines.exceptions import MachineInvalid
from machines.models import Machine
from machines.selectors import machine_definition
from machines.services import machine_validate
from rules import RequestBudget, RuleError, limits, request_budget
from runtime import engine
from runtime.exceptions import StateConflict
from runtime.models import EventRecord, Instance
from runtime.services import SIMULATION_TOLERATES, online_machine
from runtime.simulation import error_body

DEFAULT_INSTANCES = 1_000  # the last instances replayed when neither limit nor since is given
MAX_INSTANCES = 10_000  # per replay, whatever is asked
MAX_EVENTS = 200_000  # events replayed per replay: 20 per instance at the most instances
DEADLINE_SECONDS = 20.0  # wall clock; a web worker is stopped after 30 s (WEB_TIMEOUT)
# Every expression of a replay spends from one budget, this many times a request's.
BUDGET_FACTOR = 20
INSTANCE_CHUNK = 500  # instance ids per query of their events
# Recorded failures the machine decided; any other failure is skipped (see above).
DECIDED = frozenset(
    {
        "NO_TRANSITION",
        "ROLE_FORBIDDEN",
        "GUARD_REJECTED",
        "NO_DEFAULT_BRANCH",
        "ROUTING_LOOP",
        "EXPRESSION_ERROR",
        "STATE_CONFLICT",
    }
)
_REPLAYED = (EventRecord.Status.DONE, EventRecord.Status.FAILED)
_EVENT_FIELDS = ("instance_id", "id", "event", "role", "context", "status", "result", "error",
                 "expected_state", "created_at", "finished_at")  # fmt: skip


class _Stop(Exception):
    """The replay stops before this instance: `reason` is the bound it reached."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Totals:
    instances: int = 0
    same: int = 0
    events: int = 0
    skipped: int = 0
    taken: Counter = field(default_factory=Counter)  # this version's transition ids
    recorded: Counter = field(default_factory=Counter)  # the recorded paths' transition ids
    hops: dict = field(default_factory=dict)  # recorded transition id -> a hop naming it
    differences: list = field(default_factory=list)


def machine_replay_history(
    *,
    machine: Machine,
    from_sm_id: int | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> dict:
    """Replay the history of another version's instances through `machine`; nothing stored.

    The caller has checked that `machine` is one its user may design.
    """
    source = _source(machine, from_sm_id)
    compiled = _runnable(machine)
    limit = limit or (MAX_INSTANCES if since is not None else DEFAULT_INSTANCES)
    limit = min(limit, MAX_INSTANCES)
    instances = Instance.objects.filter(machine=source)
    if since is not None:
        instances = instances.filter(created_at__gte=since)
    rows = list(
        instances.order_by("-id").values_list("id", "business_key", "created_at", "context")[
            : limit + 1
        ]
    )
    stopped_by = "limit" if len(rows) > limit else None
    rows = sorted(rows[:limit])
    totals = _Totals()
    deadline = perf_counter() + DEADLINE_SECONDS
    with request_budget(_budget(), fresh=True):
        try:
            for row, events in _histories(rows):
                _replay_instance(compiled, row, events, totals, deadline)
        except _Stop as stop:
            stopped_by = stop.reason
    return _answer(machine, source, limit, totals, stopped_by)


def _source(machine: Machine, from_sm_id: int | None) -> Machine:
    if from_sm_id is None:
        return online_machine(flow=machine.flow)
    source = Machine.objects.filter(flow_id=machine.flow_id, pk=from_sm_id).first()
    if source is None:  # another flow's version, or none: the same answer, nothing disclosed
        message = f"Flow {machine.flow.code!r} has no version with smId {from_sm_id}."
        raise ValidationError(message, {"problems": [{"path": "fromSmId", "message": message}]})
    return source


def _runnable(machine: Machine) -> CompiledMachine:
    """The compiled version; a draft with routing mistakes runs, as in the simulator."""
    if machine.status == Machine.Status.TESTING:
        report = machine_validate(machine=machine)
        if any(p.code not in SIMULATION_TOLERATES for p in report.errors):
            raise MachineInvalid(report, "The machine cannot replay history until these are fixed.")
    return compiled_machine(machine)


def _budget() -> RequestBudget:
    return RequestBudget(
        time=BUDGET_FACTOR * limits.REQUEST_TIME_BUDGET,
        work=BUDGET_FACTOR * limits.REQUEST_MAX_WORK,
        allocation=BUDGET_FACTOR * limits.REQUEST_MAX_ALLOCATION,
        iterations=BUDGET_FACTOR * limits.REQUEST_MAX_ITERATIONS,
    )


def _histories(rows: list[tuple]):
    """Each instance row with its decided events in order: one query per chunk of instances."""
    for start in range(0, len(rows), INSTANCE_CHUNK):
        chunk = rows[start : start + INSTANCE_CHUNK]
        events = (
            EventRecord.objects.filter(instance_id__in=[r[0] for r in chunk], status__in=_REPLAYED)
            .order_by("instance_id", "id")
            .values_list(*_EVENT_FIELDS)
            .iterator(chunk_size=5_000)
        )
        by_instance = {key: list(group) for key, group in groupby(events, key=lambda e: e[0])}
        for row in chunk:
            yield row, by_instance.pop(row[0], [])


def _replay_instance(compiled, row, events, totals: _Totals, deadline: float) -> None:
    """One instance's events through `compiled`; its figures join `totals` once it is whole."""
    instance_id, business_key, created_at, final_context = row
    decided = [e for e in events if e[5] == "done" or (e[7] or {}).get("code") in DECIDED]
    if totals.events + len(decided) > MAX_EVENTS:
        raise _Stop("events")
    names = {"id": instance_id, "businessKey": business_key, "createdAt": created_at.isoformat()}
    replay = _Replay(compiled, names, _initial_context(final_context, decided))
    recorded, first = Counter(), None
    for record in decided:
        if perf_counter() > deadline:
            raise _Stop("time")
        from_state = replay.state
        replayed = replay.step(record)
        outcome = _recorded_outcome(record, recorded, totals.hops)
        if first is None and not _same(outcome, replayed):
            first = {
                "instanceId": instance_id,
                "businessKey": business_key,
                "eventId": record[1],
                "event": record[2],
                "role": record[3],
                "at": record[10] or record[9],
                "fromState": from_state,
                "recorded": outcome,
                "replayed": replayed,
            }
    totals.instances += 1
    totals.events += len(decided)
    totals.skipped += len(events) - len(decided)
    totals.taken.update(replay.taken)
    totals.recorded.update(recorded)
    if first is None:
        totals.same += 1
    else:
        totals.differences.append(first)


class _Replay:
    """One instance as `compiled` would have run it: state, context, event counts."""

    def __init__(self, compiled: CompiledMachine, names: dict, context: dict):
        self.compiled, self.names, self.context = compiled, names, context
        self.state, self.counts, self.taken = compiled.initial, {}, Counter()

    def step(self, record: tuple) -> dict:
        """Decide one recorded event as the runtime would; what it would do."""
        _, _, event, role, context, _, _, _, expected, created, finished = record
        at = finished or created
        merged = {**self.context, **(context or {})}
        try:
            _expect(self.state, expected)
            decision = engine.decide(self.compiled, state=self.state, event=event, role=role,
                                     context=merged, event_counts=self.counts,
                                     instance=self.names, clock=lambda: at)  # fmt: skip
        except (PlatformError, RuleError) as exc:
            if exc.details.get("reason") == "request_budget":
                raise _Stop("budget") from None
            return {"applied": False, "error": error_body(exc)}
        for hop in decision.hops:
            self.taken[hop.transition.id] += 1
        self.counts[event] = self.counts.get(event, 0) + 1
        self.state, self.context = decision.to_state, merged
        return {"applied": True, "toState": decision.to_state}


def _recorded_outcome(record: tuple, recorded: Counter, hops: dict) -> dict:
    """What the recorded version did; an applied event's path counts its transitions."""
    if record[5] != "done":
        return {"applied": False, "error": record[7]}
    result = record[6] or {}
    for hop in result.get("path") or ():
        key = hop.get("transitionId")
        recorded[key] += 1
        if key not in hops:
            hops[key] = hop
    return {"applied": True, "toState": result.get("toState")}


def _initial_context(final: dict, events: list) -> dict:
    """The context the instance was created with, as far as its final context tells.

    Applied events only add or overwrite keys, so a key no applied event sent was there from
    the start; a key an event sent may have had another value before, which is not recorded.
    """
    sent = {key for e in events if e[5] == "done" for key in (e[4] or {})}
    return {key: value for key, value in (final or {}).items() if key not in sent}


def _expect(state: str, expected: str | None) -> None:
    """An event sent with expectedState (a timer's: the state it was armed in) checks it."""
    if expected is not None and expected != state:
        raise StateConflict(
            f"The instance is in {state!r}, not {expected!r}.",
            {"state": state, "expectedState": expected},
        )


def _same(recorded: dict, replayed: dict) -> bool:
    if recorded["applied"] != replayed["applied"]:
        return False
    if recorded["applied"]:
        return recorded["toState"] == replayed["toState"]
    return (recorded["error"] or {}).get("code") == replayed["error"]["code"]


def _answer(machine, source, limit: int, totals: _Totals, stopped_by: str | None) -> dict:
    answer = {
        "smId": machine.pk,
        "fromSmId": source.pk,
        "limit": limit,
        "instances": {
            "replayed": totals.instances,
            "same": totals.same,
            "differing": len(totals.differences),
        },
        "events": {"replayed": totals.events, "skipped": totals.skipped},
        "truncated": stopped_by is not None,
        "differences": totals.differences,
        "transitions": _transition_counts(machine, totals.taken),
        "recordedTransitions": _recorded_counts(source, totals),
    }
    if stopped_by is not None:
        answer["stoppedBy"] = stopped_by
    return answer


def _transition_counts(machine: Machine, counts: Counter) -> list[dict]:
    """Every transition of the version, in listed order, with how often it was taken."""
    return [
        {
            "transitionId": t.id,
            "fromState": t.source,
            "toState": t.target,
            "event": t.event or None,
            "count": counts.get(t.id, 0),
        }
        for t in machine_definition(machine=machine).transitions
    ]


def _recorded_counts(source: Machine, totals: _Totals) -> list[dict]:
    """The recorded version's transitions, then any other a recorded path took (an instance
    moved to this version brings events another version decided)."""
    listed = _transition_counts(source, totals.recorded)
    known = {t["transitionId"] for t in listed}
    for key, hop in totals.hops.items():
        if key not in known and isinstance(key, int):
            listed.append(
                {
                    "transitionId": key,
                    "fromState": str(hop.get("fromState")),
                    "toState": str(hop.get("toState")),
                    "event": hop.get("event"),
                    "count": totals.recorded[key],
                }
            )
    return listed
