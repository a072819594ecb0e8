"""Instances: create, list, read, fire events, available events, history, migrate."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exceptions import ValidationError
from config.schema import ErrorSerializer
from machines.compiled import compiled_machine
from machines.interchange import VersionField
from runtime import async_events, engine, selectors, services
from runtime.apis.answers import (
    AsyncResultSerializer,
    EventAcceptedSerializer,
    EventOutcomeSerializer,
    EventVerdictSerializer,
)
from runtime.apis.common import (
    MAX_KEY,
    ContextField,
    FlatInputSerializer,
    IdField,
    RoleField,
    acting_role,
    query_int,
    valid,
    webhook,
)
from runtime.apply import instance_names


class InstanceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    flow = serializers.CharField(source="flow.code")
    smId = serializers.IntegerField(source="machine_id")
    version = VersionField(source="machine.version")
    businessKey = serializers.CharField(source="business_key")
    state = serializers.CharField()
    context = serializers.DictField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


RESULT_SENT = webhook(
    "asyncResult",
    "{$request.body#/callbackUrl}",
    AsyncResultSerializer,
    summary="An async event's result, sent to its callbackUrl (signed like every webhook)",
    description="Sent once the event is done or has failed for good. Answer 2xx to "
    "acknowledge; anything else is retried with backoff. See docs/webhooks.md.",
)


class InstanceListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        flow = serializers.SlugField(max_length=100)
        businessKey = serializers.CharField(max_length=MAX_KEY)
        context = ContextField()
        smId = IdField(required=False, allow_null=True, default=None)

    class FilterSerializer(serializers.Serializer):
        flow = serializers.CharField(required=False, allow_blank=True, max_length=100)
        businessKey = serializers.CharField(required=False, allow_blank=True, max_length=MAX_KEY)

    @extend_schema(parameters=[FilterSerializer], responses=InstanceOutputSerializer(many=True))
    def get(self, request):
        filters = valid(self.FilterSerializer, request.query_params)
        instances = selectors.instance_list(
            flow=filters.get("flow"), business_key=filters.get("businessKey"), user=request.user
        )
        return Response(InstanceOutputSerializer(instances[:500], many=True).data)

    @extend_schema(request=InputSerializer, responses={201: InstanceOutputSerializer})
    def post(self, request):
        data = valid(self.InputSerializer, request.data)
        instance = services.instance_create(
            flow_code=data["flow"],
            business_key=data["businessKey"],
            context=data["context"],
            sm_id=data["smId"],
            user=request.user,
        )
        return Response(InstanceOutputSerializer(instance).data, status=status.HTTP_201_CREATED)


class InstanceDetailApi(APIView):
    @extend_schema(responses=InstanceOutputSerializer)
    def get(self, request, instance_id):
        instance = selectors.instance_get(instance_id=instance_id, user=request.user)
        return Response(InstanceOutputSerializer(instance).data)


class InstanceEventFireApi(APIView):
    class InputSerializer(FlatInputSerializer):  # validated on every event: kept lean
        event = serializers.CharField(max_length=100)
        role = RoleField()
        context = ContextField()
        requestId = serializers.CharField(max_length=MAX_KEY, required=False, default=None)
        expectedState = serializers.CharField(max_length=100, required=False, default=None)
        callbackUrl = serializers.URLField(required=False, max_length=2000)

    @extend_schema(
        request=InputSerializer,
        responses={200: EventOutcomeSerializer, 202: EventAcceptedSerializer},
        callbacks=[RESULT_SENT],
    )
    def post(self, request, instance_id):
        data = valid(self.InputSerializer, request.data)
        role = acting_role(request, data["role"])
        callback_url = data.get("callbackUrl")
        if callback_url and not data["async"]:
            raise ValidationError(
                "callbackUrl needs async: true; a sync event answers in the response.",
                {"problems": [{"path": "callbackUrl", "message": "Only for async events."}]},
            )
        event = {
            "instance_id": instance_id,
            "event": data["event"],
            "role": role,
            "context": data["context"],
            "request_id": data["requestId"],
            "expected_state": data["expectedState"],
            "user": request.user,
        }
        if data["async"]:
            record = async_events.event_accept(**event, callback_url=callback_url)
            body = {"eventId": record.pk, "status": record.status}
            return Response(body, status=status.HTTP_202_ACCEPTED)
        return Response(services.instance_event_fire(**event))


# "async" is a Python keyword, so it cannot be a class attribute; it is a real field all the same:
# declared once here, validated like the others and listed in the OpenAPI schema.
InstanceEventFireApi.InputSerializer._declared_fields["async"] = serializers.BooleanField(
    required=False, default=False
)


class InstanceEventsAvailableApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("role", int), OpenApiParameter("explain", bool)],
        responses=EventVerdictSerializer(many=True),
    )
    def get(self, request, instance_id):
        role = query_int(request, "role")
        explain = request.query_params.get("explain", "").lower() in ("1", "true", "yes")
        instance = selectors.instance_get(instance_id=instance_id, user=request.user)
        verdicts = engine.event_verdicts(
            compiled_machine(instance.machine),
            state=instance.state,
            role=role,
            context=instance.context,
            event_counts=instance.event_counts,
            instance=instance_names(instance),
        )
        if explain:
            return Response(verdicts)
        shown = [v for v in verdicts if v["verdict"] in ("available", "blocked")]
        return Response([{k: v[k] for k in ("event", "eventDesc", "targetState")} for v in shown])


class InstanceHistoryApi(APIView):
    class OutputSerializer(serializers.Serializer):
        # The first row (the instance's creation) has no event, source state or transition.
        event = serializers.CharField(
            allow_null=True, help_text="null on the creation row and on a choice state's hops"
        )
        eventId = serializers.IntegerField(
            source="event_record_id",
            allow_null=True,
            help_text="the event record that made this hop; null on the creation row",
        )
        fromState = serializers.CharField(source="from_state", allow_null=True)
        toState = serializers.CharField(source="to_state")
        transitionId = serializers.IntegerField(source="transition_id", allow_null=True)
        at = serializers.DateTimeField()
        requestId = serializers.CharField(source="request_id", allow_null=True)
        error = ErrorSerializer(
            allow_null=True,
            help_text="the action's error on the hop of an async event whose action failed on "
            "its last try and whose transition's errorTarget took the instance to toState; "
            "null on every other hop",
        )

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, instance_id):
        instance = selectors.instance_get(instance_id=instance_id, user=request.user)
        history = selectors.instance_history(instance=instance)
        return Response(self.OutputSerializer(history, many=True).data)


class InstanceMigrateApi(APIView):
    """Operators and designers of the instance's flow."""

    class InputSerializer(serializers.Serializer):
        smId = IdField()

    @extend_schema(request=InputSerializer, responses=InstanceOutputSerializer)
    def post(self, request, instance_id):
        data = valid(self.InputSerializer, request.data)
        instance = services.instance_migrate(
            instance_id=instance_id, sm_id=data["smId"], user=request.user
        )
        return Response(InstanceOutputSerializer(instance).data)
