"""Handing work to the Celery workers, after the transaction that created it commits.

A lost message loses nothing: the work is already in the database and the sweeper
(runtime/sweep.py) enqueues anything due that nobody picked up.
"""

import logging

from django.db import transaction

from config.celery import app

logger = logging.getLogger(__name__)

PROCESS_INSTANCE = "runtime.process_instance"
SEND_DELIVERIES = "runtime.send_deliveries"


def enqueue_instance(instance_id: int, *, at=None) -> None:
    """Ask a worker to apply the instance's pending async events (at `at`, or now)."""
    transaction.on_commit(lambda: _send(PROCESS_INSTANCE, [instance_id], at))


def enqueue_stream(stream: str, *, at=None) -> None:
    """Ask a worker to send a delivery stream's pending callbacks (at `at`, or now)."""
    transaction.on_commit(lambda: _send(SEND_DELIVERIES, [stream], at))


def _send(task: str, args: list, at) -> None:
    try:
        app.send_task(task, args=args, eta=at)
    except Exception:  # the broker is down: the sweeper will enqueue it once it is back
        logger.warning("could not enqueue %s%s; the sweeper will retry", task, args, exc_info=True)
