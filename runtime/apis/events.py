"""Event records and replays, the stateless fire and the simulator."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.access import require_designer, require_operator
from machines.selectors import flow_get, machine_get
from runtime import async_events, selectors, services
from runtime.apis.answers import (
    EventAcceptedSerializer,
    EventRecordSerializer,
    OutcomeSerializer,
    SimulationSerializer,
)
from runtime.apis.common import MAX_KEY, ContextField, RoleField, acting_role, valid
from runtime.apply import event_outcome
from runtime.simulation import outcome

MAX_LISTED = 100


def _record_body(record) -> dict:
    body = {
        "id": record.pk,
        "instanceId": record.instance_id,
        "event": record.event,
        "requestId": record.request_id,
        "status": record.status,
    }
    if record.is_async:
        body["attempts"] = record.attempts
    if record.result is not None:
        body["result"] = event_outcome(record)
    if record.error is not None:
        body["error"] = record.error
    return body


class EventDetailApi(APIView):
    @extend_schema(responses=EventRecordSerializer)
    def get(self, request, event_id):
        record = selectors.event_get(event_id=event_id, user=request.user)
        return Response(_record_body(record))


class EventListApi(APIView):
    """Event records found by what their sender knows, newest first (at most 100).

    An event sent through the broker has no id its sender saw: the instance (flow and
    business key) and, optionally, the requestId it was sent with find it.
    """

    class FilterSerializer(serializers.Serializer):
        flow = serializers.SlugField(max_length=100)
        businessKey = serializers.CharField(max_length=MAX_KEY)
        requestId = serializers.CharField(required=False, max_length=MAX_KEY)

    @extend_schema(
        parameters=[FilterSerializer],
        responses=EventRecordSerializer(many=True),
    )
    def get(self, request):
        filters = valid(self.FilterSerializer, request.query_params)
        records = selectors.event_list(
            flow=filters["flow"],
            business_key=filters["businessKey"],
            request_id=filters.get("requestId"),
            user=request.user,
        )
        return Response([_record_body(record) for record in records[:MAX_LISTED]])


class FlowFireApi(APIView):
    """Stateless: the caller keeps the state; the online version decides, nothing is stored."""

    class InputSerializer(serializers.Serializer):
        state = serializers.CharField(max_length=100)
        event = serializers.CharField(max_length=100)
        role = RoleField()
        context = ContextField()

    @extend_schema(request=InputSerializer, responses=OutcomeSerializer)
    def post(self, request, code):
        data = valid(self.InputSerializer, request.data)
        machine = services.online_machine(flow=flow_get(code=code, user=request.user))
        decision = services.stateless_decide(
            machine=machine,
            state=data["state"],
            event=data["event"],
            role=acting_role(request, data["role"]),
            context=data["context"],
        )
        return Response(outcome(decision))


class SimulationStepInputSerializer(serializers.Serializer):
    event = serializers.CharField(max_length=100)
    role = RoleField()
    context = ContextField()


class MachineSimulateApi(APIView):
    """Design API: run steps on any version; each step's outcome or error, nothing stored."""

    class InputSerializer(serializers.Serializer):
        state = serializers.CharField(max_length=100, required=False, default=None)
        steps = serializers.ListField(child=SimulationStepInputSerializer(), max_length=200)

    @extend_schema(
        request=InputSerializer,
        responses=SimulationSerializer,
    )
    def post(self, request, sm_id):
        data = valid(self.InputSerializer, request.data)
        machine = machine_get(sm_id=sm_id, user=request.user)
        require_designer(request.user)
        return Response(
            services.machine_simulate(machine=machine, state=data["state"], steps=data["steps"])
        )


class EventReplayApi(APIView):
    """Put a failed async event back in line; the caller follows it at GET /events/{id}/.

    Operators and designers of the event's flow.
    """

    @extend_schema(request=None, responses={202: EventAcceptedSerializer})
    def post(self, request, event_id):
        record = selectors.event_get(event_id=event_id, user=request.user)
        require_operator(request.user)
        record = async_events.event_replay(record=record)
        body = {"eventId": record.pk, "status": record.status}
        return Response(body, status=status.HTTP_202_ACCEPTED)
