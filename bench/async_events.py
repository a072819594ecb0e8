"""PLACEHOLDER (issue 7, async part): events accepted and applied per second through Redis and
Celery workers. Not measured yet: async events are being built (DESIGN.md section 6).

What belongs here, for whoever fills it in: start Redis on a free loopback port and N Celery
workers (`celery -A config worker`) with bench.infra.Children (so they are stopped on every
exit), fire `{"event": "GO", "async": true}` at random bench-plain instances through the REST
load generator (bench.load) for the round's window, then wait until every accepted event
record is `done` and report accepted/s (the 202s), applied/s (done records over the time the
workers took), and the accept-to-applied latency p50/p99 from the records' created_at and
finished_at. Return a list of bench.report.Row like the other measurements, e.g. goals
against the sync service's throughput with the same number of processes.
"""

from __future__ import annotations

from bench.report import Row


def async_rows(context: dict) -> list[Row]:
    """The async measurements' rows; for now one row saying they are not measured yet."""
    return [
        Row(
            label="async events via Redis + Celery workers",
            figure="not measured yet",
            goal="(async part of issue 7)",
            verdict="TODO",
        )
    ]
