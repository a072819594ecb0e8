"""The evaluator: a SimpleEval subclass that walks an already checked tree over read-only views.

It never parses: `rules.compiler` parsed and checked the tree once. Compared with SimpleEval it
looks names up in one dict (SimpleEval re-scans every value it returns, which made a loop over
1,000 items quadratic), counts comprehension iterations and built sizes, keeps a wall-clock
deadline, and only calls the functions and per-type methods of the allow-lists.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from time import perf_counter, thread_time
from typing import Any

from simpleeval import SimpleEval

from rules.checker import position_of
from rules.errors import (
    EvaluationFailure,
    ExpressionError,
    LimitExceeded,
    MissingKey,
    TimeBudgetExceeded,
    source_position,
)
from rules.limits import MAX_ALLOCATION, MAX_ITERATIONS, TIME_BUDGET, WALL_CLOCK_BUDGET
from rules.methods import call_method, get_attribute
from rules.safe import FUNCTIONS, OPERATORS
from rules.scope import Scope
from rules.views import ReadOnlyDict, to_plain, unwrap, wrap

_BUILT = (str, list, tuple, dict, set, frozenset, bytes)
_DONE = object()


class Sandbox(SimpleEval):
    """The state of one evaluation: its names, loop variables, counters and deadline."""

    operators = OPERATORS  # read by SimpleEval._eval_compare

    def __init__(self, scope: Scope, source: str):
        # SimpleEval.__init__ is skipped on purpose: it builds per-instance dispatch tables,
        # which cost more than the whole evaluation of a guard; ours live at module level.
        self.expr = source
        self.scope = scope
        instance = scope.instance
        self.vars: dict[str, Any] = {
            "ctx": wrap(scope.ctx, None, "ctx"),
            "event": scope.event,
            "state": scope.state,
            "role": scope.role,
            "instance": None if instance is None else wrap(instance, None, "instance"),
        }
        self.iterations = 0
        self.allocated = 0
        self.deadline = thread_time() + TIME_BUDGET
        self.wall_deadline = perf_counter() + WALL_CLOCK_BUDGET

    def __del__(self) -> None:
        pass  # SimpleEval's __del__ clears its per-instance tables, which we never build

    def eval(self, expr: str, previously_parsed: Any = None) -> Any:
        raise TypeError("a Sandbox only runs checked trees: use rules.compile_expression")

    def run(self, tree: ast.expr) -> Any:
        return self._eval(tree)

    def _eval(self, node: ast.AST) -> Any:
        try:
            return _HANDLERS[type(node)](self, node)
        except Exception as exc:
            # The innermost node that failed is the one the error message points at.
            if not hasattr(exc, "rules_node"):
                exc.rules_node = node
            raise

    def charge(self, size: int) -> None:
        self.allocated += size
        if self.allocated > MAX_ALLOCATION:
            raise LimitExceeded(
                f"the expression built more than {MAX_ALLOCATION:,} characters or items",
                limit="allocation",
                maximum=MAX_ALLOCATION,
            )

    def check_loop(self) -> None:
        if self.iterations > MAX_ITERATIONS:
            raise LimitExceeded(
                f"comprehensions ran more than {MAX_ITERATIONS:,} iterations",
                limit="iterations",
                maximum=MAX_ITERATIONS,
            )
        self.check_time()

    def check_time(self) -> None:
        # Processor time of this thread bounds the work of an expression; it does not count
        # the time other threads hold the GIL, so a busy server does not fail honest guards.
        # The wall clock is the backstop for a thread that is starved anyway.
        if thread_time() > self.deadline:
            raise TimeBudgetExceeded(
                f"the evaluation took longer than {TIME_BUDGET * 1000:g} ms of processor time"
            )
        if perf_counter() > self.wall_deadline:
            raise TimeBudgetExceeded(
                f"the evaluation took longer than {WALL_CLOCK_BUDGET * 1000:g} ms of wall clock"
            )

    # Handlers, one per node type of the compiler's allow-list.

    def _constant(self, node: ast.Constant) -> Any:
        return node.value

    def _name(self, node: ast.Name) -> Any:
        return self.vars[node.id]

    def _attribute(self, node: ast.Attribute) -> Any:
        value = self._eval(node.value)
        if type(value) is ReadOnlyDict:
            return value[node.attr]
        if value is None:
            raise MissingKey(ast.unparse(node), f" ({ast.unparse(node.value)} is None)")
        return get_attribute(value, node.attr)

    def _subscript(self, node: ast.Subscript) -> Any:
        container = self._eval(node.value)
        key = node.slice.value if type(node.slice) is ast.Constant else self._eval(node.slice)
        if container is None:
            raise MissingKey(ast.unparse(node), f" ({ast.unparse(node.value)} is None)")
        result = container[unwrap(key)]
        if type(key) is slice and type(result) in _BUILT:
            self.charge(len(result))
        return result

    def _call(self, node: ast.Call) -> Any:
        self.check_time()
        func = node.func
        if type(func) is ast.Attribute:
            receiver = self._eval(func.value)
            args, kwargs = self._arguments(node)
            result = call_method(receiver, func.attr, args, kwargs)
            if type(receiver) is ReadOnlyDict and func.attr == "get":
                return result  # reads the caller's data, builds nothing
        elif func.id in _SCOPED_FUNCTIONS:
            args, kwargs = self._arguments(node)
            return _SCOPED_FUNCTIONS[func.id](self, *args, **kwargs)
        else:
            args, kwargs = self._arguments(node)
            result = FUNCTIONS[func.id](*args, **kwargs)
        if type(result) in _BUILT:
            self.charge(len(result))
        return result

    def _arguments(self, node: ast.Call) -> tuple[list[Any], dict[str, Any]]:
        args = [self._eval(arg) for arg in node.args]
        return args, {keyword.arg: self._eval(keyword.value) for keyword in node.keywords}

    def _binop(self, node: ast.BinOp) -> Any:
        result = OPERATORS[type(node.op)](self._eval(node.left), self._eval(node.right))
        if type(result) in _BUILT:
            self.charge(len(result))
        return result

    def _compare(self, node: ast.Compare) -> Any:
        if len(node.ops) == 1:
            left = self._eval(node.left)
            return OPERATORS[type(node.ops[0])](left, self._eval(node.comparators[0]))
        return SimpleEval._eval_compare(self, node)

    def _unaryop(self, node: ast.UnaryOp) -> Any:
        return OPERATORS[type(node.op)](self._eval(node.operand))

    def _sequence(self, node: ast.List | ast.Tuple | ast.Set) -> Any:
        self.charge(len(node.elts))
        items = [self._eval(item) for item in node.elts]
        return _SEQUENCE_TYPES[type(node)](items)

    def _dict(self, node: ast.Dict) -> dict:
        self.charge(len(node.keys))
        pairs = zip(node.keys, node.values, strict=True)
        return {self._eval(key): self._eval(value) for key, value in pairs}

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp) -> Any:
        scope = dict(self.vars)
        first = self._eval(node.generators[0].iter)
        saved, self.vars = self.vars, scope
        try:
            loops = self._loops(node.generators, 0, first)
            if type(node) is ast.DictComp:
                result: Any = {}
                for _ in loops:
                    self.charge(1)
                    result[self._eval(node.key)] = self._eval(node.value)
                return result
            items = []
            for _ in loops:
                self.charge(1)
                items.append(self._eval(node.elt))
        finally:
            self.vars = saved
        return items if type(node) is ast.ListComp else set(items)

    def _generator(self, node: ast.GeneratorExp) -> Iterator[Any]:
        # Lazy, like Python's: any() and all() stop at the first answer. The outermost
        # iterable is evaluated now, in the enclosing scope, as Python does.
        scope = dict(self.vars)
        first = self._eval(node.generators[0].iter)
        return self._lazy(node, scope, first)

    def _lazy(self, node: ast.GeneratorExp, scope: dict[str, Any], first: Any) -> Iterator[Any]:
        loops = self._loops(node.generators, 0, first)
        while True:
            # Whoever resumes this generator has its own variables: swap ours in, then out.
            saved, self.vars = self.vars, scope
            try:
                if next(loops, _DONE) is _DONE:
                    return
                value = self._eval(node.elt)
            finally:
                self.vars = saved
            yield value

    def _loops(self, generators: list, index: int, iterable: Any) -> Iterator[None]:
        """Bind the targets of generators[index:] in self.vars; yield once per combination."""
        generator = generators[index]
        target, conditions = generator.target, generator.ifs
        last = index + 1 == len(generators)
        for item in iterable:
            self.iterations += 1
            if self.iterations > MAX_ITERATIONS or not self.iterations & 15:
                self.check_loop()
            if type(target) is ast.Name:
                self.vars[target.id] = item
            else:
                _bind(target, item, self.vars)
            for condition in conditions:
                if not self._eval(condition):
                    break
            else:
                if last:
                    yield
                else:
                    inner = self._eval(generators[index + 1].iter)
                    yield from self._loops(generators, index + 1, inner)

    def _event_count(self, name: str) -> int:
        if not isinstance(name, str):
            raise TypeError("event_count() takes an event name")
        return int(self.scope.event_counts.get(name, 0))

    def _now(self) -> Any:
        return self.scope.clock()


def _bind(target: ast.expr, item: Any, scope: dict[str, Any]) -> None:
    if type(target) is ast.Name:
        scope[target.id] = item
        return
    values = list(item)
    if len(values) != len(target.elts):
        raise ValueError(f"cannot unpack {len(values)} values into {len(target.elts)} names")
    for part, value in zip(target.elts, values, strict=True):
        _bind(part, value, scope)


_SCOPED_FUNCTIONS = {"event_count": Sandbox._event_count, "now": Sandbox._now}
_SEQUENCE_TYPES = {ast.List: list, ast.Tuple: tuple, ast.Set: set}
_HANDLERS = {
    ast.Constant: Sandbox._constant,
    ast.Name: Sandbox._name,
    ast.Attribute: Sandbox._attribute,
    ast.Subscript: Sandbox._subscript,
    ast.Call: Sandbox._call,
    ast.BinOp: Sandbox._binop,
    ast.UnaryOp: Sandbox._unaryop,
    ast.BoolOp: SimpleEval._eval_boolop,
    ast.Compare: Sandbox._compare,
    ast.IfExp: SimpleEval._eval_ifexp,
    ast.Slice: SimpleEval._eval_slice,
    ast.List: Sandbox._sequence,
    ast.Tuple: Sandbox._sequence,
    ast.Set: Sandbox._sequence,
    ast.Dict: Sandbox._dict,
    ast.ListComp: Sandbox._comprehension,
    ast.SetComp: Sandbox._comprehension,
    ast.DictComp: Sandbox._comprehension,
    ast.GeneratorExp: Sandbox._generator,
}


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
    """Evaluate a checked tree; every failure becomes an ExpressionError."""
    sandbox = Sandbox(scope, source)
    try:
        return to_plain(sandbox.run(tree))
    except Exception as exc:
        raise _expression_error(exc, source) from exc


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
    return ExpressionError(message, details)


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
