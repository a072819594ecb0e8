"""Rules on the fields a transition carries to the outside: action URLs, timers, roles."""

import re
from collections.abc import Collection

from machines.callback_urls import url_problem
from machines.definition import Definition
from machines.validation.problems import (
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
        reason = url_problem(t.action, ["*"])  # refused whatever the allow-list says
        code = "ACTION_URL_INVALID"
        if reason is None:
            reason = url_problem(t.action, allowed_hosts)
            code = "ACTION_HOST_NOT_ALLOWED"
        if reason:
            message = f"has action URL {t.action!r}, refused: {reason}."
            problems.append(on_transition(code, i, t, "transitionAction", message))
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
