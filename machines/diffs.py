"""What changed between two versions of a machine: states and transitions added, removed, changed.

States are matched by value. A transition from a normal state is matched by (source, event),
the pair the validator keeps unique, so a new target shows as a change; a choice branch is
matched by (source, target), so a new case condition or order shows as a change. When a key
repeats (a draft with duplicates), the n-th occurrence is matched with the n-th.

Transitions are compared expanded (``Definition.expanded``): a row whose source is a comma list
or "*" counts as one transition per state it leaves, as the machine runs it. So a list that
grows from "A,B" to "A,B,C" shows as one transition added, C's, and a "*" row reaches a state
added since as a transition added from that state. The label of such a transition names its
row's source as written, ``C --E--> X (source "A,B,C")``. A change of form alone (two rows
merged into one list, a list written as "*" where that reaches the same states) changes no
transition, and is not listed. A state's ``enter_action`` and a transition's
``error_target`` are compared like the other fields.
"""

from collections import Counter
from dataclasses import dataclass, fields

from machines.definition import Definition, StateDef, TransitionDef

STATE_FIELDS = ("desc", "type", "initial", "final", "enter_action")
# Not `row`: where a transition is written moves with every row added before it.
TRANSITION_FIELDS = tuple(f.name for f in fields(TransitionDef) if f.name not in ("id", "row"))


@dataclass(frozen=True)
class Change:
    """One state or transition present in both versions with different fields."""

    label: str
    fields: tuple[tuple[str, object, object], ...]  # (field, old value, new value)


@dataclass(frozen=True)
class Diff:
    states_added: tuple[str, ...]
    states_removed: tuple[str, ...]
    states_changed: tuple[Change, ...]
    transitions_added: tuple[str, ...]
    transitions_removed: tuple[str, ...]
    transitions_changed: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


def definition_diff(old: Definition, new: Definition) -> Diff:
    """The differences from `old` to `new`."""
    s_added, s_removed, s_changed = _compare(
        _keyed(old.states, _state_key),
        _keyed(new.states, _state_key),
        STATE_FIELDS,
        (_state_label, _state_label),
    )
    t_added, t_removed, t_changed = _compare(
        _keyed(old.expanded().transitions, lambda t: _transition_key(old, t)),
        _keyed(new.expanded().transitions, lambda t: _transition_key(new, t)),
        TRANSITION_FIELDS,
        (_row_label(old), _row_label(new)),
    )
    return Diff(s_added, s_removed, s_changed, t_added, t_removed, t_changed)


def transition_label(t: TransitionDef) -> str:
    """``S1 --E1--> S2`` for an event, ``C1 --> S2`` for a choice branch."""
    arrow = f"--{t.event}-->" if t.event else "-->"
    return f"{t.source} {arrow} {t.target}"


def _row_label(definition: Definition):
    """transition_label, followed by its row's source when that names many states."""

    def label(t: TransitionDef) -> str:
        written = definition.transitions[t.row].source if t.row is not None else t.source
        if written == t.source:
            return transition_label(t)
        return f'{transition_label(t)} (source "{written}")'

    return label


def _state_key(s: StateDef) -> tuple:
    return (s.value,)


def _state_label(s: StateDef) -> str:
    return s.value


def _transition_key(definition: Definition, t: TransitionDef) -> tuple:
    source = definition.state(t.source)
    if source is not None and source.is_choice:
        return ("branch", t.source, t.target)
    return ("event", t.source, t.event)


def _keyed(items, key) -> dict:
    seen: Counter = Counter()
    keyed = {}
    for item in items:
        k = key(item)
        keyed[(*k, seen[k])] = item
        seen[k] += 1
    return keyed


def _compare(old: dict, new: dict, names: tuple[str, ...], labels):
    old_label, label = labels
    added = tuple(label(new[k]) for k in new if k not in old)
    removed = tuple(old_label(old[k]) for k in old if k not in new)
    changed = []
    for k in new:
        if k not in old:
            continue
        before, after = old[k], new[k]
        diffs = tuple(
            (name, getattr(before, name), getattr(after, name))
            for name in names
            if getattr(before, name) != getattr(after, name)
        )
        if diffs:
            changed.append(Change(label(after), diffs))
    return added, removed, tuple(changed)
