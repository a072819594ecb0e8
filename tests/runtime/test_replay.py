"""Replaying recorded history through another version (runtime/replay.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.exceptions import ValidationError
from machines.exceptions import MachineInvalid
from runtime import replay
from runtime.async_events import instance_events_process
from runtime.models import EventRecord, HistoryEntry, Instance, Timer
from runtime.replay import machine_replay_history
from runtime.services import instance_create, instance_event_fire
from runtime.sweep import timers_fire_due
from tests.runtime.helpers import footprint, online
from tests.runtime.replay_history import (
    draft_with_lower_threshold,
    flow_seed,
    new_version,
    recorded_history,
)

pytestmark = pytest.mark.django_db(transaction=True)


def by_key(answer) -> dict:
    return {d["businessKey"]: d for d in answer["differences"]}


def counts(transitions) -> dict:
    return {(t["fromState"], t["event"], t["toState"]): t["count"] for t in transitions}


def test_a_draft_that_changes_a_case_shows_the_instances_whose_first_difference_is_that_event():
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])
    e2 = {
        key: EventRecord.objects.get(instance_id=ids[key], event="E2").pk for key in ("mid", "none")
    }

    answer = machine_replay_history(machine=draft)

    assert (answer["smId"], answer["fromSmId"]) == (draft.pk, ids["machine"].pk)
    assert answer["instances"] == {"replayed": 4, "same": 2, "differing": 2}
    assert answer["events"] == {"replayed": 10, "skipped": 0}
    assert answer["truncated"] is False and "stoppedBy" not in answer
    mid, none = by_key(answer)["mid"], by_key(answer)["none"]
    assert (mid["eventId"], mid["event"], mid["fromState"]) == (e2["mid"], "E2", "S1")
    assert mid["recorded"] == {"applied": True, "toState": "S22"}
    assert mid["replayed"] == {"applied": True, "toState": "S21"}
    assert (none["eventId"], none["event"]) == (e2["none"], "E2")
    assert none["recorded"]["applied"] is False
    assert none["recorded"]["error"]["code"] == "EXPRESSION_ERROR"  # refused by the recorded
    assert none["replayed"] == {"applied": True, "toState": "S22"}  # accepted by the draft


def test_it_stores_nothing_and_changes_no_instance():
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])
    before = {key: footprint(ids[key]) for key in ("big", "mid", "small", "none")}
    rows = (Instance.objects.count(), EventRecord.objects.count(), HistoryEntry.objects.count())

    machine_replay_history(machine=draft)

    assert {key: footprint(ids[key]) for key in before} == before
    assert rows == (
        Instance.objects.count(),
        EventRecord.objects.count(),
        HistoryEntry.objects.count(),
    )


def test_an_identical_version_shows_no_difference():
    ids = recorded_history()
    copy = new_version(ids["machine"])

    answer = machine_replay_history(machine=copy)

    assert answer["instances"] == {"replayed": 4, "same": 4, "differing": 0}
    assert answer["differences"] == []
    assert counts(answer["transitions"]) == counts(answer["recordedTransitions"])


def test_the_totals_count_each_transition_of_both_versions():
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])

    answer = machine_replay_history(machine=draft)

    replayed, recorded = counts(answer["transitions"]), counts(answer["recordedTransitions"])
    assert replayed == {
        ("START", "E1", "S1"): 4,
        ("S1", "E11", "S1"): 0,
        ("S1", "E2", "C1"): 4,  # none's E2 too, which the recorded version refused
        ("C1", None, "S21"): 2,  # big, mid
        ("C1", None, "S22"): 2,  # small, none
        ("S21", "E3", "S3"): 2,  # big, mid
        ("S22", "E3", "S3"): 0,
        ("S3", "E4", "C2"): 0,
        ("C2", None, "S4"): 0,
        ("C2", None, "S3"): 0,
    }
    assert recorded == {
        **{key: 0 for key in replayed},
        ("START", "E1", "S1"): 4,
        ("S1", "E2", "C1"): 3,
        ("C1", None, "S21"): 1,
        ("C1", None, "S22"): 2,
        ("S21", "E3", "S3"): 1,
        ("S22", "E3", "S3"): 1,
    }
    ids_of_draft = {t.pk for t in draft.transitions.all()}
    assert {t["transitionId"] for t in answer["transitions"]} == ids_of_draft


def test_limit_replays_the_last_instances_created_and_says_it_stopped():
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])

    answer = machine_replay_history(machine=draft, limit=2)

    assert answer["instances"] == {"replayed": 2, "same": 1, "differing": 1}  # small, none
    assert [d["businessKey"] for d in answer["differences"]] == ["none"]
    assert (answer["truncated"], answer["stoppedBy"], answer["limit"]) == (True, "limit", 2)


def test_since_replays_the_instances_created_from_then_on():
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])
    long_ago = timezone.now() - timedelta(days=30)
    Instance.objects.filter(pk__in=[ids["mid"], ids["none"]]).update(created_at=long_ago)

    answer = machine_replay_history(machine=draft, since=timezone.now() - timedelta(days=1))

    assert answer["instances"] == {"replayed": 2, "same": 2, "differing": 0}  # big, small
    assert answer["truncated"] is False
    assert answer["limit"] == replay.MAX_INSTANCES


def test_from_sm_id_replays_another_version_of_the_flow():
    ids = recorded_history()
    v1 = ids["machine"]
    draft = draft_with_lower_threshold(v1)
    copy = new_version(v1)
    moved = instance_create(flow_code="replayed", business_key="on-copy", sm_id=copy.pk)
    instance_event_fire(instance_id=moved.pk, event="E1")
    instance_event_fire(instance_id=moved.pk, event="E2", context={"amount": 70})

    answer = machine_replay_history(machine=draft, from_sm_id=copy.pk)

    assert answer["fromSmId"] == copy.pk
    assert answer["instances"] == {"replayed": 1, "same": 0, "differing": 1}
    assert by_key(answer)["on-copy"]["replayed"] == {"applied": True, "toState": "S21"}
    assert counts(answer["recordedTransitions"])[("C1", None, "S22")] == 1


def test_another_flows_version_is_refused_as_a_source():
    ids = recorded_history()
    other = online(flow_seed("other-flow"))
    draft = draft_with_lower_threshold(ids["machine"])

    with pytest.raises(ValidationError) as refused:
        machine_replay_history(machine=draft, from_sm_id=other.pk)

    assert refused.value.details["problems"][0]["path"] == "fromSmId"


def test_a_version_replays_through_itself_the_same():
    ids = recorded_history()

    answer = machine_replay_history(machine=ids["machine"])

    assert answer["instances"] == {"replayed": 4, "same": 4, "differing": 0}


def test_a_draft_that_cannot_run_is_refused_with_its_problems():
    ids = recorded_history()

    def broken(doc):
        doc["smTransitions"][0]["guardCondition"] = "ctx.amount >"

    draft = new_version(ids["machine"], broken)

    with pytest.raises(MachineInvalid):
        machine_replay_history(machine=draft)


def test_expressions_see_the_instance_and_the_moment_the_event_was_applied():
    ids = recorded_history()
    applied = EventRecord.objects.get(instance_id=ids["small"], event="E1").finished_at

    def guarded(doc):  # false for small's E1 by its time, for mid's by its business key
        doc["smTransitions"][0]["guardCondition"] = (
            f"str(now()) != '{applied}' and instance.businessKey != 'mid'"
        )

    answer = machine_replay_history(machine=new_version(ids["machine"], guarded))

    assert sorted(by_key(answer)) == ["mid", "small"]
    for key in ("mid", "small"):
        assert by_key(answer)[key]["event"] == "E1"
        assert by_key(answer)[key]["replayed"]["error"]["code"] == "GUARD_REJECTED"
    assert by_key(answer)["small"]["at"] == applied


def test_the_event_bound_stops_the_replay_between_instances(monkeypatch):
    ids = recorded_history()
    monkeypatch.setattr(replay, "MAX_EVENTS", 5)  # big has 3 events, mid 3 more

    answer = machine_replay_history(machine=draft_with_lower_threshold(ids["machine"]))

    assert (answer["truncated"], answer["stoppedBy"]) == (True, "events")
    assert answer["instances"]["replayed"] == 1
    assert answer["events"]["replayed"] == 3


def test_a_spent_expression_budget_stops_the_replay_with_what_it_replayed(monkeypatch):
    ids = recorded_history()
    monkeypatch.setattr(replay, "BUDGET_FACTOR", 0)

    answer = machine_replay_history(machine=draft_with_lower_threshold(ids["machine"]))

    assert (answer["truncated"], answer["stoppedBy"]) == (True, "budget")
    assert answer["instances"] == {"replayed": 0, "same": 0, "differing": 0}


def timed_seed(code: str) -> dict:
    """NEW --pay--> PAID, and NEW --expire after 60 s--> CANCELLED."""
    return {
        "smInfo": {"flowCode": code},
        "smStates": [
            {"stateValue": "NEW", "initial": True},
            {"stateValue": "PAID", "final": True},
            {"stateValue": "CANCELLED", "final": True},
        ],
        "smTransitions": [
            {"sourceState": "NEW", "eventValue": "pay", "targetState": "PAID"},
            {
                "sourceState": "NEW",
                "eventValue": "expire",
                "targetState": "CANCELLED",
                "timerSeconds": 60,
            },
        ],
    }


def test_a_timers_event_is_replayed_where_the_timer_was_armed():
    machine = online(timed_seed("timed"))
    expired = instance_create(flow_code="timed", business_key="expired")
    paid = instance_create(flow_code="timed", business_key="paid")
    instance_event_fire(instance_id=paid.pk, event="pay")  # leaves NEW: its timer is dropped
    Timer.objects.filter(instance=expired).update(due_at=timezone.now() - timedelta(seconds=1))
    assert timers_fire_due() == 1
    instance_events_process(instance_id=expired.pk)
    assert Instance.objects.get(pk=expired.pk).state == "CANCELLED"

    same = machine_replay_history(machine=new_version(machine))

    def no_timer(doc):
        doc["smTransitions"] = doc["smTransitions"][:1]

    without = machine_replay_history(machine=new_version(machine, no_timer))

    assert same["instances"] == {"replayed": 2, "same": 2, "differing": 0}
    assert [d["businessKey"] for d in without["differences"]] == ["expired"]
    first = without["differences"][0]
    assert first["event"] == "expire" and first["fromState"] == "NEW"
    assert first["recorded"] == {"applied": True, "toState": "CANCELLED"}
    assert first["replayed"]["error"]["code"] == "NO_TRANSITION"


def test_a_timers_event_conflicts_when_the_replay_left_the_state_it_was_armed_in():
    machine = online(timed_seed("timed"))
    late = instance_create(flow_code="timed", business_key="late")
    Timer.objects.filter(instance=late).update(due_at=timezone.now() - timedelta(seconds=1))
    timers_fire_due()
    instance_events_process(instance_id=late.pk)

    def leaves_new_at_once(doc):  # a draft that starts in PAID: the timer's NEW is never held
        doc["smStates"][0]["initial"] = False
        doc["smStates"][1].update(initial=True, final=False)
        doc["smTransitions"].append(
            {"sourceState": "PAID", "eventValue": "expire", "targetState": "CANCELLED"}
        )

    answer = machine_replay_history(machine=new_version(machine, leaves_new_at_once))

    first = answer["differences"][0]
    assert (first["event"], first["fromState"]) == ("expire", "PAID")
    assert first["replayed"]["error"]["code"] == "STATE_CONFLICT"


def test_remembered_decisions_answer_as_fresh_ones(monkeypatch):
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])
    remembered = machine_replay_history(machine=draft)
    monkeypatch.setattr(replay, "MEMO_ENTRIES", 0)  # every step decided by the engine

    fresh = machine_replay_history(machine=draft)

    assert fresh == remembered


def test_a_draft_with_a_routing_mistake_replays_and_shows_where_it_fails():
    ids = recorded_history()

    def no_default(doc):  # C1 keeps only its case: below 100 no branch is true
        doc["smTransitions"] = [
            t
            for t in doc["smTransitions"]
            if not (t["sourceState"] == "C1" and t["caseDefault"] == 1)
        ]

    answer = machine_replay_history(machine=new_version(ids["machine"], no_default))

    codes = {
        d["businessKey"]: d["replayed"].get("error", {}).get("code") for d in answer["differences"]
    }
    assert codes == {"mid": "NO_DEFAULT_BRANCH", "small": "NO_DEFAULT_BRANCH"}
    assert answer["instances"]["same"] == 2  # big, and none (refused by both, same code)
