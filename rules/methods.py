"""The attributes and methods an expression may use, per type: an allow-list, nothing else.

Every method is called through the builtin class (`str.lower(text)`), never looked up on the
value, so a subclass in the caller's data cannot swap in its own behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from rules import safe
from rules.errors import NotAllowed
from rules.views import ReadOnlyDict, ReadOnlyList, wrap

STR_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
    }
)
DICT_METHODS = frozenset({"get", "keys", "values", "items"})
LIST_METHODS = frozenset({"count", "index"})
SET_METHODS = frozenset({"issubset", "issuperset", "isdisjoint"})
DATETIME_METHODS = frozenset({"date", "isoformat", "isoweekday", "timestamp", "weekday"})
DATE_METHODS = frozenset({"isoformat", "isoweekday", "weekday"})
TIMEDELTA_METHODS = frozenset({"total_seconds"})

_BOUNDED_STR: dict[str, Callable[..., Any]] = {"replace": safe.replace, "join": safe.join}

# (class, methods): the first class the value is an instance of wins (datetime before date).
_METHODS: tuple[tuple[type, frozenset[str]], ...] = (
    (str, STR_METHODS),
    (frozenset, SET_METHODS),
    (set, SET_METHODS),
    (datetime, DATETIME_METHODS),
    (date, DATE_METHODS),
    (timedelta, TIMEDELTA_METHODS),
)
_DATA_ATTRIBUTES: tuple[tuple[type, frozenset[str]], ...] = (
    (datetime, frozenset({"year", "month", "day", "hour", "minute", "second", "microsecond"})),
    (date, frozenset({"year", "month", "day"})),
    (timedelta, frozenset({"days", "seconds", "microseconds"})),
)

ALL_METHODS = frozenset().union(DICT_METHODS, LIST_METHODS, *(names for _cls, names in _METHODS))


def _type_name(value: Any) -> str:
    if isinstance(value, ReadOnlyDict):
        return "dict"
    if isinstance(value, ReadOnlyList):
        return "list"
    return type(value).__name__


def _as_view(value: Any) -> Any:
    if type(value) in (dict, list, tuple):
        return wrap(value, None, "value")
    return value


def call_method(receiver: Any, name: str, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Call an allowed method of the receiver's type; anything else is NotAllowed."""
    receiver = _as_view(receiver)
    if isinstance(receiver, ReadOnlyDict) and name in DICT_METHODS:
        return getattr(ReadOnlyDict, name)(receiver, *args, **kwargs)
    if isinstance(receiver, ReadOnlyList) and name in LIST_METHODS:
        return getattr(ReadOnlyList, name)(receiver, *args, **kwargs)
    for cls, names in _METHODS:
        if isinstance(receiver, cls):
            if name not in names:
                break
            if cls is str and name in _BOUNDED_STR:
                return _BOUNDED_STR[name](receiver, *args, **kwargs)
            return getattr(cls, name)(receiver, *args, **kwargs)
    raise NotAllowed(f"{_type_name(receiver)} has no method '{name}' in expressions")


def get_attribute(value: Any, name: str) -> Any:
    """`value.name`: a key of a dict, or an allowed data attribute (e.g. a date's `year`)."""
    value = _as_view(value)
    if isinstance(value, ReadOnlyDict):
        return value[name]
    for cls, names in _DATA_ATTRIBUTES:
        if isinstance(value, cls):
            if name in names:
                return getattr(cls, name).__get__(value, cls)
            break
    raise NotAllowed(f"{_type_name(value)} has no attribute '{name}' in expressions")
