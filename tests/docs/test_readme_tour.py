"""The README's API tour works as written, against a real server, on a database with data.

The tour's blocks are the ```sh blocks of README.md that follow a `<!-- tour -->` line. They
run in one bash, as a reader pastes them, against gunicorn and a Celery worker started by
platform/serve.sh (as tests/serve.py starts a machine), with the token of `make run`'s demo
client in TOKEN. Twice: the second run meets the first one's flow, machine, client and
instance, and must work all the same.
"""

import os
import re
import subprocess
import sys

import pytest

from clients.services import api_client_create
from runtime.models import EventRecord, HistoryEntry, Instance
from tests.serve import ROOT, Machine

TOUR_MARK = "<!-- tour -->"
BLOCK = re.compile(re.escape(TOUR_MARK) + r"\n```sh\n(.*?)\n```", re.S)
README_URL = "http://127.0.0.1:8000"  # where make run serves, as the README says
# What the tour prints, line by line, in this order (among the JSON answers it shows).
EXPECTED = ["2", "3", "S22", "S21", "event {event}: done", "S3", "S22"]


def tour_script() -> str:
    """The tour's blocks, joined; fails when the README has none."""
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    assert len(blocks) >= 3, f"README.md should mark its tour blocks with {TOUR_MARK}"
    return "\n".join(blocks)


def test_the_tour_is_found_and_starts_with_its_helpers():
    script = tour_script()
    assert script.startswith(f"API={README_URL}/api/v1\n")
    assert "api() {" in script and "pick() {" in script


@pytest.fixture
def server(worker_env, tmp_path):
    """gunicorn and a Celery worker on the test database, as `make run` starts them."""
    machine = Machine("tour", worker_env, tmp_path / "tour")
    if os.environ.get("TOUR_PORT"):  # a port of your choosing; otherwise a free one
        machine.port = int(os.environ["TOUR_PORT"])
        machine.env["PORT"] = os.environ["TOUR_PORT"]
    machine.metrics.mkdir()  # the machine's metrics folder, empty, as run.sh makes it
    for role in ("web", "worker"):
        machine.start(role)
    machine.wait_started()
    yield machine
    machine.stop()
    print(machine.logs())


def _run_tour(machine: Machine, token: str) -> str:
    script = tour_script().replace(README_URL, machine.url)
    script = script.replace(".venv/bin/python", sys.executable)  # this test's interpreter
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env={**machine.env, "TOKEN": token},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"the tour failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _printed_in_order(output: str, expected: list[str]) -> bool:
    lines = iter(output.splitlines())
    return all(any(line == want for line in lines) for want in expected)


def test_the_readme_tour_runs_twice_against_a_real_server(server):
    _, token = api_client_create(
        name="demo", roles="1,2", designer=True, operator=True, all_flows=True
    )  # as platform/run.sh makes it
    for run in (1, 2):
        output = _run_tour(server, token)
        instance = Instance.objects.order_by("-pk").first()
        event = EventRecord.objects.filter(instance=instance, is_async=True).get()
        expected = [line.format(event=event.pk) for line in EXPECTED]
        assert _printed_in_order(output, expected), f"run {run} printed:\n{output}"
        assert Instance.objects.count() == run
        assert instance.flow.code.startswith("orders-") and instance.state == "S3"
        states = HistoryEntry.objects.filter(instance=instance).order_by("pk")
        assert [entry.to_state for entry in states] == ["START", "S1", "C1", "S21", "S3"]
        assert event.status == "done"
