"""Browser tests: Playwright for Python driving Debian's Chromium, headless.

Without playwright or Chromium (`apt-get install -y chromium`) they skip with the reason,
except under CI=true, where that is a failure. A failing test leaves a screenshot in
var/screenshots/ and names it in its report. Every page may load only what the test server
serves: any other request is refused and reported.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser.helpers import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module; closed after it, which stops Playwright's event loop."""
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the browser tests, but {missing}")
        pytest.skip(f"browser tests need Chromium and playwright: {missing}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread while it is open; the ORM calls
    # the tests make between page steps are plain blocking calls, so Django's async guard
    # steps aside, for these tests only (subprocesses of other tests must not inherit it).
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def outside_requests():
    """URLs a page tried to load from anywhere but the test server (refused)."""
    return []


@pytest.fixture
def browser_locale():
    """The browser's language (Accept-Language); parametrize a test to change it."""
    return "en-US"


@pytest.fixture
def page(browser, live_server, outside_requests, browser_locale):
    context = browser.new_context(base_url=live_server.url, locale=browser_locale)

    def guard(route):
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS or route.request.url.startswith(
            ("data:", "blob:")
        ):
            return route.continue_()
        outside_requests.append(route.request.url)
        return route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if report.when == "call" and report.failed else None
    if page is None:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{item.name}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
        report.sections.append(("screenshot", f"saved {path} (page {page.url})"))
    except Exception as exc:  # a crashed page cannot be photographed; say so
        report.sections.append(("screenshot", f"none: {exc}"))


@pytest.fixture
def admin_user(django_user_model):
    """A superuser to log in with (tests/browser/helpers.py log_in)."""
    return django_user_model.objects.create_superuser("ada", password=PASSWORD)
