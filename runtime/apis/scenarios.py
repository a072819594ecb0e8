"""Design API: a version's saved scenarios, and running them (pass or fail, and coverage).

The scenarios are machines' (machines/scenarios.py); running them needs the engine, so the
views live here, beside the simulator's.
"""

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from machines import scenarios
from machines.apis import DesignApi
from machines.interchange import ScenarioExpectOut, ScenarioIn, ScenarioStepOut, scenario_steps
from runtime.scenarios import scenarios_run


@extend_schema_serializer(component_name="Scenario")
class ScenarioOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    state = serializers.CharField(allow_null=True, help_text="the start state; null: initial")
    steps = serializers.SerializerMethodField()

    @extend_schema_field(ScenarioStepOut(many=True))
    def get_steps(self, scenario) -> list[dict]:
        return scenario_steps(scenario)


class ScenarioListCreateApi(DesignApi):
    """A version's saved scenarios; adding one needs the version in testing."""

    @extend_schema(responses=ScenarioOut(many=True))
    def get(self, request, sm_id):
        items = scenarios.scenario_list(machine=self.machine(sm_id))
        return Response(ScenarioOut(items, many=True).data)

    @extend_schema(request=ScenarioIn, responses={201: ScenarioOut})
    def post(self, request, sm_id):
        scenario = scenarios.scenario_create(machine=self.machine(sm_id), data=request.data)
        return Response(ScenarioOut(scenario).data, status=status.HTTP_201_CREATED)


class ScenarioDetailApi(DesignApi):
    """One saved scenario: replace it or delete it while the version is testing."""

    def scenario(self, sm_id, scenario_id):
        return scenarios.scenario_get(machine=self.machine(sm_id), scenario_id=scenario_id)

    @extend_schema(responses=ScenarioOut)
    def get(self, request, sm_id, scenario_id):
        return Response(ScenarioOut(self.scenario(sm_id, scenario_id)).data)

    @extend_schema(request=ScenarioIn, responses=ScenarioOut)
    def put(self, request, sm_id, scenario_id):
        scenario = scenarios.scenario_update(
            scenario=self.scenario(sm_id, scenario_id), data=request.data
        )
        return Response(ScenarioOut(scenario).data)

    @extend_schema(responses={204: None})
    def delete(self, request, sm_id, scenario_id):
        scenarios.scenario_delete(scenario=self.scenario(sm_id, scenario_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_serializer(component_name="ScenarioActual")
class ScenarioActualSerializer(serializers.Serializer):
    state = serializers.CharField(required=False, help_text="the state the step ended in")
    code = serializers.CharField(required=False, help_text="the error code it failed with")
    message = serializers.CharField(required=False)


@extend_schema_serializer(component_name="ScenarioFailure")
class ScenarioFailureSerializer(serializers.Serializer):
    step = serializers.IntegerField(allow_null=True, help_text="index; null: before any step")
    event = serializers.CharField(allow_null=True)
    expected = ScenarioExpectOut(help_text="the step's expectation; {} before any step")
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
