"""The PostgreSQL paths of a sync event against the ORM path.

The compare-and-set (runtime/cas.py, paths without actions, timers or subscribers), the
locking fast path (runtime/fastpath.py, forced with cas.TRIES = 0) and the ORM path: the same
events on an instance each must leave the same rows and answer the same outcomes and errors.
Both PostgreSQL paths take two statements per event; the compare-and-set takes no lock and,
outside a transaction, runs in autocommit.
"""

import json
from types import SimpleNamespace

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.exceptions import NotFound, PlatformError
from machines.models import Flow
from runtime import cas, services, statements
from runtime.models import Delivery, EventRecord, HistoryEntry, Instance, Subscription, Timer
from tests.conftest import example_seed
from tests.runtime.extensions import extended
from tests.runtime.helpers import online

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

IDS = ("eventId", "instanceId", "subscriptionId", "at", "businessKey")


def _orm_path(monkeypatch):
    monkeypatch.setattr(services, "connection", SimpleNamespace(vendor="sqlite"))


def _fire_all(flow_code: str, key: str, steps: list[dict]) -> tuple[list, tuple]:
    instance = services.instance_create(flow_code=flow_code, business_key=key, context={"n": 1})
    answers = []
    for step in steps:
        try:
            answer = services.instance_event_fire(instance_id=instance.pk, **step)
            answers.append({k: v for k, v in answer.items() if k not in IDS})
        except PlatformError as exc:
            answers.append((exc.code, {k: v for k, v in exc.details.items() if k != "eventId"}))
        answers.append(list(Timer.objects.filter(instance=instance).values_list("state", "event")))
    return answers, _rows(instance.pk)


def _rows(instance_id: int) -> tuple:
    instance = Instance.objects.get(pk=instance_id)
    records = [
        (e.event, e.role, e.context, e.request_id, e.fingerprint, e.status, e.error, e.is_async,
         e.expected_state, e.entry_revision, e.callback_url, e.attempts, e.next_attempt_at,
         {k: v for k, v in (e.result or {}).items() if k not in IDS},
         e.created_at is not None, e.finished_at is not None)
        for e in EventRecord.objects.filter(instance=instance).order_by("id")
    ]  # fmt: skip
    history = [
        (h.event, h.from_state, h.to_state, h.transition_id, h.request_id,
         h.event_record.event if h.event_record else None,
         h.at == h.event_record.finished_at if h.event_record else None)
        for h in HistoryEntry.objects.filter(instance=instance).select_related("event_record")
    ]  # fmt: skip
    timers = list(
        Timer.objects.filter(instance=instance).values_list("state", "event", "entry_revision")
    )
    deliveries = [
        {k: v for k, v in d.payload.items() if k not in IDS}
        for d in Delivery.objects.filter(stream__endswith=f":i{instance_id}").order_by("id")
    ]
    return (
        instance.state,
        instance.context,
        instance.event_counts,
        instance.revision,
        instance.updated_at >= instance.created_at,
        records,
        history,
        timers,
        deliveries,
    )


DESIGN_STEPS = [
    {"event": "E1", "context": {"amount": 5}, "request_id": "r-1"},
    {"event": "E1", "context": {"amount": 5}, "request_id": "r-1"},  # a replay
    {"event": "E1", "context": {"amount": 6}, "request_id": "r-1"},  # another body
    {"event": "E11", "role": 3, "expected_state": "S3"},  # not there
    {"event": "E11", "expected_state": "S1", "request_id": "r-2"},
    {"event": "NOPE"},
    {"event": "E2", "context": {"nested": {"a": [1, 2.5, None, "x"]}, "note": 'crème "b" \\ 中文'}},
    {"event": "E3"},
    {"event": "E4"},
    {"event": "E4", "request_id": "r-4"},
    {"event": "E4"},
    {"event": "E4"},
]


def _both_paths(monkeypatch, flow_code: str, steps: list[dict], *, locked: bool = False):
    if locked:  # no compare-and-set: every event takes the row lock
        monkeypatch.setattr(cas, "TRIES", 0)
    fast = _fire_all(flow_code, "fast", steps)
    _orm_path(monkeypatch)
    orm = _fire_all(flow_code, "orm", steps)
    return fast, orm


@pytest.mark.parametrize("locked", [False, True], ids=["compare-and-set", "locked"])
def test_the_fast_path_answers_and_stores_what_the_orm_path_does(locked):
    online(example_seed("design-example"))
    mp = pytest.MonkeyPatch()
    try:
        (fast_answers, fast_rows), (orm_answers, orm_rows) = _both_paths(
            mp, "design-example", DESIGN_STEPS, locked=locked
        )
    finally:
        mp.undo()
    assert fast_answers == orm_answers
    assert fast_rows == orm_rows
    assert fast_rows[0] == "S4" and len(fast_rows[6]) > len(fast_rows[5]) + 1  # choice hops
    assert any(isinstance(a, tuple) and a[0] == "IDEMPOTENCY_MISMATCH" for a in fast_answers)


@pytest.mark.parametrize("locked", [False, True], ids=["compare-and-set", "locked"])
def test_timers_and_subscribers_are_the_same_on_both_paths(monkeypatch, locked):
    doc = example_seed("audit")
    doc["smInfo"]["flowCode"] = "timed"
    doc["smTransitions"].append(dict(doc["smTransitions"][1], eventValue="EXPIRE", timerSeconds=60))
    doc["smTransitions"].append(dict(doc["smTransitions"][3], eventValue="LATE", timerSeconds=90))
    online(json.loads(json.dumps(doc)))
    flow = Flow.objects.get(code="timed")
    Subscription.objects.create(flow=flow, url="http://127.0.0.1:9/all", states=None)
    Subscription.objects.create(flow=flow, url="http://127.0.0.1:9/mom", states=["MOM_PASS"])
    Flow.objects.filter(pk=flow.pk).update(has_subscribers=True)
    steps = [{"event": "PASS", "role": 1}, {"event": "PASS"}, {"event": "DONE"}]
    (fast_answers, fast_rows), (orm_answers, orm_rows) = _both_paths(
        monkeypatch, "timed", steps, locked=locked
    )
    assert fast_answers == orm_answers
    assert fast_rows == orm_rows
    assert fast_rows[8], "subscribers were notified"
    assert fast_answers[1] == [("DAD_PASS", "LATE")], "the timer of the state entered is armed"


def _prepared() -> list[str]:
    with connection.cursor() as cursor:  # the prepared statements of this connection
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_sync_event_without_actions_takes_two_statements_and_no_lock():
    online(example_seed("design-example"))
    instance = services.instance_create(flow_code="design-example", business_key="k")
    services.instance_event_fire(instance_id=instance.pk, event="E1")  # compiles the machine
    with CaptureQueriesContext(connection) as queries:
        services.instance_event_fire(instance_id=instance.pk, event="E11", request_id="q")
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) == 2, sql
    assert "FOR UPDATE" not in sql[0] and "clients_flowgrant" in sql[0]
    assert "revision = %(revision)s" in sql[1] and "INSERT INTO runtime_historyentry" in sql[1]
    prepared = _prepared()  # both are prepared statements of this connection
    assert any("clients_flowgrant" in p and "FOR UPDATE" not in p for p in prepared), prepared
    assert any(p.lstrip().startswith("WITH upd AS (") for p in prepared), prepared


def test_the_locked_path_takes_two_statements(monkeypatch):
    monkeypatch.setattr(cas, "TRIES", 0)
    online(example_seed("design-example"))
    instance = services.instance_create(flow_code="design-example", business_key="k")
    services.instance_event_fire(instance_id=instance.pk, event="E1")  # compiles the machine
    with CaptureQueriesContext(connection) as queries:
        services.instance_event_fire(instance_id=instance.pk, event="E11", request_id="q")
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) == 2, sql
    assert "FOR UPDATE" in sql[0] and "INSERT INTO runtime_historyentry" in sql[1]
    prepared = _prepared()
    assert any("FOR UPDATE OF i" in p for p in prepared), prepared
    assert any("INSERT INTO runtime_historyentry" in p for p in prepared), prepared


def test_an_event_into_a_state_with_an_enter_action_takes_the_locking_path():
    """Its outbox row goes in the event's transaction: the compare-and-set reads, decides and
    hands over to the lock; a state without one keeps the two statements."""
    online(extended(enter={"S1": "http://127.0.0.1:9/enter"}))
    instance = services.instance_create(
        flow_code="design-example", business_key="k", context={"amount": 5}
    )
    services.instance_event_fire(instance_id=instance.pk, event="E1")  # compiles the machine
    with CaptureQueriesContext(connection) as queries:
        services.instance_event_fire(instance_id=instance.pk, event="E11", request_id="q")
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert [s.split(None, 1)[0] for s in sql] == ["SELECT", "SELECT", "WITH", "INSERT"], sql
    assert sql[0] == cas.READ and "FOR UPDATE OF i" in sql[1]
    assert "INSERT INTO runtime_historyentry" in sql[2] and "runtime_delivery" in sql[3]
    assert Delivery.objects.filter(stream=f"a:i{instance.pk}").count() == 2

    services.instance_event_fire(instance_id=instance.pk, event="E2")  # S1 -> C1 -> S21/S22
    with CaptureQueriesContext(connection) as queries:
        services.instance_event_fire(instance_id=instance.pk, event="E3")  # into S3: none
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert sql == [cas.READ, cas.WRITE]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_compare_and_set_runs_in_autocommit(monkeypatch):
    """Two statements, each its own transaction: no BEGIN, no COMMIT, no savepoint."""
    online(example_seed("design-example"))
    instance = services.instance_create(flow_code="design-example", business_key="k")
    services.instance_event_fire(instance_id=instance.pk, event="E1")
    seen, run = [], statements.run_prepared

    def watched(sql, params, **kwargs):
        raw = connection.connection
        seen.append((sql, raw.autocommit, connection.in_atomic_block, raw.info.transaction_status))
        return run(sql, params, **kwargs)

    monkeypatch.setattr(statements, "run_prepared", watched)
    monkeypatch.setattr(cas, "run_prepared", watched)
    with CaptureQueriesContext(connection) as queries:
        answer = services.instance_event_fire(instance_id=instance.pk, event="E11")
    assert answer["state"] == "S1"
    assert [s for s, *_ in seen] == [cas.READ, cas.WRITE]
    idle = psycopg.pq.TransactionStatus.IDLE
    assert all(tuple(flags) == (True, False, idle) for _, *flags in seen), seen
    assert [q["sql"] for q in queries.captured_queries] == [cas.READ, cas.WRITE]


def test_an_unknown_instance_is_not_found():
    with pytest.raises(NotFound):
        services.instance_event_fire(instance_id=987654321, event="E1")
