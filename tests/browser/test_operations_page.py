"""A flow's operations page in Chromium: the numbers drawn on the diagram are the database's,
in English and in Chinese."""

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true, saying why
    expect = None

from designer.admin.operations_figures import WINDOWS, window_start
from operations import rollups, selectors
from operations.models import RollupMark
from runtime.models import HistoryEntry, Instance
from runtime.services import instance_create, instance_event_fire
from tests.browser.helpers import log_in
from tests.designer.test_operations_page import PLAN, SHOP
from tests.runtime.helpers import online

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LABELS = {  # a state's and an edge's note, per language
    "en": (r"^(?P<name>\S+) · (?P<n>\d+) instances?$", r"^(?P<name>\S+) · (?P<n>\d+) times?$"),
    "zh-hans": (r"^(?P<name>\S+) · (?P<n>\d+) 个实例$", r"^(?P<name>\S+) · (?P<n>\d+) 次$"),
}


@pytest.fixture
def shop(settings):
    settings.TRANSITION_COUNTS_SETTLE_SECONDS = 0
    machine = online(SHOP)
    for key, events in PLAN.items():
        instance = instance_create(flow_code="shop", business_key=key)
        for event in events:
            instance_event_fire(instance_id=instance.pk, event=event)
    rollups.history_rollup()
    selectors.forget_instance_states()
    return machine


def drawn(page, selector: str, pattern: str) -> dict[str, int]:
    """{name: number} read from the diagram's labels that `selector` finds."""
    found = {}
    for text in page.locator(f"#sc-diagram svg {selector}").all_text_contents():
        match = re.match(pattern, " ".join(text.split()))
        if match:
            found[match["name"]] = int(match["n"])
    return found


def expected(machine) -> tuple[dict, dict]:
    """Instances per state and transitions taken per event in the default window, counted
    in the database itself."""
    states = {
        state: Instance.objects.filter(machine=machine, state=state).count()
        for state in ("NEW", "PAID", "SHIPPED", "CANCELLED")
    }
    until = RollupMark.objects.get(name=rollups.MARK).counted_until
    since = window_start(until, WINDOWS["24h"].length)
    taken = {
        t.event: HistoryEntry.objects.filter(
            transition_id=t.pk, at__gte=since, at__lt=until
        ).count()
        for t in machine.transitions.all()
    }
    return states, taken


def check_the_diagram(page, machine, language: str) -> None:
    expect(page.locator("#sc-diagram")).to_have_attribute("data-rendered", "true")
    state_pattern, edge_pattern = LABELS[language]
    states, taken = expected(machine)
    assert drawn(page, "g.node", state_pattern) == states
    assert drawn(page, "g.edgeLabel", edge_pattern) == taken
    assert states == {"NEW": 1, "PAID": 2, "SHIPPED": 3, "CANCELLED": 1}
    assert taken == {"pay": 5, "ship": 3, "cancel": 1}


def test_the_diagram_shows_the_databases_numbers_in_english_and_chinese(
    page, admin_user, shop, outside_requests
):
    log_in(page, admin_user)
    page.goto("/admin/")
    page.click("a:text-is('Flow operations')")
    page.click("#result_list a:text-is('Open')")
    expect(page.locator("h1")).to_have_text("Operations of shop")
    check_the_diagram(page, shop, "en")
    expect(page.locator("#sc-backlog-events .sc-count")).to_have_text("0")

    page.select_option("#sc-language", "zh-hans")
    expect(page.locator("h1")).to_have_text("shop 的运维")
    check_the_diagram(page, shop, "zh-hans")
    assert outside_requests == []
