"""A client generated from the live schema by openapi-python-client works end to end.

gunicorn serves the test database (platform/serve.sh, as in production); the test fetches
/api/schema/?format=json from it, generates a Python client with openapi-python-client (a tool
nobody here wrote, as an integrating team would use it), imports it and drives a whole
scenario through its typed functions and models: a flow, a machine with a choice state,
validate, publish, online, an instance, events through the choice state, history, the
stateless fire, and a refusal parsed as the typed Error.
"""

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from clients.services import api_client_create
from tests.conftest import example_seed, without_ids
from tests.serve import Machine

BIN = Path(sys.executable).parent  # the generator, and the ruff it formats its output with
GENERATOR = shutil.which("openapi-python-client", path=str(BIN))


@pytest.fixture
def server(worker_env, tmp_path):
    machine = Machine("web", worker_env, tmp_path / "web")
    machine.metrics.mkdir()
    machine.start("web")
    machine.wait_started()
    yield machine
    machine.stop()
    print(machine.logs())


@pytest.fixture
def generated(server, tmp_path, monkeypatch):
    """The generated package, imported as `statecenter_client`."""
    schema = httpx.get(f"{server.url}/api/schema/?format=json", timeout=30)
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_bytes(schema.content)
    assert GENERATOR, "openapi-python-client is a dev dependency: pip install -e '.[dev]'"
    done = subprocess.run(
        [GENERATOR, "generate", "--path", "schema.json", "--meta", "none",
         "--output-path", "statecenter_client"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("statecenter_client")
    for name in [name for name in sys.modules if name.startswith("statecenter_client")]:
        del sys.modules[name]


def _call(module_name: str, client, **kwargs):
    """api/v1/<module_name>.sync_detailed(...): the answer, parsed into the generated models."""
    module = importlib.import_module(f"statecenter_client.api.v1.{module_name}")
    return module.sync_detailed(client=client, **kwargs)


def test_a_client_generated_from_the_schema_drives_a_whole_scenario(server, generated):
    models = importlib.import_module("statecenter_client.models")
    _, token = api_client_create(
        name="integrator", roles="1,2", designer=True, operator=True, all_flows=True
    )
    client = generated.AuthenticatedClient(base_url=server.url, token=token, prefix="Token")

    flow = _call("flow_create", client, body=models.FlowListCreateInput(code="orders", name="O"))
    assert flow.status_code == 201 and flow.parsed.code == "orders"

    seed = without_ids(example_seed("design-example"))
    seed["smInfo"]["flowCode"] = "orders"
    created = _call("machine_create", client, body=models.MachineIn.from_dict(seed))
    assert created.status_code == 201
    machine = created.parsed
    assert isinstance(machine, models.Machine)
    assert machine.sm_info.version == "1"
    assert machine.sm_info.sm_status == models.MachineStatusEnum.TESTING
    choice = [s for s in machine.sm_states if s.state_type == models.StateTypeEnum.CHOICE]
    assert [s.state_value for s in choice] == ["C1", "C2"]
    sm_id = machine.sm_info.sm_id

    report = _call("machine_validate", client, sm_id=sm_id).parsed
    assert isinstance(report, models.ValidationReport) and report.valid and report.errors == []
    _call("machine_publish", client, sm_id=sm_id)
    online = _call("machine_online", client, sm_id=sm_id).parsed
    assert online.sm_info.sm_status == models.MachineStatusEnum.ONLINE

    body = models.InstanceListCreateInput.from_dict(
        {"flow": "orders", "businessKey": "order-1", "context": {"amount": 150}}
    )
    instance = _call("instance_create", client, body=body).parsed
    assert isinstance(instance, models.InstanceOutput)
    assert (instance.state, instance.version, instance.context["amount"]) == ("START", "1", 150)

    def fire(event: str, **fields):
        body = models.InstanceEventFireInput.from_dict({"event": event, **fields})
        return _call("instance_event_fire", client, instance_id=instance.id, body=body)

    assert fire("E1").parsed.to_state == "S1"
    through_choice = fire("E2", expectedState="S1").parsed
    assert isinstance(through_choice, models.EventOutcome)
    assert through_choice.instance_id == instance.id
    assert [(hop.from_state, hop.to_state) for hop in through_choice.path] == [
        ("S1", "C1"),
        ("C1", "S21"),
    ]
    assert through_choice.to_state == "S21"

    record = _call("event_get", client, event_id=through_choice.event_id).parsed
    assert isinstance(record, models.EventRecord)
    assert record.status == models.EventStatusEnum.DONE
    assert record.result.to_state == "S21"

    available = _call("instance_events_available", client, instance_id=instance.id, explain=True)
    assert [(v.event, v.verdict) for v in available.parsed] == [
        ("E3", models.VerdictEnum.AVAILABLE)
    ]

    refused = fire("E1")
    assert refused.status_code == 409
    assert isinstance(refused.parsed, models.Error)
    assert refused.parsed.code == "NO_TRANSITION"

    history = _call("instance_history", client, instance_id=instance.id).parsed
    assert [row.to_state for row in history] == ["START", "S1", "C1", "S21"]

    body = models.FlowFireInput.from_dict({"state": "S1", "event": "E2", "context": {"amount": 5}})
    stateless = _call("flow_fire", client, code="orders", body=body).parsed
    assert isinstance(stateless, models.Outcome) and stateless.to_state == "S22"

    table = _call("machine_table", client, sm_id=sm_id).parsed
    assert table.cells["S1"]["E2"] == "C1"
