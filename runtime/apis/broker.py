"""The broker's way in: the `statecenter.submit_event` task's payload, checked like REST.

Payload: `{token, flow, businessKey, event, context?, role?, requestId?}`. The fields are the
async REST event's, with the same bounds; `token` is the client's API token, and the client's
flows and roles decide exactly as they do on REST.
"""

import json

from rest_framework import serializers

from clients.exceptions import NotAuthenticated
from clients.selectors import TOKEN_LENGTH, token_user
from config.exceptions import ValidationError, flatten_errors
from machines.interchange import storable_text
from machines.models import Flow
from runtime import async_events
from runtime.apis.common import MAX_KEY, ContextField, RoleField
from runtime.models import EventRecord, RefusedSubmission


class SubmittedEvent(serializers.Serializer):
    # Missing or blank is NOT_AUTHENTICATED, as a REST call without a token is.
    token = serializers.CharField(
        max_length=TOKEN_LENGTH, required=False, allow_blank=True, allow_null=True, default=None
    )
    flow = serializers.SlugField(max_length=100)
    businessKey = serializers.CharField(max_length=MAX_KEY)
    event = serializers.CharField(max_length=100)
    role = RoleField()
    context = ContextField()
    requestId = serializers.CharField(max_length=MAX_KEY, required=False, default=None)


def event_submitted(payload) -> EventRecord:
    """Check a submitted payload and its client, then accept it as an async event."""
    serializer = SubmittedEvent(data=payload)
    if not serializer.is_valid():
        problems = flatten_errors(serializer.errors)
        raise ValidationError("The submitted event is not valid.", {"problems": problems})
    data = serializer.validated_data
    user = token_user(data["token"])
    if user is None:
        raise NotAuthenticated("The submitted event carries no valid client token.")
    return async_events.event_submit(
        user=user,
        flow_code=data["flow"],
        business_key=data["businessKey"],
        event=data["event"],
        role=data["role"],
        context=data["context"],
        request_id=data["requestId"],
    )


def submission_refused(payload, error) -> RefusedSubmission:
    """Keep a refused payload for operators: the error, the flow it named, what was sent."""
    shown = dict(payload) if isinstance(payload, dict) else {"payload": payload}
    shown.pop("token", None)  # a secret, and not the operators' business
    try:
        text = json.dumps(shown, default=repr)[: RefusedSubmission.PAYLOAD_CHARS]
    except (RecursionError, ValueError):
        text = '"(a payload JSON cannot write back)"'
    named, flow = shown.get("flow"), None
    if isinstance(named, str) and len(named) <= 100 and storable_text(named):
        flow = Flow.objects.filter(code=named).first()
    return RefusedSubmission.objects.create(
        code=error.code, message=error.message[:500], flow=flow, payload=text
    )
