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
  CALLBACK_ALLOWED_HOSTS. An empty allow-list allows nothing.
"""

from collections.abc import Callable, Collection

from machines.definition import Definition
from machines.validation.fields import check_actions, check_roles, check_timers
from machines.validation.graph import (
    check_choice_cycles,
    check_dead_ends,
    check_final_states,
    check_reachability,
)
from machines.validation.problems import ERROR, WARNING, Problem, Report
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
    checks: list[Callable[[Definition], list[Problem]]] = [
        check_state_values,
        check_initial,
        check_endpoints,
        check_events,
        check_choice_branches,
        check_ignored_fields,
        check_expressions,
        check_choice_cycles,
        check_reachability,
        check_dead_ends,
        check_final_states,
        lambda d: check_actions(d, allowed_hosts),
        check_timers,
        check_roles,
    ]
    problems = [problem for check in checks for problem in check(definition)]
    return Report(
        errors=tuple(p for p in problems if p.level == ERROR),
        warnings=tuple(p for p in problems if p.level == WARNING),
    )
