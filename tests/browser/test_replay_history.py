"""The replay page in Chromium: a draft replays the online version's history; the totals on
the diagram and in the table, the differing instances listed; in English and in Chinese."""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true, saying why
    expect = None

from tests.browser.helpers import log_in
from tests.runtime.replay_history import draft_with_lower_threshold, recorded_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def run_replay(page, admin_user) -> tuple:
    """Open the draft's page from its tools, run the replay of the last instances."""
    ids = recorded_history()
    draft = draft_with_lower_threshold(ids["machine"])
    log_in(page, admin_user)
    page.goto(f"/admin/machines/machine/{draft.pk}/overview/")
    page.click(f".sc-tools a[href$='/{draft.pk}/replay/']")
    expect(page.locator("#id_source")).to_have_value(str(ids["machine"].pk))  # online first
    page.fill("#id_limit", "100")
    page.click("#sc-replay-run")
    expect(page.locator("#sc-replay-result")).to_be_visible()
    expect(page.locator("#sc-diagram")).to_have_attribute("data-rendered", "true")
    return ids, draft


def counts_in_table(page, table: str) -> dict:
    counts = {}
    for row in page.locator(f"#{table} tbody tr").all():
        cells = [c.text_content().strip() for c in row.locator("td").all()]
        counts[(cells[0], cells[1], cells[2])] = int(cells[3])
    return counts


def test_a_designer_replays_history_through_a_draft(page, admin_user, outside_requests):
    ids, draft = run_replay(page, admin_user)

    expect(page.locator("#sc-replay-summary")).to_contain_text(
        "4 instance(s) of replayed v1 replayed, 10 event(s): 2 the same, 2 differing."
    )
    diagram = page.locator("#sc-diagram svg").text_content()
    assert "E1 ×4" in diagram and "E2 ×4" in diagram and "E3 ×2" in diagram
    assert "else ×2" in diagram
    taken = counts_in_table(page, "sc-replay-transitions")
    assert taken[("C1", "", "S21")] == 2 and taken[("S22", "E3", "S3")] == 0
    recorded = counts_in_table(page, "sc-replay-recorded")
    assert recorded[("C1", "", "S21")] == 1 and recorded[("S22", "E3", "S3")] == 1
    rows = page.locator("#sc-replay-differences tbody tr")
    expect(rows).to_have_count(2)
    mid = page.locator(f"#sc-replay-differences tr[data-instance='{ids['mid']}']")
    expect(mid.locator(".sc-recorded")).to_have_text("→ S22")
    expect(mid.locator(".sc-replayed")).to_have_text("→ S21")
    none = page.locator(f"#sc-replay-differences tr[data-instance='{ids['none']}']")
    expect(none.locator(".sc-recorded")).to_contain_text("EXPRESSION_ERROR")
    expect(none.locator(".sc-replayed")).to_have_text("→ S22")

    mid.locator("a").click()  # the instance's own page
    expect(page.locator("#content h2").first).to_be_visible()
    assert f"/runtime/instance/{ids['mid']}/" in page.url
    assert outside_requests == []


@pytest.mark.parametrize("browser_locale", ["zh-CN"])
def test_the_replay_page_in_chinese(page, admin_user, outside_requests):
    run_replay(page, admin_user)

    expect(page.locator("#sc-replay-summary")).to_contain_text(
        "已重放 replayed v1 的 4 个实例、10 个事件：2 个相同，2 个不同。"
    )
    expect(page.locator("#sc-replay-result h2").last).to_have_text("结果不同的实例")
    expect(page.locator("#sc-replay-differences tbody tr")).to_have_count(2)
    assert "E1 ×4" in page.locator("#sc-diagram svg").text_content()
    expect(page.locator("#sc-replay-run")).to_have_text("重放")
    assert outside_requests == []
