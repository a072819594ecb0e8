"""What a history replay reads (runtime/replay.py): few queries, each for many instances.

A replay reads its instances' events one query per chunk of instances, ordered by instance
and id and streamed, with only what a step needs; the recorded version's transitions come
from the history rows, one aggregate per chunk; nothing is read per event.
"""

from collections import Counter
from itertools import groupby, islice

from django.db.models import Count
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce

from machines.models import Machine
from machines.selectors import machine_definition
from runtime.models import EventRecord, HistoryEntry

REPLAYED = (EventRecord.Status.DONE, EventRecord.Status.FAILED)
DECIDED_AT = Coalesce("finished_at", "created_at")  # when the event was decided
# An event as `events` reads it, by position (runtime/replay.py reads them so): "caught" is
# the error code of an applied event that its transition's error target caught (an async
# action that kept failing), else None; its time ("at", last) only when asked.
EVENT_FIELDS = ("instance_id", "id", "event", "role", "context", "status", "to_state", "error",
                "expected_state", "caught")  # fmt: skip
IDS_PER_QUERY = 500


def events(
    instance_ids: list[int], *, with_time: bool, most: int
) -> tuple[dict[int, list[tuple]], int | None]:
    """The applied and failed events of these instances in order, by instance: an applied
    event's toState rather than its whole result, its time only `with_time`.

    At most `most` rows are read: past them, the second value is the first instance whose
    events may be missing (None when all were read), so a long history costs no more memory
    than the replay may spend.
    """
    fields = (*EVENT_FIELDS, "at") if with_time else EVENT_FIELDS
    rows = list(
        islice(
            EventRecord.objects.filter(instance_id__in=instance_ids, status__in=REPLAYED)
            .annotate(to_state=KT("result__toState"), caught=KT("result__error__code"))
            .annotate(at=DECIDED_AT)
            .order_by("instance_id", "id")
            .values_list(*fields)
            .iterator(chunk_size=10_000),
            most + 1,
        )
    )
    cut = rows.pop()[0] if len(rows) > most else None
    return {key: list(group) for key, group in groupby(rows, key=lambda e: e[0])}, cut


def recorded_hops(instance_ids: list[int]) -> list[tuple]:
    """(transition id, from, to, event, times) the instances' recorded history took: one
    history row per hop of every applied event."""
    if not instance_ids:
        return []
    return list(
        HistoryEntry.objects.filter(instance_id__in=instance_ids, transition_id__isnull=False)
        .values_list("transition_id", "from_state", "to_state", "event")
        .annotate(times=Count("id"))
        .order_by()
    )


def decided_times(event_ids: list[int]) -> dict:
    """When each of these events was decided (applied, or failed), by id."""
    times = {}
    for start in range(0, len(event_ids), IDS_PER_QUERY):
        part = event_ids[start : start + IDS_PER_QUERY]
        found = EventRecord.objects.filter(pk__in=part).annotate(at=DECIDED_AT)
        times.update(found.values_list("id", "at"))
    return times


def transition_counts(machine: Machine, counts: Counter) -> list[dict]:
    """Every transition of the version as it runs (a comma-list or "*" row once per state it
    leaves, Definition.expanded), in listed order, with how often it was taken.

    `counts` is by (transition id, state it left), which tells the copies of a many-source
    row apart.
    """
    return [
        {
            "transitionId": t.id,
            "fromState": t.source,
            "toState": t.target,
            "event": t.event or None,
            "count": counts.get((t.id, t.source), 0),
        }
        for t in machine_definition(machine=machine).expanded().transitions
    ]
