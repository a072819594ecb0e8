"""The evaluator: a SimpleEval subclass that walks an already checked tree over read-only views.

It never parses: `rules.compiler` parsed and checked the tree once. Compared with SimpleEval it
looks names up in one dict (SimpleEval re-scans every value it returns, which made a loop over
1,000 items quadratic), meters every operation (rules/meter.py, rules/costs.py), and only
calls the functions and per-type methods of the allow-lists. Literals and comprehensions,
which build item by item, are in rules/building.py.
"""

from __future__ import annotations

import ast
import types
from typing import Any

from simpleeval import SimpleEval

from rules import building, costs
from rules.errors import MissingKey
from rules.meter import Meter
from rules.methods import call_method, get_attribute
from rules.safe import FUNCTIONS, OPERATORS, check_size
from rules.scope import Scope
from rules.views import ReadOnlyDict, unwrap, wrap

_BUILT = frozenset({str, list, tuple, dict, set, frozenset})
_SEQUENCES = (str, list, tuple)


class Sandbox(SimpleEval):
    """The state of one evaluation: its names, loop variables and meter."""

    operators = OPERATORS  # read by SimpleEval's helpers

    def __init__(self, scope: Scope, source: str, meter: Meter | None = None):
        # SimpleEval.__init__ is skipped on purpose: it builds per-instance dispatch tables,
        # which cost more than the whole evaluation of a guard; ours live at module level.
        self.expr = source
        self.scope = scope
        self.meter = meter if meter is not None else Meter()
        self.recent: Any = None  # the value the last building operation returned, charged
        instance = scope.instance
        self.vars: dict[str, Any] = {
            "ctx": wrap(scope.ctx, None, "ctx"),
            "event": scope.event,
            "state": scope.state,
            "role": scope.role,
            "instance": None if instance is None else wrap(instance, None, "instance"),
        }

    def __del__(self) -> None:
        pass  # SimpleEval's __del__ clears its per-instance tables, which we never build

    def eval(self, expr: str, previously_parsed: Any = None) -> Any:
        raise TypeError("a Sandbox only runs checked trees: use rules.compile_expression")

    def run(self, tree: ast.expr) -> Any:
        """The value of the tree; a generator is drawn out here, still under the meter."""
        value = self._eval(tree)
        if type(value) is types.GeneratorType:
            return building.collect(self, value)
        return value

    def _eval(self, node: ast.AST) -> Any:
        try:
            return _HANDLERS[type(node)](self, node)
        except Exception as exc:
            # The innermost node that failed is the one the error message points at.
            if not hasattr(exc, "rules_node"):
                exc.rules_node = node
            raise

    def _built(self, value: Any) -> Any:
        """Charge what an operation just built by its weight; it becomes the recent value."""
        if type(value) in _BUILT:
            weight = self.meter.weight(value)
            check_size(weight)
            self.meter.spend(len(value))
            self.meter.charge(weight)
            self.recent = value
        return value

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
        if type(node.slice) is ast.Constant:
            key = node.slice.value
        else:
            key = self._eval(node.slice)
            self.meter.spend(costs.subscript(self.meter, container, key))
        if container is None:
            raise MissingKey(ast.unparse(node), f" ({ast.unparse(node.value)} is None)")
        result = container[unwrap(key)]
        return self._built(result) if type(key) is slice else result

    def _call(self, node: ast.Call) -> Any:
        self.meter.check_time()
        func = node.func
        if type(func) is ast.Attribute:
            receiver = self._eval(func.value)
            args, kwargs = self._arguments(node)
            self.meter.spend(costs.method(self.meter, receiver, func.attr, args))
            args = costs.generators_metered(self.meter, args)
            result = call_method(receiver, func.attr, args, kwargs)
            if func.attr == "get":
                return result  # reads data that exists, builds nothing
            return self._built(result)
        args, kwargs = self._arguments(node)
        if func.id in _SCOPED_FUNCTIONS:
            return _SCOPED_FUNCTIONS[func.id](self, *args, **kwargs)
        cost, args = costs.function(self.meter, func.id, args)
        self.meter.spend(cost)
        result = FUNCTIONS[func.id](*args, **kwargs)
        return result if costs.aliases(func.id) else self._built(result)

    def _arguments(self, node: ast.Call) -> tuple[list[Any], dict[str, Any]]:
        args = [self._eval(arg) for arg in node.args]
        return args, {keyword.arg: self._eval(keyword.value) for keyword in node.keywords}

    def _binop(self, node: ast.BinOp) -> Any:
        left, right = self._eval(node.left), self._eval(node.right)
        op = type(node.op)
        weight = self._sequence_weight(op, left, right)
        if weight is None:
            self.meter.spend(costs.arithmetic(self.meter, op, left, right))
            return self._built(OPERATORS[op](left, right))
        check_size(weight, "the repetition" if op is ast.Mult else "the concatenation")
        self.meter.charge(weight)
        result = OPERATORS[op](left, right)
        self.meter.spend(1 + len(result))
        return building.finish(self, result, weight)

    def _sequence_weight(self, op: type, left: Any, right: Any) -> int | None:
        """The weight of a repetition or concatenation, known before it is built."""
        if op is ast.Mult:
            if isinstance(right, int) and isinstance(left, _SEQUENCES):
                return max(right, 0) * self.meter.weight(left)
            if isinstance(left, int) and isinstance(right, _SEQUENCES):
                return max(left, 0) * self.meter.weight(right)
        elif op is ast.Add and hasattr(left, "__len__") and hasattr(right, "__len__"):
            return self.meter.weight(left) + self.meter.weight(right)
        return None

    def _compare(self, node: ast.Compare) -> Any:
        left = self._eval(node.left)
        if len(node.ops) == 1:
            return self._compare_one(type(node.ops[0]), left, self._eval(node.comparators[0]))
        result = True
        for operation, comparator in zip(node.ops, node.comparators, strict=True):
            right = self._eval(comparator)
            result = self._compare_one(type(operation), left, right)
            if not result:
                return result
            left = right
        return result

    def _compare_one(self, op: type, left: Any, right: Any) -> Any:
        if op in _MEMBERSHIP:
            self.meter.spend(costs.contains(self.meter, left, right))
            if type(right) is types.GeneratorType:
                right = self.meter.metered(right, by_weight=True)
        else:
            self.meter.spend(costs.compare(self.meter, op, left, right))
        return OPERATORS[op](left, right)

    def _unaryop(self, node: ast.UnaryOp) -> Any:
        return OPERATORS[type(node.op)](self._eval(node.operand))

    def _event_count(self, name: str) -> int:
        if not isinstance(name, str):
            raise TypeError("event_count() takes an event name")
        return int(self.scope.event_counts.get(name, 0))

    def _now(self) -> Any:
        return self.scope.clock()


_MEMBERSHIP = (ast.In, ast.NotIn)
_SCOPED_FUNCTIONS = {"event_count": Sandbox._event_count, "now": Sandbox._now}
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
    ast.List: building.sequence,
    ast.Tuple: building.sequence,
    ast.Set: building.sequence,
    ast.Dict: building.mapping,
    ast.ListComp: building.comprehension,
    ast.SetComp: building.comprehension,
    ast.DictComp: building.comprehension,
    ast.GeneratorExp: building.generator,
}
