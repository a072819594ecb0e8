"""The README's API tour works as written, against a real server, on a database with data.

The tour's blocks are the ```sh blocks of README.md that follow a `<!-- tour -->` line. They
run in one bash, as a reader pastes them, against gunicorn and a Celery worker started by
platform/serve.sh (as tests/serve.py starts a machine), with the token of `make run`'s demo
client in TOKEN. Twice in the same shell: the second run meets the first one's flow, machine,
client and instance in the database, and its variables in the shell, and must work all the
same.
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


def _run_tour_twice(machine: Machine, token: str) -> str:
    tour = tour_script().replace(README_URL, machine.url)
    tour = tour.replace(".venv/bin/python", sys.executable)  # this test's interpreter
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", f"{tour}\necho '--- again'\n{tour}"],
        cwd=ROOT,
        env={**machine.env, "TOKEN": token},
        capture_output=True,
        text=True,
        timeout=240,
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
    output = _run_tour_twice(server, token)

    instances = list(Instance.objects.order_by("pk"))
    assert len(instances) == 2 and len({i.flow.code for i in instances}) == 2, output
    expected = []
    for instance in instances:
        assert instance.flow.code.startswith("orders-") and instance.state == "S3"
        hops = HistoryEntry.objects.filter(instance=instance).order_by("pk")
        assert [hop.to_state for hop in hops] == ["START", "S1", "C1", "S21", "S3"]
        event = EventRecord.objects.filter(instance=instance, is_async=True).get()
        assert event.status == "done"
        expected += [line.format(event=event.pk) for line in EXPECTED]
    assert _printed_in_order(output, expected), output
