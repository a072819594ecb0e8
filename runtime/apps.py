from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RuntimeConfig(AppConfig):
    """Execution: instances, events, history, callbacks (built in the runtime issue)."""

    name = "runtime"
    verbose_name = _("Runtime")
