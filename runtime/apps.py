from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    """Execution: instances, events, history, callbacks (built in the runtime issue)."""

    name = "runtime"
    verbose_name = "Runtime"
