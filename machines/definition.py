"""A machine's definition as plain, immutable Python values.

The interchange format, the validator, the diagrams and the compiled machine all speak this
form, so none of them needs the ORM: a definition can be checked before it is stored.
"""

from dataclasses import dataclass

NORMAL = 1
CHOICE = 2


@dataclass(frozen=True)
class StateDef:
    value: str
    desc: str | None = None
    type: int = NORMAL
    initial: bool = False
    final: bool = False
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
    id: int | None = None

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
