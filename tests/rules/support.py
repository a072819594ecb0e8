"""Helpers for the rules tests: evaluate a source in a scope, catch a rule error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rules import ExpressionError, ExpressionSyntaxError, Scope, compile_expression

FIXED_NOW = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
CREATED = datetime(2025, 1, 2, tzinfo=UTC)


def order_context() -> dict[str, Any]:
    """A fresh context shaped like a business order."""
    return {
        "amount": 250,
        "level": "gold",
        "customer": {"name": "Ada Lovelace", "tags": ["vip", "early"], "address": None},
        "order": {
            "subOrders": [
                {"id": 1, "status": "DONE"},
                {"id": 2, "status": "DONE"},
                {"id": 3, "status": "OPEN"},
            ]
        },
        "items": [
            {"sku": "A", "qty": 2, "price": 300},
            {"sku": "B", "qty": 1, "price": 450},
            {"sku": "C", "qty": 5, "price": 10},
        ],
        "approved": False,
        "ratio": 0.25,
        "note": "  Rush Order  ",
    }


def scope(**overrides: Any) -> Scope:
    values: dict[str, Any] = {
        "ctx": order_context(),
        "event": "approve",
        "state": "REVIEW",
        "role": 2,
        "instance": {"id": 42, "businessKey": "ORD-42", "createdAt": CREATED},
        "event_counts": {"approve": 2, "reject": 0},
        "clock": lambda: FIXED_NOW,
    }
    values.update(overrides)
    return Scope(**values)


def run(source: str, the_scope: Scope | None = None) -> Any:
    return compile_expression(source).evaluate(the_scope if the_scope is not None else scope())


def refusal(source: str) -> ExpressionSyntaxError:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source)
    return caught.value


def failure(source: str, the_scope: Scope | None = None) -> ExpressionError:
    expression = compile_expression(source)
    with pytest.raises(ExpressionError) as caught:
        expression.evaluate(the_scope if the_scope is not None else scope())
    return caught.value
