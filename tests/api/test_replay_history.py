"""POST /api/v1/machines/{smId}/replay-history/: a version replays another's recorded history.

Every answer here is also checked against the OpenAPI schema (tests/schema_check.py).
"""

import pytest

from machines.services import machine_disable
from runtime import replay
from runtime.models import EventRecord, HistoryEntry, Instance
from runtime.services import instance_create, instance_event_fire
from tests.conftest import client_with_token
from tests.runtime.helpers import online
from tests.runtime.replay_history import (
    draft_with_lower_threshold,
    flow_seed,
    new_version,
    recorded_history,
)

pytestmark = pytest.mark.django_db(transaction=True)


def url(machine) -> str:
    return f"/api/v1/machines/{machine.pk}/replay-history/"


def rows() -> tuple:
    return Instance.objects.count(), EventRecord.objects.count(), HistoryEntry.objects.count()


def test_a_draft_answers_with_the_differing_instances_and_the_totals(designer):
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])
    before = rows()

    response = designer.post(url(draft), {}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["fromSmId"] == ids["machine"].pk and body["smId"] == draft.pk
    assert body["instances"] == {"replayed": 4, "same": 2, "differing": 2}
    assert body["truncated"] is False
    first = {d["businessKey"]: d for d in body["differences"]}
    assert first["mid"]["event"] == "E2"
    assert first["mid"]["recorded"] == {"applied": True, "toState": "S22"}
    assert first["mid"]["replayed"] == {"applied": True, "toState": "S21"}
    assert first["none"]["recorded"]["error"]["code"] == "EXPRESSION_ERROR"
    taken = {(t["fromState"], t["toState"]): t["count"] for t in body["transitions"]}
    assert taken[("C1", "S21")] == 2 and taken[("C1", "S22")] == 2
    recorded = {(t["fromState"], t["toState"]): t["count"] for t in body["recordedTransitions"]}
    assert recorded[("C1", "S21")] == 1 and recorded[("C1", "S22")] == 2
    assert rows() == before  # nothing stored


def test_an_identical_version_answers_no_difference(designer):
    ids = recorded_history()

    body = designer.post(url(new_version(ids["machine"])), {}, format="json").json()

    assert body["instances"] == {"replayed": 4, "same": 4, "differing": 0}
    assert body["differences"] == []


def test_limit_since_and_from_sm_id_choose_the_instances(designer):
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])

    last_two = designer.post(url(draft), {"limit": 2}, format="json").json()
    future = designer.post(url(draft), {"since": "2999-01-01T00:00:00Z"}, format="json").json()
    past = designer.post(url(draft), {"since": "2000-01-01"}, format="json").json()
    itself = designer.post(url(draft), {"fromSmId": draft.pk}, format="json").json()

    assert last_two["instances"]["replayed"] == 2
    assert (last_two["truncated"], last_two["stoppedBy"]) == (True, "limit")
    assert future["instances"]["replayed"] == 0 and future["truncated"] is False
    assert past["instances"]["replayed"] == 4
    assert itself["fromSmId"] == draft.pk and itself["instances"]["replayed"] == 0


def test_a_limit_past_the_bound_and_bad_values_are_400(designer):
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])

    for body, field in (
        ({"limit": replay.MAX_INSTANCES + 1}, "limit"),
        ({"limit": 0}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"fromSmId": "two"}, "fromSmId"),
        ({"fromSmId": 2**70}, "fromSmId"),
    ):
        response = designer.post(url(draft), body, format="json")
        assert response.status_code == 400, body
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert response.json()["details"]["problems"][0]["path"] == field, body


def test_a_version_of_another_flow_as_the_source_is_400(designer):
    ids = recorded_history()
    other = online(flow_seed("other-flow"))
    draft = draft_with_lower_threshold(ids["machine"])

    response = designer.post(url(draft), {"fromSmId": other.pk}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["details"]["problems"][0]["path"] == "fromSmId"


def test_a_flow_without_an_online_version_needs_from_sm_id(designer):
    ids = recorded_history()
    draft = new_version(ids["machine"])
    machine_disable(machine=ids["machine"])

    response = designer.post(url(draft), {}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "NO_ONLINE_VERSION")
    named = designer.post(url(draft), {"fromSmId": ids["machine"].pk}, format="json")
    assert named.status_code == 200 and named.json()["instances"]["replayed"] == 4


def test_another_flows_machine_is_not_found_and_a_plain_client_is_refused(db):
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])
    online(flow_seed("mine"))
    outsider = client_with_token("outsider", roles="1,2", flows=["mine"], designer=True)
    plain = client_with_token("plain", roles="1", flows=["replayed"])

    hidden = outsider.post(url(draft), {}, format="json")
    refused = plain.post(url(draft), {}, format="json")

    assert (hidden.status_code, hidden.json()["code"]) == (404, "NOT_FOUND")
    assert (refused.status_code, refused.json()["code"]) == (403, "PERMISSION_DENIED")


def test_the_slashless_path_answers_the_same(designer):
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])

    response = designer.post(url(draft).rstrip("/"), {}, format="json")

    assert response.status_code == 200
    assert response.json()["instances"]["differing"] == 2


def test_the_counts_list_a_list_rows_sources_one_by_one(seed, designer):
    doc = seed("audit")  # DONE leaves APPLY, DAD_PASS and MOM_PASS in one row
    machine = online(doc)
    for key in ("a", "b"):
        instance = instance_create(flow_code="audit", business_key=key)
        instance_event_fire(instance_id=instance.pk, event="DONE")  # from APPLY
    draft = new_version(machine)

    answer = designer.post(url(draft), {}, format="json").json()

    for listed in ("transitions", "recordedTransitions"):
        done = [(t["fromState"], t["count"]) for t in answer[listed] if t["event"] == "DONE"]
        assert done == [("APPLY", 2), ("DAD_PASS", 0), ("MOM_PASS", 0)], listed
