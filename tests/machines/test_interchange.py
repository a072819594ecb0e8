"""The seed interchange format: parsing, exporting, extensions and the round trip."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from config.exceptions import ValidationError
from machines import services
from machines.interchange import parse_seed, seed_from_parts
from machines.models import Flow, Machine, State
from machines.selectors import machine_export
from tests.conftest import EXAMPLE_NAMES, EXAMPLES, example_seed, without_ids


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_parse_then_export_gives_back_the_same_document(name):
    doc = example_seed(name)
    info, definition = parse_seed(doc)
    assert seed_from_parts(info=doc["smInfo"], definition=definition) == doc
    assert info["flowCode"] == name


def test_the_extensions_survive_the_round_trip():
    doc = example_seed("design-example")
    doc["smTransitions"][0]["timerSeconds"] = 1800
    _, definition = parse_seed(doc)
    assert definition.transitions[0].timer_seconds == 1800
    assert definition.initial_state().value == "START"
    assert definition.state("S4").final is True
    exported = seed_from_parts(info=doc["smInfo"], definition=definition)
    assert exported["smTransitions"][0]["timerSeconds"] == 1800
    assert exported["smStates"][7]["final"] is True and "final" not in exported["smStates"][0]


def test_without_an_initial_mark_the_first_normal_state_is_initial():
    doc = example_seed("audit")
    del doc["smStates"][0]["initial"]
    _, definition = parse_seed(doc)
    assert definition.initial_state().value == "APPLY"


def test_parse_reports_every_type_problem_with_its_path():
    doc = example_seed("audit")
    doc["smStates"][0]["stateType"] = "normal"
    doc["smTransitions"][2]["caseOrder"] = [1]
    with pytest.raises(ValidationError) as caught:
        parse_seed(doc)
    paths = [p["path"] for p in caught.value.details["problems"]]
    assert paths == ["smStates[0].stateType", "smTransitions[2].caseOrder"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_a_stored_example_exports_as_it_was_imported(name):
    machine = services.machine_create(data=example_seed(name), create_flow=True)
    assert without_ids(machine_export(machine=machine)) == example_seed(name)


@pytest.mark.django_db
def test_import_machine_loads_publishes_and_puts_online_every_example(capsys):
    call_command("import_machine", *sorted(EXAMPLES.glob("*.json")), "--online")
    machines = Machine.objects.select_related("flow").order_by("flow__code")
    assert [(m.flow.code, m.status) for m in machines] == [
        ("audit", Machine.Status.ONLINE),
        ("design-example", Machine.Status.ONLINE),
        ("server-lifecycle", Machine.Status.ONLINE),
    ]
    assert "online" in capsys.readouterr().out


@pytest.mark.django_db
def test_import_machine_skips_a_known_flow_when_asked():
    path = EXAMPLES / "audit.json"
    call_command("import_machine", path, "--publish")
    call_command("import_machine", path, "--skip-existing")
    assert Machine.objects.count() == 1
    call_command("import_machine", path)
    assert list(Machine.objects.values_list("version", flat=True)) == [1, 2]


@pytest.mark.django_db
def test_import_machine_stores_nothing_of_a_file_that_fails(tmp_path, capsys):
    doc = example_seed("audit")
    doc["smTransitions"][0]["targetState"] = "MISSING"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(CommandError):
        call_command("import_machine", bad, "--online")
    assert "TARGET_UNKNOWN" in capsys.readouterr().err
    assert (Flow.objects.count(), Machine.objects.count(), State.objects.count()) == (0, 0, 0)


@pytest.mark.django_db
def test_import_machine_reports_unreadable_json(tmp_path, capsys):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError):
        call_command("import_machine", bad)
    assert "broken.json" in capsys.readouterr().err


@pytest.mark.django_db
def test_export_machine_prints_the_seed_json(capsys):
    machine = services.machine_create(data=example_seed("server-lifecycle"), create_flow=True)
    call_command("export_machine", machine.pk)
    printed = json.loads(capsys.readouterr().out)
    assert printed == machine_export(machine=machine)
    assert without_ids(printed) == example_seed("server-lifecycle")


@pytest.mark.django_db
def test_export_machine_refuses_an_unknown_id():
    with pytest.raises(CommandError, match="No machine"):
        call_command("export_machine", 9999)
