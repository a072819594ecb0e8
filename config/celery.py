"""The Celery application; tasks live in the apps' tasks.py modules."""

import logging
import os
import signal
import threading
import time

from celery import Celery, signals
from django.db import close_old_connections

from config.request_budget import connect_task_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
logger = logging.getLogger(__name__)

# A worker asked to stop (SIGTERM) is gone within 10 s, the shortest time orchestrators give
# before they kill it (compose's default). Celery's warm shutdown alone waits for the running
# tasks however long they take, and one task applies all of an instance's queued events, each
# maybe waiting on a slow action: workers were seen alive 45 s after SIGTERM. So the running
# tasks get STOP_GRACE_SECONDS to finish; then Celery's cold shutdown cancels them and gives
# their messages back to the broker (it takes 2-3 s). A worker still alive at
# STOP_DEADLINE_SECONDS exits there: the prefork pool of a broker without an event loop (the
# filesystem transport) can hang for good once a child is cancelled.
STOP_GRACE_SECONDS = 5
STOP_DEADLINE_SECONDS = 8

app = Celery("statecenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
connect_task_signals()  # one expression budget per task


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(**kwargs) -> None:
    """Around every task, what Django does around a request: close a database connection
    that broke (an outage) or passed CONN_MAX_AGE; keep a healthy one (CELERY_DB_REUSE_MAX)."""
    close_old_connections()


_stopping = threading.Event()


@signals.worker_shutting_down.connect
def _stop_in_time(how: str, **kwargs) -> None:
    """Bound a warm shutdown (sent in the worker's main process, on each SIGTERM or SIGINT).

    Cutting a task short loses nothing: the database holds the work, and the event the task
    was applying is taken again by another worker once its lease expires.
    """
    if how != "Warm" or _stopping.is_set():
        return
    _stopping.set()
    threading.Thread(target=_escalate, name="statecenter-stop", daemon=True).start()


def _escalate() -> None:
    time.sleep(STOP_GRACE_SECONDS)
    logger.warning("still stopping %s s after the stop signal: cancelling the running tasks",
                   STOP_GRACE_SECONDS)  # fmt: skip
    os.kill(os.getpid(), signal.SIGQUIT)  # Celery's cold shutdown
    time.sleep(STOP_DEADLINE_SECONDS - STOP_GRACE_SECONDS)
    logger.error("the worker did not stop %s s after the stop signal: exiting now",
                 STOP_DEADLINE_SECONDS)  # fmt: skip
    os._exit(1)  # no cleanup: the hung shutdown is in the cleanup
