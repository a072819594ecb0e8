"""Every integer and string a client sends is bounded at the edge: 400, never a 500.

Roles fit the event record's integer column, versions stop well before theirs, ids are
64-bit, contexts hold only what can be stored and written back as JSON, and no path or query
parameter carries a NUL to the database.
"""

import pytest

from machines.interchange import VERSION_MAX
from machines.models import Machine
from runtime.models import ROLE_MAX, ROLE_MIN, EventRecord, Instance
from runtime.services import instance_create
from tests.conftest import example_seed, without_ids
from tests.runtime.helpers import footprint, online

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def machine(db):
    return online(example_seed("design-example"))


@pytest.fixture
def instance(machine):
    return instance_create(flow_code="design-example", business_key="bounds-1")


def _refused(response, path: str | None = None) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    if path is not None:
        assert path in [p["path"] for p in body["details"]["problems"]], body
    return body


def _role_requests(instance, machine, role):
    """(what, method, url, body, problem path) for every route that takes a role."""
    events = f"/api/v1/instances/{instance.pk}/events/"
    return [
        ("sync event", "post", events, {"event": "E1", "role": role}, "role"),
        ("async event", "post", events, {"event": "E1", "role": role, "async": True}, "role"),
        (
            "stateless fire",
            "post",
            "/api/v1/flows/design-example/fire",
            {"state": "START", "event": "E1", "role": role},
            "role",
        ),
        (
            "simulate",
            "post",
            f"/api/v1/machines/{machine.pk}/simulate",
            {"steps": [{"event": "E1", "role": role}]},
            "steps[0].role",
        ),
        (
            "available",
            "get",
            f"/api/v1/instances/{instance.pk}/events/available?role={role}",
            None,
            "role",
        ),
    ]


@pytest.mark.parametrize("role", [ROLE_MAX + 1, ROLE_MIN - 1, 10**30])
def test_a_role_the_column_cannot_hold_is_refused_on_every_route_that_takes_one(
    designer, machine, instance, role
):
    before = footprint(instance.pk)

    for what, method, url, body, path in _role_requests(instance, machine, role):
        response = getattr(designer, method)(url, body, format="json")
        assert response.status_code == 400, what
        _refused(response, path)

    assert footprint(instance.pk) == before
    assert not EventRecord.objects.exists()


@pytest.mark.postgres
def test_on_postgresql_the_largest_role_is_stored_and_one_more_is_refused(designer, instance):
    events = f"/api/v1/instances/{instance.pk}/events/"

    over = designer.post(
        events, {"event": "E1", "role": ROLE_MAX + 1, "async": True}, format="json"
    )
    _refused(over, "role")
    assert not EventRecord.objects.exists()

    largest = designer.post(events, {"event": "E1", "role": ROLE_MAX}, format="json")
    assert largest.status_code == 200, largest.content
    assert EventRecord.objects.get().role == ROLE_MAX


@pytest.mark.parametrize("raw", ["²", "1_000", " 7", "7.0", "1" * 30])
def test_a_role_query_parameter_that_is_not_plain_digits_is_refused(designer, instance, raw):
    response = designer.get(f"/api/v1/instances/{instance.pk}/events/available", {"role": raw})

    _refused(response, "role")


def _create_machine(client, version):
    doc = without_ids(example_seed("audit"))
    doc["smInfo"].update(flowCode="design-example", version=version)
    return client.post("/api/v1/machines/", doc, format="json")


def test_a_version_past_the_bound_is_refused_and_nothing_is_stored(designer, machine):
    response = _create_machine(designer, 2**31 - 1)

    _refused(response, "smInfo.version")
    assert list(Machine.objects.values_list("version", flat=True)) == [1]


def _at_the_last_version_nothing_more_is_numbered(client, machine):
    last = _create_machine(client, VERSION_MAX)
    assert last.status_code == 201, last.content
    assert last.json()["smInfo"]["version"] == str(VERSION_MAX)

    _refused(client.post(f"/api/v1/machines/{machine.pk}/new-version"), "smInfo.version")
    _refused(_create_machine(client, None), "smInfo.version")
    assert sorted(Machine.objects.values_list("version", flat=True)) == [1, VERSION_MAX]


def test_a_flow_at_the_last_version_refuses_the_next_one_instead_of_overflowing(designer, machine):
    _at_the_last_version_nothing_more_is_numbered(designer, machine)


@pytest.mark.postgres
def test_on_postgresql_a_flow_at_the_last_version_refuses_the_next_one(designer, machine):
    _at_the_last_version_nothing_more_is_numbered(designer, machine)


@pytest.mark.postgres
def test_on_postgresql_a_version_the_column_would_overflow_on_is_refused(designer, machine):
    _refused(_create_machine(designer, 2**31 - 1), "smInfo.version")
    _refused(_create_machine(designer, 2**31), "smInfo.version")
    assert list(Machine.objects.values_list("version", flat=True)) == [1]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/subscriptions/?flow=%00",
        "/api/v1/instances/?businessKey=a%00b",
        "/api/v1/machines/?flow=%00",
        "/api/v1/flows/?x%00=1",
    ],
)
def test_a_nul_in_a_query_parameter_is_refused_before_any_query(designer, machine, url):
    _refused(designer.get(url))


def test_a_nul_in_the_path_is_refused_and_nothing_is_stored(designer, machine):
    response = designer.post(
        "/api/v1/flows/design%00example/fire", {"state": "START", "event": "E1"}, format="json"
    )

    _refused(response)
    assert not EventRecord.objects.exists()


def test_a_query_value_longer_than_any_parameter_is_refused(designer, machine):
    _refused(designer.get("/api/v1/subscriptions/", {"flow": "x" * 2001}), "flow")


# Bodies as raw JSON text: 1e400 is valid JSON that Python reads as infinity.
BAD_CONTEXTS = {
    "infinite number": b'{"x": 1e400}',
    "integer past 10,000 bits": b'{"x": ' + b"9" * 3100 + b"}",
    "NUL in text": b'{"x": "a\\u0000b"}',
    "lone surrogate": b'{"x": "\\ud800"}',
    "nested 40 deep": b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}",
}


@pytest.mark.parametrize("context", BAD_CONTEXTS.values(), ids=BAD_CONTEXTS.keys())
def test_a_context_that_cannot_be_stored_is_refused_on_create(designer, machine, context):
    body = b'{"flow": "design-example", "businessKey": "k", "context": ' + context + b"}"

    response = designer.post("/api/v1/instances/", body, content_type="application/json")

    _refused(response, "context")
    assert not Instance.objects.exists()


@pytest.mark.parametrize("context", BAD_CONTEXTS.values(), ids=BAD_CONTEXTS.keys())
def test_a_context_that_cannot_be_stored_is_refused_on_an_event(designer, instance, context):
    before = footprint(instance.pk)
    body = b'{"event": "E1", "async": true, "context": ' + context + b"}"

    response = designer.post(
        f"/api/v1/instances/{instance.pk}/events/", body, content_type="application/json"
    )

    _refused(response, "context")
    assert footprint(instance.pk) == before


def test_the_largest_integer_a_context_may_hold_is_stored_and_read_back(designer, machine):
    largest = 2**10_000 - 1
    body = f'{{"flow": "design-example", "businessKey": "k", "context": {{"x": {largest}}}}}'

    response = designer.post("/api/v1/instances/", body, content_type="application/json")

    assert response.status_code == 201, response.content
    assert Instance.objects.get().context == {"x": largest}


@pytest.mark.parametrize("sm_id", [2**63, 0, -1])
def test_an_sm_id_that_is_no_row_id_is_refused_on_create_and_on_migrate(designer, instance, sm_id):
    before = footprint(instance.pk)
    body = {"flow": "design-example", "businessKey": "other", "smId": sm_id}

    _refused(designer.post("/api/v1/instances/", body, format="json"), "smId")
    migrate = f"/api/v1/instances/{instance.pk}/migrate"
    _refused(designer.post(migrate, {"smId": sm_id}, format="json"), "smId")

    assert Instance.objects.count() == 1
    assert footprint(instance.pk) == before
