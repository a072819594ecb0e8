"""Rules on states and transitions one at a time.

State values, the initial state, transition endpoints and events, choice branches, fields the
engine ignores where they stand, and expressions that do not compile.
"""

from collections import Counter, defaultdict

from machines.definition import CHOICE, NORMAL, Definition, TransitionDef
from machines.validation.problems import (
    WARNING,
    Problem,
    blank,
    is_choice_source,
    numbered,
    on_state,
    on_transition,
    states_by_value,
)
from rules import ExpressionSyntaxError, compile_expression

_EXPRESSION_FIELDS = (
    ("guard_condition", "guardCondition"),
    ("case_condition", "caseCondition"),
    ("show_condition", "showCondition"),
)


def check_state_values(definition: Definition) -> list[Problem]:
    problems = []
    for index, state in enumerate(definition.states):
        if blank(state.value):
            where = {"state": state.value, "stateIndex": index}
            problems.append(Problem("STATE_VALUE_EMPTY", f"State #{index} has no value.", where))
        if state.type not in (NORMAL, CHOICE):
            message = (
                f"State '{state.value}' has type {state.type!r}: use 1 (normal) or 2 (choice)."
            )
            problems.append(on_state("STATE_TYPE_INVALID", state.value, message))
    counts = Counter(s.value for s in definition.states if not blank(s.value))
    return problems + [
        on_state("STATE_DUPLICATE", value, f"State value '{value}' is used by {count} states.")
        for value, count in counts.items()
        if count > 1
    ]


def check_initial(definition: Definition) -> list[Problem]:
    marked = [s.value for s in definition.states if s.initial]
    problems = []
    if len(marked) > 1:
        message = f"{len(marked)} states are marked initial ({', '.join(marked)}); mark one."
        problems.append(Problem("INITIAL_MULTIPLE", message, {"states": marked}))
    problems += [
        on_state(
            "INITIAL_NOT_NORMAL",
            s.value,
            f"Initial state '{s.value}' is a choice state; an instance starts in a normal state.",
        )
        for s in definition.states
        if s.initial and s.is_choice
    ]
    if definition.initial_state() is None:
        message = "The machine has no initial state: mark one normal state initial."
        problems.append(Problem("INITIAL_MISSING", message, {}))
    return problems


# Transitions -------------------------------------------------------------------------------


def check_endpoints(definition: Definition) -> list[Problem]:
    states = states_by_value(definition)
    problems = []
    for i, t in enumerate(definition.transitions):
        many = definition.sources_written[i] is not None
        if t.source not in states and not many:  # a list's names: check_source_lists
            message = f"starts from unknown state '{t.source}'."
            problems.append(on_transition("SOURCE_UNKNOWN", i, t, "sourceState", message))
        if t.target not in states:
            message = f"leads to unknown state '{t.target}'."
            problems.append(on_transition("TARGET_UNKNOWN", i, t, "targetState", message))
    return problems


def check_events(definition: Definition) -> list[Problem]:
    """Run on the expanded transitions: a list and a row giving one (source, event) clash."""
    states = states_by_value(definition)
    problems = []
    first_seen: dict[tuple[str, str], int] = {}
    for i, t in numbered(definition):
        if is_choice_source(states, t):
            if not blank(t.event):
                message = "leaves a choice state with an event; choice branches take none."
                problems.append(on_transition("CHOICE_HAS_EVENT", i, t, "eventValue", message))
        elif blank(t.event):
            if t.source in states:
                message = "leaves a normal state without an event."
                problems.append(on_transition("EVENT_MISSING", i, t, "eventValue", message))
        elif (t.source, t.event) in first_seen:
            first = first_seen[(t.source, t.event)]
            message = (
                f"names '{t.source}' twice in its source list."
                if first == i
                else f"repeats event '{t.event}' from '{t.source}' (see transition #{first}); "
                "to go to two places, branch with a choice state."
            )
            problems.append(
                on_transition("EVENT_DUPLICATE", i, t, "eventValue", message, duplicateOf=first)
            )
        else:
            first_seen[(t.source, t.event)] = i
    return problems


def check_choice_branches(definition: Definition) -> list[Problem]:
    branches_of: dict[str, list[tuple[int, TransitionDef]]] = defaultdict(list)
    for index, t in numbered(definition):
        branches_of[t.source].append((index, t))
    problems = []
    for state in states_by_value(definition).values():
        if state.is_choice:
            problems += _choice_state_problems(state.value, branches_of[state.value])
    return problems


def _choice_state_problems(state: str, branches: list[tuple[int, TransitionDef]]) -> list[Problem]:
    problems = []
    defaults = [index for index, t in branches if t.case_default]
    if not defaults:
        message = f"Choice state '{state}' has no default branch; mark exactly one."
        problems.append(on_state("CASE_DEFAULT_MISSING", state, message))
    elif len(defaults) > 1:
        message = f"Choice state '{state}' has {len(defaults)} default branches; mark one."
        where = {"state": state, "transitions": defaults}
        problems.append(Problem("CASE_DEFAULT_MULTIPLE", message, where))
    orders: dict[int, int] = {}
    for i, t in branches:
        problems += _branch_problems(i, t)
        if t.case_order is not None and t.case_order in orders:
            first = orders[t.case_order]
            message = f"has case order {t.case_order}, like transition #{first}."
            problems.append(
                on_transition("CASE_ORDER_DUPLICATE", i, t, "caseOrder", message, duplicateOf=first)
            )
        elif t.case_order is not None:
            orders[t.case_order] = i
    return problems


def _branch_problems(i: int, t: TransitionDef) -> list[Problem]:
    if t.case_default:
        if blank(t.case_condition):
            return []
        message = "is the default branch, taken when no case holds: it has no case condition."
        return [on_transition("CASE_DEFAULT_CONDITION", i, t, "caseCondition", message)]
    problems = []
    if blank(t.case_condition):
        message = "is not the default branch and has no case condition."
        problems.append(on_transition("CASE_CONDITION_MISSING", i, t, "caseCondition", message))
    if t.case_order is None:
        message = "is not the default branch and has no case order."
        problems.append(on_transition("CASE_ORDER_MISSING", i, t, "caseOrder", message))
    return problems


def check_ignored_fields(definition: Definition) -> list[Problem]:
    """Run on the rows as written: a list or "*" leaves normal states."""
    states = states_by_value(definition)
    problems = []
    for i, t in enumerate(definition.transitions):
        many = definition.sources_written[i] is not None
        if t.source not in states and not many:
            continue
        if not many and states[t.source].is_choice:
            ignored = {"guardCondition": t.guard_condition, "showCondition": t.show_condition}
            ignored["eventRole"] = t.roles
            why = "a choice branch is chosen by its case condition only"
        else:
            ignored = {"caseCondition": t.case_condition, "caseOrder": t.case_order}
            ignored["caseDefault"] = t.case_default or None
            why = "case fields belong to the branches of a choice state (use a guard here)"
        problems += [
            on_transition(
                "FIELD_IGNORED", i, t, name, f"sets {name}, which is ignored: {why}.", level=WARNING
            )
            for name, value in ignored.items()
            if not blank(value)
        ]
    return problems


def check_expressions(definition: Definition) -> list[Problem]:
    problems = []
    for i, t in enumerate(definition.transitions):
        for attribute, field_name in _EXPRESSION_FIELDS:
            source = getattr(t, attribute)
            if blank(source):
                continue
            try:
                compile_expression(source)
            except ExpressionSyntaxError as exc:
                details = exc.details or {}
                position = {k: details[k] for k in ("line", "column") if k in details}
                message = f"has an invalid {field_name} {source!r}: {exc.message}"
                problems.append(
                    on_transition("EXPRESSION_INVALID", i, t, field_name, message, **position)
                )
    return problems
