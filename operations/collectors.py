"""Gauges read from the database when /metrics is scraped: backlogs, failures, instances.

They describe the shared database, so every machine reports the same values; they are never
written to the multiprocess files, whose values add up. The reads are operations.selectors',
shared with the admin's operations page: each reads one partial index (sized by the backlog
it counts, not by the history), except the instances per state, a scan of runtime_instance
that runs at most once per INSTANCE_STATES_SECONDS per process.
"""

from collections import Counter

from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from operations import selectors
from operations.selectors import INSTANCE_STATES_SECONDS, PENDING

STATEMENT_TIMEOUT_MS = 2000


def forget() -> None:
    """Read the instances per state again at the next scrape (tests)."""
    selectors.forget_instance_states()


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


def _backlogs(now) -> list[GaugeMetricFamily]:
    found = selectors.backlogs(now=now)
    events, deliveries = found.events, found.deliveries
    oldest_event, expired_events = found.all_events, found.expired_events.count
    overdue_deliveries = found.overdue_deliveries.count
    return [
        _gauge(
            "statecenter_async_backlog_events",
            "Async events waiting (accepted) or being applied (processing).",
            ["status"],
            [((status,), events[status].count) for status in PENDING],
        ),
        _gauge(
            "statecenter_async_backlog_oldest_age_seconds",
            "Age of the oldest async event not yet done or failed; 0 without a backlog.",
            samples=[((), oldest_event.age_seconds(now))],
        ),
        _gauge(
            "statecenter_delivery_backlog",
            "Deliveries pending (not yet delivered or given up).",
            samples=[((), deliveries.count)],
        ),
        _gauge(
            "statecenter_delivery_backlog_oldest_age_seconds",
            "Age of the oldest pending delivery; 0 without a backlog.",
            samples=[((), deliveries.age_seconds(now))],
        ),
        _gauge(
            "statecenter_failed_events",
            "Async events that ended failed (kept until someone deletes them).",
            samples=[((), found.failed_events)],
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
    per_state: Counter = Counter()
    for _flow_id, flow, _machine_id, state, n in selectors.instance_states()[1]:
        per_state[flow, state] += n  # every version of the flow together
    return _gauge(
        "statecenter_instances",
        f"Instances per flow and current state (read at most every {INSTANCE_STATES_SECONDS} s).",
        ["flow", "state"],
        [((flow, state), n) for (flow, state), n in per_state.items()],
    )
