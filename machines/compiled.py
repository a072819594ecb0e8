"""The compiled machine: the one immutable object the runtime reads definitions through.

States by value, transitions by (source, event), choice branches sorted by case order, every
expression compiled once. A frozen version never changes, so the compiled form is cached per
process by (machine id, revision) and the hot path reads no definition rows.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from machines.definition import Definition, TransitionDef
from machines.models import Machine
from machines.selectors import machine_definition
from rules import Branch, Expression, compile_expression
from rules.cache import BoundedCache


@dataclass(frozen=True, eq=False)
class CompiledTransition:
    id: int | None
    source: str
    target: str
    event: str | None
    event_desc: str | None
    desc: str | None
    roles: frozenset[int] | None  # None: any role
    guard: Expression | None
    show: Expression | None
    action: str | None
    timer_seconds: int | None
    error_target: str | None  # where an async event goes when the action keeps failing

    def allows(self, role: int | None) -> bool:
        return self.roles is None or role in self.roles

    def __str__(self) -> str:  # names the branch in a CaseError's details
        label = f"{self.source} -> {self.target}"
        return f"{label} (transition {self.id})" if self.id is not None else label


@dataclass(frozen=True)
class CompiledState:
    value: str
    desc: str | None
    is_choice: bool
    is_final: bool
    enter_action: str | None  # called through the outbox each time an instance comes to rest
    events: tuple[CompiledTransition, ...]  # from a normal state, in listed order
    branches: tuple[Branch, ...]  # from a choice state, by case order; Branch.key is the transition


@dataclass(frozen=True)
class CompiledMachine:
    id: int | None
    flow: str
    version: int
    revision: int
    initial: str
    states: Mapping[str, CompiledState]
    transitions: Mapping[tuple[str, str], CompiledTransition]

    def transition(self, state: str, event: str) -> CompiledTransition | None:
        return self.transitions.get((state, event))


def compile_definition(
    definition: Definition, *, id=None, flow: str = "", version: int = 0, revision: int = 0
) -> CompiledMachine:
    """Compile a valid definition (run the validator first: this trusts its rules).

    Many-source rows (a comma list, "*") are compiled expanded: one transition per state."""
    definition = definition.expanded()
    expression = _expressions()  # the copies of an expanded row share its compiled expressions
    compiled = {t_def: _compile_transition(t_def, expression) for t_def in definition.transitions}
    states = {}
    for s in definition.states:
        outgoing = [compiled[t] for t in definition.outgoing(s.value)]
        branches = ()
        if s.is_choice:
            branches = tuple(
                sorted(
                    (_branch(t_def, compiled[t_def]) for t_def in definition.outgoing(s.value)),
                    key=lambda b: (b.is_default, b.order if b.order is not None else 0),
                )
            )
        states[s.value] = CompiledState(
            value=s.value,
            desc=s.desc,
            is_choice=s.is_choice,
            is_final=s.final,
            enter_action=s.enter_action or None,
            events=() if s.is_choice else tuple(outgoing),
            branches=branches,
        )
    transitions = {
        (t.source, t.event): t for t in compiled.values() if t.event and not _is_choice(states, t)
    }
    return CompiledMachine(
        id=id,
        flow=flow,
        version=version,
        revision=revision,
        initial=definition.initial_state().value,
        states=MappingProxyType(states),
        transitions=MappingProxyType(transitions),
    )


def _is_choice(states: dict, t: CompiledTransition) -> bool:
    return states[t.source].is_choice if t.source in states else False


def _expressions():
    """An expression compiler that compiles each text once."""
    compiled: dict[str, Expression | None] = {}

    def expression(source: str | None) -> Expression | None:
        if source not in compiled:
            compiled[source] = _expression(source)
        return compiled[source]

    return expression


def _compile_transition(t: TransitionDef, expression) -> CompiledTransition:
    return CompiledTransition(
        id=t.id,
        source=t.source,
        target=t.target,
        event=t.event,
        event_desc=t.event_desc,
        desc=t.desc,
        roles=t.role_codes,
        guard=expression(t.guard_condition),
        show=expression(t.show_condition),
        action=t.action or None,
        timer_seconds=t.timer_seconds,
        error_target=t.error_target or None,
    )


def _branch(t: TransitionDef, transition: CompiledTransition) -> Branch:
    return Branch(
        key=transition,
        condition=_expression(t.case_condition),
        order=t.case_order,
        is_default=t.case_default,
    )


def _expression(source: str | None) -> Expression | None:
    return compile_expression(source) if source and source.strip() else None


# Compiled machines kept per process, bounded by the bytes their expressions hold (a count
# bounds nothing: one machine may hold 20 MB of syntax trees, most hold a few kilobytes).
MACHINE_CACHE_BYTES = 128 * 1024 * 1024
BYTES_PER_PART = 512  # a compiled state or transition, besides its expressions
_CACHE = BoundedCache(limit=MACHINE_CACHE_BYTES)


def compiled_machine(machine: Machine) -> CompiledMachine:
    """The compiled form of a stored Machine, from the per-process cache when it is there."""
    # created_at joins the key because a restored or flushed database can hand an id out again.
    key = (machine.pk, machine.revision, machine.created_at)
    compiled = _CACHE.get(key)
    if compiled is None:
        compiled = _compile_stored(machine.pk, machine.revision)
        _CACHE.put(key, compiled, footprint(compiled))
    return compiled


def forget_compiled_machines() -> None:
    """Empty this process's cache of compiled machines."""
    _CACHE.clear()


def footprint(compiled: CompiledMachine) -> int:
    """The estimated bytes a compiled machine holds: its parts and its expressions."""
    transitions = {id(t): t for state in compiled.states.values() for t in state.events}
    transitions.update({id(b.key): b.key for s in compiled.states.values() for b in s.branches})
    expressions = {
        id(e): e
        for s in compiled.states.values()
        for e in [b.condition for b in s.branches]
        + [x for t in s.events for x in (t.guard, t.show)]
        if e is not None
    }
    parts = len(compiled.states) + len(transitions)
    return BYTES_PER_PART * parts + sum(e.footprint for e in expressions.values())


def _compile_stored(machine_id: int, revision: int) -> CompiledMachine:
    machine = Machine.objects.select_related("flow").get(pk=machine_id)
    return compile_definition(
        machine_definition(machine=machine),
        id=machine.pk,
        flow=machine.flow.code,
        version=machine.version,
        revision=revision,
    )
