"""A flow's operations page: its counts against the database, who sees it, who may replay,
and what a view costs."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from operations import rollups, selectors
from runtime.models import Delivery, EventRecord, HistoryEntry, Instance
from runtime.services import instance_create, instance_event_fire
from tests.conftest import example_seed
from tests.designer.admin_helpers import staff_user
from tests.runtime.helpers import online

pytestmark = pytest.mark.django_db

SHOP = {
    "smInfo": {"flowCode": "shop"},
    "smStates": [
        {"stateValue": "NEW", "initial": True},
        {"stateValue": "PAID"},
        {"stateValue": "SHIPPED", "final": True},
        {"stateValue": "CANCELLED", "final": True},
    ],
    "smTransitions": [
        {"sourceState": "NEW", "eventValue": "pay", "targetState": "PAID"},
        {"sourceState": "PAID", "eventValue": "ship", "targetState": "SHIPPED"},
        {"sourceState": "NEW", "eventValue": "cancel", "targetState": "CANCELLED"},
    ],
}
# Events fired at each instance, by business key: they end in NEW, PAID, SHIPPED, CANCELLED.
PLAN = {
    "o1": [],
    "o2": ["pay"],
    "o3": ["pay"],
    "o4": ["pay", "ship"],
    "o5": ["pay", "ship"],
    "o6": ["pay", "ship"],
    "o7": ["cancel"],
}


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.TRANSITION_COUNTS_SETTLE_SECONDS = 0  # count what was just written
    selectors.forget_instance_states()


@pytest.fixture
def shop():
    machine = online(SHOP)
    for key, events in PLAN.items():
        instance = instance_create(flow_code="shop", business_key=key)
        for event in events:
            instance_event_fire(instance_id=instance.pk, event=event)
    return machine


@pytest.fixture
def audit():
    machine = online(example_seed("audit"))
    instance_create(flow_code="audit", business_key="a-1")
    return machine


def page_url(flow_id, **query) -> str:
    url = reverse("admin:operations_flowoperations_change", args=[flow_id])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def db_edge_counts(machine, since, until) -> dict:
    """Transitions taken, counted from history itself, by (source, event)."""
    counts = {}
    for t in machine.transitions.all():
        counts[(t.source, t.event)] = HistoryEntry.objects.filter(
            transition_id=t.pk, at__gte=since, at__lt=until
        ).count()
    return counts


def shown_edge_counts(response) -> dict:
    return {
        (e["transition"].source, e["transition"].event): e["count"]
        for e in response.context["edges"]
    }


def test_the_counts_per_state_and_per_transition_are_the_databases(admin_client, shop):
    # Two payments happened three days ago: in the 7-day window, not in the 24-hour one.
    paid = HistoryEntry.objects.filter(event="pay").order_by("id")[:2]
    HistoryEntry.objects.filter(pk__in=[h.pk for h in paid]).update(
        at=timezone.now() - timedelta(days=3)
    )
    rollups.history_rollup()

    for window in ("1h", "24h", "7d"):
        response = admin_client.get(page_url(shop.flow_id, window=window))
        assert response.status_code == 200
        states = {row["state"]: row["count"] for row in response.context["resting"]}
        for state, count in states.items():
            assert count == Instance.objects.filter(machine=shop, state=state).count(), state
        assert states == {"NEW": 1, "PAID": 2, "SHIPPED": 3, "CANCELLED": 1}
        since, until = response.context["since"], response.context["until"]
        assert shown_edge_counts(response) == db_edge_counts(shop, since, until)
        diagram = response.context["diagram"]
        assert "PAID · 2 instances" in diagram and "ship · 3 times" in diagram
    assert shown_edge_counts(response)[("NEW", "pay")] == 5
    day = admin_client.get(page_url(shop.flow_id))  # 24 h by default
    assert shown_edge_counts(day)[("NEW", "pay")] == 3


def test_the_page_is_linked_from_the_flow_and_the_admin_index(admin_client, shop):
    url = page_url(shop.flow_id)
    flow_page = admin_client.get(reverse("admin:machines_flow_change", args=[shop.flow_id]))
    assert url in flow_page.content.decode()
    index = admin_client.get(reverse("admin:index")).content.decode()
    listing = reverse("admin:operations_flowoperations_changelist")
    assert listing in index
    assert url in admin_client.get(listing).content.decode()


def test_a_staff_user_sees_only_the_operations_of_the_flows_of_their_groups(client, shop, audit):
    user = staff_user("otto", "view_instance", "view_flow", flows=[shop.flow])
    client.force_login(user)
    assert client.get(page_url(shop.flow_id)).status_code == 200
    assert client.get(page_url(audit.flow_id)).status_code == 404
    listing = client.get(reverse("admin:operations_flowoperations_changelist"))
    assert {str(flow) for flow in listing.context["cl"].result_list} == {"shop"}
    replay = client.post(reverse("admin:operations_flowoperations_replay", args=[audit.flow_id]))
    assert replay.status_code == 404


def _failed(instance, n: int) -> list[EventRecord]:
    return [
        EventRecord.objects.create(
            instance=instance,
            event="pay",
            is_async=True,
            status="failed",
            fingerprint="",
            error={"code": "ACTION_FAILED", "message": f"receiver answered 500 ({i})"},
            finished_at=timezone.now(),
        )
        for i in range(n)
    ]


def test_operators_replay_failed_events_in_bulk(client, shop, audit):
    operator = staff_user("opal", "view_instance", "change_instance", flows=[shop.flow])
    client.force_login(operator)
    first, second, kept = _failed(Instance.objects.get(business_key="o1"), 3)
    theirs = _failed(Instance.objects.get(business_key="a-1"), 1)[0]

    page = client.get(page_url(shop.flow_id)).content.decode()
    assert 'id="sc-replay-form"' in page and f'value="{first.pk}"' in page
    assert "receiver answered 500 (2)" in page
    url = reverse("admin:operations_flowoperations_replay", args=[shop.flow_id])
    response = client.post(url, {"event": [first.pk, second.pk, theirs.pk]})
    assert response.status_code == 302

    statuses = dict(EventRecord.objects.values_list("pk", "status"))
    assert statuses[first.pk] == statuses[second.pk] == "accepted"
    assert statuses[kept.pk] == "failed"
    assert statuses[theirs.pk] == "failed"  # another flow's event is not reached from here


def test_designers_without_the_operator_permission_see_failures_but_cannot_replay(client, shop):
    designer = staff_user("dora", "view_instance", "view_flow", "change_machine", flows=[shop.flow])
    client.force_login(designer)
    record = _failed(Instance.objects.get(business_key="o1"), 1)[0]

    page = client.get(page_url(shop.flow_id)).content.decode()
    assert "receiver answered 500 (0)" in page
    assert 'id="sc-replay-form"' not in page and 'name="event"' not in page
    url = reverse("admin:operations_flowoperations_replay", args=[shop.flow_id])
    assert client.post(url, {"event": [record.pk]}).status_code == 403
    assert EventRecord.objects.get(pk=record.pk).status == "failed"


def test_the_failed_events_are_paginated_newest_first(admin_client, shop):
    records = _failed(Instance.objects.get(business_key="o2"), 55)
    first = admin_client.get(page_url(shop.flow_id))
    assert [r.pk for r in first.context["failed"]] == [r.pk for r in reversed(records)][:50]
    second = admin_client.get(page_url(shop.flow_id, page=2))
    assert [r.pk for r in second.context["failed"]] == [r.pk for r in records[:5]][::-1]


def test_backlogs_and_stuck_work_are_the_flows_own(admin_client, shop, audit):
    now = timezone.now()
    mine, theirs = Instance.objects.get(business_key="o1"), Instance.objects.get(business_key="a-1")
    for instance in (mine, theirs):
        EventRecord.objects.create(instance=instance, event="pay", is_async=True, fingerprint="")
        stuck = EventRecord.objects.create(
            instance=instance,
            event="pay",
            is_async=True,
            fingerprint="",
            status="processing",
            next_attempt_at=now - timedelta(minutes=5),
        )
        Delivery.objects.create(
            stream=f"e{stuck.pk}",
            url="http://127.0.0.1:9/",
            payload={"type": "event", "eventId": stuck.pk, "status": "done"},
            webhook_id=f"msg_{stuck.pk}",
            next_attempt_at=now - timedelta(minutes=2),
        )
    backlogs = admin_client.get(page_url(shop.flow_id)).context["backlogs"]
    assert backlogs.all_events.count == 2
    assert backlogs.deliveries.count == 1
    assert backlogs.expired_events.count == 1
    assert backlogs.expired_events.oldest == now - timedelta(minutes=5)
    assert backlogs.overdue_deliveries.count == 1


def test_a_page_view_issues_a_bounded_number_of_queries(admin_client, shop):
    rollups.history_rollup()
    _failed(Instance.objects.get(business_key="o1"), 60)
    admin_client.get(page_url(shop.flow_id))  # the session and permission caches warm up
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(page_url(shop.flow_id)).status_code == 200
    assert len(queries) <= 20, [q["sql"] for q in queries]
    assert not any("runtime_historyentry" in q["sql"] for q in queries)


def test_instances_on_other_versions_are_counted_apart_and_a_flow_may_have_none_online(
    admin_client, shop
):
    from machines import services
    from machines.models import Machine

    newer = services.machine_publish(machine=services.machine_new_version(machine=shop))
    services.machine_online(machine=newer)
    instance_create(flow_code="shop", business_key="on-v2")
    page = admin_client.get(page_url(shop.flow_id))
    assert {r["state"]: r["count"] for r in page.context["resting"]}["NEW"] == 1
    (older,) = page.context["other_versions"]
    assert (older["machine"].pk, older["instances"]) == (shop.pk, len(PLAN))

    services.machine_disable(machine=Machine.objects.get(pk=newer.pk))
    page = admin_client.get(page_url(shop.flow_id))
    assert page.status_code == 200 and page.context["online"] is None
    assert 'id="sc-no-online"' in page.content.decode()
    assert sum(v["instances"] for v in page.context["other_versions"]) == len(PLAN) + 1
