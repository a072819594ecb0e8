"""Shared fixtures: API clients of each kind, the example machines, PostgreSQL-only tests.

The API clients check every answer against the OpenAPI schema (tests/schema_check.py).

Tests marked `postgres` need PostgreSQL (set DATABASE_URL=postgres://...; platform/postgres.sh
starts a throwaway one). Without it they skip with the reason, except under CI=true, where a
missing PostgreSQL is a failure.
"""

import copy
import json
import os
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["tests.callback_server", "tests.worker"]


def pytest_configure(config):
    """A queue folder of this run's own, so test runs side by side never share messages."""
    from django.conf import settings

    from config.celery import app

    if settings.CELERY_BROKER_URL == "filesystem://":
        queue = tempfile.mkdtemp(prefix="statecenter-queue-")
        os.environ["CELERY_QUEUE_DIR"] = queue  # inherited by the worker processes
        app.conf.broker_transport_options = {
            **app.conf.broker_transport_options,
            "data_folder_in": queue,
            "data_folder_out": queue,
        }


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_NAMES = ("design-example", "audit", "server-lifecycle")


def pytest_runtest_setup(item):
    if item.get_closest_marker("redis"):
        _require_redis()
    if not item.get_closest_marker("postgres"):
        return
    from django.db import connection

    if connection.vendor != "postgresql":
        reason = "needs PostgreSQL: set DATABASE_URL=postgres://... (see README)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires PostgreSQL for this test; {reason}")
        pytest.skip(reason)


def _require_redis():
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        reason = "needs Redis: set CELERY_BROKER_URL=redis://... (platform/redis.sh start)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires Redis for this test; {reason}")
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    """Each test authenticates against its own database, not a token another test cached."""
    from clients.selectors import forget_tokens

    forget_tokens()


def example_seed(name: str) -> dict:
    """A fresh copy of an example machine in the seed format."""
    return json.loads((EXAMPLES / f"{name}.json").read_text())


@pytest.fixture
def seed():
    return lambda name="design-example": copy.deepcopy(example_seed(name))


def client_with_token(name: str, *, roles: str = "", **grants):
    """An API client NAME with its token set; `grants`: api_client_create's flows, all_flows,
    designer, operator. The fixtures below grant every flow, as the tests predate grants."""
    from clients.services import api_client_create
    from tests.schema_check import SchemaCheckedClient

    _, token = api_client_create(name=name, roles=roles, **grants)
    client = SchemaCheckedClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def designer(db):
    return client_with_token("designer", roles="1,2", designer=True, all_flows=True)


@pytest.fixture
def business(db):
    return client_with_token("business", roles="1", all_flows=True)


@pytest.fixture
def operator(db):
    return client_with_token("operator", roles="1", operator=True, all_flows=True)


@pytest.fixture
def anonymous(db):
    from tests.schema_check import SchemaCheckedClient

    return SchemaCheckedClient()


@pytest.fixture
def flow(db):
    from machines.services import flow_create

    return flow_create(code="design-example", name="Design example")


def without_ids(seed: dict) -> dict:
    """A seed document with the ids and numbers the platform assigns blanked out."""
    seed = copy.deepcopy(seed)
    seed["smInfo"].update(smId=None, flowId=None, version=None, smStatus=1)
    for state in seed["smStates"]:
        state.update(stateId=None, smId=None)
    for transition in seed["smTransitions"]:
        transition.update(transitionId=None, smId=None)
    return seed
