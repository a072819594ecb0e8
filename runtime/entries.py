"""Enter actions: a state's `enterAction` URL, told each time an instance comes to rest there.

An instance comes to rest in a state through an applied event (sync or async, a
self-transition included, the error target of an async event whose action failed for good)
or through its creation (the initial state). The hops through choice states do not count:
only the normal state the event leaves the instance in. Migrating an instance to another
version moves it nowhere and tells nobody.

The call is a row of the outbox (runtime/outbox.py), written in the event's transaction and
sent after it commits, signed, retried and ordered like a subscriber notification; its
failure never undoes the state change. All of one instance's entry calls share one stream,
so they go out in the order the instance entered its states.
"""


def enter_stream(instance_id: int) -> str:
    """The outbox stream of an instance's entry calls: one per instance, whatever the state."""
    return f"a:i{instance_id}"


def enter_payload(*, instance, state: str, record=None, decision=None, error=None, now) -> dict:
    """What an enterAction receives; `record` and `decision` are None on the instance's
    creation, `error` is set when an errorTarget took the instance into `state`."""
    path = None
    if decision is not None:
        path = [
            {
                "fromState": hop.from_state,
                "toState": hop.to_state,
                "transitionId": hop.transition.id,
                "event": hop.event,
            }
            for hop in decision.hops
        ]
    return {
        "type": "enter",
        "instanceId": instance.pk,
        "businessKey": instance.business_key,
        "flow": instance.flow.code,
        "smId": instance.machine_id,
        "state": state,
        "eventId": record.pk if record is not None else None,
        "event": record.event if record is not None else None,
        "requestId": record.request_id if record is not None else None,
        "fromState": decision.from_state if decision is not None else None,
        "path": path,
        "error": error,
        "context": instance.context,
        "at": now.isoformat(),
    }
