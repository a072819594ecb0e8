"""A recorded history to replay, made through the real services (service, API, browser tests).

The online version is the design example: E2 leads through the choice state C1 to S21 when
`ctx.amount >= 100`, to S22 otherwise. Four instances:

- big (amount 150): E1, E2 -> S21, E3 -> S3
- mid (amount 50): E1, E2 -> S22, E3 -> S3
- small (amount 5): E1, E2 -> S22
- none (no amount): E1, then E2 sent async, failed with EXPRESSION_ERROR (ctx.amount missing)

The draft (`draft_with_lower_threshold`) routes to S21 from 50 on, and to S22 when the
context has no amount: mid differs at E2 (S22, would be S21), none too (an error, would be
S22); big and small are the same.
"""

import copy

from machines import services
from runtime.async_events import event_accept, instance_events_process
from runtime.services import instance_create, instance_event_fire
from tests.conftest import example_seed
from tests.runtime.helpers import online

LOWER_THRESHOLD = "'amount' in ctx and ctx.amount >= 50"


def flow_seed(code: str) -> dict:
    doc = example_seed("design-example")
    doc["smInfo"]["flowCode"] = code
    return doc


def recorded_history(code: str = "replayed") -> dict:
    """The online version and its four instances with their events; ids by name."""
    machine = online(flow_seed(code))
    ids = {"machine": machine}
    for key, amount, events in (
        ("big", 150, ["E1", "E2", "E3"]),
        ("mid", 50, ["E1", "E2", "E3"]),
        ("small", 5, ["E1", "E2"]),
    ):
        instance = instance_create(flow_code=code, business_key=key)
        for event in events:
            context = {"amount": amount} if event == "E2" else {}
            instance_event_fire(instance_id=instance.pk, event=event, context=context)
        ids[key] = instance.pk
    none = instance_create(flow_code=code, business_key="none")
    instance_event_fire(instance_id=none.pk, event="E1")
    event_accept(instance_id=none.pk, event="E2")
    instance_events_process(instance_id=none.pk)  # fails: ctx.amount is missing
    ids["none"] = none.pk
    return ids


def new_version(machine, change=None):
    """A testing copy of `machine`, its seed changed by `change(doc)` first if given."""
    draft = services.machine_new_version(machine=machine)
    if change is not None:
        from machines.selectors import machine_export

        doc = copy.deepcopy(machine_export(machine=draft))
        change(doc)
        draft = services.machine_replace(machine=draft, data=doc)
    return draft


def lower_threshold(doc: dict) -> None:
    for t in doc["smTransitions"]:
        if t["caseCondition"] == "ctx.amount >= 100":
            t["caseCondition"] = LOWER_THRESHOLD


def draft_with_lower_threshold(machine):
    return new_version(machine, lower_threshold)
