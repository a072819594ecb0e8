"""The design API, for designers only.

Each view validates its input, calls one service or selector, and serializes the result.
"""

import re

from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.access import require_designer
from config.exceptions import ValidationError
from config.schema import ErrorSerializer
from machines import selectors, services
from machines.diagrams import RENDERERS, state_table
from machines.interchange import MachineIn, MachineOut
from machines.models import Machine
from machines.validation.problems import PROBLEM_LEVELS
from rules import check_expression

SEED = MachineOut


class ProblemPlaceSerializer(serializers.Serializer):
    """Where a validation problem is: the keys that apply to it, no others."""

    state = serializers.CharField(required=False)
    stateIndex = serializers.IntegerField(required=False)
    states = serializers.ListField(child=serializers.CharField(), required=False)
    transition = serializers.IntegerField(required=False, help_text="index in smTransitions")
    transitionId = serializers.IntegerField(required=False, allow_null=True)
    transitions = serializers.ListField(child=serializers.IntegerField(), required=False)
    sourceState = serializers.CharField(required=False)
    eventValue = serializers.CharField(required=False, allow_null=True)
    targetState = serializers.CharField(required=False)
    field = serializers.CharField(required=False)
    duplicateOf = serializers.IntegerField(required=False)
    line = serializers.IntegerField(required=False)
    column = serializers.IntegerField(required=False)


class ProblemSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    where = ProblemPlaceSerializer()
    level = serializers.ChoiceField(PROBLEM_LEVELS)


class ValidationReportSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = ProblemSerializer(many=True)
    warnings = ProblemSerializer(many=True)


class DesignApi(APIView):
    """The design API works on the flows the client may see, and only for designers.

    A view about one machine looks it up first (another flow's machine is NOT_FOUND, as if it
    did not exist), then checks the capability (PERMISSION_DENIED); the others check first.
    """

    permission_classes = [IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if "sm_id" not in kwargs:
            require_designer(request.user)

    def machine(self, sm_id) -> Machine:
        machine = selectors.machine_get(sm_id=sm_id, user=self.request.user)
        require_designer(self.request.user)
        return machine


class FlowListCreateApi(DesignApi):
    class InputSerializer(serializers.Serializer):
        code = serializers.SlugField(max_length=100)
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=10_000
        )

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        code = serializers.CharField()
        name = serializers.CharField()
        description = serializers.CharField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        flows = selectors.flow_list(user=request.user)
        return Response(self.OutputSerializer(flows, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        flow = services.flow_create(**serializer.validated_data, user=request.user)
        return Response(self.OutputSerializer(flow).data, status=status.HTTP_201_CREATED)


class MachineListCreateApi(DesignApi):
    class OutputSerializer(serializers.Serializer):
        smId = serializers.IntegerField(source="pk")
        flowId = serializers.IntegerField(source="flow_id")
        flowCode = serializers.CharField(source="flow.code")
        version = serializers.CharField()
        smStatus = serializers.ChoiceField(Machine.Status.choices, source="status")
        statusName = serializers.CharField(source="get_status_display")
        creator = serializers.CharField(allow_null=True, help_text="null: stored without a user")
        modifier = serializers.CharField(allow_null=True)
        createdAt = serializers.DateTimeField(source="created_at")
        updatedAt = serializers.DateTimeField(source="updated_at")

    class FilterSerializer(serializers.Serializer):
        # A slug is ASCII: "²" passes str.isdigit() but is no id and no code.
        flow = serializers.SlugField(
            required=False, allow_blank=True, max_length=100, help_text="flow code or id"
        )

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        machines = selectors.machine_list(
            flow=filters.validated_data.get("flow"), user=request.user
        )
        return Response(self.OutputSerializer(machines, many=True).data)

    @extend_schema(request=MachineIn, responses={201: SEED})
    def post(self, request):
        machine = services.machine_create(data=request.data, user=request.user)
        return Response(selectors.machine_export(machine=machine), status=status.HTTP_201_CREATED)


class MachineDetailApi(DesignApi):
    """A machine's definition; its revision is the ETag.

    A PUT with If-Match set to it replaces the definition only if nobody saved the machine
    in between (412 MACHINE_CHANGED); without If-Match the PUT replaces it regardless.
    """

    @extend_schema(responses=SEED)
    def get(self, request, sm_id):
        machine = self.machine(sm_id)
        return _tagged(Response(selectors.machine_export(machine=machine)), machine)

    @extend_schema(
        request=MachineIn,
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                OpenApiParameter.HEADER,
                description='The ETag of the GET this edit started from, like "3".',
            )
        ],
        responses={
            200: SEED,
            412: OpenApiResponse(
                ErrorSerializer, description="MACHINE_CHANGED: saved by someone else since."
            ),
        },
    )
    def put(self, request, sm_id):
        machine = self.machine(sm_id)
        machine = services.machine_replace(
            machine=machine,
            data=request.data,
            user=request.user,
            expected_revision=_if_match(request),
        )
        return _tagged(Response(selectors.machine_export(machine=machine)), machine)

    @extend_schema(responses={204: None})
    def delete(self, request, sm_id):
        services.machine_delete(machine=self.machine(sm_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MachineValidateApi(DesignApi):
    @extend_schema(
        request=None,
        responses=ValidationReportSerializer,
    )
    def post(self, request, sm_id):
        report = services.machine_validate(machine=self.machine(sm_id))
        return Response(report.as_dict())


class MachineLifecycleApi(DesignApi):
    """publish, online, disable, enable: one lifecycle step each; answers the seed JSON."""

    steps = {
        "publish": services.machine_publish,
        "online": services.machine_online,
        "disable": services.machine_disable,
        "enable": services.machine_enable,
    }
    step = None

    @extend_schema(request=None, responses=SEED)
    def post(self, request, sm_id):
        machine = self.machine(sm_id)
        machine = self.steps[self.step](machine=machine, user=request.user)
        return Response(selectors.machine_export(machine=machine))


class MachineNewVersionApi(DesignApi):
    @extend_schema(request=None, responses={201: SEED})
    def post(self, request, sm_id):
        machine = self.machine(sm_id)
        clone = services.machine_new_version(machine=machine, user=request.user)
        return Response(selectors.machine_export(machine=clone), status=status.HTTP_201_CREATED)


class MachineDiagramApi(DesignApi):
    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=sorted(RENDERERS), default="mermaid")],
        responses={(200, "text/plain"): str},
    )
    def get(self, request, sm_id):
        machine = self.machine(sm_id)
        fmt = request.query_params.get("format", "mermaid")
        if fmt not in RENDERERS:
            raise ValidationError(
                f"Unknown diagram format {fmt!r}; use one of {', '.join(sorted(RENDERERS))}.",
                {"problems": [{"path": "format", "message": "Unknown diagram format."}]},
            )
        definition = selectors.machine_definition(machine=machine)
        text = RENDERERS[fmt](definition)
        return HttpResponse(text, content_type="text/plain; charset=utf-8")


class MachineTableApi(DesignApi):
    @extend_schema(
        responses=inline_serializer(
            "StateTable",
            {
                "states": serializers.ListField(child=serializers.CharField()),
                "events": serializers.ListField(child=serializers.CharField()),
                "cells": serializers.DictField(
                    child=serializers.DictField(child=serializers.CharField()),
                    help_text="state -> event -> target state",
                ),
                "timers": serializers.DictField(
                    child=serializers.DictField(child=serializers.IntegerField()),
                    help_text="state -> event of a timed transition -> seconds",
                ),
                "errorTargets": serializers.DictField(
                    child=serializers.DictField(child=serializers.CharField()),
                    help_text="state -> event whose action may fail -> the state an async "
                    "event moves to when it still fails after its last attempt",
                ),
            },
        )
    )
    def get(self, request, sm_id):
        definition = selectors.machine_definition(machine=self.machine(sm_id))
        return Response(state_table(definition))


class ExpressionCheckApi(DesignApi):
    class InputSerializer(serializers.Serializer):
        expression = serializers.CharField(trim_whitespace=False, max_length=100_000)

    @extend_schema(
        request=InputSerializer,
        responses=inline_serializer(
            "ExpressionCheck",
            {
                "ok": serializers.BooleanField(),
                "error": inline_serializer(
                    "ExpressionProblem",
                    {
                        "message": serializers.CharField(),
                        "line": serializers.IntegerField(required=False),
                        "column": serializers.IntegerField(),
                        "construct": serializers.CharField(required=False),
                    },
                    required=False,
                ),
                "names": serializers.ListField(child=serializers.CharField()),
            },
        ),
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(check_expression(serializer.validated_data["expression"]))


def _tagged(response: Response, machine) -> Response:
    response["ETag"] = f'"{machine.revision}"'
    return response


def _if_match(request) -> int | None:
    """The revision an If-Match header names; None without one (or with *)."""
    header = request.headers.get("If-Match", "").strip()
    if header in ("", "*"):
        return None
    match = re.fullmatch(r'"(\d{1,9})"', header)
    if match is None:
        raise ValidationError(
            'If-Match must be one ETag of this machine, like "3".',
            {"problems": [{"path": "If-Match", "message": "Not an ETag of this API."}]},
        )
    return int(match.group(1))
