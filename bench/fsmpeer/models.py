"""An order whose states live in code (django-fsm-2), with a history row per transition."""

from django.db import models
from django_fsm import FSMField, transition


class Order(models.Model):
    state = FSMField(default="OPEN")
    revision = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"order {self.pk} ({self.state})"

    @transition(field=state, source="OPEN", target="OPEN")
    def touch(self):
        """The peer of bench-plain's OPEN --GO--> OPEN."""
        self.revision += 1


class OrderHistory(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
    event = models.CharField(max_length=100)
    from_state = models.CharField(max_length=50)
    to_state = models.CharField(max_length=50)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.from_state} -> {self.to_state}"
