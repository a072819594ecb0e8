"""Per-client request limits with counters every process shares (one upsert per request)."""

import random
import time

from django.conf import settings
from django.db import connection
from rest_framework.throttling import BaseThrottle

from clients.models import ThrottleCounter

SWEEP_ONE_IN = 1000  # about one request in this many deletes the counters of past windows


class ClientRateThrottle(BaseThrottle):
    """A fixed window per client (or per address when anonymous): API_THROTTLE_RATE.

    The counter is one row bumped by a single INSERT ... ON CONFLICT ... RETURNING, atomic on
    PostgreSQL and SQLite alike; DRF's own throttles rewrite a list of timestamps in the cache
    on every request, which the event hot path can't afford.
    """

    def allow_request(self, request, view):
        limit, window = _parse_rate(settings.API_THROTTLE_RATE)
        if not limit:
            return True
        now = time.time()
        self.window_end = (now // window + 1) * window
        who = request.user.pk if request.user else self.get_ident(request)
        count = _bump(f"{who}:{int(now // window)}:{window}", self.window_end)
        if random.randrange(SWEEP_ONE_IN) == 0:
            ThrottleCounter.objects.filter(window_end__lt=now).delete()
        return count <= limit

    def wait(self):
        return max(1, int(self.window_end - time.time() + 0.999))


def _bump(key: str, window_end: float) -> int:
    table = ThrottleCounter._meta.db_table
    with connection.cursor() as cursor:  # one statement: atomic on its own
        cursor.execute(
            f"INSERT INTO {table} (key, count, window_end) VALUES (%s, 1, %s) "
            f"ON CONFLICT (key) DO UPDATE SET count = {table}.count + 1 RETURNING count",
            [key, window_end],
        )
        return cursor.fetchone()[0]


def _parse_rate(rate: str | None) -> tuple[int, int]:
    """'600/second', '100/minute', '5000/hour' or '0' (off) -> (requests, window seconds)."""
    if not rate or rate in ("0", "off", "none"):
        return 0, 1
    count, _, unit = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit.strip()[:1].lower() or "s"]
    return int(count), seconds
