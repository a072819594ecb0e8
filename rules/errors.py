"""Errors of the rules package: one base with the platform's `code`, `message`, `details`.

Positions are 1-based: `details["line"]` and `details["column"]` count characters (not bytes)
from 1, like a text editor and like Python's own `SyntaxError.offset`.
"""

from __future__ import annotations

import re
from typing import Any

_LINES = re.compile(r"\r\n|\r|\n")


class RuleError(Exception):
    """Base of every rule error; maps to the platform's EXPRESSION_ERROR."""

    code = "EXPRESSION_ERROR"

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return self.message


class ExpressionSyntaxError(RuleError):
    """The expression is refused when compiled: syntax, construct, name, length or depth."""


class ExpressionError(RuleError):
    """The expression failed while evaluated: missing key, type error, limit or timeout."""


class CaseError(ExpressionError):
    """A case condition raised while choosing a branch; `details["branch"]` is its key."""

    def __init__(self, message: str, details: dict[str, Any] | None = None, branch: Any = None):
        super().__init__(message, details)
        self.branch = branch


class EvaluationFailure(Exception):
    """Internal: raised inside the sandbox, turned into an ExpressionError by `evaluate`."""

    reason = "error"

    def __init__(self, message: str, **extra: Any):
        super().__init__(message)
        self.message = message
        self.extra = extra


class MissingKey(EvaluationFailure):
    reason = "missing_key"

    def __init__(self, path: str, note: str = ""):
        super().__init__(f"'{path}' is missing{note}", path=path)


class LimitExceeded(EvaluationFailure):
    reason = "limit_exceeded"

    def __init__(self, message: str, *, limit: str, maximum: int | float):
        super().__init__(message, limit=limit, max=maximum)


class TimeBudgetExceeded(EvaluationFailure):
    reason = "timeout"


class RequestBudgetExceeded(EvaluationFailure):
    """The request as a whole (every expression it evaluated) spent its budget."""

    reason = "request_budget"

    def __init__(self, message: str, *, limit: str, maximum: int | float):
        super().__init__(message, limit=limit, max=maximum)


class NotAllowed(EvaluationFailure):
    reason = "not_allowed"


def source_position(source: str, lineno: int, col_offset: int) -> tuple[int, int]:
    """1-based (line, column) in characters, from the AST's 1-based line and byte offset."""
    lines = _LINES.split(source)
    text = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    column = len(text.encode("utf-8")[:col_offset].decode("utf-8", errors="ignore"))
    return lineno, column + 1
