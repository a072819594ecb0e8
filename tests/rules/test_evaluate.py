"""Evaluating: every allowed construct, the names expressions may use, clear evaluation errors."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest

from rules import EMPTY_SCOPE, ExpressionError, RuleError, Scope, compile_expression
from rules.sandbox import Sandbox
from tests.rules.support import FIXED_NOW, failure, order_context, run, scope


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # literals and arithmetic
        ("1 + 2 * 3 - 4 / 2", 5.0),
        ("7 // 2, 7 % 2, 2 ** 10, -3, +3, ~0", (3, 1, 1024, -3, 3, -1)),
        ("6 & 3, 6 | 3, 6 ^ 3, 1 << 4, 256 >> 4", (2, 7, 5, 16, 16)),
        ("True, False, None", (True, False, None)),
        ("'a' + 'b' * 3", "abbb"),
        ("[1, 2] + [3], (1,) * 2", ([1, 2, 3], (1, 1))),
        ("{'k': [1, {'n': None}]}", {"k": [1, {"n": None}]}),
        ("{1, 2, 2}", {1, 2}),
        ("'%s=%05.1f%%' % ('x', 3.14159)", "x=003.1%"),
        ("'%(name)s' % {'name': 'Ada'}", "Ada"),
        # comparisons and logic
        ("1 < 2 <= 2 < 3", True),
        ("1 < 2 > 3", False),
        ("ctx.amount == 250 and ctx.amount != 251", True),
        ("ctx.customer.address is None and ctx.level is not None", True),
        ("'gold' in ('gold', 'vip') and 'x' not in ['a']", True),
        ("'amount' in ctx and 'nope' not in ctx", True),
        ("'vip' in ctx.customer.tags", True),
        ("'Love' in ctx.customer.name", True),
        ("0 or '' or 'last'", "last"),
        ("1 and 0 and 2", 0),
        ("not ctx.approved", True),
        ("'big' if ctx.amount > 100 else 'small'", "big"),
        # access
        ("ctx.order.subOrders[0].status", "DONE"),
        ("ctx['order']['subOrders'][-1]['status']", "OPEN"),
        ("ctx.customer['tags'][1]", "early"),
        ("ctx.items[1:][0].sku", "B"),
        ("ctx.customer.tags[::-1]", ["early", "vip"]),
        ("ctx.customer.name[:3]", "Ada"),
        # functions
        ("len(ctx.items), len(ctx.customer.name), len(ctx)", (3, 12, 8)),
        ("any([False, 0, 'x']), all([1, True]), all([])", (True, True, True)),
        ("sum(i.qty * i.price for i in ctx.items)", 1100),
        ("sum([0.5, 0.25], 1)", 1.75),
        ("min(3, 1, 2), max([3, 1, 2]), min([], default=7)", (1, 3, 7)),
        ("abs(-2.5), round(2.675, 2), round(7.5)", (2.5, 2.67, 8)),
        ("int('42'), int('ff', 16), int(3.9), float('1.5'), float(2)", (42, 255, 3, 1.5, 2.0)),
        ("str(12) + str(None) + str(True)", "12NoneTrue"),
        ("bool(ctx.customer.tags), bool(ctx.approved), bool('')", (True, False, False)),
        # comprehensions
        ("[s.id for s in ctx.order.subOrders if s.status == 'DONE']", [1, 2]),
        ("{s.status for s in ctx.order.subOrders}", {"DONE", "OPEN"}),
        ("{i.sku: i.qty for i in ctx.items}", {"A": 2, "B": 1, "C": 5}),
        ("[(a, b) for a in [1, 2] for b in 'xy' if a > 1]", [(2, "x"), (2, "y")]),
        ("[k for k, v in ctx.customer.items() if v]", ["name", "tags"]),
        ("[[y * 2 for y in x] for x in [[1], [2, 3]]]", [[2], [4, 6]]),
        ("[x for x in [1, 2] if x > 1 if x < 3]", [2]),
        ("[a + b for (a, (b, c)) in [(1, (2, 3))]]", [3]),
        ("all(s.status == 'DONE' for s in ctx.order.subOrders)", False),
        ("any(s.status == 'OPEN' for s in ctx.order.subOrders)", True),
        ("[x for x in (y * 2 for y in [1, 2])]", [2, 4]),
        # methods
        ("ctx.note.strip().lower().replace(' ', '-')", "rush-order"),
        ("ctx.customer.name.split(' ')", ["Ada", "Lovelace"]),
        ("', '.join(ctx.customer.tags)", "vip, early"),
        ("ctx.level.upper().startswith('GO') and ctx.level.endswith('d')", True),
        ("ctx.level.find('l'), ctx.level.count('o')", (2, 1)),
        ("'a-b'.partition('-')", ("a", "-", "b")),
        ("ctx.get('missing', 'fallback'), ctx.customer.get('name')", ("fallback", "Ada Lovelace")),
        ("ctx.customer.keys()", ["name", "tags", "address"]),
        ("ctx.customer.tags.count('vip'), ctx.customer.tags.index('early')", (1, 1)),
        ("{1, 2}.issubset({1, 2, 3})", True),
        ("ctx.customer.tags == ['vip', 'early'] and ctx.customer.tags != []", True),
        ("ctx.order == {'subOrders': ctx.order.subOrders}", True),
    ],
)
def test_it_evaluates_every_allowed_construct(source, expected):
    assert run(source) == expected


def test_it_reads_dict_keys_before_methods_but_calls_methods():
    context = {"items": [1, 2], "get": "a key named get"}

    assert run("ctx.items", scope(ctx=context)) == [1, 2]
    assert run("ctx.get", scope(ctx=context)) == "a key named get"
    assert run("ctx.items()", scope(ctx=context)) == [("items", [1, 2]), ("get", "a key named get")]


def test_it_gives_every_name_of_the_design():
    assert run("event, state, role") == ("approve", "REVIEW", 2)
    assert run("instance.id, instance.businessKey") == (42, "ORD-42")
    assert run("instance['businessKey']") == "ORD-42"
    assert run("instance.createdAt.year, instance.createdAt.month") == (2025, 1)


def test_it_counts_events_and_says_zero_for_an_event_never_seen():
    assert run("event_count('approve'), event_count('reject'), event_count('never')") == (2, 0, 0)


def test_it_asks_the_injected_clock_for_now():
    assert run("now()") == FIXED_NOW
    assert run("now() - instance.createdAt > now() - now()") is True
    assert run("(now() - instance.createdAt).days") == 71
    assert run("now().hour, now().isoformat()") == (15, "2025-03-14T15:09:26+00:00")
    assert run("now().date().weekday()") == 4


def test_it_uses_the_real_utc_clock_by_default():
    before = datetime.now(UTC)
    value = compile_expression("now()").evaluate(Scope())
    assert before <= value <= datetime.now(UTC) + timedelta(seconds=1)


def test_it_reads_dates_and_durations_in_the_context():
    context = {"due": date(2025, 3, 1), "wait": timedelta(hours=36)}

    assert run("ctx.due.day, ctx.due.isoweekday()", scope(ctx=context)) == (1, 6)
    assert run("ctx.wait.days, ctx.wait.total_seconds()", scope(ctx=context)) == (1, 129600.0)


def test_it_evaluates_with_no_scope_and_with_an_empty_one():
    assert compile_expression("1 + 1").evaluate() == 2
    assert compile_expression("len(ctx)").evaluate(EMPTY_SCOPE) == 0
    assert compile_expression("instance is None and event is None").evaluate(Scope()) is True


def test_it_stops_a_generator_at_the_first_answer_like_python():
    assert run("any(1 / x for x in [1, 0])") is True
    assert run("all(1 / x < 0 for x in [1, 0])") is False


def test_it_keeps_loop_variables_inside_their_comprehension():
    assert run("[x for x in [1, 2]] + [x for x in [3]]") == [1, 2, 3]
    assert run("[[x, y] for x in [1] for y in [x + 1]]") == [[1, 2]]
    assert run("[sum(x for x in row) for row in [[1, 2], [3]]]") == [3, 3]


def test_it_gives_results_as_plain_data_that_do_not_share_the_context():
    context = order_context()
    items = run("ctx.items", scope(ctx=context))
    tags = run("[t for t in ctx.customer.tags]", scope(ctx=context))
    gen = run("(i.sku for i in ctx.items)", scope(ctx=context))

    items[0]["qty"] = 999
    tags.append("x")

    assert context == order_context()
    assert type(items) is list and type(items[0]) is dict
    assert gen == ["A", "B", "C"]


def test_it_evaluates_the_thousand_item_guard_correctly():
    context = {"amount": 3, "items": [{"qty": i % 7} for i in range(1000)]}

    count = run("len([i for i in ctx['items'] if i['qty'] > ctx['amount']])", scope(ctx=context))

    assert count == sum(1 for i in range(1000) if i % 7 > 3)


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("ctx.missing", "ctx.missing"),
        ("ctx.order.subOrders[0].missing", "ctx.order.subOrders[0].missing"),
        ("ctx['order']['nope']", "ctx.order.nope"),
        ("ctx.items[7]", "ctx.items[7]"),
        ("ctx.customer.address.city", "ctx.customer.address.city"),
        ("all(s.done for s in ctx.order.subOrders)", "ctx.order.subOrders[0].done"),
        ("ctx['a key']", "ctx['a key']"),
        ("instance.nope", "instance.nope"),
    ],
)
def test_it_names_the_path_of_a_missing_key(source, path):
    error = failure(source)

    assert error.details["reason"] == "missing_key"
    assert error.details["path"] == path
    assert f"'{path}' is missing" in error.message


def test_it_lets_an_expression_guard_a_missing_key():
    assert run("'discount' in ctx and ctx.discount > 0") is False
    assert run("ctx.get('discount', 0) > 0") is False
    assert run("ctx.customer.address is not None and ctx.customer.address.city == 'X'") is False


@pytest.mark.parametrize(
    ("source", "reason", "column", "words"),
    [
        ("ctx.amount + 'x'", "type_error", 12, "unsupported operand"),
        ("ctx.amount < 'x'", "type_error", 12, "not supported"),
        ("ctx.amount / 0", "zero_division", 12, "division by zero"),
        ("int('abc')", "value_error", 1, "invalid literal"),
        ("ctx.items + 1", "type_error", 11, "'list' and 'int'"),
        ("ctx.level.lower", "not_allowed", 11, "str has no attribute 'lower'"),
        ("ctx.amount.lower()", "not_allowed", 12, "int has no method 'lower'"),
        ("now().replace(year=1)", "not_allowed", 7, "datetime has no method 'replace'"),
        ("{'a': 1}['b']", "missing_key", 9, "key 'b' is missing"),
        ("[a for a, b in [(1, 2, 3)]]", "value_error", 1, "cannot unpack"),
        ("event_count(1)", "type_error", 1, "event name"),
        ("sum([[1]], [])", "type_error", 1, "start must be a number"),
        ("2.0 ** 10000", "overflow", 5, "too large"),
    ],
)
def test_it_explains_an_evaluation_error_with_its_reason_and_column(source, reason, column, words):
    error = failure(source)

    assert isinstance(error, RuleError)
    assert error.code == "EXPRESSION_ERROR"
    assert error.details["reason"] == reason
    assert error.details["column"] == column
    assert error.details["expression"] == source
    assert words in error.message
    json.dumps(error.details)


def test_it_raises_only_expression_errors_whatever_the_context_holds():
    weird = scope(ctx={"obj": object(), "n": float("nan"), "deep": {"a": {"b": {"c": 1}}}})

    with pytest.raises(ExpressionError):
        run("ctx.obj.anything", weird)
    with pytest.raises(ExpressionError):
        run("ctx.obj + 1", weird)
    assert run("ctx.n != ctx.n and ctx.deep.a.b.c == 1", weird) is True


def test_it_shares_one_compiled_expression_between_threads():
    expression = compile_expression("sum(i.qty for i in ctx.items if i.qty > ctx.floor)")

    def total(n: int) -> int:
        context = {"floor": n % 3, "items": [{"qty": q} for q in range(n % 50)]}
        return expression.evaluate(Scope(ctx=context))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(total, range(400)))

    assert results == [sum(q for q in range(n % 50) if q > n % 3) for n in range(400)]


def test_it_never_evaluates_unchecked_text():
    with pytest.raises(TypeError):
        Sandbox(Scope(), "1").eval("().__class__")
