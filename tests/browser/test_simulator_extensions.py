"""The admin simulator in Chromium tells what a step's entry action and error target are."""

import pytest
from django.urls import reverse

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true, saying why
    expect = None

from tests.browser.helpers import log_in
from tests.runtime.extensions import extended_online

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_step_shows_the_entry_action_it_calls_and_where_a_failing_action_goes(
    page, admin_user, outside_requests
):
    machine = extended_online(
        enter={"S1": "http://localhost:9/hooks/s1"},
        actions={("START", "E1"): "http://localhost:9/hooks/e1"},
        error_targets={("START", "E1"): "S22"},
    )
    log_in(page, admin_user)
    page.goto(reverse("admin:machines_machine_simulate", args=[machine.pk]))
    expect(page.locator("#sc-diagram")).to_have_attribute("data-rendered", "true")
    page.locator(".sc-step-event").nth(0).fill("E1")
    page.click("#sc-add-step")
    page.locator(".sc-step-event").last.fill("E11")

    page.click("#sc-run")

    rows = page.locator("#sc-step-results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".sc-enter-action")).to_have_text(
        "calls entry action http://localhost:9/hooks/s1"
    )
    expect(rows.nth(0).locator(".sc-error-target")).to_contain_text("goes to S22")
    # E11 is S1's transition back to itself: S1's entry action is called again.
    expect(rows.nth(1).locator(".sc-enter-action")).to_have_count(1)
    expect(rows.nth(1).locator(".sc-error-target")).to_have_count(0)
