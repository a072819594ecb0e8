"""What the designer pages show, computed from a machine's definition: no writes here."""

from machines.definition import Definition
from machines.diagrams import mermaid_ids, render_mermaid, state_table
from machines.diffs import transition_label
from machines.models import Machine
from machines.services import machine_validate
from machines.validation import Report
from rules import check_expression

STATUS_LABELS = dict(Machine.STATUS_LABELS)  # translated; Machine.Status holds the API's names

# Interchange (seed JSON) names of the definition fields, as designers know them.
STATE_FIELD_NAMES = {
    "value": "stateValue",
    "desc": "stateDesc",
    "type": "stateType",
    "initial": "initial",
    "final": "final",
    "enter_action": "enterAction",
}
TRANSITION_FIELD_NAMES = {
    "desc": "transitionDesc",
    "source": "sourceState",
    "target": "targetState",
    "event": "eventValue",
    "event_desc": "eventDesc",
    "roles": "eventRole",
    "show_condition": "showCondition",
    "guard_condition": "guardCondition",
    "case_condition": "caseCondition",
    "case_order": "caseOrder",
    "case_default": "caseDefault",
    "action": "transitionAction",
    "timer_seconds": "timerSeconds",
    "error_target": "errorTarget",
}
EXPRESSION_FIELDS = ("guard_condition", "case_condition", "show_condition")

# Mermaid styles for the states a simulation or an instance went through.
_HIGHLIGHT_STYLES = (
    "    classDef visited fill:#fef3c7,stroke:#b45309,stroke-width:2px",
    "    classDef current fill:#bbf7d0,stroke:#15803d,stroke-width:3px",
)


def machine_report(request, machine) -> Report | None:
    """The validation report of a stored machine, computed once per request."""
    if machine is None or machine.pk is None:
        return None
    cache = request.__dict__.setdefault("_statecenter_reports", {})
    if machine.pk not in cache:
        cache[machine.pk] = machine_validate(machine=machine)
    return cache[machine.pk]


def problems_by_place(report: Report | None) -> tuple[dict, dict, list]:
    """Problems keyed by state value, by transition index, and those concerning neither."""
    by_state: dict[str, list] = {}
    by_transition: dict[int, list] = {}
    general = []
    for problem in (report.errors + report.warnings) if report else ():
        if problem.where.get("transition") is not None:
            by_transition.setdefault(problem.where["transition"], []).append(problem)
        elif problem.where.get("state") is not None:
            by_state.setdefault(problem.where["state"], []).append(problem)
        else:
            general.append(problem)
    return by_state, by_transition, general


def highlighted_mermaid(definition: Definition, *, visited=(), current: str | None = None) -> str:
    """The Mermaid diagram with the visited states and the current one styled."""
    definition = definition.expanded()  # as drawn: a list row once per state
    text = render_mermaid(definition)
    ids = mermaid_ids(definition)
    visited = [ids[v] for v in dict.fromkeys(visited) if v in ids and v != current]
    lines = list(_HIGHLIGHT_STYLES)
    if visited:
        lines.append(f"    class {','.join(visited)} visited")
    if current in ids:
        lines.append(f"    class {ids[current]} current")
    return text + "\n".join(lines) + "\n"


def table_rows(definition: Definition) -> dict:
    """The state × event table as rows of cells ``{target, timer, error_target}``; None where
    nothing leads."""
    table = state_table(definition)
    kinds = {
        s.value: ("choice" if s.is_choice else "final" if s.final else "normal")
        for s in definition.states
    }
    timers, error_targets = table.get("timers", {}), table.get("errorTargets", {})

    def cell(state, event):
        target = table["cells"][state].get(event)
        if target is None:
            return None
        return {
            "target": target,
            "timer": timers.get(state, {}).get(event),
            "error_target": error_targets.get(state, {}).get(event),
        }

    rows = [
        {
            "state": state,
            "kind": kinds.get(state, "normal"),
            "cells": [cell(state, event) for event in table["events"]],
        }
        for state in table["states"]
    ]
    return {"events": table["events"], "rows": rows}


def expression_checks(definition: Definition) -> list[dict]:
    """Every guard, case and show condition with the result of checking it."""
    checks = []
    for index, t in enumerate(definition.transitions):
        for field in EXPRESSION_FIELDS:
            source = getattr(t, field)
            if source is None or not source.strip():
                continue
            result = check_expression(source)
            checks.append(
                {
                    "index": index,
                    "transition": transition_label(t),
                    "field": TRANSITION_FIELD_NAMES[field],
                    "source": source,
                    "ok": result["ok"],
                    "names": result["names"],
                    "error": result.get("error"),
                }
            )
    return checks
