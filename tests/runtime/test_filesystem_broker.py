"""The embedded broker: a worker polling the folder never reads a message half written."""

import multiprocessing
import os
import subprocess
import sys
from queue import Empty

from kombu import Connection

from config.filesystem_broker import Transport

MESSAGES = 20
# Serialising a list this long takes tens of milliseconds: the stock transport has the empty
# message file in the folder all that time, and the reader below finds it.
BODY = list(range(300_000))


def _channel(folder):
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    connection = Connection("filesystem://", transport=Transport, transport_options=options)
    return connection, connection.default_channel


def _read_all(folder, results):
    """In another process, like a worker: poll until every message arrived or one failed."""
    connection, channel = _channel(folder)
    numbers = []
    while len(numbers) < MESSAGES:
        try:
            numbers.append(channel._get("q")["number"])
        except Empty:
            continue
        except Exception as exc:  # the stock transport's JSONDecodeError, for one
            results.put(repr(exc))
            return
    connection.close()
    results.put(numbers)


def test_a_worker_polling_while_messages_are_written_reads_each_one_whole(tmp_path):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    reader = context.Process(target=_read_all, args=(tmp_path, results))
    reader.start()
    try:
        connection, writer = _channel(tmp_path)
        for number in range(MESSAGES):
            writer._put("q", {"number": number, "body": BODY})
        connection.close()
        outcome = results.get(timeout=60)
    finally:
        reader.join(timeout=10)
        reader.kill()

    assert outcome == list(range(MESSAGES))
    assert list(tmp_path.iterdir()) == []


def test_the_app_uses_it_for_the_embedded_broker(tmp_path):
    # A fresh process with nothing set: the default broker, whatever this run's broker is.
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DATABASE_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", CELERY_QUEUE_DIR=str(tmp_path))
    program = (
        "import django; django.setup()\n"
        "from config.celery import app\n"
        "with app.connection_for_write() as c: print(type(c.transport).__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "config.filesystem_broker"
