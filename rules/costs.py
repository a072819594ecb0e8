"""What one operation may cost, in units of work, before it runs: a bound, never a guess.

Python's comparisons, `in`, hashing, built-ins and methods walk their operands in C, out of
reach of the clock between two nodes; charging the weight they may walk before calling them
makes one operation over a large or aliased value stop at the work limit, deterministically.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Mapping
from typing import Any

from rules.limits import MAX_INT_BITS, MAX_SIZE
from rules.meter import PYTHON_ITEM, Meter
from rules.views import ReadOnlyDict, ReadOnlyList

_VIEWS = (ReadOnlyDict, ReadOnlyList)
_FLAT = frozenset({int, float, bool, type(None)})
_IDENTITY = (ast.Is, ast.IsNot)
_PRODUCTS = (ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)
_ALIASES = frozenset({"min", "max"})  # they hand back one of their arguments, build nothing
_BY_LENGTH = frozenset({"any", "all"})  # truth values: one step per item
_BY_WEIGHT = frozenset({"sum", "min", "max"})  # they compare or add each item
_ITERATING = _BY_LENGTH | _BY_WEIGHT
_HASH_MODULUS = 2**61 - 1  # an int's hash is its value modulo this (sys.hash_info.modulus)
# Beyond this bound on `x in a_list`, measuring the list gives a tighter one.
_MEASURE_ABOVE = 1000


def compare(meter: Meter, op: type, left: Any, right: Any) -> int:
    """==, <, is...: at most the lighter operand is walked."""
    if op in _IDENTITY or type(left) in _FLAT or type(right) in _FLAT:
        return 1
    if type(left) is str or type(right) is str:
        both = type(left) is str and type(right) is str
        return 1 + min(len(left), len(right)) if both else 1
    known = [w for w in (_known(meter, left), _known(meter, right)) if w is not None]
    return 1 + (min(known) if known else meter.weight(left))


def contains(meter: Meter, item: Any, container: Any) -> int:
    """`item in container`: a hash for dicts and sets, a scan for lists and strings."""
    data = container._data if type(container) in _VIEWS else container
    if type(data) is str:
        return 1 + len(data) + (len(item) if type(item) is str else 0)
    if isinstance(data, Mapping | set | frozenset):
        return hashing(meter, item, data)
    if isinstance(data, list | tuple):
        item_weight = meter.weight(item)
        bound = len(data) * (1 + item_weight)
        if bound > _MEASURE_ABOVE and item_weight > 2 * PYTHON_ITEM:  # weighing is cheaper
            bound = min(bound, len(data) + meter.weight(data))
        return 1 + bound
    return 1


def hashing(meter: Meter, key: Any, table: Any) -> int:
    """Looking `key` up in (or adding it to) a set or dict: its hash, and its probes.

    Strings hash with a per-process secret, small numbers to themselves; but integers past
    2**61 and tuples of chosen numbers can be made to share one hash, and then every probe
    walks the keys already there, so such a key is charged a scan of the table.
    """
    cost = 1 + meter.weight(key)
    kind = type(key)
    if kind is tuple or (kind is int and not -_HASH_MODULUS < key < _HASH_MODULUS):
        cost += len(table)
    return cost


def arithmetic(meter: Meter, op: type, left: Any, right: Any) -> int:
    """Integer arithmetic costs by the machine words of its operands (products: their product);
    `'%s' % value` by the text and the value it prints."""
    if op is ast.Mod and type(left) is str:
        return 1 + len(left) + text(meter, right)
    if type(left) is not int or type(right) is not int:
        return 1
    a, b = left.bit_length() >> 6, right.bit_length() >> 6
    if op is ast.Pow:
        bits = min(left.bit_length() * max(right, 0), MAX_INT_BITS) if abs(left) > 1 else 0
        return 1 + (bits >> 6) ** 2
    if op is ast.LShift:
        return 1 + a + (min(max(right, 0), MAX_INT_BITS) >> 6)
    return 1 + a + b + (a * b if op in _PRODUCTS else 0)


def method(meter: Meter, receiver: Any, name: str, args: list[Any]) -> int:
    """A method of the allow-list walks its receiver (strings, sets, lists) and its arguments."""
    data = receiver._data if type(receiver) in _VIEWS else receiver
    if isinstance(data, list | tuple):  # count, index
        return contains(meter, args[0] if args else None, data)
    weight = sum(meter.weight(arg) for arg in args)
    if type(data) is str or isinstance(data, set | frozenset):
        return 1 + len(data) + weight
    if isinstance(data, Mapping) and name != "get":  # keys, values, items: a Python loop
        return 1 + PYTHON_ITEM * len(data)
    return 1 + weight


def text(meter: Meter, value: Any) -> int:
    """Printing a value (str(), '%s'): its size is checked first by a walk in Python."""
    if type(value) is str:
        return len(value)
    return PYTHON_ITEM * min(meter.weight(value), MAX_SIZE)


def subscript(meter: Meter, container: Any, key: Any) -> int:
    """`container[key]`: hashing the key, or copying a slice (item by item for a view)."""
    if type(key) is not slice:
        return 1 + meter.weight(key)
    if not hasattr(container, "__len__"):
        return 1
    count = len(range(len(container))[key])
    return 1 + (PYTHON_ITEM * count if type(container) in _VIEWS else count)


def function(meter: Meter, name: str, args: list[Any]) -> tuple[int, list[Any]]:
    """The cost of a built-in call, and its arguments with any generator metered per item."""
    cost, metered = 1, []
    for arg in args:
        if type(arg) is types.GeneratorType:
            arg = meter.metered(arg, by_weight=name in _BY_WEIGHT)
        elif name in _BY_WEIGHT:
            cost += meter.weight(arg)
        elif name == "str":
            cost += text(meter, arg)
        elif name in _BY_LENGTH and hasattr(arg, "__len__"):
            cost += len(arg)
        if type(arg) in _VIEWS and name in _ITERATING:  # a view hands out items in Python
            cost += PYTHON_ITEM * len(arg)
        metered.append(arg)
    if name == "round" and len(args) > 1 and type(args[1]) is int:
        cost += 3 * abs(args[1])  # digits are produced one by one, each a few units
    return cost, metered


def aliases(name: str) -> bool:
    """Whether the built-in returns one of its arguments instead of building a value."""
    return name in _ALIASES


def generators_metered(meter: Meter, args: list[Any]) -> list[Any]:
    """A method's generator arguments (`', '.join(x for ...)`), metered per item."""
    return [
        meter.metered(arg, by_weight=True) if type(arg) is types.GeneratorType else arg
        for arg in args
    ]


def _known(meter: Meter, value: Any) -> int | None:
    """The weight when it costs nothing to know: a scalar, or a value already weighed."""
    kind = type(value)
    if kind is str or kind in _FLAT:
        return meter.weight(value)
    data = value._data if kind in _VIEWS else value
    known = meter.weights.get(id(data))
    return None if known is None or known < 0 else known
