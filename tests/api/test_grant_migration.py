"""The migration that brings grants breaks nothing that worked before it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("clients", "0003_alter_apiclient_options")]
AFTER = [("clients", "0004_flow_grants")]


@pytest.mark.django_db(transaction=True)
def test_existing_clients_and_groups_get_every_flow_that_exists_then():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    machines = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "machines"]
    old = executor.loader.project_state(BEFORE + machines).apps
    user = old.get_model("auth", "User").objects.create(username="legacy-system")
    old.get_model("clients", "ApiClient").objects.create(user=user, roles="1")
    group = old.get_model("auth", "Group").objects.create(name="legacy-team")
    Flow = old.get_model("machines", "Flow")
    flows = {Flow.objects.create(code=code, name=code).pk for code in ("a", "b")}

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from clients.models import FlowGrant

    assert {g.flow_id for g in FlowGrant.objects.filter(user_id=user.pk)} == flows
    assert {g.flow_id for g in FlowGrant.objects.filter(group_id=group.pk)} == flows
    assert not FlowGrant.objects.filter(flow__isnull=True).exists()  # not flows made later
