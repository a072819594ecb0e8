"""Design API: run a version's saved scenarios (pass or fail, and their coverage)."""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response

from machines.apis import DesignApi
from runtime.scenarios import scenarios_run


class _Expectation(serializers.Serializer):
    state = serializers.CharField(required=False)
    code = serializers.CharField(required=False)


@extend_schema_serializer(component_name="ScenarioActual")
class ScenarioActualSerializer(serializers.Serializer):
    state = serializers.CharField(required=False, help_text="the state the step ended in")
    code = serializers.CharField(required=False, help_text="the error code it failed with")
    message = serializers.CharField(required=False)


@extend_schema_serializer(component_name="ScenarioFailure")
class ScenarioFailureSerializer(serializers.Serializer):
    step = serializers.IntegerField(allow_null=True, help_text="index; null: before any step")
    event = serializers.CharField(allow_null=True)
    expected = _Expectation()
    actual = ScenarioActualSerializer()


@extend_schema_serializer(component_name="ScenarioResult")
class ScenarioResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    passed = serializers.BooleanField()
    failure = ScenarioFailureSerializer(allow_null=True, help_text="the first failing step")


@extend_schema_serializer(component_name="TransitionCoverage")
class TransitionCoverageSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="index in smTransitions")
    transitionId = serializers.IntegerField()
    source = serializers.CharField()
    event = serializers.CharField(allow_null=True)
    target = serializers.CharField()
    taken = serializers.IntegerField(help_text="times taken; 0: never")


@extend_schema_serializer(component_name="CaseCoverage")
class CaseCoverageSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="index in smTransitions")
    transitionId = serializers.IntegerField()
    target = serializers.CharField()
    condition = serializers.CharField(allow_null=True)
    default = serializers.BooleanField()
    taken = serializers.IntegerField(help_text="times taken; 0: never")


@extend_schema_serializer(component_name="ChoiceCoverage")
class ChoiceCoverageSerializer(serializers.Serializer):
    state = serializers.CharField()
    cases = CaseCoverageSerializer(many=True)


@extend_schema_serializer(component_name="Coverage")
class CoverageSerializer(serializers.Serializer):
    transitions = TransitionCoverageSerializer(many=True, help_text="from normal states")
    choices = ChoiceCoverageSerializer(many=True, help_text="each choice state's cases")
    transitionsTaken = serializers.IntegerField()
    transitionsTotal = serializers.IntegerField()
    casesTaken = serializers.IntegerField()
    casesTotal = serializers.IntegerField()


@extend_schema_serializer(component_name="ScenarioRun")
class ScenarioRunSerializer(serializers.Serializer):
    passed = serializers.BooleanField(help_text="every scenario passed")
    scenarios = ScenarioResultSerializer(many=True)
    coverage = CoverageSerializer()


class ScenarioRunApi(DesignApi):
    """Run every saved scenario of a version: nothing stored, no action called."""

    @extend_schema(request=None, responses=ScenarioRunSerializer)
    def post(self, request, sm_id):
        return Response(ScenarioRunSerializer(scenarios_run(machine=self.machine(sm_id))).data)
