"""The designer's extra pages: overview, simulator, import and export, versions and diff,
instances, and the Chinese translation."""

import json

import pytest
from django.urls import reverse

from machines import services
from machines.models import Flow, Machine
from runtime.models import EventRecord
from runtime.services import instance_create, instance_event_fire
from tests.conftest import example_seed
from tests.designer.admin_helpers import DESIGNER_PERMISSIONS, draft, small_seed, staff_user
from tests.runtime.helpers import online

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"admin:machines_machine_{name}", args=args)


def run(client, machine, body):
    return client.post(
        url("simulate_run", machine.pk), json.dumps(body), content_type="application/json"
    )


# Overview ----------------------------------------------------------------------------------


def test_the_overview_draws_the_diagram_shades_empty_cells_and_checks_expressions(admin_client):
    machine = draft()

    response = admin_client.get(url("overview", machine.pk))
    html = response.content.decode()

    assert "stateDiagram-v2" in response.context["diagram"]
    assert 'id="sc-diagram-source"' in html and "machines/vendor/mermaid.min.js" in html
    table = response.context["table"]
    start = next(row for row in table["rows"] if row["state"] == "START")
    assert start["cells"][table["events"].index("E1")] == {
        "target": "S1",
        "timer": None,
        "error_target": None,
    }
    assert None in start["cells"] and 'class="sc-empty"' in html
    assert response.context["expressions"] and all(e["ok"] for e in response.context["expressions"])
    assert "compiles" in html


def test_the_table_shows_a_timed_transition_with_its_delay(admin_client):
    doc = small_seed()
    doc["smTransitions"][0]["timerSeconds"] = 1800
    machine = services.machine_create(data=doc, create_flow=True)

    response = admin_client.get(url("overview", machine.pk))

    new = next(row for row in response.context["table"]["rows"] if row["state"] == "NEW")
    assert new["cells"][0] == {"target": "PAID", "timer": 1800, "error_target": None}
    assert "⏱ 1800s" in response.content.decode()


def test_the_overview_shows_an_expression_that_does_not_compile_with_its_position(admin_client):
    doc = small_seed()
    doc["smTransitions"][0]["guardCondition"] = "ctx.amount >"
    machine = services.machine_create(data=doc, create_flow=True)

    response = admin_client.get(url("overview", machine.pk))

    (check,) = response.context["expressions"]
    assert not check["ok"] and check["field"] == "guardCondition"
    assert 'class="sc-expression-error"' in response.content.decode()


# Simulator ---------------------------------------------------------------------------------


def test_the_simulator_answers_each_steps_outcome_and_highlights_the_path(admin_client):
    machine = online(example_seed("design-example"))

    response = run(
        admin_client,
        machine,
        {
            "state": "START",
            "steps": [
                {"event": "E1"},
                {"event": "NOPE"},
                {"event": "E2", "context": {"amount": 150}},
            ],
        },
    )

    body = response.json()
    assert response.status_code == 200
    assert [s["ok"] for s in body["steps"]] == [True, False, True]
    assert body["steps"][1]["error"]["code"] == "NO_TRANSITION"
    assert body["visited"] == ["START", "S1", "C1", "S21"] and body["state"] == "S21"
    assert "class START,S1,C1 visited" in body["diagram"]
    assert "class S21 current" in body["diagram"]


def test_the_simulator_runs_a_testing_draft_with_role_and_context(admin_client):
    machine = draft()
    page = admin_client.get(url("simulate", machine.pk))
    assert page.status_code == 200 and page.context["initial"] == "START"

    response = run(admin_client, machine, {"steps": [{"event": "E1", "role": "1", "context": {}}]})

    assert response.status_code == 200
    assert response.json()["steps"][0]["ok"]


@pytest.mark.parametrize(
    "body, path",
    [
        ({"steps": [{"event": ""}]}, "steps[0].event"),
        ({"steps": [{"event": "E1", "role": "buyer"}]}, "steps[0].role"),
        ({"steps": [{"event": "E1", "context": [1]}]}, "steps[0].context"),
        ({"steps": "E1"}, "steps"),
        ({"state": "NOWHERE", "steps": [{"event": "E1"}]}, "state"),
    ],
)
def test_the_simulator_refuses_bad_input_with_the_path_of_the_problem(admin_client, body, path):
    response = run(admin_client, draft(), body)

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["details"]["problems"][0]["path"] == path


def test_the_simulator_refuses_a_draft_with_errors_and_lists_them(admin_client):
    doc = small_seed()
    doc["smTransitions"].append({"sourceState": "PAID", "eventValue": "x", "targetState": "GONE"})
    machine = services.machine_create(data=doc, create_flow=True)

    response = run(admin_client, machine, {"steps": [{"event": "pay"}]})

    assert response.status_code == 400
    codes = {p["code"] for p in response.json()["details"]["problems"]}
    assert "TARGET_UNKNOWN" in codes


def test_the_simulator_endpoint_takes_only_post(admin_client):
    assert admin_client.get(url("simulate_run", draft().pk)).status_code == 405


@pytest.mark.parametrize("role", ["²", "1_000", " 7", 2**31, -(2**31) - 1, True, 1.5])
def test_the_simulator_refuses_a_role_the_api_would_refuse(admin_client, role):
    response = run(admin_client, draft(), {"steps": [{"event": "E1", "role": role}]})

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["details"]["problems"][0]["path"] == "steps[0].role"
    assert not EventRecord.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        '{"steps": ' + "[" * 10_000 + "]" * 10_000 + "}",
        '{"steps": [{"event": "E1", "context": {"x": 1e400}}]}',
        '{"steps": [{"event": "E1", "context": {"x": NaN}}]}',
        '{"steps": [{"event": "E1", "context": {"x": ' + "9" * 5000 + "}}]}",
        b"\xff",
    ],
    ids=["nested 10,000 deep", "infinite number", "NaN", "5,000-digit integer", "not UTF-8"],
)
def test_the_simulator_refuses_json_it_cannot_read_back_with_a_clear_error(admin_client, raw):
    machine = draft()

    response = admin_client.post(
        url("simulate_run", machine.pk), raw, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["message"]
    assert not EventRecord.objects.exists()


# Import and export -------------------------------------------------------------------------


def test_export_then_import_round_trips_into_a_new_testing_version(admin_client):
    machine = services.machine_publish(machine=draft())

    response = admin_client.get(url("export", machine.pk))
    assert response["Content-Disposition"] == 'attachment; filename="design-example-v1.json"'
    exported = json.loads(response.content)
    exported["smInfo"].update(smId=None, version=None)

    imported = admin_client.post(url("import"), {"text": json.dumps(exported)})

    clone = Machine.objects.get(flow=machine.flow, version=2)
    assert imported["Location"] == url("change", clone.pk)
    assert clone.status == Machine.Status.TESTING
    again = json.loads(admin_client.get(url("export", clone.pk)).content)
    assert [s["stateValue"] for s in again["smStates"]] == [
        s["stateValue"] for s in exported["smStates"]
    ]
    assert len(again["smTransitions"]) == len(exported["smTransitions"])


def test_import_takes_an_uploaded_file_and_can_create_the_missing_flow(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("audit.json", json.dumps(example_seed("audit")).encode())

    admin_client.post(url("import"), {"file": upload, "create_flow": "on"})

    assert Machine.objects.filter(flow__code="audit", status=Machine.Status.TESTING).exists()


def test_import_shows_each_problem_of_a_bad_document_and_stores_nothing(admin_client):
    doc = small_seed()
    doc["smStates"][1]["stateVal"] = "typo"

    response = admin_client.post(url("import"), {"text": json.dumps(doc), "create_flow": "on"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "smStates[1].stateVal" in html
    assert not Flow.objects.exists() and not Machine.objects.exists()


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", ""])
def test_import_refuses_text_that_is_not_a_json_object(admin_client, text):
    response = admin_client.post(url("import"), {"text": text})

    assert response.status_code == 200 and 'class="errornote"' in response.content.decode()
    assert not Machine.objects.exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"smStates": ' + "[" * 10_000 + "]" * 10_000 + "}", "Nested deeper than 64 levels."),
        ('{"smInfo": {"version": 1e400}, "smStates": []}', "Numbers must be finite."),
        ('{"smInfo": {"version": NaN}, "smStates": []}', "NaN is not a JSON number."),
        ('{"smInfo": {"version": ' + "9" * 5000 + '}, "smStates": []}', "at most 10,000 bits"),
    ],
    ids=["nested 10,000 deep", "infinite number", "NaN", "5,000-digit integer"],
)
def test_import_refuses_json_nested_too_deep_or_with_bad_numbers_and_says_why(
    admin_client, text, message
):
    response = admin_client.post(url("import"), {"text": text, "create_flow": "on"})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Flow.objects.exists() and not Machine.objects.exists()


def test_import_refuses_a_version_past_the_last_one(admin_client):
    doc = small_seed()
    doc["smInfo"]["version"] = 2**31 - 1

    response = admin_client.post(url("import"), {"text": json.dumps(doc), "create_flow": "on"})

    assert response.status_code == 200 and "smInfo.version" in response.content.decode()
    assert not Machine.objects.exists()


def test_import_needs_the_add_permission(client):
    client.force_login(staff_user("viewer", "view_machine"))

    assert client.get(url("import")).status_code == 403


# Flows: versions and diff ------------------------------------------------------------------


def test_the_flow_page_lists_every_version_with_its_status(admin_client):
    first = services.machine_publish(machine=draft())
    services.machine_new_version(machine=first)

    response = admin_client.get(reverse("admin:machines_flow_change", args=[first.flow_id]))

    versions = [(m.version, str(label)) for m, label in response.context["versions"]]
    assert versions == [(2, "testing"), (1, "published")]
    assert 'class="sc-diff-form"' in response.content.decode()


def test_the_diff_shows_states_and_transitions_added_removed_and_changed(admin_client):
    old = draft()
    doc = example_seed("design-example")
    doc["smInfo"]["flowCode"] = "design-example"
    doc["smStates"] = [s for s in doc["smStates"] if s["stateValue"] != "S22"]
    doc["smStates"].append({"stateValue": "S5", "stateDesc": "new"})
    doc["smTransitions"] = [t for t in doc["smTransitions"] if "S22" not in (t["targetState"],)]
    doc["smTransitions"][0]["guardCondition"] = "ctx.ready"
    new = services.machine_create(data=doc)

    response = admin_client.get(
        reverse("admin:machines_flow_diff", args=[old.flow_id]), {"a": old.pk, "b": new.pk}
    )

    rows = {(r["kind"], r["change"], r["item"]) for r in response.context["rows"]}
    assert ("state", "added", "S5") in rows
    assert ("state", "removed", "S22") in rows
    changed = next(r for r in response.context["rows"] if r["change"] == "changed")
    assert ("guardCondition", None, "ctx.ready") in changed["fields"]
    assert any(kind == "transition" and change == "removed" for kind, change, _ in rows)


# Instances ---------------------------------------------------------------------------------


@pytest.fixture
def instance():
    online(example_seed("design-example"))
    instance = instance_create(flow_code="design-example", business_key="order-42")
    instance_event_fire(instance_id=instance.pk, event="E1")
    return instance


def test_instances_are_found_by_business_key(admin_client, instance):
    instance_create(flow_code="design-example", business_key="order-7")

    response = admin_client.get(reverse("admin:runtime_instance_changelist"), {"q": "order-42"})

    assert [i.business_key for i in response.context["cl"].result_list] == ["order-42"]


def test_the_instance_page_shows_its_state_on_the_diagram_and_its_history(admin_client, instance):
    instance.refresh_from_db()

    response = admin_client.get(reverse("admin:runtime_instance_change", args=[instance.pk]))

    assert f"class {instance.state} current" in response.context["diagram"]
    hops = [(h.from_state, h.to_state) for h in response.context["history"]]
    assert hops[0] == (None, "START") and hops[-1][1] == instance.state
    assert 'id="sc-history"' in response.content.decode()


def failed_async_event(instance, **fields):
    fields = {
        "status": EventRecord.Status.FAILED,
        "error": {"code": "ACTION_FAILED", "message": "the callback answered 500"},
        **fields,
    }
    return EventRecord.objects.create(
        instance=instance, event="E2", fingerprint="x", is_async=True, **fields
    )


def test_failed_async_events_are_listed_and_replayed_with_the_button(admin_client, instance):
    record = failed_async_event(instance, attempts=5)
    page = admin_client.get(reverse("admin:runtime_instance_change", args=[instance.pk]))
    assert "the callback answered 500" in page.content.decode()
    assert 'class="sc-replay"' in page.content.decode()

    replay_url = reverse("admin:runtime_instance_replay", args=[instance.pk, record.pk])
    response = admin_client.post(replay_url, follow=True)

    record.refresh_from_db()
    assert (record.status, record.attempts) == (EventRecord.Status.ACCEPTED, 0)
    assert f"Event {record.pk} was queued again." in response.content.decode()


def test_replaying_an_event_that_has_not_failed_says_why_and_changes_nothing(
    admin_client, instance
):
    record = failed_async_event(instance, status=EventRecord.Status.PROCESSING)
    page = admin_client.get(reverse("admin:runtime_instance_change", args=[instance.pk]))
    assert 'class="sc-replay"' not in page.content.decode()

    replay_url = reverse("admin:runtime_instance_replay", args=[instance.pk, record.pk])
    response = admin_client.post(replay_url, follow=True)

    record.refresh_from_db()
    assert record.status == EventRecord.Status.PROCESSING
    assert "Only a failed async event can be replayed." in response.content.decode()


def test_replay_needs_the_change_permission_on_instances(client, instance):
    client.force_login(staff_user("dana", *DESIGNER_PERMISSIONS))
    record = failed_async_event(instance)

    response = client.post(reverse("admin:runtime_instance_replay", args=[instance.pk, record.pk]))

    record.refresh_from_db()
    assert response.status_code == 403 and record.status == EventRecord.Status.FAILED


# Languages ---------------------------------------------------------------------------------


def test_the_designer_follows_a_chinese_browser(admin_client):
    machine = draft()

    html = admin_client.get(url("overview", machine.pk), HTTP_ACCEPT_LANGUAGE="zh-hans").content
    html = html.decode()

    assert '<html lang="zh-hans"' in html
    assert "状态" in html and "模拟器" in html


def test_the_language_switch_keeps_the_choice(admin_client):
    response = admin_client.post(
        reverse("set_language"), {"language": "zh-hans", "next": "/admin/"}
    )
    assert response.status_code == 302

    html = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans"' in html and 'id="sc-language"' in html


def test_the_admin_index_names_the_apps_and_models_in_chinese(admin_client):
    html = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    for name in ("状态机", "流程", "实例", "运行", "API 客户端"):
        assert f">{name}<" in html, name
    assert ">Machines<" not in html and ">Flows<" not in html and ">Instances<" not in html
