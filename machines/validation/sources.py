"""Rules on transitions that leave many states: a comma list of states, or "*".

Rows are checked as written (the names in a list, an event on "*"); every other rule sees the
expanded transitions (Definition.expanded), so a list naming a final state is a transition
out of a final state, and the same (source, event) from a list and a row is a duplicate.
"""

from machines.definition import ANY_SOURCE, MAX_EXPANDED_TRANSITIONS, Definition
from machines.validation.problems import (
    WARNING,
    Problem,
    blank,
    on_transition,
    states_by_value,
)


def check_source_lists(definition: Definition) -> list[Problem]:
    states = states_by_value(definition)
    problems = []
    for i, t in enumerate(definition.transitions):
        names = definition.sources_written[i]
        if names is None or names == (ANY_SOURCE,):
            continue
        for name in names:
            if name not in states:
                message = f"names unknown state '{name}' in its source list."
                problems.append(
                    on_transition("SOURCE_UNKNOWN", i, t, "sourceState", message, state=name)
                )
            elif states[name].is_choice:
                message = (
                    f"names choice state '{name}' in its source list; a list names normal "
                    "states, which an event leaves (a choice state's branches take no event)."
                )
                problems.append(
                    on_transition("SOURCE_LIST_CHOICE", i, t, "sourceState", message, state=name)
                )
    return problems


def check_any_sources(definition: Definition) -> list[Problem]:
    """ "*" needs an event; where a state has its own transition for it, that one wins (said)."""
    stars = [i for i, names in enumerate(definition.sources_written) if names == (ANY_SOURCE,)]
    if not stars or definition.expanded_size() > MAX_EXPANDED_TRANSITIONS:
        return []  # no "*", or TRANSITIONS_TOO_MANY: not expanded
    problems = []
    reached = {i: set() for i in stars}
    for t in definition.expanded().transitions:
        if t.row in reached:
            reached[t.row].add(t.source)
    candidates = [s.value for s in definition.states if not s.is_choice and not s.final]
    for i in stars:
        t = definition.transitions[i]
        if blank(t.event):
            message = 'leaves every state ("*") without an event: "*" needs one.'
            problems.append(on_transition("EVENT_MISSING", i, t, "eventValue", message))
            continue
        overridden = [value for value in candidates if value not in reached[i]]
        if not overridden:
            continue
        if len(overridden) == len(candidates):
            message = f"reaches no state: every state has a transition of its own for '{t.event}'."
        else:
            message = (
                f"skips {', '.join(overridden)}: a state's own transition for '{t.event}' "
                'wins over "*".'
            )
        problems.append(
            on_transition(
                "SOURCE_ANY_OVERRIDDEN",
                i,
                t,
                "sourceState",
                message,
                states=overridden,
                level=WARNING,
            )
        )
    return problems
