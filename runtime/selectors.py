from django.db.models import QuerySet

from config.exceptions import NotFound
from runtime.models import EventRecord, HistoryEntry, Instance, Subscription


def instance_get(*, instance_id) -> Instance:
    instance = Instance.objects.select_related("flow", "machine").filter(pk=instance_id).first()
    if instance is None:
        raise NotFound(f"No instance with id {instance_id}.", {"instanceId": instance_id})
    return instance


def instance_list(*, flow: str | None = None, business_key: str | None = None) -> QuerySet:
    instances = Instance.objects.select_related("flow", "machine").order_by("id")
    if flow:
        instances = instances.filter(flow__code=flow)
    if business_key:
        instances = instances.filter(business_key=business_key)
    return instances


def instance_history(*, instance: Instance) -> QuerySet[HistoryEntry]:
    return instance.history.order_by("id")


def event_get(*, event_id) -> EventRecord:
    record = EventRecord.objects.filter(pk=event_id).first()
    if record is None:
        raise NotFound(f"No event with id {event_id}.", {"eventId": event_id})
    return record


def subscription_list(*, flow: str | None = None) -> QuerySet[Subscription]:
    subscriptions = Subscription.objects.select_related("flow").order_by("id")
    return subscriptions.filter(flow__code=flow) if flow else subscriptions
