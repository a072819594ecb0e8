"""Schemathesis against our own OpenAPI schema: every operation, bounded examples, no 5xx.

Requests go to the WSGI app in process, as a designer. Generated path ids are mostly mapped
onto real rows (the example machines online, a testing draft, an instance, an event record)
so the fuzzer gets past the 404s; the rest stay random to exercise NOT_FOUND. Examples are
derandomized so CI is repeatable; SCHEMA_FUZZ_EXAMPLES=200 digs deeper by hand.

Checks: every default one (no 5xx, responses and their content types match the schema, auth
is not ignored, every status code is documented, ...) except two the schema cannot honour:
positive_data_acceptance (a seed document valid per its JSON schema may still fail the
machine rules of DESIGN.md 3) and negative_data_rejection (DRF coerces scalars: 0 for a
string, explain=null for a boolean).
"""

import json
import os
import re

import pytest
import schemathesis
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from config.wsgi import application
from tests.conftest import EXAMPLE_NAMES, example_seed


def _openapi() -> dict:
    """The document /api/schema/ serves, generated without a request (no database at import)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))


schema = schemathesis.openapi.from_dict(_openapi())
schema.app = application  # calls go to the WSGI app in process
MAX_EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def world(transactional_db):
    """Real rows for the path ids, and a designer's token."""
    from clients.services import api_client_create
    from machines.services import machine_new_version
    from runtime.services import instance_create, instance_event_fire
    from tests.runtime.helpers import online

    machines = [online(example_seed(name)) for name in EXAMPLE_NAMES]
    draft = machine_new_version(machine=machines[0])
    instance = instance_create(flow_code="design-example", business_key="fuzz-1")
    event = instance_event_fire(instance_id=instance.pk, event="E1")
    _, token = api_client_create(name="fuzzer", roles="1,2", designer=True)
    return {
        "ids": {
            "sm_id": [m.pk for m in machines] + [draft.pk],
            "instance_id": [instance.pk],
            "event_id": [event["eventId"]],
            "code": list(EXAMPLE_NAMES),
        },
        "headers": {"Authorization": f"Token {token}"},
    }


def _aim(case, ids: dict) -> None:
    """Point most generated path parameters at real rows; keep some random ones."""
    for name, value in list(case.path_parameters.items()):
        known = ids.get(name)
        if known and isinstance(value, int) and not isinstance(value, bool):
            pick = value % (len(known) + 1)
            if pick < len(known):
                case.path_parameters[name] = known[pick]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,  # the world is shared by the examples on purpose
    ],
)
def test_no_operation_answers_a_server_error(case, world):
    _aim(case, world["ids"])
    case.call_and_validate(
        headers=world["headers"],
        excluded_checks=[
            positive_data_acceptance,
            negative_data_rejection,
        ],
    )


def _api_routes(patterns, prefix="/"):
    """(path in OpenAPI form, view class) for every route under the resolver."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_routes(pattern.url_patterns, route)
        elif route.startswith("/api/v1/"):
            yield re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), pattern.callback.view_class


def test_the_schema_lists_every_route_and_method(anonymous):
    response = anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    routes = list(_api_routes(get_resolver().url_patterns))
    packages = {view.__module__.rpartition(".apis")[0] + ".apis" for _, view in routes}
    assert packages == {"machines.apis", "runtime.apis"}
    for path, view in routes:
        methods = {m for m in view.http_method_names if hasattr(view, m)} - {"options", "head"}
        assert path in paths, f"{path} ({view.__name__}) is missing from the OpenAPI schema"
        assert methods <= set(paths[path]), f"{path}: {methods - set(paths[path])} undocumented"
