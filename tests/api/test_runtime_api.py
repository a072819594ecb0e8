"""The business API: instances and sync events end to end on the example machines."""

import pytest

from runtime.models import Instance
from tests.conftest import example_seed
from tests.runtime.helpers import footprint, online

pytestmark = pytest.mark.django_db


@pytest.fixture
def examples(db):
    return {name: online(example_seed(name)) for name in ("design-example", "audit")}


def _new(client, flow="design-example", key="order-1", **extra):
    response = client.post(
        "/api/v1/instances/", {"flow": flow, "businessKey": key, **extra}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def _fire(client, instance_id, event, **body):
    return client.post(
        f"/api/v1/instances/{instance_id}/events/", {"event": event, **body}, format="json"
    )


def _state_after(client, instance_id, *events, **body):
    for event in events:
        response = _fire(client, instance_id, event, **body)
        assert response.status_code == 200, response.json()
    return client.get(f"/api/v1/instances/{instance_id}/").json()["state"]


def test_a_new_instance_starts_in_the_initial_state_of_the_online_version(business, examples):
    body = _new(business, context={"amount": 5})
    assert body["state"] == "START" and body["flow"] == "design-example"
    assert body["smId"] == examples["design-example"].pk and body["version"] == "1"
    assert body["context"] == {"amount": 5}
    history = business.get(f"/api/v1/instances/{body['id']}/history/").json()
    assert [(h["fromState"], h["toState"]) for h in history] == [(None, "START")]


def test_a_self_transition_is_a_full_transition_with_a_history_row(business, examples):
    instance = _new(business)
    assert _state_after(business, instance["id"], "E1") == "S1"
    response = _fire(business, instance["id"], "E11")
    assert response.status_code == 200
    body = response.json()
    assert (body["fromState"], body["toState"], body["state"]) == ("S1", "S1", "S1")
    assert body["path"][0]["event"] == "E11" and body["eventId"]
    history = business.get(f"/api/v1/instances/{instance['id']}/history/").json()
    assert [(h["event"], h["fromState"], h["toState"]) for h in history][-1] == ("E11", "S1", "S1")


@pytest.mark.parametrize("amount, target", [(150, "S21"), (100, "S21"), (99, "S22")])
def test_e2_routes_through_c1_by_amount(business, examples, amount, target):
    instance = _new(business, context={"amount": amount})
    _state_after(business, instance["id"], "E1")
    body = _fire(business, instance["id"], "E2").json()
    assert body["state"] == target
    assert [(p["fromState"], p["toState"], p["event"]) for p in body["path"]] == [
        ("S1", "C1", "E2"),
        ("C1", target, None),
    ]
    history = business.get(f"/api/v1/instances/{instance['id']}/history/").json()
    assert [h["toState"] for h in history][-2:] == ["C1", target]
    # Both hops name the event record that made them; only the first names the event.
    assert [(h["eventId"], h["event"]) for h in history[-2:]] == [
        (body["eventId"], "E2"),
        (body["eventId"], None),
    ]
    assert history[0]["eventId"] is None  # the instance's creation


def test_the_event_context_merges_into_the_instance_context(business, examples):
    instance = _new(business, context={"amount": 10, "note": "keep"})
    _state_after(business, instance["id"], "E1")
    body = _fire(business, instance["id"], "E2", context={"amount": 500}).json()
    assert body["state"] == "S21"
    stored = business.get(f"/api/v1/instances/{instance['id']}/").json()
    assert stored["context"] == {"amount": 500, "note": "keep"}


def test_s3_moves_to_s4_only_on_the_third_e4(business, examples):
    instance = _new(business, context={"amount": 1})
    assert _state_after(business, instance["id"], "E1", "E2", "E3") == "S3"
    assert _state_after(business, instance["id"], "E4") == "S3"
    assert _state_after(business, instance["id"], "E4") == "S3"
    assert _state_after(business, instance["id"], "E4") == "S4"
    history = business.get(f"/api/v1/instances/{instance['id']}/history/").json()
    assert history[-1]["toState"] == "S4" and history[-2] == {
        **history[-2],
        "fromState": "S3",
        "toState": "C2",
        "event": "E4",
    }


def test_an_event_with_no_transition_is_refused_and_changes_nothing(business, examples):
    instance = _new(business, flow="audit", key="leave-1")
    assert _state_after(business, instance["id"], "PASS", "PASS") == "MOM_PASS"
    before = footprint(instance["id"])
    response = _fire(business, instance["id"], "PASS", context={"forged": True})
    assert response.status_code == 409
    assert response.json()["code"] == "NO_TRANSITION"
    assert response.json()["details"] == {"state": "MOM_PASS", "event": "PASS"}
    assert footprint(instance["id"]) == before


def test_a_repeated_request_id_returns_the_first_answer_and_changes_nothing(business, examples):
    instance = _new(business)
    first = _fire(business, instance["id"], "E1", requestId="req-1").json()
    before = footprint(instance["id"])
    again = _fire(business, instance["id"], "E1", requestId="req-1")
    assert again.status_code == 200
    assert again.json() == first
    assert footprint(instance["id"]) == before


def test_a_request_id_reused_with_another_body_is_a_mismatch(business, examples):
    instance = _new(business)
    _fire(business, instance["id"], "E1", requestId="req-1")
    before = footprint(instance["id"])
    response = _fire(business, instance["id"], "E11", requestId="req-1")
    assert response.status_code == 409
    assert response.json()["code"] == "IDEMPOTENCY_MISMATCH"
    assert footprint(instance["id"]) == before


def test_an_expected_state_that_does_not_match_is_a_state_conflict(business, examples):
    instance = _new(business)
    before = footprint(instance["id"])
    response = _fire(business, instance["id"], "E1", expectedState="S1")
    assert response.status_code == 409
    assert response.json()["code"] == "STATE_CONFLICT"
    assert footprint(instance["id"]) == before
    assert _fire(business, instance["id"], "E1", expectedState="START").status_code == 200


def test_the_same_business_key_twice_in_a_flow_is_refused(business, examples):
    _new(business, key="dup")
    response = business.post(
        "/api/v1/instances/", {"flow": "design-example", "businessKey": "dup"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "DUPLICATE_BUSINESS_KEY"
    assert Instance.objects.count() == 1
    assert _new(business, flow="audit", key="dup")["flow"] == "audit"


def test_a_flow_with_no_online_version_refuses_new_instances(business, designer):
    from machines import services

    services.machine_create(data=example_seed("audit"), create_flow=True)
    response = business.post(
        "/api/v1/instances/", {"flow": "audit", "businessKey": "k"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "NO_ONLINE_VERSION"
    assert not Instance.objects.exists()


def test_unknown_flows_and_instances_are_not_found(business, examples):
    response = business.post(
        "/api/v1/instances/", {"flow": "nope", "businessKey": "k"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
    for path in ("", "history/", "events/available"):
        response = business.get(f"/api/v1/instances/999999/{path}")
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
    response = _fire(business, 999999, "E1")
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
    response = business.get("/api/v1/events/999999/")
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    "body, path",
    [
        ({"event": "E1", "context": [1, 2]}, "context"),
        ({"event": "E1", "context": "amount=5"}, "context"),
        ({"context": {}}, "event"),
        ({"event": ""}, "event"),
        ({"event": "E1", "role": "seller"}, "role"),
    ],
    ids=["context-list", "context-string", "missing-event", "empty-event", "role-not-int"],
)
def test_bad_event_bodies_are_validation_errors_and_change_nothing(business, examples, body, path):
    instance = _new(business)
    before = footprint(instance["id"])
    response = business.post(f"/api/v1/instances/{instance['id']}/events/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert path in [p["path"] for p in response.json()["details"]["problems"]]
    assert footprint(instance["id"]) == before


def test_an_oversized_body_is_a_validation_error(business, examples, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    instance = _new(business)
    before = footprint(instance["id"])
    response = _fire(business, instance["id"], "E1", context={"blob": "x" * 20_000})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert footprint(instance["id"]) == before


def test_an_instance_context_that_is_not_an_object_is_refused(business, examples):
    response = business.post(
        "/api/v1/instances/",
        {"flow": "design-example", "businessKey": "k", "context": [1]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["details"]["problems"][0]["path"] == "context"
    assert not Instance.objects.exists()


def test_instances_are_found_by_flow_and_business_key(business, examples):
    _new(business, key="a")
    wanted = _new(business, key="b")
    _new(business, flow="audit", key="b")
    found = business.get("/api/v1/instances/", {"flow": "design-example", "businessKey": "b"})
    assert [i["id"] for i in found.json()] == [wanted["id"]]


def test_an_event_record_can_be_read_back(business, examples):
    instance = _new(business)
    outcome = _fire(business, instance["id"], "E1").json()
    record = business.get(f"/api/v1/events/{outcome['eventId']}/").json()
    assert record == {
        "id": outcome["eventId"],
        "instanceId": instance["id"],
        "event": "E1",
        "requestId": None,
        "status": "done",
        "result": outcome,
    }


def test_the_runtime_api_needs_a_token(anonymous, examples):
    response = anonymous.post(
        "/api/v1/instances/", {"flow": "audit", "businessKey": "x"}, format="json"
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "raw, path",
    [
        ('{"event": "E1", "async": []}', "async"),
        ('{"event": "E1", "async": "maybe"}', "async"),
        ('{"event": "E1", "context": {"note": "a\\u0000b"}}', "context"),
        ('{"event": "E1", "context": {"a\\u0000": 1}}', "context"),
        ('{"event": "E1", "context": {"note": "\\ud800"}}', "context"),
        ('{"event": "E1", "context": {"deep": ' + "[" * 40 + "]" * 40 + "}}", "context"),
    ],
    ids=["async-list", "async-word", "nul-value", "nul-key", "lone-surrogate", "too-deep"],
)
def test_bodies_the_database_cannot_store_are_validation_errors(business, examples, raw, path):
    instance = _new(business)
    before = footprint(instance["id"])
    response = business.post(
        f"/api/v1/instances/{instance['id']}/events/", raw, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert path in [p["path"] for p in response.json()["details"]["problems"]]
    assert footprint(instance["id"]) == before


def test_a_body_nested_too_deeply_to_parse_is_a_validation_error(business, examples):
    instance = _new(business)
    before = footprint(instance["id"])
    raw = '{"event": "E1", "context": {"deep": ' + "[" * 5000 + "]" * 5000 + "}}"
    response = business.post(
        f"/api/v1/instances/{instance['id']}/events/", raw, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert footprint(instance["id"]) == before


@pytest.mark.parametrize("params", [{"flow": "a\x00b"}, {"businessKey": "a\x00b"}])
def test_an_instance_filter_with_a_nul_character_is_a_validation_error(business, params):
    response = business.get("/api/v1/instances/", params)
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://evil.example/hook"]
)
def test_an_async_event_with_a_refused_callback_url_is_not_stored(business, examples, url):
    instance = _new(business)
    before = footprint(instance["id"])
    response = _fire(business, instance["id"], "E1", callbackUrl=url, **{"async": True})
    assert response.status_code == 400
    assert response.json()["details"]["problems"][0]["path"] == "callbackUrl"
    assert footprint(instance["id"]) == before


def test_a_callback_url_needs_an_async_event(business, examples):
    instance = _new(business)
    response = _fire(business, instance["id"], "E1", callbackUrl="http://127.0.0.1:9/x")
    assert response.status_code == 400
    assert footprint(instance["id"])[0] == "START"


def test_an_async_event_is_accepted_and_stored_for_a_worker(business, examples):
    instance = _new(business)
    response = _fire(business, instance["id"], "E1", requestId="a-1", **{"async": True})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    record = business.get(f"/api/v1/events/{body['eventId']}/").json()
    assert record == {
        "id": body["eventId"],
        "instanceId": instance["id"],
        "event": "E1",
        "requestId": "a-1",
        "status": "accepted",
        "attempts": 0,
    }
    busy = _fire(business, instance["id"], "E1")  # a sync event waits for the async ones
    assert (busy.status_code, busy.json()["code"]) == (409, "INSTANCE_BUSY")
    again = _fire(business, instance["id"], "E1", requestId="a-1", **{"async": True})
    assert again.json()["eventId"] == body["eventId"]
