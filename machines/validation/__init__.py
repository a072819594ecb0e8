"""The rules a machine must satisfy to be published.

Every rule is a small ``check_*`` function that returns a list of Problems, in the manner of
Django's system checks: rules on single states and transitions in ``structure``, on the graph
in ``graph``, on action URLs, timers and roles in ``fields``; ``problems`` has what they report
with. ``validate`` runs them all and reports every problem at once. Each
check tolerates what the others report (a transition to a missing state, a duplicate state
value, no initial state), so one mistake never hides or crashes another check.

Decisions the seed format leaves open, chosen to match what a Spring Statemachine or AWS Step
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
- Action URLs are checked with the HTTP wrapper's own policy (machines/callback_urls.py):
  ACTION_URL_INVALID for a malformed URL or an address never called (link-local, cloud
  metadata, unspecified, multicast), ACTION_HOST_NOT_ALLOWED for a host off
  CALLBACK_ALLOWED_HOSTS. An empty allow-list allows nothing. A state's enterAction is
  checked the same way (where: the state, field enterAction).
- Many-source rows (a comma list, "*"): the names of a list are checked as written
  (SOURCE_UNKNOWN, SOURCE_LIST_CHOICE), "*" needs an event (EVENT_MISSING); every rule on
  (source, event) pairs and on the graph sees the expanded transitions, reported against the
  row they come from. So a list naming a final state is FINAL_HAS_TRANSITIONS, a list and a
  row giving one (source, event) is EVENT_DUPLICATE, and only "*" yields to a state's own
  transition (SOURCE_ANY_OVERRIDDEN, a warning naming the states it skips).
- errorTarget: an existing state (ERROR_TARGET_UNKNOWN) that is normal, final or not
  (ERROR_TARGET_NOT_NORMAL); on a transition without an action it is FIELD_IGNORED. A state
  reached only through an error target is reachable.
"""

from collections.abc import Callable, Collection

from machines.definition import ANY_SOURCE, MAX_EXPANDED_TRANSITIONS, Definition
from machines.validation.fields import (
    check_actions,
    check_error_targets,
    check_roles,
    check_timers,
)
from machines.validation.graph import (
    check_choice_cycles,
    check_dead_ends,
    check_final_states,
    check_reachability,
)
from machines.validation.problems import ERROR, WARNING, Problem, Report, blank
from machines.validation.sources import check_any_sources, check_source_lists
from machines.validation.structure import (
    check_choice_branches,
    check_endpoints,
    check_events,
    check_expressions,
    check_ignored_fields,
    check_initial,
    check_state_values,
)

__all__ = ["ERROR", "WARNING", "Problem", "Report", "validate"]


def validate(definition: Definition, *, allowed_hosts: Collection[str] = ()) -> Report:
    """Check a definition against every rule and report all problems at once."""
    on_rows: list[Callable[[Definition], list[Problem]]] = [
        check_state_values,
        check_initial,
        check_endpoints,
        check_source_lists,
        check_any_sources,
        check_ignored_fields,
        check_expressions,
        lambda d: check_actions(d, allowed_hosts),
        check_error_targets,
        check_timers,
        check_roles,
    ]
    on_transitions: list[Callable[[Definition], list[Problem]]] = [
        check_events,
        check_choice_branches,
        check_choice_cycles,
        check_reachability,
        check_dead_ends,
        check_final_states,
    ]
    problems = [problem for check in on_rows for problem in check(definition)]
    size = definition.expanded_size()
    if size > MAX_EXPANDED_TRANSITIONS:  # too many to expand: the graph is not checked
        message = (
            f'The transitions name {size:,} (source, event) pairs once comma lists and "*" '
            f"are expanded; at most {MAX_EXPANDED_TRANSITIONS:,}."
        )
        problems.append(Problem("TRANSITIONS_TOO_MANY", message, {"transitions": size}))
    else:
        expanded = _expanded(definition)
        problems += [problem for check in on_transitions for problem in check(expanded)]
    return Report(
        errors=tuple(p for p in problems if p.level == ERROR),
        warnings=tuple(p for p in problems if p.level == WARNING),
    )


def _expanded(definition: Definition) -> Definition:
    """The expanded transitions, less a list's choice states (SOURCE_LIST_CHOICE says so) and
    "*" without an event (EVENT_MISSING, once for the row)."""
    expanded = definition.expanded()
    if expanded is definition:
        return definition
    states = {s.value: s for s in definition.states}
    kept = []
    for t in expanded.transitions:
        written = definition.sources_written[t.row]
        if written == (ANY_SOURCE,) and blank(t.event):
            continue
        if written is not None and t.source in states and states[t.source].is_choice:
            continue
        kept.append(t)
    return Definition(states=definition.states, transitions=tuple(kept))
