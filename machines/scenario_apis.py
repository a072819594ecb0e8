"""The design API's saved scenarios of a version (running them: runtime/apis/scenarios.py)."""

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from machines import scenarios
from machines.apis import DesignApi
from machines.interchange import ScenarioIn, ScenarioStepOut, scenario_steps


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
