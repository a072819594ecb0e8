"""The hourly transition counts rolled up from history: exact, once per row, off the hot path."""

from collections import Counter
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from operations import rollups, selectors
from operations.models import RollupMark, TransitionCount
from runtime.models import HistoryEntry
from runtime.services import instance_create, instance_event_fire
from tests.conftest import example_seed
from tests.runtime.helpers import online

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_settling(settings):
    settings.TRANSITION_COUNTS_SETTLE_SECONDS = 0


@pytest.fixture
def audit():
    return online(example_seed("audit"))


def _fire(count: int, prefix: str = "r") -> None:
    for n in range(count):
        instance = instance_create(flow_code="audit", business_key=f"{prefix}{n}")
        instance_event_fire(instance_id=instance.pk, event="PASS")


def stored() -> Counter:
    counts = Counter()
    for row in TransitionCount.objects.all():
        counts[row.transition_id, row.from_state, row.hour] += row.count
    return counts


def from_history() -> Counter:
    counts = Counter()
    for hop in HistoryEntry.objects.exclude(transition_id=None):
        hour = hop.at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        counts[hop.transition_id, hop.from_state, hour] += 1
    return counts


def test_the_counts_are_the_historys_per_transition_state_and_hour(audit):
    _fire(3)
    HistoryEntry.objects.filter(
        pk=HistoryEntry.objects.exclude(transition_id=None).first().pk
    ).update(at=timezone.now() - timedelta(hours=5))
    read = rollups.history_rollup()
    assert read == HistoryEntry.objects.count()  # creation hops are read, not counted
    assert stored() == from_history()
    assert sum(stored().values()) == HistoryEntry.objects.exclude(transition_id=None).count() > 0


def test_a_second_run_counts_nothing_twice_and_picks_up_new_history(audit):
    _fire(2)
    rollups.history_rollup()
    first = stored()
    assert rollups.history_rollup() == 0
    assert stored() == first
    _fire(3, prefix="later")
    assert rollups.history_rollup() > 0
    assert stored() == from_history()
    assert sum(stored().values()) == sum(first.values()) + 3


def test_rows_younger_than_the_settling_time_wait_for_a_later_run(audit, settings):
    settings.TRANSITION_COUNTS_SETTLE_SECONDS = 120
    _fire(2)
    assert rollups.history_rollup() == 0  # everything was written just now
    mark = RollupMark.objects.get(name=rollups.MARK)
    assert mark.counted_until < timezone.now() - timedelta(seconds=119)
    rollups.history_rollup(now=timezone.now() + timedelta(seconds=121))
    assert stored() == from_history()


def test_a_long_backlog_is_read_in_chunks_without_gaps(audit, monkeypatch):
    monkeypatch.setattr(rollups, "CHUNK", 3)
    _fire(5)
    rollups.history_rollup(chunks=2)  # 6 of the 10 rows
    assert RollupMark.objects.get(name=rollups.MARK).last_id < HistoryEntry.objects.latest("id").pk
    rollups.history_rollup()
    assert stored() == from_history()


def test_the_first_run_starts_at_the_retention_horizon(audit):
    _fire(4)
    old = list(HistoryEntry.objects.order_by("id").values_list("id", flat=True)[:4])
    HistoryEntry.objects.filter(pk__in=old).update(at=timezone.now() - timedelta(days=30))
    rollups.history_rollup()
    mark = RollupMark.objects.get(name=rollups.MARK)
    assert mark.last_id == HistoryEntry.objects.latest("id").pk
    assert stored() == from_history() - Counter(
        {k: v for k, v in from_history().items() if k[2] < timezone.now() - timedelta(days=8)}
    )
    assert mark.counted_from < timezone.now() - timedelta(days=7)


def test_counts_older_than_the_retention_are_dropped(audit):
    TransitionCount.objects.create(
        transition_id=1, from_state="S1", hour=timezone.now() - timedelta(days=9), count=4
    )
    rollups.history_rollup()
    assert not TransitionCount.objects.filter(transition_id=1).exists()


def test_the_window_query_reads_the_rollup_not_history(audit):
    _fire(2)
    rollups.history_rollup()
    ids = set(audit.transitions.values_list("pk", flat=True))
    since = timezone.now() - timedelta(hours=2)
    with CaptureQueriesContext(connection) as queries:
        counts = selectors.transition_counts(transition_ids=ids, since=since)
    assert len(queries) == 1 and "runtime_historyentry" not in queries[0]["sql"]
    assert sum(counts.values()) == HistoryEntry.objects.exclude(transition_id=None).count()


def test_the_beat_runs_the_rollup_task_every_minute(audit, settings):
    from config.celery import app
    from operations.tasks import history_rollup

    entries = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == history_rollup.name
    ]
    assert [e["schedule"] for e in entries] == [60.0]
    assert history_rollup.name in app.tasks
    _fire(1)
    assert history_rollup() == HistoryEntry.objects.count()  # the task body, in this process
    assert stored() == from_history()
