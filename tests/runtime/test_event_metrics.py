"""The event counters and timings of /metrics move by exactly what the runtime did, and the
worker's log lines name the event they belong to.

In one process (no multiprocess folder in the tests), read from prometheus-client's default
registry before and after: sync events applied and refused, async events applied through a
batch, deliveries sent. That the sync event still runs its two statements with the metrics
in place is held by tests/runtime/test_access_statements.py.
"""

import logging
import os
import subprocess
import sys

import pytest
from prometheus_client import REGISTRY

from config.logs import ContextFilter
from runtime import batches, outbox
from runtime.models import Delivery
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online

FLOW = "design-example"


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _instance(key: str = "k"):
    online(example_seed(FLOW))
    return instance_create(flow_code=FLOW, business_key=key, context={"amount": 150})


@pytest.mark.django_db
def test_sync_events_count_as_applied_or_refused_with_their_code(business):
    instance = _instance()
    applied = _value("statecenter_events_applied_total", flow=FLOW, mode="sync")
    refused = _value("statecenter_events_refused_total", flow=FLOW, code="NO_TRANSITION")
    timed = _value("statecenter_sync_event_seconds_count")

    url = f"/api/v1/instances/{instance.pk}/events/"
    assert business.post(url, {"event": "E1"}, format="json").status_code == 200
    assert business.post(url, {"event": "E11"}, format="json").status_code == 200
    assert business.post(url, {"event": "NOPE"}, format="json").status_code == 409

    assert _value("statecenter_events_applied_total", flow=FLOW, mode="sync") == applied + 2
    assert (
        _value("statecenter_events_refused_total", flow=FLOW, code="NO_TRANSITION") == refused + 1
    )
    assert _value("statecenter_sync_event_seconds_count") == timed + 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_async_events_applied_in_a_batch_count_once_each_with_their_latency(business):
    instance = _instance()
    applied = _value("statecenter_events_applied_total", flow=FLOW, mode="async")
    timed = _value("statecenter_async_event_seconds_count")
    url = f"/api/v1/instances/{instance.pk}/events/"
    for event in ("E1", "E11", "E11"):
        response = business.post(url, {"event": event, "async": True}, format="json")
        assert response.status_code == 202

    assert batches.events_process_ready() == 3
    assert _value("statecenter_events_applied_total", flow=FLOW, mode="async") == applied + 3
    assert _value("statecenter_async_event_seconds_count") == timed + 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deliveries_count_by_outcome(business, callback_server):
    callback_server.respond("/ok")
    callback_server.respond("/busy", status=503)
    instance = _instance()
    for path in ("/ok", "/busy"):
        response = business.post(
            "/api/v1/subscriptions/",
            {"flow": FLOW, "url": callback_server.url(path)},
            format="json",
        )
        assert response.status_code == 201
    delivered = _value("statecenter_deliveries_total", outcome="delivered")
    retried = _value("statecenter_deliveries_total", outcome="retried")
    timed = _value("statecenter_delivery_seconds_count")
    url = f"/api/v1/instances/{instance.pk}/events/"
    for event in ("E1", "E11"):
        assert business.post(url, {"event": event}, format="json").status_code == 200
    per_subscriber = Delivery.objects.count() // 2
    assert per_subscriber >= 2

    # The ok stream goes out whole; the busy one's head is tried once and waits for its retry,
    # the rest of that stream behind it.
    assert outbox.deliveries_send_ready() == per_subscriber + 1
    assert _value("statecenter_deliveries_total", outcome="delivered") == delivered + per_subscriber
    assert _value("statecenter_deliveries_total", outcome="retried") == retried + 1
    assert _value("statecenter_delivery_seconds_count") == timed + per_subscriber + 1


@pytest.mark.parametrize(("enabled", "counted"), [("true", "1.0"), ("false", "None")])
def test_with_metrics_off_nothing_is_counted(enabled, counted):
    """METRICS_ENABLED=false (what `make bench` compares with): the calls do nothing."""
    program = (
        "from prometheus_client import REGISTRY\n"
        "from config import metrics\n"
        "metrics.EVENTS_APPLIED.labels('f', metrics.SYNC).inc()\n"
        "metrics.async_event_ended('f', 0.5)\n"
        "with metrics.DELIVERY_SECONDS.time(): pass\n"
        "print(REGISTRY.get_sample_value('statecenter_events_applied_total',"
        " {'flow': 'f', 'mode': 'sync'}))\n"
    )
    env = {**os.environ, "METRICS_ENABLED": enabled}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == counted


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_s_log_lines_name_the_instance_and_event_they_apply(business, caplog):
    instance = _instance()
    url = f"/api/v1/instances/{instance.pk}/events/"
    response = business.post(url, {"event": "E1", "async": True}, format="json")
    caplog.handler.addFilter(ContextFilter())  # what the LOGGING handlers carry

    with caplog.at_level(logging.DEBUG, logger="runtime.batches"):
        assert batches.events_process_ready() == 1

    (line,) = [r for r in caplog.records if r.getMessage().startswith("applied E1")]
    assert (line.instance_id, line.event_id) == (instance.pk, response.json()["eventId"])
