"""A worker gives each event it applies its own expression budget."""

import pytest

from rules import RequestBudget, request_budget
from runtime.async_events import event_accept, instance_events_process
from runtime.models import EventRecord, Instance
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online

pytestmark = pytest.mark.django_db


def test_events_applied_in_one_task_do_not_share_the_tasks_budget():
    doc = example_seed("design-example")
    for transition in doc["smTransitions"]:
        if transition["eventValue"] == "E1":
            transition["guardCondition"] = "sum(1 for c in 'x' * 100) > 0"
    online(doc)
    instance = instance_create(flow_code="design-example", business_key="k")
    record = event_accept(instance_id=instance.pk, event="E1")
    spent = RequestBudget(iterations=0, work=0, allocation=0, time=0.0)
    with request_budget(spent):  # the task's budget, as if earlier events had used it all
        instance_events_process(instance_id=instance.pk)
    record.refresh_from_db()
    assert (record.status, record.error) == ("done", None)
    assert Instance.objects.get(pk=instance.pk).state == "S1"
    assert EventRecord.objects.filter(status="failed").count() == 0
