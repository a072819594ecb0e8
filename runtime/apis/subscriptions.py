"""Subscriptions: who is told of every committed event of a flow, and what they are sent."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from runtime import selectors, subscriptions
from runtime.apis.common import valid, webhook


class SubscriptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    flow = serializers.CharField(source="flow.code", help_text="The flow's code.")
    url = serializers.CharField(help_text="Where notifications are POSTed.")
    states = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="The normal states watched; null: every state.",
    )
    active = serializers.BooleanField(
        help_text="False once the receiver answered 410 Gone: nothing more is sent."
    )
    createdAt = serializers.DateTimeField(source="created_at")


class NotificationHopSerializer(serializers.Serializer):
    """One hop of an event's path, as the instance's history shows it."""

    fromState = serializers.CharField()
    toState = serializers.CharField()
    transitionId = serializers.IntegerField()
    event = serializers.CharField(
        allow_null=True,
        help_text="The event of the transition taken: the applied event on the first hop, "
        "null on the automatic hops out of choice states.",
    )


class SubscriberNotificationSerializer(serializers.Serializer):
    """What a subscriber receives: one POST per applied event that ends in a watched state."""

    type = serializers.ChoiceField(choices=["transition"])
    subscriptionId = serializers.IntegerField()
    instanceId = serializers.IntegerField()
    businessKey = serializers.CharField()
    flow = serializers.CharField()
    smId = serializers.IntegerField(help_text="The machine version the instance runs on.")
    eventId = serializers.IntegerField()
    event = serializers.CharField(help_text="The event that was applied.")
    requestId = serializers.CharField(allow_null=True)
    fromState = serializers.CharField(help_text="The state the event found the instance in.")
    toState = serializers.CharField(help_text="The normal state the instance now rests in.")
    state = serializers.CharField(help_text="The same as toState.")
    path = NotificationHopSerializer(many=True)
    at = serializers.DateTimeField(help_text="When the event was applied.")


NOTIFIED = webhook(
    "notification",
    "{$request.body#/url}",
    SubscriberNotificationSerializer,
    summary="A subscriber notification (signed with the Standard Webhooks headers)",
    description="Answer 2xx to acknowledge; anything else is retried with backoff, and "
    "410 Gone ends the subscription. See docs/webhooks.md.",
)


class SubscriptionListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        flow = serializers.SlugField(max_length=100)
        url = serializers.URLField(max_length=2000)
        states = serializers.ListField(
            child=serializers.CharField(max_length=100),
            required=False,
            allow_null=True,
            default=None,
            max_length=500,
            help_text="Normal states to watch (a choice state is refused); omitted or null: "
            "every state.",
        )

    class FilterSerializer(serializers.Serializer):
        flow = serializers.SlugField(required=False, allow_blank=True, max_length=100)

    @extend_schema(parameters=[FilterSerializer], responses=SubscriptionOutputSerializer(many=True))
    def get(self, request):
        filters = valid(self.FilterSerializer, request.query_params)
        found = selectors.subscription_list(flow=filters.get("flow"), user=request.user)
        return Response(SubscriptionOutputSerializer(found, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: SubscriptionOutputSerializer},
        callbacks=[NOTIFIED],
    )
    def post(self, request):
        data = valid(self.InputSerializer, request.data)
        subscription = subscriptions.subscription_create(
            flow_code=data["flow"], url=data["url"], states=data["states"], user=request.user
        )
        return Response(
            SubscriptionOutputSerializer(subscription).data, status=status.HTTP_201_CREATED
        )


class SubscriptionDeleteApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, subscription_id):
        subscriptions.subscription_delete(subscription_id=subscription_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
