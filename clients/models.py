"""API clients: the business systems and designers that call the platform with a token."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

ROLE_LIST = RegexValidator(r"^\d+(,\d+)*$", "Roles are comma-separated integers, like 1,2.")


class ApiClient(models.Model):
    """A user that calls the API; `roles` are the role codes it may fire events as."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_client"
    )
    roles = models.CharField(max_length=200, blank=True, default="", validators=[ROLE_LIST])
    is_designer = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self):
        return self.user.username

    @property
    def role_codes(self) -> frozenset[int]:
        return frozenset(int(code) for code in self.roles.split(",") if code)


class ThrottleCounter(models.Model):
    """Requests of one client in one time window; shared by every process through the database."""

    key = models.CharField(max_length=100, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    window_end = models.FloatField(db_index=True)  # unix time; past windows are swept

    def __str__(self):
        return f"{self.key}: {self.count}"
