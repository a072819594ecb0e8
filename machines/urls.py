from django.urls import path

from machines import apis

lifecycle = apis.MachineLifecycleApi.as_view

urlpatterns = [
    path("flows/", apis.FlowListCreateApi.as_view(), name="flows"),
    path("machines/", apis.MachineListCreateApi.as_view(), name="machines"),
    path("machines/<int:sm_id>/", apis.MachineDetailApi.as_view(), name="machine"),
    path("machines/<int:sm_id>/validate", apis.MachineValidateApi.as_view(), name="validate"),
    path("machines/<int:sm_id>/publish", lifecycle(step="publish"), name="publish"),
    path("machines/<int:sm_id>/online", lifecycle(step="online"), name="online"),
    path("machines/<int:sm_id>/disable", lifecycle(step="disable"), name="disable"),
    path("machines/<int:sm_id>/enable", lifecycle(step="enable"), name="enable"),
    path(
        "machines/<int:sm_id>/new-version", apis.MachineNewVersionApi.as_view(), name="new-version"
    ),
    path("machines/<int:sm_id>/diagram", apis.MachineDiagramApi.as_view(), name="diagram"),
    path("machines/<int:sm_id>/table", apis.MachineTableApi.as_view(), name="table"),
    path("expressions/check", apis.ExpressionCheckApi.as_view(), name="expression-check"),
]
