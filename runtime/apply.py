"""Applying one event to a locked instance: the step shared by sync and async events.

Decide with the pure engine, call each hop's action in order, then store the event record,
one history row per hop, the instance's new state, merged context and counts, its timers and
the outbox rows, all in the caller's transaction. Anything raising rolls all of it back.
An async event whose action failed on its last try, on a transition with an errorTarget, is
stored instead as one hop to that state carrying the error (`error_target_apply`).
"""

import hashlib
import logging

from django.utils import timezone

from machines.compiled import compiled_machine
from runtime import engine, outbox, timers
from runtime.exceptions import ActionFailed, StateConflict
from runtime.http import CallbackError, post_json
from runtime.models import EventRecord, HistoryEntry, Instance
from runtime.simulation import error_body, outcome

logger = logging.getLogger(__name__)


def decide_and_act(instance: Instance, record: EventRecord, now) -> tuple:
    """Everything before the writes: expectations, the engine, the actions; the record done.

    Returns (compiled machine, decision, merged context); shared by the ORM path below and
    the PostgreSQL fast path (runtime/fastpath.py), which differ only in how they write.
    """
    compiled, decision, merged = decide(instance, record)
    actions = run_actions(instance, decision, merged, record)
    record_done(record, instance, decision, actions, now)
    return compiled, decision, merged


def decide(instance: Instance, record: EventRecord) -> tuple:
    """The expectations and the engine, no action called: (compiled, decision, merged context)."""
    check_expectations(instance, record)
    compiled = compiled_machine(instance.machine)
    merged = {**instance.context, **record.context}
    decision = engine.decide(
        compiled,
        state=instance.state,
        event=record.event,
        role=record.role,
        context=merged,
        event_counts=instance.event_counts,
        instance=instance_names(instance),
    )
    return compiled, decision, merged


def has_actions(decision) -> bool:
    """Whether a hop of the path calls an action (an HTTP call no rollback can undo)."""
    return any(hop.transition.action for hop in decision.hops)


def writes_more(instance, compiled, decision) -> bool:
    """Whether applying the decision writes more than the instance, its event record and
    history: outbox rows (the flow's subscribers, the entered state's enterAction) or timers
    (a state left or entered that has timed transitions). The compare-and-set paths (sync in
    runtime/cas.py, async in runtime/batches.py) write those in a transaction of their own."""
    entered = compiled.states[decision.to_state]
    if instance.flow.has_subscribers or entered.enter_action:
        return True
    states = (compiled.states[decision.from_state], entered)
    return any(t.timer_seconds for state in states for t in state.events)


def record_done(record, instance, decision, actions: list, now) -> None:
    record.status = EventRecord.Status.DONE
    record.result = {"instanceId": instance.pk, **outcome(decision, actions)}
    record.error = None
    record.finished_at = now


def apply_event(instance: Instance, record: EventRecord) -> dict:
    """Apply `record` (unsaved for a sync event, stored for an async one); its outcome."""
    now = timezone.now()
    compiled, decision, merged = decide_and_act(instance, record, now)
    return store(instance, record, compiled, decision, merged, now)


def error_target(instance, failure: ActionFailed) -> str | None:
    """The normal state the failed hop's transition sends an instance to, if it names one."""
    target = failure.hop.transition.error_target if failure.hop is not None else None
    if target is None:
        return None
    state = compiled_machine(instance.machine).states.get(target)
    if state is None or state.is_choice:  # the validator refuses these; never rest in one
        logger.warning("errorTarget %r of transition %s is no normal state", target,
                       failure.hop.transition.id)  # fmt: skip
        return None
    return target


def error_target_apply(
    instance: Instance, record: EventRecord, failure: ActionFailed, target: str
) -> dict:
    """Apply an async event whose action failed for good as one hop to `target`, its
    transition's errorTarget (`error_target`).

    The hop names the transition whose action failed and carries the error, as does the
    record's result; from there it is an applied event like any other (context merged,
    counted, subscribers and enterAction told, timers re-armed, callbackUrl told).
    """
    now = timezone.now()
    compiled = compiled_machine(instance.machine)
    hop = engine.Hop(failure.hop.transition, instance.state, target, record.event)
    decision = engine.Decision(record.event, instance.state, target, (hop,))
    error = error_body(failure)
    record_done(record, instance, decision, [None], now)
    record.result["error"] = error
    merged = {**instance.context, **record.context}
    return store(instance, record, compiled, decision, merged, now, error=error)


def store(instance, record, compiled, decision, merged: dict, now, error=None) -> dict:
    """The writes of a decided event: record, history hops, instance, timers, outbox."""
    record.save()
    HistoryEntry.objects.bulk_create(
        HistoryEntry(
            instance=instance,
            event_record=record,
            event=hop.event,
            from_state=hop.from_state,
            to_state=hop.to_state,
            transition_id=hop.transition.id,
            request_id=record.request_id,
            at=now,
            error=error,
        )
        for hop in decision.hops
    )
    instance.state = decision.to_state
    instance.context = merged
    instance.event_counts = {
        **instance.event_counts,
        record.event: instance.event_counts.get(record.event, 0) + 1,
    }
    instance.revision += 1
    instance.save(update_fields=["state", "context", "event_counts", "revision", "updated_at"])
    timers.timers_rearm(instance=instance, compiled=compiled, decision=decision, now=now)
    outbox.transition_notify(instance=instance, record=record, decision=decision,
                             compiled=compiled, now=now, error=error)  # fmt: skip
    return event_outcome(record)


def check_expectations(instance: Instance, record: EventRecord) -> None:
    """Refuse an event whose expectedState (or timer entry) no longer holds."""
    if record.expected_state is not None and record.expected_state != instance.state:
        raise StateConflict(
            f"The instance is in {instance.state!r}, not {record.expected_state!r}.",
            {"state": instance.state, "expectedState": record.expected_state},
        )
    if record.entry_revision is not None and record.entry_revision != instance.revision:
        raise StateConflict(  # a timer whose instance left the state it was armed in
            f"The instance left {record.expected_state!r} before the timer fired.",
            {"state": instance.state, "expectedState": record.expected_state},
        )


def run_actions(instance, decision, merged: dict, record) -> list[dict | None]:
    """Call each hop's action in order; the first failure fails the whole event."""
    request_id, results = record.request_id, []
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
            message_id = action_message_id(instance.pk, record, hop.transition.id)
            results.append(post_json(url, payload, message_id=message_id).as_dict())
        except CallbackError as exc:
            failed = ActionFailed(
                f"The action of {hop.from_state} -> {hop.to_state} failed: {exc.reason}",
                {**exc.as_dict(), "transitionId": hop.transition.id},
            )
            failed.hop = hop  # an async event's last try may go to its errorTarget
            raise failed from exc
    return results


def action_message_id(instance_id: int, record, transition_id: int) -> str | None:
    """The webhook-id of an action call: the same on every try of one event's action.

    An async event has its record before its actions run: every retry of it calls with the
    same id. A sync event has none yet; with a requestId, a send again of the same event
    (after a failure, which kept nothing) calls with the same id. Otherwise a fresh one.
    """
    if record.pk is not None:
        return f"msg_e{record.pk}_t{transition_id}"
    if record.request_id is not None:
        key = f"{instance_id}:{record.request_id}:{transition_id}".encode()
        return f"msg_{hashlib.sha256(key).hexdigest()[:32]}"
    return None


def event_outcome(record: EventRecord) -> dict:
    return {"eventId": record.pk, **(record.result or {})}


def instance_names(instance: Instance) -> dict:
    return {
        "id": instance.pk,
        "businessKey": instance.business_key,
        "createdAt": instance.created_at.isoformat(),
    }
