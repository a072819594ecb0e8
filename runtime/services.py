"""Writes of the runtime: create instances, fire events, migrate.

An event is applied whole or not at all. On PostgreSQL, one whose path calls no action takes
a compare-and-set (runtime/cas.py): read without a lock, decide, one statement that writes
the new state, merged context, history hops and event record only where the instance is still
as read. Every other event is one transaction: lock the instance row, decide with the pure
engine, call the transition actions, then store the same; anything failing rolls it back.
"""

import hashlib
import json
import logging
import time

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from clients.access import require_operator, visible
from config import metrics
from config.exceptions import InstanceBusy, NotFound, PlatformError
from config.logs import log_context
from machines.compiled import compiled_machine
from machines.exceptions import LifecycleError, MachineInvalid
from machines.models import Flow, Machine
from machines.services import machine_validate
from rules import RuleError
from runtime import cas, engine, fastpath
from runtime.apply import apply_event, event_outcome
from runtime.exceptions import (
    DuplicateBusinessKey,
    IdempotencyMismatch,
    NoOnlineVersion,
    StateConflict,
)
from runtime.models import EventRecord, HistoryEntry, Instance
from runtime.outbox import instance_enter_notify
from runtime.simulation import require_state, simulate
from runtime.timers import timers_arm_initial

logger = logging.getLogger(__name__)
PENDING = (EventRecord.Status.ACCEPTED, EventRecord.Status.PROCESSING)


def instance_create(
    *,
    flow_code: str,
    business_key: str,
    context: dict | None = None,
    sm_id: int | None = None,
    user=None,
) -> Instance:
    """A new instance in its machine's initial state: the online version unless `sm_id`.

    The flow must be one `user` may see (None: any).
    """
    flow = visible(Flow.objects.all(), user, flow="pk").filter(code=flow_code).first()
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
            timers_arm_initial(instance=instance, compiled=compiled)
            instance_enter_notify(instance=instance, compiled=compiled)  # if it has one
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
    user=None,
) -> dict:
    """Apply one event synchronously and return its outcome.

    Events on one instance are serialised: two concurrent events never both apply from the
    same state. On PostgreSQL an event whose path calls no action (and writes no timers or
    outbox rows) takes a compare-and-set (runtime/cas.py): read without a lock, decide, one
    statement that writes only where the instance's revision is still the one read; a lost
    race reads and decides again. Every other event, and one that lost the race cas.TRIES
    times, takes the row lock (runtime/fastpath.py; the ORM on SQLite) and decides under it.

    The instance must be of a flow `user` may see; that is checked by the statement that
    reads it, so access costs no query of its own.
    """
    postgres = connection.vendor == "postgresql"
    # PostgreSQL: two prepared statements instead of the ORM's five (runtime/fastpath.py).
    if postgres:
        event_class, lock, apply = fastpath.SyncEvent, fastpath.lock_instance, fastpath.apply_event
    else:
        event_class, lock, apply = EventRecord, _lock_for_event, apply_event
    record = event_class(
        event=event,
        role=role,
        context=context or {},
        request_id=request_id,
        expected_state=expected_state,
    )
    # Only a requestId is ever compared with a later body: no digest to make without one.
    record.fingerprint = fingerprint(event_body(record)) if request_id is not None else ""
    started, flow = time.perf_counter(), None
    try:
        with log_context(instance_id=instance_id):
            outcome = cas.LOCKED
            for _ in range(cas.TRIES if postgres else 0):  # in autocommit outside a transaction
                instance, replay, pending = cas.read_instance(instance_id, request_id, user)
                flow = instance.flow.code
                if replay is not None:
                    return event_outcome(_same_body(replay, record.fingerprint))
                _refuse_if_pending(pending)
                record.instance = instance
                outcome = cas.apply_event(instance, record)
                if outcome is not cas.LOST:
                    break
            if outcome is cas.LOCKED or outcome is cas.LOST:
                with transaction.atomic():
                    instance, replay, pending = lock(instance_id, request_id, user)
                    flow = instance.flow.code
                    if replay is not None:
                        return event_outcome(_same_body(replay, record.fingerprint))
                    _refuse_if_pending(pending)
                    record.instance = instance
                    outcome = apply(instance, record)
        metrics.EVENTS_APPLIED.labels(flow, metrics.SYNC).inc()  # committed
        return outcome
    except (PlatformError, RuleError) as exc:
        if flow is not None:  # an instance the caller may see: its flow is no secret
            metrics.EVENTS_REFUSED.labels(flow, exc.code).inc()
        raise
    finally:
        metrics.SYNC_EVENT_SECONDS.observe(time.perf_counter() - started)


def _refuse_if_pending(pending: int) -> None:
    if pending:  # async events go first: they were accepted before this one
        raise InstanceBusy(
            f"The instance has {pending} async event(s) still to apply; retry shortly.",
            {"pendingEvents": pending},
        )


def _lock_for_event(instance_id: int, request_id: str | None, user) -> tuple:
    """The ORM's fastpath.lock_instance: (instance, replay record or None, pending events)."""
    instance = lock_instance(instance_id, user=user)
    # One query answers both: was this requestId seen, and are async events waiting?
    earlier = EventRecord.objects.filter(instance=instance).filter(
        Q(status__in=PENDING) | Q(request_id=request_id)
        if request_id is not None
        else Q(status__in=PENDING)
    )
    earlier = list(earlier.only("id", "request_id", "fingerprint", "status", "result"))
    replay = next(
        (e for e in earlier if request_id is not None and e.request_id == request_id), None
    )
    return instance, replay, len(earlier)


def event_body(record: EventRecord) -> dict:
    """What a requestId stands for: the event's whole request, sync or async."""
    body = {
        "event": record.event,
        "role": record.role,
        "context": record.context,
        "expectedState": record.expected_state,
    }
    if record.is_async:
        body.update({"async": True, "callbackUrl": record.callback_url})
    return body


def lock_instance(instance_id: int, *, user=None) -> Instance:
    """The instance, its row locked for the rest of the transaction.

    Only an instance of a flow `user` may see, checked in the same statement.
    """
    # PostgreSQL connections carry lock_timeout (EVENT_LOCK_TIMEOUT_MS, config/settings.py):
    # an event waiting longer for this lock fails with 409 INSTANCE_BUSY.
    instances = Instance.objects.select_for_update(of=("self",)).select_related("flow", "machine")
    instance = visible(instances, user).filter(pk=instance_id).first()
    if instance is None:
        raise NotFound(f"No instance with id {instance_id}.", {"instanceId": instance_id})
    return instance


def event_by_request_id(instance: Instance, request_id: str, digest: str) -> EventRecord | None:
    """The event already stored under this requestId, if its body matches; else None."""
    record = EventRecord.objects.filter(instance=instance, request_id=request_id).first()
    return _same_body(record, digest) if record is not None else None


def _same_body(record: EventRecord, digest: str) -> EventRecord:
    if record.fingerprint != digest:
        raise IdempotencyMismatch(
            f"requestId {record.request_id!r} was used with a different body.",
            {"requestId": record.request_id, "eventId": record.pk},
        )
    return record


def stateless_decide(*, machine: Machine, state: str, event: str, role, context) -> engine.Decision:
    """The stateless fire: the caller keeps the state; nothing is stored, no action is called."""
    compiled = compiled_machine(machine)
    require_state(compiled, state)  # a mistake in the request, as in simulate: 400, not 409
    return engine.decide(compiled, state=state, event=event, role=role, context=context)


@transaction.atomic
def instance_migrate(*, instance_id: int, sm_id: int, user=None) -> Instance:
    """Move an instance to another version of its flow that has its current state.

    The state, context, event counts and history stay as they are.
    """
    instance = lock_instance(instance_id, user=user)
    require_operator(user)  # after the lookup: another flow's instance stays NOT_FOUND
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
