"""Writes to definitions: flows, machines and their lifecycle.

Every write is one transaction: a failed create or replace leaves the database as it was.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

from clients.access import flow_grant, visible
from config.exceptions import ValidationError
from machines.definition import Definition
from machines.exceptions import LifecycleError, MachineChanged, MachineFrozen, MachineInvalid
from machines.interchange import VERSION_MAX, parse_seed, parse_seed_scenarios
from machines.models import Flow, Machine, State, Transition
from machines.scenarios import publish_checks_run, scenarios_copy, scenarios_store
from machines.selectors import machine_definition
from machines.validation import Report, validate

Status = Machine.Status
# Rules the database enforces, and the bound on expanded transitions (what a compiled
# machine may hold): a draft breaking them cannot be stored at all.
STORAGE_RULES = {"STATE_DUPLICATE", "STATE_VALUE_EMPTY", "TRANSITIONS_TOO_MANY"}


@transaction.atomic
def flow_create(*, code: str, name: str, description: str = "", user=None) -> Flow:
    """A new flow, granted to its creator. Codes are unique across the platform and are not
    secrets: a code taken by a flow the creator cannot see is refused all the same."""
    if Flow.objects.filter(code=code).exists():
        raise ValidationError(
            f"A flow with code {code!r} already exists.",
            {"problems": [{"path": "code", "message": "A flow with this code already exists."}]},
        )
    flow = Flow.objects.create(code=code, name=name, description=description)
    flow_grant(flow=flow, user=user)
    return flow


def machine_validate(*, machine: Machine) -> Report:
    return validate(
        machine_definition(machine=machine), allowed_hosts=settings.CALLBACK_ALLOWED_HOSTS
    )


@transaction.atomic
def machine_create(*, data, user=None, create_flow: bool = False) -> Machine:
    """Store a new testing machine from seed JSON; `create_flow` makes a missing flowCode."""
    info, definition = parse_seed(data)
    _refuse_unstorable(definition)
    flow = _flow_for(info, create_flow=create_flow, user=user)
    flow = Flow.objects.select_for_update().get(pk=flow.pk)  # serialises version numbering
    version = info.get("version") or _next_version(flow)
    if Machine.objects.filter(flow=flow, version=version).exists():
        raise _invalid("smInfo.version", f"Version {version} of flow {flow.code} exists.")
    name = _username(user)
    machine = Machine.objects.create(
        flow=flow,
        version=version,
        status=Status.TESTING,
        creator=info.get("creator") or name,
        modifier=info.get("modifier") or name,
    )
    _store_definition(machine, definition)
    scenarios_store(machine=machine, scenarios=parse_seed_scenarios(data) or [])
    return machine


@transaction.atomic
def machine_replace(
    *, machine: Machine, data, user=None, expected_revision: int | None = None
) -> Machine:
    """Replace a testing machine's whole definition (states and transitions get new ids).

    With `expected_revision` (the revision the editor read), a machine saved since then is
    refused with MachineChanged; the check runs under the row lock, so of two editors who read
    the same revision exactly one saves.
    """
    machine = _lock(machine)
    if expected_revision is not None and machine.revision != expected_revision:
        raise MachineChanged(details={"revision": machine.revision})
    if machine.is_frozen:
        raise MachineFrozen(
            f"Machine {machine.pk} is {machine.get_status_display()}; only a "
            "testing machine can be edited. Make a new version instead."
        )
    info, definition = parse_seed(data)
    if info.get("flowId") not in (None, machine.flow_id):
        raise _invalid("smInfo.flowId", "A machine cannot move to another flow.")
    if info.get("version") not in (None, machine.version):
        raise _invalid("smInfo.version", "The version of a machine cannot change.")
    _refuse_unstorable(definition)
    machine.states.all().delete()
    machine.transitions.all().delete()
    _store_definition(machine, definition)
    scenarios = parse_seed_scenarios(data)
    if scenarios is not None:  # a document without smScenarios keeps the stored ones
        scenarios_store(machine=machine, scenarios=scenarios)
    machine.modifier = info.get("modifier") or _username(user) or machine.modifier
    machine.revision += 1
    machine.save(update_fields=["modifier", "revision", "updated_at"])
    return machine


@transaction.atomic
def machine_delete(*, machine: Machine) -> None:
    machine = _lock(machine)
    if machine.is_frozen:
        raise MachineFrozen(
            f"Machine {machine.pk} is {machine.get_status_display()}; only a "
            "testing machine can be deleted."
        )
    try:
        machine.delete()
    except IntegrityError as exc:  # instances still point at it
        raise MachineFrozen("The machine has instances and cannot be deleted.") from exc


@transaction.atomic
def machine_publish(*, machine: Machine, user=None) -> Machine:
    """testing -> published, after the validator finds no error and every publish check
    passes (runtime registers one that runs the saved scenarios: machines/scenarios.py)."""
    machine = _lock(machine)
    _require(machine, {Status.TESTING}, "publish")
    report = machine_validate(machine=machine)
    if not report.valid:
        raise MachineInvalid(report, "The machine cannot be published.")
    publish_checks_run(machine=machine)
    return _set_status(machine, Status.PUBLISHED, user)


@transaction.atomic
def machine_online(*, machine: Machine, user=None) -> Machine:
    """published -> online; the flow's previous online version goes back to published."""
    # The flow row serialises concurrent "online" steps: the second sees the first's result.
    Flow.objects.select_for_update().get(pk=machine.flow_id)
    machine = _lock(machine)
    _require(machine, {Status.PUBLISHED}, "put online")
    previous = Machine.objects.select_for_update().filter(flow=machine.flow, status=Status.ONLINE)
    for other in previous:
        _set_status(other, Status.PUBLISHED, user)
    return _set_status(machine, Status.ONLINE, user)


@transaction.atomic
def machine_disable(*, machine: Machine, user=None) -> Machine:
    """published or online -> disabled: no new instances; running ones carry on."""
    machine = _lock(machine)
    _require(machine, {Status.PUBLISHED, Status.ONLINE}, "disable")
    return _set_status(machine, Status.DISABLED, user)


@transaction.atomic
def machine_enable(*, machine: Machine, user=None) -> Machine:
    """disabled -> published."""
    machine = _lock(machine)
    _require(machine, {Status.DISABLED}, "enable")
    return _set_status(machine, Status.PUBLISHED, user)


@transaction.atomic
def machine_new_version(*, machine: Machine, user=None) -> Machine:
    """Clone any version into the flow's next version, in testing."""
    flow = Flow.objects.select_for_update().get(pk=machine.flow_id)
    name = _username(user)
    clone = Machine.objects.create(
        flow=flow,
        version=_next_version(flow),
        status=Status.TESTING,
        creator=name or machine.creator,
        modifier=name or machine.modifier,
    )
    _store_definition(clone, machine_definition(machine=machine))
    scenarios_copy(source=machine, target=clone)
    return clone


def _store_definition(machine: Machine, definition: Definition) -> None:
    State.objects.bulk_create(
        State(
            machine=machine,
            position=position,
            value=s.value,
            desc=s.desc,
            type=s.type,
            initial=s.initial,
            final=s.final,
            enter_action=s.enter_action,
        )
        for position, s in enumerate(definition.states)
    )
    Transition.objects.bulk_create(
        Transition(
            machine=machine,
            position=position,
            desc=t.desc,
            source=t.source,
            target=t.target,
            event=t.event,
            event_desc=t.event_desc,
            roles=t.roles,
            show_condition=t.show_condition,
            guard_condition=t.guard_condition,
            case_condition=t.case_condition,
            case_order=t.case_order,
            case_default=t.case_default,
            action=t.action,
            timer_seconds=t.timer_seconds,
            error_target=t.error_target,
        )
        for position, t in enumerate(definition.transitions)
    )


def _refuse_unstorable(definition: Definition) -> None:
    report = validate(definition)
    blocking = [p for p in report.errors if p.code in STORAGE_RULES]
    if blocking:
        problems = [
            {**p.as_dict(), "path": f"smStates[{_state_index(definition, p)}].stateValue"}
            for p in blocking
        ]
        raise ValidationError("; ".join(p.message for p in blocking), {"problems": problems})


def _state_index(definition: Definition, problem) -> int:
    value = problem.where.get("state")
    indexes = [i for i, s in enumerate(definition.states) if s.value == value]
    return indexes[-1] if indexes else 0


def _flow_for(info: dict, *, create_flow: bool, user) -> Flow:
    """The flow smInfo names, among those `user` may see (another flow reads as missing)."""
    flows = visible(Flow.objects.all(), user, flow="pk")
    if info.get("flowId") is not None:
        flow = flows.filter(pk=info["flowId"]).first()
        if flow is None:
            raise _invalid("smInfo.flowId", f"No flow with id {info['flowId']}.")
        return flow
    code = info.get("flowCode")
    if not code:
        raise _invalid("smInfo.flowId", "Name the flow with smInfo.flowId or smInfo.flowCode.")
    flow = flows.filter(code=code).first()
    if flow is None and create_flow and not Flow.objects.filter(code=code).exists():
        return flow_create(code=code, name=code, user=user)
    if flow is None:
        raise _invalid("smInfo.flowCode", f"No flow with code {code!r}.")
    return flow


def _next_version(flow: Flow) -> int:
    """One past the flow's highest version; refused past VERSION_MAX, before the column ends."""
    version = (flow.machines.aggregate(top=Max("version"))["top"] or 0) + 1
    if version > VERSION_MAX:
        raise _invalid(
            "smInfo.version",
            f"Flow {flow.code} has used every version number up to {VERSION_MAX}.",
        )
    return version


def _lock(machine: Machine) -> Machine:
    return Machine.objects.select_for_update(of=("self",)).select_related("flow").get(pk=machine.pk)


def _require(machine: Machine, allowed: set, step: str) -> None:
    if machine.status not in allowed:
        names = " or ".join(sorted(Status(s).label for s in allowed))
        raise LifecycleError(
            f"Cannot {step} machine {machine.pk}: it is {machine.get_status_display()}, "
            f"and only a {names} machine can.",
            {"status": machine.get_status_display(), "step": step},
        )


def _set_status(machine: Machine, status: int, user) -> Machine:
    machine.status = status
    machine.modifier = _username(user) or machine.modifier
    machine.save(update_fields=["status", "modifier", "updated_at"])
    return machine


def _username(user) -> str | None:
    return user.get_username() if user is not None and user.is_authenticated else None


def _invalid(path: str, message: str) -> ValidationError:
    return ValidationError(message, {"problems": [{"path": path, "message": message}]})
