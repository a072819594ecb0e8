"""Per-flow access over the whole API: another flow's objects do not exist for a client.

The operations are read from the OpenAPI schema, so an endpoint added later is covered by
default: a path parameter this test cannot point at another flow's object fails it.
"""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clients.models import FlowGrant
from clients.services import api_client_create
from machines import selectors as machine_selectors
from machines.models import Flow, Scenario
from runtime.models import EventRecord, Instance, Subscription
from runtime.services import instance_create, instance_event_fire
from runtime.subscriptions import subscription_create
from tests.conftest import client_with_token, example_seed
from tests.runtime.helpers import footprint, online

pytestmark = pytest.mark.django_db

OURS, THEIRS = "server-lifecycle", "design-example"


def _schema_operations(client) -> list[tuple[str, str]]:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = json.loads(response.content)["paths"]
    return [(path, method) for path, ops in paths.items() for method in ops]


@pytest.fixture
def world(db):
    """Two flows, each with an online machine, an instance with history, an event record, a
    failed async event and a subscription of its own client."""
    ours, theirs = online(example_seed(OURS)), online(example_seed(THEIRS))
    _, their_token = api_client_create(name="their-system", flows=[THEIRS])
    their_user = Flow.objects.get(code=THEIRS).grants.get().user
    instance = instance_create(flow_code=THEIRS, business_key="their-1")
    event = instance_event_fire(instance_id=instance.pk, event="E1")
    failed = EventRecord.objects.create(
        instance=instance, event="E11", is_async=True, status="failed", fingerprint=""
    )
    subscription = subscription_create(
        flow_code=THEIRS, url="http://localhost/hook", states=None, user=their_user
    )
    scenario = Scenario.objects.create(
        machine=theirs, name="theirs", steps=[{"event": "E1", "expect": {"state": "S1"}}]
    )
    return {
        "ours": ours,
        "theirs": theirs,
        "their_token": their_token,
        "ids": {
            "sm_id": theirs.pk,
            "instance_id": instance.pk,
            "event_id": event["eventId"],
            "subscription_id": subscription.pk,
            "scenario_id": scenario.pk,
            "code": THEIRS,
        },
        "failed_event": failed.pk,
    }


def _body(path: str, world: dict):
    """A body that would be valid on the object, so that only its flow can refuse it."""
    theirs = world["theirs"]
    if path.endswith("{sm_id}/"):
        return machine_selectors.machine_export(machine=theirs)
    path = path.removesuffix("/")  # the schema's paths end with a slash
    if path.endswith("/fire"):
        return {"state": "START", "event": "E1"}
    if path.endswith("/events"):
        return {"event": "E11"}
    if path.endswith("/migrate"):
        return {"smId": theirs.pk}
    if path.endswith("/simulate"):
        return {"steps": [{"event": "E1"}]}
    if path.endswith("/scenarios") or "{scenario_id}" in path:
        return {"name": "ours", "steps": [{"event": "E1", "expect": {"state": "S1"}}]}
    return None


def _object_operations(client):
    return [(p, m) for p, m in _schema_operations(client) if "{" in p]


@pytest.mark.parametrize("capable", [True, False], ids=["designer-operator", "plain"])
def test_every_object_of_another_flow_answers_not_found_on_every_endpoint(world, capable):
    client = client_with_token(
        "our-system", roles="1,2", flows=[OURS], designer=capable, operator=capable
    )
    operations = _object_operations(client)
    assert len(operations) >= 17  # the schema was read, not an empty list
    before = footprint(world["ids"]["instance_id"])
    for path, method in operations:
        ids = dict(world["ids"])
        if path.endswith("/replay/"):
            ids["event_id"] = world["failed_event"]
        params = set(part.split("}")[0] for part in path.split("{")[1:])
        assert params <= set(ids), f"{path}: no object of another flow for {params - set(ids)}"
        url = path.format(**ids)
        response = getattr(client, method)(url, _body(path, world), format="json")
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND"), (
            f"{method.upper()} {url}: {response.status_code} {response.content[:200]}"
        )
    assert footprint(world["ids"]["instance_id"]) == before
    assert EventRecord.objects.get(pk=world["failed_event"]).status == "failed"
    assert Subscription.objects.filter(pk=world["ids"]["subscription_id"]).exists()
    assert Scenario.objects.get(pk=world["ids"]["scenario_id"]).name == "theirs"
    assert world["theirs"].__class__.objects.get(pk=world["theirs"].pk).status == 3  # online


def test_the_same_operations_reach_the_objects_of_the_flows_granted(world):
    """The other side of the test above: the owner of the flow gets past the lookup."""
    client = client_with_token("owner", roles="1,2", flows=[THEIRS], designer=True, operator=True)
    for path, method in _object_operations(client):
        if method == "delete" or path.endswith(("/disable/", "/publish/", "/enable/", "/online/")):
            continue  # these would change the world the other operations read
        ids = dict(world["ids"])
        if path.endswith("/replay/"):
            ids["event_id"] = world["failed_event"]
        response = getattr(client, method)(path.format(**ids), _body(path, world), format="json")
        assert response.status_code != 404, f"{method.upper()} {path}: {response.content[:200]}"


def test_lists_never_show_another_flows_objects(world):
    client = client_with_token("our-system", roles="1,2", flows=[OURS], designer=True)
    instance_create(flow_code=OURS, business_key="ours-1")
    flows = client.get("/api/v1/flows/").json()
    assert [f["code"] for f in flows] == [OURS]
    machines = client.get("/api/v1/machines/").json()
    assert {m["flowCode"] for m in machines} == {OURS}
    assert client.get(f"/api/v1/machines/?flow={THEIRS}").json() == []
    assert client.get(f"/api/v1/machines/?flow={world['theirs'].flow_id}").json() == []
    instances = client.get("/api/v1/instances/").json()
    assert [i["businessKey"] for i in instances] == ["ours-1"]
    assert client.get(f"/api/v1/instances/?flow={THEIRS}&businessKey=their-1").json() == []
    assert client.get("/api/v1/subscriptions/").json() == []
    their_events = f"/api/v1/events/?flow={THEIRS}&businessKey=their-1"
    assert client.get(their_events).json() == []


def test_creating_an_instance_or_a_subscription_in_another_flow_is_not_found(world):
    client = client_with_token("our-system", roles="1,2", flows=[OURS])
    created = client.post(
        "/api/v1/instances/", {"flow": THEIRS, "businessKey": "sneaky"}, format="json"
    )
    subscribed = client.post(
        "/api/v1/subscriptions/", {"flow": THEIRS, "url": "http://localhost/x"}, format="json"
    )
    assert (created.status_code, created.json()["code"]) == (404, "NOT_FOUND")
    assert (subscribed.status_code, subscribed.json()["code"]) == (404, "NOT_FOUND")
    assert not Instance.objects.filter(business_key="sneaky").exists()
    assert Subscription.objects.count() == 1


def test_a_machine_for_another_flow_is_refused_as_for_a_flow_that_does_not_exist(world):
    client = client_with_token("our-designer", flows=[OURS], designer=True)
    doc = example_seed(THEIRS)
    doc["smInfo"].update(flowId=world["theirs"].flow_id, version=None)
    missing = {**doc, "smInfo": {**doc["smInfo"], "flowId": 999999}}
    refused = client.post("/api/v1/machines/", doc, format="json")
    unknown = client.post("/api/v1/machines/", missing, format="json")
    assert refused.status_code == unknown.status_code == 400
    assert refused.json()["message"].replace(str(world["theirs"].flow_id), "N") == unknown.json()[
        "message"
    ].replace("999999", "N")
    assert world["theirs"].flow.machines.count() == 1


def test_a_created_flow_is_granted_to_its_creator_and_codes_stay_unique(world):
    client = client_with_token("our-designer", flows=[OURS], designer=True)
    created = client.post("/api/v1/flows/", {"code": "returns", "name": "Returns"}, format="json")
    taken = client.post("/api/v1/flows/", {"code": THEIRS, "name": "Mine now"}, format="json")
    assert created.status_code == 201
    assert {f["code"] for f in client.get("/api/v1/flows/").json()} == {OURS, "returns"}
    assert (taken.status_code, taken.json()["code"]) == (400, "VALIDATION_ERROR")
    assert Flow.objects.get(code=THEIRS).name != "Mine now"


def test_a_plain_client_gets_permission_denied_on_its_own_flows_design_api(world):
    client = client_with_token("our-system", roles="1", flows=[OURS])
    response = client.get(f"/api/v1/machines/{world['ours'].pk}/")
    assert (response.status_code, response.json()["code"]) == (403, "PERMISSION_DENIED")


def test_replay_and_migrate_need_the_operator_capability(world):
    plain = client_with_token("their-plain", roles="1", flows=[THEIRS])
    operator = client_with_token("their-operator", roles="1", flows=[THEIRS], operator=True)
    event, instance = world["failed_event"], world["ids"]["instance_id"]
    migrate = {"smId": world["theirs"].pk}
    for response in (
        plain.post(f"/api/v1/events/{event}/replay"),
        plain.post(f"/api/v1/instances/{instance}/migrate", migrate, format="json"),
    ):
        assert (response.status_code, response.json()["code"]) == (403, "PERMISSION_DENIED")
    assert EventRecord.objects.get(pk=event).status == "failed"
    assert operator.post(f"/api/v1/events/{event}/replay").status_code == 202
    moved = operator.post(f"/api/v1/instances/{instance}/migrate", migrate, format="json")
    assert moved.status_code == 200


def test_a_subscription_belongs_to_the_client_that_made_it(world):
    other = client_with_token("their-other-system", flows=[THEIRS])
    designer = client_with_token("their-designer", flows=[THEIRS], designer=True)
    theirs = world["ids"]["subscription_id"]
    assert other.get("/api/v1/subscriptions/").json() == []
    deleted = other.delete(f"/api/v1/subscriptions/{theirs}/")
    assert (deleted.status_code, deleted.json()["code"]) == (404, "NOT_FOUND")
    assert [s["id"] for s in designer.get("/api/v1/subscriptions/").json()] == [theirs]
    own = other.post("/api/v1/subscriptions/", {"flow": THEIRS, "url": "http://localhost/o"})
    assert [s["id"] for s in other.get("/api/v1/subscriptions/").json()] == [own.json()["id"]]
    assert designer.delete(f"/api/v1/subscriptions/{theirs}/").status_code == 204


def test_a_subscription_from_before_owners_is_seen_and_deleted_by_designers_only(world):
    flow = Flow.objects.get(code=THEIRS)
    orphan = Subscription.objects.create(flow=flow, url="http://localhost/old", owner=None)
    plain = client_with_token("their-plain", flows=[THEIRS])
    designer = client_with_token("their-designer", flows=[THEIRS], designer=True)
    assert orphan.pk not in [s["id"] for s in plain.get("/api/v1/subscriptions/").json()]
    assert plain.delete(f"/api/v1/subscriptions/{orphan.pk}/").status_code == 404
    assert designer.delete(f"/api/v1/subscriptions/{orphan.pk}/").status_code == 204


def test_a_grant_counts_on_the_next_request_in_spite_of_the_token_cache(world):
    client = client_with_token("late", roles="1", flows=[OURS])
    instance = world["ids"]["instance_id"]
    assert client.get(f"/api/v1/instances/{instance}/").status_code == 404
    call_command("create_api_client", "late", "--roles", "1", "--flows", f"{OURS},{THEIRS}")
    assert client.get(f"/api/v1/instances/{instance}/").status_code == 200
    call_command("create_api_client", "late", "--roles", "1", "--flows", OURS)
    assert client.get(f"/api/v1/instances/{instance}/").status_code == 404


def test_create_api_client_grants_flows_all_flows_or_none(world, capsys):
    call_command("create_api_client", "nobody")
    assert "has no flow" in capsys.readouterr().err
    call_command("create_api_client", "everyone", "--all-flows")
    later = Flow.objects.create(code="later", name="Made later")
    grant = FlowGrant.objects.get(user__username="everyone")
    assert grant.flow is None  # every flow, the later one included
    client = client_with_token("everyone", designer=True)  # no grant option: grants are kept
    assert FlowGrant.objects.filter(user__username="everyone").count() == 1
    codes = {f["code"] for f in client.get("/api/v1/flows/").json()}
    assert codes == {OURS, THEIRS, later.code}
    with pytest.raises(CommandError, match="Unknown flow code"):
        call_command("create_api_client", "typo", "--flows", "no-such-flow")
    assert not FlowGrant.objects.filter(user__username="typo").exists()


def test_a_sender_finds_its_events_by_flow_business_key_and_request_id(world):
    client = client_with_token("their-sender", roles="1", flows=[THEIRS])
    instance = world["ids"]["instance_id"]
    client.post(f"/api/v1/instances/{instance}/events/", {"event": "E11", "requestId": "r-7"})
    found = client.get(f"/api/v1/events/?flow={THEIRS}&businessKey=their-1&requestId=r-7")
    every = client.get(f"/api/v1/events/?flow={THEIRS}&businessKey=their-1")
    assert found.status_code == 200
    assert [(e["event"], e["requestId"], e["status"]) for e in found.json()] == [
        ("E11", "r-7", "done")
    ]
    assert [e["event"] for e in every.json()] == ["E11", "E11", "E1"]  # newest first
    unnamed = client.get("/api/v1/events/?requestId=r-7")
    assert (unnamed.status_code, unnamed.json()["code"]) == (400, "VALIDATION_ERROR")
