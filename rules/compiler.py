"""Compile once, evaluate many times: parse, check, keep the tree in an immutable Expression."""

from __future__ import annotations

import ast
import io
import logging
import tokenize
import unicodedata
from typing import Any, NoReturn

from rules.cache import BoundedCache, footprint
from rules.checker import Checker, _at, context_paths
from rules.errors import ExpressionSyntaxError, source_position
from rules.evaluation import evaluate
from rules.limits import MAX_SOURCE_LENGTH
from rules.scope import EMPTY_SCOPE, Scope

logger = logging.getLogger(__name__)
CACHE = BoundedCache()  # compiled expressions by source; compiling is pure

_STATEMENTS = {
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.Assign: "assignment",
    ast.AugAssign: "assignment",
    ast.AnnAssign: "assignment",
    ast.Delete: "del",
}


class Expression:
    """A compiled expression: immutable, shareable between threads, evaluated without parsing."""

    __slots__ = ("source", "names", "paths", "footprint", "_tree")
    source: str
    names: frozenset[str]  # the known names and functions it uses, e.g. {"ctx", "event_count"}
    paths: tuple[str, ...]  # the context paths it reads, e.g. ("ctx.amount", "ctx.order.lines")
    footprint: int  # estimated bytes it holds, for caches bounded in bytes (rules/cache.py)

    def __init__(self, source: str, names: frozenset[str], tree: ast.expr):
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "paths", context_paths(tree))
        object.__setattr__(self, "footprint", footprint(source, tree))
        object.__setattr__(self, "_tree", tree)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("an Expression is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("an Expression is immutable")

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    def evaluate(self, scope: Scope | None = None) -> Any:
        """The value of the expression in `scope`; raises ExpressionError, nothing else."""
        return evaluate(self._tree, EMPTY_SCOPE if scope is None else scope, self.source)


def compile_expression(source: str) -> Expression:
    """Parse and check `source`; raises ExpressionSyntaxError. Pure, so results are cached."""
    if not isinstance(source, str):
        raise ExpressionSyntaxError(
            "an expression must be text", {"expression": repr(source), "construct": "type"}
        )
    expression = CACHE.get(source)
    if expression is None:
        expression = _compile(source)
        CACHE.put(source, expression, expression.footprint)
    return expression


def check_expression(source: Any) -> dict[str, Any]:
    """`{"ok", "error"?, "names"}` for the expression check API; never raises for bad input."""
    try:
        expression = compile_expression(source)
    except ExpressionSyntaxError as exc:
        error = {k: v for k, v in exc.details.items() if k != "expression"}
        return {"ok": False, "error": {"message": exc.message, **error}, "names": []}
    except Exception:  # a bug of ours must not turn a check into a 500
        logger.exception("checking expression %r failed", source)
        error = {"message": "the expression could not be checked", "column": 1}
        return {"ok": False, "error": error, "names": []}
    return {"ok": True, "names": sorted(expression.names)}


def _compile(source: str) -> Expression:
    if len(source) > MAX_SOURCE_LENGTH:
        _refuse(
            f"the expression is longer than {MAX_SOURCE_LENGTH:,} characters",
            source,
            (1, MAX_SOURCE_LENGTH + 1),
            construct="length",
        )
    if not source.strip():
        _refuse("the expression is empty", source, (1, 1), construct="empty")
    if not source.isascii():
        _check_identifiers(source)
    tree = _parse(source)
    checker = Checker(source)
    checker.check(tree, frozenset(), 1)
    return Expression(source, frozenset(checker.names), _fold_constants(tree))


def _refuse(message: str, source: str, at: tuple[int, int], **details: Any) -> NoReturn:
    line, column = at
    details = {"expression": source, "line": line, "column": column, **details}
    raise ExpressionSyntaxError(f"{message} at column {column}", details)


def _check_identifiers(source: str) -> None:
    """Refuse identifiers that Python would silently normalise (fullwidth 'ｃｔｘ' reads 'ctx')."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            normal = unicodedata.normalize("NFKC", token.string)
            if token.type == tokenize.NAME and normal != token.string:
                line, column = token.start
                _refuse(
                    f"identifier '{token.string}' uses look-alike characters (it reads '{normal}')",
                    source,
                    (line, column + 1),
                    construct="look-alike identifier",
                    name=normal,
                )
    except (tokenize.TokenError, SyntaxError):
        pass  # the parser reports it, with a better message


def _parse(source: str) -> ast.expr:
    stripped = source.lstrip()  # eval() strips leading blanks too; positions are shifted back
    prefix = source[: len(source) - len(stripped)]
    shift_lines = prefix.count("\n")
    shift_column = len(prefix) - (prefix.rfind("\n") + 1)
    try:
        tree = ast.parse(stripped, mode="eval").body
    except SyntaxError as exc:
        _refuse_syntax(source, stripped, exc, shift_lines, shift_column)
    except (RecursionError, MemoryError):
        _refuse("the expression is nested too deeply", source, (1, 1), construct="nesting")
    except ValueError as exc:  # a NUL character
        _refuse(f"invalid text: {exc}", source, (1, 1), construct="syntax")
    if prefix:
        shift_bytes = len(prefix[len(prefix) - shift_column :].encode())
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) is not None:
                if node.lineno == 1:
                    node.col_offset += shift_bytes
                    if node.end_lineno == 1:
                        node.end_col_offset += shift_bytes
                node.lineno += shift_lines
                node.end_lineno += shift_lines
    return tree


def _refuse_syntax(
    source: str, stripped: str, exc: SyntaxError, shift_lines: int, shift_column: int
) -> NoReturn:
    statement = _statement(stripped)
    if statement is not None:
        construct, line, column = statement
        message = f"{construct} is not allowed: write one expression"
    else:
        if not exc.offset:  # eval mode says 0 at the end of the text; exec mode knows where
            exc = _exec_syntax_error(stripped) or exc
        construct, line, column = "syntax", exc.lineno or 1, max(exc.offset or 1, 1)
        message = exc.msg if exc.msg.startswith("invalid syntax") else f"invalid syntax: {exc.msg}"
    if line == 1:
        column += shift_column
    _refuse(message, source, (line + shift_lines, column), construct=construct)


def _exec_syntax_error(stripped: str) -> SyntaxError | None:
    try:
        ast.parse(stripped)
    except SyntaxError as exc:
        return exc
    except Exception:
        return None
    return None


def _statement(stripped: str) -> tuple[str, int, int] | None:
    """(construct, line, column) when the text is a statement or several, not an expression."""
    try:
        body = ast.parse(stripped).body
    except Exception:
        return None
    if len(body) > 1:
        return ("more than one statement", *source_position(stripped, *_at(body[1])))
    if body and type(body[0]) is not ast.Expr:
        first = body[0]
        construct = _STATEMENTS.get(type(first), f"a '{type(first).__name__.lower()}' statement")
        return (construct, *source_position(stripped, *_at(first)))
    return None


def _fold_constants(tree: ast.expr) -> ast.expr:
    """Tuples of constants become one constant, so `x in ('a', 'b')` builds nothing per run."""
    for node in ast.walk(tree):
        for field, value in ast.iter_fields(node):
            if _is_constant_tuple(value):
                setattr(node, field, _constant_tuple(value))
            elif isinstance(value, list):
                value[:] = [_constant_tuple(v) if _is_constant_tuple(v) else v for v in value]
    return _constant_tuple(tree) if _is_constant_tuple(tree) else tree


def _is_constant_tuple(node: Any) -> bool:
    return type(node) is ast.Tuple and all(type(item) is ast.Constant for item in node.elts)


def _constant_tuple(node: ast.Tuple) -> ast.Constant:
    constant = ast.Constant(tuple(item.value for item in node.elts))
    return ast.copy_location(constant, node)
