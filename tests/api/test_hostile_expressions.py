"""The hostile expression corpus through the API: never a 500, never a changed context."""

import copy
import json

import pytest

from rules import compile_expression
from rules.errors import ExpressionSyntaxError
from runtime import services as runtime_services
from runtime.models import Instance
from tests.conftest import example_seed
from tests.rules.test_security import CORPUS
from tests.runtime.helpers import footprint, online

pytestmark = pytest.mark.django_db
STORED_CONTEXT = {"amount": 5, "approved": False, "items": [{"qty": 1, "price": 2}]}


def _compiles(source: str) -> bool:
    try:
        compile_expression(source)
    except ExpressionSyntaxError:
        return False
    return True


@pytest.mark.parametrize("source", CORPUS)
def test_the_expression_check_answers_every_hostile_expression(designer, source):
    response = designer.post("/api/v1/expressions/check", {"expression": source}, format="json")
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 200:
        assert response.json()["ok"] in (True, False)
    else:  # e.g. a NUL byte the JSON parser refuses
        assert response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("source", [p for p in CORPUS if _compiles(p.values[0])])
def test_a_hostile_guard_fails_the_event_and_leaves_the_instance_as_it_was(business, source):
    doc = example_seed("audit")
    doc["smTransitions"][0]["guardCondition"] = source
    online(doc)
    instance = runtime_services.instance_create(
        flow_code="audit", business_key="k", context=copy.deepcopy(STORED_CONTEXT)
    )
    before = footprint(instance.pk)

    response = business.post(
        f"/api/v1/instances/{instance.pk}/events/",
        {"event": "PASS", "context": {"extra": [1, 2, 3]}},
        format="json",
    )

    assert response.status_code in (409, 422), response.content[:300]
    assert response.json()["code"] in ("GUARD_REJECTED", "EXPRESSION_ERROR")
    assert footprint(instance.pk) == before
    assert Instance.objects.get(pk=instance.pk).context == STORED_CONTEXT


@pytest.mark.parametrize("source", [p for p in CORPUS if _compiles(p.values[0])])
def test_the_explain_view_answers_json_for_every_hostile_show_condition(business, source):
    doc = example_seed("audit")
    doc["smTransitions"][0]["showCondition"] = source
    online(doc)
    instance = runtime_services.instance_create(
        flow_code="audit", business_key="k", context=copy.deepcopy(STORED_CONTEXT)
    )

    response = business.get(f"/api/v1/instances/{instance.pk}/events/available?explain=true")

    assert response.status_code == 200, response.content[:300]
    verdict = json.loads(response.content.decode("utf-8"))[0]
    assert verdict["verdict"] == "hidden"
    assert "error" in verdict["showCondition"]
