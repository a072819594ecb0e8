"""The admin's replay page of a machine version (designer/admin/replay.py)."""

import pytest
from django.urls import reverse

from runtime.models import EventRecord, HistoryEntry, Instance
from tests.designer.admin_helpers import DESIGNER_PERMISSIONS, staff_user
from tests.runtime.helpers import online
from tests.runtime.replay_history import (
    draft_with_lower_threshold,
    flow_seed,
    new_version,
    recorded_history,
)

pytestmark = pytest.mark.django_db(transaction=True)


def page_url(machine) -> str:
    return reverse("admin:machines_machine_replay", args=[machine.pk])


def test_the_page_offers_the_flows_versions_the_online_one_first(admin_client):
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])

    response = admin_client.get(page_url(draft))

    assert response.status_code == 200
    form = response.context["form"]
    assert [value for value, _ in form.fields["source"].choices] == [ids["machine"].pk, draft.pk]
    assert form["source"].value() == ids["machine"].pk
    assert response.context["result"] is None
    assert "Replay history" in response.content.decode()  # the link among the machine's pages


def test_running_it_shows_the_totals_on_the_diagram_in_tables_and_the_differing_instances(
    admin_client,
):
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])
    rows = (Instance.objects.count(), EventRecord.objects.count(), HistoryEntry.objects.count())
    query = {"run": "1", "source": ids["machine"].pk, "window": "last", "limit": "100"}

    response = admin_client.get(page_url(draft), query)

    assert response.status_code == 200
    result = response.context["result"]
    assert result["instances"] == {"replayed": 4, "same": 2, "differing": 2}
    assert "flowchart LR" in response.context["diagram"]
    assert "×4" in response.context["diagram"] and "×2" in response.context["diagram"]
    html = response.content.decode()
    assert 'id="sc-replay-transitions"' in html and 'id="sc-replay-recorded"' in html
    listed = {d["businessKey"]: d for d in response.context["differences"]}
    assert set(listed) == {"mid", "none"}
    assert listed["mid"]["recorded_text"] == "→ S22" and listed["mid"]["replayed_text"] == "→ S21"
    assert listed["none"]["recorded_text"].startswith("EXPRESSION_ERROR")
    assert reverse("admin:runtime_instance_change", args=[ids["mid"]]) in html
    assert rows == (
        Instance.objects.count(),
        EventRecord.objects.count(),
        HistoryEntry.objects.count(),
    )


def test_since_a_date_and_a_missing_date(admin_client):
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])
    base = {"run": "1", "source": ids["machine"].pk, "window": "since", "limit": "100"}

    future = admin_client.get(page_url(draft), {**base, "since": "2999-01-01"})
    missing = admin_client.get(page_url(draft), base)

    assert future.context["result"]["instances"]["replayed"] == 0
    assert missing.context["result"] is None
    assert missing.context["form"].errors["since"]


def test_a_refusal_of_the_service_is_shown_on_the_page(admin_client):
    ids = recorded_history()

    def broken(doc):
        doc["smTransitions"][0]["guardCondition"] = "ctx.amount >"

    draft = new_version(ids["machine"], broken)
    query = {"run": "1", "source": ids["machine"].pk, "window": "last", "limit": "5"}

    response = admin_client.get(page_url(draft), query)

    assert response.status_code == 200
    assert response.context["result"] is None
    assert response.context["error"].startswith("The machine cannot replay history")
    assert 'id="sc-replay-error"' in response.content.decode()


def test_another_flows_machine_is_not_found(client):
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])
    mine = online(flow_seed("mine"))
    client.force_login(staff_user("olga", *DESIGNER_PERMISSIONS, flows=[mine.flow]))

    assert client.get(page_url(draft)).status_code == 404
    assert client.get(page_url(mine)).status_code == 200
