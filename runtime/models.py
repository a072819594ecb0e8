"""Execution records: instances, the events fired at them, and one history row per hop.

An instance's current state always equals the target of its last history hop; both change
in the same transaction.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from machines.models import Flow, Machine

# A role code is stored in an integer column: what fits it is what a client may send.
ROLE_MIN, ROLE_MAX = -(2**31), 2**31 - 1


class Instance(models.Model):
    flow = models.ForeignKey(
        Flow, on_delete=models.PROTECT, related_name="instances", verbose_name=_("flow")
    )
    machine = models.ForeignKey(
        Machine, on_delete=models.PROTECT, related_name="instances", verbose_name=_("machine")
    )
    business_key = models.CharField(_("business key"), max_length=200)
    state = models.CharField(_("state"), max_length=100)
    context = models.JSONField(_("context"), default=dict)
    # Times each event was accepted: event_count(name) reads it with no query.
    event_counts = models.JSONField(_("event counts"), default=dict)
    revision = models.PositiveIntegerField(_("revision"), default=0)  # applied events
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("instance")
        verbose_name_plural = _("instances")
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

    # What pages show (the API answers the values).
    STATUS_LABELS = [
        (Status.ACCEPTED, _("accepted")),
        (Status.PROCESSING, _("processing")),
        (Status.DONE, _("done")),
        (Status.FAILED, _("failed")),
    ]

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="events")
    event = models.CharField(max_length=100)
    role = models.IntegerField(null=True, blank=True)
    context = models.JSONField(default=dict)
    request_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    fingerprint = models.CharField(max_length=64)  # sha256 of the request body, for requestId
    status = models.CharField(
        _("status"), max_length=12, choices=STATUS_LABELS, default=Status.ACCEPTED
    )
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Async events only: what was asked, and the retry bookkeeping kept in the database.
    is_async = models.BooleanField(default=False)
    expected_state = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    entry_revision = models.PositiveIntegerField(null=True, blank=True)  # timers: the entry
    callback_url = models.CharField(max_length=2000, null=True, blank=True)  # noqa: DJ001
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # due, or lease of a worker

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "request_id"],
                condition=Q(request_id__isnull=False),
                name="event_request_id_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["instance", "id"],
                condition=Q(status__in=["accepted", "processing"]),
                name="event_pending_idx",
            ),
            # Each query of the queue is served by one of these partial indexes and can use
            # no other (their conditions do not imply each other's), whatever the statistics
            # of the moment say: a queue's pending set is often empty at ANALYZE time, and a
            # plan that scans every pending event per claim is quadratic under a backlog.
            models.Index(  # the oldest accepted events first: where a claim looks for work
                fields=["id"], condition=Q(status="accepted"), name="event_queue_idx"
            ),
            models.Index(  # leases and retries by their due time: the sweeper, expired leases
                fields=["next_attempt_at"],
                condition=Q(status__in=["accepted", "processing"], next_attempt_at__isnull=False),
                name="event_due_idx",
            ),
        ]

    def __str__(self):
        return f"{self.event} on {self.instance_id} ({self.status})"


class HistoryEntry(models.Model):
    # No index of its own: history_instance_idx (instance, id) serves every lookup by instance,
    # and one index fewer is one write fewer on every event.
    instance = models.ForeignKey(
        Instance, on_delete=models.CASCADE, related_name="history", db_index=False
    )
    event_record = models.ForeignKey(
        EventRecord, on_delete=models.CASCADE, related_name="hops", null=True, blank=True
    )
    event = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    from_state = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - creation hop
    to_state = models.CharField(max_length=100)
    transition_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    at = models.DateTimeField()
    # Only on the hop of an async event whose action failed for good and whose transition's
    # errorTarget took the instance there: the action's error (code, message, details).
    error = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["instance", "id"], name="history_instance_idx")]

    def __str__(self):
        return f"{self.from_state} -> {self.to_state}"


class Timer(models.Model):
    """A timed transition armed when its instance entered `state`."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="timers")
    state = models.CharField(max_length=100)
    event = models.CharField(max_length=100)
    entry_revision = models.PositiveIntegerField()  # the instance's revision on entering
    due_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.event} on {self.instance_id} at {self.due_at}"


class Subscription(models.Model):
    """A subscriber notified once of every applied event of a flow that leaves an instance in
    one of `states`, normal states only (null: any state)."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="subscriptions")
    # The client that made it: only it (and the flow's designers) see and delete it. Empty
    # for subscriptions made before subscriptions had owners.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subscriptions",
    )
    url = models.CharField(max_length=2000)
    states = models.JSONField(null=True, blank=True)  # a list of state values; null: every state
    # Off after a 410 Gone answer, or when migration 0008 left it only choice states to watch.
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.flow_id} -> {self.url}"

    def wants(self, state: str) -> bool:
        return self.active and (not self.states or state in self.states)


class Delivery(models.Model):
    """An outgoing callback in the outbox: a subscriber notification, a state's enterAction
    call or an async event result.

    Deliveries of one `stream` (a subscription and an instance, an instance's enterAction
    calls, or an event) go out in order;
    `webhook_id` stays the same on every attempt, so a receiver can drop duplicates.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    stream = models.CharField(max_length=100)
    url = models.CharField(max_length=2000)
    payload = models.JSONField()
    webhook_id = models.CharField(max_length=64, unique=True)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["stream", "id"], condition=Q(status="pending"), name="delivery_stream_idx"
            ),
            # Only for queries that name a due time, so a stream's head is always looked up
            # on delivery_stream_idx (see EventRecord's indexes for why that matters).
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending", next_attempt_at__isnull=False),
                name="delivery_due_idx",
            ),
        ]

    def __str__(self):
        return f"{self.webhook_id} -> {self.url} ({self.status})"


class Attempt(models.Model):
    """One try of an async event's actions or of a delivery: when, what answered, why it failed."""

    event_record = models.ForeignKey(
        EventRecord, on_delete=models.CASCADE, null=True, blank=True, related_name="tries"
    )
    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, null=True, blank=True, related_name="tries"
    )
    at = models.DateTimeField(auto_now_add=True)
    status = models.PositiveIntegerField(null=True, blank=True)  # HTTP status, when one came
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.at}: {self.status or self.error}"


class RefusedSubmission(models.Model):
    """An event sent through the broker and refused: shown to operators in the admin.

    A REST caller reads its error in the answer; a broker sender gets none, so the refusal
    is kept here, with what was sent (the token left out, cut to PAYLOAD_CHARS).
    """

    PAYLOAD_CHARS = 2000

    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    code = models.CharField(_("code"), max_length=40)
    message = models.CharField(_("message"), max_length=500)
    # The flow the payload named, when one has that code: staff see their flows' refusals.
    flow = models.ForeignKey(
        Flow,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("flow"),
    )
    payload = models.TextField(_("payload"))  # JSON text, ASCII-escaped

    class Meta:
        ordering = ["-id"]
        verbose_name = _("refused broker event")
        verbose_name_plural = _("refused broker events")

    def __str__(self):
        return f"{self.code}: {self.message}"
