from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RuntimeConfig(AppConfig):
    """Execution: instances, events, history, callbacks, subscriptions."""

    name = "runtime"
    verbose_name = _("Runtime")

    def ready(self):
        # Publishing refuses a version whose saved scenarios fail. machines cannot import the
        # engine, so the check that runs them is handed to it here (machines/scenarios.py).
        from machines.scenarios import publish_check_register
        from runtime.scenarios import scenarios_publish_check

        publish_check_register(scenarios_publish_check)
