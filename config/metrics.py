"""The platform's own metrics: what its processes count and time, served at /metrics.

Counters and histograms add up across processes: with PROMETHEUS_MULTIPROC_DIR set when a
process starts, each gunicorn worker and Celery child writes its values to files in that
folder and /metrics sums them (prometheus-client's multiprocess mode). Labels stay bounded:
flow codes, error codes and outcomes, never an instance or event id. Gauges read from the
database at scrape time live in operations/collectors.py.
"""

import contextlib
import os
import socket

from prometheus_client import (
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
    values,
)

# No `_created` series beside each counter and histogram: twice the series for a value that
# multiprocess mode does not report anyway.
disable_created_metrics()


def process_identifier(pid: int | None = None) -> str:
    """Names a process's files in the multiprocess folder: its host and pid, as processes of
    several containers sharing one folder may have the same pid."""
    return f"{socket.gethostname().replace('_', '-')}-{pid or os.getpid()}"


def mark_process_dead(pid: int) -> None:
    """Drop the files of a dead process's live gauges (gunicorn's child_exit)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        multiprocess.mark_process_dead(process_identifier(pid), folder)


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # before any metric is made
    values.ValueClass = values.MultiProcessValue(process_identifier)

SYNC, ASYNC = "sync", "async"  # EVENTS_APPLIED's mode
DELIVERED, RETRIED, FAILED = "delivered", "retried", "failed"  # DELIVERIES' outcome

EVENTS_APPLIED = Counter(
    "statecenter_events_applied",
    "Events applied to an instance, by flow code and mode (sync or async).",
    ["flow", "mode"],
)
EVENTS_REFUSED = Counter(
    "statecenter_events_refused",
    "Events refused with an error code (NO_TRANSITION, GUARD_REJECTED, ...), by flow code.",
    ["flow", "code"],
)
SYNC_EVENT_SECONDS = Histogram(
    "statecenter_sync_event_seconds",
    "Time the sync event service took for one event, applied or refused.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ASYNC_EVENT_SECONDS = Histogram(
    "statecenter_async_event_seconds",
    "Time from an async event's acceptance to its end (done or failed).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
DELIVERIES = Counter(
    "statecenter_deliveries",
    "Delivery attempts (subscriber notifications, async results), by outcome: "
    "delivered, retried (tried again later) or failed (given up).",
    ["outcome"],
)
DELIVERY_SECONDS = Histogram(
    "statecenter_delivery_seconds",
    "Time one delivery attempt's call to its receiver took.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# One value per machine however many worker processes it runs: the newest of them.
WORKER_LAST_TASK = Gauge(
    "statecenter_worker_last_task_timestamp_seconds",
    "Unix time at which a Celery worker process of this machine last finished a task.",
    multiprocess_mode="max",
)


class _Off:
    """What a metric is with METRICS_ENABLED=false: every call does nothing."""

    def labels(self, *args, **kwargs) -> "_Off":
        return self

    def inc(self, amount: float = 1) -> None:
        pass

    def observe(self, amount: float) -> None:
        pass

    def set_to_current_time(self) -> None:
        pass

    def time(self) -> contextlib.nullcontext:
        return contextlib.nullcontext()


# METRICS_ENABLED=false: the processes count and time nothing (/metrics still serves the
# gauges read from the database). For measuring what the counting costs (`make bench`).
if os.environ.get("METRICS_ENABLED", "true").lower() in ("0", "false", "no", "off"):
    EVENTS_APPLIED = EVENTS_REFUSED = SYNC_EVENT_SECONDS = ASYNC_EVENT_SECONDS = _Off()
    DELIVERIES = DELIVERY_SECONDS = WORKER_LAST_TASK = _Off()


def worker_task_finished(**kwargs) -> None:
    """Celery's task_postrun: the worker's heartbeat."""
    WORKER_LAST_TASK.set_to_current_time()


def async_event_ended(flow: str, seconds: float, code: str | None = None) -> None:
    """An async event applied (no code) or failed (its error code), `seconds` after its
    acceptance; called once its end is committed."""
    if code is None:
        EVENTS_APPLIED.labels(flow, ASYNC).inc()
    else:
        EVENTS_REFUSED.labels(flow, code).inc()
    ASYNC_EVENT_SECONDS.observe(max(0.0, seconds))
