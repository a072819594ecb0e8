"""Scenarios in Chromium, in English and in Chinese: run steps in the simulator, save them as
a scenario, run the scenarios, and see on the diagram which transitions they covered."""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true, saying why
    expect = None

from machines import services
from machines.models import Scenario
from tests.browser.helpers import log_in
from tests.conftest import example_seed

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("browser_locale", ["en-US", "zh-CN"]),
]

TEXT = {
    "en-US": {"save": "Save as scenario", "saved": "Saved as scenario", "run": "Run scenarios"},
    "zh-CN": {"save": "保存为场景", "saved": "已保存为场景", "run": "运行场景"},
}


def _edge_style(page, source: str, target: str) -> str:
    """The style Mermaid gave the arrow between two nodes of the marked flowchart."""
    edge = page.locator(f"#sc-diagram svg path.flowchart-link[id$='L_{source}_{target}_0']")
    expect(edge).to_have_count(1)
    return edge.get_attribute("style") or ""


def test_a_designer_saves_steps_as_a_scenario_runs_it_and_sees_its_coverage(
    page, admin_user, outside_requests, browser_locale
):
    text = TEXT[browser_locale]
    machine = services.machine_create(data=example_seed("design-example"), create_flow=True)
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, admin_user)

    # Two steps in the simulator: START -E1-> S1 -E2-> C1 -> S21 (amount 150).
    page.goto(f"/admin/machines/machine/{machine.pk}/simulate/")
    page.locator(".sc-step-event").nth(0).fill("E1")
    page.click("#sc-add-step")
    page.locator(".sc-step-event").last.fill("E2")
    page.locator(".sc-step-context").last.fill('{"amount": 150}')
    page.click("#sc-run")
    expect(page.locator("#sc-step-results tbody tr")).to_have_count(2)

    expect(page.locator("#sc-save-scenario")).to_have_text(text["save"])
    page.fill("#sc-scenario-name", "big order")
    page.click("#sc-save-scenario")
    expect(page.locator("#sc-save-result")).to_have_attribute("data-state", "saved")
    expect(page.locator("#sc-save-result")).to_contain_text(text["saved"])
    saved = Scenario.objects.get(machine=machine)
    assert [s["expect"] for s in saved.steps] == [{"state": "S1"}, {"state": "S21"}]

    # The scenarios on the overview; run them: passed, and the coverage drawn.
    page.click("#sc-scenarios-link")
    expect(page.locator("#sc-scenario-list tr[data-scenario='big order']")).to_be_visible()
    expect(page.locator("#sc-run-scenarios")).to_have_text(text["run"])
    page.click("#sc-run-scenarios")
    expect(page.locator(".sc-scenario-passed")).to_have_count(1)
    expect(page.locator("#sc-diagram")).to_have_attribute("data-rendered", "true")
    # Node ids are s<n> by listed order: START s0, S1 s1, C1 s2, S21 s3, S3 s5, C2 s6.
    assert "stroke-width:4px" in _edge_style(page, "s0", "s1")  # E1: taken
    assert "stroke-width:4px" in _edge_style(page, "s2", "s3")  # C1's first case: taken
    assert "stroke-dasharray" in _edge_style(page, "s5", "s6")  # E4: never taken
    expect(page.locator("#sc-coverage tr[data-transition='0']")).to_have_class("sc-covered")
    expect(page.locator("#sc-coverage tr[data-transition='7']")).to_have_class("sc-uncovered")

    assert outside_requests == []
