"""What an expression builds item by item: literals, comprehensions and generators.

Functions over the evaluating Sandbox (`box`), one per node type, so the sandbox keeps to
reading, calling and comparing. Whatever an operation builds was charged by its weight when
built (`box.recent`); putting it into a list, set or dict then costs one slot. Anything else
put there (the caller's data, a value already placed elsewhere) is charged its whole weight
again: each reference counts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rules import costs
from rules.safe import check_size

if TYPE_CHECKING:
    from rules.sandbox import Sandbox

_DONE = object()


def place(box: Sandbox, value: Any, table: Any = None) -> int:
    """Put a value into a list, or a key into the set or dict `table` being built; its
    weight, for the container's."""
    meter = box.meter
    weight = meter.weight(value)
    if value is box.recent:
        box.recent = None
        meter.charge(1)
    else:
        check_size(1 + weight, "the item")
        meter.charge(1 + weight)
    if table is not None:
        meter.spend(costs.hashing(meter, value, table))
    return weight


def finish(box: Sandbox, value: Any, weight: int) -> Any:
    """A container just built: its weight is known from its items, no need to measure it."""
    box.meter.remember(value, weight)
    box.recent = value
    return value


def sequence(box: Sandbox, node: ast.List | ast.Tuple | ast.Set) -> Any:
    if type(node) is ast.Set:
        return _set(box, node.elts)
    items, weight = [], len(node.elts)
    for element in node.elts:
        value = box._eval(element)
        weight += place(box, value)
        items.append(value)
    kind = list if type(node) is ast.List else tuple
    return finish(box, kind(items), weight)


def _set(box: Sandbox, elements: list[ast.expr]) -> set:
    result: set[Any] = set()
    weight = len(elements)
    for element in elements:
        value = box._eval(element)
        weight += place(box, value, result)
        result.add(value)
    return finish(box, result, weight)


def mapping(box: Sandbox, node: ast.Dict) -> dict:
    result: dict[Any, Any] = {}
    weight = 0
    for key_node, value_node in zip(node.keys, node.values, strict=True):
        key = box._eval(key_node)
        weight += 2 + place(box, key, result)
        value = box._eval(value_node)
        weight += place(box, value)
        result[key] = value
    return finish(box, result, weight)


def comprehension(box: Sandbox, node: ast.ListComp | ast.SetComp | ast.DictComp) -> Any:
    scope = dict(box.vars)
    first = box._eval(node.generators[0].iter)
    saved, box.vars = box.vars, scope
    try:
        combinations = loops(box, node.generators, 0, first)
        if type(node) is ast.DictComp:
            result, weight = _dict_items(box, node, combinations)
        else:
            # A set grows item by item, as a dict does: each insertion between two looks
            # at the clock, never one long call over colliding keys.
            result = set() if type(node) is ast.SetComp else []
            table = result if type(result) is set else None
            add, weight = result.add if table is not None else result.append, 0
            for _ in combinations:
                value = box._eval(node.elt)
                weight += 1 + place(box, value, table)
                add(value)
    finally:
        box.vars = saved
    return finish(box, result, weight)


def _dict_items(box: Sandbox, node: ast.DictComp, combinations: Iterator[None]) -> tuple:
    result: dict[Any, Any] = {}
    weight = 0
    for _ in combinations:
        key = box._eval(node.key)
        weight += 2 + place(box, key, result)
        value = box._eval(node.value)
        weight += place(box, value)
        result[key] = value
    return result, weight


def collect(box: Sandbox, generator: Iterator[Any]) -> list[Any]:
    """A generator drawn out into a list, each item placed as a comprehension's would be."""
    items, weight = [], 0
    for value in generator:
        weight += 1 + place(box, value)
        items.append(value)
    return finish(box, items, weight)


def generator(box: Sandbox, node: ast.GeneratorExp) -> Iterator[Any]:
    # Lazy, like Python's: any() and all() stop at the first answer. The outermost
    # iterable is evaluated now, in the enclosing scope, as Python does.
    scope = dict(box.vars)
    first = box._eval(node.generators[0].iter)
    return _lazy(box, node, scope, first)


def _lazy(box: Sandbox, node: ast.GeneratorExp, scope: dict, first: Any) -> Iterator[Any]:
    combinations = loops(box, node.generators, 0, first)
    while True:
        # Whoever resumes this generator has its own variables: swap ours in, then out.
        saved, box.vars = box.vars, scope
        try:
            if next(combinations, _DONE) is _DONE:
                return
            value = box._eval(node.elt)
        finally:
            box.vars = saved
        yield value


def loops(box: Sandbox, generators: list, index: int, iterable: Any) -> Iterator[None]:
    """Bind the targets of generators[index:] in box.vars; yield once per combination."""
    generator = generators[index]
    target, conditions = generator.target, generator.ifs
    last = index + 1 == len(generators)
    meter = box.meter
    for item in iterable:
        meter.iterations += 1  # counted inline: this is the hottest loop of all
        if not meter.iterations & 15 or meter.iterations > meter.max["iterations"]:
            meter.loop()
        if type(target) is ast.Name:
            box.vars[target.id] = item
        else:
            _bind(target, item, box.vars)
        for condition in conditions:
            if not box._eval(condition):
                break
        else:
            if last:
                yield
            else:
                inner = box._eval(generators[index + 1].iter)
                yield from loops(box, generators, index + 1, inner)


def _bind(target: ast.expr, item: Any, scope: dict[str, Any]) -> None:
    if type(target) is ast.Name:
        scope[target.id] = item
        return
    # The length first: copying a long value only to refuse it would cost its length.
    if hasattr(item, "__len__") and len(item) != len(target.elts):
        raise ValueError(f"cannot unpack {len(item)} values into {len(target.elts)} names")
    values = list(item)
    if len(values) != len(target.elts):
        raise ValueError(f"cannot unpack {len(values)} values into {len(target.elts)} names")
    for part, value in zip(target.elts, values, strict=True):
        _bind(part, value, scope)
