"""The admin login locks a username out from an address after too many failures (django-axes)."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db
PASSWORD = "right-password"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXIES = []


@pytest.fixture
def boss(db):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)


def _login(password, username="boss", address="127.0.0.1", **headers):
    client = Client(REMOTE_ADDR=address, **headers)
    data = {"username": username, "password": password}
    return client.post("/admin/login/?next=/admin/", data)


def _logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_the_failure_limit_locks_the_username_out_with_429_and_retry_after(boss, settings):
    assert [_login("wrong").status_code for _ in range(2)] == [200, 200]  # the form, again
    locked = _login("wrong")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds() == 900
    assert b"Too many failed logins" in locked.content and b"15 minutes" in locked.content


def test_the_right_password_is_refused_while_locked_out(boss):
    for _ in range(3):
        _login("wrong")
    response = _login(PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in response.client.session


def test_the_lockout_holds_one_username_from_one_address(boss):
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    for _ in range(3):
        _login("wrong")
    assert _logged_in(_login(PASSWORD, address="192.0.2.10"))  # its owner, elsewhere
    assert _logged_in(_login(PASSWORD, username="ops"))  # another user, same address


def test_attempts_are_kept_in_the_database_for_every_process(boss):
    _login("wrong", address="192.0.2.20")
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "boss",
        "192.0.2.20",
        1,
    )


def test_axes_reset_unlocks_everyone(boss):
    for _ in range(3):
        _login("wrong")
    call_command("axes_reset")
    assert _logged_in(_login(PASSWORD))


def test_a_good_login_clears_the_failures_before_it(boss):
    for _ in range(2):
        _login("wrong")
    assert _logged_in(_login(PASSWORD))
    assert [_login("wrong").status_code for _ in range(2)] == [200, 200]


def test_behind_a_trusted_proxy_the_forwarded_address_is_locked_out(boss, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    for _ in range(3):
        _login("wrong", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert _login(PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    assert _logged_in(_login(PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.10"))
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


def test_the_test_clients_login_and_force_login_keep_working(boss):
    client = Client()
    assert client.login(username="boss", password=PASSWORD) is True
    assert client.get("/admin/").status_code == 200
    other = Client()
    other.force_login(boss)
    assert other.get("/admin/").status_code == 200
