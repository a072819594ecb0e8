"""The admin designer in Chromium: from an empty screen to a machine online, simulated, and
an instance inspected; then the Chinese interface."""

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true, saying why
    expect = None

from runtime.services import instance_create, instance_event_fire
from tests.browser.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STATES = ("NEW", "PAID", "SHIPPED", "CANCELLED")


def fill_row(page, prefix, index, **values):
    for name, value in values.items():
        field = page.locator(f"[name={prefix}-{index}-{name}]")
        if isinstance(value, bool):
            field.set_checked(value)
        else:
            field.fill(value)


def step(page, label):
    """Press a lifecycle button, then confirm."""
    page.click(f".sc-tools a:text-is('{label}')")
    page.click("#sc-confirm")


def diagram_text(page) -> str:
    expect(page.locator("#sc-diagram")).to_have_attribute("data-rendered", "true")
    return page.locator("#sc-diagram svg").text_content()


def test_a_designer_builds_publishes_simulates_and_inspects_a_machine(
    page, admin_user, outside_requests
):
    log_in(page, admin_user)

    # A flow, then a machine in it, from the admin forms.
    page.goto("/admin/machines/flow/add/")
    page.fill("#id_code", "orders")
    page.fill("#id_name", "Orders")
    page.click("input[name=_save]")
    page.click("text=New machine in this flow")
    for _ in STATES[1:]:
        page.click("#states-group .add-row a")
    fill_row(page, "states", 0, value="NEW", initial=True)
    fill_row(page, "states", 1, value="PAID", desc="paid, waiting to ship")
    fill_row(page, "states", 2, value="SHIPPED", final=True)
    fill_row(page, "states", 3, value="CANCELLED", final=True)
    page.click("#transitions-group .add-row a")
    fill_row(page, "transitions", 0, source="NEW", event="pay", target="PAID", roles="2")
    fill_row(page, "transitions", 1, source="PAID", event="ship", target="SHIPPED")
    page.click("input[name=_save]")

    # Nothing reaches CANCELLED: the problem shows on its row.
    expect(page.locator(".messagelist .warning")).to_contain_text("1 error")
    cancelled = page.locator(
        "#states-group tr.form-row", has=page.locator("input[value=CANCELLED]")
    )
    expect(cancelled.locator("[data-code=STATE_UNREACHABLE]")).to_be_visible()

    # Fix it in the empty transition row, save: no problems left.
    fill_row(page, "transitions", 2, source="NEW", event="cancel", target="CANCELLED")
    page.click("input[name=_save]")
    expect(page.locator("#sc-problems.sc-ok")).to_be_visible()
    expect(page.locator("[data-code]")).to_have_count(0)

    # Publish, then put online, each after a confirmation.
    step(page, "Publish")
    expect(page.locator("#sc-status")).to_have_text("published")
    step(page, "Put online")
    expect(page.locator("#sc-status")).to_have_text("online")

    # The diagram draws every state; the table shades the missing transitions.
    page.click(".sc-tools a:text-is('Diagram and table')")
    text = diagram_text(page)
    for state in STATES:
        assert state in text
    expect(page.locator("#sc-table td.sc-empty").first).to_be_visible()
    expect(page.locator("#sc-table tr[data-state=NEW] td").nth(0)).to_have_text("PAID")

    # The simulator: pay, ship, then pay again from SHIPPED (no such transition).
    page.click(".sc-tools a:text-is('Simulator')")
    diagram_text(page)
    page.locator(".sc-step-event").nth(0).fill("pay")
    page.locator(".sc-step-role").nth(0).fill("2")
    page.locator(".sc-step-context").nth(0).fill('{"amount": 30}')
    for event in ("ship", "pay"):
        page.click("#sc-add-step")
        page.locator(".sc-step-event").last.fill(event)
    page.click("#sc-run")
    results = page.locator("#sc-step-results tbody tr")
    expect(results).to_have_count(3)
    expect(results.nth(0)).to_contain_text("NEW → PAID")
    expect(results.nth(1)).to_contain_text("PAID → SHIPPED")
    expect(results.nth(2)).to_contain_text("NO_TRANSITION")
    expect(page.locator("#sc-end-state")).to_contain_text("SHIPPED")
    diagram_text(page)
    expect(page.locator("#sc-diagram svg g.node.current")).to_have_count(1)
    expect(page.locator("#sc-diagram svg g.node.current")).to_have_id(re.compile("SHIPPED"))

    # An instance a business system started: found by its key, its state on the diagram.
    instance = instance_create(flow_code="orders", business_key="order-1")
    instance_event_fire(instance_id=instance.pk, event="pay", role=2)
    page.goto("/admin/runtime/instance/")
    page.fill("#searchbar", "order-1")
    page.press("#searchbar", "Enter")
    page.click("#result_list a:text-is('order-1')")
    expect(page.locator(".sc-instance h2").first).to_have_text("Current state: PAID")
    diagram_text(page)
    expect(page.locator("#sc-diagram svg g.node.current")).to_have_id(re.compile("PAID"))
    expect(page.locator("#sc-history li")).to_have_count(2)

    assert outside_requests == []


@pytest.mark.parametrize("browser_locale", ["zh-CN"])
def test_the_designer_follows_a_chinese_browser_and_switches_to_english(
    page, admin_user, outside_requests
):
    log_in(page, admin_user)
    expect(page.locator("#site-name")).to_have_text("Statecenter 设计器")
    page.goto("/admin/machines/machine/")
    expect(page.locator(".sc-import")).to_have_text("导入 JSON")

    page.select_option("#sc-language", "en")
    expect(page.locator("#site-name")).to_have_text("Statecenter designer")
    expect(page.locator(".sc-import")).to_have_text("Import JSON")
    assert outside_requests == []
