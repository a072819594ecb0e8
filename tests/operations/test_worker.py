"""A real Celery worker (with its beat): its heartbeat reaches /metrics through the shared
multiprocess folder, its lines are JSON with LOG_FORMAT=json, and the sweeps run quietly."""

import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.models import EventRecord
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
HEARTBEAT = "statecenter_worker_last_task_timestamp_seconds"


def _heartbeat(client) -> float:
    text = client.get("/metrics").content.decode()
    (sample,) = [
        s for f in text_string_to_metric_families(text) for s in f.samples if s.name == HEARTBEAT
    ]
    return sample.value


def test_a_worker_beats_in_the_shared_folder_logs_json_and_keeps_sweeps_quiet(
    business, client, start_worker, tmp_path, monkeypatch
):
    started = time.time()
    worker = start_worker(PROMETHEUS_MULTIPROC_DIR=str(tmp_path), LOG_FORMAT="json")
    online(example_seed("design-example"))
    instance = instance_create(flow_code="design-example", business_key="k")
    fired = business.post(f"/api/v1/instances/{instance.pk}/events/",
                          {"event": "E1", "async": True}, format="json")  # fmt: skip
    assert fired.status_code == 202, fired.content
    event_id = fired.json()["eventId"]
    wait_for(lambda: EventRecord.objects.get(pk=event_id).status == "done")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # as the web processes see it

    beat = wait_for(lambda: _heartbeat(client))
    assert started <= beat <= time.time()

    time.sleep(2)  # beat sends a sweep every 0.5 s (tests/worker.py)
    lines = [json.loads(line) for line in worker.log if line.startswith("{")]
    assert [line for line in lines if " ready." in line["message"]][0]["level"] == "INFO"
    received = [line["message"] for line in lines if line["message"].endswith(" received")]
    assert received and not [m for m in received if "runtime.sweep" in m]
    assert not [line for line in lines if "runtime.sweep" in line["message"]]
