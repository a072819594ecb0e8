"""Subscribers: who hears of a flow's transitions."""

from django.conf import settings
from django.db import transaction

from clients.access import visible
from config.exceptions import NotFound, ValidationError
from machines.callback_urls import url_problem
from machines.models import Flow, State
from runtime.models import Subscription
from runtime.selectors import subscription_get


def callback_url_check(url: str, *, path: str) -> None:
    """Refuse a callback URL the platform would never call (allow-list, metadata, ...)."""
    problem = url_problem(url, settings.CALLBACK_ALLOWED_HOSTS)
    if problem:
        raise ValidationError(
            f"{path}: {problem}.", {"problems": [{"path": path, "message": problem}]}
        )


def choice_states(*, flow: Flow) -> set[str]:
    """The flow's choice states: a choice in some version of the flow and normal in none.

    A state value that is normal in one version can be rested in there, so it may be watched.
    """
    kinds: dict[str, set[int]] = {}
    for value, kind in State.objects.filter(machine__flow=flow).values_list("value", "type"):
        kinds.setdefault(value, set()).add(kind)
    return {value for value, found in kinds.items() if found == {State.Type.CHOICE}}


def states_check(*, flow: Flow, states: list[str]) -> None:
    """Refuse a filter naming choice states: no instance rests in one, so none would match."""
    choices = choice_states(flow=flow)
    message = "A choice state: no instance rests in it; name the states its branches lead to."
    problems = [
        {"path": f"states[{n}]", "message": message}
        for n, state in enumerate(states)
        if state in choices
    ]
    if problems:
        named = ", ".join(repr(state) for state in states if state in choices)
        raise ValidationError(
            f"Subscriptions hear of the states instances rest in, never of choice states: {named}.",
            {"problems": problems},
        )


@transaction.atomic
def subscription_create(
    *, flow_code: str, url: str, states: list[str] | None, user=None
) -> Subscription:
    """A subscription of `user` (its owner) to a flow it may see."""
    flows = visible(Flow.objects.select_for_update(), user, flow="pk")
    flow = flows.filter(code=flow_code).first()
    if flow is None:
        raise NotFound(f"No flow with code {flow_code!r}.", {"flow": flow_code})
    callback_url_check(url, path="url")
    states_check(flow=flow, states=states or [])
    subscription = Subscription.objects.create(
        flow=flow, url=url, states=states or None, owner=user
    )
    if not flow.has_subscribers:
        flow.has_subscribers = True
        flow.save(update_fields=["has_subscribers"])
    return subscription


@transaction.atomic
def subscription_delete(*, subscription_id: int, user=None) -> None:
    """Delete a subscription `user` may see: its own, or any of its flows for a designer."""
    subscription = subscription_get(subscription_id=subscription_id, user=user)
    flow = Flow.objects.select_for_update().get(pk=subscription.flow_id)
    subscription.delete()
    flow.has_subscribers = flow.subscriptions.exists()
    flow.save(update_fields=["has_subscribers"])
