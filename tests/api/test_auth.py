"""Who may use which API: tokens, designers, plain business clients, admin sessions."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clients.models import ApiClient
from clients.services import api_client_create

pytestmark = pytest.mark.django_db

DESIGN_ENDPOINTS = [
    ("get", "/api/v1/flows/"),
    ("post", "/api/v1/flows/"),
    ("get", "/api/v1/machines/"),
    ("post", "/api/v1/machines/"),
    ("post", "/api/v1/expressions/check"),
]


@pytest.mark.parametrize("method, path", DESIGN_ENDPOINTS)
def test_it_answers_401_without_a_token(anonymous, method, path):
    response = getattr(anonymous, method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_it_answers_401_to_a_wrong_token():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/machines/")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_a_bearer_token_is_told_to_use_the_token_scheme(scheme):
    _, token = api_client_create(name="oauth-habits", designer=True, all_flows=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    response = client.get("/api/v1/machines/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "code": "NOT_AUTHENTICATED",
        "message": "Use `Authorization: Token <key>`; the Bearer scheme is not accepted for "
        "API tokens.",
        "details": {"scheme": "Bearer", "expected": "Token"},
    }
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/machines/").status_code == 200


def test_a_bearer_header_changes_nothing_where_no_token_is_needed():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer whatever")
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200


def test_no_token_at_all_keeps_drfs_message(anonymous):
    response = anonymous.get("/api/v1/machines/")
    assert response.status_code == 401
    assert response.json()["message"] == "Authentication credentials were not provided."


@pytest.mark.parametrize("method, path", DESIGN_ENDPOINTS)
def test_a_plain_client_gets_403_on_the_design_api(business, method, path):
    response = getattr(business, method)(path, {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_a_designer_may_use_the_design_api(designer):
    assert designer.get("/api/v1/machines/").status_code == 200


def test_an_admin_session_may_use_the_design_api():
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/v1/machines/").status_code == 200


def test_create_api_client_prints_a_working_token(capsys):
    call_command("create_api_client", "orders-service", "--roles", "1, 2")
    token = capsys.readouterr().out.strip()
    client = ApiClient.objects.get(user__username="orders-service")
    assert Token.objects.get(key=token).user == client.user
    assert client.role_codes == {1, 2} and client.is_designer is False


def test_create_api_client_makes_a_designer_and_keeps_its_token(capsys):
    call_command("create_api_client", "alice", "--designer")
    first = capsys.readouterr().out.strip()
    call_command("create_api_client", "alice", "--designer", "--roles", "3")
    assert capsys.readouterr().out.strip() == first
    assert ApiClient.objects.get(user__username="alice").is_designer is True


def test_create_api_client_refuses_bad_roles():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="comma-separated integers"):
        call_command("create_api_client", "bob", "--roles", "seller")
    assert not ApiClient.objects.exists()


def test_the_openapi_schema_and_docs_are_served(anonymous):
    schema = anonymous.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/machines/{sm_id}/publish" in schema.content
    assert anonymous.get("/api/docs/").status_code == 200


def test_a_token_is_looked_up_once_then_served_from_the_process_cache(business):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    business.get("/api/v1/instances/")
    with CaptureQueriesContext(connection) as queries:
        assert business.get("/api/v1/instances/").status_code == 200
    assert not any("authtoken_token" in q["sql"] for q in queries.captured_queries)


def test_a_deleted_token_stops_working_once_the_cache_forgets_it(business):
    from clients.selectors import forget_tokens

    assert business.get("/api/v1/instances/").status_code == 200
    Token.objects.all().delete()
    forget_tokens()  # what TOKEN_TTL_SECONDS does by itself in every process
    assert business.get("/api/v1/instances/").status_code == 401


@pytest.mark.parametrize("header", ["Token", "Token two words", "Token not-a-real-token"])
def test_every_failed_token_check_counts_toward_the_address_limit(header, settings):
    settings.AUTH_FAILURE_LIMIT = 2
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    answers = [client.get("/api/v1/machines/").status_code for _ in range(3)]
    assert answers == [401, 401, 429]


def test_a_deactivated_clients_token_is_a_failed_check_too(business, settings):
    settings.AUTH_FAILURE_LIMIT = 1
    get_user_model().objects.filter(username="business").update(is_active=False)
    assert [business.get("/api/v1/instances/").status_code for _ in range(2)] == [401, 429]


@pytest.mark.parametrize("key", ["ab\x00cd", "x" * 41, "tok\u00e9n"])
def test_a_token_no_database_could_hold_is_an_invalid_token(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/instances/")
    assert (response.status_code, response.json()["code"]) == (401, "NOT_AUTHENTICATED")
