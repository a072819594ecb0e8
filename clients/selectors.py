"""Who an API token belongs to, looked up once per TOKEN_TTL_SECONDS per process."""

import threading
import time

from rest_framework.authtoken.models import Token

TOKEN_LENGTH = 40  # DRF's tokens: 40 hexadecimal characters
# A token seen lately is trusted for this long in this process without a query: the event hot
# paths (REST and the broker) save a three-table lookup per event. A revoked token works at
# most this much longer.
TOKEN_TTL_SECONDS = 5.0
_MAX_TOKENS = 10_000
_seen: dict[str, tuple[float, tuple]] = {}
_lock = threading.Lock()


def token_shaped(key) -> bool:
    """Whether `key` could be a token at all; anything else never reaches the database."""
    return isinstance(key, str) and 0 < len(key) <= TOKEN_LENGTH and key.isascii() and key.isalnum()


def token_credentials(key) -> tuple | None:
    """(user, token) for an API token, its client loaded; None for no such token. The user
    may be inactive; only active ones are remembered."""
    now = time.monotonic()
    hit = _seen.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    if not token_shaped(key):  # NUL and the like would be a database error
        return None
    token = Token.objects.select_related("user", "user__api_client").filter(key=key).first()
    if token is None:
        return None
    if token.user.is_active:
        with _lock:
            if len(_seen) >= _MAX_TOKENS:
                _seen.clear()
            _seen[key] = (now + TOKEN_TTL_SECONDS, (token.user, token))
    return token.user, token


def token_user(key) -> object | None:
    """The active user behind an API token (with its client loaded), or None."""
    found = token_credentials(key)
    return found[0] if found is not None and found[0].is_active else None


def forget_tokens() -> None:
    """Drop this process's remembered tokens (a client's roles changed in place)."""
    with _lock:
        _seen.clear()
