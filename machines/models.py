"""Definitions: a Flow is a family of Machine versions; a Machine owns its States and Transitions.

Text fields of the interchange format are nullable on purpose: export must give back exactly
what was imported, and the seed format distinguishes null from "".
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from machines.definition import CHOICE, NORMAL, SOURCE_MAX_LENGTH


class Flow(models.Model):
    code = models.SlugField(_("code"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True, default="")
    # Kept by the subscription services: lets an event skip the subscriber query entirely.
    has_subscribers = models.BooleanField(_("has subscribers"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("flow")
        verbose_name_plural = _("flows")

    def __str__(self):
        return self.code


class Machine(models.Model):
    class Status(models.IntegerChoices):
        # The API's names (statusName, the schema's enum): the same in every language.
        TESTING = 1, "testing"
        PUBLISHED = 2, "published"
        ONLINE = 3, "online"
        DISABLED = 4, "disabled"

    # What pages show: the statuses in the reader's language.
    STATUS_LABELS = [
        (Status.TESTING, _("testing")),
        (Status.PUBLISHED, _("published")),
        (Status.ONLINE, _("online")),
        (Status.DISABLED, _("disabled")),
    ]

    flow = models.ForeignKey(
        Flow, on_delete=models.PROTECT, related_name="machines", verbose_name=_("flow")
    )
    version = models.PositiveIntegerField(_("version"))
    status = models.PositiveSmallIntegerField(
        _("status"), choices=STATUS_LABELS, default=Status.TESTING
    )
    creator = models.CharField(_("creator"), max_length=150, null=True, blank=True)  # noqa: DJ001
    modifier = models.CharField(_("modifier"), max_length=150, null=True, blank=True)  # noqa: DJ001
    # Bumped on every edit: the compiled-machine cache is keyed by (id, revision).
    revision = models.PositiveIntegerField(_("revision"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

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

    def get_status_display(self) -> str:
        """The status as the API and its messages name it (statusName: testing, published,
        online, disabled) in every language; pages show the field's translated choices."""
        return self.Status(self.status).label

    @property
    def is_frozen(self) -> bool:
        return self.status != self.Status.TESTING


class State(models.Model):
    class Type(models.IntegerChoices):
        # The seed format's names (stateType, the schema's enum).
        NORMAL = NORMAL, "normal"
        CHOICE = CHOICE, "choice"

    TYPE_LABELS = [(Type.NORMAL, _("normal")), (Type.CHOICE, _("choice"))]  # on pages

    machine = models.ForeignKey(
        Machine, on_delete=models.CASCADE, related_name="states", verbose_name=_("machine")
    )
    # The order of the definition's state list.
    position = models.PositiveIntegerField(_("position"))
    value = models.CharField(_("value"), max_length=100)
    desc = models.CharField(_("description"), max_length=500, null=True, blank=True)  # noqa: DJ001
    type = models.PositiveSmallIntegerField(_("type"), choices=TYPE_LABELS, default=Type.NORMAL)
    initial = models.BooleanField(_("initial"), default=False)
    final = models.BooleanField(_("final"), default=False)
    # Called (through the outbox, after commit) each time an instance comes to rest here.
    enter_action = models.CharField(  # noqa: DJ001
        _("entry action URL"), max_length=2000, null=True, blank=True
    )

    class Meta:
        ordering = ["machine", "position"]
        verbose_name = _("state")
        verbose_name_plural = _("states")
        constraints = [
            models.UniqueConstraint(fields=["machine", "value"], name="state_value_unique"),
        ]

    def __str__(self):
        return self.value


class Transition(models.Model):
    """A transition; source and target are state values, so a draft may name a missing state."""

    machine = models.ForeignKey(
        Machine, on_delete=models.CASCADE, related_name="transitions", verbose_name=_("machine")
    )
    position = models.PositiveIntegerField(_("position"))
    desc = models.CharField(_("description"), max_length=500, null=True, blank=True)  # noqa: DJ001
    # One state, a comma list of states or "*", as the designer gave it (Definition.expanded).
    source = models.CharField(_("source"), max_length=SOURCE_MAX_LENGTH)
    target = models.CharField(_("target"), max_length=100)
    event = models.CharField(_("event"), max_length=100, null=True, blank=True)  # noqa: DJ001
    event_desc = models.CharField(  # noqa: DJ001
        _("event description"), max_length=500, null=True, blank=True
    )
    roles = models.CharField(_("roles"), max_length=200, null=True, blank=True)  # noqa: DJ001
    show_condition = models.TextField(_("show condition"), null=True, blank=True)  # noqa: DJ001
    guard_condition = models.TextField(_("guard"), null=True, blank=True)  # noqa: DJ001
    case_condition = models.TextField(_("case condition"), null=True, blank=True)  # noqa: DJ001
    case_order = models.IntegerField(_("case order"), null=True, blank=True)
    case_default = models.BooleanField(_("default branch"), default=False)
    action = models.CharField(_("action URL"), max_length=2000, null=True, blank=True)  # noqa: DJ001
    timer_seconds = models.PositiveIntegerField(_("timer (s)"), null=True, blank=True)
    # Where an async event goes when this transition's action still fails after its last try.
    error_target = models.CharField(  # noqa: DJ001
        _("error target"), max_length=100, null=True, blank=True
    )

    class Meta:
        ordering = ["machine", "position"]
        verbose_name = _("transition")
        verbose_name_plural = _("transitions")

    def __str__(self):
        return f"{self.source} -{self.event or ''}-> {self.target}"


class Scenario(models.Model):
    """A saved test of a version: steps from a start state, each with what it must end in.

    ``steps`` is ``[{event, role?, context?, expect: {state} or {code}}]`` as the API and the
    seed format give it (machines/interchange.py checks it); ``state`` None means the initial
    state. Part of the version's definition: editable in testing, copied by a new version.
    """

    machine = models.ForeignKey(
        Machine, on_delete=models.CASCADE, related_name="scenarios", verbose_name=_("machine")
    )
    name = models.CharField(_("name"), max_length=200)
    state = models.CharField(_("start state"), max_length=100, null=True, blank=True)  # noqa: DJ001
    steps = models.JSONField(_("steps"), default=list)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["machine", "id"]
        verbose_name = _("scenario")
        verbose_name_plural = _("scenarios")
        constraints = [
            models.UniqueConstraint(fields=["machine", "name"], name="scenario_name_unique"),
        ]

    def __str__(self):
        return self.name
