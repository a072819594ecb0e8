"""/healthz and /readyz: what they answer, how fast, and for which failing part.

The failing parts are real: a PostgreSQL or Redis port nobody listens on, a socket that
accepts and never answers (the time bound), and a migration unapplied on the test database.
"""

import json
import logging
import socket
import time

import pytest
from django.core.management import call_command
from django.db import connections

from operations.readiness import TIMEOUT


@pytest.fixture
def closed_port():
    """A local port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port():
    """A local port that accepts connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def _not_ready(response, *parts):
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert sorted(body["details"]["failing"]) == sorted(parts)
    assert sorted(body["details"]["problems"]) == sorted(parts)
    assert response["Retry-After"]
    return body


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries, db):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert client.get("/healthz/").status_code == 200


def test_probes_answer_any_host_over_plain_http_even_behind_https(client, settings, db):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["statecenter.example.com"]
    for path in ("/healthz", "/readyz"):
        response = client.get(path, HTTP_HOST="10.1.2.3:8000")
        assert response.status_code == 200, (path, response.status_code)
    assert client.get("/api/v1/machines/", HTTP_HOST="10.1.2.3:8000").status_code == 400


def test_probes_take_only_get_and_head(client, db):
    response = client.post("/readyz")
    assert response.status_code == 405 and response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert client.head("/healthz").status_code == 200


def test_probes_are_not_in_the_api_schema(anonymous):
    schema = anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = json.loads(schema.content)["paths"]
    assert not [p for p in paths if p.strip("/") in ("healthz", "readyz", "metrics")]


@pytest.mark.django_db
def test_readyz_is_200_when_database_migrations_and_broker_are_fine(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_is_200_on_postgresql_and_redis(client):
    assert client.get("/readyz").status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db
def test_readyz_names_the_database_when_postgresql_refuses(client, closed_port, monkeypatch):
    monkeypatch.setitem(connections["default"].settings_dict, "PORT", closed_port)
    body = _not_ready(client.get("/readyz"), "database")
    assert "refused" in body["details"]["problems"]["database"].lower()


@pytest.mark.postgres
@pytest.mark.django_db
def test_readyz_gives_up_on_a_silent_database_within_the_timeout(client, silent_port, monkeypatch):
    monkeypatch.setitem(connections["default"].settings_dict, "PORT", silent_port)
    started = time.monotonic()
    _not_ready(client.get("/readyz"), "database")
    assert time.monotonic() - started < TIMEOUT + 1.5


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_names_the_broker_when_redis_refuses(client, settings, closed_port):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"
    body = _not_ready(client.get("/readyz"), "broker")
    assert "refused" in body["details"]["problems"]["broker"].lower()


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_gives_up_on_a_silent_broker_within_the_timeout(client, settings, silent_port):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent_port}/0"
    started = time.monotonic()
    _not_ready(client.get("/readyz"), "broker")
    assert time.monotonic() - started < TIMEOUT + 1.5


@pytest.mark.postgres
@pytest.mark.django_db
def test_readyz_names_both_when_database_and_broker_are_down(
    client, settings, closed_port, monkeypatch
):
    monkeypatch.setitem(connections["default"].settings_dict, "PORT", closed_port)
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"
    _not_ready(client.get("/readyz"), "database", "broker")


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_while_a_migration_is_pending(client):
    call_command("migrate", "operations", "zero", verbosity=0)
    try:
        body = _not_ready(client.get("/readyz"), "migrations")
        assert "operations.0001_event_failed_idx" in body["details"]["problems"]["migrations"]
    finally:
        call_command("migrate", "operations", verbosity=0)
    assert client.get("/readyz").status_code == 200


def _break_database(monkeypatch, port):
    """Point the probe at a database that is not there (PostgreSQL: a closed port)."""
    database = connections["default"].settings_dict
    if connections["default"].vendor == "postgresql":
        monkeypatch.setitem(database, "PORT", port)
    else:
        monkeypatch.setitem(database, "NAME", "/nonexistent/folder/statecenter.sqlite3")


@pytest.mark.django_db
def test_readyz_logs_when_readiness_changes_not_on_every_probe(client, closed_port, caplog):
    client.get("/readyz")
    caplog.clear()
    with caplog.at_level(logging.INFO), pytest.MonkeyPatch.context() as monkeypatch:
        _break_database(monkeypatch, closed_port)
        client.get("/readyz")
        client.get("/readyz")
        monkeypatch.undo()
        client.get("/readyz")
        client.get("/readyz")
    lines = [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records]
    assert lines == [("WARNING", "not ready"), ("INFO", "ready again")]
