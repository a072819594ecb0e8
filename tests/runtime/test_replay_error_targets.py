"""Replaying an event that its transition's error target caught (its action kept failing)."""

import pytest

from runtime import async_events
from runtime.models import EventRecord
from runtime.replay import machine_replay_history
from runtime.services import instance_create
from tests.runtime.extensions import extended_online
from tests.runtime.replay_history import new_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def caught(callback_server, settings):
    """An online design example whose START --E1--> action always fails, caught into S22, and
    one instance that went there; the machine."""
    settings.ASYNC_MAX_ATTEMPTS = 1
    callback_server.respond("/act", status=500)
    machine = extended_online(
        actions={("START", "E1"): callback_server.url("/act")},
        error_targets={("START", "E1"): "S22"},
    )
    instance = instance_create(flow_code="design-example", business_key="k")
    record = async_events.event_accept(instance_id=instance.pk, event="E1")
    async_events.instance_events_process(instance_id=instance.pk)
    record = EventRecord.objects.get(pk=record.pk)
    assert (record.status, record.result["toState"]) == ("done", "S22")
    return machine


def _error_target(value):
    def change(doc):
        for t in doc["smTransitions"]:
            if (t["sourceState"], t["eventValue"]) == ("START", "E1"):
                t["errorTarget"] = value

    return change


def test_the_same_version_replays_the_caught_event_to_its_error_target(caught):
    answer = machine_replay_history(machine=new_version(caught))
    assert answer["instances"] == {"replayed": 1, "same": 1, "differing": 0}
    taken = {(t["fromState"], t["event"], t["toState"]): t["count"] for t in answer["transitions"]}
    assert taken[("START", "E1", "S1")] == 1  # the transition whose action failed


def test_a_version_with_another_error_target_differs_there(caught):
    answer = machine_replay_history(machine=new_version(caught, _error_target("S21")))
    (difference,) = answer["differences"]
    assert difference["recorded"] == {"applied": True, "toState": "S22"}
    assert difference["replayed"] == {"applied": True, "toState": "S21"}


def test_a_version_without_the_error_target_would_have_failed_the_event(caught):
    answer = machine_replay_history(machine=new_version(caught, _error_target(None)))
    (difference,) = answer["differences"]
    assert difference["replayed"]["applied"] is False
    assert difference["replayed"]["error"]["code"] == "ACTION_FAILED"
