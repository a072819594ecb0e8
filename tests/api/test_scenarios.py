"""Saved scenarios over the design API: stored per version, run with coverage, and publishing
refuses a version whose scenarios fail."""

import pytest

from machines.diagrams import mermaid_marked
from machines.models import Machine, Scenario
from machines.scenarios import scenario_create
from machines.selectors import machine_definition
from machines.services import machine_create
from runtime.scenarios import coverage_taken, scenarios_run
from tests.conftest import client_with_token

pytestmark = pytest.mark.django_db

BIG = {
    "name": "large amount",
    "steps": [
        {"event": "E1", "expect": {"state": "S1"}},
        {"event": "E2", "context": {"amount": 150}, "expect": {"state": "S21"}},
        {"event": "E1", "expect": {"code": "NO_TRANSITION"}},
    ],
}


@pytest.fixture
def machine(seed):
    return machine_create(data=seed(), create_flow=True)


def _url(machine, tail=""):
    return f"/api/v1/machines/{machine.pk}/scenarios/{tail}"


def _add(designer, machine, body=BIG):
    response = designer.post(_url(machine), body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_it_saves_lists_replaces_and_deletes_a_scenario(designer, machine):
    created = _add(designer, machine)
    assert created["name"] == "large amount" and created["state"] is None
    assert created["steps"][1] == {
        "event": "E2",
        "role": None,
        "context": {"amount": 150},
        "expect": {"state": "S21"},
    }
    assert designer.get(_url(machine)).json() == [created]

    changed = {**BIG, "name": "renamed", "state": "S1", "steps": BIG["steps"][1:2]}
    response = designer.put(_url(machine, f"{created['id']}/"), changed, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "renamed" and response.json()["state"] == "S1"
    assert Scenario.objects.get().steps == [
        {"event": "E2", "role": None, "context": {"amount": 150}, "expect": {"state": "S21"}}
    ]

    assert designer.delete(_url(machine, f"{created['id']}/")).status_code == 204
    assert not Scenario.objects.exists()


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"steps": BIG["steps"]}, "name"),
        ({"name": "x" * 201, "steps": BIG["steps"]}, "name"),
        ({"name": "a", "steps": []}, "steps"),
        ({"name": "a", "steps": [{"event": "E1"}]}, "steps[0].expect"),
        ({"name": "a", "steps": [{"event": "E1", "expect": {}}]}, "steps[0].expect"),
        ({"name": "a", "steps": [{"event": "E1", "expect": {"state": "S1", "code": "X"}}]}, ""),
        ({"name": "a", "steps": [{"event": "E1", "expect": {"code": "lower"}}]}, "code"),
        ({"name": "a", "steps": [{"event": "E1", "context": [1], "expect": {"state": "S"}}]}, ""),
        (
            {"name": "a", "steps": [{"event": "E1", "role": 2**40, "expect": {"state": "S"}}]},
            "role",
        ),
        (
            {
                "name": "a",
                "steps": [
                    {"event": "E1", "context": {"k": "v" * 20_000}, "expect": {"state": "S"}}
                ],
            },
            "context",
        ),
        ({"name": "a", "steps": [{"event": "E1", "expect": {"state": "S1"}}] * 201}, "steps"),
        ({"name": "a", "steps": BIG["steps"], "extra": 1}, "extra"),
    ],
)
def test_it_refuses_bad_scenarios_with_the_path_and_stores_nothing(designer, machine, body, path):
    response = designer.post(_url(machine), body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert any(path in p["path"] for p in response.json()["details"]["problems"])
    assert not Scenario.objects.exists()


def test_names_are_unique_within_a_version(designer, machine):
    _add(designer, machine)
    response = designer.post(_url(machine), BIG, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert response.json()["details"]["problems"][0]["path"] == "name"
    assert Scenario.objects.count() == 1


def test_a_version_holds_a_bounded_number_of_steps_in_all(designer, machine):
    steps = [{"event": "E11", "expect": {"state": "S1"}}] * 200
    Scenario.objects.bulk_create(
        Scenario(machine=machine, name=f"s{n}", state="S1", steps=steps) for n in range(50)
    )
    response = designer.post(_url(machine), {"name": "one more", "steps": steps[:1]}, "json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert Scenario.objects.count() == 50


def test_a_frozen_version_keeps_its_scenarios(designer, machine):
    created = _add(designer, machine)
    Machine.objects.filter(pk=machine.pk).update(status=Machine.Status.PUBLISHED)
    for response in (
        designer.post(_url(machine), {**BIG, "name": "new"}, format="json"),
        designer.put(_url(machine, f"{created['id']}/"), BIG, format="json"),
        designer.delete(_url(machine, f"{created['id']}/")),
    ):
        assert (response.status_code, response.json()["code"]) == (409, "MACHINE_FROZEN")
    assert Scenario.objects.get().steps[0]["event"] == "E1"
    assert designer.get(_url(machine)).status_code == 200


def test_another_flows_machine_and_a_foreign_scenario_are_not_found(designer, machine, seed):
    created = _add(designer, machine)
    stranger = client_with_token("stranger", designer=True, flows=[])
    assert stranger.get(_url(machine)).status_code == 404
    assert stranger.post(_url(machine, "run/")).json()["code"] == "NOT_FOUND"
    other = machine_create(data=seed("audit"), create_flow=True)
    response = designer.delete(_url(other, f"{created['id']}/"))
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
    assert designer.get(_url(machine, "99999999999999999999/")).status_code == 404
    assert Scenario.objects.count() == 1


def test_a_business_client_may_not_design(business, machine):
    response = business.post(_url(machine), BIG, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "PERMISSION_DENIED")


def test_run_reports_pass_fail_the_first_failing_step_and_coverage(designer, machine):
    _add(designer, machine)
    _add(
        designer,
        machine,
        {
            "name": "wrong",
            "state": "S1",
            "steps": [
                {"event": "E2", "context": {"amount": 5}, "expect": {"state": "S22"}},
                {"event": "E3", "expect": {"state": "S4"}},
                {"event": "E3", "expect": {"state": "S3"}},
            ],
        },
    )
    response = designer.post(_url(machine, "run/"))
    assert response.status_code == 200
    body = response.json()
    assert body["passed"] is False
    first, second = body["scenarios"]
    assert first["passed"] is True and first["failure"] is None
    assert second["passed"] is False
    assert second["failure"] == {
        "step": 1,
        "event": "E3",
        "expected": {"state": "S4"},
        "actual": {"state": "S3"},
    }
    coverage = body["coverage"]
    taken = {(t["source"], t["event"]): t["taken"] for t in coverage["transitions"]}
    assert taken[("START", "E1")] == 1 and taken[("S1", "E2")] == 2
    assert taken[("S3", "E4")] == 0 and taken[("S22", "E3")] == 0  # after the failing step
    c1 = next(c for c in coverage["choices"] if c["state"] == "C1")
    assert [(case["target"], case["taken"]) for case in c1["cases"]] == [("S21", 1), ("S22", 1)]
    c2 = next(c for c in coverage["choices"] if c["state"] == "C2")
    assert all(case["taken"] == 0 for case in c2["cases"])
    assert (coverage["transitionsTaken"], coverage["transitionsTotal"]) == (2, 6)
    assert (coverage["casesTaken"], coverage["casesTotal"]) == (2, 4)


def test_an_expected_error_code_passes_and_a_different_one_fails(designer, machine):
    _add(
        designer,
        machine,
        {"name": "code", "steps": [{"event": "E9", "expect": {"code": "GUARD_REJECTED"}}]},
    )
    failure = designer.post(_url(machine, "run/")).json()["scenarios"][0]["failure"]
    assert failure["expected"] == {"code": "GUARD_REJECTED"}
    assert failure["actual"]["code"] == "NO_TRANSITION" and failure["actual"]["message"]


def test_an_unknown_start_state_fails_the_scenario_before_its_steps(designer, machine):
    _add(designer, machine, {**BIG, "state": "NOWHERE"})
    result = designer.post(_url(machine, "run/")).json()["scenarios"][0]
    assert result["passed"] is False and result["failure"]["step"] is None


def test_a_run_with_no_scenarios_passes_and_covers_nothing(designer, machine):
    body = designer.post(_url(machine, "run/")).json()
    assert body["passed"] is True and body["scenarios"] == []
    assert body["coverage"]["transitionsTaken"] == 0


def test_publish_refuses_a_failing_scenario_and_accepts_once_it_passes(designer, machine):
    created = _add(designer, machine, {**BIG, "steps": BIG["steps"][:1] + [BIG["steps"][0]]})
    response = designer.post(f"/api/v1/machines/{machine.pk}/publish/")
    assert (response.status_code, response.json()["code"]) == (409, "SCENARIO_FAILED")
    failed = response.json()["details"]["scenarios"]
    assert failed[0]["name"] == "large amount" and failed[0]["failure"]["step"] == 1
    assert Machine.objects.get(pk=machine.pk).status == Machine.Status.TESTING

    designer.put(_url(machine, f"{created['id']}/"), BIG, format="json")
    response = designer.post(f"/api/v1/machines/{machine.pk}/publish/")
    assert response.status_code == 200
    assert Machine.objects.get(pk=machine.pk).status == Machine.Status.PUBLISHED


def test_scenarios_are_exported_imported_and_copied_by_a_new_version(designer, machine):
    _add(designer, machine)
    exported = designer.get(f"/api/v1/machines/{machine.pk}/").json()
    assert exported["smScenarios"] == [
        {
            "name": "large amount",
            "state": None,
            "steps": [
                {"event": "E1", "role": None, "context": {}, "expect": {"state": "S1"}},
                {
                    "event": "E2",
                    "role": None,
                    "context": {"amount": 150},
                    "expect": {"state": "S21"},
                },
                {"event": "E1", "role": None, "context": {}, "expect": {"code": "NO_TRANSITION"}},
            ],
        }
    ]
    exported["smInfo"].update(smId=None, version=None)
    imported = designer.post("/api/v1/machines/", exported, format="json").json()
    assert imported["smScenarios"] == exported["smScenarios"]

    copy = designer.post(f"/api/v1/machines/{machine.pk}/new-version/").json()
    assert copy["smScenarios"] == exported["smScenarios"]
    copy_id = copy["smInfo"]["smId"]
    assert designer.post(f"/api/v1/machines/{copy_id}/scenarios/run/").json()["passed"] is True


def test_a_seed_without_scenarios_stays_valid_and_a_put_without_them_keeps_them(
    designer, machine, seed
):
    plain = designer.post("/api/v1/machines/", seed(), format="json").json()
    assert "smScenarios" not in plain
    _add(designer, machine)
    document = designer.get(f"/api/v1/machines/{machine.pk}/").json()
    del document["smScenarios"]
    assert (
        designer.put(f"/api/v1/machines/{machine.pk}/", document, format="json").status_code == 200
    )
    assert Scenario.objects.filter(machine=machine).count() == 1
    document["smScenarios"] = []
    designer.put(f"/api/v1/machines/{machine.pk}/", document, format="json")
    assert not Scenario.objects.filter(machine=machine).exists()


def test_an_import_with_bad_scenarios_stores_nothing(designer, seed):
    document = seed()
    document["smScenarios"] = [BIG, BIG]  # the same name twice
    before = Machine.objects.count()
    response = designer.post("/api/v1/machines/", document, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert response.json()["details"]["problems"][0]["path"].startswith("smScenarios")
    document["smScenarios"] = [{**BIG, "steps": [{"event": "E1"}]}]
    response = designer.post("/api/v1/machines/", document, format="json")
    assert response.json()["details"]["problems"][0]["path"] == "smScenarios[0].steps[0].expect"
    assert Machine.objects.count() == before and not Scenario.objects.exists()


def test_a_draft_with_errors_beyond_routing_cannot_run_its_scenarios(designer, seed):
    document = seed()
    document["smTransitions"][0]["targetState"] = "NOWHERE"
    machine = machine_create(data=document, create_flow=True)
    _add(designer, machine)
    response = designer.post(_url(machine, "run/"))
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert response.json()["details"]["problems"]


def _audit_with_a_list(seed):
    """audit with its three DONE rows written as one: "APPLY,DAD_PASS,MOM_PASS"."""
    doc = seed("audit")
    done = doc["smTransitions"][4]
    doc["smTransitions"][4:] = [{**done, "sourceState": "APPLY,DAD_PASS,MOM_PASS"}]
    return machine_create(data=doc, create_flow=True)


def test_coverage_counts_each_source_of_a_list_row_on_its_own(designer, seed):
    listed = _audit_with_a_list(seed)
    steps = [{"event": "DONE", "expect": {"state": "DONE"}}]
    _add(designer, listed, {"name": "done at once", "steps": steps})

    coverage = designer.post(_url(listed, "run/")).json()["coverage"]

    done = [
        (t["index"], t["source"], t["taken"])
        for t in coverage["transitions"]
        if t["event"] == "DONE"
    ]
    assert done == [(4, "APPLY", 1), (4, "DAD_PASS", 0), (4, "MOM_PASS", 0)]
    assert (coverage["transitionsTaken"], coverage["transitionsTotal"]) == (1, 7)


def test_the_coverage_diagram_marks_only_the_source_a_scenario_left(seed):
    listed = _audit_with_a_list(seed)
    scenario_create(
        machine=listed,
        data={
            "name": "after dad",
            "state": "DAD_PASS",
            "steps": [{"event": "DONE", "expect": {"state": "DONE"}}],
        },
    )

    taken = coverage_taken(scenarios_run(machine=listed))
    diagram = mermaid_marked(machine_definition(machine=listed), taken)

    assert taken == {5: 1}  # the list's second copy, DAD_PASS's
    assert '    s1 -->|"DONE ×1"| s5\n' in diagram and '    s0 -->|"DONE"| s5\n' in diagram
