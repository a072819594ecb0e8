"""The result of an evaluation as plain Python data, converted under the evaluation's meter."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

from rules.meter import MEASURE_COST, PYTHON_ITEM, Meter
from rules.views import _View

_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_plain(value: Any, meter: Meter, memo: dict[int, Any] | None = None) -> Any:
    """Plain data sharing nothing with the caller's data; each object is converted once.

    The memo is keyed by the caller's object behind a view, not by the view (a new view is
    made at every access), so `[ctx.big] * 1000` copies `ctx.big` once, not 1,000 times.
    """
    if type(value) in _SCALARS:
        return value
    memo = {} if memo is None else memo
    data = value._data if isinstance(value, _View) else value
    if id(data) in memo:
        return memo[id(data)][1]
    meter.spend(MEASURE_COST)  # each container copied runs Python code, as weighing does
    if isinstance(data, Mapping):
        meter.spend(1 + PYTHON_ITEM * len(data))
        result: Any = {}
        memo[id(data)] = (data, result)  # before the parts: the data may contain itself
        for key, item in data.items():
            result[to_plain(key, meter, memo)] = to_plain(item, meter, memo)
        return result
    if isinstance(data, list | tuple | types.GeneratorType):
        items = []
        memo[id(data)] = (data, items)
        for item in data:
            meter.spend(PYTHON_ITEM)
            items.append(to_plain(item, meter, memo))
        if isinstance(data, tuple):
            memo[id(data)] = (data, tuple(items))
            return memo[id(data)][1]
        return items
    if isinstance(data, set | frozenset):
        meter.spend(1 + PYTHON_ITEM * len(data))
        result = type(data)(to_plain(item, meter, memo) for item in data)
        memo[id(data)] = (data, result)
        return result
    return data
