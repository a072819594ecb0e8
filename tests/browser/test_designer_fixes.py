"""What a designer found broken, clicked through in Chromium at the target size (1,400 px
wide), in English and in Chinese: comparing two versions from the flow page, the landing
page behind "View site", and the language switch readable on the blue header."""

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true, saying why
    expect = None

from machines import services
from tests.browser.helpers import log_in
from tests.designer.admin_helpers import small_seed

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("browser_locale", ["en-US", "zh-CN"]),
]

WIDTH = 1400
# What the pages say, by the browser's language.
TEXT = {
    "en-US": {
        "testing": "testing",
        "compare": "Compare",
        "from": "From v1 to v2",
        "added": "added",
        "view_site": "View site",
        "designer": "Open the designer",
        "swagger": "Interactive documentation (Swagger UI)",
        "alive": "Alive: the process answers",
        "language": "Language",
    },
    "zh-CN": {
        "testing": "测试中",
        "compare": "比较",
        "from": "从 v1 到 v2",
        "added": "新增",
        "view_site": "查看站点",
        "designer": "打开设计器",
        "swagger": "交互式文档（Swagger UI）",
        "alive": "存活：进程有应答",
        "language": "语言",
    },
}
# WCAG AA for small text; the label is 12 px.
MIN_CONTRAST = 4.5

# The contrast of an element's text against the first opaque background behind it.
CONTRAST_JS = """element => {
  const rgb = text => text.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  let node = element, background = null;
  while (node && node.nodeType === 1) {
    const color = rgb(getComputedStyle(node).backgroundColor);
    if (color.length < 4 || color[3] > 0) { background = color; break; }
    node = node.parentElement;
  }
  const fore = lum(rgb(getComputedStyle(element).color));
  const back = lum(background || [255, 255, 255]);
  return (Math.max(fore, back) + 0.05) / (Math.min(fore, back) + 0.05);
}"""


@pytest.fixture
def wide(page):
    page.set_viewport_size({"width": WIDTH, "height": 900})
    return page


def two_versions():
    """shop v1 (NEW, PAID, SHIPPED, CANCELLED) and v2, which adds a RETURNED state."""
    first = services.machine_create(data=small_seed("shop"), create_flow=True)
    seed = small_seed("shop")
    seed["smStates"].append({"stateValue": "RETURNED", "final": True})
    seed["smTransitions"].append(
        {"sourceState": "SHIPPED", "eventValue": "return", "targetState": "RETURNED"}
    )
    services.machine_create(data=seed)
    return first.flow


def test_a_designer_compares_two_versions_from_the_flow_page(
    wide, admin_user, browser_locale, outside_requests
):
    page, text = wide, TEXT[browser_locale]
    flow = two_versions()
    log_in(page, admin_user)

    page.goto(f"/admin/machines/flow/{flow.pk}/change/")
    page.select_option("#id_a", label=f"v1 ({text['testing']})")
    page.select_option("#id_b", label=f"v2 ({text['testing']})")
    page.get_by_role("button", name=text["compare"], exact=True).click()

    expect(page).to_have_url(re.compile(rf"/admin/machines/flow/{flow.pk}/diff/\?a=\d+&b=\d+$"))
    expect(page.locator("#content-main h2")).to_have_text(text["from"])
    returned = page.locator(
        "#sc-diff tr.sc-diff-added", has=page.locator("code:text-is('RETURNED')")
    )
    expect(returned).to_contain_text(text["added"])

    # Back on the flow page, the other way round: v2 to v1 removes it.
    page.go_back()
    page.select_option("#id_a", label=f"v2 ({text['testing']})")
    page.select_option("#id_b", label=f"v1 ({text['testing']})")
    page.get_by_role("button", name=text["compare"], exact=True).click()
    expect(page.locator("#sc-diff tr.sc-diff-removed").first).to_be_visible()
    assert outside_requests == []


def test_view_site_leads_to_the_landing_page_and_its_links_work(
    wide, admin_user, browser_locale, outside_requests
):
    page, text = wide, TEXT[browser_locale]
    log_in(page, admin_user)

    page.get_by_role("link", name=text["view_site"]).click()
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    expect(page.locator("h1")).to_have_text("Statecenter")
    for path in ("/admin/", "/api/docs/", "/api/redoc/", "/api/schema/", "/healthz", "/readyz"):
        expect(page.locator(f"main a[href='{path}']")).to_be_visible()

    page.get_by_role("link", name=text["alive"]).click()
    expect(page.locator("body")).to_contain_text('"status"')
    page.go_back()
    page.get_by_role("link", name=text["swagger"]).click()
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Statecenter API")
    page.go_back()
    page.get_by_role("link", name=text["designer"]).click()
    expect(page.locator("#user-tools")).to_be_visible()
    assert outside_requests == []


def test_the_language_label_reads_well_on_the_blue_header_of_every_kind_of_page(
    wide, admin_user, browser_locale, outside_requests
):
    page, text = wide, TEXT[browser_locale]
    flow = two_versions()
    log_in(page, admin_user)

    # A list, a change form (forms.css greys labels), an add form, and the landing page.
    for path in (
        "/admin/machines/machine/",
        f"/admin/machines/flow/{flow.pk}/change/",
        "/admin/machines/machine/add/",
        "/",
    ):
        page.goto(path)
        label = page.locator("label[for=sc-language]")
        expect(label).to_have_text(text["language"])
        contrast = label.evaluate(CONTRAST_JS)
        assert contrast >= MIN_CONTRAST, f"{path}: contrast {contrast:.2f}"
    assert outside_requests == []
