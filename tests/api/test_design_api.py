"""The design API: machines in and out in the seed format, and what bad input gets."""

import pytest

from machines.models import Flow, Machine, State, Transition
from tests.conftest import EXAMPLE_NAMES, without_ids

pytestmark = pytest.mark.django_db


def _counts():
    return (
        Flow.objects.count(),
        Machine.objects.count(),
        State.objects.count(),
        Transition.objects.count(),
    )


def _create(designer, seed_doc):
    Flow.objects.get_or_create(code=seed_doc["smInfo"]["flowCode"], defaults={"name": "x"})
    response = designer.post("/api/v1/machines/", seed_doc, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_it_creates_a_flow_and_lists_it(designer):
    response = designer.post(
        "/api/v1/flows/",
        {"code": "orders", "name": "Orders", "description": "web shop"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json() == {
        "id": response.json()["id"],
        "code": "orders",
        "name": "Orders",
        "description": "web shop",
    }
    assert [f["code"] for f in designer.get("/api/v1/flows/").json()] == ["orders"]


def test_it_refuses_a_flow_whose_code_is_taken(designer, flow):
    response = designer.post("/api/v1/flows/", {"code": flow.code, "name": "again"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert Flow.objects.count() == 1


def test_it_creates_a_testing_machine_with_ids_and_version_filled(designer, seed):
    body = _create(designer, seed())
    info = body["smInfo"]
    assert info["smStatus"] == 1 and info["version"] == "1" and info["flowCode"] == "design-example"
    assert all(s["stateId"] and s["smId"] == info["smId"] for s in body["smStates"])
    assert all(t["transitionId"] for t in body["smTransitions"])
    assert _create(designer, seed())["smInfo"]["version"] == "2"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_each_example_round_trips_validates_publishes_and_goes_online(designer, seed, name):
    original = seed(name)
    sm_id = _create(designer, original)["smInfo"]["smId"]

    assert without_ids(designer.get(f"/api/v1/machines/{sm_id}/").json()) == original
    report = designer.post(f"/api/v1/machines/{sm_id}/validate").json()
    assert report == {"valid": True, "errors": [], "warnings": []}
    assert designer.post(f"/api/v1/machines/{sm_id}/publish").json()["smInfo"]["smStatus"] == 2
    assert designer.post(f"/api/v1/machines/{sm_id}/online").json()["smInfo"]["smStatus"] == 3


def test_it_reports_every_problem_at_once_and_publish_refuses(designer, seed):
    doc = seed("design-example")
    transitions = doc["smTransitions"]
    transitions[4]["caseCondition"] = None
    transitions[3].update(caseDefault=1, caseCondition=None)  # C1 now has two defaults
    doc["smStates"].append({"stateValue": "ISLAND", "stateType": 1})  # unreachable
    transitions.append({**transitions[0], "targetState": "NOWHERE"})  # missing target, dup event
    transitions[1]["guardCondition"] = "ctx.amount > limit"  # unknown name
    sm_id = _create(designer, doc)["smInfo"]["smId"]

    report = designer.post(f"/api/v1/machines/{sm_id}/validate").json()
    codes = {p["code"] for p in report["errors"]}
    assert report["valid"] is False
    assert {
        "CASE_DEFAULT_MULTIPLE",
        "STATE_UNREACHABLE",
        "TARGET_UNKNOWN",
        "EXPRESSION_INVALID",
        "EVENT_DUPLICATE",
    } <= codes

    response = designer.post(f"/api/v1/machines/{sm_id}/publish")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert {p["code"] for p in response.json()["details"]["problems"]} == codes
    assert Machine.objects.get(pk=sm_id).status == Machine.Status.TESTING


def test_it_refuses_malformed_json_and_stores_nothing(designer, flow):
    before = _counts()
    response = designer.post(
        "/api/v1/machines/", data='{"smInfo": {', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert _counts() == before


def test_it_refuses_a_body_that_is_not_an_object(designer, flow):
    response = designer.post("/api/v1/machines/", [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "change, path",
    [
        (lambda d: d["smStates"][1].update(stateType="x"), "smStates[1].stateType"),
        (lambda d: d["smStates"][2].update(initial="maybe"), "smStates[2].initial"),
        (lambda d: d["smStates"][5].pop("stateValue"), "smStates[5].stateValue"),
        (lambda d: d["smTransitions"][3].update(caseOrder="first"), "smTransitions[3].caseOrder"),
        (lambda d: d["smTransitions"][0].update(caseDefault=7), "smTransitions[0].caseDefault"),
        (lambda d: d["smTransitions"][2].update(sourceState=None), "smTransitions[2].sourceState"),
        (lambda d: d["smTransitions"][2].update(sourceStat="S1"), "smTransitions[2].sourceStat"),
        (lambda d: d.update(smStates="S1"), "smStates"),
        (lambda d: d["smInfo"].update(flowCode="no-such-flow"), "smInfo.flowCode"),
        (lambda d: d["smInfo"].update(flowId=999999, flowCode=None), "smInfo.flowId"),
        (lambda d: d["smStates"][3].update(stateValue="S1"), "smStates[3].stateValue"),
    ],
    ids=[
        "wrong-type",
        "not-a-bool",
        "breaks-halfway",
        "order-not-int",
        "bad-default",
        "null-source",
        "unknown-field",
        "not-a-list",
        "unknown-flow",
        "unknown-flow-id",
        "duplicate-state-value",
    ],
)
def test_it_refuses_bad_input_with_the_field_path_and_stores_nothing(
    designer, flow, seed, change, path
):
    doc = seed("design-example")
    change(doc)
    before = _counts()
    response = designer.post("/api/v1/machines/", doc, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert path in [p["path"] for p in body["details"]["problems"]]
    assert _counts() == before


def test_it_replaces_a_testing_machine(designer, seed):
    sm_id = _create(designer, seed())["smInfo"]["smId"]
    audit = seed("audit")
    audit["smInfo"]["flowCode"] = "design-example"
    response = designer.put(f"/api/v1/machines/{sm_id}/", audit, format="json")
    assert response.status_code == 200
    stored = designer.get(f"/api/v1/machines/{sm_id}/").json()
    assert [s["stateValue"] for s in stored["smStates"]] == [
        s["stateValue"] for s in audit["smStates"]
    ]


def test_a_failed_replace_leaves_the_machine_exactly_as_it_was(designer, seed):
    sm_id = _create(designer, seed())["smInfo"]["smId"]
    before = designer.get(f"/api/v1/machines/{sm_id}/").json()
    doc = seed()
    doc["smStates"][6]["stateType"] = 9  # breaks on the seventh state
    response = designer.put(f"/api/v1/machines/{sm_id}/", doc, format="json")
    assert response.status_code == 400
    assert response.json()["details"]["problems"][0]["path"] == "smStates[6].stateType"
    assert designer.get(f"/api/v1/machines/{sm_id}/").json() == before


def test_a_replace_with_the_etag_it_read_goes_through_and_gets_the_next_one(designer, seed):
    sm_id = _create(designer, seed())["smInfo"]["smId"]
    read = designer.get(f"/api/v1/machines/{sm_id}/")
    assert read["ETag"] == '"1"'

    put = designer.put(
        f"/api/v1/machines/{sm_id}/", seed(), format="json", HTTP_IF_MATCH=read["ETag"]
    )

    assert put.status_code == 200 and put["ETag"] == '"2"'


def test_a_replace_with_an_older_etag_is_refused_and_keeps_the_newer_save(designer, seed):
    sm_id = _create(designer, seed())["smInfo"]["smId"]
    etag = designer.get(f"/api/v1/machines/{sm_id}/")["ETag"]
    other = seed("audit")
    other["smInfo"]["flowCode"] = "design-example"
    assert designer.put(f"/api/v1/machines/{sm_id}/", other, format="json").status_code == 200
    newer = designer.get(f"/api/v1/machines/{sm_id}/").json()

    late = designer.put(f"/api/v1/machines/{sm_id}/", seed(), format="json", HTTP_IF_MATCH=etag)

    assert (late.status_code, late.json()["code"]) == (412, "MACHINE_CHANGED")
    assert late.json()["details"] == {"revision": 2}
    assert designer.get(f"/api/v1/machines/{sm_id}/").json() == newer


@pytest.mark.parametrize("header", ['W/"1"', "1", '"one"', '"1", "2"'])
def test_an_if_match_that_is_not_one_of_our_etags_is_a_validation_error(designer, seed, header):
    sm_id = _create(designer, seed())["smInfo"]["smId"]
    before = designer.get(f"/api/v1/machines/{sm_id}/").json()

    put = designer.put(f"/api/v1/machines/{sm_id}/", seed(), format="json", HTTP_IF_MATCH=header)

    assert (put.status_code, put.json()["code"]) == (400, "VALIDATION_ERROR")
    assert designer.get(f"/api/v1/machines/{sm_id}/").json() == before


@pytest.mark.parametrize("step", ["publish", "online", "disable"])
def test_a_frozen_machine_cannot_be_replaced_or_deleted(designer, seed, step):
    sm_id = _create(designer, seed())["smInfo"]["smId"]
    for done in ["publish", "online", "disable"][
        : ["publish", "online", "disable"].index(step) + 1
    ]:
        assert designer.post(f"/api/v1/machines/{sm_id}/{done}").status_code == 200
    before = designer.get(f"/api/v1/machines/{sm_id}/").json()

    put = designer.put(f"/api/v1/machines/{sm_id}/", seed(), format="json")
    delete = designer.delete(f"/api/v1/machines/{sm_id}/")
    assert (put.status_code, put.json()["code"]) == (409, "MACHINE_FROZEN")
    assert (delete.status_code, delete.json()["code"]) == (409, "MACHINE_FROZEN")
    assert designer.get(f"/api/v1/machines/{sm_id}/").json() == before


def test_it_deletes_a_testing_machine(designer, seed):
    sm_id = _create(designer, seed())["smInfo"]["smId"]
    assert designer.delete(f"/api/v1/machines/{sm_id}/").status_code == 204
    assert not Machine.objects.filter(pk=sm_id).exists()
    assert State.objects.count() == 0 and Transition.objects.count() == 0


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", ""),
        ("put", ""),
        ("delete", ""),
        ("post", "validate"),
        ("post", "publish"),
        ("post", "online"),
        ("post", "disable"),
        ("post", "enable"),
        ("post", "new-version"),
        ("get", "diagram"),
        ("get", "table"),
    ],
)
def test_unknown_machine_ids_answer_not_found(designer, method, path):
    response = getattr(designer, method)(f"/api/v1/machines/424242/{path}", {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_it_lists_machines_filtered_by_flow(designer, seed):
    _create(designer, seed("design-example"))
    _create(designer, seed("audit"))
    listed = designer.get("/api/v1/machines/", {"flow": "audit"}).json()
    assert [(m["flowCode"], m["version"], m["statusName"]) for m in listed] == [
        ("audit", "1", "testing")
    ]
    assert len(designer.get("/api/v1/machines/").json()) == 2


def test_new_version_clones_the_definition_into_testing(designer, seed):
    sm_id = _create(designer, seed())["smInfo"]["smId"]
    designer.post(f"/api/v1/machines/{sm_id}/publish")
    designer.post(f"/api/v1/machines/{sm_id}/online")
    response = designer.post(f"/api/v1/machines/{sm_id}/new-version")
    assert response.status_code == 201
    clone = response.json()
    assert clone["smInfo"]["version"] == "2" and clone["smInfo"]["smStatus"] == 1
    copy = without_ids(clone)
    assert (copy["smStates"], copy["smTransitions"]) == (
        seed()["smStates"],
        seed()["smTransitions"],
    )
    assert Machine.objects.get(pk=sm_id).status == Machine.Status.ONLINE


def test_putting_a_version_online_returns_the_previous_one_to_published(designer, seed):
    first = _create(designer, seed())["smInfo"]["smId"]
    second = _create(designer, seed())["smInfo"]["smId"]
    for sm_id in (first, second):
        designer.post(f"/api/v1/machines/{sm_id}/publish")
    designer.post(f"/api/v1/machines/{first}/online")
    designer.post(f"/api/v1/machines/{second}/online")
    assert Machine.objects.get(pk=first).status == Machine.Status.PUBLISHED
    assert Machine.objects.get(pk=second).status == Machine.Status.ONLINE


def test_a_lifecycle_step_from_the_wrong_status_is_refused(designer, seed):
    sm_id = _create(designer, seed())["smInfo"]["smId"]
    response = designer.post(f"/api/v1/machines/{sm_id}/online")
    assert response.status_code == 409
    assert response.json()["code"] == "LIFECYCLE_ERROR"
    assert Machine.objects.get(pk=sm_id).status == Machine.Status.TESTING


@pytest.mark.parametrize("fmt", ["mermaid", "dot", "plantuml"])
def test_the_diagram_names_every_state_and_event(designer, seed, fmt):
    doc = seed()
    sm_id = _create(designer, doc)["smInfo"]["smId"]
    response = designer.get(f"/api/v1/machines/{sm_id}/diagram", {"format": fmt})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for state in doc["smStates"]:
        assert state["stateValue"] in text
    for transition in doc["smTransitions"]:
        if transition["eventValue"]:
            assert transition["eventValue"] in text


def test_an_unknown_diagram_format_is_a_validation_error(designer, seed):
    sm_id = _create(designer, seed())["smInfo"]["smId"]
    response = designer.get(f"/api/v1/machines/{sm_id}/diagram", {"format": "svg"})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_the_table_maps_each_state_and_event_to_its_target(designer, seed):
    sm_id = _create(designer, seed("audit"))["smInfo"]["smId"]
    table = designer.get(f"/api/v1/machines/{sm_id}/table").json()
    assert table["states"][0] == "APPLY"
    assert table["cells"]["APPLY"]["PASS"] == "DAD_PASS"
    assert "PASS" in table["events"]


def test_the_expression_check_answers_ok_and_names(designer):
    response = designer.post(
        "/api/v1/expressions/check",
        {"expression": "ctx.amount > 100 and event_count('E4') < 3"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert {"ctx", "event_count"} <= set(body["names"])


@pytest.mark.parametrize("expression", ["ctx.amount >", "unknown_name > 1", "ctx.__class__"])
def test_the_expression_check_explains_a_bad_expression(designer, expression):
    response = designer.post("/api/v1/expressions/check", {"expression": expression}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["message"]


@pytest.mark.parametrize("flow", ["²", "a\x00b", "no slug"], ids=["superscript", "nul", "space"])
def test_a_machine_filter_that_is_neither_a_code_nor_an_id_is_a_validation_error(designer, flow):
    response = designer.get("/api/v1/machines/", {"flow": flow})
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "part, field, value",
    [
        ("smTransitions", "timerSeconds", -5),
        ("smTransitions", "timerSeconds", 10**30),
        ("smTransitions", "caseOrder", 10**30),
        ("smInfo", "version", 10**30),
    ],
)
def test_seed_integers_out_of_range_are_validation_errors(designer, seed, part, field, value):
    doc = seed("audit")
    Flow.objects.create(code="audit", name="Audit")
    (doc[part][0] if part == "smTransitions" else doc[part])[field] = value
    before = _counts()
    response = designer.post("/api/v1/machines/", doc, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert _counts() == before


def test_a_version_stored_without_a_user_lists_its_creator_as_null(designer, seed):
    from tests.runtime.helpers import online

    doc = seed()
    doc["smInfo"]["creator"] = doc["smInfo"]["modifier"] = None
    online(doc)  # as the import command stores a document without them: no user

    listed = designer.get("/api/v1/machines/")  # the answer is checked against the schema

    assert listed.status_code == 200
    assert [(m["creator"], m["modifier"]) for m in listed.json()] == [(None, None)]
