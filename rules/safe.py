"""Bounded operators and functions: every size is checked before the value is built."""

from __future__ import annotations

import ast
import operator as op
from collections.abc import Callable, Iterable
from typing import Any

from rules.errors import LimitExceeded
from rules.limits import (
    MAX_FORMAT_WIDTH,
    MAX_INT_BITS,
    MAX_NUMBER_TEXT,
    MAX_ROUND_DIGITS,
    MAX_SIZE,
)
from rules.views import ReadOnlyDict, ReadOnlyList, unwrap


def check_size(size: int, what: str = "the result") -> None:
    """Refuse to build a string or collection longer than MAX_SIZE."""
    if size > MAX_SIZE:
        raise LimitExceeded(
            f"{what} would be longer than {MAX_SIZE:,} characters or items",
            limit="size",
            maximum=MAX_SIZE,
        )


def _check_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise LimitExceeded(
            f"{what} would be larger than {MAX_INT_BITS:,} bits",
            limit="int_bits",
            maximum=MAX_INT_BITS,
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def power(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1:
        _check_bits(a.bit_length() * b, "the power")
    return a**b


def multiply(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b):
        _check_bits(a.bit_length() + b.bit_length(), "the product")
    elif _is_int(b) and hasattr(a, "__len__"):
        check_size(len(a) * b, "the repetition")
    elif _is_int(a) and hasattr(b, "__len__"):
        check_size(len(b) * a, "the repetition")
    return a * b


def add(a: Any, b: Any) -> Any:
    if hasattr(a, "__len__") and hasattr(b, "__len__"):
        check_size(len(a) + len(b), "the concatenation")
    return a + b


def left_shift(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b) and b > 0:
        _check_bits(a.bit_length() + b, "the shift")
    return a << b


def modulo(a: Any, b: Any) -> Any:
    if isinstance(a, str):
        return percent_format(a, b)
    return a % b


def _percent_numbers(fmt: str) -> Iterable[str]:
    """The width and precision of every '%' conversion, scanned the way str % does."""
    end = len(fmt)
    i = fmt.find("%")
    while i != -1:
        i += 1
        if i < end and fmt[i] == "(":
            depth = 0
            while i < end:
                depth += {"(": 1, ")": -1}.get(fmt[i], 0)
                i += 1
                if depth == 0:
                    break
        while i < end and fmt[i] in "-+ #0":
            i += 1
        for _part in ("width", "precision"):
            start = i
            while i < end and (fmt[i].isdigit() or fmt[i] == "*"):
                i += 1
            yield fmt[start:i]
            if i < end and fmt[i] == ".":
                i += 1
            else:
                break
        i = fmt.find("%", i + 1)


def percent_format(fmt: str, args: Any) -> str:
    """`fmt % args` with every width and precision at most MAX_FORMAT_WIDTH."""
    for number in _percent_numbers(fmt):
        if "*" in number or (number and (len(number) > 4 or int(number) > MAX_FORMAT_WIDTH)):
            raise LimitExceeded(
                f"a '%' width or precision must be a number up to {MAX_FORMAT_WIDTH}",
                limit="format_width",
                maximum=MAX_FORMAT_WIDTH,
            )
    check_text_size(args)
    values = tuple(unwrap(v) for v in args) if isinstance(args, tuple) else unwrap(args)
    result = fmt % values
    check_size(len(result), "the formatted string")
    return result


def check_text_size(value: Any) -> None:
    """Refuse a value whose text form could pass MAX_SIZE; walks at most MAX_SIZE items."""
    total = 0
    stack = [value]
    while stack:
        item = unwrap(stack.pop())
        if isinstance(item, str):
            total += len(item) + 4
        elif isinstance(item, dict | ReadOnlyDict):
            total += 2 + 4 * len(item)
            if total <= MAX_SIZE:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | ReadOnlyList):
            total += 2 + 2 * len(item)
            if total <= MAX_SIZE:
                stack.extend(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        else:
            total += 32
        check_size(total, "the text")


def replace(text: str, old: str, new: str, count: int = -1) -> str:
    occurrences = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    check_size(len(text) + occurrences * (len(new) - len(old)), "the replacement")
    return text.replace(old, new, count)


def join(separator: str, items: Iterable[Any]) -> str:
    parts = list(items)
    texts = [part for part in parts if isinstance(part, str)]
    check_size(sum(map(len, texts)) + len(separator) * max(len(parts) - 1, 0), "the join")
    return separator.join(parts)


def safe_str(value: Any = "") -> str:
    check_text_size(value)
    return str(value)


def _check_number_text(value: Any) -> None:
    if isinstance(value, str) and len(value) > MAX_NUMBER_TEXT:
        raise LimitExceeded(
            f"a number written as text may have at most {MAX_NUMBER_TEXT} characters",
            limit="number_text",
            maximum=MAX_NUMBER_TEXT,
        )


def safe_int(value: Any = 0, *args: Any, **kwargs: Any) -> int:
    _check_number_text(value)
    return int(value, *args, **kwargs)


def safe_float(value: Any = 0.0) -> float:
    _check_number_text(value)
    return float(value)


def safe_round(number: Any, ndigits: int | None = None) -> Any:
    if _is_int(ndigits) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise LimitExceeded(
            f"round() takes at most {MAX_ROUND_DIGITS} digits",
            limit="round_digits",
            maximum=MAX_ROUND_DIGITS,
        )
    return round(number, ndigits)


def safe_sum(items: Iterable[Any], /, start: Any = 0) -> Any:
    if not isinstance(start, int | float):
        raise TypeError("sum() adds numbers; its start must be a number")
    return sum(items, start)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "any": any,
    "all": all,
    "sum": safe_sum,
    "min": min,
    "max": max,
    "abs": abs,
    "round": safe_round,
    "int": safe_int,
    "float": safe_float,
    "str": safe_str,
    "bool": bool,
}

OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: add,
    ast.Sub: op.sub,
    ast.Mult: multiply,
    ast.Div: op.truediv,
    ast.FloorDiv: op.floordiv,
    ast.Mod: modulo,
    ast.Pow: power,
    ast.LShift: left_shift,
    ast.RShift: op.rshift,
    ast.BitOr: op.or_,
    ast.BitXor: op.xor,
    ast.BitAnd: op.and_,
    ast.Not: op.not_,
    ast.USub: op.neg,
    ast.UAdd: op.pos,
    ast.Invert: op.invert,
    ast.Eq: op.eq,
    ast.NotEq: op.ne,
    ast.Lt: op.lt,
    ast.LtE: op.le,
    ast.Gt: op.gt,
    ast.GtE: op.ge,
    ast.Is: op.is_,
    ast.IsNot: op.is_not,
    ast.In: lambda item, container: item in container,
    ast.NotIn: lambda item, container: item not in container,
}
