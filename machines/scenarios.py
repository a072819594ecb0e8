"""A version's saved scenarios: reads and writes, and the checks publishing runs.

Scenarios belong to the version's definition: they are written only while it is testing and
copied by a new version. Running them needs the engine, which lives in runtime/; machines
imports nothing of runtime, so runtime registers its check here when the app is ready
(`publish_check_register`) and `machines.services.machine_publish` runs every registered
check under the machine's lock. Whoever publishes (the API, the admin's button, a script)
goes through that service, so none skips the scenarios.
"""

from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet

from config.exceptions import NotFound, ValidationError, flatten_errors
from machines.exceptions import MachineFrozen
from machines.interchange import (
    ID_MAX,
    MAX_SCENARIOS,
    MAX_VERSION_STEPS,
    ScenarioIn,
)
from machines.models import Machine, Scenario

PublishCheck = Callable[[Machine], None]
_PUBLISH_CHECKS: list[PublishCheck] = []


def publish_check_register(check: PublishCheck) -> None:
    """Add a check publishing runs; it raises a PlatformError to refuse (idempotent)."""
    if check not in _PUBLISH_CHECKS:
        _PUBLISH_CHECKS.append(check)


def publish_checks_run(*, machine: Machine) -> None:
    """Run every registered check on a machine about to be published."""
    for check in list(_PUBLISH_CHECKS):
        check(machine)


def scenario_list(*, machine: Machine) -> QuerySet[Scenario]:
    return machine.scenarios.order_by("id")


def scenario_get(*, machine: Machine, scenario_id) -> Scenario:
    scenario = machine.scenarios.filter(pk=scenario_id).first() if _is_id(scenario_id) else None
    if scenario is None:
        raise NotFound(f"No scenario with id {scenario_id} in this machine.", {"id": scenario_id})
    return scenario


@transaction.atomic
def scenario_create(*, machine: Machine, data) -> Scenario:
    """A new scenario of a testing machine, from {name, state?, steps}."""
    machine = _lock_testing(machine)
    value = scenario_parse(data)
    others = [_as_dict(s) for s in machine.scenarios.all()]
    if len(others) >= MAX_SCENARIOS:
        raise _invalid("", f"A version holds at most {MAX_SCENARIOS} scenarios.")
    _check_set(others, value)
    return Scenario.objects.create(machine=machine, **value)


@transaction.atomic
def scenario_update(*, scenario: Scenario, data) -> Scenario:
    """Replace a scenario's name, start state and steps (its machine must be testing)."""
    _lock_testing(scenario.machine)
    value = scenario_parse(data)
    others = [_as_dict(s) for s in scenario.machine.scenarios.exclude(pk=scenario.pk)]
    _check_set(others, value)
    for field, item in value.items():
        setattr(scenario, field, item)
    scenario.save()
    return scenario


@transaction.atomic
def scenario_delete(*, scenario: Scenario) -> None:
    _lock_testing(scenario.machine)
    scenario.delete()


def scenarios_store(*, machine: Machine, scenarios: list[dict]) -> None:
    """Replace a machine's scenarios with checked ones (import, a PUT of the whole seed)."""
    machine.scenarios.all().delete()
    Scenario.objects.bulk_create(Scenario(machine=machine, **value) for value in scenarios)


def scenarios_copy(*, source: Machine, target: Machine) -> None:
    """Copy a version's scenarios to another (a new version)."""
    scenarios_store(machine=target, scenarios=[_as_dict(s) for s in scenario_list(machine=source)])


def scenario_parse(data) -> dict:
    """{name, state, steps} from untrusted input, or a ValidationError with every problem."""
    serializer = ScenarioIn(data=data)
    if not serializer.is_valid():
        problems = flatten_errors(serializer.errors)
        message = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5])
        raise ValidationError(message, {"problems": problems})
    value = serializer.validated_data
    steps = [{**step, "expect": dict(step["expect"])} for step in value["steps"]]
    return {"name": value["name"], "state": value["state"], "steps": steps}


def _as_dict(scenario: Scenario) -> dict:
    return {"name": scenario.name, "state": scenario.state, "steps": scenario.steps}


def _check_set(others: list[dict], value: dict) -> None:
    """Names are unique within a version, and all its scenarios hold a bounded number of steps."""
    if any(other["name"] == value["name"] for other in others):
        raise _invalid("name", "A scenario of this version already has this name.")
    total = sum(len(s["steps"]) for s in others) + len(value["steps"])
    if total > MAX_VERSION_STEPS:
        raise _invalid(
            "steps",
            f"A version's scenarios hold at most {MAX_VERSION_STEPS:,} steps in all; "
            f"these would hold {total:,}.",
        )


def _lock_testing(machine: Machine) -> Machine:
    machine = Machine.objects.select_for_update(of=("self",)).get(pk=machine.pk)
    if machine.is_frozen:
        raise MachineFrozen(
            f"Machine {machine.pk} is {machine.get_status_display()}; only a testing "
            "machine's scenarios can be edited. Make a new version instead."
        )
    return machine


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= ID_MAX


def _invalid(path: str, message: str) -> ValidationError:
    return ValidationError(message, {"problems": [{"path": path, "message": message}]})
