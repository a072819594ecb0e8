"""Execution records: instances, the events fired at them, and one history row per hop.

An instance's current state always equals the target of its last history hop; both change
in the same transaction.
"""

from django.db import models
from django.db.models import Q

from machines.models import Flow, Machine


class Instance(models.Model):
    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="instances")
    machine = models.ForeignKey(Machine, on_delete=models.PROTECT, related_name="instances")
    business_key = models.CharField(max_length=200)
    state = models.CharField(max_length=100)
    context = models.JSONField(default=dict)
    # Times each event was accepted: event_count(name) reads it with no query (DESIGN.md 4).
    event_counts = models.JSONField(default=dict)
    revision = models.PositiveIntegerField(default=0)  # applied events
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flow", "business_key"], name="instance_key_unique"),
        ]

    def __str__(self):
        return f"{self.flow_id}:{self.business_key}"


class EventRecord(models.Model):
    class Status(models.TextChoices):
        ACCEPTED = "accepted"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="events")
    event = models.CharField(max_length=100)
    role = models.IntegerField(null=True, blank=True)
    context = models.JSONField(default=dict)
    request_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    fingerprint = models.CharField(max_length=64)  # sha256 of the request body, for requestId
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACCEPTED)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "request_id"],
                condition=Q(request_id__isnull=False),
                name="event_request_id_unique",
            ),
        ]

    def __str__(self):
        return f"{self.event} on {self.instance_id} ({self.status})"


class HistoryEntry(models.Model):
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="history")
    event_record = models.ForeignKey(
        EventRecord, on_delete=models.CASCADE, related_name="hops", null=True, blank=True
    )
    event = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    from_state = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - creation hop
    to_state = models.CharField(max_length=100)
    transition_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["instance", "id"], name="history_instance_idx")]

    def __str__(self):
        return f"{self.from_state} -> {self.to_state}"
