"""Log lines: JSON with the request, instance and event ids; Celery quiet about routine sweeps."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery.app.trace import LOG_SUCCESS
from celery.worker.strategy import _app_trace

from config.logs import ContextFilter, json_formatter, log_context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines():
    """Records of the root logger as the JSON handler of LOG_FORMAT=json writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(ContextFilter())
    logging.getLogger().addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().removeHandler(handler)


@pytest.mark.django_db
def test_a_request_s_log_lines_carry_its_x_request_id(client, json_lines):
    response = client.get("/api/v1/no-such-route/", HTTP_X_REQUEST_ID="edge-7f3a.1")
    assert response.status_code == 404 and response["X-Request-ID"] == "edge-7f3a.1"
    (line,) = [line for line in json_lines() if line["logger"] == "django.request"]
    assert line["request_id"] == "edge-7f3a.1"
    assert line["level"] == "WARNING" and "no-such-route" in line["message"]
    assert line["time"].startswith("20") and line["time"].endswith("+00:00")


@pytest.mark.django_db
def test_a_request_without_a_usable_id_gets_a_new_one(client, json_lines):
    for given in ({}, {"HTTP_X_REQUEST_ID": "two words\r\nX-Injected: 1"}):
        response = client.get("/api/v1/no-such-route/", **given)
        made = response["X-Request-ID"]
        assert len(made) == 32 and int(made, 16) >= 0
        assert json_lines()[-1]["request_id"] == made


def test_log_context_names_the_instance_and_event_and_ends_with_its_block(json_lines):
    logger = logging.getLogger("runtime.test")
    with log_context(instance_id=12, event_id=345):
        logger.warning("applying")
        with log_context(event_id=346):
            logger.warning("next")
    logger.warning("after")
    lines = json_lines()
    assert [(x.get("instance_id"), x.get("event_id")) for x in lines] == [
        (12, 345), (12, 346), (None, None),
    ]  # fmt: skip


def test_log_format_json_makes_every_line_of_a_process_json():
    code = (
        "import logging; from config.logs import log_context\n"
        "with log_context(instance_id=5, event_id=9):\n"
        "    logging.getLogger('runtime.x').warning('stuck %s', 'here', extra={'attempt': 2})\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n"
        "    logging.getLogger('runtime.x').exception('boom')\n"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DEBUG": "true", "ENV_FILE": os.devnull}
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # each line parses
    stuck, boom = [line for line in lines if line["logger"] == "runtime.x"]
    assert stuck["message"] == "stuck here" and stuck["level"] == "WARNING"
    assert (stuck["instance_id"], stuck["event_id"], stuck["attempt"]) == (5, 9, 2)
    assert boom["level"] == "ERROR" and "ZeroDivisionError" in boom["exc_info"]


def _celery_lines(task: str) -> None:
    logging.getLogger("celery.worker.strategy").info(
        _app_trace.LOG_RECEIVED, {"id": "abc", "name": task, "args": "", "kwargs": ""}
    )
    logging.getLogger("celery.app.trace").info(
        LOG_SUCCESS, {"id": "abc", "name": task, "return_value": "{}", "runtime": 0.01}
    )
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "entry", task)


def test_celery_s_lines_about_each_sweep_are_debug_and_other_tasks_stay_info(caplog):
    with caplog.at_level(logging.INFO):
        _celery_lines("runtime.sweep")
        _celery_lines("runtime.process_ready")
    assert len(caplog.records) == 3
    assert {r.levelname for r in caplog.records} == {"INFO"}
    assert all("runtime.process_ready" in r.getMessage() for r in caplog.records)

    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        _celery_lines("runtime.sweep")
    assert [r.levelname for r in caplog.records] == ["DEBUG"] * 3
