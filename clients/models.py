"""API clients, and the flows granted to them and to admin groups.

A client is a user with a token: a business system or a designer. What it may reach is a
matter of flows: it works only on the flows granted to it (or every flow, with `all_flows`);
admin staff who are not superusers work only on the flows granted to one of their groups.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from machines.models import Flow

ROLE_LIST = RegexValidator(r"^\d+(,\d+)*$", _("Roles are comma-separated integers, like 1,2."))


class ApiClient(models.Model):
    """A user that calls the API; `roles` are the role codes it may fire events as."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_client",
        verbose_name=_("user"),
    )
    roles = models.CharField(
        _("roles"), max_length=200, blank=True, default="", validators=[ROLE_LIST]
    )
    # The design API on its flows.
    is_designer = models.BooleanField(_("is a designer"), default=False)
    # Replaying failed events, migrating instances.
    is_operator = models.BooleanField(_("is an operator"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self):
        return self.user.username

    @property
    def role_codes(self) -> frozenset[int]:
        return frozenset(int(code) for code in self.roles.split(",") if code)


class FlowGrant(models.Model):
    """A flow, or every flow (no flow: those made later too), granted to a user or a group.

    Users are API clients (or staff users who made a flow); groups are how admin staff who
    are not superusers get their flows.
    """

    flow = models.ForeignKey(
        Flow,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="grants",
        verbose_name=_("flow"),
        help_text=_("Empty: every flow, those made later too."),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="flow_grants",
        verbose_name=_("user"),
    )
    group = models.ForeignKey(
        Group,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="flow_grants",
        verbose_name=_("group"),
    )

    class Meta:
        verbose_name = _("flow grant")
        verbose_name_plural = _("flow grants")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True) ^ Q(group__isnull=True),
                name="flow_grant_one_grantee",
            ),
            # Also the indexes of the grant check, which looks grants up by grantee.
            models.UniqueConstraint(fields=["user", "flow"], name="flow_grant_user_unique"),
            models.UniqueConstraint(fields=["group", "flow"], name="flow_grant_group_unique"),
            # NULLs are distinct in the two above: one "every flow" grant per grantee.
            models.UniqueConstraint(
                fields=["user"], condition=Q(flow__isnull=True), name="flow_grant_user_every"
            ),
            models.UniqueConstraint(
                fields=["group"], condition=Q(flow__isnull=True), name="flow_grant_group_every"
            ),
        ]

    def __str__(self):
        flow = self.flow or gettext("every flow")  # outside the f-string: makemessages finds it
        return f"{flow} -> {self.user or self.group}"


class ThrottleCounter(models.Model):
    """Requests of one client in one time window; shared by every process through the database."""

    key = models.CharField(max_length=100, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    window_end = models.FloatField(db_index=True)  # unix time; past windows are swept

    def __str__(self):
        return f"{self.key}: {self.count}"
