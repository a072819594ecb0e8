"""The compile-time check: an allow-list of syntax nodes, and every name against the known set.

Whatever this lets through, the sandbox knows how to evaluate within its limits; whatever it
refuses is an ExpressionSyntaxError naming the construct or name and its column.
"""

from __future__ import annotations

import ast
from typing import Any, NoReturn

from rules.errors import ExpressionSyntaxError, source_position
from rules.limits import MAX_DEPTH
from rules.methods import ALL_METHODS
from rules.safe import FUNCTIONS, OPERATORS

VALUE_NAMES = frozenset({"ctx", "event", "state", "role", "instance"})
FUNCTION_NAMES = frozenset(FUNCTIONS) | {"event_count", "now"}
KNOWN_NAMES = VALUE_NAMES | FUNCTION_NAMES

# Frame and code internals: unreachable anyway (no type allows them), refused by name too.
_DENIED_ATTRIBUTES = frozenset(
    {
        "mro",
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "ag_frame",
        "ag_code",
        "ag_await",
        "tb_frame",
        "tb_next",
        "f_back",
        "f_builtins",
        "f_code",
        "f_globals",
        "f_locals",
        "func_code",
        "func_globals",
    }
)
_CONSTANT_TYPES = (int, float, str, bool, type(None))
_NODES = frozenset(
    {
        ast.BoolOp,
        ast.BinOp,
        ast.UnaryOp,
        ast.Compare,
        ast.IfExp,
        ast.Call,
        ast.keyword,
        ast.Constant,
        ast.Name,
        ast.Attribute,
        ast.Subscript,
        ast.Slice,
        ast.List,
        ast.Tuple,
        ast.Set,
        ast.Dict,
        ast.ListComp,
        ast.SetComp,
        ast.DictComp,
        ast.GeneratorExp,
        ast.Load,
        ast.And,
        ast.Or,
        *OPERATORS,
    }
)
_CONSTRUCTS = {
    ast.JoinedStr: "an f-string",
    ast.FormattedValue: "an f-string",
    ast.Lambda: "lambda",
    ast.NamedExpr: "an assignment expression (:=)",
    ast.Starred: "star unpacking (*)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


class Checker:
    """Walks a parsed expression once; collects the known names it uses."""

    def __init__(self, source: str):
        self.source = source
        self.names: set[str] = set()

    def refuse(self, message: str, at: tuple[int, int], **details: Any) -> NoReturn:
        line, column = source_position(self.source, *at)
        details = {"expression": self.source, "line": line, "column": column, **details}
        raise ExpressionSyntaxError(f"{message} at column {column}", details)

    def check(self, node: ast.AST, bound: frozenset[str], depth: int) -> None:
        if depth > MAX_DEPTH and hasattr(node, "lineno"):
            message = f"the expression is nested more than {MAX_DEPTH} levels deep"
            self.refuse(message, _at(node), construct="nesting")
        kind = type(node)
        if kind not in _NODES:
            construct = _CONSTRUCTS.get(kind, kind.__name__)
            self.refuse(f"{construct} is not allowed", _at(node), construct=construct)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, node, bound, depth)
            return
        for child in ast.iter_child_nodes(node):
            self.check(child, bound, depth + 1)

    def _name(self, node: ast.Name, bound: frozenset[str], depth: int) -> None:
        name = node.id
        if name in bound:
            return
        if name in VALUE_NAMES:
            self.names.add(name)
        elif name in FUNCTION_NAMES:
            self.refuse(f"'{name}' is a function: call it, as {name}(...)", _at(node), name=name)
        else:
            self.refuse(f"unknown name '{name}'", _at(node), name=name)

    def _attribute(self, node: ast.Attribute, bound: frozenset[str], depth: int) -> None:
        self._check_attribute_name(node)
        self.check(node.value, bound, depth + 1)

    def _check_attribute_name(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("_"):
            message = f"attribute '{attr}' is not allowed: names starting with '_' are private"
            self.refuse(message, _attr_at(node), construct="private attribute", name=attr)
        if attr in _DENIED_ATTRIBUTES:
            self.refuse(f"attribute '{attr}' is not allowed", _attr_at(node), name=attr)

    def _call(self, node: ast.Call, bound: frozenset[str], depth: int) -> None:
        func = node.func
        if type(func) is ast.Name:
            self._check_function(func, bound)
        elif type(func) is ast.Attribute:
            self._check_attribute_name(func)
            if func.attr not in ALL_METHODS:
                self.refuse(f"unknown method '{func.attr}'", _attr_at(func), name=func.attr)
            self.check(func.value, bound, depth + 1)
        else:
            message = "only functions and methods can be called"
            self.refuse(message, _at(func), construct="call")
        for arg in node.args:
            self.check(arg, bound, depth + 1)
        for keyword in node.keywords:
            if keyword.arg is None:
                self.refuse("'**' arguments are not allowed", _at(keyword), construct="**")
            self.check(keyword.value, bound, depth + 1)

    def _check_function(self, func: ast.Name, bound: frozenset[str]) -> None:
        name = func.id
        if name in FUNCTION_NAMES:
            self.names.add(name)
        elif name in VALUE_NAMES or name in bound:
            self.refuse(f"'{name}' is not a function", _at(func), name=name)
        else:
            self.refuse(f"unknown function '{name}'", _at(func), name=name)

    def _constant(self, node: ast.Constant, bound: frozenset[str], depth: int) -> None:
        if not isinstance(node.value, _CONSTANT_TYPES):
            construct = f"a {type(node.value).__name__} literal"
            self.refuse(f"{construct} is not allowed", _at(node), construct=construct)

    def _dict(self, node: ast.Dict, bound: frozenset[str], depth: int) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                construct = "dict unpacking (**)"
                self.refuse(f"{construct} is not allowed", _at(value), construct=construct)
            self.check(key, bound, depth + 1)
            self.check(value, bound, depth + 1)

    def _binop(self, node: ast.BinOp, bound: frozenset[str], depth: int) -> None:
        if type(node.op) is ast.MatMult:
            self.refuse("the @ operator is not allowed", _at(node), construct="@")
        self.check(node.left, bound, depth + 1)
        self.check(node.right, bound, depth + 1)

    def _comprehension(self, node: ast.AST, bound: frozenset[str], depth: int) -> None:
        inner = bound
        for index, generator in enumerate(node.generators):
            if generator.is_async:
                self.refuse("async comprehensions are not allowed", _at(node), construct="async")
            # The first iterable is evaluated outside the comprehension, as in Python.
            self.check(generator.iter, bound if index == 0 else inner, depth + 1)
            inner = inner | self._targets(generator.target)
            for condition in generator.ifs:
                self.check(condition, inner, depth + 1)
        parts = [node.key, node.value] if type(node) is ast.DictComp else [node.elt]
        for part in parts:
            self.check(part, inner, depth + 1)

    def _targets(self, target: ast.AST) -> frozenset[str]:
        if type(target) is ast.Name:
            if target.id in KNOWN_NAMES:
                message = f"'{target.id}' cannot be a loop variable: it is a known name"
                self.refuse(message, _at(target), name=target.id)
            return frozenset({target.id})
        if type(target) in (ast.Tuple, ast.List):
            return frozenset().union(*(self._targets(part) for part in target.elts))
        self.refuse("a loop variable must be a name", _at(target), construct="loop target")


def _at(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 1), getattr(node, "col_offset", 0)


def _attr_at(node: ast.Attribute) -> tuple[int, int]:
    """The position of the attribute's name (after the dot), not of the whole expression."""
    return node.end_lineno or node.lineno, (node.end_col_offset or 0) - len(node.attr.encode())


def context_paths(tree: ast.AST) -> tuple[str, ...]:
    """The dotted context paths an expression reads, longest only: `ctx.order.subOrders`."""
    methods = {id(node.func) for node in ast.walk(tree) if type(node) is ast.Call}
    paths = set()
    for node in ast.walk(tree):
        if type(node) in (ast.Attribute, ast.Subscript) and id(node) not in methods:
            path = _dotted(node)
            if path is not None and path.startswith("ctx."):
                paths.add(path)
    return tuple(sorted(p for p in paths if not any(q.startswith(p + ".") for q in paths)))


def _dotted(node: ast.AST) -> str | None:
    if type(node) is ast.Name:
        return node.id
    if type(node) is ast.Attribute:
        key = node.attr
    elif type(node) is ast.Subscript and type(node.slice) is ast.Constant:
        key = node.slice.value
        if not isinstance(key, str) or "." in key:
            return None
    else:
        return None
    parent = _dotted(node.value)
    return None if parent is None else f"{parent}.{key}"


def position_of(node: ast.AST, source: str) -> tuple[int, int]:
    """Where to point at when evaluating `node` failed: its attribute name or its operator."""
    if type(node) is ast.Call and type(node.func) is ast.Attribute:
        node = node.func
    if type(node) is ast.Attribute:
        return _attr_at(node)
    pairs = {
        ast.BinOp: lambda n: (n.left, n.right),
        ast.Compare: lambda n: (n.left, n.comparators[0]),
        ast.Subscript: lambda n: (n.value, n.slice),
    }
    if type(node) in pairs:
        left, right = pairs[type(node)](node)
        if left.end_lineno == right.lineno:
            line = source.encode().splitlines()[left.end_lineno - 1] if source else b""
            gap = line[left.end_col_offset : right.col_offset]
            skipped = len(gap) - len(gap.lstrip(b" \t)"))
            return left.end_lineno, left.end_col_offset + skipped
    return _at(node)


_HANDLERS = {
    ast.Name: Checker._name,
    ast.Attribute: Checker._attribute,
    ast.Call: Checker._call,
    ast.Constant: Checker._constant,
    ast.Dict: Checker._dict,
    ast.BinOp: Checker._binop,
    ast.ListComp: Checker._comprehension,
    ast.SetComp: Checker._comprehension,
    ast.DictComp: Checker._comprehension,
    ast.GeneratorExp: Checker._comprehension,
}
