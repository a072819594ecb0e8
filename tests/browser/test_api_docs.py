"""/api/docs/ (Swagger UI) and /api/redoc/ (ReDoc) render the API with no other host reachable:
every request that does not go to the live server is refused and recorded, and any fails the
test. Swagger UI and ReDoc come from the platform's own static files (drf-spectacular-sidecar).
"""

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true, saying why
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def offline_page(page, live_server):
    """The page, able to reach the live server's origin only; `page.elsewhere` lists the rest.

    Stricter than the conftest's guard (any local host, any port): a page route comes before
    the context's.
    """
    origin = live_server.url.rstrip("/") + "/"
    elsewhere = []

    def only_the_live_server(route):
        if route.request.url.startswith(origin):
            return route.continue_()
        elsewhere.append(route.request.url)
        return route.abort()

    page.route("**/*", only_the_live_server)
    page.elsewhere = elsewhere
    return page


def test_swagger_ui_renders_the_api_offline(offline_page, outside_requests):
    page = offline_page
    scripts = []
    page.on("requestfinished", lambda request: scripts.append(request.url))

    page.goto("/api/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Statecenter API")
    operation = page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/v1/instances/$"))
    expect(operation.first).to_be_visible()
    assert page.locator(".opblock").count() >= 17
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in scripts)
    assert page.elsewhere == [] and outside_requests == []


def test_redoc_renders_the_api_offline(offline_page, outside_requests):
    page = offline_page

    page.goto("/api/redoc/")

    expect(page.locator(".api-info h1")).to_contain_text("Statecenter API")
    expect(page.get_by_text("/api/v1/instances/", exact=True).first).to_be_attached()
    assert page.elsewhere == [] and outside_requests == []
