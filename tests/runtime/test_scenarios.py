"""The scenario runner and the publish check, at the service level (no HTTP)."""

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from config.exceptions import ValidationError
from machines import services
from machines.exceptions import MachineFrozen, ScenarioFailed
from machines.models import Flow, Machine, Scenario
from machines.scenarios import scenario_create, scenario_update
from rules import RequestBudget, request_budget
from runtime.scenarios import coverage_taken, scenario_save_from_simulation, scenarios_run
from tests.conftest import example_seed

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def guarded():
    """design-example with a guard on E1: ctx.ok must be true."""
    doc = example_seed("design-example")
    doc["smTransitions"][0]["guardCondition"] = "ctx.ok == True"
    return services.machine_create(data=doc, create_flow=True)


def steps(*items):
    return [{"event": e, "context": c, "expect": x} for e, c, x in items]


def test_an_expected_guard_rejection_passes_and_coverage_counts_the_path():
    machine = guarded()
    scenario_create(
        machine=machine,
        data={
            "name": "refused then let through",
            "steps": steps(
                ("E1", {"ok": False}, {"code": "GUARD_REJECTED"}),
                ("E1", {"ok": True}, {"state": "S1"}),
                ("E2", {"amount": 1}, {"state": "S22"}),
            ),
        },
    )
    result = scenarios_run(machine=machine)
    assert result["passed"] is True
    taken = coverage_taken(result)
    assert taken == {0: 1, 2: 1, 4: 1}  # E1, E2, and C1's default case
    assert Machine.objects.get(pk=machine.pk).revision == machine.revision  # nothing stored


def test_save_from_simulation_records_what_each_step_did():
    machine = guarded()
    scenario = scenario_save_from_simulation(
        machine=machine,
        name="from the simulator",
        state=None,
        steps=[
            {"event": "E1", "role": None, "context": {"ok": False}},
            {"event": "E1", "role": None, "context": {"ok": True}},
        ],
    )
    assert [s["expect"] for s in scenario.steps] == [{"code": "GUARD_REJECTED"}, {"state": "S1"}]
    assert scenarios_run(machine=machine)["passed"] is True


def test_all_scenarios_of_a_run_share_one_expression_budget():
    machine = guarded()
    for n in range(3):
        scenario_create(
            machine=machine,
            data={"name": f"s{n}", "steps": steps(("E1", {"ok": True}, {"state": "S1"}))},
        )
    with request_budget(RequestBudget(work=2)):  # room for two guard evaluations, not three
        result = scenarios_run(machine=machine)
    assert [r["passed"] for r in result["scenarios"]] == [True, True, False]
    assert result["scenarios"][2]["failure"]["actual"]["code"] == "EXPRESSION_ERROR"


def test_publish_refuses_through_the_service_and_a_fixed_scenario_lets_it_through():
    machine = guarded()
    scenario = scenario_create(
        machine=machine,
        data={"name": "wrong", "steps": steps(("E1", {"ok": True}, {"state": "S4"}))},
    )
    with pytest.raises(ScenarioFailed) as refused:
        services.machine_publish(machine=machine)
    assert refused.value.status_code == 409 and "'wrong' at step 1" in refused.value.message
    assert Machine.objects.get(pk=machine.pk).status == Machine.Status.TESTING

    scenario_update(
        scenario=scenario,
        data={"name": "right", "steps": steps(("E1", {"ok": True}, {"state": "S1"}))},
    )
    assert services.machine_publish(machine=machine).status == Machine.Status.PUBLISHED
    with pytest.raises(MachineFrozen):
        scenario_create(machine=machine, data={"name": "late", "steps": scenario.steps})


def test_the_import_command_with_publish_refuses_failing_scenarios_and_keeps_nothing(tmp_path):
    doc = example_seed("design-example")
    doc["smScenarios"] = [{"name": "wrong", "steps": [{"event": "E1", "expect": {"state": "S4"}}]}]
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CommandError):
        call_command("import_machine", str(path), "--publish")
    assert not Machine.objects.exists() and not Scenario.objects.exists()
    assert not Flow.objects.exists()


def test_a_new_version_copies_the_scenarios_and_they_stay_editable_there():
    machine = guarded()
    scenario_create(
        machine=machine,
        data={"name": "one", "steps": steps(("E1", {"ok": True}, {"state": "S1"}))},
    )
    published = services.machine_publish(machine=machine)
    clone = services.machine_new_version(machine=published)
    copied = Scenario.objects.get(machine=clone)
    assert (copied.name, copied.steps) == ("one", Scenario.objects.get(machine=machine).steps)
    scenario_create(machine=clone, data={"name": "two", "steps": steps(("E1", {}, {"code": "X"}))})
    assert Scenario.objects.filter(machine=machine).count() == 1


def test_a_bad_scenario_is_refused_with_its_path():
    machine = guarded()
    with pytest.raises(ValidationError) as refused:
        scenario_create(machine=machine, data={"name": "x", "steps": [{"event": "E1"}]})
    assert refused.value.details["problems"][0]["path"] == "steps[0].expect"


def test_machines_imports_nothing_of_runtime():
    pattern = re.compile(r"^\s*(from|import)\s+runtime\b", re.M)
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "machines").rglob("*.py")
        if pattern.search(path.read_text())
    ]
    assert offenders == []
