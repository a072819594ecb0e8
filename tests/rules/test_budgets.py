"""The request budget: every evaluation of one request spends from one allowance."""

import pytest

from rules import (
    Branch,
    CaseError,
    ExpressionError,
    RequestBudget,
    Scope,
    compile_expression,
    request_budget,
    select_case,
)
from rules.budget import current_budget
from tests.rules.support import failure

# About 9,000 comprehension iterations: well inside one evaluation's 10,000.
HEAVY = compile_expression("sum(1 for c in 'x' * 9000) < 0")


def _until_refused(expression, times: int) -> tuple[int, ExpressionError | None]:
    for done in range(times):
        try:
            expression.evaluate(Scope())
        except ExpressionError as exc:
            return done, exc
    return times, None


def test_evaluations_in_one_request_add_up_until_the_budget_refuses():
    with request_budget() as budget:
        done, error = _until_refused(HEAVY, 100)

    assert error is not None
    assert error.details["reason"] == "request_budget"
    assert error.details["limit"] == "request_iterations"
    assert 20 <= done < 30  # 250,000 iterations in all: 27 of these evaluations
    assert budget.evaluations == done + 1


def test_without_a_request_budget_only_each_evaluation_is_bounded():
    assert current_budget() is None

    done, error = _until_refused(HEAVY, 60)

    assert (done, error) == (60, None)


def test_a_spent_budget_refuses_even_the_smallest_expression_at_once():
    with request_budget():
        _until_refused(HEAVY, 100)

        error = failure("1 + 1", Scope())

    assert error.details["reason"] == "request_budget"
    assert error.code == "EXPRESSION_ERROR"


def test_an_inner_budget_joins_the_open_one_instead_of_starting_afresh():
    with request_budget() as outer:
        with request_budget() as inner:
            HEAVY.evaluate(Scope())

        assert inner is outer
        assert outer.iterated == 9000
    assert current_budget() is None


def test_a_fresh_budget_starts_afresh_inside_a_spent_one_and_gives_it_back_after():
    with request_budget() as outer:
        _until_refused(HEAVY, 100)
        with request_budget(fresh=True) as inner:
            assert inner is not outer and current_budget() is inner
            HEAVY.evaluate(Scope())  # not refused: its own allowance
        assert current_budget() is outer
        assert failure("1 + 1", Scope()).details["reason"] == "request_budget"
    assert inner.iterated == 9000


@pytest.mark.parametrize(
    ("budget", "limit"),
    [
        (RequestBudget(work=50_000), "request_work"),
        (RequestBudget(allocation=50_000), "request_allocation"),
        (RequestBudget(time=0.001), "request_time"),
    ],
)
def test_each_total_of_the_request_has_its_own_limit(budget, limit):
    expression = compile_expression("[len(s) for s in ['ab' * 5000] for c in 'x' * 900]")

    with request_budget(budget):
        done, error = _until_refused(expression, 200)

    assert error.details["reason"] == "request_budget"
    assert error.details["limit"] == limit


def test_the_request_budget_counts_failed_evaluations_too():
    with request_budget() as budget:
        failure("[1 for c in 'x' * 10001]", Scope())

    assert budget.iterated == 10_001
    assert budget.evaluations == 1


def test_a_case_selection_past_the_budget_names_the_branch_it_stopped_at():
    branches = [Branch(key=f"b{i}", condition=HEAVY, order=i) for i in range(1200)]
    branches.append(Branch(key="default", is_default=True))

    with request_budget(), pytest.raises(CaseError) as caught:
        select_case(branches, Scope())

    assert caught.value.details["reason"] == "request_budget"
    assert caught.value.details["branch"] not in ("b0", "default")
