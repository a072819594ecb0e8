from django.urls import path

from runtime.apis import events, instances, subscriptions

urlpatterns = [
    path("instances/", instances.InstanceListCreateApi.as_view(), name="instances"),
    path("instances/<int:instance_id>/", instances.InstanceDetailApi.as_view(), name="instance"),
    path(
        "instances/<int:instance_id>/events/",
        instances.InstanceEventFireApi.as_view(),
        name="instance-events",
    ),
    path(
        "instances/<int:instance_id>/events/available",
        instances.InstanceEventsAvailableApi.as_view(),
        name="instance-events-available",
    ),
    path(
        "instances/<int:instance_id>/history/",
        instances.InstanceHistoryApi.as_view(),
        name="instance-history",
    ),
    path(
        "instances/<int:instance_id>/migrate",
        instances.InstanceMigrateApi.as_view(),
        name="instance-migrate",
    ),
    path("events/", events.EventListApi.as_view(), name="events"),
    path("events/<int:event_id>/", events.EventDetailApi.as_view(), name="event"),
    path("events/<int:event_id>/replay", events.EventReplayApi.as_view(), name="event-replay"),
    path("subscriptions/", subscriptions.SubscriptionListCreateApi.as_view(), name="subscriptions"),
    path(
        "subscriptions/<int:subscription_id>/",
        subscriptions.SubscriptionDeleteApi.as_view(),
        name="subscription",
    ),
    path("flows/<slug:code>/fire", events.FlowFireApi.as_view(), name="flow-fire"),
    path("machines/<int:sm_id>/simulate", events.MachineSimulateApi.as_view(), name="simulate"),
]
