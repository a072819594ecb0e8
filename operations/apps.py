from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OperationsConfig(AppConfig):
    """Running the platform: health probes, Prometheus metrics, the workers' log lines."""

    name = "operations"
    verbose_name = _("Operations")

    def ready(self) -> None:
        # In every process, so a Celery worker has them before it forks its children and
        # before it sets up its logging (its loader runs django.setup() first).
        from celery import signals

        from config.logs import celery_handlers_setup
        from config.metrics import worker_task_finished

        signals.task_postrun.connect(
            worker_task_finished, weak=False, dispatch_uid="statecenter_worker_heartbeat"
        )
        for signal in (signals.after_setup_logger, signals.after_setup_task_logger):
            signal.connect(celery_handlers_setup, weak=False, dispatch_uid="statecenter_logs")
