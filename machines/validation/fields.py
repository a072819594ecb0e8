"""Rules on the fields that reach the outside or the runtime: action URLs (a transition's
action, a state's enterAction), error targets, timers, roles."""

import re
from collections.abc import Collection

from machines.callback_urls import url_problem
from machines.definition import Definition
from machines.validation.problems import (
    WARNING,
    Problem,
    blank,
    is_choice_source,
    on_transition,
    states_by_value,
)

_ROLE_CODE = re.compile(r"-?\d+")


def check_actions(definition: Definition, allowed_hosts: Collection[str]) -> list[Problem]:
    problems = []
    for i, t in enumerate(definition.transitions):
        if blank(t.action):
            continue
        code, reason = _url_refusal(t.action, allowed_hosts)
        if reason:
            message = f"has action URL {t.action!r}, refused: {reason}."
            problems.append(on_transition(code, i, t, "transitionAction", message))
    for s in definition.states:
        if blank(s.enter_action):
            continue
        code, reason = _url_refusal(s.enter_action, allowed_hosts)
        if reason:
            message = (
                f"State '{s.value}' has entry action URL {s.enter_action!r}, refused: {reason}."
            )
            problems.append(Problem(code, message, {"state": s.value, "field": "enterAction"}))
        if s.is_choice:
            message = (
                f"State '{s.value}' sets enterAction, which is ignored: nobody rests in a "
                "choice state (set it on the states its branches lead to)."
            )
            where = {"state": s.value, "field": "enterAction"}
            problems.append(Problem("FIELD_IGNORED", message, where, WARNING))
    return problems


def _url_refusal(url: str, allowed_hosts: Collection[str]) -> tuple[str, str | None]:
    reason = url_problem(url, ["*"])  # refused whatever the allow-list says
    if reason is not None:
        return "ACTION_URL_INVALID", reason
    return "ACTION_HOST_NOT_ALLOWED", url_problem(url, allowed_hosts)


def check_error_targets(definition: Definition) -> list[Problem]:
    """An error target is a normal state (final or not), on a transition with an action."""
    states = states_by_value(definition)
    problems = []
    for i, t in enumerate(definition.transitions):
        if blank(t.error_target):
            continue
        target = states.get(t.error_target)
        if target is None:
            message = f"has unknown errorTarget '{t.error_target}'."
            problems.append(on_transition("ERROR_TARGET_UNKNOWN", i, t, "errorTarget", message))
        elif target.is_choice:
            message = (
                f"has errorTarget '{t.error_target}', a choice state; an instance moved there "
                "must rest, so name a normal state."
            )
            problems.append(on_transition("ERROR_TARGET_NOT_NORMAL", i, t, "errorTarget", message))
        if blank(t.action):
            message = (
                "sets errorTarget, which is ignored: only a failing transitionAction leads "
                "there, and it has none."
            )
            problems.append(
                on_transition("FIELD_IGNORED", i, t, "errorTarget", message, level=WARNING)
            )
    return problems


def check_timers(definition: Definition) -> list[Problem]:
    states = states_by_value(definition)
    problems = []
    for i, t in enumerate(definition.transitions):
        seconds = t.timer_seconds
        if seconds is None:
            continue
        reasons = []
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            reasons.append(f"must be a positive whole number of seconds, not {seconds!r}")
        if is_choice_source(states, t):
            reasons.append("applies only to transitions from a normal state")
        elif blank(t.event):
            reasons.append("needs an event to fire")
        if reasons:
            message = f"has a timer that {'; '.join(reasons)}."
            problems.append(on_transition("TIMER_INVALID", i, t, "timerSeconds", message))
    return problems


def check_roles(definition: Definition) -> list[Problem]:
    return [
        on_transition(
            "ROLE_INVALID",
            i,
            t,
            "eventRole",
            f"has eventRole {t.roles!r}: use comma-separated integer role codes, or none.",
        )
        for i, t in enumerate(definition.transitions)
        if not blank(t.roles)
        and not all(_ROLE_CODE.fullmatch(code.strip()) for code in str(t.roles).split(","))
    ]
