"""Design API: replay another version's recorded history through a machine; nothing stored."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.access import require_designer
from config.schema import ErrorSerializer
from machines.selectors import machine_get
from runtime import replay
from runtime.apis.common import IdField, valid

STOPPED_BY = [
    ("limit", "limit"),
    ("events", "events"),
    ("budget", "budget"),
    ("time", "time"),
]


class ReplayOutcomeSerializer(serializers.Serializer):
    """What one event did (recorded) or would do (replayed)."""

    applied = serializers.BooleanField()
    toState = serializers.CharField(required=False, help_text="when applied")
    error = ErrorSerializer(required=False, help_text="when not applied")


class ReplayDifferenceSerializer(serializers.Serializer):
    """An instance whose replay differs: its first event with another outcome."""

    instanceId = serializers.IntegerField()
    businessKey = serializers.CharField()
    eventId = serializers.IntegerField()
    event = serializers.CharField()
    role = serializers.IntegerField(allow_null=True)
    at = serializers.DateTimeField(help_text="when it was applied: what now() returns")
    fromState = serializers.CharField(help_text="the same in both: every event before agreed")
    recorded = ReplayOutcomeSerializer()
    replayed = ReplayOutcomeSerializer()


class TransitionCountSerializer(serializers.Serializer):
    transitionId = serializers.IntegerField()
    fromState = serializers.CharField()
    toState = serializers.CharField()
    event = serializers.CharField(allow_null=True, help_text="null on a choice state's branch")
    count = serializers.IntegerField(help_text="times taken")


class ReplayInstancesSerializer(serializers.Serializer):
    replayed = serializers.IntegerField()
    same = serializers.IntegerField()
    differing = serializers.IntegerField()


class ReplayEventsSerializer(serializers.Serializer):
    replayed = serializers.IntegerField()
    skipped = serializers.IntegerField(
        help_text="failed outside the machine (an action, the workers): not replayed"
    )


class MachineReplayHistoryApi(APIView):
    """Replay the recorded events of another version's instances through this version.

    Designers of the flow. Any version may replay, a testing draft included; no action is
    called and nothing is stored.
    """

    class InputSerializer(serializers.Serializer):
        fromSmId = IdField(
            required=False,
            help_text="the version whose instances' history is replayed; default: online",
        )
        since = serializers.DateTimeField(
            required=False, help_text="only instances created at or after this moment"
        )
        limit = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=replay.MAX_INSTANCES,
            help_text=f"the last instances created; default {replay.DEFAULT_INSTANCES:,}, "
            f"with since {replay.MAX_INSTANCES:,}",
        )

    class OutputSerializer(serializers.Serializer):
        smId = serializers.IntegerField()
        fromSmId = serializers.IntegerField()
        limit = serializers.IntegerField(help_text="the most instances replayed")
        instances = ReplayInstancesSerializer()
        events = ReplayEventsSerializer()
        truncated = serializers.BooleanField(help_text="stopped before every instance asked")
        stoppedBy = serializers.ChoiceField(
            STOPPED_BY,
            required=False,
            help_text="when truncated: more instances than the limit, the event bound, the "
            "expression budget or the time bound",
        )
        differences = ReplayDifferenceSerializer(many=True)
        transitions = TransitionCountSerializer(many=True, help_text="this version's")
        recordedTransitions = TransitionCountSerializer(
            many=True, help_text="the recorded version's, as its events took them"
        )

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request, sm_id):
        data = valid(self.InputSerializer, request.data)
        machine = machine_get(sm_id=sm_id, user=request.user)
        require_designer(request.user)
        answer = replay.machine_replay_history(
            machine=machine,
            from_sm_id=data.get("fromSmId"),
            since=data.get("since"),
            limit=data.get("limit"),
        )
        return Response(answer)  # a plain dict, as OutputSerializer describes it
