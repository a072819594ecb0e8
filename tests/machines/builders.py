"""Definitions for tests: the example machines, and a short builder for hand-made ones.

Test-only: the real seed parser is machines/interchange.py. This one maps the seed JSON
fields straight onto the definition form, without any checking, so tests can build broken
machines too.

    machine(
        states=["S1", "S2", choice("C1"), state("S3", final=True)],
        transitions=[
            ("S1", "E1", "C1"),                       # (source, event, target)
            go("S2", "E2", "S3", guard_condition="ctx.ok"),
            branch("C1", "S2", when="ctx.a > 1", order=1),
            branch("C1", "S3", default=True),
        ],
    )
"""

import json
from pathlib import Path

from machines.definition import CHOICE, NORMAL, Definition, StateDef, TransitionDef

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_NAMES = ("design-example", "audit", "server-lifecycle")


def example_seed(name: str) -> dict:
    """An example machine of examples/ in the seed JSON format."""
    return json.loads((EXAMPLES_DIR / f"{name}.json").read_text())


def example(name: str) -> Definition:
    """An example machine of examples/ as a Definition."""
    return from_seed(example_seed(name))


def from_seed(data: dict) -> Definition:
    """A Definition from seed JSON (smStates, smTransitions), as it is."""
    states = tuple(
        StateDef(
            value=s.get("stateValue"),
            desc=s.get("stateDesc"),
            type=s.get("stateType") or NORMAL,
            initial=bool(s.get("initial")),
            final=bool(s.get("final")),
            enter_action=s.get("enterAction"),
            id=s.get("stateId"),
        )
        for s in data.get("smStates") or ()
    )
    transitions = tuple(
        TransitionDef(
            source=t.get("sourceState"),
            target=t.get("targetState"),
            event=t.get("eventValue"),
            event_desc=t.get("eventDesc"),
            desc=t.get("transitionDesc"),
            roles=t.get("eventRole"),
            show_condition=t.get("showCondition"),
            guard_condition=t.get("guardCondition"),
            case_condition=t.get("caseCondition"),
            case_order=t.get("caseOrder"),
            case_default=t.get("caseDefault") == 1,
            action=t.get("transitionAction"),
            timer_seconds=t.get("timerSeconds"),
            error_target=t.get("errorTarget"),
            id=t.get("transitionId"),
        )
        for t in data.get("smTransitions") or ()
    )
    return Definition(states=states, transitions=transitions)


def state(value: str, **fields) -> StateDef:
    """A normal state; fields are StateDef's (desc, initial, final, ...)."""
    return StateDef(value=value, **fields)


def choice(value: str, **fields) -> StateDef:
    """A choice state."""
    return StateDef(value=value, type=CHOICE, **fields)


def go(source: str, event: str | None, target: str, **fields) -> TransitionDef:
    """A transition on an event; fields are TransitionDef's (guard_condition, action, ...)."""
    return TransitionDef(source=source, target=target, event=event, **fields)


def branch(
    source: str,
    target: str,
    *,
    when: str | None = None,
    order: int | None = None,
    default: bool = False,
    **fields,
) -> TransitionDef:
    """A branch of a choice state: its case condition, case order and default flag."""
    return TransitionDef(
        source=source,
        target=target,
        case_condition=when,
        case_order=order,
        case_default=default,
        **fields,
    )


def machine(states=(), transitions=()) -> Definition:
    """A Definition: states as values or StateDefs, transitions as tuples or TransitionDefs."""
    return Definition(
        states=tuple(state(s) if isinstance(s, str) else s for s in states),
        transitions=tuple(go(*t) if isinstance(t, tuple) else t for t in transitions),
    )
