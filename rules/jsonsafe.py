"""Values made safe for a JSON answer: short, bounded, and always encodable.

An expression can yield what JSON cannot carry (NaN, infinities, integers Python refuses to
print past 4,300 digits, strings with lone surrogates) or what it should not carry whole (a
100,000-item list in an explanation). `json_safe` keeps plain scalars as they are and gives
everything else a short text form.
"""

from __future__ import annotations

import math
import reprlib
from datetime import date, datetime, time, timedelta
from typing import Any

MAX_TEXT = 1000  # characters of any string or text form in an answer
_LOG10_2 = math.log10(2)


def json_safe(value: Any) -> Any:
    """`value` if JSON carries it as is, else a short text form of it (never over MAX_TEXT)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value) if _digits(value) <= MAX_TEXT else _long_int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return safe_text(_REPR.repr(value))


def safe_text(text: str) -> str:
    """`text` cut to MAX_TEXT characters, lone surrogates and NUL written as escapes."""
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    if not text.isprintable():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text


def _digits(number: int) -> int:
    """Decimal digits of `number`, without printing it (Python refuses past 4,300)."""
    bits = abs(number).bit_length()
    if bits <= 64:
        return len(str(abs(number)))
    estimate = int(bits * _LOG10_2) + 1  # exact, or one too many
    return estimate - 1 if abs(number) < 10 ** (estimate - 1) else estimate


def _long_int(number: int) -> str:
    sign = "-" if number < 0 else ""
    return f"<{sign}integer of {_digits(number):,} digits>"


class _BoundedRepr(reprlib.Repr):
    """reprlib's bounded repr, with integers that never fail to print."""

    def repr_int(self, x: int, level: int) -> str:
        return str(x) if _digits(x) <= self.maxlong else _long_int(x)


_REPR = _BoundedRepr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxlong, _REPR.maxother = 4, 80, 40, 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = 10
_REPR.maxdict = 10
