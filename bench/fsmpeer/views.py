"""What a user would build instead of Statecenter: a DRF endpoint over django-fsm-2, and the
HTTP floor, a DRF view that answers a constant. Both run in the bench's gunicorns beside the
product's API (bench/urls.py), with the same DRF settings: token authentication, the JSON
parser and renderer, the throttle where the server has it on.
"""

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.fsmpeer.models import Order
from bench.fsmpeer.services import order_touch


class OrderEventIn(serializers.Serializer):
    event = serializers.ChoiceField(choices=["GO"])


class OrderEvent(APIView):
    """POST {"event": "GO"}: the peer of our instance_event_fire on bench-plain."""

    def post(self, request, order_id: int):
        body = OrderEventIn(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            state = order_touch(order_id=order_id)
        except Order.DoesNotExist:
            raise NotFound(f"No order with id {order_id}.") from None
        return Response({"id": order_id, "state": state})


class Constant(APIView):
    """The floor: what the server, the middleware and DRF cost around a view doing nothing."""

    def post(self, request, order_id: int):
        return Response({"id": order_id, "state": "OPEN"})
