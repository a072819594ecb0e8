"""A real Celery worker process (with its beat) for the async tests, on the test database.

The worker uses the broker the tests use (CELERY_BROKER_URL: Redis in CI, the server-less
filesystem transport otherwise) and short retry, lease and sweep times, so failures and
recoveries happen within seconds.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
FAST = {
    "ASYNC_MAX_ATTEMPTS": "3",
    "ASYNC_RETRY_BASE_SECONDS": "0.3",
    "ASYNC_RETRY_MAX_SECONDS": "2",
    "ASYNC_LEASE_SECONDS": "3",
    "SWEEP_SECONDS": "0.5",
    "CALLBACK_TIMEOUT": "2",
    "API_THROTTLE_RATE": "0",
}


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Worker:
    """`celery worker --beat` in its own process group; stop() or kill() it."""

    def __init__(self, env: dict, *, purge: bool = True):
        self.env = env
        self.purge = purge  # drop what earlier tests left in the queue
        self.process = None
        self.log: list[str] = []
        self._schedule = tempfile.mkdtemp(prefix="beat-")

    def start(self, timeout: float = 30) -> "Worker":
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--beat",
            "--concurrency", "2", "--loglevel", "INFO", "--without-gossip",
            "--without-mingle", "--schedule", f"{self._schedule}/beat",
            *(["--purge"] if self.purge else []),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        if not ready.wait(timeout):
            self.kill()
            raise RuntimeError("the worker did not start:\n" + "".join(self.log[-40:]))
        return self

    def _read(self, ready: threading.Event) -> None:
        for line in self.process.stdout:
            self.log.append(line)
            if " ready." in line:
                ready.set()

    def kill(self) -> None:
        """SIGKILL the worker and its children, as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_env(transactional_db):
    return {
        **os.environ,
        **FAST,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CALLBACK_ALLOWED_HOSTS": ",".join(settings.CALLBACK_ALLOWED_HOSTS),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def start_worker(worker_env):
    """Start workers (one or more, e.g. after killing one); all are stopped at teardown."""
    started = []

    def start(**extra_env) -> Worker:
        # Only the first worker of a test purges: later ones must find what it left.
        worker = Worker({**worker_env, **extra_env}, purge=not started).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
        print(f"--- worker log (last 60 lines) ---\n{''.join(worker.log[-60:])}")


@pytest.fixture
def worker(start_worker):
    return start_worker()


def wait_for(predicate, timeout: float = 20, interval: float = 0.1):
    """Poll until predicate() is truthy; its value, or AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
