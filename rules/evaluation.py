"""One evaluation: a meter, a sandbox, the result as plain data, any failure an ExpressionError."""

from __future__ import annotations

import ast
from typing import Any

from rules.checker import position_of
from rules.errors import EvaluationFailure, ExpressionError, source_position
from rules.jsonsafe import safe_text
from rules.meter import Meter
from rules.plain import to_plain
from rules.sandbox import Sandbox
from rules.scope import Scope

_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (ZeroDivisionError, "zero_division"),
    (KeyError, "missing_key"),
    (IndexError, "missing_key"),
    (RecursionError, "too_deep"),
    (MemoryError, "limit_exceeded"),
    (OverflowError, "overflow"),
    (TypeError, "type_error"),
    (ValueError, "value_error"),
)
_MAX_MESSAGE = 300


def evaluate(tree: ast.expr, scope: Scope, source: str) -> Any:
    """Evaluate a checked tree; every failure becomes an ExpressionError.

    The result is converted under the same meter, and the meter's counters go to the
    request's budget however the evaluation ends.
    """
    meter = None
    try:
        meter = Meter()
        return to_plain(Sandbox(scope, source, meter).run(tree), meter)
    except Exception as exc:
        raise _expression_error(exc, source) from exc
    finally:
        if meter is not None:
            meter.close()


def _expression_error(exc: Exception, source: str) -> ExpressionError:
    if isinstance(exc, EvaluationFailure):
        reason, message, extra = exc.reason, exc.message, exc.extra
    else:
        reason = next((name for kind, name in _REASONS if isinstance(exc, kind)), "error")
        message, extra = _describe(exc), {}
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    details: dict[str, Any] = {"expression": source, "reason": reason, **extra}
    node = getattr(exc, "rules_node", None)
    if getattr(node, "lineno", None) is not None:
        line, column = source_position(source, *position_of(node, source))
        details.update(line=line, column=column)
        message = f"{message} at column {column}"
    return ExpressionError(safe_text(message), details)


def _describe(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "the expression nests too deeply to evaluate"
    if isinstance(exc, MemoryError):
        return "the expression needs too much memory"
    if isinstance(exc, OverflowError):
        return "the number is too large"
    if isinstance(exc, KeyError) and exc.args:
        return f"key {exc.args[0]!r} is missing"
    text = str(exc).replace("ReadOnlyDict", "dict").replace("ReadOnlyList", "list")
    return text or type(exc).__name__
