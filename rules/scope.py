"""What an expression can see: the names the README's Expressions section lists."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    """The default clock of `now()`: an aware datetime in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Scope:
    """The values behind `ctx`, `event`, `state`, `role`, `instance`, `event_count`, `now`."""

    ctx: Mapping[str, Any] = field(default_factory=dict)
    event: str | None = None
    state: str | None = None
    role: int | None = None
    instance: Mapping[str, Any] | None = None  # keys: id, businessKey, createdAt
    event_counts: Mapping[str, int] = field(default_factory=dict)
    clock: Callable[[], datetime] = utc_now


EMPTY_SCOPE = Scope()
