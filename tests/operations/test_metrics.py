"""/metrics: who may read it, what it serves, and the database gauges against the database."""

import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from operations import collectors
from runtime.models import Delivery, EventRecord, Instance
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = "203.0.113.7"


def _samples(response) -> dict:
    """{(name, ((label, value), ...)): value} of an exposition."""
    assert response.status_code == 200, response.content
    text = response.content.decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _refused(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["code"] == code


@pytest.mark.django_db
def test_without_a_token_metrics_answer_loopback_only(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    _refused(client.get("/metrics", REMOTE_ADDR=OUTSIDE), 403, "PERMISSION_DENIED")
    # A header anyone can write does not make a request local.
    spoofed = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR="127.0.0.1")
    _refused(spoofed, 403, "PERMISSION_DENIED")
    # Nor does a page of another site reaching it through DNS rebinding.
    rebound = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_HOST="evil.example")
    _refused(rebound, 403, "PERMISSION_DENIED")


@pytest.mark.django_db
def test_with_a_token_metrics_need_it_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    _refused(client.get("/metrics", REMOTE_ADDR="127.0.0.1"), 401, "NOT_AUTHENTICATED")
    wrong = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer nope")
    _refused(wrong, 401, "NOT_AUTHENTICATED")
    other_scheme = client.get("/metrics", HTTP_AUTHORIZATION="Token s3cret-token")
    _refused(other_scheme, 401, "NOT_AUTHENTICATED")
    right = client.get(
        "/metrics",
        REMOTE_ADDR=OUTSIDE,
        HTTP_HOST="10.0.0.8",
        HTTP_AUTHORIZATION="Bearer s3cret-token",
    )
    assert right.status_code == 200
    assert right["Content-Type"].startswith("text/plain; version=0.0.4")


@pytest.mark.django_db
def test_metrics_name_every_platform_metric(client):
    text = client.get("/metrics").content.decode()
    for name in (
        "statecenter_events_applied", "statecenter_events_refused",
        "statecenter_sync_event_seconds", "statecenter_async_event_seconds",
        "statecenter_deliveries", "statecenter_delivery_seconds",
        "statecenter_worker_last_task_timestamp_seconds", "statecenter_database_up",
        "statecenter_async_backlog_events", "statecenter_async_backlog_oldest_age_seconds",
        "statecenter_delivery_backlog", "statecenter_delivery_backlog_oldest_age_seconds",
        "statecenter_failed_events", "statecenter_expired_leases", "statecenter_instances",
    ):  # fmt: skip
        assert f"# HELP {name}" in text, name


def _events(instance, status, n, **fields):
    return [
        EventRecord.objects.create(
            instance=instance, event="E1", fingerprint="-", status=status, **fields
        )
        for _ in range(n)
    ]


def _deliveries(status, n, due):
    for _ in range(n):
        number = Delivery.objects.count()
        Delivery.objects.create(
            stream=f"s{number}",
            url="http://127.0.0.1/",
            payload={},
            webhook_id=f"w{number}",
            status=status,
            next_attempt_at=due,
        )


@pytest.mark.django_db
def test_database_gauges_equal_what_the_database_holds(client, business):
    online(example_seed("design-example"))
    online(example_seed("audit"))
    keys = [("design-example", f"d{n}") for n in range(4)] + [("audit", f"a{n}") for n in range(2)]
    instances = [instance_create(flow_code=flow, business_key=key) for flow, key in keys]
    fired = business.post(f"/api/v1/instances/{instances[0].pk}/events/", {"event": "E1"},
                          format="json")  # fmt: skip
    assert fired.status_code == 200, fired.content
    now = timezone.now()
    oldest = _events(instances[1], "accepted", 3)[0]
    EventRecord.objects.filter(pk=oldest.pk).update(created_at=now - timedelta(seconds=120))
    _events(instances[2], "processing", 1, next_attempt_at=now + timedelta(seconds=60))
    _events(instances[3], "processing", 1, next_attempt_at=now - timedelta(seconds=5))
    _events(instances[4], "failed", 4)
    _deliveries("pending", 1, due=now + timedelta(seconds=5))
    _deliveries("pending", 1, due=now - timedelta(seconds=60))
    _deliveries("delivered", 2, due=now)
    collectors.forget()

    samples = _samples(client.get("/metrics"))

    assert samples[("statecenter_database_up", ())] == 1
    assert samples[("statecenter_async_backlog_events", (("status", "accepted"),))] == 3
    assert samples[("statecenter_async_backlog_events", (("status", "processing"),))] == 2
    assert 119 < samples[("statecenter_async_backlog_oldest_age_seconds", ())] < 180
    assert samples[("statecenter_delivery_backlog", ())] == 2
    assert 0 <= samples[("statecenter_delivery_backlog_oldest_age_seconds", ())] < 60
    assert (
        samples[("statecenter_failed_events", ())]
        == EventRecord.objects.filter(status="failed").count()
        == 4
    )
    assert samples[("statecenter_expired_leases", (("kind", "event"),))] == 1
    assert samples[("statecenter_expired_leases", (("kind", "delivery"),))] == 1
    per_state = Counter((i.flow.code, i.state) for i in Instance.objects.select_related("flow"))
    gauges = {
        dict(labels)["flow"] + "/" + dict(labels)["state"]: value
        for (name, labels), value in samples.items()
        if name == "statecenter_instances"
    }
    assert gauges == {f"{flow}/{state}": n for (flow, state), n in per_state.items()}
    assert len(per_state) >= 3  # two flows, and the fired instance left its first state


@pytest.mark.django_db
def test_counters_of_several_processes_add_up_and_database_gauges_do_not(
    client, tmp_path, monkeypatch
):
    script = (
        "import sys; from config.metrics import EVENTS_APPLIED as A; "
        "A.labels(flow='orders', mode='async').inc(int(sys.argv[1]))"
    )
    for n in (2, 3):
        env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
        subprocess.run([sys.executable, "-c", script, str(n)], cwd=ROOT, env=env, check=True)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    samples = _samples(client.get("/metrics"))

    applied = ("statecenter_events_applied_total", (("flow", "orders"), ("mode", "async")))
    assert samples[applied] == 5
    assert [key for key in samples if key[0] == "statecenter_database_up"] == [
        ("statecenter_database_up", ())
    ]
