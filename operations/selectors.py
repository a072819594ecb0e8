"""Reads of the platform's running state, shared by /metrics and the admin's operations page.

Each query reads one partial index, sized by the backlog it counts and not by the history:
event_pending_idx (accepted or processing), event_failed_idx (failed), event_due_idx and
delivery_due_idx (leases and due times), delivery_stream_idx (pending deliveries). Narrowed
to one flow, each joins the instance (or the event a delivery is about) by primary key. The
instances per state are a scan of runtime_instance, read at most once per
INSTANCE_STATES_SECONDS per process.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import BigIntegerField, Count, Exists, Min, OuterRef, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from operations.models import RollupMark, TransitionCount
from operations.rollups import MARK
from runtime.models import Delivery, EventRecord, Instance

INSTANCE_STATES_SECONDS = 60
DELIVERY_OVERDUE = timedelta(seconds=30)  # due this long ago and not taken: stuck
PENDING = (EventRecord.Status.ACCEPTED, EventRecord.Status.PROCESSING)


@dataclass(frozen=True)
class Backlog:
    """How many items wait, and since when the oldest of them (None without any)."""

    count: int = 0
    oldest: datetime | None = None

    def age_seconds(self, now) -> float:
        return max((now - self.oldest).total_seconds(), 0.0) if self.oldest else 0.0


@dataclass(frozen=True)
class Backlogs:
    events: dict  # status (accepted, processing) -> Backlog, by when they were accepted
    deliveries: Backlog  # pending, by when they were written
    failed_events: int
    expired_events: Backlog  # processing past their lease, by when the lease ended
    overdue_deliveries: Backlog  # pending, due more than DELIVERY_OVERDUE ago, by due time

    @property
    def all_events(self) -> Backlog:
        rows = self.events.values()
        oldest = min((b.oldest for b in rows if b.oldest), default=None)
        return Backlog(sum(b.count for b in rows), oldest)


def flow_events(flow_id: int | None):
    """Every event record, or those of one flow's instances."""
    events = EventRecord.objects.all()
    return events if flow_id is None else events.filter(instance__flow_id=flow_id)


def flow_deliveries(flow_id: int | None):
    """Every delivery, or those of one flow: its subscribers' and its events' result callbacks.

    Both kinds of payload carry the event's id, so a delivery is the flow's when that event
    is (a primary-key lookup per delivery the outer query keeps).
    """
    deliveries = Delivery.objects.all()
    if flow_id is None:
        return deliveries
    event_id = Cast(KT("payload__eventId"), BigIntegerField())
    of_flow = EventRecord.objects.filter(pk=OuterRef("event_id"), instance__flow_id=flow_id)
    return deliveries.alias(event_id=event_id).filter(
        Q(subscription__flow_id=flow_id) | Exists(of_flow)
    )


def _backlog(queryset, field: str) -> Backlog:
    row = queryset.aggregate(n=Count("pk"), oldest=Min(field))
    return Backlog(row["n"], row["oldest"])


def backlogs(*, now, flow_id: int | None = None) -> Backlogs:
    """The async and delivery backlogs, failed events and expired leases (of one flow)."""
    events, deliveries = flow_events(flow_id), flow_deliveries(flow_id)
    pending = {
        row["status"]: Backlog(row["n"], row["oldest"])
        for row in events.filter(status__in=PENDING)
        .values("status")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by()
    }
    return Backlogs(
        events={status: pending.get(status, Backlog()) for status in PENDING},
        deliveries=_backlog(deliveries.filter(status=Delivery.Status.PENDING), "created_at"),
        failed_events=events.filter(status=EventRecord.Status.FAILED).count(),
        expired_events=_backlog(
            events.filter(status=EventRecord.Status.PROCESSING, next_attempt_at__lte=now),
            "next_attempt_at",
        ),
        overdue_deliveries=_backlog(
            deliveries.filter(
                status=Delivery.Status.PENDING, next_attempt_at__lte=now - DELIVERY_OVERDUE
            ),
            "next_attempt_at",
        ),
    )


_instance_states: tuple[float, datetime | None, list] = (0.0, None, [])


def forget_instance_states() -> None:
    """Count the instances per state again at the next read (tests)."""
    global _instance_states
    _instance_states = (0.0, None, [])


def instance_states() -> tuple[datetime, list[tuple[int, str, int, str, int]]]:
    """When they were counted, and the instances per (flow id, flow code, machine id, state).

    One scan of runtime_instance, kept for INSTANCE_STATES_SECONDS in this process.
    """
    global _instance_states
    read_at, counted_at, rows = _instance_states
    if counted_at is None or time.monotonic() - read_at >= INSTANCE_STATES_SECONDS:
        counted_at = timezone.now()
        rows = list(
            Instance.objects.values_list("flow_id", "flow__code", "machine_id", "state")
            .annotate(n=Count("pk"))
            .order_by()
        )
        _instance_states = (time.monotonic(), counted_at, rows)
    return counted_at, rows


def rollup_mark():
    """How far the transition counts have read history (None before the first run)."""
    return RollupMark.objects.filter(name=MARK).first()


def transition_counts(*, transition_ids, since) -> dict[tuple[int, str], int]:
    """Times each (transition id, source state) was taken in the hours from `since` on, from
    the rolled-up counts (transition_count_unique: one index range per transition)."""
    rows = (
        TransitionCount.objects.filter(transition_id__in=list(transition_ids), hour__gte=since)
        .values_list("transition_id", "from_state")
        .annotate(n=Sum("count"))
        .order_by()
    )
    return {(transition_id, state): n for transition_id, state, n in rows}
