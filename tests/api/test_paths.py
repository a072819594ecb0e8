"""One path convention: every API route ends with a slash; the slashless form is an alias.

The alias is the same view (a redirect would lose a POST's body), answers exactly as the
canonical route does, and stays out of the OpenAPI schema. The routes are read from the
resolver, so a route added later is covered by default.
"""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import URLResolver, get_resolver, reverse

from machines import selectors as machine_selectors
from machines import services as machine_services
from machines.scenarios import scenario_create
from runtime.models import EventRecord
from runtime.services import instance_create, instance_event_fire
from runtime.subscriptions import subscription_create
from tests.conftest import client_with_token, example_seed
from tests.runtime.helpers import online

FLOW = "design-example"


def _api_routes(patterns=None, prefix="/"):
    """(route, callback, name) for every route under /api/v1/, in Django's route syntax."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_routes(pattern.url_patterns, route)
        elif route.startswith("/api/v1/"):
            yield route, pattern.callback, pattern.name


ROUTES = list(_api_routes())
CANONICAL = [route for route, _, _ in ROUTES if route.endswith("/")]


def test_every_route_ends_with_a_slash_and_has_its_slashless_alias():
    callbacks = {route: callback for route, callback, _ in ROUTES}
    assert len(CANONICAL) >= 25  # the resolver was read, not an empty list
    for route, callback, name in ROUTES:
        if route.endswith("/"):
            assert callbacks.get(route.removesuffix("/")) is callback, f"{route}: no alias"
            assert name, f"{route}: the canonical route has the name"
        else:
            assert callbacks.get(route + "/") is callback, f"{route}: not an alias of a route"
            assert name is None, f"{route}: reverse() must give the canonical form"


def test_reverse_gives_the_slash_ended_form():
    assert reverse("flow-fire", kwargs={"code": FLOW}) == f"/api/v1/flows/{FLOW}/fire/"
    assert reverse("instance-events-available", kwargs={"instance_id": 7}).endswith(
        "/events/available/"
    )


def test_the_schema_lists_only_slash_ended_paths(anonymous):
    response = anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = set(json.loads(response.content)["paths"])
    expected = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route) for route in CANONICAL}
    assert paths == expected


@pytest.fixture
def world(db):
    """One object of each kind a path names, and a client allowed everything on them."""
    machine = online(example_seed(FLOW))
    draft = machine_services.machine_new_version(machine=machine)
    instance = instance_create(flow_code=FLOW, business_key="paths-1")
    event = instance_event_fire(instance_id=instance.pk, event="E1")
    failed = EventRecord.objects.create(
        instance=instance, event="E11", is_async=True, status="failed", fingerprint=""
    )
    client = client_with_token("paths", roles="1,2", all_flows=True, designer=True, operator=True)
    user = get_user_model().objects.get(username="paths")
    subscription = subscription_create(
        flow_code=FLOW, url="http://localhost/hook", states=None, user=user
    )
    scenario = scenario_create(
        machine=draft, data={"name": "paths", "steps": [{"event": "E1", "expect": {"state": "S1"}}]}
    )
    ids = {
        "sm_id": draft.pk,
        "scenario_id": scenario.pk,
        "instance_id": instance.pk,
        "event_id": event["eventId"],
        "code": FLOW,
        "subscription_id": subscription.pk,
    }
    return {"client": client, "draft": draft, "ids": ids, "failed": failed.pk}


# The query or body that would be valid on the route, so that the answers get past validation.
QUERIES = {
    "/api/v1/events/": f"?flow={FLOW}&businessKey=paths-1",
    "/api/v1/instances/": f"?flow={FLOW}&businessKey=paths-1",
    "/api/v1/instances/<int:instance_id>/events/available/": "?role=1&explain=true",
    "/api/v1/machines/<int:sm_id>/diagram/": "?format=mermaid",
}


def _body(route: str, method: str, world: dict):
    if method in ("get", "delete"):
        return None
    bodies = {
        "/flows/": {"code": "paths-new", "name": "Paths"},
        "/machines/": example_seed("audit"),
        "/machines/<int:sm_id>/": machine_selectors.machine_export(machine=world["draft"]),
        "/instances/": {"flow": FLOW, "businessKey": "paths-2"},
        "/instances/<int:instance_id>/events/": {"event": "E11"},
        "/instances/<int:instance_id>/migrate/": {"smId": world["draft"].pk},
        "/flows/<slug:code>/fire/": {"state": "START", "event": "E1"},
        "/machines/<int:sm_id>/simulate/": {"steps": [{"event": "E1"}]},
        "/machines/<int:sm_id>/scenarios/": {
            "name": "new",
            "steps": [{"event": "E1", "expect": {"state": "S1"}}],
        },
        "/machines/<int:sm_id>/scenarios/<int:scenario_id>/": {
            "name": "renamed",
            "steps": [{"event": "E1", "expect": {"state": "S1"}}],
        },
        "/expressions/check/": {"expression": "ctx.n + 1"},
        "/subscriptions/": {"flow": FLOW, "url": "http://localhost/other"},
    }
    return bodies.get(route.removeprefix("/api/v1"), {})


def _url(route: str, world: dict) -> str:
    ids = {**world["ids"]}
    if route.endswith("/replay/"):
        ids["event_id"] = world["failed"]
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), route)


def _answer(client, method: str, url: str, body):
    """The answer to one request, whose changes are rolled back: both forms see one world."""
    with transaction.atomic():
        response = getattr(client, method)(url, body, format="json")
        transaction.set_rollback(True)
    kind = response.get("Content-Type", "")
    content = response.json() if kind.startswith("application/json") else response.content
    if method != "get" and isinstance(content, dict):
        content = content.get("code")  # a write's answer may hold new ids; its error code not
    return response.status_code, content


@pytest.mark.parametrize("route", CANONICAL)
def test_the_slashless_alias_answers_as_the_route_does(world, route):
    client, url = world["client"], _url(route, world)
    query = QUERIES.get(route, "")
    answered = []
    for method in ("get", "post", "put", "delete"):
        body = _body(route, method, world)
        canonical = _answer(client, method, url + query, body)
        alias = _answer(client, method, url.removesuffix("/") + query, body)
        assert canonical == alias, f"{method.upper()} {url}: {canonical} != {alias}"
        assert canonical[0] not in (301, 302, 308, 404), f"{method.upper()} {url}: {canonical}"
        answered.append(canonical[0])
    assert set(answered) != {405}, f"{url}: no method reached the view"
