"""Gauges read from the database when /metrics is scraped: backlogs, failures, instances.

They describe the shared database, so every machine reports the same values; they are never
written to the multiprocess files, whose values add up. Each query reads one partial index
(sized by the backlog it counts, not by the history), except the instances per state, a
scan of runtime_instance that runs at most once per INSTANCE_STATES_SECONDS per process.
"""

import time
from datetime import timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from runtime.models import Delivery, EventRecord, Instance

INSTANCE_STATES_SECONDS = 60
DELIVERY_OVERDUE = timedelta(seconds=30)  # due this long ago and not taken: stuck
STATEMENT_TIMEOUT_MS = 2000
PENDING = (EventRecord.Status.ACCEPTED, EventRecord.Status.PROCESSING)

_instance_states: tuple[float, list] = (0.0, [])


def forget() -> None:
    """Read the instances per state again at the next scrape (tests)."""
    global _instance_states
    _instance_states = (0.0, [])


def _gauge(name: str, documentation: str, labels=(), samples=()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


class DatabaseCollector:
    """prometheus-client collector of the database gauges; `statecenter_database_up` says
    whether they could be read (0: none of the others this time)."""

    def collect(self):
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:  # a slow database fails the scrape
                        cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
                families = [*_backlogs(timezone.now()), _instances()]
        except DatabaseError:
            yield _gauge("statecenter_database_up", "1 if the database gauges could be read.",
                         samples=[((), 0)])  # fmt: skip
            return
        yield _gauge("statecenter_database_up", "1 if the database gauges could be read.",
                     samples=[((), 1)])  # fmt: skip
        yield from families


def _age(now, oldest) -> float:
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


def _backlogs(now) -> list[GaugeMetricFamily]:
    # event_pending_idx (accepted or processing)
    events = {
        row["status"]: row
        for row in EventRecord.objects.filter(status__in=PENDING)
        .values("status")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by()
    }
    oldest_event = min((row["oldest"] for row in events.values()), default=None)
    # delivery_stream_idx (pending)
    deliveries = Delivery.objects.filter(status=Delivery.Status.PENDING).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    failed = EventRecord.objects.filter(
        status=EventRecord.Status.FAILED
    ).count()  # event_failed_idx
    # event_due_idx and delivery_due_idx: leases or due times that passed
    expired_events = EventRecord.objects.filter(
        status=EventRecord.Status.PROCESSING, next_attempt_at__lte=now
    ).count()
    overdue_deliveries = Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=now - DELIVERY_OVERDUE
    ).count()
    return [
        _gauge(
            "statecenter_async_backlog_events",
            "Async events waiting (accepted) or being applied (processing).",
            ["status"],
            [((status,), events.get(status, {}).get("n", 0)) for status in PENDING],
        ),
        _gauge(
            "statecenter_async_backlog_oldest_age_seconds",
            "Age of the oldest async event not yet done or failed; 0 without a backlog.",
            samples=[((), _age(now, oldest_event))],
        ),
        _gauge(
            "statecenter_delivery_backlog",
            "Deliveries pending (not yet delivered or given up).",
            samples=[((), deliveries["n"])],
        ),
        _gauge(
            "statecenter_delivery_backlog_oldest_age_seconds",
            "Age of the oldest pending delivery; 0 without a backlog.",
            samples=[((), _age(now, deliveries["oldest"]))],
        ),
        _gauge(
            "statecenter_failed_events",
            "Async events that ended failed (kept until someone deletes them).",
            samples=[((), failed)],
        ),
        _gauge(
            "statecenter_expired_leases",
            "Work a worker took and did not finish in time: events still processing after "
            "their lease, deliveries due more than 30 s ago and not taken.",
            ["kind"],
            [(("event",), expired_events), (("delivery",), overdue_deliveries)],
        ),
    ]


def _instances() -> GaugeMetricFamily:
    global _instance_states
    read_at, rows = _instance_states
    if time.monotonic() - read_at >= INSTANCE_STATES_SECONDS:
        rows = list(
            Instance.objects.values_list("flow__code", "state").annotate(n=Count("pk")).order_by()
        )
        _instance_states = (time.monotonic(), rows)
    return _gauge(
        "statecenter_instances",
        f"Instances per flow and current state (read at most every {INSTANCE_STATES_SECONDS} s).",
        ["flow", "state"],
        [((flow, state), n) for flow, state, n in rows],
    )
