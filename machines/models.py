"""Definitions: a Flow is a family of Machine versions; a Machine owns its States and Transitions.

Text fields of the interchange format are nullable on purpose: export must give back exactly
what was imported, and the seed format distinguishes null from "".
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from machines.definition import CHOICE, NORMAL


class Flow(models.Model):
    code = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    # Kept by the subscription services: lets an event skip the subscriber query entirely.
    has_subscribers = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("flow")
        verbose_name_plural = _("flows")

    def __str__(self):
        return self.code


class Machine(models.Model):
    class Status(models.IntegerChoices):
        TESTING = 1, "testing"
        PUBLISHED = 2, "published"
        ONLINE = 3, "online"
        DISABLED = 4, "disabled"

    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="machines")
    version = models.PositiveIntegerField()
    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.TESTING)
    creator = models.CharField(max_length=150, null=True, blank=True)  # noqa: DJ001
    modifier = models.CharField(max_length=150, null=True, blank=True)  # noqa: DJ001
    # Bumped on every edit: the compiled-machine cache is keyed by (id, revision).
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["flow__code", "version"]
        verbose_name = _("machine")
        verbose_name_plural = _("machines")
        # Designers edit testing machines (add/change); publishing moves them on (admin).
        permissions = [("publish_machine", "Can publish machines and put them online")]
        constraints = [
            models.UniqueConstraint(fields=["flow", "version"], name="machine_version_unique"),
            models.UniqueConstraint(
                fields=["flow"], condition=Q(status=3), name="machine_one_online_per_flow"
            ),
        ]

    def __str__(self):
        return f"{self.flow.code} v{self.version}"

    @property
    def is_frozen(self) -> bool:
        return self.status != self.Status.TESTING


class State(models.Model):
    class Type(models.IntegerChoices):
        NORMAL = NORMAL, "normal"
        CHOICE = CHOICE, "choice"

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="states")
    position = models.PositiveIntegerField()  # the order of the definition's state list
    value = models.CharField(max_length=100)
    desc = models.CharField(max_length=500, null=True, blank=True)  # noqa: DJ001
    type = models.PositiveSmallIntegerField(choices=Type.choices, default=Type.NORMAL)
    initial = models.BooleanField(default=False)
    final = models.BooleanField(default=False)

    class Meta:
        ordering = ["machine", "position"]
        constraints = [
            models.UniqueConstraint(fields=["machine", "value"], name="state_value_unique"),
        ]

    def __str__(self):
        return self.value


class Transition(models.Model):
    """A transition; source and target are state values, so a draft may name a missing state."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="transitions")
    position = models.PositiveIntegerField()
    desc = models.CharField(max_length=500, null=True, blank=True)  # noqa: DJ001
    source = models.CharField(max_length=100)
    target = models.CharField(max_length=100)
    event = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    event_desc = models.CharField(max_length=500, null=True, blank=True)  # noqa: DJ001
    roles = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    show_condition = models.TextField(null=True, blank=True)  # noqa: DJ001
    guard_condition = models.TextField(null=True, blank=True)  # noqa: DJ001
    case_condition = models.TextField(null=True, blank=True)  # noqa: DJ001
    case_order = models.IntegerField(null=True, blank=True)
    case_default = models.BooleanField(default=False)
    action = models.CharField(max_length=2000, null=True, blank=True)  # noqa: DJ001
    timer_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["machine", "position"]

    def __str__(self):
        return f"{self.source} -{self.event or ''}-> {self.target}"


class Scenario(models.Model):
    """A saved test of a version: steps from a start state, each with what it must end in.

    ``steps`` is ``[{event, role?, context?, expect: {state} or {code}}]`` as the API and the
    seed format give it (machines/interchange.py checks it); ``state`` None means the initial
    state. Part of the version's definition: editable in testing, copied by a new version.
    """

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="scenarios")
    name = models.CharField(max_length=200)
    state = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    steps = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["machine", "id"]
        verbose_name = _("scenario")
        verbose_name_plural = _("scenarios")
        constraints = [
            models.UniqueConstraint(fields=["machine", "name"], name="scenario_name_unique"),
        ]

    def __str__(self):
        return self.name
