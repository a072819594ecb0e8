"""Every hard limit: the last value allowed passes, the first one past it is an EXPRESSION_ERROR."""

import sys
import time
from datetime import UTC, datetime

import pytest

from rules import ExpressionError, ExpressionSyntaxError, Scope, compile_expression, limits
from tests.rules.support import failure, refusal, run


def test_the_limits_are_the_documented_numbers():
    assert (limits.MAX_SOURCE_LENGTH, limits.MAX_DEPTH) == (2000, 50)
    assert (limits.MAX_INT_BITS, limits.MAX_SIZE, limits.MAX_ALLOCATION) == (
        10_000,
        100_000,
        1_000_000,
    )
    assert (limits.MAX_ITERATIONS, limits.MAX_FORMAT_WIDTH, limits.MAX_ROUND_DIGITS) == (
        10_000,
        100,
        100,
    )
    assert (limits.MAX_NUMBER_TEXT, limits.TIME_BUDGET, limits.WALL_CLOCK_BUDGET) == (
        1000,
        0.04,
        0.5,
    )
    assert (limits.MAX_WORK, limits.MAX_CACHE_BYTES) == (1_000_000, 32 * 1024 * 1024)
    assert (limits.REQUEST_TIME_BUDGET, limits.REQUEST_MAX_WORK) == (1.0, 25_000_000)
    assert (limits.REQUEST_MAX_ALLOCATION, limits.REQUEST_MAX_ITERATIONS) == (25_000_000, 250_000)


def test_it_limits_the_length_of_the_source():
    assert run("1" + " " * 1999) == 1

    error = refusal("1" + " " * 2000)

    assert error.details["construct"] == "length"


def test_it_limits_the_nesting_depth_of_the_source():
    assert run("-" * 49 + "1") == -1

    error = refusal("-" * 50 + "1")

    assert error.details["construct"] == "nesting"


def test_it_refuses_nesting_too_deep_for_the_python_parser():
    assert refusal("(" * 300 + "1" + ")" * 300).details["construct"] == "syntax"
    assert refusal("[" * 300 + "]" * 300).details["construct"] == "syntax"


@pytest.mark.parametrize(
    ("allowed", "refused"),
    [
        ("2 ** 5000", "2 ** 5001"),
        ("(-2) ** 5000", "(-2) ** 5001"),
        ("2 ** 4999 * 2 ** 4999", "2 ** 5000 * 2 ** 5000"),
        ("1 << 9999", "1 << 10000"),
    ],
)
def test_it_limits_the_size_of_integers(allowed, refused):
    assert run(allowed).bit_length() <= 10_000

    error = failure(refused)

    assert error.details["reason"] == "limit_exceeded"
    assert error.details["limit"] == "int_bits"


def test_it_lets_small_bases_take_any_power():
    assert run("1 ** 10 ** 100, 0 ** 10 ** 100, (-1) ** (10 ** 100 + 1)") == (1, 0, -1)


@pytest.mark.parametrize(
    ("allowed", "refused"),
    [
        ("'a' * 100000", "'a' * 100001"),
        ("100000 * 'a'", "100001 * 'a'"),
        ("[0] * 100000", "[0] * 100001"),
        ("(0,) * 100000", "(0,) * 100001"),
        ("'a' * 50000 + 'b' * 50000", "'a' * 50000 + 'b' * 50001"),
        ("('a' * 50000).replace('a', 'bb')", "('a' * 50001).replace('a', 'bb')"),
        ("('a' * 99999).replace('', '')", "('a' * 50000).replace('', '-')"),
        ("'-'.join(['ab'] * 33333)", "'-'.join(['ab'] * 33334)"),
        ("'%s' % ('a' * 99990)", "'%s' % ('a' * 99997)"),
        ("str(['a' * 99990])", "str(['a' * 99995])"),
    ],
)
def test_it_limits_the_size_of_one_string_or_list(allowed, refused):
    assert len(run(allowed)) <= 100_000

    error = failure(refused)

    assert error.details["reason"] == "limit_exceeded"
    assert error.details["limit"] in ("size", "allocation")


def test_it_limits_what_one_evaluation_builds_in_total():
    assert len(run("[('a' * 99_000) for c in 'x' * 10]")) == 10

    error = failure("[('a' * 100_000) for c in 'x' * 10]")

    assert error.details["limit"] == "allocation"


def test_it_limits_comprehension_iterations():
    assert run("len([1 for c in 'x' * 10000])") == 10000

    assert failure("len([1 for c in 'x' * 10001])").details["limit"] == "iterations"


def test_it_counts_iterations_across_nested_comprehensions():
    assert run("len([1 for a in 'x' * 100 for b in 'x' * 99])") == 9900

    assert failure("len([1 for a in 'x' * 100 for b in 'x' * 100])").details["limit"] == (
        "iterations"
    )
    assert failure("sum(len([1 for b in 'x' * 100]) for a in 'x' * 100)").details["limit"] == (
        "iterations"
    )


@pytest.mark.parametrize(
    ("allowed", "refused"),
    [
        ("'%100d' % 1", "'%101d' % 1"),
        ("'%.100f' % 1", "'%.101f' % 1"),
        ("'%(n)100s' % {'n': 1}", "'%(n)101s' % {'n': 1}"),
        ("'%-100d' % 1", "'%*d' % (5, 1)"),
    ],
)
def test_it_limits_percent_format_widths(allowed, refused):
    assert run(allowed)

    assert failure(refused).details["limit"] == "format_width"


def test_it_limits_the_digits_of_round():
    assert run("round(1.5, 100), round(123, -100)") == (1.5, 0)

    assert failure("round(1.5, 101)").details["limit"] == "round_digits"
    assert failure("round(10 ** 100, -101)").details["limit"] == "round_digits"


def test_it_limits_numbers_written_as_text():
    assert run("int('1' * 1000) > 0 and float('1' * 1000) > 0")

    assert failure("int('1' * 1001)").details["limit"] == "number_text"
    assert failure("float('1' * 1001)").details["limit"] == "number_text"


def test_it_stops_an_evaluation_past_its_time_budget():
    def busy_clock():
        # Work the meter cannot see (the caller's own function), so only the clock stops it.
        deadline = time.thread_time() + 0.01
        while time.thread_time() < deadline:
            pass
        return datetime(2025, 1, 1, tzinfo=UTC)

    started = time.thread_time()
    error = failure("[now() for c in 'x' * 100]", Scope(clock=busy_clock))
    elapsed = time.thread_time() - started

    assert error.details["reason"] == "timeout"
    assert "longer than 40 ms of processor time" in error.message
    assert elapsed < 0.1


def test_it_does_not_count_time_spent_waiting_against_the_budget():
    def slow_clock():
        time.sleep(0.03)
        return datetime(2025, 1, 1, tzinfo=UTC)

    assert run("[now() for c in 'abc']", Scope(clock=slow_clock))[0].year == 2025


def test_it_stops_an_evaluation_past_its_wall_clock_backstop(monkeypatch):
    monkeypatch.setattr(limits, "WALL_CLOCK_BUDGET", 0.05)

    def slow_clock():
        time.sleep(0.03)
        return datetime(2025, 1, 1, tzinfo=UTC)

    error = failure("[now() for c in 'abcd']", Scope(clock=slow_clock))

    assert error.details["reason"] == "timeout"
    assert "50 ms of wall clock" in error.message


def test_it_turns_a_recursion_error_into_an_expression_error():
    expression = compile_expression("-" * 49 + "1")
    depth = _stack_depth()
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 40)
    try:
        with pytest.raises(ExpressionError) as caught:
            expression.evaluate()
    finally:
        sys.setrecursionlimit(old_limit)

    assert caught.value.details["reason"] == "too_deep"


def test_it_refuses_at_compile_time_rather_than_at_evaluation_where_it_can():
    with pytest.raises(ExpressionSyntaxError):
        compile_expression("x" * 5000)


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth
