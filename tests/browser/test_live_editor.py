"""The draft editor in Chromium at 1,400 px: every field of a transition in the window, the
problems and the diagram following what is typed without a reload, the diagram leading to
the rows; in English and in Chinese. Saving still stores what was typed."""

import re

import pytest
from django.utils import translation

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true, saying why
    expect = None

from machines import services
from machines.selectors import machine_definition
from tests.browser.helpers import log_in
from tests.designer.admin_helpers import draft, small_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1400
FOCUSED = re.compile(r"\bsc-row-focus\b")


def open_editor(page, user, machine):
    page.set_viewport_size({"width": WIDTH, "height": 900})
    log_in(page, user)
    page.goto(f"/admin/machines/machine/{machine.pk}/change/")
    expect(page.locator("#sc-live")).to_have_attribute("data-state", "done")
    page.evaluate("window.scPageLoad = 'the same page'")  # gone if the page reloads


def assert_within_window(page, selector):
    boxes = page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector))
            .filter((e) => e.offsetParent !== null)
            .map((e) => { const r = e.getBoundingClientRect();
                          return [e.className || e.tagName, r.left, r.right]; })""",
        selector,
    )
    assert boxes, selector
    outside = [box for box in boxes if box[1] < 0 or box[2] > WIDTH]
    assert outside == [], outside


def arrow_middle(page, row_id) -> tuple[float, float]:
    """The point halfway along a transition's arrow on the diagram, in the window."""
    hit = page.locator(f"#sc-diagram path[data-sc-row={row_id}]")
    hit.scroll_into_view_if_needed()
    return hit.evaluate(
        """(path) => { const p = path.getPointAtLength(path.getTotalLength() / 2);
            const m = path.getScreenCTM(); return [m.a * p.x + m.c * p.y + m.e,
                                                  m.b * p.x + m.d * p.y + m.f]; }"""
    )


def settled(page):
    expect(page.locator("#sc-live")).to_have_attribute("data-state", "done")


@pytest.mark.parametrize("browser_locale", ["en-US", "zh-CN"])
def test_a_designer_edits_a_draft_and_sees_problems_and_diagram_as_they_type(
    page, admin_user, outside_requests, browser_locale
):
    machine = draft()
    open_editor(page, admin_user, machine)
    language = "zh-hans" if browser_locale == "zh-CN" else "en"
    with translation.override(language):
        expect(page.locator("#sc-live-heading")).to_have_text(translation.gettext("Diagram"))
        checked = translation.gettext("Checked as you type; nothing is saved until you press Save.")
    expect(page.locator("#sc-live-status")).to_have_text(checked)

    # The page fits the window: every column of a transition, its problems and Delete.
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert_within_window(page, "#transitions-group thead th:not(.original)")
    assert_within_window(page, "#transitions-0 td:not(.original)")
    assert_within_window(page, "#transitions-0 input, #transitions-0 textarea")
    assert_within_window(page, "#states-0 td:not(.original)")

    # A guard with a syntax error: its problem shows on its row, and in the summary.
    page.fill("[name=transitions-0-guard_condition]", "ctx.amount >")
    problem = page.locator("#transitions-0 td.field-problems [data-code=EXPRESSION_INVALID]")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("guardCondition")
    assert_within_window(page, "#transitions-0 td.field-problems li")
    expect(page.locator("#sc-problems [data-code=EXPRESSION_INVALID]")).to_have_count(1)
    expect(page.locator("#sc-summary")).to_be_visible()

    # Fixed, the problem goes.
    page.fill("[name=transitions-0-guard_condition]", "ctx.amount > 5")
    expect(page.locator("[data-code=EXPRESSION_INVALID]")).to_have_count(0)
    expect(page.locator("#sc-problems.sc-ok")).to_be_visible()

    # A new state appears on the diagram, unreachable until a transition leads to it.
    nodes = page.locator("#sc-diagram svg g.node")
    before = nodes.count()
    page.click("#states-group .add-row a")
    new_row = page.locator("#states-group tr.form-row").nth(-2)  # before the template row
    row_id = new_row.get_attribute("id")
    page.fill(f"[name={row_id}-value]", "ARCHIVED")
    expect(page.locator("#sc-diagram svg")).to_contain_text("ARCHIVED")
    expect(nodes).to_have_count(before + 1)
    expect(new_row.locator("[data-code=STATE_UNREACHABLE]")).to_be_visible()
    page.fill(f"[name={row_id}-desc]", "已归档")  # a description in Chinese, drawn as typed
    expect(page.locator("#sc-diagram svg")).to_contain_text("ARCHIVED: 已归档")
    settled(page)

    # Clicking a state on the diagram leads to its row.
    page.click(f"#sc-diagram g.node[data-sc-row={row_id}]")
    expect(new_row).to_have_class(FOCUSED)
    expect(page.locator(f"[name={row_id}-value]")).to_be_focused()

    # A transition's label, and its arrow where a person would click it, lead to its row.
    settled(page)
    page.click("#sc-diagram g.label[data-sc-row=transitions-3]")
    expect(page.locator("#transitions-3")).to_have_class(FOCUSED)
    expect(page.locator("[name=transitions-3-source]")).to_be_focused()
    settled(page)
    x, y = arrow_middle(page, "transitions-4")
    page.mouse.click(x, y)
    expect(page.locator("#transitions-4")).to_have_class(FOCUSED)
    expect(page.locator("#transitions-3")).not_to_have_class(FOCUSED)
    # From the keyboard: a state reached with Tab, then Enter.
    settled(page)
    page.focus("#sc-diagram g.node[data-sc-row=states-0]")
    page.keyboard.press("Enter")
    expect(page.locator("#states-0")).to_have_class(FOCUSED)
    expect(page.locator("[name=states-0-value]")).to_be_focused()
    assert page.evaluate("window.scPageLoad") == "the same page"

    # Saving stores what was typed, through the usual form.
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    definition = machine_definition(machine=machine.__class__.objects.get(pk=machine.pk))
    assert "ARCHIVED" in [s.value for s in definition.states]
    assert definition.transitions[0].guard_condition == "ctx.amount > 5"
    assert outside_requests == []


def test_rows_marked_for_deletion_are_left_out_of_the_check(page, admin_user, outside_requests):
    machine = draft()
    open_editor(page, admin_user, machine)
    to_s4 = page.locator("#transitions-8")
    expect(to_s4.locator("input[name=transitions-8-target]")).to_have_value("S4")

    page.check("[name=states-7-DELETE]")  # S4, which C2 --> S4 leads to
    expect(to_s4.locator("[data-code=TARGET_UNKNOWN]")).to_be_visible()
    expect(page.locator("#states-7 [data-code]")).to_have_count(0)

    page.uncheck("[name=states-7-DELETE]")
    expect(page.locator("[data-code=TARGET_UNKNOWN]")).to_have_count(0)
    expect(page.locator("#sc-problems.sc-ok")).to_be_visible()
    assert page.evaluate("window.scPageLoad") == "the same page"
    assert outside_requests == []


def test_a_saved_problem_is_shown_once_on_its_row_after_the_first_check(page, admin_user):
    machine = services.machine_create(data=small_seed(), create_flow=True)  # CANCELLED: unreached
    open_editor(page, admin_user, machine)

    cancelled = page.locator("#states-3")
    expect(cancelled.locator("[name=states-3-value]")).to_have_value("CANCELLED")
    expect(cancelled.locator("[data-code=STATE_UNREACHABLE]")).to_have_count(1)
    expect(page.locator("#sc-problems [data-code=STATE_UNREACHABLE]")).to_have_count(1)


def test_a_designer_types_a_list_source_an_entry_action_and_an_error_target_and_saves_them(
    page, admin_user, outside_requests
):
    machine = services.machine_create(data=small_seed(), create_flow=True)  # CANCELLED: unreached
    open_editor(page, admin_user, machine)
    sent = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.post_data_json)
            if request.url.endswith(f"/{machine.pk}/live/")
            else None
        ),
    )

    # A new transition that leaves two states, to CANCELLED: two arrows, one row.
    page.click("#transitions-group .add-row a")
    row_id = page.locator("#transitions-group tr.form-row").nth(-2).get_attribute("id")
    page.fill(f"[name={row_id}-source]", "NEW, PAYED")
    page.fill(f"[name={row_id}-event]", "cancel")
    page.fill(f"[name={row_id}-target]", "CANCELLED")
    unknown = page.locator(f"#{row_id} td.field-problems [data-code=SOURCE_UNKNOWN]")
    expect(unknown).to_be_visible()
    expect(unknown).to_contain_text("PAYED")
    page.fill(f"[name={row_id}-source]", "NEW, PAID")
    expect(page.locator("[data-code=SOURCE_UNKNOWN]")).to_have_count(0)
    expect(page.locator("#states-3 [data-code=STATE_UNREACHABLE]")).to_have_count(0)
    settled(page)
    expect(page.locator(f"#sc-diagram path.sc-edge-hit[data-sc-row={row_id}]")).to_have_count(2)
    expect(page.locator("#sc-diagram svg")).not_to_contain_text("NEW, PAID")

    # An entry action on SHIPPED, an action and its error target on pay.
    page.fill("[name=states-2-enter_action]", "http://localhost:9/hooks/shipped")
    page.fill("[name=transitions-0-action]", "http://localhost:9/hooks/pay")
    page.fill("[name=transitions-0-error_target]", "CANCELLED")
    settled(page)
    expect(page.locator("#sc-problems.sc-ok")).to_be_visible()
    body = sent[-1]
    assert body["smStates"][2]["enterAction"] == "http://localhost:9/hooks/shipped"
    assert body["smStates"][0]["enterAction"] is None
    assert body["smTransitions"][0]["errorTarget"] == "CANCELLED"
    assert body["smTransitions"][2]["sourceState"] == "NEW, PAID"
    # A host off the allow-list is the live check's problem, on the state's row.
    page.fill("[name=states-2-enter_action]", "http://elsewhere.example/shipped")
    expect(page.locator("#states-2 [data-code=ACTION_HOST_NOT_ALLOWED]")).to_contain_text(
        "enterAction"
    )
    page.fill("[name=states-2-enter_action]", "http://localhost:9/hooks/shipped")
    expect(page.locator("[data-code=ACTION_HOST_NOT_ALLOWED]")).to_have_count(0)
    assert_within_window(page, "#transitions-0 td:not(.original)")
    assert_within_window(page, "#states-2 td:not(.original)")

    page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    definition = machine_definition(machine=machine.__class__.objects.get(pk=machine.pk))
    assert [s.enter_action for s in definition.states] == [
        None,
        None,
        "http://localhost:9/hooks/shipped",
        None,
    ]
    assert [(t.source, t.error_target) for t in definition.transitions] == [
        ("NEW", "CANCELLED"),
        ("PAID", None),
        ("NEW, PAID", None),
    ]
    # The saved page shows them again, in the editable fields.
    expect(page.locator("[name=states-2-enter_action]")).to_have_value(
        "http://localhost:9/hooks/shipped"
    )
    expect(page.locator("[name=transitions-2-source]")).to_have_value("NEW, PAID")
    assert outside_requests == []
