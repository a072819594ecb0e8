"""Handing work to the Celery workers, after the transaction that created it commits.

A lost message loses nothing: the work is already in the database and the sweeper
(runtime/sweep.py) wakes the workers for anything due that nobody picked up.

Async events and deliveries share their wake-ups: the database is the queue of record, and
a `runtime.process_ready` (or `runtime.send_ready`) message only says "there is work"; the
worker that takes it applies every ready event (sends every due delivery) it finds, in
batches. So a process sends at most one such message of each kind per WAKE_INTERVAL, from a
thread of its own: the request that accepted an event never waits for the broker, and a
burst of accepts costs one broker round trip, not one each.
"""

import logging
import os
import threading
import time

from django.db import transaction

from config.celery import app

logger = logging.getLogger(__name__)

PROCESS_READY = "runtime.process_ready"
SEND_READY = "runtime.send_ready"
WAKE_INTERVAL = 0.02  # seconds: the most an accepted event waits for its wake-up to leave


def wake_workers(*, at=None) -> None:
    """Once the current transaction commits, have a worker apply the ready async events.

    Without `at` the wake-up is shared with the others of this process (see WakeUps);
    with `at` (a retry's due time) it is its own message, delivered then.
    """
    _wake(_event_wake_ups, at)


def wake_senders(*, at=None) -> None:
    """Once the current transaction commits, have a worker send the due deliveries (at `at`,
    or now, shared as wake_workers' are)."""
    _wake(_delivery_wake_ups, at)


def _wake(wake_ups: "WakeUps", at) -> None:
    if at is None:
        transaction.on_commit(wake_ups.ring)
    else:
        transaction.on_commit(lambda: _send(wake_ups.task, [], at))


class WakeUps:
    """One sender thread per process: a ring sets a flag; the thread clears it, sends one
    message and sleeps WAKE_INTERVAL. The flag is cleared before the message goes, so every
    event committed before a ring is covered by a message sent after its commit.
    """

    def __init__(self, task: str):
        self.task = task
        self._pid = None
        self._lock = threading.Lock()
        self._rung = threading.Event()

    def ring(self) -> None:
        if self._pid != os.getpid():  # first use, or a forked child (threads do not fork)
            self._start()
        self._rung.set()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._rung = threading.Event()
            thread = threading.Thread(target=self._run, args=(self._rung,), daemon=True)
            thread.name = f"statecenter-wake-ups-{self.task}"
            thread.start()
            self._pid = os.getpid()

    def _run(self, rung: threading.Event) -> None:
        while True:
            rung.wait()
            rung.clear()
            _send(self.task, [], None)
            time.sleep(WAKE_INTERVAL)


_event_wake_ups = WakeUps(PROCESS_READY)
_delivery_wake_ups = WakeUps(SEND_READY)


def _send(task: str, args: list, at) -> None:
    try:
        app.send_task(task, args=args, eta=at)
    except Exception:  # the broker is down: the sweeper will enqueue it once it is back
        logger.warning("could not enqueue %s%s; the sweeper will retry", task, args, exc_info=True)
