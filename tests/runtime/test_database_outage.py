"""A PostgreSQL restart under load: 503 with Retry-After, never a traceback, then service again.

Requests go through the real WSGI handler (config.wsgi.application), one thread per client as
a threaded server runs them, because Django's test client skips what matters here: at the
start and end of each request a WSGI server's Django drops a connection that failed
(close_old_connections), so a persistent connection (CONN_MAX_AGE) broken by the restart is
replaced without restarting anything. The server is the throwaway one of
platform/postgres.sh, restarted with `platform/postgres.sh restart` (pg_ctl -m fast).
"""

import io
import json
import os
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.db import connection, connections

from clients.services import api_client_create
from config.wsgi import application
from runtime import services
from runtime.models import Instance
from tests.conftest import example_seed
from tests.runtime.helpers import online

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 4
RESUME_WITHIN = 30  # seconds after the restart for every client to be served again


def _restartable() -> tuple[dict, str | None]:
    """The environment for platform/postgres.sh, or why this server cannot be restarted."""
    db = settings.DATABASES["default"]
    host, port = db.get("HOST"), str(db.get("PORT") or 5432)
    if host not in ("127.0.0.1", "localhost"):
        return {}, f"DATABASE_URL points at {host}:{port}, not a local throwaway server"
    data = Path(os.environ.get("PGDATA_TEST", f"/tmp/statecenter-pg-{port}"))
    if not (data / "postmaster.pid").exists():
        return {}, f"no running server of platform/postgres.sh in {data}"
    return {**os.environ, "PGPORT_TEST": port, "PGDATA_TEST": str(data)}, None


@pytest.fixture
def restartable_server():
    env, reason = _restartable()
    if reason:
        reason = f"needs a restartable local PostgreSQL (platform/postgres.sh start): {reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        print(reason)
        pytest.skip(reason)
    yield env
    connection.close()  # this thread's connection died in the restart; the teardown needs one


def _call(method: str, path: str, token: str, body: dict | None = None):
    """One request through the WSGI app, closed as a WSGI server closes it."""
    raw = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "HTTP_AUTHORIZATION": f"Token {token}",
        "HTTP_HOST": "localhost",
        "wsgi.input": io.BytesIO(raw),
    }
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=int(status[:3]), headers=dict(headers))

    result = application(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        result.close()  # request_finished: Django drops a connection that failed
    return answer["status"], answer["headers"], content


def _client_loop(token: str, instance_id: int, stop: threading.Event, log: list) -> None:
    """Fire the E11 self transition and read the instance back, until told to stop."""
    try:
        while not stop.is_set():
            for method, path, body in (
                ("POST", f"/api/v1/instances/{instance_id}/events/", {"event": "E11"}),
                ("GET", f"/api/v1/instances/{instance_id}/", None),
            ):
                status, headers, content = _call(method, path, token, body)
                log.append((time.monotonic(), method, status, headers, content))
    except BaseException as exc:  # a traceback escaping the handler is a failure too
        log.append((time.monotonic(), "CRASH", 0, {}, repr(exc).encode()))
    finally:
        connections.close_all()


def _server_started_at():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        return cursor.fetchone()[0]


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _successes(log: list, since: float = 0) -> int:
    return sum(1 for at, _, status, _, _ in log if status == 200 and at > since)


def test_a_postgresql_restart_under_load_answers_503_and_service_resumes(restartable_server):
    online(example_seed("design-example"))
    clients = []
    for index in range(CLIENTS):
        instance = services.instance_create(flow_code="design-example", business_key=f"k{index}")
        services.instance_event_fire(instance_id=instance.pk, event="E1")  # to S1, where E11 is
        _, token = api_client_create(name=f"outage-{index}", roles="1", all_flows=True)
        clients.append((token, instance.pk, []))
    started_before = _server_started_at()
    connection.close()  # the main thread holds no connection through the restart

    stop = threading.Event()
    threads = [
        threading.Thread(target=_client_loop, args=(token, pk, stop, log))
        for token, pk, log in clients
    ]
    for thread in threads:
        thread.start()
    try:
        assert _wait_for(lambda: all(_successes(log) >= 5 for *_, log in clients), 20)
        subprocess.run(
            ["bash", "platform/postgres.sh", "restart"],
            cwd=ROOT,
            env=restartable_server,
            check=True,
            timeout=60,
        )
        restarted = time.monotonic()
        resumed = _wait_for(
            lambda: all(_successes(log, restarted) >= 5 for *_, log in clients), RESUME_WITHIN
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert _server_started_at() > started_before, "the server was not restarted"
    answers = [entry for *_, log in clients for entry in log]
    print("answers:", Counter((method, status) for _, method, status, _, _ in answers))
    for _, method, status, headers, content in answers:
        assert status in (200, 503), (method, status, content[:500])
        if status == 503:
            assert int(headers["Retry-After"]) > 0
            assert json.loads(content) == {
                "code": "SERVICE_UNAVAILABLE",
                "message": json.loads(content)["message"],
                "details": {},
            }
    assert resumed, f"not every client was served again within {RESUME_WITHIN}s of the restart"
    for _, instance_id, log in clients:
        _assert_history_matches(instance_id, log)


def _assert_history_matches(instance_id: int, log: list) -> None:
    """Every answered event is in the history; a 503 may or may not have committed."""
    fired = Counter(status for _, method, status, _, _ in log if method == "POST")
    hops = Instance.objects.get(pk=instance_id).history.filter(event="E11").count()
    assert fired[200] <= hops <= fired[200] + fired[503], (fired, hops)


def test_a_worker_keeps_its_connection_and_recovers_it_after_a_restart(restartable_server, worker):
    """Workers keep their database connection between tasks (CELERY_DB_REUSE_MAX); one
    broken by a restart is replaced, and the work waits in the database meanwhile."""
    from runtime.async_events import event_accept
    from runtime.models import EventRecord
    from tests.worker import wait_for

    online(example_seed("design-example"))
    instance = services.instance_create(flow_code="design-example", business_key="w-1")
    first = event_accept(instance_id=instance.pk, event="E1")
    wait_for(lambda: EventRecord.objects.get(pk=first.pk).status == "done", timeout=30)
    before = _server_started_at()
    subprocess.run(
        ["bash", "platform/postgres.sh", "restart"], cwd=ROOT, env=restartable_server, check=True
    )
    connection.close()  # the test's own connection died in the restart too
    assert _server_started_at() > before
    second = event_accept(instance_id=instance.pk, event="E11")
    wait_for(lambda: EventRecord.objects.get(pk=second.pk).status == "done", timeout=30)
    assert Instance.objects.get(pk=instance.pk).state == "S1"
