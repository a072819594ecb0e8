"""Transition counts per hour, rolled up from history off the hot path.

`history_rollup` reads the history rows written since its watermark (`RollupMark.last_id`)
along the primary key and adds them to TransitionCount, (transition, source state, hour),
in the same transaction as the new watermark: a run counts each row once, and a second run
over the same rows finds nothing new. The periodic task operations.history_rollup runs it.

Rows are read in id order and only as a contiguous run of rows older than `now - settle`.
Ids are taken when a row is inserted, so a row with a smaller id than one already counted
could still be uncommitted; a transaction that writes history inserts it once its actions
are done (at most a task's time limit, 60 s, or a web request's, 30 s, after the row's `at`)
and commits at once, so after TRANSITION_COUNTS_SETTLE_SECONDS (default 120) every row below
a counted one is visible.
The price is freshness: the counts stop that long before the run.

Counts are kept for RETAIN (8 days: the longest window, 7 days, and a day of margin). On its
first run the roll-up starts at the first row of that horizon, found by a binary search on
the primary key (history is written in time order, give or take a transaction's length).
"""

import logging
from datetime import UTC, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from operations.models import RollupMark, TransitionCount
from runtime.models import HistoryEntry

logger = logging.getLogger(__name__)

MARK = "history"
RETAIN = timedelta(days=8)
CHUNK = 50_000  # history rows per transaction
CHUNKS = 20  # transactions per run at most; a longer backlog goes on at the next run


def settle() -> timedelta:
    return timedelta(seconds=getattr(settings, "TRANSITION_COUNTS_SETTLE_SECONDS", 120))


def history_rollup(*, now=None, chunks: int = CHUNKS) -> int:
    """Count the history rows written since the last run; how many rows it read."""
    now = now or timezone.now()
    cutoff, horizon = now - settle(), now - RETAIN
    RollupMark.objects.get_or_create(name=MARK)
    read = 0
    for _ in range(chunks):
        with transaction.atomic():
            mark = RollupMark.objects.select_for_update().get(name=MARK)
            if mark.last_id is None:
                mark.last_id, mark.counted_from = _first_id_since(horizon) - 1, horizon
            rows, caught_up = _roll_chunk(mark, cutoff, horizon)
            mark.ran_at = now
            mark.save()
        read += rows
        if caught_up:
            break
    TransitionCount.objects.filter(hour__lt=horizon - timedelta(hours=1)).delete()
    return read


def _roll_chunk(mark: RollupMark, cutoff, horizon) -> tuple[int, bool]:
    """Add the next rows to the counts and move the mark; (rows read, caught up)."""
    after = HistoryEntry.objects.filter(id__gt=mark.last_id).order_by("id")
    upper = after.values_list("id", flat=True)[CHUNK - 1 : CHUNK].first()
    full = upper is not None
    if not full:
        upper = after.values_list("id", flat=True).last()
        if upper is None:
            mark.counted_until = cutoff
            return 0, True
    rows = after.filter(id__lte=upper)
    # The first row too recent to count ends the run: later ones wait for the next run.
    late = rows.filter(at__gte=cutoff).values_list("id", flat=True).first()
    end = upper if late is None else late - 1
    counts = (
        rows.filter(id__lte=end, transition_id__isnull=False, at__gte=horizon)
        .annotate(hour=TruncHour("at", tzinfo=UTC))
        .values("transition_id", "from_state", "hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    _add(list(counts))
    read = rows.filter(id__lte=end).count() if end > mark.last_id else 0
    caught_up = late is not None or not full
    if caught_up:
        mark.counted_until = cutoff
    elif end > mark.last_id:
        mark.counted_until = HistoryEntry.objects.values_list("at", flat=True).get(id=end)
    mark.last_id = max(mark.last_id, end)
    return read, caught_up


def _add(counts: list[dict]) -> None:
    """Add counts to the stored ones (the caller holds the mark's lock: no one else writes)."""
    if not counts:
        return
    hours = [c["hour"] for c in counts]
    stored = {
        (t.transition_id, t.from_state, t.hour): t
        for t in TransitionCount.objects.filter(
            transition_id__in={c["transition_id"] for c in counts},
            hour__gte=min(hours),
            hour__lte=max(hours),
        )
    }
    new, changed = [], []
    for c in counts:
        transition_id, from_state, hour = c["transition_id"], c["from_state"] or "", c["hour"]
        row = stored.get((transition_id, from_state, hour))
        if row is None:
            row = TransitionCount(transition_id=transition_id, from_state=from_state, hour=hour)
            new.append(row)
        else:
            changed.append(row)
        row.count += c["n"]
    TransitionCount.objects.bulk_update(changed, ["count"], batch_size=500)
    TransitionCount.objects.bulk_create(new, batch_size=500)


def _first_id_since(moment) -> int:
    """The smallest history id whose row is from `moment` or later (one past the last if
    none is): a binary search on the primary key, about log2(rows) lookups."""
    ids = HistoryEntry.objects.order_by("id").values_list("id", flat=True)
    low, last = ids.first(), ids.last()
    if low is None:
        return 1
    high = last + 1
    while low < high:
        middle = (low + high) // 2
        row = HistoryEntry.objects.filter(id__gte=middle).order_by("id").values("id", "at")[:1]
        row = row[0] if row else None
        if row is None or row["at"] >= moment:
            high = middle
        else:
            low = row["id"] + 1
    return low
