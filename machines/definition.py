"""A machine's definition as plain, immutable Python values.

The interchange format, the validator, the diagrams and the compiled machine all speak this
form, so none of them needs the ORM: a definition can be checked before it is stored.
"""

from dataclasses import dataclass, replace
from functools import cached_property

NORMAL = 1
CHOICE = 2
ANY_SOURCE = "*"  # a transition's source: every normal, non-final state without its own
SOURCE_MAX_LENGTH = 2000  # a source as given: one state or a comma list of them
# Transitions once comma lists and "*" are expanded: what a compiled machine may hold.
MAX_EXPANDED_TRANSITIONS = 10_000


@dataclass(frozen=True)
class StateDef:
    value: str
    desc: str | None = None
    type: int = NORMAL
    initial: bool = False
    final: bool = False
    enter_action: str | None = None
    id: int | None = None

    @property
    def is_choice(self) -> bool:
        return self.type == CHOICE


@dataclass(frozen=True)
class TransitionDef:
    source: str
    target: str
    event: str | None = None
    event_desc: str | None = None
    desc: str | None = None
    roles: str | None = None  # "1,2": comma-separated role codes; empty or None: any role
    show_condition: str | None = None
    guard_condition: str | None = None
    case_condition: str | None = None
    case_order: int | None = None
    case_default: bool = False
    action: str | None = None
    timer_seconds: int | None = None
    error_target: str | None = None
    id: int | None = None
    # On an expanded transition (Definition.expanded): the index of the row it comes from.
    row: int | None = None

    @property
    def role_codes(self) -> frozenset[int] | None:
        """The allowed role codes, or None when any role may fire it."""
        if not self.roles or not self.roles.strip():
            return None
        return frozenset(int(code) for code in self.roles.split(","))


@dataclass(frozen=True)
class Definition:
    states: tuple[StateDef, ...]
    transitions: tuple[TransitionDef, ...]

    def state(self, value: str) -> StateDef | None:
        return next((s for s in self.states if s.value == value), None)

    def initial_state(self) -> StateDef | None:
        """The state marked initial, else the first normal state listed."""
        marked = [s for s in self.states if s.initial]
        if marked:
            return marked[0]
        return next((s for s in self.states if not s.is_choice), None)

    def outgoing(self, value: str) -> tuple[TransitionDef, ...]:
        return tuple(t for t in self.transitions if t.source == value)

    @cached_property
    def sources_written(self) -> tuple[tuple[str, ...] | None, ...]:
        """Per row, the names a many-source row gives as written: a comma list's, stripped,
        or ("*",); None for a row with one source. A source that is a state's own value is
        that state, commas or not, so no machine stored before lists existed reads otherwise."""
        values = {s.value for s in self.states}
        return tuple(_many_sources(t.source, values) for t in self.transitions)

    def expanded_size(self) -> int:
        """At most how many transitions expanded() gives, counted without building them."""
        anywhere = sum(1 for s in self.states if not s.is_choice and not s.final)
        return sum(
            1 if names is None else anywhere if names == (ANY_SOURCE,) else len(names)
            for names in self.sources_written
        )

    def expanded(self) -> "Definition":
        """This definition with one transition per concrete source: a comma list becomes one
        transition per state named, in its order; "*" one per normal, non-final state that has
        no transition of its own (from a row or a list) for that event. Every transition keeps
        its row's id and says its row's index in `row`. A definition without many-source rows
        is returned as it is. Computed once per definition (it is immutable)."""
        return self._expansion

    @cached_property
    def _expansion(self) -> "Definition":
        written = self.sources_written
        if not any(written):
            return self
        sources = [
            (t.source,) if names is None else names
            for t, names in zip(self.transitions, written, strict=True)
        ]
        own = {
            (name, t.event)
            for t, names, given in zip(self.transitions, sources, written, strict=True)
            if given != (ANY_SOURCE,)
            for name in names
        }
        anywhere = [s.value for s in self.states if not s.is_choice and not s.final]
        transitions = []
        for index, (t, names) in enumerate(zip(self.transitions, sources, strict=True)):
            if written[index] == (ANY_SOURCE,):
                names = tuple(value for value in anywhere if (value, t.event) not in own)
            transitions += [replace(t, source=name, row=index) for name in names]
        return Definition(states=self.states, transitions=tuple(transitions))


def _many_sources(source: str, values: set[str]) -> tuple[str, ...] | None:
    if source in values:
        return None
    if source.strip() == ANY_SOURCE:
        return (ANY_SOURCE,)
    if "," in source:
        return tuple(name.strip() for name in source.split(","))
    return None
