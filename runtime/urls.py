from config.routes import route
from runtime.apis import events, instances, replay, scenarios, subscriptions

urlpatterns = [
    *route("instances/", instances.InstanceListCreateApi.as_view(), "instances"),
    *route("instances/<int:instance_id>/", instances.InstanceDetailApi.as_view(), "instance"),
    *route(
        "instances/<int:instance_id>/events/",
        instances.InstanceEventFireApi.as_view(),
        "instance-events",
    ),
    *route(
        "instances/<int:instance_id>/events/available/",
        instances.InstanceEventsAvailableApi.as_view(),
        "instance-events-available",
    ),
    *route(
        "instances/<int:instance_id>/history/",
        instances.InstanceHistoryApi.as_view(),
        "instance-history",
    ),
    *route(
        "instances/<int:instance_id>/migrate/",
        instances.InstanceMigrateApi.as_view(),
        "instance-migrate",
    ),
    *route("events/", events.EventListApi.as_view(), "events"),
    *route("events/<int:event_id>/", events.EventDetailApi.as_view(), "event"),
    *route("events/<int:event_id>/replay/", events.EventReplayApi.as_view(), "event-replay"),
    *route("subscriptions/", subscriptions.SubscriptionListCreateApi.as_view(), "subscriptions"),
    *route(
        "subscriptions/<int:subscription_id>/",
        subscriptions.SubscriptionDeleteApi.as_view(),
        "subscription",
    ),
    *route("flows/<slug:code>/fire/", events.FlowFireApi.as_view(), "flow-fire"),
    *route("machines/<int:sm_id>/simulate/", events.MachineSimulateApi.as_view(), "simulate"),
    *route(
        "machines/<int:sm_id>/replay-history/",
        replay.MachineReplayHistoryApi.as_view(),
        "replay-history",
    ),
    *route(
        "machines/<int:sm_id>/scenarios/",
        scenarios.ScenarioListCreateApi.as_view(),
        "scenarios",
    ),
    *route(
        "machines/<int:sm_id>/scenarios/<int:scenario_id>/",
        scenarios.ScenarioDetailApi.as_view(),
        "scenario",
    ),
    *route(
        "machines/<int:sm_id>/scenarios/run/",
        scenarios.ScenarioRunApi.as_view(),
        "scenarios-run",
    ),
]
