"""The rules a machine must satisfy to be published (DESIGN.md section 3).

Every rule is a small ``_check_*`` function that returns a list of Problems, in the manner of
Django's system checks; ``validate`` runs them all and reports every problem at once. Each
check tolerates what the others report (a transition to a missing state, a duplicate state
value, no initial state), so one mistake never hides or crashes another check.

Decisions where DESIGN.md is silent, chosen to match what a Spring Statemachine or AWS Step
Functions designer would expect:

- A state's "way out" (STATE_DEAD_END) is a transition to another state: a state whose only
  transitions lead back to itself is a dead end too.
- Several states marked initial: INITIAL_MULTIPLE, and reachability starts from all of them,
  so one mistake is not reported twice. A state marked initial that is a choice state:
  INITIAL_NOT_NORMAL. None marked and no normal state: INITIAL_MISSING.
- Case orders must be distinct among all branches of a choice state that have one, the
  default included; the default branch needs no case order (it is taken last anyway).
- STATE_TYPE_INVALID (error): a state type other than 1 (normal) or 2 (choice).
- FIELD_IGNORED (warning): a field the engine never reads where it stands: case fields on a
  transition from a normal state, and a guard, show condition or role on a choice branch
  (routing reads only case conditions). Usually a designer meant the other kind of field.
- Action URLs are checked with the HTTP wrapper's own policy (runtime/callback_urls.py):
  ACTION_URL_INVALID for a malformed URL or an address never called (link-local, cloud
  metadata, unspecified, multicast), ACTION_HOST_NOT_ALLOWED for a host off
  CALLBACK_ALLOWED_HOSTS. An empty allow-list allows nothing.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable
from copy import deepcopy
from dataclasses import dataclass, field

from machines.definition import CHOICE, NORMAL, Definition, StateDef, TransitionDef
from rules import ExpressionSyntaxError, compile_expression
from runtime.callback_urls import url_problem

ERROR = "error"
WARNING = "warning"

_ROLE_CODE = re.compile(r"-?\d+")
_EXPRESSION_FIELDS = (
    ("guard_condition", "guardCondition"),
    ("case_condition", "caseCondition"),
    ("show_condition", "showCondition"),
)


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    where: dict = field(hash=False)
    level: str = ERROR

    def as_dict(self) -> dict:
        """The problem as JSON-ready data."""
        return {
            "code": self.code,
            "message": self.message,
            "where": deepcopy(self.where),
            "level": self.level,
        }


@dataclass(frozen=True)
class Report:
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        """The report as JSON-ready data: ``{valid, errors, warnings}``."""
        return {
            "valid": self.valid,
            "errors": [problem.as_dict() for problem in self.errors],
            "warnings": [problem.as_dict() for problem in self.warnings],
        }


def validate(definition: Definition, *, allowed_hosts: Collection[str] = ()) -> Report:
    """Check a definition against every rule and report all problems at once."""
    checks: list[Callable[[Definition], list[Problem]]] = [
        _check_state_values,
        _check_initial,
        _check_endpoints,
        _check_events,
        _check_choice_branches,
        _check_ignored_fields,
        _check_expressions,
        _check_choice_cycles,
        _check_reachability,
        _check_dead_ends,
        _check_final_states,
        lambda d: _check_actions(d, allowed_hosts),
        _check_timers,
        _check_roles,
    ]
    problems = [problem for check in checks for problem in check(definition)]
    return Report(
        errors=tuple(p for p in problems if p.level == ERROR),
        warnings=tuple(p for p in problems if p.level == WARNING),
    )


# Helpers -----------------------------------------------------------------------------------


def _transition_where(index: int, t: TransitionDef, field_name: str | None = None) -> dict:
    where = {
        "transition": index,
        "transitionId": t.id,
        "sourceState": t.source,
        "eventValue": t.event,
        "targetState": t.target,
    }
    return {**where, "field": field_name} if field_name else where


def _describe(index: int, t: TransitionDef) -> str:
    arrow = f"--{t.event}-->" if t.event else "-->"
    return f"Transition #{index} ({t.source or '?'} {arrow} {t.target or '?'})"


def _on_state(code: str, state: str, message: str, level: str = ERROR) -> Problem:
    return Problem(code, message, {"state": state}, level)


def _on_transition(
    code: str, index: int, t: TransitionDef, field_name: str, message: str, **extra
) -> Problem:
    """A problem about one transition; the message goes after the transition's description."""
    level = extra.pop("level", ERROR)
    where = {**_transition_where(index, t, field_name), **extra}
    return Problem(code, f"{_describe(index, t)} {message}", where, level)


def _states_by_value(definition: Definition) -> dict[str, StateDef]:
    """The first state listed for each value (duplicates are reported elsewhere)."""
    states: dict[str, StateDef] = {}
    for state in definition.states:
        states.setdefault(state.value, state)
    return states


def _is_choice_source(states: dict[str, StateDef], t: TransitionDef) -> bool:
    return t.source in states and states[t.source].is_choice


def _blank(value) -> bool:
    return value is None or not str(value).strip()


# States ------------------------------------------------------------------------------------


def _check_state_values(definition: Definition) -> list[Problem]:
    problems = []
    for index, state in enumerate(definition.states):
        if _blank(state.value):
            where = {"state": state.value, "stateIndex": index}
            problems.append(Problem("STATE_VALUE_EMPTY", f"State #{index} has no value.", where))
        if state.type not in (NORMAL, CHOICE):
            message = (
                f"State '{state.value}' has type {state.type!r}: use 1 (normal) or 2 (choice)."
            )
            problems.append(_on_state("STATE_TYPE_INVALID", state.value, message))
    counts = Counter(s.value for s in definition.states if not _blank(s.value))
    return problems + [
        _on_state("STATE_DUPLICATE", value, f"State value '{value}' is used by {count} states.")
        for value, count in counts.items()
        if count > 1
    ]


def _check_initial(definition: Definition) -> list[Problem]:
    marked = [s.value for s in definition.states if s.initial]
    problems = []
    if len(marked) > 1:
        message = f"{len(marked)} states are marked initial ({', '.join(marked)}); mark one."
        problems.append(Problem("INITIAL_MULTIPLE", message, {"states": marked}))
    problems += [
        _on_state(
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


def _check_endpoints(definition: Definition) -> list[Problem]:
    states = _states_by_value(definition)
    problems = []
    for i, t in enumerate(definition.transitions):
        if t.source not in states:
            message = f"starts from unknown state '{t.source}'."
            problems.append(_on_transition("SOURCE_UNKNOWN", i, t, "sourceState", message))
        if t.target not in states:
            message = f"leads to unknown state '{t.target}'."
            problems.append(_on_transition("TARGET_UNKNOWN", i, t, "targetState", message))
    return problems


def _check_events(definition: Definition) -> list[Problem]:
    states = _states_by_value(definition)
    problems = []
    first_seen: dict[tuple[str, str], int] = {}
    for i, t in enumerate(definition.transitions):
        if _is_choice_source(states, t):
            if not _blank(t.event):
                message = "leaves a choice state with an event; choice branches take none."
                problems.append(_on_transition("CHOICE_HAS_EVENT", i, t, "eventValue", message))
        elif _blank(t.event):
            if t.source in states:
                message = "leaves a normal state without an event."
                problems.append(_on_transition("EVENT_MISSING", i, t, "eventValue", message))
        elif (t.source, t.event) in first_seen:
            first = first_seen[(t.source, t.event)]
            message = (
                f"repeats event '{t.event}' from '{t.source}' (see transition #{first}); "
                "to go to two places, branch with a choice state."
            )
            problems.append(
                _on_transition("EVENT_DUPLICATE", i, t, "eventValue", message, duplicateOf=first)
            )
        else:
            first_seen[(t.source, t.event)] = i
    return problems


def _check_choice_branches(definition: Definition) -> list[Problem]:
    branches_of: dict[str, list[tuple[int, TransitionDef]]] = defaultdict(list)
    for index, t in enumerate(definition.transitions):
        branches_of[t.source].append((index, t))
    problems = []
    for state in _states_by_value(definition).values():
        if state.is_choice:
            problems += _choice_state_problems(state.value, branches_of[state.value])
    return problems


def _choice_state_problems(state: str, branches: list[tuple[int, TransitionDef]]) -> list[Problem]:
    problems = []
    defaults = [index for index, t in branches if t.case_default]
    if not defaults:
        message = f"Choice state '{state}' has no default branch; mark exactly one."
        problems.append(_on_state("CASE_DEFAULT_MISSING", state, message))
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
                _on_transition(
                    "CASE_ORDER_DUPLICATE", i, t, "caseOrder", message, duplicateOf=first
                )
            )
        elif t.case_order is not None:
            orders[t.case_order] = i
    return problems


def _branch_problems(i: int, t: TransitionDef) -> list[Problem]:
    if t.case_default:
        if _blank(t.case_condition):
            return []
        message = "is the default branch, taken when no case holds: it has no case condition."
        return [_on_transition("CASE_DEFAULT_CONDITION", i, t, "caseCondition", message)]
    problems = []
    if _blank(t.case_condition):
        message = "is not the default branch and has no case condition."
        problems.append(_on_transition("CASE_CONDITION_MISSING", i, t, "caseCondition", message))
    if t.case_order is None:
        message = "is not the default branch and has no case order."
        problems.append(_on_transition("CASE_ORDER_MISSING", i, t, "caseOrder", message))
    return problems


def _check_ignored_fields(definition: Definition) -> list[Problem]:
    states = _states_by_value(definition)
    problems = []
    for i, t in enumerate(definition.transitions):
        if t.source not in states:
            continue
        if states[t.source].is_choice:
            ignored = {"guardCondition": t.guard_condition, "showCondition": t.show_condition}
            ignored["eventRole"] = t.roles
            why = "a choice branch is chosen by its case condition only"
        else:
            ignored = {"caseCondition": t.case_condition, "caseOrder": t.case_order}
            ignored["caseDefault"] = t.case_default or None
            why = "case fields belong to the branches of a choice state (use a guard here)"
        problems += [
            _on_transition(
                "FIELD_IGNORED", i, t, name, f"sets {name}, which is ignored: {why}.", level=WARNING
            )
            for name, value in ignored.items()
            if not _blank(value)
        ]
    return problems


def _check_expressions(definition: Definition) -> list[Problem]:
    problems = []
    for i, t in enumerate(definition.transitions):
        for attribute, field_name in _EXPRESSION_FIELDS:
            source = getattr(t, attribute)
            if _blank(source):
                continue
            try:
                compile_expression(source)
            except ExpressionSyntaxError as exc:
                details = exc.details or {}
                position = {k: details[k] for k in ("line", "column") if k in details}
                message = f"has an invalid {field_name} {source!r}: {exc.message}"
                problems.append(
                    _on_transition("EXPRESSION_INVALID", i, t, field_name, message, **position)
                )
    return problems


# Graph -------------------------------------------------------------------------------------


def _reachable(roots: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
    """The states reached from the roots by one edge or more."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _check_choice_cycles(definition: Definition) -> list[Problem]:
    states = _states_by_value(definition)
    choices = [value for value, state in states.items() if state.is_choice]
    edges: dict[str, set[str]] = defaultdict(set)
    for t in definition.transitions:
        if t.source in choices and t.target in choices:
            edges[t.source].add(t.target)
    reach = {choice: _reachable([choice], edges) for choice in choices}
    problems, reported = [], set()
    for choice in choices:
        if choice in reported or choice not in reach[choice]:
            continue
        # Its strongly connected component: every choice state on a cycle through it.
        cycle = [c for c in choices if c in reach[choice] and choice in reach[c]]
        reported.update(cycle)
        message = (
            f"Choice states {', '.join(cycle)} form a cycle with no event in between; "
            "routing would never stop."
        )
        problems.append(Problem("CHOICE_CYCLE", message, {"states": cycle}))
    return problems


def _check_reachability(definition: Definition) -> list[Problem]:
    # With several states marked initial (INITIAL_MULTIPLE), start from all of them.
    roots = [s.value for s in definition.states if s.initial]
    if not roots and definition.initial_state():
        roots = [definition.initial_state().value]
    if not roots:
        return []  # INITIAL_MISSING says why
    edges: dict[str, set[str]] = defaultdict(set)
    for t in definition.transitions:
        edges[t.source].add(t.target)
    reached = _reachable(roots, edges) | set(roots)
    return [
        _on_state("STATE_UNREACHABLE", value, f"State '{value}' cannot be reached from the start.")
        for value in _states_by_value(definition)
        if value not in reached
    ]


def _check_dead_ends(definition: Definition) -> list[Problem]:
    exits = {t.source for t in definition.transitions if t.target != t.source}
    return [
        _on_state(
            "STATE_DEAD_END",
            s.value,
            f"State '{s.value}' has no way out and is not marked final.",
            WARNING,
        )
        for s in _states_by_value(definition).values()
        if not s.is_choice and not s.final and s.value not in exits
    ]


def _check_final_states(definition: Definition) -> list[Problem]:
    sources = {t.source for t in definition.transitions}
    return [
        _on_state(
            "FINAL_HAS_TRANSITIONS",
            s.value,
            f"State '{s.value}' is marked final but has outgoing transitions.",
            WARNING,
        )
        for s in _states_by_value(definition).values()
        if s.final and s.value in sources
    ]


# Fields ------------------------------------------------------------------------------------


def _check_actions(definition: Definition, allowed_hosts: Collection[str]) -> list[Problem]:
    problems = []
    for i, t in enumerate(definition.transitions):
        if _blank(t.action):
            continue
        reason = url_problem(t.action, ["*"])  # refused whatever the allow-list says
        code = "ACTION_URL_INVALID"
        if reason is None:
            reason = url_problem(t.action, allowed_hosts)
            code = "ACTION_HOST_NOT_ALLOWED"
        if reason:
            message = f"has action URL {t.action!r}, refused: {reason}."
            problems.append(_on_transition(code, i, t, "transitionAction", message))
    return problems


def _check_timers(definition: Definition) -> list[Problem]:
    states = _states_by_value(definition)
    problems = []
    for i, t in enumerate(definition.transitions):
        seconds = t.timer_seconds
        if seconds is None:
            continue
        reasons = []
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            reasons.append(f"must be a positive whole number of seconds, not {seconds!r}")
        if _is_choice_source(states, t):
            reasons.append("applies only to transitions from a normal state")
        elif _blank(t.event):
            reasons.append("needs an event to fire")
        if reasons:
            message = f"has a timer that {'; '.join(reasons)}."
            problems.append(_on_transition("TIMER_INVALID", i, t, "timerSeconds", message))
    return problems


def _check_roles(definition: Definition) -> list[Problem]:
    return [
        _on_transition(
            "ROLE_INVALID",
            i,
            t,
            "eventRole",
            f"has eventRole {t.roles!r}: use comma-separated integer role codes, or none.",
        )
        for i, t in enumerate(definition.transitions)
        if not _blank(t.roles)
        and not all(_ROLE_CODE.fullmatch(code.strip()) for code in str(t.roles).split(","))
    ]
