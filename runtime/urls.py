from django.urls import path

from runtime import apis

urlpatterns = [
    path("instances/", apis.InstanceListCreateApi.as_view(), name="instances"),
    path("instances/<int:instance_id>/", apis.InstanceDetailApi.as_view(), name="instance"),
    path(
        "instances/<int:instance_id>/events/",
        apis.InstanceEventFireApi.as_view(),
        name="instance-events",
    ),
    path(
        "instances/<int:instance_id>/events/available",
        apis.InstanceEventsAvailableApi.as_view(),
        name="instance-events-available",
    ),
    path(
        "instances/<int:instance_id>/history/",
        apis.InstanceHistoryApi.as_view(),
        name="instance-history",
    ),
    path(
        "instances/<int:instance_id>/migrate",
        apis.InstanceMigrateApi.as_view(),
        name="instance-migrate",
    ),
    path("events/<int:event_id>/", apis.EventDetailApi.as_view(), name="event"),
    path("events/<int:event_id>/replay", apis.EventReplayApi.as_view(), name="event-replay"),
    path("subscriptions/", apis.SubscriptionListCreateApi.as_view(), name="subscriptions"),
    path(
        "subscriptions/<int:subscription_id>/",
        apis.SubscriptionDeleteApi.as_view(),
        name="subscription",
    ),
    path("flows/<slug:code>/fire", apis.FlowFireApi.as_view(), name="flow-fire"),
    path("machines/<int:sm_id>/simulate", apis.MachineSimulateApi.as_view(), name="simulate"),
]
