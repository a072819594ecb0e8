"""Clients and failed authentications are throttled with shared counters, by the client
address; the production settings pass check --deploy."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from clients.addresses import client_address
from clients.models import ThrottleCounter
from clients.throttles import ClientRateThrottle

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_a_client_over_its_rate_gets_429_with_retry_after(business, designer, settings):
    settings.API_THROTTLE_RATE = "3/minute"
    answers = [business.get("/api/v1/instances/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    response = business.get("/api/v1/instances/")
    assert response.json()["code"] == "THROTTLED"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert designer.get("/api/v1/instances/").status_code == 200  # its own counter


def test_the_throttle_counts_in_one_shared_row_per_client_and_window(business, settings):
    settings.API_THROTTLE_RATE = "100/hour"
    business.get("/api/v1/instances/")
    business.get("/api/v1/instances/")
    assert list(ThrottleCounter.objects.values_list("count", flat=True)) == [2]


def test_a_rate_of_zero_turns_throttling_off(business, settings):
    settings.API_THROTTLE_RATE = "0"
    assert {business.get("/api/v1/instances/").status_code for _ in range(5)} == {200}


def test_check_deploy_is_clean_with_production_settings():
    env = {
        **os.environ,
        "DEBUG": "false",
        "HTTPS": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CALLBACK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "ENV_FILE": os.devnull,  # only what this test sets
        "ALLOWED_HOSTS": "statecenter.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _wrong_token(address="127.0.0.1", **headers):
    client = APIClient(REMOTE_ADDR=address, **headers)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    return client.get("/api/v1/instances/")


def test_failed_token_checks_past_the_limit_get_429_throttled_with_retry_after(settings):
    settings.AUTH_FAILURE_LIMIT, settings.AUTH_FAILURE_WINDOW = 3, 300
    assert [_wrong_token().status_code for _ in range(3)] == [401, 401, 401]
    response = _wrong_token()
    assert response.status_code == 429
    assert response.json()["code"] == "THROTTLED"
    assert "failed authentications" in response.json()["message"]
    assert 1 <= int(response["Retry-After"]) <= 300


def test_a_valid_token_is_never_refused_for_failures_from_its_address(business, settings):
    settings.AUTH_FAILURE_LIMIT = 2
    assert {_wrong_token().status_code for _ in range(5)} >= {429}
    assert business.get("/api/v1/instances/").status_code == 200  # same address, 127.0.0.1
    assert _wrong_token().status_code == 429  # and its success unlocked nothing


def test_failed_token_checks_are_counted_per_address(settings):
    settings.AUTH_FAILURE_LIMIT = 2
    assert [_wrong_token("203.0.113.5").status_code for _ in range(3)] == [401, 401, 429]
    assert _wrong_token("203.0.113.6").status_code == 401
    # one IPv6 host usually holds a whole /64: its neighbours share the counter
    assert [_wrong_token(f"2001:db8::{n}").status_code for n in range(3)] == [401, 401, 429]


def test_failures_from_every_process_add_up_in_one_shared_row(settings):
    settings.AUTH_FAILURE_LIMIT = 10
    for _ in range(3):
        _wrong_token("198.51.100.7")
    counters = ThrottleCounter.objects.filter(key__startswith="authfail:198.51.100.7:")
    assert list(counters.values_list("count", flat=True)) == [3]


def test_failures_past_the_limit_only_read_the_counter(settings):
    settings.AUTH_FAILURE_LIMIT = 2
    answers = [_wrong_token("198.51.100.8").status_code for _ in range(6)]
    assert answers == [401, 401, 429, 429, 429, 429]
    counters = ThrottleCounter.objects.filter(key__startswith="authfail:198.51.100.8:")
    assert list(counters.values_list("count", flat=True)) == [2]


def test_requests_without_a_token_are_not_counted_as_failures(anonymous, settings):
    settings.AUTH_FAILURE_LIMIT = 1
    assert {anonymous.get("/api/v1/instances/").status_code for _ in range(4)} == {401}
    assert not ThrottleCounter.objects.exists()


def test_an_auth_failure_limit_of_zero_turns_the_counting_off(settings):
    settings.AUTH_FAILURE_LIMIT = 0
    assert {_wrong_token().status_code for _ in range(5)} == {401}


def test_a_forwarded_for_header_from_an_untrusted_socket_changes_nothing(settings):
    settings.AUTH_FAILURE_LIMIT, settings.TRUSTED_PROXIES = 2, []
    answers = [_wrong_token(HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code for n in range(3)]
    assert answers == [401, 401, 429]  # all from 127.0.0.1, whatever the header claims


def test_behind_a_trusted_proxy_failures_count_per_forwarded_address(settings):
    settings.AUTH_FAILURE_LIMIT, settings.TRUSTED_PROXIES = 1, ["127.0.0.1"]
    first = [_wrong_token(HTTP_X_FORWARDED_FOR="192.0.2.1").status_code for _ in range(2)]
    assert first == [401, 429]
    assert _wrong_token(HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 401


def _request(remote="10.0.0.1", forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_the_client_address_is_the_sockets_without_trusted_proxies(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(_request("10.0.0.1", "203.0.113.9")) == "10.0.0.1"


def test_a_trusted_proxy_network_passes_on_the_forwarded_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(_request("10.0.0.1", "203.0.113.9, 10.0.0.2")) == "203.0.113.9"
    assert client_address(_request("192.0.2.1", "203.0.113.9")) == "192.0.2.1"


def test_a_client_cannot_choose_its_address_by_writing_the_header_itself(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    # the proxy appends the address it saw; what stands left of it came from the client
    assert client_address(_request("10.0.0.1", "1.1.1.1, 203.0.113.9")) == "203.0.113.9"
    assert client_address(_request("10.0.0.1", "203.0.113.9, not-an-ip")) == "10.0.0.1"


def test_ipv6_addresses_and_ipv4_mapped_spellings_are_handled(settings):
    settings.TRUSTED_PROXIES = ["::1"]
    assert client_address(_request("::1", "[2001:db8::5]")) == "2001:db8::5"
    assert client_address(_request("::ffff:192.0.2.8")) == "192.0.2.8"


def test_the_request_throttle_knows_an_anonymous_client_by_the_same_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = _request("10.0.0.1", "203.0.113.9")
    assert ClientRateThrottle().get_ident(request) == "203.0.113.9"
