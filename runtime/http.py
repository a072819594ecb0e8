"""The one wrapper for outgoing HTTP calls: allow-list, signature, total timeout, no redirects.

Every callback (transition actions, subscribers) goes through `post_json`; nothing else imports
the HTTP client. A call problem of any kind is a `CallbackError` with a short, readable reason.
"""

import base64
import contextvars
import email.utils
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass

import httpcore
import httpx

from machines.callback_urls import address_problem, url_problem

logger = logging.getLogger(__name__)

USER_AGENT = "Statecenter/1"
MAX_ANSWER_BYTES = 1024 * 1024  # read (and drop) at most this much of a 2xx answer's body
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "callback_deadline", default=None
)


class CallbackError(Exception):
    """A callback that could not be made or did not answer 2xx in time."""

    def __init__(
        self,
        reason: str,
        *,
        url: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.status = status
        self.retry_after = retry_after  # seconds the receiver asked us to wait, if it did

    def as_dict(self) -> dict:
        """The error as the API shows it."""
        return {"url": self.url, "status": self.status, "error": self.reason}


@dataclass(frozen=True)
class CallbackResult:
    url: str
    status: int
    elapsed_ms: float

    def as_dict(self) -> dict:
        """The result as the API shows it."""
        return {"url": self.url, "status": self.status}


# Signature ---------------------------------------------------------------------------------


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers for one message; a secret without "whsec_" is used as UTF-8."""
    if secret.startswith("whsec_"):
        encoded = secret.removeprefix("whsec_")
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    else:
        # A raw string is its own key (receivers verify with its UTF-8 bytes), so a plain
        # shared secret works too; the "whsec_" + base64 form of the spec is preferred.
        key = secret.encode()
    if not key:
        raise ValueError("The callback secret is empty.")
    signed = b"%s.%d.%s" % (message_id.encode(), timestamp, body)
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
    }


# The call ----------------------------------------------------------------------------------


def post_json(
    url: str,
    payload: dict,
    *,
    message_id: str | None = None,
    timeout: float | None = None,
    allowed_hosts: Collection[str] | None = None,
    secret: str | None = None,
) -> CallbackResult:
    """POST a signed JSON payload; a 2xx answer within the timeout, or a CallbackError."""
    from django.conf import settings

    timeout = float(settings.CALLBACK_TIMEOUT if timeout is None else timeout)
    if allowed_hosts is None:
        allowed_hosts = settings.CALLBACK_ALLOWED_HOSTS
    problem = url_problem(url, allowed_hosts)
    if problem:
        raise _logged(CallbackError(problem, url=url))
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **sign(
            secret=settings.CALLBACK_SECRET if secret is None else secret,
            message_id=message_id or f"msg_{uuid.uuid4().hex}",
            timestamp=int(time.time()),
            body=body,
        ),
    }
    started = time.monotonic()
    token = _deadline.set(started + timeout)
    try:
        status = _send(url, body, headers, timeout)
    except CallbackError as exc:  # raised by _send or, from inside httpx, by _GuardedBackend
        exc.url = url
        _logged(exc)
        raise
    except httpx.HTTPError as exc:
        raise _logged(CallbackError(_reason(exc, timeout), url=url)) from exc
    finally:
        _deadline.reset(token)
    elapsed_ms = (time.monotonic() - started) * 1000
    logger.info("Callback %s answered HTTP %s in %.0f ms", url, status, elapsed_ms)
    return CallbackResult(url=url, status=status, elapsed_ms=elapsed_ms)


def _send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """Make the request and read the answer; the status of a 2xx, else CallbackError."""
    with _client().stream(
        "POST", url, content=body, headers=headers, timeout=timeout, follow_redirects=False
    ) as response:
        status = response.status_code
        if 300 <= status < 400:
            raise CallbackError(f"redirects are not followed (HTTP {status})", status=status)
        if not 200 <= status < 300:
            retry_after = _retry_after(response.headers.get("retry-after"))
            raise CallbackError(f"HTTP {status}", status=status, retry_after=retry_after)
        # The body counts against the deadline too: a receiver that trickles it is cut off.
        received = 0
        for chunk in response.iter_raw():
            received += len(chunk)
            if received > MAX_ANSWER_BYTES:
                break
    return status


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _logged(error: CallbackError) -> CallbackError:
    """The error, once logged."""
    logger.warning("Callback %s failed: %s", error.url, error.reason)
    return error


def _reason(exc: httpx.HTTPError, timeout: float) -> str:
    """A short, readable reason for a transport error."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout} s"
    cause = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    kind = "could not connect" if isinstance(exc, httpx.ConnectError) else "request failed"
    return f"{kind}: {str(exc) or type(exc).__name__}"[:200]


# The client --------------------------------------------------------------------------------

_client_lock = threading.Lock()
_shared: tuple[int, httpx.Client] | None = None


def _client() -> httpx.Client:
    """The process's pooled client, made again after a fork so no socket is shared."""
    global _shared
    with _client_lock:
        if _shared is None or _shared[0] != os.getpid():
            _shared = (os.getpid(), _new_client())
        return _shared[1]


def _new_client() -> httpx.Client:
    """A client that never follows redirects, ignores proxy variables and guards its sockets."""
    transport = httpx.HTTPTransport()
    # httpx has neither a total timeout nor a hook at connect time, so its connection pool
    # gets a network backend that vets the addresses it connects to and holds every socket
    # operation to the call's deadline. `_pool` is private: httpx is pinned below 1.0.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=_GuardedBackend()
    )
    return httpx.Client(transport=transport, follow_redirects=False, trust_env=False)


def _budget(timeout: float | None, error: type[Exception]) -> float | None:
    """A socket operation's timeout: httpx's, cut to what is left of the call's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


def _vetted_addresses(host: str, port: int) -> list[str]:
    """The host's addresses, refused if any one of them is link-local, metadata and so on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise CallbackError(f"cannot resolve host {host}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        problem = address_problem(ipaddress.ip_address(address))
        if problem:
            raise CallbackError(f"host {host} resolves to a refused address: {problem}")
    return addresses


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves once, refuses bad addresses, connects to a vetted one (no DNS rebinding)."""

    def __init__(self):
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        error = None
        for address in _vetted_addresses(host, port):
            budget = _budget(timeout, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(
                    address, port, budget, local_address, socket_options
                )
                return _DeadlineStream(stream)
            except httpcore.ConnectError as exc:
                error = exc  # try the host's next address, as socket.create_connection does
        raise error


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the call's deadline."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes, timeout=None):
        return self._stream.read(max_bytes, _budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer, timeout=None):
        self._stream.write(buffer, _budget(timeout, httpcore.WriteTimeout))

    def close(self):
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        budget = _budget(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, budget))

    def get_extra_info(self, info):
        return self._stream.get_extra_info(info)
