"""The modeling extensions through the design API: stored and exported as given, validated
with codes, refused before storage when too large."""

import pytest

from machines.definition import MAX_EXPANDED_TRANSITIONS
from machines.models import Machine, State, Transition
from tests.conftest import without_ids

pytestmark = pytest.mark.django_db

HOOK = "http://localhost:9/hooks"


def _approval(seed):
    """The audit example (DONE from three states in one row, a CANCEL from "*") with an entry
    action on DONE and an action with an error target on the CANCEL."""
    doc = seed("audit")
    assert doc["smTransitions"][4]["sourceState"] == "APPLY,DAD_PASS,MOM_PASS"
    assert doc["smTransitions"][5]["sourceState"] == "*"
    doc["smStates"][5]["enterAction"] = f"{HOOK}/done"
    doc["smTransitions"][5].update(transitionAction=f"{HOOK}/cancel", errorTarget="MOM_REJ")
    return doc


@pytest.fixture
def flow(db):
    from machines.services import flow_create

    return flow_create(code="audit", name="Approval")


def _create(designer, doc):
    response = designer.post("/api/v1/machines/", doc, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["smInfo"]["smId"]


def test_the_extensions_are_stored_and_exported_in_the_form_given(designer, seed, flow):
    doc = _approval(seed)
    sm_id = _create(designer, doc)

    exported = designer.get(f"/api/v1/machines/{sm_id}/").json()
    assert without_ids(exported) == without_ids(doc)
    assert Transition.objects.filter(machine_id=sm_id).count() == 6  # rows, not expansions
    assert State.objects.get(machine_id=sm_id, value="DONE").enter_action == f"{HOOK}/done"
    report = designer.post(f"/api/v1/machines/{sm_id}/validate").json()
    assert report == {"valid": True, "errors": [], "warnings": []}


def test_an_export_without_extensions_has_no_extension_keys(designer, seed, flow):
    sm_id = _create(designer, seed("audit"))
    exported = designer.get(f"/api/v1/machines/{sm_id}/").json()
    assert not any("enterAction" in s for s in exported["smStates"])
    assert not any("errorTarget" in t for t in exported["smTransitions"])


def test_the_validator_reports_the_extensions_problems_by_code(designer, seed, flow):
    doc = _approval(seed)
    doc["smTransitions"][4]["sourceState"] = "APPLY,DAD_PASS,NOBODY"
    doc["smTransitions"][5]["errorTarget"] = "NOWHERE"
    doc["smStates"][1]["enterAction"] = "http://metadata.example.invalid/x"
    sm_id = _create(designer, doc)

    report = designer.post(f"/api/v1/machines/{sm_id}/validate").json()
    found = {(p["code"], p["where"].get("field")) for p in report["errors"]}
    assert {
        ("SOURCE_UNKNOWN", "sourceState"),
        ("ERROR_TARGET_UNKNOWN", "errorTarget"),
        ("ACTION_HOST_NOT_ALLOWED", "enterAction"),
    } <= found
    response = designer.post(f"/api/v1/machines/{sm_id}/publish")
    assert response.status_code == 400
    assert Machine.objects.get(pk=sm_id).status == Machine.Status.TESTING


def test_publishing_and_firing_use_the_expanded_transitions(designer, business, seed, flow):
    doc = _approval(seed)
    doc["smTransitions"][5].update(transitionAction=None, errorTarget=None)
    sm_id = _create(designer, doc)
    assert designer.post(f"/api/v1/machines/{sm_id}/publish").status_code == 200
    assert designer.post(f"/api/v1/machines/{sm_id}/online").status_code == 200

    runs = [(["PASS", "DONE"], "DONE"), (["PASS", "PASS", "CANCEL"], "CANCELLED")]
    for key, (events, end) in enumerate(runs):
        created = business.post(
            "/api/v1/instances/", {"flow": "audit", "businessKey": f"a{key}"}, format="json"
        )
        assert created.status_code == 201, created.json()
        instance = created.json()["id"]
        for event in events:
            answer = business.post(
                f"/api/v1/instances/{instance}/events/", {"event": event}, format="json"
            )
            assert answer.status_code == 200, answer.json()
        assert answer.json()["state"] == end


def test_a_machine_past_the_expansion_bound_is_refused_and_nothing_stored(designer, seed, flow):
    doc = seed("audit")
    states = len([s for s in doc["smStates"] if not s.get("final")])  # what "*" reaches
    rows = MAX_EXPANDED_TRANSITIONS // states + 1
    star = {**doc["smTransitions"][0], "sourceState": "*", "targetState": "APPLY"}
    doc["smTransitions"] += [{**star, "eventValue": f"E{i}"} for i in range(rows)]
    before = Transition.objects.count()

    response = designer.post("/api/v1/machines/", doc, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "smTransitions" in [p["path"] for p in response.json()["details"]["problems"]]
    assert Transition.objects.count() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("sourceState", "A," * 1001), ("errorTarget", "X" * 101), ("errorTarget", ["S1"])],
)
def test_over_long_or_mistyped_extension_fields_are_validation_errors(
    designer, seed, flow, field, value
):
    doc = seed("audit")
    doc["smTransitions"][0][field] = value
    response = designer.post("/api/v1/machines/", doc, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_the_simulator_says_which_entry_action_and_error_target_a_step_would_meet(
    designer, seed, flow
):
    sm_id = _create(designer, _approval(seed))
    body = {"steps": [{"event": "PASS"}, {"event": "CANCEL"}, {"event": "DONE"}]}

    answer = designer.post(f"/api/v1/machines/{sm_id}/simulate/", body, format="json").json()

    passed, cancelled, done = answer["steps"]
    assert passed["ok"] and "enterAction" not in passed and "errorTarget" not in passed
    # CANCEL from "*" (DAD_PASS here): its action, caught by MOM_REJ if it kept failing.
    assert cancelled["outcome"]["fromState"] == "DAD_PASS"
    assert cancelled["outcome"]["toState"] == "CANCELLED"
    assert cancelled["errorTarget"] == "MOM_REJ" and "enterAction" not in cancelled
    assert done["ok"] is False and done["error"]["code"] == "NO_TRANSITION"  # final now

    answer = designer.post(
        f"/api/v1/machines/{sm_id}/simulate/", {"steps": [{"event": "DONE"}]}, format="json"
    ).json()
    assert answer["steps"][0]["enterAction"] == f"{HOOK}/done"  # from APPLY, by the list
