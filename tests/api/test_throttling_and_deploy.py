"""Clients are throttled with shared counters; the production settings pass check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    from clients.models import ThrottleCounter

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
        "SECRET_KEY": "k" * 20 + "-production-secret-of-fifty-plus-characters-xyz",
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
