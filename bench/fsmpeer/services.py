from django.db import transaction
from django.utils import timezone

from bench.fsmpeer.models import Order, OrderHistory


def order_touch(*, order_id: int) -> str:
    """The peer's event: lock the row, run the @transition, save it, add a history row."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        source = order.state
        order.touch()
        order.save()
        OrderHistory.objects.create(
            order=order, event="touch", from_state=source, to_state=order.state, at=timezone.now()
        )
    return order.state
