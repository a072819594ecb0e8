"""docs/webhooks.md's enter action and error target examples are what the platform writes.

Each JSON example after a `<!-- enter-payload: NAME -->` line must equal the outbox row the
platform writes in the same case, but for the values that differ from run to run (ids, times,
URLs). The outbox row is what the workers send as it is (tests/runtime/test_enter_actions.py
checks the calls themselves, signed, with a real worker).
"""

import json
import re
from pathlib import Path

import pytest

from runtime import async_events
from runtime.models import Delivery
from runtime.services import instance_create, instance_event_fire
from tests.runtime.extensions import extended_online

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
EXAMPLE = re.compile(r"<!-- enter-payload: ([\w-]+) -->\n```json\n(.*?)\n```", re.S)
VARYING = {"instanceId", "eventId", "smId", "transitionId", "at", "url"}

pytestmark = pytest.mark.django_db


def _examples() -> dict[str, dict]:
    return {name: json.loads(body) for name, body in EXAMPLE.findall(DOC.read_text())}


def _same_shape(value):
    if isinstance(value, dict):
        return {k: "…" if k in VARYING else _same_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_same_shape(v) for v in value]
    return value


def _written(stream: str) -> list[dict]:
    return [d.payload for d in Delivery.objects.filter(stream=stream).order_by("id")]


def test_the_pages_enter_action_and_error_target_examples_are_what_the_platform_writes(
    callback_server, settings
):
    settings.ASYNC_MAX_ATTEMPTS = 1  # the action's first try is its last
    callback_server.respond("/hooks/ship", status=503)
    extended_online(
        enter={"START": callback_server.url("/hooks/start"),
               "S21": callback_server.url("/hooks/s21")},
        actions={("S21", "E3"): callback_server.url("/hooks/ship")},
        error_targets={("S21", "E3"): "S22"},
    )  # fmt: skip
    instance = instance_create(
        flow_code="design-example", business_key="order-42", context={"amount": 150}
    )
    instance_event_fire(instance_id=instance.pk, event="E1", context={"n": 1},
                        request_id="order-42-e1")  # fmt: skip
    instance_event_fire(instance_id=instance.pk, event="E2", request_id="order-42-e2")
    record = async_events.event_accept(
        instance_id=instance.pk,
        event="E3",
        request_id="order-42-e3",
        callback_url=callback_server.url("/hooks/results"),
    )
    async_events.instance_events_process(instance_id=instance.pk)

    created, entered = _written(f"a:i{instance.pk}")
    (result,) = _written(f"e{record.pk}")
    sent = {"enter": entered, "enter-created": created, "result-error-target": result}
    examples = _examples()
    assert set(examples) == set(sent)
    for name, example in examples.items():
        assert _same_shape(example) == _same_shape(sent[name]), name
