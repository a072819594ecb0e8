"""Writes of the runtime: create instances, fire events, migrate (DESIGN.md sections 4-7).

An event is one transaction: lock the instance row, decide with the pure engine, call the
transition actions, then store the new state, the merged context, the history hops and the
event record. Anything failing on the way rolls the whole event back.
"""

import hashlib
import json
import logging

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.exceptions import NotFound
from machines.compiled import compiled_machine
from machines.exceptions import LifecycleError, MachineInvalid
from machines.models import Flow, Machine
from machines.services import machine_validate
from runtime import engine
from runtime.exceptions import (
    ActionFailed,
    DuplicateBusinessKey,
    IdempotencyMismatch,
    NoOnlineVersion,
    StateConflict,
)
from runtime.http import CallbackError, post_json
from runtime.models import EventRecord, HistoryEntry, Instance
from runtime.simulation import outcome, simulate

logger = logging.getLogger(__name__)


def instance_create(
    *, flow_code: str, business_key: str, context: dict | None = None, sm_id: int | None = None
) -> Instance:
    """A new instance in its machine's initial state: the online version unless `sm_id`."""
    flow = Flow.objects.filter(code=flow_code).first()
    if flow is None:
        raise NotFound(f"No flow with code {flow_code!r}.", {"flow": flow_code})
    machine = _machine_for(flow, sm_id)
    compiled = compiled_machine(machine)
    try:
        with transaction.atomic():
            instance = Instance.objects.create(
                flow=flow,
                machine=machine,
                business_key=business_key,
                state=compiled.initial,
                context=context or {},
            )
            HistoryEntry.objects.create(
                instance=instance,
                from_state=None,
                to_state=compiled.initial,
                at=instance.created_at,
            )
    except IntegrityError:
        raise DuplicateBusinessKey(
            f"Business key {business_key!r} is already used in flow {flow_code!r}.",
            {"flow": flow_code, "businessKey": business_key},
        ) from None
    return instance


def online_machine(*, flow: Flow) -> Machine:
    machine = flow.machines.filter(status=Machine.Status.ONLINE).first()
    if machine is None:
        raise NoOnlineVersion(f"Flow {flow.code!r} has no online version.", {"flow": flow.code})
    return machine


def _machine_for(flow: Flow, sm_id: int | None) -> Machine:
    if sm_id is None:
        return online_machine(flow=flow)
    machine = flow.machines.filter(pk=sm_id).first()
    if machine is None:
        raise NotFound(f"Flow {flow.code!r} has no machine {sm_id}.", {"smId": sm_id})
    if machine.status == Machine.Status.DISABLED:
        raise LifecycleError(f"Machine {sm_id} is disabled and starts no instances.")
    if machine.status == Machine.Status.TESTING:
        report = machine_validate(machine=machine)  # a draft must be valid to run
        if not report.valid:
            raise MachineInvalid(report, "The machine has errors and cannot run.")
    return machine


def fingerprint(body: dict) -> str:
    """A stable digest of an event's body, to tell a replay from a reuse of its requestId."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def instance_event_fire(
    *,
    instance_id: int,
    event: str,
    role: int | None = None,
    context: dict | None = None,
    request_id: str | None = None,
    expected_state: str | None = None,
) -> dict:
    """Apply one event synchronously and return its outcome (DESIGN.md section 5)."""
    context = context or {}
    digest = fingerprint(
        {"event": event, "role": role, "context": context, "expectedState": expected_state}
    )
    with transaction.atomic():
        instance = _lock_instance(instance_id)
        if request_id is not None:
            replay = _replayed(instance, request_id, digest)
            if replay is not None:
                return replay
        if expected_state is not None and expected_state != instance.state:
            raise StateConflict(
                f"The instance is in {instance.state!r}, not {expected_state!r}.",
                {"state": instance.state, "expectedState": expected_state},
            )
        merged = {**instance.context, **context}
        decision = engine.decide(
            compiled_machine(instance.machine),
            state=instance.state,
            event=event,
            role=role,
            context=merged,
            event_counts=instance.event_counts,
            instance=instance_names(instance),
        )
        actions = _run_actions(instance, decision, merged, request_id)
        return _store(instance, decision, actions, merged, role, context, request_id, digest)


def _lock_instance(instance_id: int) -> Instance:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Waiting longer than this for another event's lock answers 409 INSTANCE_BUSY.
            cursor.execute("SET LOCAL lock_timeout = %s", [f"{settings.EVENT_LOCK_TIMEOUT_MS}ms"])
    instance = (
        Instance.objects.select_for_update(of=("self",))
        .select_related("flow", "machine")
        .filter(pk=instance_id)
        .first()
    )
    if instance is None:
        raise NotFound(f"No instance with id {instance_id}.", {"instanceId": instance_id})
    return instance


def _replayed(instance: Instance, request_id: str, digest: str) -> dict | None:
    record = EventRecord.objects.filter(instance=instance, request_id=request_id).first()
    if record is None:
        return None
    if record.fingerprint != digest:
        raise IdempotencyMismatch(
            f"requestId {request_id!r} was used with a different body.",
            {"requestId": request_id, "eventId": record.pk},
        )
    return event_outcome(record)


def event_outcome(record: EventRecord) -> dict:
    return {"eventId": record.pk, **(record.result or {})}


def instance_names(instance: Instance) -> dict:
    return {
        "id": instance.pk,
        "businessKey": instance.business_key,
        "createdAt": instance.created_at.isoformat(),
    }


def _run_actions(instance, decision, merged: dict, request_id) -> list[dict | None]:
    """Call each hop's action in order; the first failure fails the whole event."""
    results = []
    for hop in decision.hops:
        url = hop.transition.action
        if not url:
            results.append(None)
            continue
        payload = {
            "instanceId": instance.pk,
            "businessKey": instance.business_key,
            "flow": instance.flow.code,
            "smId": instance.machine_id,
            "event": decision.event,
            "fromState": hop.from_state,
            "toState": hop.to_state,
            "transitionId": hop.transition.id,
            "context": merged,
            "requestId": request_id,
        }
        try:
            results.append(post_json(url, payload).as_dict())
        except CallbackError as exc:
            raise ActionFailed(
                f"The action of {hop.from_state} -> {hop.to_state} failed: {exc.reason}",
                {**exc.as_dict(), "transitionId": hop.transition.id},
            ) from exc
    return results


def _store(instance, decision, actions, merged, role, context, request_id, digest) -> dict:
    now = timezone.now()
    result = {"instanceId": instance.pk, **outcome(decision, actions)}
    record = EventRecord.objects.create(
        instance=instance,
        event=decision.event,
        role=role,
        context=context,
        request_id=request_id,
        fingerprint=digest,
        status=EventRecord.Status.DONE,
        result=result,
        finished_at=now,
    )
    HistoryEntry.objects.bulk_create(
        HistoryEntry(
            instance=instance,
            event_record=record,
            event=hop.event,
            from_state=hop.from_state,
            to_state=hop.to_state,
            transition_id=hop.transition.id,
            request_id=request_id,
            at=now,
        )
        for hop in decision.hops
    )
    instance.state = decision.to_state
    instance.context = merged
    instance.event_counts = {
        **instance.event_counts,
        decision.event: instance.event_counts.get(decision.event, 0) + 1,
    }
    instance.revision += 1
    instance.save(update_fields=["state", "context", "event_counts", "revision", "updated_at"])
    return event_outcome(record)


def stateless_decide(*, machine: Machine, state: str, event: str, role, context) -> engine.Decision:
    """The stateless fire: the caller keeps the state; nothing is stored, no action is called."""
    compiled = compiled_machine(machine)
    if state not in compiled.states:
        raise StateConflict(f"The machine has no state {state!r}.", {"state": state})
    return engine.decide(compiled, state=state, event=event, role=role, context=context)


@transaction.atomic
def instance_migrate(*, instance_id: int, sm_id: int) -> Instance:
    """Move an instance to another version of its flow that has its current state.

    The state, context, event counts and history stay as they are.
    """
    instance = _lock_instance(instance_id)
    machine = _machine_for(instance.flow, sm_id)
    if instance.state not in compiled_machine(machine).states:
        raise StateConflict(
            f"Version {machine.version} has no state {instance.state!r}.",
            {"state": instance.state, "smId": sm_id},
        )
    instance.machine = machine
    instance.save(update_fields=["machine", "updated_at"])
    return instance


# Problems a draft can be simulated with; any other error makes the machine unrunnable.
SIMULATION_TOLERATES = {
    "CASE_DEFAULT_MISSING",
    "CASE_DEFAULT_MULTIPLE",
    "CASE_DEFAULT_CONDITION",
    "CASE_ORDER_DUPLICATE",
    "CASE_ORDER_MISSING",
    "CASE_CONDITION_MISSING",
    "CHOICE_CYCLE",
    "STATE_UNREACHABLE",
    "ACTION_URL_INVALID",
    "ACTION_HOST_NOT_ALLOWED",
    "TIMER_INVALID",
}


def machine_simulate(*, machine: Machine, state: str | None, steps: list[dict]) -> dict:
    """Simulate steps on any version, a draft with routing mistakes included; stores nothing."""
    if machine.status == Machine.Status.TESTING:
        report = machine_validate(machine=machine)
        if any(p.code not in SIMULATION_TOLERATES for p in report.errors):
            raise MachineInvalid(report, "The machine cannot be simulated until these are fixed.")
    return simulate(compiled_machine(machine), state=state, steps=steps)
