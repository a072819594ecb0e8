"""The compiled machine: immutable lookups, sorted branches, and the per-process cache."""

import pytest

from machines import services
from machines.compiled import compile_definition, compiled_machine
from machines.interchange import parse_seed
from tests.conftest import example_seed


def _compiled(name="design-example"):
    return compile_definition(parse_seed(example_seed(name))[1], flow=name, version=1)


def test_it_indexes_transitions_by_state_and_event():
    machine = _compiled()
    assert machine.initial == "START"
    assert machine.transition("START", "E1").target == "S1"
    assert machine.transition("S1", "E11").target == "S1"
    assert machine.transition("START", "E2") is None


def test_choice_branches_come_sorted_by_case_order_with_the_default_last():
    doc = example_seed("design-example")
    doc["smTransitions"][3], doc["smTransitions"][4] = (
        doc["smTransitions"][4],
        doc["smTransitions"][3],
    )
    machine = compile_definition(parse_seed(doc)[1])
    branches = machine.states["C1"].branches
    assert [(b.key.target, b.is_default) for b in branches] == [("S21", False), ("S22", True)]
    assert branches[0].condition.source == "ctx.amount >= 100"
    assert machine.states["C1"].is_choice and machine.states["C1"].events == ()


def test_expressions_are_compiled_once_at_compile_time():
    doc = example_seed("audit")
    doc["smTransitions"][0]["guardCondition"] = "ctx.amount > 10"
    doc["smTransitions"][0]["eventRole"] = "1,2"
    transition = compile_definition(parse_seed(doc)[1]).transition("APPLY", "PASS")
    assert transition.guard.source == "ctx.amount > 10"
    assert transition.roles == {1, 2} and transition.allows(2) and not transition.allows(3)


def test_the_compiled_machine_cannot_be_changed():
    machine = _compiled()
    with pytest.raises(TypeError):
        machine.states["X"] = None
    with pytest.raises(AttributeError):
        machine.initial = "S1"


@pytest.mark.django_db
def test_the_cache_returns_one_object_per_revision():
    machine = services.machine_create(data=example_seed("audit"), create_flow=True)
    first = compiled_machine(machine)
    assert compiled_machine(machine) is first
    replacement = example_seed("audit")
    replacement["smStates"][0]["stateDesc"] = "applied again"
    machine = services.machine_replace(machine=machine, data=replacement)
    second = compiled_machine(machine)
    assert second is not first
    assert second.states["APPLY"].desc == "applied again"
