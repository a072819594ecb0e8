"""The grant check costs a sync event no statement: it is part of the one that locks."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.services import api_client_create
from config.exceptions import NotFound
from runtime.services import instance_create, instance_event_fire
from tests.conftest import example_seed
from tests.runtime.helpers import footprint, online

pytestmark = pytest.mark.django_db


def _statements(**fire) -> list[str]:
    """The SQL statements of one sync event (savepoints of the test's transaction left out)."""
    with CaptureQueriesContext(connection) as captured:
        instance_event_fire(**fire)
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


@pytest.fixture
def instances():
    online(example_seed("design-example"))
    online(example_seed("audit"))
    return [instance_create(flow_code="design-example", business_key=f"k{n}") for n in (1, 2)]


def _client_user(name: str, **grants):
    client, _ = api_client_create(name=name, roles="1", **grants)
    return client.user


def test_a_granted_client_fires_with_as_many_statements_as_the_platform_itself(instances):
    by_flow = _client_user("by-flow", flows=["design-example"])
    by_group = _client_user("by-group")
    group = by_group.groups.create(name="orders-team")
    group.flow_grants.create(flow=instances[0].flow)
    unrestricted = _statements(instance_id=instances[0].pk, event="E1", user=None)
    granted = _statements(instance_id=instances[1].pk, event="E1", user=by_flow)
    through_group = _statements(instance_id=instances[0].pk, event="E11", user=by_group)
    assert len(granted) == len(unrestricted) == len(through_group)


@pytest.mark.postgres
def test_on_postgresql_a_sync_event_is_two_statements_grant_check_included(instances):
    user = _client_user("by-flow", flows=["design-example"])
    statements = _statements(instance_id=instances[0].pk, event="E1", user=user)
    assert len(statements) == 2  # lock (with the grant check), write
    assert "clients_flowgrant" in statements[0]


def test_a_client_without_the_grant_is_not_found_and_changes_nothing(instances):
    stranger = _client_user("stranger", flows=["audit"])
    before = footprint(instances[0].pk)
    with CaptureQueriesContext(connection) as captured:
        with pytest.raises(NotFound):
            instance_event_fire(instance_id=instances[0].pk, event="E1", user=stranger)
    assert len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]) == 1
    assert footprint(instances[0].pk) == before
