"""An event sent through the broker names its client and is checked like a REST call."""

import pytest

from clients.exceptions import NotAuthenticated
from clients.services import api_client_create
from config.exceptions import NotFound, ValidationError
from runtime.apis.broker import event_submitted
from runtime.exceptions import RoleForbidden
from runtime.models import EventRecord
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online

pytestmark = pytest.mark.django_db


@pytest.fixture
def instance():
    online(example_seed("design-example"))
    online(example_seed("audit"))
    return instance_create(flow_code="design-example", business_key="order-7")


def _payload(token, **changes):
    return {"token": token, "flow": "design-example", "businessKey": "order-7", "event": "E1",
            **changes}  # fmt: skip


def test_a_granted_client_token_is_accepted(instance):
    _, token = api_client_create(name="orders", roles="1", flows=["design-example"])
    record = event_submitted(_payload(token, role=1))
    assert (record.instance_id, record.status, record.role) == (instance.pk, "accepted", 1)


@pytest.mark.parametrize("token", [None, "", "not-a-token", 42])
def test_without_a_valid_token_it_is_refused_and_nothing_is_stored(instance, token):
    with pytest.raises(NotAuthenticated):
        event_submitted(_payload(token))
    assert not EventRecord.objects.exists()


def test_a_client_of_another_flow_finds_no_instance(instance):
    _, token = api_client_create(name="audits", flows=["audit"])
    with pytest.raises(NotFound):
        event_submitted(_payload(token))
    assert not EventRecord.objects.exists()


def test_a_client_may_not_act_as_a_role_of_another(instance):
    _, token = api_client_create(name="orders", roles="1", flows=["design-example"])
    with pytest.raises(RoleForbidden):
        event_submitted(_payload(token, role=2))
    assert not EventRecord.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"event": "E" * 101},
        {"flow": "design\x00example"},
        {"requestId": "r" * 201},
        {"role": 2**31},
        {"context": {"note": "a\x00b"}},
        {"context": ["not", "an", "object"]},
        {"businessKey": None},
    ],
    ids=[
        "long-event",
        "nul-flow",
        "long-request-id",
        "role-overflow",
        "nul-context",
        "list",
        "no-key",
    ],
)
def test_a_payload_out_of_the_rest_bounds_is_refused_and_nothing_is_stored(instance, changes):
    _, token = api_client_create(name="orders", roles="1", flows=["design-example"])
    with pytest.raises(ValidationError):
        event_submitted(_payload(token, **changes))
    assert not EventRecord.objects.exists()


def test_a_payload_that_is_no_object_is_refused():
    with pytest.raises(ValidationError):
        event_submitted(["E1"])


def test_a_refused_submission_is_kept_for_operators_without_its_token(instance):
    from runtime.models import RefusedSubmission
    from runtime.tasks import submit_event

    _, token = api_client_create(name="orders", roles="1", flows=["design-example"])
    answer = submit_event(_payload(token, businessKey="no-such-order"))
    submit_event(_payload(None, flow="no-such-flow"))
    submit_event("not an object")

    assert answer["code"] == "NOT_FOUND"
    refused = list(RefusedSubmission.objects.order_by("id"))
    assert [r.code for r in refused] == ["NOT_FOUND", "NOT_AUTHENTICATED", "VALIDATION_ERROR"]
    assert refused[0].flow.code == "design-example" and refused[1].flow is None
    assert "no-such-order" in refused[0].payload
    assert token not in refused[0].payload and "token" not in refused[0].payload
    assert not EventRecord.objects.exists()


def test_operators_see_refused_submissions_of_their_flows_in_the_admin(instance, client):
    from django.urls import reverse

    from machines.models import Flow
    from runtime.tasks import submit_event
    from tests.designer.admin_helpers import staff_user

    submit_event(_payload(None))  # names design-example
    submit_event(_payload(None, flow="audit"))
    user = staff_user("omar", "view_refusedsubmission", flows=[Flow.objects.get(code="audit")])
    client.force_login(user)
    page = client.get(reverse("admin:runtime_refusedsubmission_changelist"))
    assert page.status_code == 200
    assert [r.flow.code for r in page.context["cl"].result_list] == ["audit"]
