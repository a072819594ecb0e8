"""The landing page at /, where the admin's "View site" leads."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

LINKS = ("/admin/", "/api/docs/", "/api/redoc/", "/api/schema/", "/healthz", "/readyz")


@pytest.mark.parametrize(
    ("language", "says"),
    [("en", "Open the designer"), ("zh-hans", "打开设计器")],
)
def test_it_links_the_designer_the_api_docs_and_the_probes_in_the_browsers_language(
    client, language, says
):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=language)

    html = response.content.decode()
    assert response.status_code == 200 and response["Content-Language"] == language
    assert says in html
    for path in LINKS:
        assert f'href="{path}"' in html
    assert "http" not in html.replace(f'action="{reverse("set_language")}"', "")  # all local


def test_the_admins_view_site_link_leads_to_it(admin_client):
    response = admin_client.get("/admin/")

    assert '<a href="/">' in response.content.decode()
    assert admin_client.head("/").status_code == 200
    assert admin_client.post("/").status_code == 405
