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


def _guarded_versions(count: int, guard: str):
    """`count` stored versions of one flow whose every transition carries `guard`."""
    machines = []
    for n in range(count):
        doc = example_seed("audit")
        doc["smInfo"].update(flowCode="guarded", version=None)
        for transition in doc["smTransitions"]:
            if transition.get("eventValue"):
                transition["guardCondition"] = f"{guard} or {n} == -1"
        machines.append(services.machine_create(data=doc, create_flow=n == 0))
    return machines


@pytest.mark.django_db
def test_the_machine_cache_holds_at_most_its_bytes_and_evicts_the_oldest(monkeypatch):
    from machines import compiled as module
    from rules.cache import BoundedCache

    machines = _guarded_versions(6, "len([" + ", ".join(["ctx.a"] * 60) + "]) > 0")
    sizes = [module.footprint(compiled_machine(m)) for m in machines]
    limit = sum(sizes[:3]) + 1  # room for three of them
    monkeypatch.setattr(module, "_CACHE", BoundedCache(limit=limit))
    for machine in machines:
        compiled_machine(machine)
    assert module._CACHE.bytes <= limit
    assert len(module._CACHE) == 3
    assert (machines[-1].pk, machines[-1].revision, machines[-1].created_at) in module._CACHE
    assert (machines[0].pk, machines[0].revision, machines[0].created_at) not in module._CACHE


def test_a_machines_footprint_counts_its_expressions():
    plain = _compiled("audit")
    doc = example_seed("audit")
    for transition in doc["smTransitions"]:
        if transition.get("eventValue"):
            transition["guardCondition"] = "len([" + ", ".join(["ctx.a"] * 100) + "]) > 0"
    guarded = compile_definition(parse_seed(doc)[1])
    from machines.compiled import footprint

    assert footprint(guarded) > footprint(plain) + 100 * 480


@pytest.mark.django_db
def test_a_machine_with_more_expression_text_than_its_limit_is_refused_whole():
    from config.exceptions import ValidationError
    from machines.interchange import MAX_EXPRESSION_TEXT
    from machines.models import Machine

    doc = example_seed("audit")
    doc["smInfo"]["flowCode"] = "big"
    guard = "ctx.a > 0 or " * 150 + "ctx.b"  # about 2,000 characters
    doc["smTransitions"] = [
        {**doc["smTransitions"][0], "eventValue": f"E{n}", "guardCondition": guard}
        for n in range(MAX_EXPRESSION_TEXT // len(guard) + 1)
    ]
    with pytest.raises(ValidationError, match="expressions hold"):
        services.machine_create(data=doc, create_flow=True)
    assert not Machine.objects.filter(flow__code="big").exists()
