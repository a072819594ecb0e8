"""Helpers for runtime tests: put machines online and read an instance's whole footprint."""

from machines import services
from runtime.models import EventRecord, Instance


def online(doc: dict):
    """Store a seed document, publish it and put it online; return the machine."""
    machine = services.machine_create(data=doc, create_flow=True)
    machine = services.machine_publish(machine=machine)
    return services.machine_online(machine=machine)


def footprint(instance_id: int) -> tuple:
    """Everything an event may change: state, context, counts, history and event records."""
    instance = Instance.objects.get(pk=instance_id)
    history = list(instance.history.values_list("event", "from_state", "to_state"))
    events = EventRecord.objects.filter(instance=instance).count()
    return instance.state, instance.context, instance.event_counts, history, events
