"""The draft editor's live check: the form's rows in, problems per row and the diagram out,
bounded like every seed input, with the machine pages' permissions, and nothing stored."""

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.fields import CharField

from designer.admin.live import definition_check
from machines import selectors, services
from machines.diagrams import mermaid_ids
from machines.interchange import MAX_EXPRESSION_TEXT, MAX_STATES
from machines.models import Machine
from tests.designer.admin_helpers import draft, small_seed, staff_user

pytestmark = pytest.mark.django_db

GOOD = {
    "smStates": [
        {"stateValue": "NEW", "initial": True},
        {"stateValue": "PAID"},
        {"stateValue": "DONE", "final": True},
    ],
    "smTransitions": [
        {"sourceState": "NEW", "eventValue": "pay", "targetState": "PAID"},
        {"sourceState": "PAID", "eventValue": "ship", "targetState": "DONE"},
    ],
}


def rows(**changes) -> dict:
    document = json.loads(json.dumps(GOOD))
    document.update(changes)
    return document


def url(machine) -> str:
    return reverse("admin:machines_machine_live", args=[machine.pk])


def post(client, address, body):
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(address, raw, content_type="application/json")


@pytest.fixture
def admin_client_(client):
    client.force_login(User.objects.create_superuser("ada", password="pw"))
    return client


def codes_on(answer, kind, index) -> list[str]:
    return [p["code"] for p in answer["problems"] if index in p["place"][kind]]


def test_a_sound_draft_has_no_problems_and_a_diagram_whose_nodes_and_edges_name_their_rows(
    admin_client_,
):
    machine = draft()
    response = post(admin_client_, url(machine), GOOD)

    assert response.status_code == 200
    answer = response.json()
    assert answer["valid"] is True
    assert answer["problems"] == []
    assert answer["summary"] == "No problems: this machine can be published."
    assert answer["diagram"].startswith("stateDiagram-v2")
    assert answer["nodes"] == {"NEW": 0, "PAID": 1, "DONE": 2}
    # One start arrow first, so the transitions are Mermaid's edges 2 and 3.
    assert answer["edges"] == {"edge2": 0, "edge3": 1}
    assert "NEW --> PAID : pay" in answer["diagram"]


def test_a_guard_with_a_syntax_error_is_placed_on_its_row_with_its_field(admin_client_):
    document = rows()
    document["smTransitions"][1]["guardCondition"] = "ctx.amount >"

    answer = post(admin_client_, url(draft()), document).json()

    [problem] = answer["problems"]
    assert problem["code"] == "EXPRESSION_INVALID"
    assert problem["level"] == "error"
    assert problem["field"] == "guardCondition"
    assert problem["place"] == {"states": [], "transitions": [1]}
    assert answer["valid"] is False
    assert answer["summary"] == "1 error, 0 warnings."


def test_a_half_typed_row_gets_its_own_problem_and_hides_nobody_elses(admin_client_):
    document = rows()
    document["smStates"].insert(0, {"stateValue": ""})  # a new row, its value not typed yet
    document["smStates"].append({"stateValue": "LOST", "final": True})
    document["smTransitions"].insert(
        0, {"sourceState": "NEW", "targetState": "", "eventValue": "x"}
    )
    document["smTransitions"][2]["timerSeconds"] = "soon"
    document["smTransitions"].append(
        {"sourceState": "PAID", "eventValue": "ship", "targetState": "DONE", "guardCondition": "("}
    )

    answer = post(admin_client_, url(draft()), document).json()

    assert codes_on(answer, "states", 0) == ["FIELD_INVALID"]
    assert codes_on(answer, "transitions", 0) == ["FIELD_INVALID"]
    assert codes_on(answer, "transitions", 2) == ["FIELD_INVALID"]
    invalid = [p for p in answer["problems"] if p["code"] == "FIELD_INVALID"]
    assert {p["field"] for p in invalid} == {"stateValue", "targetState", "timerSeconds"}
    # The other rows are checked all the same, and their problems keep their own rows.
    assert codes_on(answer, "states", 4) == ["STATE_UNREACHABLE"]
    assert "EXPRESSION_INVALID" in codes_on(answer, "transitions", 3)
    assert answer["nodes"]["LOST"] == 4
    assert set(answer["edges"].values()) == {1, 3}
    errors = sum(p["level"] == "error" for p in answer["problems"])
    assert answer["summary"].startswith(f"{errors} errors, ")


def test_a_duplicate_state_value_is_shown_on_both_rows(admin_client_):
    document = rows()
    document["smStates"].append({"stateValue": "PAID"})

    answer = post(admin_client_, url(draft()), document).json()

    assert "STATE_DUPLICATE" in codes_on(answer, "states", 1)
    assert "STATE_DUPLICATE" in codes_on(answer, "states", 3)
    assert answer["nodes"]["PAID"] == 1


def test_problems_of_no_row_stay_in_the_answer_with_no_place(admin_client_):
    answer = post(admin_client_, url(draft()), {"smStates": [], "smTransitions": []}).json()

    assert [p["code"] for p in answer["problems"]] == ["INITIAL_MISSING"]
    assert answer["problems"][0]["place"] == {"states": [], "transitions": []}


def test_the_check_stores_nothing(admin_client_):
    machine = draft()
    before = (machine.revision, machine.states.count(), machine.transitions.count())
    document = rows()
    document["smStates"].append({"stateValue": "MORE"})

    assert post(admin_client_, url(machine), document).status_code == 200

    machine.refresh_from_db()
    assert (machine.revision, machine.states.count(), machine.transitions.count()) == before


def test_the_answer_speaks_the_designers_language(admin_client_):
    document = rows()
    document["smStates"][2]["stateValue"] = ""

    response = admin_client_.post(
        url(draft()), json.dumps(document), "application/json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    answer = response.json()
    with translation.override("zh-hans"):
        blank = str(CharField.default_error_messages["blank"])
    assert [p["message"] for p in answer["problems"] if p["code"] == "FIELD_INVALID"] == [blank]
    assert answer["summary"].startswith("2 个错误，0 个警告")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", ""),
        (b"[]", "smStates"),
        (json.dumps({"smStates": [], "smInfo": {"smId": 1}}), "smStates"),
        (json.dumps({"smStates": "NEW"}), "smStates"),
        (json.dumps({"smStates": [{"stateValue": f"S{i}"} for i in range(MAX_STATES + 1)]}), ""),
        ("[" * 5000 + "]" * 5000, ""),
        (json.dumps({"smStates": [{"stateValue": "A", "stateType": 1e400}]}), ""),
    ],
)
def test_a_document_refused_as_a_whole_is_a_400_in_the_error_format(admin_client_, body, says):
    response = post(admin_client_, url(draft()), body)

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "VALIDATION_ERROR"
    assert says in error["message"]
    assert set(error) == {"code", "message", "details"}


def test_more_expression_text_than_a_machine_may_hold_is_refused(admin_client_):
    guard = "a" * 2000
    transitions = [
        {"sourceState": "NEW", "eventValue": f"e{i}", "targetState": "NEW", "guardCondition": guard}
        for i in range(MAX_EXPRESSION_TEXT // 2000 + 1)
    ]
    response = post(admin_client_, url(draft()), rows(smTransitions=transitions))

    assert response.status_code == 400
    assert "expressions" in response.json()["message"]


def test_a_body_over_the_size_limit_is_a_400_not_a_500(admin_client_, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    document = rows()
    document["smStates"][0]["stateDesc"] = "x" * 20_000

    response = post(admin_client_, url(draft()), document)

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_only_post_is_answered(admin_client_):
    assert admin_client_.get(url(draft())).status_code == 405


def test_the_machine_pages_permissions_apply(client):
    machine = draft()
    other = draft("audit")
    address = url(machine)

    assert post(client, address, GOOD).status_code == 302  # to the login page

    client.force_login(staff_user("nobody"))
    response = post(client, address, GOOD)
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"

    client.force_login(staff_user("viewer", "view_machine", flows=[machine.flow]))
    assert post(client, address, GOOD).status_code == 200
    response = post(client, url(other), GOOD)  # another flow's machine reads as missing
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert post(client, reverse("admin:machines_machine_live_new"), GOOD).status_code == 403

    client.force_login(staff_user("maker", "view_machine", "add_machine", flows=[machine.flow]))
    assert post(client, reverse("admin:machines_machine_live_new"), GOOD).status_code == 200


def test_the_csrf_token_is_required():
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("ada", password="pw"))

    assert post(client, url(draft()), GOOD).status_code == 403


def test_a_draft_page_offers_the_live_editor_and_a_frozen_one_its_diagram(admin_client_):
    machine = draft()
    change = reverse("admin:machines_machine_change", args=[machine.pk])

    page = admin_client_.get(change).content.decode()
    assert f'data-url="{url(machine)}"' in page
    assert 'id="sc-live-text"' in page

    Machine.objects.filter(pk=machine.pk).update(status=Machine.Status.PUBLISHED)
    page = admin_client_.get(change).content.decode()
    assert "data-url=" not in page
    assert 'id="sc-diagram-source"' in page
    assert "stateDiagram-v2" in page

    add = admin_client_.get(reverse("admin:machines_machine_add")).content.decode()
    assert f'data-url="{reverse("admin:machines_machine_live_new")}"' in add


def test_the_check_finds_what_validating_the_saved_machine_finds(admin_client_):
    machine = services.machine_create(data=small_seed(), create_flow=True)
    document = selectors.machine_export(machine=machine)
    del document["smInfo"]

    answer = post(admin_client_, url(machine), document).json()

    saved = services.machine_validate(machine=machine)
    assert [p["code"] for p in answer["problems"]] == [p.code for p in saved.errors]
    assert [p["message"] for p in answer["problems"]] == [p.message for p in saved.errors]
    assert answer["problems"][0]["place"] == {"states": [3], "transitions": []}  # CANCELLED
    definition = selectors.machine_definition(machine=machine)
    assert set(answer["nodes"]) == set(mermaid_ids(definition).values())
    assert answer == definition_check(document)


_text = st.one_of(st.none(), st.text(max_size=30), st.integers(), st.booleans())
_row = st.dictionaries(
    st.sampled_from(
        ["stateValue", "stateType", "initial", "sourceState", "targetState", "eventValue"]
        + ["guardCondition", "caseOrder", "caseDefault", "timerSeconds", "transitionAction"]
    ),
    _text,
    max_size=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(states=st.lists(_row, max_size=5), transitions=st.lists(_row, max_size=5))
def test_whatever_the_rows_hold_the_answer_is_200_or_a_400_never_a_500(
    admin_client_, states, transitions
):
    response = post(
        admin_client_, url(draft_once()), {"smStates": states, "smTransitions": transitions}
    )

    assert response.status_code in (200, 400)
    assert "code" in response.json() or "problems" in response.json()


def draft_once():
    return Machine.objects.first() or draft()
