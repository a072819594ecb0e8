"""Reads of the runtime, limited to the flows the caller may see (clients/access.py).

`user=None` is the platform's own work and sees every flow. An object of a flow the caller
may not see answers NOT_FOUND, exactly like one that does not exist.
"""

from django.db.models import QuerySet

from clients.access import is_designer, visible
from config.exceptions import NotFound
from runtime.models import EventRecord, HistoryEntry, Instance, Subscription


def instance_get(*, instance_id, user=None) -> Instance:
    instances = visible(Instance.objects.select_related("flow", "machine"), user)
    instance = instances.filter(pk=instance_id).first()
    if instance is None:
        raise NotFound(f"No instance with id {instance_id}.", {"instanceId": instance_id})
    return instance


def instance_list(
    *, flow: str | None = None, business_key: str | None = None, user=None
) -> QuerySet:
    instances = visible(Instance.objects.select_related("flow", "machine").order_by("id"), user)
    if flow:
        instances = instances.filter(flow__code=flow)
    if business_key:
        instances = instances.filter(business_key=business_key)
    return instances


def instance_history(*, instance: Instance) -> QuerySet[HistoryEntry]:
    return instance.history.order_by("id")


def event_get(*, event_id, user=None) -> EventRecord:
    record = visible(EventRecord.objects.all(), user, flow="instance__flow")
    record = record.filter(pk=event_id).first()
    if record is None:
        raise NotFound(f"No event with id {event_id}.", {"eventId": event_id})
    return record


def event_list(
    *, flow: str, business_key: str, request_id: str | None = None, user=None
) -> QuerySet[EventRecord]:
    """The event records of one instance (flow and business key), newest first."""
    records = visible(EventRecord.objects.all(), user, flow="instance__flow")
    records = records.filter(instance__flow__code=flow, instance__business_key=business_key)
    if request_id is not None:
        records = records.filter(request_id=request_id)
    return records.order_by("-id")


def subscription_list(*, flow: str | None = None, user=None) -> QuerySet[Subscription]:
    """A client's own subscriptions; a designer sees every subscription of its flows."""
    subscriptions = visible(Subscription.objects.select_related("flow").order_by("id"), user)
    if not is_designer(user):
        subscriptions = subscriptions.filter(owner=user)
    return subscriptions.filter(flow__code=flow) if flow else subscriptions


def subscription_get(*, subscription_id, user=None) -> Subscription:
    subscription = subscription_list(user=user).filter(pk=subscription_id).first()
    if subscription is None:
        raise NotFound(f"No subscription with id {subscription_id}.", {"id": subscription_id})
    return subscription
