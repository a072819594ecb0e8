"""The designer's surfaces for the modeling extensions: a state's entry action, a transition's
error target, and a source that is a comma list or "*", edited in the form, shown on frozen
versions, checked live, drawn one arrow per state and counted per state."""

import copy
import json
import re

import pytest
from django.urls import reverse

from machines import services
from machines.models import Machine
from operations import rollups
from operations import selectors as operations_selectors
from runtime.scenarios import scenario_save_from_simulation
from runtime.services import instance_create, instance_event_fire
from tests.designer.admin_helpers import DESIGNER_PERMISSIONS, definition_post, staff_user
from tests.runtime.helpers import online

pytestmark = pytest.mark.django_db

ENTER_URL = "http://localhost:9/hooks/shipped"
PAY_URL = "http://localhost:9/hooks/pay"
SHOP = {
    "smInfo": {"flowCode": "shop"},
    "smStates": [
        {"stateValue": "NEW", "initial": True},
        {"stateValue": "PAID"},
        {"stateValue": "SHIPPED", "final": True, "enterAction": ENTER_URL},
        {"stateValue": "CANCELLED", "final": True},
        {"stateValue": "FAILED", "final": True},
    ],
    "smTransitions": [
        {
            "sourceState": "NEW",
            "eventValue": "pay",
            "targetState": "PAID",
            "transitionAction": PAY_URL,
            "errorTarget": "FAILED",
        },
        {"sourceState": "PAID", "eventValue": "ship", "targetState": "SHIPPED"},
        {"sourceState": "NEW,PAID", "eventValue": "cancel", "targetState": "CANCELLED"},
    ],
}


def shop(**changes) -> dict:
    document = copy.deepcopy(SHOP)
    document.update(changes)
    return document


def change_url(machine) -> str:
    return reverse("admin:machines_machine_change", args=[machine.pk])


def row_html(html: str, name: str) -> str:
    """The <tr> holding the form field or read-only cell named `name`."""
    start = html.rindex("<tr", 0, html.index(name))
    return html[start : html.index("</tr>", start)]


def shown(html: str, field: str) -> list[str]:
    """The read-only cells of one field, row by row, as the frozen version's page shows them."""
    return re.findall(rf'<td class="field-{field}">\s*<p>([^<]*)</p>', html)


@pytest.fixture
def designer_client(client):
    client.force_login(staff_user("dana", *DESIGNER_PERMISSIONS))
    return client


# The form ----------------------------------------------------------------------------------


def test_the_form_stores_an_entry_action_an_error_target_and_a_list_source(designer_client):
    machine = services.machine_create(data=shop(), create_flow=True)
    states = [
        {"value": "NEW", "initial": True},
        {"value": "PAID"},
        {"value": "SHIPPED", "final": True, "enter_action": ENTER_URL},
        {"value": "CANCELLED", "final": True},
        {"value": "FAILED", "final": True},
    ]
    transitions = [
        {"source": "NEW", "event": "pay", "target": "PAID", "action": PAY_URL},
        {"source": "PAID", "event": "ship", "target": "SHIPPED", "error_target": "FAILED"},
        {"source": "NEW, PAID", "event": "cancel", "target": "CANCELLED"},
        {"source": "*", "event": "fail", "target": "FAILED"},
    ]

    response = designer_client.post(
        change_url(machine), definition_post(states, transitions, machine=machine)
    )

    assert response.status_code == 302
    machine.refresh_from_db()
    assert machine.revision == 2
    assert [s.enter_action for s in machine.states.all()] == [None, None, ENTER_URL, None, None]
    stored = [(t.source, t.event, t.error_target) for t in machine.transitions.all()]
    assert stored == [
        ("NEW", "pay", None),
        ("PAID", "ship", "FAILED"),
        ("NEW, PAID", "cancel", None),
        ("*", "fail", None),
    ]
    html = designer_client.get(change_url(machine)).content.decode()
    assert f'name="states-2-enter_action" value="{ENTER_URL}"' in html
    assert 'name="transitions-1-error_target" value="FAILED"' in html
    assert 'name="transitions-2-source" value="NEW, PAID"' in html


def test_the_source_field_takes_a_long_list_and_says_that_it_may(designer_client):
    states = [{"value": f"STATE_{n:03}"} for n in range(120)] + [{"value": "END", "final": True}]
    source = ",".join(s["value"] for s in states[:-1])  # 1,199 characters, past the old 100
    machine = services.machine_create(data=shop(), create_flow=True)
    transitions = [{"source": source, "event": "stop", "target": "END"}]

    response = designer_client.post(
        change_url(machine), definition_post(states, transitions, machine=machine)
    )

    assert response.status_code == 302
    machine.refresh_from_db()
    assert machine.transitions.get().source == source
    html = designer_client.get(change_url(machine)).content.decode()
    assert "a comma list (A,B) for several, or * for every normal" in html


def test_an_unknown_name_in_a_source_list_is_reported_on_its_row(designer_client):
    document = shop()
    document["smTransitions"][2]["sourceState"] = "NEW,PAYED"
    machine = services.machine_create(data=document, create_flow=True)

    html = designer_client.get(change_url(machine)).content.decode()

    row = row_html(html, 'value="NEW,PAYED"')
    assert 'data-code="SOURCE_UNKNOWN"' in row
    assert "PAYED" in row
    assert 'data-code="SOURCE_UNKNOWN"' not in row_html(html, 'value="ship"')


def test_a_frozen_version_shows_its_entry_action_error_target_and_list_source(admin_client):
    machine = services.machine_publish(
        machine=services.machine_create(data=shop(), create_flow=True)
    )

    html = admin_client.get(change_url(machine)).content.decode()

    assert "This version is frozen" in html
    assert 'name="states-2-enter_action"' not in html  # read-only: shown, not editable
    assert shown(html, "enter_action") == ["-", "-", ENTER_URL, "-", "-"]
    assert shown(html, "error_target") == ["FAILED", "-", "-"]
    assert shown(html, "source") == ["NEW", "PAID", "NEW,PAID"]
    assert "Entry action URL" in html and "Error target" in html


# Pages that draw and count -----------------------------------------------------------------


def test_the_diagram_and_table_draw_a_list_and_a_star_once_per_state(admin_client):
    document = shop()
    document["smTransitions"].append(
        {"sourceState": "*", "eventValue": "audit", "targetState": "NEW"}
    )
    machine = services.machine_create(data=document, create_flow=True)

    response = admin_client.get(reverse("admin:machines_machine_overview", args=[machine.pk]))

    diagram = response.context["diagram"]
    assert "NEW --> CANCELLED : cancel" in diagram
    assert "PAID --> CANCELLED : cancel" in diagram
    assert "NEW,PAID" not in diagram and "*" not in diagram.replace("[*]", "")
    table = response.context["table"]
    cells = {
        row["state"]: dict(zip(table["events"], row["cells"], strict=True)) for row in table["rows"]
    }
    assert cells["NEW"]["cancel"]["target"] == "CANCELLED"
    assert cells["PAID"]["cancel"]["target"] == "CANCELLED"
    assert cells["NEW"]["audit"]["target"] == "NEW"
    assert cells["PAID"]["audit"]["target"] == "NEW"
    assert cells["SHIPPED"]["audit"] is None  # "*" leaves normal, non-final states only


def test_the_simulator_offers_a_list_rows_event_once_and_runs_it_from_each_state(admin_client):
    machine = services.machine_create(data=shop(), create_flow=True)

    page = admin_client.get(reverse("admin:machines_machine_simulate", args=[machine.pk]))
    answer = admin_client.post(
        reverse("admin:machines_machine_simulate_run", args=[machine.pk]),
        json.dumps({"state": "PAID", "steps": [{"event": "cancel"}]}),
        content_type="application/json",
    ).json()

    assert page.context["events"] == ["pay", "ship", "cancel"]
    assert "NEW,PAID" not in page.context["diagram"]
    assert answer["state"] == "CANCELLED"


@pytest.fixture
def _counted_now(settings):
    settings.TRANSITION_COUNTS_SETTLE_SECONDS = 0
    operations_selectors.forget_instance_states()


@pytest.mark.usefixtures("_counted_now")
def test_the_operations_page_counts_a_list_rows_hops_per_state(admin_client):
    document = shop()
    del document["smTransitions"][0]["transitionAction"]  # no callback to call here
    del document["smTransitions"][0]["errorTarget"]
    del document["smStates"][4]  # FAILED, which only the error target reached
    machine = online(document)
    for key, events in {"o1": ["cancel"], "o2": ["pay", "cancel"], "o3": ["pay", "cancel"]}.items():
        instance = instance_create(flow_code="shop", business_key=key)
        for event in events:
            instance_event_fire(instance_id=instance.pk, event=event)
    rollups.history_rollup()

    response = admin_client.get(
        reverse("admin:operations_flowoperations_change", args=[machine.flow_id])
    )

    shown = {
        (e["transition"].source, e["transition"].event): e["count"]
        for e in response.context["edges"]
    }
    assert shown == {
        ("NEW", "pay"): 2,
        ("PAID", "ship"): 0,
        ("NEW", "cancel"): 1,
        ("PAID", "cancel"): 2,
    }
    assert "NEW,PAID" not in response.context["diagram"]
    assert Machine.objects.get(pk=machine.pk).status == Machine.Status.ONLINE


# The live check ----------------------------------------------------------------------------


def live(client, machine, document):
    rows = {key: document[key] for key in ("smStates", "smTransitions")}  # what the page sends
    return client.post(
        reverse("admin:machines_machine_live", args=[machine.pk]),
        json.dumps(rows),
        content_type="application/json",
    ).json()


def codes_on(answer, kind, index) -> list[str]:
    return [p["code"] for p in answer["problems"] if index in p["place"][kind]]


def test_the_live_check_draws_each_source_of_a_list_as_an_arrow_to_its_row(admin_client):
    document = shop()
    answer = live(admin_client, services.machine_create(data=shop(), create_flow=True), document)

    assert answer["valid"] is True, answer["problems"]
    assert "NEW --> CANCELLED : cancel" in answer["diagram"]
    assert "PAID --> CANCELLED : cancel" in answer["diagram"]
    assert "NEW,PAID" not in answer["diagram"]
    # One start arrow, then pay, ship, the list's two copies (both leading to row 2), and
    # pay's arrow to its error target.
    assert answer["edges"] == {"edge2": 0, "edge3": 1, "edge4": 2, "edge5": 2, "edge6": 0}
    assert "NEW --> FAILED : ⚠ pay failed" in answer["diagram"]
    assert answer["nodes"]["SHIPPED"] == 2


def test_the_live_check_places_the_new_fields_problems_on_their_rows(admin_client):
    document = shop()
    document["smStates"][2]["enterAction"] = "http://elsewhere.example/shipped"
    document["smTransitions"][0]["errorTarget"] = "NOWHERE"
    document["smTransitions"][2]["sourceState"] = "NEW,PAYED"

    answer = live(admin_client, services.machine_create(data=shop(), create_flow=True), document)

    assert "ACTION_HOST_NOT_ALLOWED" in codes_on(answer, "states", 2)
    assert "ERROR_TARGET_UNKNOWN" in codes_on(answer, "transitions", 0)
    assert "SOURCE_UNKNOWN" in codes_on(answer, "transitions", 2)
    assert codes_on(answer, "transitions", 1) == []
    fields = {p["code"]: p["field"] for p in answer["problems"]}
    assert fields["ACTION_HOST_NOT_ALLOWED"] == "enterAction"
    assert fields["ERROR_TARGET_UNKNOWN"] == "errorTarget"
    assert answer["valid"] is False


def test_the_new_fields_are_labelled_and_explained_in_chinese(admin_client):
    machine = services.machine_create(data=shop(), create_flow=True)

    html = admin_client.get(change_url(machine), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "进入动作 URL" in html and "错误目标" in html
    assert "多个状态用逗号分隔（A,B）" in html  # the source's help text
    assert "Entry action URL" not in html and "Error target" not in html


def test_scenario_coverage_marks_only_the_state_a_list_row_was_taken_from(admin_client):
    machine = services.machine_create(data=shop(), create_flow=True)
    steps = [{"event": "pay"}, {"event": "cancel"}]
    scenario_save_from_simulation(machine=machine, name="cancel paid", state=None, steps=steps)

    response = admin_client.get(
        reverse("admin:machines_machine_overview", args=[machine.pk]) + "?run=1"
    )

    diagram = response.context["diagram"]
    node = {title: key for key, title in re.findall(r'(s\d+)[\[({]+"([^"]+)"', diagram)}
    assert f'{node["PAID"]} -->|"cancel ×1"| {node["CANCELLED"]}' in diagram
    assert f'{node["NEW"]} -->|"cancel"| {node["CANCELLED"]}' in diagram


def test_the_table_shows_a_transitions_error_target_beside_its_target(admin_client):
    machine = services.machine_create(data=shop(), create_flow=True)

    response = admin_client.get(reverse("admin:machines_machine_overview", args=[machine.pk]))

    new = next(row for row in response.context["table"]["rows"] if row["state"] == "NEW")
    assert new["cells"][0] == {"target": "PAID", "timer": None, "error_target": "FAILED"}
    assert "⚠ FAILED" in response.content.decode()
