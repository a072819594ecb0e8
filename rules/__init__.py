"""Sandboxed, compiled expressions for guards, case conditions and show conditions.

Plain Python on simpleeval; imports no Django. Compile once with `compile_expression`, then
`Expression.evaluate(Scope(...))` as often as needed. Error positions (`details["line"]`,
`details["column"]`) are 1-based and count characters. `request_budget()` bounds what all the
evaluations of one request spend together; `json_safe` renders a value for a JSON answer.
"""

from rules.budget import RequestBudget, request_budget
from rules.cases import Branch, select_case
from rules.checker import FUNCTION_NAMES, KNOWN_NAMES, VALUE_NAMES
from rules.compiler import Expression, check_expression, compile_expression
from rules.errors import CaseError, ExpressionError, ExpressionSyntaxError, RuleError
from rules.jsonsafe import json_safe
from rules.scope import EMPTY_SCOPE, Scope, utc_now

__all__ = [
    "EMPTY_SCOPE",
    "FUNCTION_NAMES",
    "KNOWN_NAMES",
    "VALUE_NAMES",
    "Branch",
    "CaseError",
    "Expression",
    "ExpressionError",
    "ExpressionSyntaxError",
    "RequestBudget",
    "RuleError",
    "Scope",
    "check_expression",
    "compile_expression",
    "json_safe",
    "request_budget",
    "select_case",
    "utc_now",
]
