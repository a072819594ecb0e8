"""The business API (DESIGN.md section 5): instances, events, history, stateless fire.

Any authenticated client may call it. A client acts only as one of its own roles (designers
and admin staff as any role); asking for another role is ROLE_FORBIDDEN.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.permissions import IsDesigner, is_designer
from config.exceptions import ValidationError
from machines.compiled import compiled_machine
from machines.selectors import flow_get, machine_get
from runtime import async_events, engine, selectors, services, subscriptions
from runtime.apply import event_outcome, instance_names
from runtime.exceptions import RoleForbidden
from runtime.simulation import outcome

OUTCOME = inline_serializer("EventOutcome", {"eventId": serializers.IntegerField()})
ACCEPTED = inline_serializer(
    "EventAccepted", {"eventId": serializers.IntegerField(), "status": serializers.CharField()}
)
MAX_KEY = 200
MAX_CONTEXT_DEPTH = 32


def _json_object(value):
    if not isinstance(value, dict):
        raise serializers.ValidationError("Must be a JSON object.")
    _check_storable(value)
    return value


def _check_storable(value) -> None:
    """Refuse what the database or the JSON encoder cannot take, before it is a 500.

    PostgreSQL's jsonb refuses NUL characters, no UTF-8 encoder takes a lone surrogate, and
    encoding a deeply nested value runs out of stack. Iterative, so depth cannot hurt here.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_CONTEXT_DEPTH:
            raise serializers.ValidationError(f"Nested deeper than {MAX_CONTEXT_DEPTH} levels.")
        if isinstance(item, dict):
            stack += [(key, depth) for key in item] + [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
        elif isinstance(item, str) and ("\x00" in item or not _encodable(item)):
            raise serializers.ValidationError("Text may not hold NUL or lone surrogate characters.")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ContextField(serializers.JSONField):
    def __init__(self, **kwargs):
        super().__init__(required=False, default=dict, validators=[_json_object], **kwargs)


def _acting_role(request, role: int | None) -> int | None:
    """The role the request acts as; a client may only claim one of its own roles."""
    if role is None or is_designer(request.user):
        return role
    client = getattr(request.user, "api_client", None)
    if client is None or role not in client.role_codes:
        raise RoleForbidden(f"This client may not act as role {role}.", {"role": role})
    return role


class InstanceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    flow = serializers.CharField(source="flow.code")
    smId = serializers.IntegerField(source="machine_id")
    version = serializers.CharField(source="machine.version")
    businessKey = serializers.CharField(source="business_key")
    state = serializers.CharField()
    context = serializers.JSONField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class InstanceListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        flow = serializers.SlugField(max_length=100)
        businessKey = serializers.CharField(max_length=MAX_KEY)
        context = ContextField()
        smId = serializers.IntegerField(required=False, allow_null=True, default=None)

    class FilterSerializer(serializers.Serializer):
        flow = serializers.CharField(required=False, allow_blank=True, max_length=100)
        businessKey = serializers.CharField(required=False, allow_blank=True, max_length=MAX_KEY)

    @extend_schema(parameters=[FilterSerializer], responses=InstanceOutputSerializer(many=True))
    def get(self, request):
        filters = _valid(self.FilterSerializer, request.query_params)
        instances = selectors.instance_list(
            flow=filters.get("flow"), business_key=filters.get("businessKey")
        )
        return Response(InstanceOutputSerializer(instances[:500], many=True).data)

    @extend_schema(request=InputSerializer, responses={201: InstanceOutputSerializer})
    def post(self, request):
        data = _valid(self.InputSerializer, request.data)
        instance = services.instance_create(
            flow_code=data["flow"],
            business_key=data["businessKey"],
            context=data["context"],
            sm_id=data["smId"],
        )
        return Response(InstanceOutputSerializer(instance).data, status=status.HTTP_201_CREATED)


class InstanceDetailApi(APIView):
    @extend_schema(responses=InstanceOutputSerializer)
    def get(self, request, instance_id):
        instance = selectors.instance_get(instance_id=instance_id)
        return Response(InstanceOutputSerializer(instance).data)


class InstanceEventFireApi(APIView):
    class InputSerializer(serializers.Serializer):
        event = serializers.CharField(max_length=100)
        role = serializers.IntegerField(required=False, allow_null=True, default=None)
        context = ContextField()
        requestId = serializers.CharField(max_length=MAX_KEY, required=False, default=None)
        expectedState = serializers.CharField(max_length=100, required=False, default=None)
        callbackUrl = serializers.URLField(required=False, max_length=2000)

    @extend_schema(request=InputSerializer, responses={200: OUTCOME, 202: ACCEPTED})
    def post(self, request, instance_id):
        data = _valid(self.InputSerializer, request.data)
        role = _acting_role(request, data["role"])
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
        responses=inline_serializer(
            "AvailableEvent",
            {
                "event": serializers.CharField(),
                "eventDesc": serializers.CharField(),
                "targetState": serializers.CharField(),
            },
            many=True,
        ),
    )
    def get(self, request, instance_id):
        role = _query_int(request, "role")
        explain = request.query_params.get("explain", "").lower() in ("1", "true", "yes")
        instance = selectors.instance_get(instance_id=instance_id)
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
        event = serializers.CharField(allow_null=True)
        fromState = serializers.CharField(source="from_state", allow_null=True)
        toState = serializers.CharField(source="to_state")
        transitionId = serializers.IntegerField(source="transition_id", allow_null=True)
        at = serializers.DateTimeField()
        requestId = serializers.CharField(source="request_id", allow_null=True)

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, instance_id):
        instance = selectors.instance_get(instance_id=instance_id)
        history = selectors.instance_history(instance=instance)
        return Response(self.OutputSerializer(history, many=True).data)


class EventDetailApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "EventRecord",
            {
                "id": serializers.IntegerField(),
                "status": serializers.CharField(),
                "result": serializers.JSONField(required=False),
                "error": serializers.JSONField(required=False),
            },
        )
    )
    def get(self, request, event_id):
        record = selectors.event_get(event_id=event_id)
        body = {"id": record.pk, "status": record.status}
        if record.is_async:
            body["attempts"] = record.attempts
        if record.result is not None:
            body["result"] = event_outcome(record)
        if record.error is not None:
            body["error"] = record.error
        return Response(body)


class FlowFireApi(APIView):
    """Stateless: the caller keeps the state; the online version decides, nothing is stored."""

    class InputSerializer(serializers.Serializer):
        state = serializers.CharField(max_length=100)
        event = serializers.CharField(max_length=100)
        role = serializers.IntegerField(required=False, allow_null=True, default=None)
        context = ContextField()

    @extend_schema(request=InputSerializer, responses=OUTCOME)
    def post(self, request, code):
        data = _valid(self.InputSerializer, request.data)
        machine = services.online_machine(flow=flow_get(code=code))
        decision = services.stateless_decide(
            machine=machine,
            state=data["state"],
            event=data["event"],
            role=_acting_role(request, data["role"]),
            context=data["context"],
        )
        return Response(outcome(decision))


class MachineSimulateApi(APIView):
    """Design API: run steps on any version; each step's outcome or error, nothing stored."""

    permission_classes = [IsDesigner]

    class StepSerializer(serializers.Serializer):
        event = serializers.CharField(max_length=100)
        role = serializers.IntegerField(required=False, allow_null=True, default=None)
        context = ContextField()

    class InputSerializer(serializers.Serializer):
        state = serializers.CharField(max_length=100, required=False, default=None)
        steps = serializers.ListField(child=serializers.DictField(), max_length=200)

        def validate_steps(self, steps):
            serializer = MachineSimulateApi.StepSerializer(data=steps, many=True)
            serializer.is_valid(raise_exception=True)
            return serializer.validated_data

    @extend_schema(
        request=InputSerializer,
        responses=inline_serializer(
            "Simulation",
            {
                "steps": serializers.ListField(child=serializers.DictField()),
                "state": serializers.CharField(),
                "context": serializers.DictField(),
            },
        ),
    )
    def post(self, request, sm_id):
        data = _valid(self.InputSerializer, request.data)
        machine = machine_get(sm_id=sm_id)
        return Response(
            services.machine_simulate(machine=machine, state=data["state"], steps=data["steps"])
        )


class InstanceMigrateApi(APIView):
    permission_classes = [IsDesigner]

    class InputSerializer(serializers.Serializer):
        smId = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses=InstanceOutputSerializer)
    def post(self, request, instance_id):
        data = _valid(self.InputSerializer, request.data)
        instance = services.instance_migrate(instance_id=instance_id, sm_id=data["smId"])
        return Response(InstanceOutputSerializer(instance).data)


class EventReplayApi(APIView):
    """Put a failed async event back in line; the caller follows it at GET /events/{id}/."""

    @extend_schema(request=None, responses={202: ACCEPTED})
    def post(self, request, event_id):
        record = async_events.event_replay(record=selectors.event_get(event_id=event_id))
        body = {"eventId": record.pk, "status": record.status}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class SubscriptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    flow = serializers.CharField(source="flow.code")
    url = serializers.CharField()
    states = serializers.ListField(child=serializers.CharField(), allow_null=True)
    active = serializers.BooleanField()


class SubscriptionListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        flow = serializers.SlugField(max_length=100)
        url = serializers.URLField(max_length=2000)
        states = serializers.ListField(
            child=serializers.CharField(max_length=100),
            required=False,
            allow_null=True,
            default=None,
            max_length=500,
        )

    @extend_schema(
        parameters=[OpenApiParameter("flow", str)],
        responses=SubscriptionOutputSerializer(many=True),
    )
    def get(self, request):
        found = selectors.subscription_list(flow=request.query_params.get("flow"))
        return Response(SubscriptionOutputSerializer(found, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: SubscriptionOutputSerializer})
    def post(self, request):
        data = _valid(self.InputSerializer, request.data)
        subscription = subscriptions.subscription_create(
            flow_code=data["flow"], url=data["url"], states=data["states"]
        )
        return Response(
            SubscriptionOutputSerializer(subscription).data, status=status.HTTP_201_CREATED
        )


class SubscriptionDeleteApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, subscription_id):
        subscriptions.subscription_delete(subscription_id=subscription_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _query_int(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(
            f"{name} must be an integer.",
            {"problems": [{"path": name, "message": "Not an integer."}]},
        ) from None
