"""Schemathesis against our own OpenAPI schema: every operation, no 5xx, every answer documented.

Requests go to the WSGI app in process, as a client that designs, operates and holds roles 1
and 2 on every flow. Generated path ids are mostly mapped onto real rows (the example
machines online, a testing draft, an instance, an event record) so the fuzzer gets past the
404s; the rest stay random to exercise NOT_FOUND. Examples are derandomized (a fixed seed per
operation), so a run is repeatable and a failure found once is found again.

Examples: FUZZ_EXAMPLES generated per operation, 3,000 over the 30 operations, and
schemathesis adds about 2,750 coverage cases (edge values, missing and wrong-typed fields, other
methods and media types): about 5,750 calls in a little over a minute on PostgreSQL, CI's
first leg. CI's SQLite leg generates SQLITE_FUZZ_EXAMPLES per operation (450, with the same
coverage cases: about 3,200 calls in about 35 s), since the PostgreSQL leg already fuzzes
every operation in full. SCHEMA_FUZZ_EXAMPLES=300 digs deeper by hand (about 2.5 minutes).

Checks: not_a_server_error, status_code_conformance (every status answered is documented),
content_type_conformance and response_schema_conformance (every body matches the schema of
its status, typed down to the fields). Off, and why:
- positive_data_acceptance: a seed document valid per its JSON schema may still fail the
  machine rules, and a valid-looking event may be refused by the machine (400, 409, 412, 422
  are documented answers to input that matches the schema).
- negative_data_rejection: DRF coerces scalars (0 for a string, explain=null for a boolean),
  so some input the schema calls invalid is accepted (a 200 where the check wants a 4xx).
- The rest (ignored_auth, missing_required_header, unsupported_method, the header checks,
  the stateful use_after_free and ensure_resource_availability) are outside this test's
  contract; they passed when last tried, and tests/api/test_auth.py checks authentication.
"""

import json
import os
import re

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.conftest import EXAMPLE_NAMES, example_seed

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ_EXAMPLES = 100
SQLITE_FUZZ_EXAMPLES = 15


def _openapi() -> dict:
    """The document /api/schema/ serves, generated without a request (no database at import)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))


def _max_examples() -> int:
    if "SCHEMA_FUZZ_EXAMPLES" in os.environ:
        return int(os.environ["SCHEMA_FUZZ_EXAMPLES"])
    on_sqlite = django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    return SQLITE_FUZZ_EXAMPLES if on_sqlite else FUZZ_EXAMPLES


schema = schemathesis.openapi.from_dict(_openapi())
schema.app = application  # calls go to the WSGI app in process


@pytest.fixture
def world(transactional_db):
    """Real rows for the path ids, and the token of a client that may do everything."""
    from clients.services import api_client_create
    from machines.scenarios import scenario_create
    from machines.services import machine_new_version
    from runtime.services import instance_create, instance_event_fire
    from tests.runtime.helpers import online

    machines = [online(example_seed(name)) for name in EXAMPLE_NAMES]
    draft = machine_new_version(machine=machines[0])
    scenario = scenario_create(
        machine=draft,
        data={"name": "fuzz", "steps": [{"event": "E1", "expect": {"state": "S1"}}]},
    )
    instance = instance_create(flow_code="design-example", business_key="fuzz-1")
    event = instance_event_fire(instance_id=instance.pk, event="E1")
    _, token = api_client_create(
        name="fuzzer", roles="1,2", designer=True, operator=True, all_flows=True
    )
    return {
        "ids": {
            "sm_id": [draft.pk] + [m.pk for m in machines],  # "0" edits the draft
            "instance_id": [instance.pk],
            "event_id": [event["eventId"]],
            "scenario_id": [scenario.pk],
            "code": list(EXAMPLE_NAMES),
        },
        "headers": {"Authorization": f"Token {token}"},
    }


def _aim(case, ids: dict) -> None:
    """Point most generated path parameters at real rows; keep some random ones.

    The coverage phase sends one value (such as "0") with every variant of a body: mapped to
    a row, those bodies reach the code that reads them instead of a 404.
    """
    for name, value in list(case.path_parameters.items()):
        known = ids.get(name)
        if not known or isinstance(value, bool):
            continue
        if isinstance(value, str):
            value = int(value) if value.isascii() and value.isdigit() else len(value)
        if not isinstance(value, int):
            continue  # a float or a list: left as generated, a 404
        pick = value % (len(known) + 1)
        if pick < len(known):
            case.path_parameters[name] = known[pick]


@schema.parametrize()
@settings(
    max_examples=_max_examples(),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,  # the world is shared by the examples on purpose
    ],
)
def test_no_operation_answers_a_server_error_or_an_undocumented_status(case, world):
    _aim(case, world["ids"])
    case.call_and_validate(headers=world["headers"], checks=CHECKS)


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
        if not path.endswith("/"):
            continue  # the slashless alias of a route: tests/api/test_paths.py
        methods = {m for m in view.http_method_names if hasattr(view, m)} - {"options", "head"}
        assert path in paths, f"{path} ({view.__name__}) is missing from the OpenAPI schema"
        assert methods <= set(paths[path]), f"{path}: {methods - set(paths[path])} undocumented"
