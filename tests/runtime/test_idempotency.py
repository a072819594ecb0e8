"""requestId at the service level, the same on the ORM path and the PostgreSQL fast path."""

import pytest

from runtime import services
from tests.conftest import example_seed
from tests.runtime.helpers import footprint, online

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("request_id", ["", "r-1"], ids=["empty", "plain"])
def test_a_request_id_replays_its_first_answer_whatever_its_text(request_id):
    online(example_seed("design-example"))
    instance = services.instance_create(flow_code="design-example", business_key="k")
    first = services.instance_event_fire(instance_id=instance.pk, event="E1", request_id=request_id)
    before = footprint(instance.pk)
    again = services.instance_event_fire(instance_id=instance.pk, event="E1", request_id=request_id)
    assert again == first
    assert footprint(instance.pk) == before


def test_an_event_without_a_request_id_stores_no_digest():
    online(example_seed("design-example"))
    instance = services.instance_create(flow_code="design-example", business_key="k")
    services.instance_event_fire(instance_id=instance.pk, event="E1")
    assert instance.events.get().fingerprint == ""
