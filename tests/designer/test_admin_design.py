"""The admin designer's machine form and lifecycle buttons, through Django's test client."""

import pytest
from django.urls import reverse

from machines import services
from machines.models import Flow, Machine
from tests.designer.admin_helpers import (
    DESIGNER_PERMISSIONS,
    definition_post,
    draft,
    small_seed,
    staff_user,
)

pytestmark = pytest.mark.django_db
Status = Machine.Status


def change_url(machine):
    return reverse("admin:machines_machine_change", args=[machine.pk])


def step_url(machine, step):
    return reverse("admin:machines_machine_step", args=[machine.pk, step])


@pytest.fixture
def designer_client(client):
    client.force_login(staff_user("dana", *DESIGNER_PERMISSIONS))
    return client


@pytest.fixture
def publisher_client(client):
    client.force_login(staff_user("pat", *DESIGNER_PERMISSIONS, "publish_machine"))
    return client


STATES = [{"value": "NEW", "initial": True}, {"value": "DONE", "final": True}]
TRANSITIONS = [{"source": "NEW", "event": "finish", "target": "DONE", "roles": "1,2"}]


def test_a_designer_builds_a_machine_with_the_add_form_and_the_service_stores_it(designer_client):
    flow = services.flow_create(code="orders", name="Orders")
    response = designer_client.post(
        reverse("admin:machines_machine_add"), definition_post(STATES, TRANSITIONS, flow=flow)
    )

    machine = Machine.objects.get(flow=flow)
    assert response.status_code == 302
    assert response["Location"] == change_url(machine)
    assert (machine.version, machine.status, machine.creator) == (1, Status.TESTING, "dana")
    assert [(s.value, s.initial, s.final) for s in machine.states.all()] == [
        ("NEW", True, False),
        ("DONE", False, True),
    ]
    transition = machine.transitions.get()
    assert (transition.source, transition.event, transition.target) == ("NEW", "finish", "DONE")
    assert transition.roles == "1,2" and transition.guard_condition is None


def test_a_version_the_flow_already_has_is_refused_on_the_add_form(designer_client):
    existing = draft()
    data = {**definition_post(STATES, TRANSITIONS, flow=existing.flow), "version": "1"}

    response = designer_client.post(reverse("admin:machines_machine_add"), data)

    assert response.status_code == 200
    assert "This flow already has a version 1." in response.content.decode()
    assert Machine.objects.count() == 1


def test_saving_the_change_form_replaces_the_definition_and_bumps_the_revision(designer_client):
    machine = services.machine_create(data=small_seed(), create_flow=True)
    states = [*STATES, {"value": "LOST", "desc": "gone"}]
    transitions = [*TRANSITIONS, {"source": "NEW", "event": "lose", "target": "LOST"}]

    response = designer_client.post(
        change_url(machine), definition_post(states, transitions, machine=machine)
    )

    machine.refresh_from_db()
    assert response.status_code == 302
    assert [s.value for s in machine.states.all()] == ["NEW", "DONE", "LOST"]
    assert [t.event for t in machine.transitions.all()] == ["finish", "lose"]
    assert machine.revision == 2 and machine.modifier == "dana"


def test_a_save_over_a_newer_revision_is_refused_and_keeps_the_newer_one(designer_client):
    machine = services.machine_create(data=small_seed(), create_flow=True)
    page = designer_client.get(change_url(machine)).content.decode()
    assert 'name="seen_revision" value="1"' in page
    services.machine_replace(machine=machine, data=small_seed())  # someone else saves: r2

    data = {**definition_post(STATES, TRANSITIONS, machine=machine), "seen_revision": "1"}
    response = designer_client.post(change_url(machine), data)

    assert response.status_code == 200
    assert "Someone saved this machine after you opened it." in response.content.decode()
    machine.refresh_from_db()
    assert machine.revision == 2 and machine.states.count() == 4


def test_a_duplicate_state_value_is_refused_on_the_form_and_nothing_changes(designer_client):
    machine = services.machine_create(data=small_seed(), create_flow=True)
    states = [{"value": "NEW"}, {"value": "NEW"}]

    response = designer_client.post(
        change_url(machine), definition_post(states, [], machine=machine)
    )

    assert response.status_code == 200
    assert "Please correct the duplicate data for value" in response.content.decode()
    machine.refresh_from_db()
    assert machine.revision == 1
    assert [s.value for s in machine.states.all()] == ["NEW", "PAID", "SHIPPED", "CANCELLED"]


def test_a_bad_expression_too_long_for_the_format_is_refused_on_the_form(designer_client):
    machine = services.machine_create(data=small_seed(), create_flow=True)
    transitions = [{**TRANSITIONS[0], "guard_condition": "x" * 2001}]

    response = designer_client.post(
        change_url(machine), definition_post(STATES, transitions, machine=machine)
    )

    assert response.status_code == 200
    machine.refresh_from_db()
    assert machine.revision == 1


def test_validation_problems_appear_next_to_the_state_and_the_transition(designer_client):
    doc = small_seed()
    doc["smTransitions"].append(
        {"sourceState": "PAID", "eventValue": "lose", "targetState": "GONE"}
    )
    machine = services.machine_create(data=doc, create_flow=True)

    html = designer_client.get(change_url(machine)).content.decode()

    cancelled_row = html[html.index('value="CANCELLED"') :].split("</tr>")[0]
    assert 'data-code="STATE_UNREACHABLE"' in cancelled_row
    lose_row = html[html.index('value="lose"') :].split("</tr>")[0]
    assert 'data-code="TARGET_UNKNOWN"' in lose_row
    assert 'id="sc-problems"' in html  # and the summary lists them all
    assert '<datalist id="sc-state-values">' in html


def test_a_frozen_machine_is_read_only_in_the_admin(publisher_client):
    machine = services.machine_publish(machine=draft())

    html = publisher_client.get(change_url(machine)).content.decode()
    response = publisher_client.post(
        change_url(machine), definition_post(STATES, TRANSITIONS, machine=machine)
    )

    assert 'name="states-0-value"' not in html
    assert "This version is frozen" in html
    assert response.status_code == 403
    machine.refresh_from_db()
    assert machine.revision == 1 and machine.states.count() == 8


def test_a_designer_without_the_publish_permission_can_neither_see_nor_use_publish(
    designer_client,
):
    machine = draft()

    html = designer_client.get(change_url(machine)).content.decode()
    response = designer_client.post(step_url(machine, "publish"))

    assert 'data-step="validate"' in html and 'data-step="publish"' not in html
    assert response.status_code == 403
    machine.refresh_from_db()
    assert machine.status == Status.TESTING


def test_publish_asks_for_confirmation_then_publishes(publisher_client):
    machine = draft()

    confirm = publisher_client.get(step_url(machine, "publish"))
    machine.refresh_from_db()
    assert confirm.status_code == 200 and machine.status == Status.TESTING
    assert 'id="sc-confirm"' in confirm.content.decode()

    response = publisher_client.post(step_url(machine, "publish"), follow=True)
    machine.refresh_from_db()
    assert machine.status == Status.PUBLISHED
    assert "v1 is published." in response.content.decode()


def test_publish_refuses_an_invalid_machine_and_says_why(publisher_client):
    machine = services.machine_create(data=small_seed(), create_flow=True)

    response = publisher_client.post(step_url(machine, "publish"), follow=True)

    machine.refresh_from_db()
    assert machine.status == Status.TESTING
    assert "cannot be published" in response.content.decode()


def test_online_returns_the_previous_online_version_to_published(publisher_client):
    first = services.machine_publish(machine=draft())
    services.machine_online(machine=first)
    second = services.machine_publish(machine=services.machine_new_version(machine=first))

    publisher_client.post(step_url(second, "online"))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.PUBLISHED, Status.ONLINE)


def test_disable_then_enable_through_the_buttons(publisher_client):
    machine = services.machine_publish(machine=draft())

    publisher_client.post(step_url(machine, "disable"))
    machine.refresh_from_db()
    assert machine.status == Status.DISABLED
    html = publisher_client.get(change_url(machine)).content.decode()
    assert 'data-step="enable"' in html and 'data-step="online"' not in html

    publisher_client.post(step_url(machine, "enable"))
    machine.refresh_from_db()
    assert machine.status == Status.PUBLISHED


def test_a_step_not_allowed_from_the_status_is_refused_with_a_message(publisher_client):
    machine = draft()

    response = publisher_client.post(step_url(machine, "online"), follow=True)

    machine.refresh_from_db()
    assert machine.status == Status.TESTING
    assert "Cannot put online" in response.content.decode()


def test_new_version_makes_a_testing_copy_and_opens_it(designer_client):
    machine = services.machine_publish(machine=draft())

    response = designer_client.post(step_url(machine, "new-version"))

    clone = Machine.objects.get(flow=machine.flow, version=2)
    assert response["Location"] == change_url(clone)
    assert clone.status == Status.TESTING and clone.states.count() == 8


def test_validate_says_whether_the_machine_can_be_published(designer_client):
    good, bad = draft(), services.machine_create(data=small_seed(), create_flow=True)

    good_page = designer_client.get(step_url(good, "validate"), follow=True).content.decode()
    bad_page = designer_client.get(step_url(bad, "validate"), follow=True).content.decode()

    assert "No problems" in good_page
    assert "1 error(s)" in bad_page


def test_a_testing_machine_is_deleted_through_the_service_and_a_frozen_one_cannot_be(
    publisher_client,
):
    testing = services.machine_create(data=small_seed(), create_flow=True)
    frozen = services.machine_publish(machine=draft())
    delete = "admin:machines_machine_delete"

    publisher_client.post(reverse(delete, args=[testing.pk]), {"post": "yes"})
    refused = publisher_client.post(reverse(delete, args=[frozen.pk]), {"post": "yes"})

    assert not Machine.objects.filter(pk=testing.pk).exists()
    assert refused.status_code == 403 and Machine.objects.filter(pk=frozen.pk).exists()


def test_deleting_a_selection_deletes_all_of_it_or_none_of_it(publisher_client):
    from runtime.services import instance_create

    unused = services.machine_create(data=small_seed("other"), create_flow=True)
    running = draft()  # a valid draft can run instances, which keep it from being deleted
    instance_create(flow_code="design-example", business_key="k1", sm_id=running.pk)
    selection = {"action": "delete_selected", "_selected_action": [unused.pk, running.pk]}
    changelist = reverse("admin:machines_machine_changelist")

    response = publisher_client.post(changelist, {**selection, "post": "yes"}, follow=True)

    assert "Cannot delete machines" in response.content.decode()
    assert Machine.objects.filter(pk__in=[unused.pk, running.pk]).count() == 2
    frozen = services.machine_publish(machine=draft("audit"))
    selection["_selected_action"] = [unused.pk, frozen.pk]
    assert publisher_client.post(changelist, {**selection, "post": "yes"}).status_code == 403
    assert Machine.objects.filter(pk=unused.pk).exists()


def test_a_flow_is_created_with_the_admin_form_and_not_edited_afterwards(designer_client):
    response = designer_client.post(
        reverse("admin:machines_flow_add"), {"code": "orders", "name": "Orders"}
    )

    flow = Flow.objects.get(code="orders")
    assert response["Location"] == reverse("admin:machines_flow_change", args=[flow.pk])
    page = designer_client.get(response["Location"]).content.decode()
    assert 'name="name"' not in page and "New machine in this flow" in page


def test_a_user_without_machine_permissions_cannot_open_the_designer(client):
    client.force_login(staff_user("viewer"))
    machine = draft()

    assert client.get(change_url(machine)).status_code == 403
    overview = reverse("admin:machines_machine_overview", args=[machine.pk])
    assert client.get(overview).status_code == 403
