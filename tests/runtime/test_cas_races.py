"""The compare-and-set of a sync event (runtime/cas.py) under races, on PostgreSQL.

Each thread fires through its own connection, in autocommit as a request would. Whatever
wins, events on one instance stay serialised: never two applied from the same state, the
revision counts the applied events, the history is one chain and no count is lost.
"""

import json
import threading
from collections import Counter

import pytest
from django.db import connection

from config.exceptions import PlatformError
from runtime import async_events, cas, services
from runtime.models import EventRecord, Instance
from tests.conftest import example_seed
from tests.runtime.helpers import online

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _instance(flow_code: str = "design-example", events=("E1",)) -> Instance:
    if flow_code == "design-example":
        online(example_seed("design-example"))
    instance = services.instance_create(
        flow_code=flow_code, business_key="k", context={"amount": 5}
    )
    for event in events:
        services.instance_event_fire(instance_id=instance.pk, event=event)
    return Instance.objects.get(pk=instance.pk)


def _at_once(calls: list) -> list:
    """Run each call on its own thread and connection, all released together; their answers
    (an outcome, or the error's code and details)."""
    barrier = threading.Barrier(len(calls))
    answers = [None] * len(calls)

    def run(index, call):
        try:
            connection.ensure_connection()
            barrier.wait()
            answers[index] = call()
        except PlatformError as exc:
            answers[index] = (exc.code, exc.details)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _fire(instance_id: int, event: str, **more):
    return lambda: services.instance_event_fire(instance_id=instance_id, event=event, **more)


def _assert_serialised(instance: Instance) -> None:
    """One chain of hops, one revision per applied event, every applied event counted."""
    instance.refresh_from_db()
    applied = EventRecord.objects.filter(instance=instance, status="done")
    assert instance.revision == applied.count()
    assert instance.event_counts == dict(Counter(applied.values_list("event", flat=True)))
    hops = list(instance.history.order_by("id").values_list("from_state", "to_state"))
    for (_, previous_to), (from_state, _) in zip(hops, hops[1:], strict=False):
        assert from_state == previous_to, hops
    assert hops[-1][1] == instance.state


def _count_paths(monkeypatch) -> Counter:
    """How many events each path wrote: cas.apply_event's answers, by kind."""
    seen, apply = Counter(), cas.apply_event

    def counted(instance, record):
        outcome = apply(instance, record)
        seen["cas" if isinstance(outcome, dict) else outcome] += 1
        return outcome

    monkeypatch.setattr(cas, "apply_event", counted)
    return seen


def test_eight_threads_of_25_self_transitions_all_apply_once(monkeypatch):
    instance = _instance()
    paths = _count_paths(monkeypatch)

    def twenty_five():
        return [_fire(instance.pk, "E11")()["state"] for _ in range(25)]

    answers = _at_once([twenty_five] * 8)
    assert answers == [["S1"] * 25] * 8
    instance.refresh_from_db()
    assert instance.revision == 1 + 200 and instance.event_counts == {"E1": 1, "E11": 200}
    _assert_serialised(instance)
    assert paths["cas"] > 0 and paths[cas.LOST] > 0, paths  # the race was run, and lost


def test_two_different_events_from_one_state_one_wins():
    """From S1, E2 leaves through a choice to S2 or S3, where E11 has no transition."""
    instance = _instance()
    answers = _at_once([_fire(instance.pk, "E2")] * 6 + [_fire(instance.pk, "E11")] * 6)
    e2 = [a for a in answers[:6] if isinstance(a, dict)]
    assert len(e2) == 1, answers  # one E2 left S1; the others found no E2 where it went
    assert all(a == ("NO_TRANSITION", a[1]) for a in answers[:6] if not isinstance(a, dict))
    late_e11 = [a for a in answers[6:] if not isinstance(a, dict)]
    assert all(a[0] == "NO_TRANSITION" for a in late_e11), answers
    _assert_serialised(instance)
    instance.refresh_from_db()
    assert instance.state == e2[0]["state"] and instance.state != "S1"


def test_a_lost_race_reads_and_decides_again(monkeypatch):
    """Another event commits between this one's read and its write: the write writes nothing,
    and the event is decided again on the state the other left."""
    instance = _instance()
    decide, raced = cas.decide, []

    def racing(inst, record):
        if not raced:
            raced.append(True)
            other = threading.Thread(
                target=lambda: (_fire(instance.pk, "E11")(), connection.close())
            )
            other.start()
            other.join()
        return decide(inst, record)

    monkeypatch.setattr(cas, "decide", racing)
    answer = services.instance_event_fire(instance_id=instance.pk, event="E11")
    assert answer["state"] == "S1"
    instance.refresh_from_db()
    assert instance.revision == 3 and instance.event_counts["E11"] == 2
    _assert_serialised(instance)


def test_an_async_event_accepted_between_read_and_write_makes_the_sync_event_busy(monkeypatch):
    instance = _instance()
    decide = cas.decide

    def accepting(inst, record):
        if not EventRecord.objects.filter(is_async=True).exists():
            async_events.event_accept(instance_id=instance.pk, event="E11")
        return decide(inst, record)

    monkeypatch.setattr(cas, "decide", accepting)
    with pytest.raises(PlatformError) as refused:
        services.instance_event_fire(instance_id=instance.pk, event="E11")
    assert refused.value.code == "INSTANCE_BUSY"
    assert refused.value.details == {"pendingEvents": 1}
    instance.refresh_from_db()
    assert instance.revision == 1 and instance.state == "S1"


def test_sync_events_race_async_accepts_busy_or_applied():
    instance = _instance()
    accept = lambda: async_events.event_accept(instance_id=instance.pk, event="E11").pk  # noqa: E731
    answers = _at_once([_fire(instance.pk, "E11")] * 8 + [accept] * 2)
    busy = [a for a in answers[:8] if isinstance(a, tuple)]
    assert all(a[0] == "INSTANCE_BUSY" for a in busy), answers
    assert all(a["state"] == "S1" for a in answers[:8] if isinstance(a, dict)), answers
    assert all(a[1]["pendingEvents"] >= 1 for a in busy)
    _assert_serialised(instance)
    pending = EventRecord.objects.filter(instance=instance, status="accepted").count()
    assert pending == 2
    with pytest.raises(PlatformError) as refused:  # still waiting: no sync event goes first
        services.instance_event_fire(instance_id=instance.pk, event="E11")
    assert refused.value.details == {"pendingEvents": 2}


def _acting_flow(callback_server) -> None:
    """design-example as flow "acting": E11 calls an action; E12, a self-transition, none."""
    doc = example_seed("design-example")
    doc["smInfo"]["flowCode"] = "acting"
    e11 = next(t for t in doc["smTransitions"] if t["eventValue"] == "E11")
    doc["smTransitions"].append(dict(e11, eventValue="E12", eventDesc="quiet", transitionDesc="q"))
    e11["transitionAction"] = callback_server.url("/act")
    online(json.loads(json.dumps(doc)))


def test_compare_and_set_events_race_locked_events_with_actions(callback_server, monkeypatch):
    _acting_flow(callback_server)
    callback_server.respond("/act", status=200, delay=0.02)
    instance = _instance("acting")
    paths = _count_paths(monkeypatch)

    def ten(event):
        return lambda: [_fire(instance.pk, event)()["state"] for _ in range(10)]

    answers = _at_once([ten("E11"), ten("E11"), ten("E12"), ten("E12")])
    assert answers == [["S1"] * 10] * 4
    instance.refresh_from_db()
    assert instance.event_counts == {"E1": 1, "E11": 20, "E12": 20}
    assert instance.revision == 41
    assert len(callback_server.requests_to("/act")) == 20  # each action called once
    _assert_serialised(instance)
    assert paths[cas.LOCKED] >= 20 and paths["cas"] > 0, paths


def test_one_request_id_sent_by_five_threads_at_once_applies_once():
    instance = _instance()
    fire = _fire(instance.pk, "E11", request_id="once", context={"n": 1})
    answers = _at_once([fire] * 5)
    assert all(a == answers[0] for a in answers), answers
    assert answers[0]["state"] == "S1"
    instance.refresh_from_db()
    assert instance.revision == 2 and instance.event_counts["E11"] == 1
    assert EventRecord.objects.filter(instance=instance, request_id="once").count() == 1
    _assert_serialised(instance)


def test_one_request_id_with_two_bodies_at_once_applies_one_refuses_the_other():
    instance = _instance()
    one = _fire(instance.pk, "E11", request_id="r", context={"n": 1})
    other = _fire(instance.pk, "E11", request_id="r", context={"n": 2})
    answers = _at_once([one, other] * 3)
    applied = [a for a in answers if isinstance(a, dict)]
    refused = [a for a in answers if not isinstance(a, dict)]
    assert len({json.dumps(a, sort_keys=True) for a in applied}) == 1
    assert refused and all(a[0] == "IDEMPOTENCY_MISMATCH" for a in refused), answers
    instance.refresh_from_db()
    assert instance.revision == 2
    _assert_serialised(instance)
