from config.routes import route
from machines import apis

lifecycle = apis.MachineLifecycleApi.as_view

urlpatterns = [
    *route("flows/", apis.FlowListCreateApi.as_view(), "flows"),
    *route("machines/", apis.MachineListCreateApi.as_view(), "machines"),
    *route("machines/<int:sm_id>/", apis.MachineDetailApi.as_view(), "machine"),
    *route("machines/<int:sm_id>/validate/", apis.MachineValidateApi.as_view(), "validate"),
    *route("machines/<int:sm_id>/publish/", lifecycle(step="publish"), "publish"),
    *route("machines/<int:sm_id>/online/", lifecycle(step="online"), "online"),
    *route("machines/<int:sm_id>/disable/", lifecycle(step="disable"), "disable"),
    *route("machines/<int:sm_id>/enable/", lifecycle(step="enable"), "enable"),
    *route("machines/<int:sm_id>/new-version/", apis.MachineNewVersionApi.as_view(), "new-version"),
    *route("machines/<int:sm_id>/diagram/", apis.MachineDiagramApi.as_view(), "diagram"),
    *route("machines/<int:sm_id>/table/", apis.MachineTableApi.as_view(), "table"),
    *route("expressions/check/", apis.ExpressionCheckApi.as_view(), "expression-check"),
]
