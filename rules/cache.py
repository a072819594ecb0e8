"""The per-process cache of compiled expressions, bounded by the bytes they hold.

A count of entries bounds nothing: 4,096 expressions of 2,000 characters hold about 1.5 GB of
syntax trees, 4,096 guards like `ctx.amount > 0` about 7 MB. Each entry is charged an estimate
of its bytes instead, and the least recently used go first when the total passes the limit.
"""

from __future__ import annotations

import ast
import threading
from collections import OrderedDict
from typing import Any

from rules import limits

# Measured with tracemalloc over expressions of 2,000 characters (Python 3.11): a tree node
# holds 190 bytes (names, attributes) to 430 bytes (string and number constants, with their
# position integers); the source text is held twice (the key, and the constants it spells).
BYTES_PER_NODE = 480
BYTES_PER_CHARACTER = 2
BYTES_PER_ENTRY = 1024  # the Expression, its names and paths, the cache's own bookkeeping


def footprint(source: str, tree: ast.AST) -> int:
    """An upper estimate of the bytes a compiled expression holds."""
    nodes = sum(1 for _ in ast.walk(tree))
    return BYTES_PER_ENTRY + BYTES_PER_CHARACTER * len(source) + BYTES_PER_NODE * nodes


class BoundedCache:
    """Least recently used values by key, at most `limit` estimated bytes (by default
    `limits.MAX_CACHE_BYTES`, read at each put)."""

    def __init__(self, limit: int | None = None) -> None:
        self._limit = limit
        self._entries: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # gunicorn's threads share one cache

    def get(self, key) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key, value: Any, size: int) -> None:
        """Keep `value`, evicting the least recently used until everything fits."""
        limit = limits.MAX_CACHE_BYTES if self._limit is None else self._limit
        if size > limit:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            while self._entries and self._bytes + size > limit:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted
            self._entries[key] = (value, size)
            self._bytes += size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key) -> bool:
        return key in self._entries

    @property
    def bytes(self) -> int:
        """The estimated bytes held now."""
        return self._bytes
