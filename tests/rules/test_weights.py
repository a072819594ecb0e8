"""Weights and work: a value counts what it refers to, and every operation pays what it walks."""

import tracemalloc

import pytest

from rules import Scope, compile_expression, limits
from rules.meter import Meter
from rules.plain import to_plain
from rules.sandbox import Sandbox
from tests.rules.support import failure, run

P = pytest.param
# 100 distinct small numbers, written out: expressions have no range().
HUNDRED = "[" + ",".join(map(str, range(100))) + "]"
COLLIDING = 2**61 - 1  # integers that are multiples of it all hash to 0

# One operation over values of allowed size, or aliased ones, that Python would run in C for
# seconds: each must end in a limit, not in the clock.
WORK_BOMBS = [
    P("[[0]*99999]*99999 == [[0]*99999]*99999", id="aliased-list-equality"),
    P("max([[0]*99999]*99999)", id="aliased-max"),
    P("([[0]*99999]*99999).count([0]*99999)", id="aliased-count"),
    P("((0,)*99999,)*99999 < ((0,)*99999,)*99999", id="aliased-tuple-order"),
    P("([[0]*99999]*99999).index([1])", id="aliased-index"),
    P("{'a': [[0]*99999]*99999} == {'a': [[0]*99999]*99999}", id="aliased-dict-equality"),
    P("((0,)*99999,)*99999 in {1}", id="aliased-tuple-hash"),
    P("[0]*99999 in [[0]*99999]*99999", id="aliased-membership"),
    P("[a == b for a in [[[0]*300]*300] for b in [[[0]*300]*300] for i in 'x'*9999]", id="eq"),
    P("[a < b for a in [((0,)*300,)*300] for b in [((0,)*300,)*300] for i in 'x'*9999]", id="lt"),
    P("[a == {'k': [[0]*300]*300} for a in [{'k': [[0]*300]*300}] for i in 'x'*9999]", id="dicts"),
    P("[{a} == {a} for a in [((0,)*300,)*300] for i in 'x'*9999]", id="sets"),
    P("[max(a) for a in [[[0]*300]*300] for i in 'x'*9999]", id="max"),
    P("[min(a, a) for a in [[[0]*300]*300] for i in 'x'*9999]", id="min-of-two"),
    P("[sum(a) for a in [[0]*99999] for i in 'x'*9999]", id="sum"),
    P("[any(a) for a in [[0]*99999] for i in 'x'*9999]", id="any"),
    P("[all(a) for a in [[1]*99999] for i in 'x'*9999]", id="all"),
    P("[a.count([1]) for a in [[[0]*300]*300] for i in 'x'*9999]", id="count"),
    P("[a.index(0) for a in [[1]*99998 + [0]] for i in 'x'*9999]", id="index"),
    P("[[0]*300 in a for a in [[[0]*300]*300] for i in 'x'*9999]", id="membership"),
    P("[s.count('ab') for s in ['ab'*50000] for i in 'x'*9999]", id="str-count"),
    P("[s.find('a'*98 + 'b') for s in ['a'*99999] for i in 'x'*9999]", id="str-find"),
    P("[len(s.split()) for s in ['a '*40000] for i in 'x'*9999]", id="str-split"),
    P("[s.upper() == s for s in ['a'*60000] for i in 'x'*9999]", id="str-upper"),
    P("[len('%s' % a) for a in [[[0]*300]*30] for i in 'x'*9999]", id="percent-format"),
    P("[len(str(a)) for a in [[[0]*300]*30] for i in 'x'*9999]", id="str-of-list"),
    P("[len(str(2**4999)) for i in 'x'*9999]", id="str-of-big-int"),
    P("[round(1.5, 100) for i in 'x'*9999]", id="round-digits"),
    P("[{1: 2}.get(k) for k in [((0,)*300,)*300] for i in 'x'*9999]", id="dict-get-hash"),
    P(f"len({{(a*100 + b) * {COLLIDING} for a in {HUNDRED} for b in {HUNDRED}}})", id="collide"),
    P(f"len({{(a, b) * 1 for a in {HUNDRED} for b in {HUNDRED}}} | {{0}})", id="tuple-set"),
]


@pytest.mark.parametrize("source", WORK_BOMBS)
def test_each_operation_over_large_or_aliased_values_ends_in_an_expression_error(source):
    error = failure(source, Scope())

    assert error.code == "EXPRESSION_ERROR"
    assert error.details["reason"] in ("limit_exceeded", "timeout")


@pytest.mark.parametrize("source", WORK_BOMBS)
def test_each_one_is_stopped_by_a_limit_that_does_not_depend_on_the_clock(source, monkeypatch):
    monkeypatch.setattr(limits, "TIME_BUDGET", 60.0)  # however slow this machine is
    monkeypatch.setattr(limits, "WALL_CLOCK_BUDGET", 60.0)

    error = failure(source, Scope())

    assert error.details["reason"] == "limit_exceeded"
    assert error.details["limit"] in ("size", "work", "allocation")


def test_a_list_repeated_weighs_what_it_refers_to():
    assert len(run("[[0] * 300] * 332")) == 332  # 332 lists of 300 items: 99,932

    error = failure("[[0] * 300] * 333")

    assert error.details["limit"] == "size"
    assert "the repetition" in error.message


def test_an_aliased_structure_is_weighed_by_its_distinct_objects_not_its_weight():
    meter = Meter()
    inner = [0] * 1000
    outer = [inner] * 1000

    assert meter.weight(outer) == 1000 + 1000 * 1000
    assert meter.work < 20_000  # each list's items were counted once, not a million times


def test_something_built_is_charged_once_and_each_further_reference_in_full():
    assert len(run("[('a' * 99_000) for c in 'x' * 10]")) == 10

    error = failure("[s for s in ['a' * 99_000] for c in 'x' * 11]")

    assert error.details["limit"] == "allocation"


def test_the_callers_data_is_charged_each_time_it_is_put_into_a_built_value():
    big = [{"id": i, "sku": f"SKU-{i:06d}", "note": "x" * 60} for i in range(4500)]
    scope = Scope(ctx={"big": big, "small": big[:100]})

    assert len(run("[ctx.small for i in 'a' * 9]", scope)) == 9
    tracemalloc.start()
    try:
        error = failure("[ctx.small for i in 'a' * 2000]", scope)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert error.details["limit"] == "allocation"
    assert peak < 8 * 1024 * 1024
    assert failure("[ctx.big for i in 'a' * 2000]", scope).details["limit"] == "size"


def test_a_generator_result_is_drawn_out_under_the_same_limits():
    scope = Scope(ctx={"small": [{"note": "x" * 60}] * 100})

    assert len(run("(ctx.small for i in 'a' * 9)", scope)) == 9
    assert failure("(ctx.small for i in 'a' * 2000)", scope).details["limit"] == "allocation"


def test_the_result_is_copied_under_the_work_limit(monkeypatch):
    monkeypatch.setattr(limits, "TIME_BUDGET", 60.0)  # the work limit decides, however slow
    monkeypatch.setattr(limits, "WALL_CLOCK_BUDGET", 60.0)  # or busy this machine is
    huge = {"rows": [[i] for i in range(200_000)]}

    error = failure("ctx.rows", Scope(ctx=huge))

    assert error.details["limit"] == "work"
    assert run("ctx.rows[:3]", Scope(ctx=huge)) == [[0], [1], [2]]


def test_a_result_shares_nothing_with_the_context_yet_copies_each_object_once():
    context = {"a": {"b": [1, 2]}}

    pair = run("[ctx.a, ctx.a]", Scope(ctx=context))

    assert pair == [{"b": [1, 2]}, {"b": [1, 2]}]
    assert pair[0] is pair[1] and pair[0] is not context["a"]


def test_data_that_contains_itself_is_an_error_not_a_hang():
    looped: list = [1]
    looped.append(looped)

    error = failure("[ctx.x]", Scope(ctx={"x": looped}))

    assert error.details["reason"] == "value_error"


def test_honest_guards_spend_a_small_part_of_the_work_limit():
    context = {"items": [{"qty": i % 7, "price": 3} for i in range(1000)], "tags": ["vip"]}
    sources = [
        "len([i for i in ctx['items'] if i['qty'] > 3]) > 10",
        "sum(i.qty * i.price for i in ctx.items) > 100",
        "all(i.qty < 7 for i in ctx.items) and 'vip' in ctx.tags",
        "ctx.items[0] == {'qty': 0, 'price': 3}",
    ]
    for source in sources:
        meter = Meter()
        tree = compile_expression(source)._tree
        to_plain(Sandbox(Scope(ctx=context), source, meter).run(tree), meter)

        assert meter.work < 100_000, source
