"""Roles, guards, show conditions, case conditions and the explain view, through the API."""

import json
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from runtime.models import EventRecord, Instance
from tests.conftest import client_with_token
from tests.runtime.helpers import footprint, online

pytestmark = pytest.mark.django_db
ORDERS = json.loads((Path(__file__).parent.parent / "fixtures" / "orders.json").read_text())
SUB_ORDERS_DONE = {"order": {"subOrders": [{"status": "DONE"}, {"status": "DONE"}]}}
SUB_ORDERS_OPEN = {"order": {"subOrders": [{"status": "DONE"}, {"status": "OPEN"}]}}


@pytest.fixture
def orders(db):
    return online(json.loads(json.dumps(ORDERS)))


@pytest.fixture
def seller(db):
    return client_with_token("seller", roles="1", all_flows=True)


@pytest.fixture
def buyer(db):
    return client_with_token("buyer", roles="2", all_flows=True)


def _new(client, key="o-1", **context):
    body = {"flow": "orders", "businessKey": key, "context": context}
    response = client.post("/api/v1/instances/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def _fire(client, instance_id, event, **body):
    return client.post(
        f"/api/v1/instances/{instance_id}/events/", {"event": event, **body}, format="json"
    )


def test_only_the_allowed_role_may_fire_an_event(orders, seller, buyer):
    instance = _new(buyer, amount=10)
    before = footprint(instance)
    response = _fire(seller, instance, "PAY", role=1)
    assert (response.status_code, response.json()["code"]) == (403, "ROLE_FORBIDDEN")
    assert footprint(instance) == before
    assert _fire(buyer, instance, "PAY", role=2).json()["state"] == "PAID"


def test_an_event_without_a_role_is_forbidden_where_roles_are_listed(orders, buyer):
    instance = _new(buyer, amount=10)
    response = _fire(buyer, instance, "PAY")
    assert (response.status_code, response.json()["code"]) == (403, "ROLE_FORBIDDEN")


def test_a_client_cannot_claim_a_role_it_does_not_have(orders, seller):
    instance = _new(seller, amount=10)
    before = footprint(instance)
    response = _fire(seller, instance, "PAY", role=2)
    assert (response.status_code, response.json()["code"]) == (403, "ROLE_FORBIDDEN")
    assert footprint(instance) == before


def test_a_false_guard_rejects_the_event_and_changes_nothing(orders, buyer):
    instance = _new(buyer, amount=0)
    before = footprint(instance)
    response = _fire(buyer, instance, "PAY", role=2)
    assert (response.status_code, response.json()["code"]) == (409, "GUARD_REJECTED")
    assert response.json()["details"]["guard"] == "ctx.amount > 0"
    assert footprint(instance) == before


def test_the_event_context_is_seen_by_the_guard(orders, buyer):
    instance = _new(buyer, amount=0)
    response = _fire(buyer, instance, "PAY", role=2, context={"amount": 3})
    assert response.json()["state"] == "PAID"


def test_a_guard_that_raises_is_an_expression_error_and_changes_nothing(orders, buyer):
    instance = _new(buyer, amount=5)
    _fire(buyer, instance, "PAY", role=2)
    before = footprint(instance)
    response = _fire(buyer, instance, "REFUND")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "EXPRESSION_ERROR"
    assert "refund" in body["message"]
    assert body["details"]["field"] == "guardCondition"
    assert footprint(instance) == before


@pytest.mark.parametrize(
    "context, target", [(SUB_ORDERS_DONE, "COMPLETE"), (SUB_ORDERS_OPEN, "PARTIAL")]
)
def test_a_case_condition_over_sub_orders_routes_the_choice(orders, buyer, seller, context, target):
    instance = _new(buyer, amount=5, **context)
    _fire(buyer, instance, "PAY", role=2)
    body = _fire(seller, instance, "SHIP", role=1).json()
    assert body["state"] == target
    assert [p["toState"] for p in body["path"]] == ["CHECK", target]


def test_partial_orders_complete_once_the_last_sub_order_is_done(orders, buyer, seller):
    instance = _new(buyer, amount=5, **SUB_ORDERS_OPEN)
    _fire(buyer, instance, "PAY", role=2)
    assert _fire(seller, instance, "SHIP", role=1).json()["state"] == "PARTIAL"
    body = _fire(seller, instance, "SHIP", role=1, context=SUB_ORDERS_DONE).json()
    assert body["state"] == "COMPLETE"


def test_a_case_condition_that_raises_is_an_expression_error(orders, buyer, seller):
    instance = _new(buyer, amount=5)  # no ctx.order at all
    _fire(buyer, instance, "PAY", role=2)
    before = footprint(instance)
    response = _fire(seller, instance, "SHIP", role=1)
    assert (response.status_code, response.json()["code"]) == (422, "EXPRESSION_ERROR")
    assert response.json()["details"]["state"] == "CHECK"
    assert footprint(instance) == before


def test_available_events_follow_the_role_and_the_show_condition(orders, buyer, seller):
    instance = _new(buyer, amount=5)
    url = f"/api/v1/instances/{instance}/events/available"
    assert [e["event"] for e in buyer.get(url, {"role": 2}).json()] == ["PAY", "CANCEL"]
    assert [e["event"] for e in buyer.get(url, {"role": 1}).json()] == ["CANCEL"]
    hidden = _new(buyer, key="o-2", amount=5, blocked=True)
    url = f"/api/v1/instances/{hidden}/events/available"
    assert buyer.get(url, {"role": 2}).json() == [
        {"event": "CANCEL", "eventDesc": "cancel", "targetState": "CANCELLED"}
    ]


def test_explain_gives_each_event_its_verdict_and_the_values_behind_it(orders, buyer):
    instance = _new(buyer, amount=0, blocked=False)
    url = f"/api/v1/instances/{instance}/events/available"
    verdicts = {v["event"]: v for v in buyer.get(url, {"role": 2, "explain": "true"}).json()}
    assert verdicts["PAY"]["verdict"] == "blocked"
    assert verdicts["PAY"]["guardCondition"]["value"] is False
    assert verdicts["PAY"]["guardCondition"]["names"]["ctx.amount"] == 0
    assert verdicts["CANCEL"]["verdict"] == "available"
    verdicts = {v["event"]: v for v in buyer.get(url, {"role": 3, "explain": "1"}).json()}
    assert verdicts["PAY"]["verdict"] == "forbidden"
    assert verdicts["PAY"]["allowed"] == [2]
    hidden = _new(buyer, key="o-2", amount=1, blocked=True)
    url = f"/api/v1/instances/{hidden}/events/available"
    verdicts = {v["event"]: v for v in buyer.get(url, {"role": 2, "explain": "true"}).json()}
    assert verdicts["PAY"]["verdict"] == "hidden"
    assert verdicts["PAY"]["showCondition"]["value"] is False


def test_a_chain_of_more_than_32_choice_hops_is_a_routing_loop(business):
    states = [{"stateValue": "S0", "initial": True}, {"stateValue": "END", "final": True}]
    states += [{"stateValue": f"C{i}", "stateType": 2} for i in range(1, 34)]
    transitions = [{"sourceState": "S0", "targetState": "C1", "eventValue": "GO"}]
    transitions += [
        {"sourceState": f"C{i}", "targetState": f"C{i + 1}" if i < 33 else "END", "caseDefault": 1}
        for i in range(1, 34)
    ]
    online({"smInfo": {"flowCode": "long"}, "smStates": states, "smTransitions": transitions})
    response = business.post(
        "/api/v1/instances/", {"flow": "long", "businessKey": "k"}, format="json"
    )
    instance = response.json()["id"]
    before = footprint(instance)
    response = _fire(business, instance, "GO")
    assert (response.status_code, response.json()["code"]) == (409, "ROUTING_LOOP")
    assert footprint(instance) == before


def test_the_stateless_fire_decides_on_the_online_version_and_stores_nothing(orders, buyer):
    response = buyer.post(
        "/api/v1/flows/orders/fire",
        {"state": "NEW", "event": "PAY", "role": 2, "context": {"amount": 3}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["state"] == "PAID" and "eventId" not in response.json()
    response = buyer.post(
        "/api/v1/flows/orders/fire", {"state": "PAID", "event": "PAY"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "NO_TRANSITION")
    response = buyer.post("/api/v1/flows/nope/fire", {"state": "A", "event": "B"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")


def test_a_state_the_machine_lacks_is_a_validation_error_in_fire_and_simulate_alike(
    orders, designer
):
    fired = designer.post(
        "/api/v1/flows/orders/fire/", {"state": "LOST", "event": "PAY"}, format="json"
    )
    simulated = designer.post(
        f"/api/v1/machines/{orders.pk}/simulate/",
        {"state": "LOST", "steps": [{"event": "PAY"}]},
        format="json",
    )
    assert fired.status_code == simulated.status_code == 400
    assert (
        fired.json()
        == simulated.json()
        == {
            "code": "VALIDATION_ERROR",
            "message": "The machine has no state 'LOST'.",
            "details": {"problems": [{"path": "state", "message": "Unknown state."}]},
        }
    )
    assert not Instance.objects.exists() and not EventRecord.objects.exists()


def test_simulate_runs_steps_with_their_outcomes_and_errors(orders, designer):
    response = designer.post(
        f"/api/v1/machines/{orders.pk}/simulate",
        {
            "steps": [
                {"event": "PAY", "role": 2, "context": {"amount": 0}},
                {"event": "PAY", "role": 2, "context": {"amount": 4, **SUB_ORDERS_DONE}},
                {"event": "SHIP", "role": 1},
            ]
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert [s["ok"] for s in body["steps"]] == [False, True, True]
    assert body["steps"][0]["error"]["code"] == "GUARD_REJECTED"
    assert body["state"] == "COMPLETE"


def test_simulate_reaches_no_default_branch_on_a_draft(designer):
    from machines import services

    doc = json.loads(json.dumps(ORDERS))
    doc["smTransitions"] = [t for t in doc["smTransitions"] if t["caseDefault"] != 1]
    draft = services.machine_create(data=doc, create_flow=True)
    response = designer.post(
        f"/api/v1/machines/{draft.pk}/simulate",
        {
            "steps": [
                {"event": "PAY", "role": 2, "context": {"amount": 1, **SUB_ORDERS_OPEN}},
                {"event": "SHIP", "role": 1},
            ]
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["steps"][1]["error"]["code"] == "NO_DEFAULT_BRANCH"


def test_simulate_refuses_a_draft_it_cannot_run(designer):
    from machines import services

    doc = json.loads(json.dumps(ORDERS))
    doc["smTransitions"][0]["targetState"] = "NOWHERE"
    draft = services.machine_create(data=doc, create_flow=True)
    response = designer.post(f"/api/v1/machines/{draft.pk}/simulate", {"steps": []}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")


def test_simulate_is_for_designers_only(orders, buyer):
    response = buyer.post(f"/api/v1/machines/{orders.pk}/simulate", {"steps": []}, format="json")
    assert response.status_code == 403


def test_migrate_moves_an_instance_to_a_version_with_its_state(orders, designer, buyer):
    from machines import services

    instance = _new(buyer, amount=5)
    _fire(buyer, instance, "PAY", role=2)
    v2 = services.machine_publish(machine=services.machine_new_version(machine=orders))
    response = designer.post(
        f"/api/v1/instances/{instance}/migrate", {"smId": v2.pk}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["smId"], response.json()["state"]) == (v2.pk, "PAID")
    assert (
        buyer.post(
            f"/api/v1/instances/{instance}/migrate", {"smId": orders.pk}, format="json"
        ).status_code
        == 403
    )


def test_migrate_refuses_a_version_without_the_current_state(orders, designer, buyer):
    from machines import services

    instance = _new(buyer, amount=5)
    doc = json.loads(json.dumps(ORDERS))
    doc["smStates"][0]["stateValue"] = "FRESH"
    for t in doc["smTransitions"]:
        t["sourceState"] = "FRESH" if t["sourceState"] == "NEW" else t["sourceState"]
    other = services.machine_publish(machine=services.machine_create(data=doc))
    response = designer.post(
        f"/api/v1/instances/{instance}/migrate", {"smId": other.pk}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "STATE_CONFLICT")


def test_a_sync_event_without_actions_reads_no_definition_rows(orders, buyer):
    instance = _new(buyer, amount=5)
    _fire(buyer, instance, "CANCEL", role=2, requestId="warm-up-is-not-needed")
    second = _new(buyer, key="o-2", amount=5)
    with CaptureQueriesContext(connection) as queries:
        response = _fire(buyer, second, "PAY", role=2, requestId="r-1")
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert not any("machines_state" in q or "machines_transition" in q for q in sql), sql
    assert len(sql) <= 10, "\n".join(q[:100] for q in sql)
