"""Subscriptions: who is told of every committed transition of a flow."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from runtime import selectors, subscriptions
from runtime.apis.common import (
    valid,
)


class SubscriptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    flow = serializers.CharField(source="flow.code")
    url = serializers.CharField()
    states = serializers.ListField(child=serializers.CharField(), allow_null=True)
    active = serializers.BooleanField()


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
        )

    class FilterSerializer(serializers.Serializer):
        flow = serializers.SlugField(required=False, allow_blank=True, max_length=100)

    @extend_schema(parameters=[FilterSerializer], responses=SubscriptionOutputSerializer(many=True))
    def get(self, request):
        filters = valid(self.FilterSerializer, request.query_params)
        found = selectors.subscription_list(flow=filters.get("flow"), user=request.user)
        return Response(SubscriptionOutputSerializer(found, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: SubscriptionOutputSerializer})
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
