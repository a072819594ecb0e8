"""The embedded broker: a worker polling the folder never reads a message half written."""

import multiprocessing
from queue import Empty

import pytest
from django.conf import settings
from kombu import Connection

from config.celery import app
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


@pytest.mark.skipif(
    settings.CELERY_BROKER_URL != "filesystem://", reason="the broker is not the filesystem one"
)
def test_the_app_uses_it_for_the_embedded_broker():
    with app.connection_for_write() as connection:
        assert type(connection.transport) is Transport
