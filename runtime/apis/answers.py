"""The shapes of the business API's answers that several views share, for the OpenAPI schema.

The hot paths answer with plain dicts (building them through serializers would cost every
event a pass over its fields); these serializers describe those dicts, and the API tests check
every answer against the schema they make (tests/schema_check.py).
"""

from rest_framework import serializers

from config.schema import ErrorSerializer
from runtime.models import EventRecord

VERDICTS = [
    ("available", "available"),
    ("blocked", "blocked"),
    ("hidden", "hidden"),
    ("forbidden", "forbidden"),
]


class ActionCallSerializer(serializers.Serializer):
    """A transition action that answered 2xx."""

    url = serializers.CharField()
    status = serializers.IntegerField()


class HopSerializer(serializers.Serializer):
    """One transition taken: an event's first hop, or a choice state's branch after it."""

    fromState = serializers.CharField()
    toState = serializers.CharField()
    transitionId = serializers.IntegerField()
    event = serializers.CharField(allow_null=True, help_text="null on a choice state's branch")
    action = ActionCallSerializer(allow_null=True, help_text="null: no transitionAction")


class OutcomeSerializer(serializers.Serializer):
    """What an event does: from one normal state, through any choice states, to another."""

    event = serializers.CharField()
    fromState = serializers.CharField()
    toState = serializers.CharField(help_text="the normal state the instance rests in")
    state = serializers.CharField(help_text="the same as toState")
    path = HopSerializer(many=True)


class EventOutcomeSerializer(OutcomeSerializer):
    """The outcome of an event applied to an instance, and its event record's id."""

    eventId = serializers.IntegerField()
    instanceId = serializers.IntegerField()
    error = ErrorSerializer(
        required=False,
        help_text="only when an async event's action failed on its last try and the "
        "transition's errorTarget took the instance to toState (one hop, the failed action's "
        "transition)",
    )


class EventAcceptedSerializer(serializers.Serializer):
    eventId = serializers.IntegerField()
    status = serializers.ChoiceField(EventRecord.Status.choices)


class EventRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    instanceId = serializers.IntegerField()
    event = serializers.CharField()
    requestId = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(EventRecord.Status.choices)
    attempts = serializers.IntegerField(required=False, help_text="async events only")
    result = EventOutcomeSerializer(required=False, help_text="once applied")
    error = ErrorSerializer(required=False, help_text="once failed, or while being retried")


class ConditionCheckSerializer(serializers.Serializer):
    """How a show or guard condition evaluated, for `?explain=true`."""

    expression = serializers.CharField()
    value = serializers.JSONField(required=False, help_text="what it evaluated to")
    names = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="the values it read"
    )
    error = serializers.CharField(required=False, help_text="why it could not be evaluated")


class EventVerdictSerializer(serializers.Serializer):
    """An event of the instance's state; the fields after targetState come with explain=true."""

    event = serializers.CharField()
    eventDesc = serializers.CharField(allow_null=True)
    targetState = serializers.CharField()
    transitionId = serializers.IntegerField(required=False)
    verdict = serializers.ChoiceField(VERDICTS, required=False)
    role = serializers.IntegerField(required=False, allow_null=True, help_text="if forbidden")
    allowed = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="the roles that may"
    )
    showCondition = ConditionCheckSerializer(required=False)
    guardCondition = ConditionCheckSerializer(required=False)


class SimulationStepSerializer(serializers.Serializer):
    event = serializers.CharField()
    ok = serializers.BooleanField()
    outcome = OutcomeSerializer(required=False, help_text="when ok")
    error = ErrorSerializer(required=False, help_text="when not ok")
    enterAction = serializers.CharField(
        required=False, help_text="the entry action the state reached would call, when it has one"
    )
    errorTarget = serializers.CharField(
        required=False,
        help_text="where an async event would go if the path's first action kept failing, "
        "when its transition has an errorTarget",
    )


class SimulationSerializer(serializers.Serializer):
    steps = SimulationStepSerializer(many=True)
    state = serializers.CharField(help_text="the state after the last step that succeeded")
    context = serializers.DictField(help_text="the context after it")


class AsyncResultSerializer(serializers.Serializer):
    """What an async event's callbackUrl receives once the event is done or has failed."""

    type = serializers.ChoiceField(["event"])
    eventId = serializers.IntegerField()
    status = serializers.ChoiceField(EventRecord.Status.choices)
    result = EventOutcomeSerializer(required=False, help_text="when done")
    error = ErrorSerializer(required=False, help_text="when failed")
