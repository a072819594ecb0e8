"""Read-only views of the caller's data, which remember their path for error messages.

A view never copies: it wraps the caller's dict or list and wraps each value on the way out.
It has no mutating method at all, so an expression cannot change what it reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from rules.errors import MissingKey

_SCALARS = frozenset({str, int, float, bool, type(None)})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _View:
    __slots__ = ("_data", "_parent", "_key")

    def __init__(self, data: Any, parent: _View | None, key: Any):
        self._data = data
        self._parent = parent
        self._key = key  # the root's key is its name: "ctx", "instance"

    def path(self, key: Any = None, *, child: bool = False) -> str:
        """The dotted path of this view, or of one of its children."""
        parts = [key] if child else []
        view: _View | None = self
        while view is not None:
            parts.append(view._key)
            view = view._parent
        root, *rest = reversed(parts)
        return str(root) + "".join(_step(part) for part in rest)

    def __repr__(self) -> str:
        return repr(self._data)

    def __eq__(self, other: object) -> bool:
        return self._data == unwrap(other)

    def __ne__(self, other: object) -> bool:
        return self._data != unwrap(other)

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self._data)


def _step(key: Any) -> str:
    if isinstance(key, str) and _IDENTIFIER.match(key):
        return f".{key}"
    return f"[{key!r}]"


class ReadOnlyDict(_View):
    """A dict seen through an expression: `view.key`, `view['key']`, get/keys/values/items."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        try:
            value = self._data[key]
        except KeyError:
            raise MissingKey(self.path(key, child=True)) from None
        return value if type(value) in _SCALARS else wrap(value, self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            value = self._data[key]
        except KeyError:
            return default
        return wrap(value, self, key)

    def keys(self) -> list[Any]:
        return list(self._data)

    def values(self) -> list[Any]:
        return [wrap(value, self, key) for key, value in self._data.items()]

    def items(self) -> list[tuple[Any, Any]]:
        return [(key, wrap(value, self, key)) for key, value in self._data.items()]


class ReadOnlyList(_View):
    """A list or tuple seen through an expression: indexing, slicing, iteration, count/index."""

    __slots__ = ()

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            positions = range(len(self._data))[index]
            return [wrap(self._data[i], self, i) for i in positions]
        try:
            value = self._data[index]
        except IndexError:
            raise MissingKey(self.path(index, child=True)) from None
        if index < 0:
            index += len(self._data)
        return wrap(value, self, index)

    def __iter__(self) -> Iterator[Any]:
        for index, value in enumerate(self._data):
            yield value if type(value) in _SCALARS else wrap(value, self, index)

    def __contains__(self, item: object) -> bool:
        return unwrap(item) in self._data

    def __add__(self, other: Any) -> list[Any]:
        if not isinstance(other, list | tuple | ReadOnlyList):
            return NotImplemented
        return list(self) + list(other)

    def __radd__(self, other: Any) -> list[Any]:
        if not isinstance(other, list | tuple):
            return NotImplemented
        return list(other) + list(self)

    def count(self, item: Any) -> int:
        return self._data.count(unwrap(item))

    def index(self, item: Any, *bounds: int) -> int:
        return self._data.index(unwrap(item), *bounds)


def wrap(value: Any, parent: _View | None, key: Any) -> Any:
    """Wrap a dict or list in its read-only view; other values are returned as they are."""
    kind = type(value)
    if kind is dict:
        return ReadOnlyDict(value, parent, key)
    if kind is list or kind is tuple:
        return ReadOnlyList(value, parent, key)
    if kind in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return ReadOnlyDict(value, parent, key)
    if isinstance(value, list | tuple):
        return ReadOnlyList(value, parent, key)
    if isinstance(value, set):
        return frozenset(value)
    return value


def unwrap(value: Any) -> Any:
    """The caller's object behind a view (for comparisons only, never handed to an expression)."""
    return value._data if isinstance(value, _View) else value
