"""Rules on the machine as a graph: choice cycles, reachability, dead ends, final states."""

from collections import defaultdict
from collections.abc import Iterable

from machines.definition import Definition
from machines.validation.problems import WARNING, Problem, on_state, states_by_value


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


def check_choice_cycles(definition: Definition) -> list[Problem]:
    states = states_by_value(definition)
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


def check_reachability(definition: Definition) -> list[Problem]:
    # With several states marked initial (INITIAL_MULTIPLE), start from all of them.
    roots = [s.value for s in definition.states if s.initial]
    if not roots and definition.initial_state():
        roots = [definition.initial_state().value]
    if not roots:
        return []  # INITIAL_MISSING says why
    edges: dict[str, set[str]] = defaultdict(set)
    for t in definition.transitions:
        edges[t.source].add(t.target)
        if t.error_target and t.action:  # where a failing async action leads
            edges[t.source].add(t.error_target)
    reached = _reachable(roots, edges) | set(roots)
    return [
        on_state("STATE_UNREACHABLE", value, f"State '{value}' cannot be reached from the start.")
        for value in states_by_value(definition)
        if value not in reached
    ]


def check_dead_ends(definition: Definition) -> list[Problem]:
    exits = {t.source for t in definition.transitions if t.target != t.source}
    return [
        on_state(
            "STATE_DEAD_END",
            s.value,
            f"State '{s.value}' has no way out and is not marked final.",
            WARNING,
        )
        for s in states_by_value(definition).values()
        if not s.is_choice and not s.final and s.value not in exits
    ]


def check_final_states(definition: Definition) -> list[Problem]:
    """A final state is final: no event, however named, moves an instance out of it."""
    sources = {t.source for t in definition.transitions}
    return [
        on_state(
            "FINAL_HAS_TRANSITIONS",
            s.value,
            f"State '{s.value}' is final: no transition may leave it.",
        )
        for s in states_by_value(definition).values()
        if s.final and s.value in sources
    ]
