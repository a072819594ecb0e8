"""Admin staff who are not superusers see and change only the flows of their groups."""

import json

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from clients.models import FlowGrant
from machines.models import Flow, Machine
from runtime.models import EventRecord
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.designer.admin_helpers import DESIGNER_PERMISSIONS, draft, staff_user
from tests.runtime.helpers import online

pytestmark = pytest.mark.django_db

PERMISSIONS = (*DESIGNER_PERMISSIONS, "change_instance", "publish_machine")


@pytest.fixture
def two_flows():
    ours, theirs = online(example_seed("audit")), online(example_seed("design-example"))
    return {
        "ours": ours,
        "theirs": theirs,
        "our_draft": draft("audit"),
        "their_draft": draft("design-example"),
        "our_instance": instance_create(flow_code="audit", business_key="our-1"),
        "their_instance": instance_create(flow_code="design-example", business_key="their-1"),
    }


@pytest.fixture
def team_client(client, two_flows):
    user = staff_user("olga", *PERMISSIONS, flows=[two_flows["ours"].flow])
    client.force_login(user)
    return client


def _listed(client, name: str) -> set[str]:
    response = client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 200
    return {str(row) for row in response.context["cl"].result_list}


def test_lists_show_only_the_flows_of_the_users_groups(team_client, two_flows):
    assert _listed(team_client, "machines_flow") == {"audit"}
    assert _listed(team_client, "machines_machine") == {"audit v1", "audit v2"}
    instances = _listed(team_client, "runtime_instance")
    assert instances == {f"{two_flows['ours'].flow_id}:our-1"}


def test_the_list_filters_offer_only_the_users_flows(team_client):
    for name in ("machines_machine", "runtime_instance"):
        html = team_client.get(reverse(f"admin:{name}_changelist")).content.decode()
        assert "audit" in html and "design-example" not in html


@pytest.mark.parametrize("page", ["overview", "simulate", "export"])
def test_another_flows_machine_pages_are_not_found(team_client, two_flows, page):
    machine = two_flows["their_draft"]
    response = team_client.get(reverse(f"admin:machines_machine_{page}", args=[machine.pk]))
    assert response.status_code == 404


def test_another_flows_machine_cannot_be_changed_or_stepped(team_client, two_flows):
    machine = two_flows["their_draft"]
    change = team_client.get(reverse("admin:machines_machine_change", args=[machine.pk]))
    assert change.status_code == 302  # the admin's answer for an object that does not exist
    stepped = team_client.post(reverse("admin:machines_machine_step", args=[machine.pk, "publish"]))
    assert stepped.status_code == 404
    assert Machine.objects.get(pk=machine.pk).status == Machine.Status.TESTING


def test_another_flows_instance_and_its_replay_are_not_found(team_client, two_flows):
    instance = two_flows["their_instance"]
    record = EventRecord.objects.create(
        instance=instance, event="E1", is_async=True, status="failed", fingerprint=""
    )
    page = team_client.get(reverse("admin:runtime_instance_change", args=[instance.pk]))
    assert page.status_code == 302
    replay = team_client.post(
        reverse("admin:runtime_instance_replay", args=[instance.pk, record.pk])
    )
    assert replay.status_code == 404
    assert EventRecord.objects.get(pk=record.pk).status == "failed"


def test_the_add_form_offers_only_the_users_flows(team_client, two_flows):
    response = team_client.get(reverse("admin:machines_machine_add"))
    choices = {str(flow) for flow in response.context["adminform"].form.fields["flow"].queryset}
    assert choices == {"audit"}


def test_importing_into_another_flow_is_refused_as_an_unknown_flow(team_client, two_flows):
    doc = example_seed("design-example")
    doc["smInfo"].update(flowCode="design-example", version=None)
    for create_flow in ("", "on"):  # "create the flow" does not reach a taken code either
        response = team_client.post(
            reverse("admin:machines_machine_import"),
            {"text": json.dumps(doc), "create_flow": create_flow},
        )
        assert response.status_code == 200
        assert "No flow with code" in response.content.decode()
    assert two_flows["theirs"].flow.machines.count() == 2


def test_a_flow_made_in_the_admin_is_granted_to_its_maker(team_client):
    response = team_client.post(
        reverse("admin:machines_flow_add"), {"code": "returns", "name": "Returns"}
    )
    assert response.status_code == 302
    flow = Flow.objects.get(code="returns")
    assert FlowGrant.objects.filter(flow=flow, user__username="olga").exists()
    assert _listed(team_client, "machines_flow") == {"audit", "returns"}


def test_a_superuser_sees_every_flow(admin_client, two_flows):
    assert _listed(admin_client, "machines_flow") == {"audit", "design-example"}


def test_groups_and_users_are_granted_flows_on_their_admin_pages(admin_client, two_flows):
    user = User.objects.create_user("pat", is_staff=True)
    group = user.groups.create(name="auditors")
    url = reverse("admin:auth_group_change", args=[group.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and "flow_grants-TOTAL_FORMS" in page.content.decode()
    data = {
        "name": "auditors",
        "flow_grants-TOTAL_FORMS": "1",
        "flow_grants-INITIAL_FORMS": "0",
        "flow_grants-0-flow": str(two_flows["ours"].flow_id),
    }
    assert admin_client.post(url, data).status_code == 302
    assert list(FlowGrant.objects.filter(group=group).values_list("flow__code", flat=True)) == [
        "audit"
    ]
