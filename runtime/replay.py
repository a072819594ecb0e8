"""Replaying recorded history through another version of its flow: what would it have done?

The recorded events of the instances of one version (by default the flow's online version)
go through another version (any status, a testing draft included) with the pure engine, in
the order they were applied, one instance after another. No action is called, nothing is
stored. For each instance whose replay differs, the answer names the first event whose
outcome differs; it counts the instances replayed, same and differing, and how many times
each transition would be taken, beside the recorded version's.

What is replayed: the events that were decided, `done` (applied) and `failed` with an error
the machine decided (no transition, role, guard, choice routing, expression, expected state).
An async event that its transition's error target caught (its action kept failing) is
replayed as failing the same way: the replay goes to the error target of the first action on
the replayed version's path, and differs when that version has none.
Events still pending, and those that failed outside the machine (an action's callback, a
busy instance, workers that never finished), are skipped: they changed nothing and say
nothing about the machine. A sync event the machine refused left no record and cannot be
replayed. Expressions see what the recorded event saw as far as it is recorded: its context
merged into the replay's context, the replay's own event counts, the instance's id, business
key and creation time, and `now()` the moment the event was applied (docs/designer.md).
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from time import perf_counter

from config.exceptions import PlatformError, ValidationError
from machines.compiled import CompiledMachine, compiled_machine
from machines.exceptions import MachineInvalid
from machines.models import Machine
from machines.services import machine_validate
from rules import RequestBudget, RuleError, limits, request_budget
from runtime import engine
from runtime import replay_reads as reads
from runtime.exceptions import StateConflict
from runtime.models import Instance
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
MEMO_ENTRIES = 50_000  # decisions remembered per replay (see _Replay)


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
    # Hops by (transition id, state left): the copies of a many-source row share one id.
    taken: Counter = field(default_factory=Counter)  # this version's
    recorded: Counter = field(default_factory=Counter)  # the recorded paths'
    hops: dict = field(default_factory=dict)  # recorded (id, state left) -> a hop naming it
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
    memo = {} if _pure(compiled) else None
    deadline = perf_counter() + DEADLINE_SECONDS
    with request_budget(_budget(), fresh=True):
        try:
            for start in range(0, len(rows), INSTANCE_CHUNK):
                chunk = rows[start : start + INSTANCE_CHUNK]
                _replay_chunk(compiled, chunk, totals, deadline, memo)
        except _Stop as stop:
            stopped_by = stop.reason
    if memo is not None:  # the events were read without their times: the differences' now
        times = reads.decided_times([d["eventId"] for d in totals.differences])
        for difference in totals.differences:
            difference["at"] = times.get(difference["eventId"])
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


def _replay_chunk(compiled, chunk: list[tuple], totals: _Totals, deadline: float, memo) -> None:
    """The instances of `chunk` one by one, with two queries: their events, then the
    transitions their recorded history took (of the instances replayed, if it stops)."""
    room = MAX_EVENTS - totals.events
    events, cut = reads.events([row[0] for row in chunk], with_time=memo is None, most=room)
    replayed = []
    try:
        for row in chunk:
            if cut is not None and row[0] >= cut:  # its events were not all read
                raise _Stop("events")
            _replay_instance(compiled, row, events.pop(row[0], []), totals, deadline, memo)
            replayed.append(row[0])
    finally:
        for transition_id, from_state, to_state, event, times in reads.recorded_hops(replayed):
            totals.recorded[(transition_id, from_state)] += times
            hop = {"fromState": from_state, "toState": to_state, "event": event}
            totals.hops.setdefault((transition_id, from_state), hop)


def _replay_instance(compiled, row, events, totals: _Totals, deadline: float, memo) -> None:
    """One instance's events through `compiled`; its figures join `totals` once it is whole."""
    instance_id, business_key, created_at, final_context = row
    decided = [e for e in events if e[5] == "done" or (e[7] or {}).get("code") in DECIDED]
    if totals.events + len(decided) > MAX_EVENTS:
        raise _Stop("events")
    names = {"id": instance_id, "businessKey": business_key, "createdAt": created_at.isoformat()}
    replay = _Replay(compiled, names, _initial_context(final_context, decided), memo)
    first = None
    for record in decided:
        if perf_counter() > deadline:
            raise _Stop("time")
        from_state = replay.state
        replayed = replay.step(record)
        outcome = _recorded_outcome(record)
        if first is None and not _same(outcome, replayed):
            first = {
                "instanceId": instance_id,
                "businessKey": business_key,
                "eventId": record[1],
                "event": record[2],
                "role": record[3],
                "at": record[10] if len(record) > 10 else None,
                "fromState": from_state,
                "recorded": outcome,
                "replayed": replayed,
            }
    totals.instances += 1
    totals.events += len(decided)
    totals.skipped += len(events) - len(decided)
    totals.taken.update(replay.taken)
    if first is None:
        totals.same += 1
    else:
        totals.differences.append(first)


class _Replay:
    """One instance as `compiled` would have run it: state, context, event counts.

    A decision depends only on the state, the event, the role, the merged context and the
    event counts when no expression of the machine reads `instance` or `now()`; then
    decisions are remembered in `memo` (shared by the replay's instances, up to MEMO_ENTRIES)
    and a history that repeats itself is decided once per distinct step.
    """

    def __init__(self, compiled: CompiledMachine, names: dict, context: dict, memo):
        self.compiled, self.names, self.context, self.memo = compiled, names, context, memo
        self.state, self.counts, self.taken = compiled.initial, {}, Counter()
        self.context_key = _frozen(context) if memo is not None else None

    def step(self, record: tuple) -> dict:
        """Decide one recorded event as the runtime would; what it would do."""
        event, role, context, expected = record[2], record[3], record[4], record[8]
        at = record[10] if len(record) > 10 else None
        merged = {**self.context, **context} if context else self.context
        try:
            _expect(self.state, expected)
        except StateConflict as exc:
            return {"applied": False, "error": error_body(exc)}
        if record[9] is not None:  # its action failed for good: not remembered, not shared
            return self._apply(event, merged, None, *self._decide(event, role, merged, at, True))
        key = None
        if self.memo is not None:
            merged_key = _frozen(merged) if context else self.context_key
            key = (self.state, event, role, merged_key, tuple(sorted(self.counts.items())))
            known = self.memo.get(key)
            if known is not None:
                return self._apply(event, merged, merged_key, *known)
        known = self._decide(event, role, merged, at)
        if key is not None and key[3] is not None and len(self.memo) < MEMO_ENTRIES:
            self.memo[key] = known
        return self._apply(event, merged, key[3] if key else None, *known)

    def _decide(self, event, role, merged, at, action_failed: bool = False) -> tuple:
        """(to state, the (transition id, state left) of each hop) or (None, error body).

        `action_failed`: the recorded event's action kept failing and its error target moved
        the instance. The replay assumes the same of the first action on this version's path:
        its transition's error target is where the event goes (one hop, as recorded), and
        without one the event would have failed (ACTION_FAILED), a difference.
        """
        try:
            decision = engine.decide(self.compiled, state=self.state, event=event, role=role,
                                     context=merged, event_counts=self.counts,
                                     instance=self.names, clock=lambda: at)  # fmt: skip
        except (PlatformError, RuleError) as exc:
            if exc.details.get("reason") == "request_budget":
                raise _Stop("budget") from None
            return None, error_body(exc)
        if action_failed:
            failing = next((hop for hop in decision.hops if hop.transition.action), None)
            if failing is None or failing.transition.error_target is None:
                message = "The action failed as recorded, and this version has no error target."
                return None, {"code": "ACTION_FAILED", "message": message, "details": {}}
            return failing.transition.error_target, (_taken(failing),)
        return decision.to_state, tuple(_taken(hop) for hop in decision.hops)

    def _apply(self, event, merged, merged_key, to_state, outcome) -> dict:
        if to_state is None:
            return {"applied": False, "error": outcome}
        self.taken.update(outcome)
        self.counts[event] = self.counts.get(event, 0) + 1
        self.state, self.context, self.context_key = to_state, merged, merged_key
        return {"applied": True, "toState": to_state}


def _taken(hop) -> tuple[int, str]:
    """How a hop is counted: its transition and the state it left (a many-source row's
    copies share the transition's id)."""
    return hop.transition.id, hop.from_state


def _pure(compiled: CompiledMachine) -> bool:
    """Whether no expression of the machine reads the instance or the clock."""
    expressions = [
        e
        for s in compiled.states.values()
        for e in [b.condition for b in s.branches] + [t.guard for t in s.events]
        if e is not None
    ]
    return not any({"instance", "now"} & e.names for e in expressions)


def _frozen(context: dict) -> str | None:
    """A context as one comparable text; None when it has no JSON form (nothing remembered)."""
    try:
        return json.dumps(context, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


def _recorded_outcome(record: tuple) -> dict:
    """What the recorded version did with the event."""
    if record[5] != "done":
        return {"applied": False, "error": record[7]}
    return {"applied": True, "toState": record[6]}


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
        "transitions": reads.transition_counts(machine, totals.taken),
        "recordedTransitions": _recorded_counts(source, totals),
    }
    if stopped_by is not None:
        answer["stoppedBy"] = stopped_by
    return answer


def _recorded_counts(source: Machine, totals: _Totals) -> list[dict]:
    """The recorded version's transitions, then any other a recorded path took (an instance
    moved to this version brings events another version decided)."""
    listed = reads.transition_counts(source, totals.recorded)
    known = {(t["transitionId"], t["fromState"]) for t in listed}
    for key, hop in totals.hops.items():
        if key not in known:
            listed.append(
                {
                    "transitionId": key[0],
                    "fromState": str(hop.get("fromState")),
                    "toState": str(hop.get("toState")),
                    "event": hop.get("event"),
                    "count": totals.recorded[key],
                }
            )
    return listed
