"""The engine step: a pure function of the compiled machine, the state,
the event, the role, the context and the event counts. No database, no network.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from machines.compiled import CompiledMachine, CompiledTransition
from rules import CaseError, ExpressionError, Scope, json_safe, request_budget, select_case
from runtime.exceptions import (
    GuardRejected,
    NoDefaultBranch,
    NoTransition,
    RoleForbidden,
    RoutingLoop,
)

MAX_HOPS = 32


@dataclass(frozen=True)
class Hop:
    transition: CompiledTransition
    from_state: str
    to_state: str
    event: str | None  # the event on the first hop, None on automatic (choice) hops


@dataclass(frozen=True)
class Decision:
    event: str
    from_state: str
    to_state: str
    hops: tuple[Hop, ...]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def decide(
    machine: CompiledMachine,
    *,
    state: str,
    event: str,
    role: int | None = None,
    context: Mapping | None = None,
    event_counts: Mapping[str, int] | None = None,
    instance: Mapping | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> Decision:
    """Route `event` from `state`: the transition, its guard, then every choice state's case.

    Every expression it evaluates counts against the request's budget (one is opened when
    the caller has none, so a thousand branches are bounded anywhere).
    """
    with request_budget():
        return _decide(machine, state, event, role, context, event_counts, instance, clock)


def _decide(machine, state, event, role, context, event_counts, instance, clock) -> Decision:
    transition = machine.transition(state, event)
    if transition is None:
        raise NoTransition(
            f"No transition for event {event!r} from state {state!r}.",
            {"state": state, "event": event},
        )
    if not transition.allows(role):
        raise RoleForbidden(
            f"Role {role} may not fire {event!r} from {state!r}.",
            {"role": role, "allowed": sorted(transition.roles or ())},
        )
    counts = dict(event_counts or {})
    counts[event] = counts.get(event, 0) + 1  # the current event counts
    scope = Scope(
        ctx=context or {},
        event=event,
        state=state,
        role=role,
        instance=instance,
        event_counts=counts,
        clock=clock,
    )
    if transition.guard is not None and not _holds(transition, "guardCondition", scope):
        raise GuardRejected(
            f"The guard of {event!r} from {state!r} is false: {transition.guard.source}",
            {"guard": transition.guard.source, "transitionId": transition.id},
        )
    hops = [Hop(transition, state, transition.target, event)]
    while machine.states[hops[-1].to_state].is_choice:
        if len(hops) > MAX_HOPS:
            raise RoutingLoop(
                f"More than {MAX_HOPS} automatic hops from {state!r} on {event!r}.",
                {"path": [h.to_state for h in hops]},
            )
        hops.append(_route(machine, hops[-1].to_state, scope))
    return Decision(event=event, from_state=state, to_state=hops[-1].to_state, hops=tuple(hops))


def _holds(transition: CompiledTransition, field: str, scope: Scope) -> bool:
    try:
        return bool(transition.guard.evaluate(scope))
    except ExpressionError as exc:
        exc.details.update(field=field, transitionId=transition.id)
        raise


def _route(machine: CompiledMachine, choice: str, scope: Scope) -> Hop:
    branches = machine.states[choice].branches
    try:
        branch = select_case(branches, scope)
    except CaseError as exc:
        exc.details.update(state=choice, field="caseCondition", branch=str(exc.details["branch"]))
        raise
    if branch is None:
        raise NoDefaultBranch(
            f"No case of choice state {choice!r} is true and it has no default branch.",
            {"state": choice},
        )
    return Hop(branch.key, choice, branch.key.target, None)


def event_verdicts(
    machine: CompiledMachine,
    *,
    state: str,
    role: int | None = None,
    context: Mapping | None = None,
    event_counts: Mapping[str, int] | None = None,
    instance: Mapping | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> list[dict]:
    """Every event from `state` with its verdict: available, hidden, forbidden or blocked.

    `forbidden`: the role may not fire it; `hidden`: its show condition is false (or raised);
    `blocked`: shown, but its guard is false (or raised) now. The decisive expression, its
    value and any error come along, so one can see why a button is missing. All of them
    count against one request budget, like `decide`.
    """
    with request_budget():
        return _verdicts(machine, state, role, context, event_counts, instance, clock)


def _verdicts(machine, state, role, context, event_counts, instance, clock) -> list[dict]:
    verdicts = []
    for transition in machine.states[state].events if state in machine.states else ():
        counts = dict(event_counts or {})
        counts[transition.event] = counts.get(transition.event, 0) + 1
        scope = Scope(
            ctx=context or {},
            event=transition.event,
            state=state,
            role=role,
            instance=instance,
            event_counts=counts,
            clock=clock,
        )
        verdict = {
            "event": transition.event,
            "eventDesc": transition.event_desc,
            "targetState": transition.target,
            "transitionId": transition.id,
        }
        if not transition.allows(role):
            verdict.update(verdict="forbidden", role=role, allowed=sorted(transition.roles))
        elif not _explain(verdict, "showCondition", transition.show, scope):
            verdict["verdict"] = "hidden"
        elif not _explain(verdict, "guardCondition", transition.guard, scope):
            verdict["verdict"] = "blocked"
        else:
            verdict["verdict"] = "available"
        verdicts.append(verdict)
    return verdicts


def _explain(verdict: dict, field: str, expression, scope: Scope) -> bool:
    """Evaluate one condition for event_verdicts, recording what decided it.

    Values go into a JSON answer: `json_safe` gives NaN, huge integers, lone surrogates and
    whole lists or objects a short text form instead of a 500.
    """
    if expression is None:
        return True
    entry = {"expression": expression.source}
    try:
        value = expression.evaluate(scope)
        entry["value"] = json_safe(value)
        entry["names"] = _values(expression, scope)
        ok = bool(value)
    except ExpressionError as exc:
        entry["error"] = exc.message
        ok = False
    verdict[field] = entry
    return ok


def _values(expression, scope: Scope) -> dict:
    """The values an expression read: each context path it names, and the other names."""
    values = {}
    for path in expression.paths:
        values[path] = _lookup(scope.ctx, path.split(".")[1:]) if path.startswith("ctx") else None
    for name in sorted(expression.names):
        if name in ("event", "state", "role"):
            values[name] = json_safe(getattr(scope, name))
        elif name == "event_count":
            counts = scope.event_counts.items()
            values["event_count"] = {json_safe(k): json_safe(n) for k, n in counts}
    return values


def _lookup(data, keys):
    for key in keys:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return json_safe(data)
