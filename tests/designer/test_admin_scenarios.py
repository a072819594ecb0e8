"""Scenarios in the admin: saved from the simulator, listed and run on the overview with
their coverage, and the publish button refusing a version whose scenarios fail."""

import json

import pytest
from django.urls import reverse

from machines.models import Machine, Scenario
from tests.designer.admin_helpers import DESIGNER_PERMISSIONS, draft, staff_user

pytestmark = pytest.mark.django_db

STEPS = [
    {"event": "E1", "role": "", "context": {}},
    {"event": "E2", "role": "", "context": {"amount": 150}},
    {"event": "E9", "role": "", "context": {}},
]


def url(name, *args):
    return reverse(f"admin:machines_machine_{name}", args=args)


def save(client, machine, name, steps=STEPS, state="START"):
    return client.post(
        url("simulate_run", machine.pk),
        json.dumps({"state": state, "steps": steps, "saveAs": name}),
        content_type="application/json",
    )


def test_save_as_scenario_keeps_the_steps_expecting_what_they_did(admin_client):
    machine = draft()
    response = save(admin_client, machine, "big order")
    assert response.status_code == 201
    assert response.json()["name"] == "big order"
    assert response.json()["url"].endswith("#sc-scenarios")
    scenario = Scenario.objects.get(machine=machine)
    assert (scenario.state, [s["expect"] for s in scenario.steps]) == (
        "START",
        [{"state": "S1"}, {"state": "S21"}, {"code": "NO_TRANSITION"}],
    )
    assert scenario.steps[1]["context"] == {"amount": 150}


def test_save_as_scenario_refuses_a_missing_or_taken_name_and_a_frozen_version(admin_client):
    machine = draft()
    assert save(admin_client, machine, "  ").json()["code"] == "VALIDATION_ERROR"
    save(admin_client, machine, "once")
    again = save(admin_client, machine, "once")
    assert (again.status_code, again.json()["code"]) == (400, "VALIDATION_ERROR")
    Machine.objects.filter(pk=machine.pk).update(status=Machine.Status.PUBLISHED)
    frozen = save(admin_client, machine, "later")
    assert frozen.status_code in (403, 409)
    assert Scenario.objects.count() == 1


def test_a_viewer_may_simulate_but_not_save(client):
    machine = draft()
    client.force_login(staff_user("viewer", "view_machine", "view_flow"))
    assert save(client, machine, "x").status_code == 403
    assert not Scenario.objects.exists()


def test_the_overview_lists_scenarios_and_runs_them_with_coverage(admin_client):
    machine = draft()
    save(admin_client, machine, "big order")
    save(admin_client, machine, "small order", [{"event": "E2", "context": {"amount": 1}}], "S1")
    Scenario.objects.filter(name="small order").update(
        steps=[{"event": "E2", "context": {"amount": 1}, "expect": {"state": "S21"}}]
    )
    listed = admin_client.get(url("overview", machine.pk)).content.decode()
    assert 'id="sc-run-scenarios"' in listed and 'data-scenario="big order"' in listed
    assert "linkStyle" not in listed

    html = admin_client.get(url("overview", machine.pk) + "?run=1").content.decode()
    assert "sc-scenario-passed" in html and "sc-scenario-failed" in html
    assert "<code>S21</code>" in html and "<code>S22</code>" in html  # expected, got
    assert 'id="sc-coverage"' in html and 'class="sc-uncovered" data-transition="7"' in html
    assert 'class="sc-covered" data-transition="0"' in html
    assert "flowchart LR" in html and "linkStyle 1 stroke:#15803d" in html


def test_the_publish_button_refuses_a_version_whose_scenarios_fail(client):
    machine = draft()
    Scenario.objects.create(
        machine=machine, name="wrong", steps=[{"event": "E1", "expect": {"state": "S4"}}]
    )
    user = staff_user("publisher", *DESIGNER_PERMISSIONS, "publish_machine")
    client.force_login(user)
    response = client.post(url("step", machine.pk, "publish"), follow=True)
    machine.refresh_from_db()
    assert machine.status == Machine.Status.TESTING
    assert "saved scenario" in response.content.decode() and "wrong" in response.content.decode()


def delete(client, machine, scenario):
    return client.post(url("scenario_delete", machine.pk, scenario.pk))


def test_a_designer_deletes_a_scenario_of_a_draft_from_the_overview(client):
    machine = draft()
    client.force_login(staff_user("designer", *DESIGNER_PERMISSIONS))
    save(client, machine, "keep")
    save(client, machine, "drop")
    drop = Scenario.objects.get(name="drop")
    page = client.get(url("overview", machine.pk)).content.decode()
    assert url("scenario_delete", machine.pk, drop.pk) in page

    response = delete(client, machine, drop)

    assert response.status_code == 302
    assert response["Location"] == url("overview", machine.pk) + "#sc-scenarios"
    assert list(Scenario.objects.values_list("name", flat=True)) == ["keep"]
    listed = client.get(response["Location"]).content.decode()
    assert "Scenario drop deleted." in listed and 'data-scenario="drop"' not in listed


def test_a_frozen_versions_scenarios_offer_no_delete_and_refuse_one(admin_client):
    machine = draft()
    save(admin_client, machine, "kept")
    scenario = Scenario.objects.get()
    Machine.objects.filter(pk=machine.pk).update(status=Machine.Status.PUBLISHED)

    page = admin_client.get(url("overview", machine.pk)).content.decode()
    response = delete(admin_client, machine, scenario)

    assert "sc-scenario-delete" not in page
    assert response.status_code == 403  # a frozen version is not to be changed at all
    assert Scenario.objects.filter(pk=scenario.pk).exists()


def test_a_viewer_may_not_delete_and_a_get_deletes_nothing(admin_client, client):
    machine = draft()
    save(admin_client, machine, "kept")
    scenario = Scenario.objects.get()
    client.force_login(staff_user("viewer", "view_machine", "view_flow"))

    assert "sc-scenario-delete" not in client.get(url("overview", machine.pk)).content.decode()
    assert delete(client, machine, scenario).status_code == 403
    assert admin_client.get(url("scenario_delete", machine.pk, scenario.pk)).status_code == 405
    assert Scenario.objects.filter(pk=scenario.pk).exists()


def test_deleting_a_scenario_of_another_machine_finds_nothing(admin_client):
    first, second = draft(), draft()  # two versions of one flow
    save(admin_client, first, "mine")
    scenario = Scenario.objects.get()

    response = delete(admin_client, second, scenario)

    assert response.status_code == 302
    assert Scenario.objects.filter(pk=scenario.pk).exists()
    assert "No scenario with id" in admin_client.get(response["Location"]).content.decode()
