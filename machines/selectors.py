from django.db.models import QuerySet

from clients.access import visible
from config.exceptions import NotFound
from machines.definition import Definition, StateDef, TransitionDef
from machines.interchange import scenario_seed, seed_from_parts
from machines.models import Flow, Machine


def flow_list(*, user=None) -> QuerySet[Flow]:
    """The flows `user` may see (clients/access.py); every flow for None."""
    return visible(Flow.objects.all(), user, flow="pk")


def flow_get(*, code: str, user=None) -> Flow:
    flow = flow_list(user=user).filter(code=code).first()
    if flow is None:
        raise NotFound(f"No flow with code {code!r}.", {"flow": code})
    return flow


def machine_list(*, flow: str | None = None, user=None) -> QuerySet[Machine]:
    """Machines of the flows `user` may see, optionally of one flow (by code or by id)."""
    machines = visible(Machine.objects.select_related("flow"), user)
    if flow:
        machines = (
            machines.filter(flow__id=flow) if flow.isdigit() else machines.filter(flow__code=flow)
        )
    return machines


def machine_get(*, sm_id, user=None) -> Machine:
    """A machine of a flow `user` may see; NotFound for any other, as for a missing one."""
    try:
        machine = machine_list(user=user).filter(pk=int(sm_id)).first()
    except (ValueError, TypeError, OverflowError):
        machine = None
    if machine is None:
        raise NotFound(f"No machine with id {sm_id}.", {"smId": sm_id})
    return machine


def machine_definition(*, machine: Machine) -> Definition:
    """The stored definition of a machine, with its state and transition ids."""
    states = tuple(
        StateDef(
            value=s.value,
            desc=s.desc,
            type=s.type,
            initial=s.initial,
            final=s.final,
            enter_action=s.enter_action,
            id=s.pk,
        )
        for s in machine.states.all()
    )
    transitions = tuple(
        TransitionDef(
            source=t.source,
            target=t.target,
            event=t.event,
            event_desc=t.event_desc,
            desc=t.desc,
            roles=t.roles,
            show_condition=t.show_condition,
            guard_condition=t.guard_condition,
            case_condition=t.case_condition,
            case_order=t.case_order,
            case_default=t.case_default,
            action=t.action,
            timer_seconds=t.timer_seconds,
            error_target=t.error_target,
            id=t.pk,
        )
        for t in machine.transitions.all()
    )
    return Definition(states=states, transitions=transitions)


def machine_info(*, machine: Machine) -> dict:
    return {
        "smId": machine.pk,
        "flowId": machine.flow_id,
        "flowCode": machine.flow.code,
        "version": str(machine.version),
        "smStatus": machine.status,
        "creator": machine.creator,
        "modifier": machine.modifier,
    }


def machine_export(*, machine: Machine) -> dict:
    """The machine in the seed interchange format, ids filled; smScenarios when it has some."""
    seed = seed_from_parts(
        info=machine_info(machine=machine), definition=machine_definition(machine=machine)
    )
    scenarios = [scenario_seed(s) for s in machine.scenarios.order_by("id")]
    if scenarios:  # absent otherwise, so a machine without scenarios exports as it came
        seed["smScenarios"] = scenarios
    return seed
