"""Simulation and the stateless fire: the engine without storage (and, for simulate, no actions)."""

from config.exceptions import PlatformError, ValidationError
from machines.compiled import CompiledMachine
from rules import RuleError, request_budget
from runtime import engine

MAX_STEPS = 200  # per simulation, whoever asks: the API, the admin's simulator


def simulate(machine: CompiledMachine, *, state: str | None, steps: list[dict]) -> dict:
    """Run steps from `state` (default: initial); each step's outcome or error, nothing stored.

    Context merges and event counts carry from step to step as they would on an instance;
    a failing step leaves them, and the state, as they were. Actions are not called. All the
    steps spend one request budget: past it, each further step fails with EXPRESSION_ERROR.
    """
    state = state or machine.initial
    require_state(machine, state)
    if len(steps) > MAX_STEPS:
        raise ValidationError(
            f"A simulation runs at most {MAX_STEPS} steps; {len(steps)} were given.",
            {"problems": [{"path": "steps", "message": f"At most {MAX_STEPS} steps."}]},
        )
    with request_budget():
        return _run(machine, state, steps)


def require_state(machine: CompiledMachine, state: str) -> None:
    """A state the caller names (simulate, the stateless fire) must be one of the machine's."""
    if state not in machine.states:
        raise ValidationError(
            f"The machine has no state {state!r}.",
            {"problems": [{"path": "state", "message": "Unknown state."}]},
        )


def _run(machine: CompiledMachine, state: str, steps: list[dict]) -> dict:
    context, counts, results = {}, {}, []
    for step in steps:
        merged = {**context, **(step.get("context") or {})}
        try:
            decision = engine.decide(
                machine,
                state=state,
                event=step["event"],
                role=step.get("role"),
                context=merged,
                event_counts=counts,
            )
        except (PlatformError, RuleError) as exc:
            results.append({"event": step["event"], "ok": False, "error": error_body(exc)})
            continue
        counts[decision.event] = counts.get(decision.event, 0) + 1
        context, state = merged, decision.to_state
        result = {"event": step["event"], "ok": True, "outcome": outcome(decision)}
        results.append({**result, **_extensions(machine, decision)})
    return {"steps": results, "state": state, "context": context}


def _extensions(machine: CompiledMachine, decision: engine.Decision) -> dict:
    """What the modeling extensions would do after this step, when they are set: the entry
    action the resting state calls, and where an async event would go if the first action on
    the path kept failing (its transition's errorTarget)."""
    shown = {}
    enter_action = machine.states[decision.to_state].enter_action
    if enter_action:
        shown["enterAction"] = enter_action
    failing = next((hop.transition for hop in decision.hops if hop.transition.action), None)
    if failing is not None and failing.error_target:
        shown["errorTarget"] = failing.error_target
    return shown


def outcome(decision: engine.Decision, actions=None) -> dict:
    """The outcome of a decision, without the instance and event ids of a stored event."""
    actions = actions or [None] * len(decision.hops)
    return {
        "event": decision.event,
        "fromState": decision.from_state,
        "toState": decision.to_state,
        "state": decision.to_state,
        "path": [
            {
                "fromState": hop.from_state,
                "toState": hop.to_state,
                "transitionId": hop.transition.id,
                "event": hop.event,
                "action": action,
            }
            for hop, action in zip(decision.hops, actions, strict=True)
        ],
    }


def error_body(exc) -> dict:
    return {"code": exc.code, "message": exc.message, "details": exc.details}
