"""Request limits with counters every process shares (one upsert per counted request).

Two limits: requests per client (ClientRateThrottle), and failed token checks per client
address (auth_failure_counted), which answers 429 to further failed attempts only.
"""

import ipaddress
import random
import time

from django.conf import settings
from django.db import connection
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from clients.addresses import client_address
from clients.models import ThrottleCounter

SWEEP_ONE_IN = 1000  # about one counted request in this many deletes the counters of past windows


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
        who = request.user.pk if request.user else self.get_ident(request)
        count, self.window_end = _count(str(who), window)
        return count <= limit

    def get_ident(self, request):
        return client_address(request)

    def wait(self):
        return _wait(self.window_end)


def auth_failure_counted(request) -> None:
    """Count a failed token check from the request's address; past the limit, raise Throttled.

    Only failures are counted and only failures are refused: a valid token from the same
    address never reaches this function, so an attacker can't lock a client out.
    """
    limit, window = settings.AUTH_FAILURE_LIMIT, settings.AUTH_FAILURE_WINDOW
    if not limit:
        return
    who = f"authfail:{_address_block(client_address(request))}"
    # A flood past the limit only reads its row: bad tokens must not become a stream of
    # writes on one hot row, competing with the events' writes.
    window_end = (time.time() // window + 1) * window
    row = ThrottleCounter.objects.filter(key=_key(who, window))
    if (row.values_list("count", flat=True).first() or 0) < limit:
        count, window_end = _count(who, window)
        if count <= limit:
            return
    raise Throttled(
        wait=_wait(window_end), detail="Too many failed authentications from this address."
    )


def _address_block(address: str) -> str:
    """The address itself, or its /64 for IPv6: one host usually holds a whole /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:45]  # not an IP (a unix socket's peer): still one bounded key
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address


def _count(who: str, window: int) -> tuple[int, float]:
    """Add one to who's counter in the current window: (the count, when the window ends)."""
    now = time.time()
    window_end = (now // window + 1) * window
    count = _bump(_key(who, window, now), window_end)
    if random.randrange(SWEEP_ONE_IN) == 0:
        ThrottleCounter.objects.filter(window_end__lt=now).delete()
    return count, window_end


def _key(who: str, window: int, now: float | None = None) -> str:
    return f"{who}:{int((now or time.time()) // window)}:{window}"


def _wait(window_end: float) -> int:
    return max(1, int(window_end - time.time() + 0.999))


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
