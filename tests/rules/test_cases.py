"""Ordered case selection: first true branch by case order, else the default, else None."""

from dataclasses import dataclass

import pytest

from rules import Branch, CaseError, ExpressionError, Scope, compile_expression, select_case


def branch(key, condition=None, order=None, default=False):
    expression = compile_expression(condition) if condition else None
    return Branch(key=key, condition=expression, order=order, is_default=default)


AMOUNT_150 = Scope(ctx={"amount": 150})


def test_it_takes_the_first_true_branch_by_case_order_not_by_position():
    branches = [
        branch("big", "ctx.amount > 100", order=2),
        branch("any", "ctx.amount > 0", order=1),
        branch("fallback", default=True),
    ]

    assert select_case(branches, AMOUNT_150).key == "any"


def test_it_skips_false_branches():
    branches = [
        branch("huge", "ctx.amount > 1000", order=1),
        branch("big", "ctx.amount > 100", order=2),
        branch("fallback", default=True, order=0),
    ]

    assert select_case(branches, AMOUNT_150).key == "big"


def test_it_takes_the_default_when_no_condition_is_true():
    branches = [
        branch("fallback", default=True),
        branch("huge", "ctx.amount > 1000", order=1),
    ]

    assert select_case(branches, AMOUNT_150).key == "fallback"


def test_it_answers_none_when_nothing_is_true_and_there_is_no_default():
    assert select_case([branch("huge", "ctx.amount > 1000", order=1)], AMOUNT_150) is None
    assert select_case([], AMOUNT_150) is None


def test_it_puts_unordered_branches_last_and_keeps_the_given_order_on_ties():
    branches = [
        branch("unordered", "True"),
        branch("second", "True", order=5),
        branch("first", "True", order=5),
    ]
    assert select_case(branches, AMOUNT_150).key == "second"
    assert select_case([branch("unordered", "True"), branch("x", "False", order=1)], AMOUNT_150)


def test_it_uses_truthiness_of_the_condition():
    branches = [branch("empty", "ctx.tags", order=1), branch("name", "ctx.name", order=2)]

    assert select_case(branches, Scope(ctx={"tags": [], "name": "x"})).key == "name"


def test_it_never_takes_a_non_default_branch_without_a_condition():
    branches = [branch("bare", order=1), branch("fallback", default=True)]

    assert select_case(branches, AMOUNT_150).key == "fallback"


def test_it_ignores_the_condition_of_a_default_branch():
    branches = [branch("fallback", "1 / 0", default=True)]

    assert select_case(branches, AMOUNT_150).key == "fallback"


def test_it_reports_a_raising_branch_instead_of_treating_it_as_false():
    branches = [
        branch("broken", "ctx.missing > 1", order=1),
        branch("fine", "True", order=2),
        branch("fallback", default=True),
    ]

    with pytest.raises(CaseError) as caught:
        select_case(branches, AMOUNT_150)

    error = caught.value
    assert isinstance(error, ExpressionError)
    assert error.code == "EXPRESSION_ERROR"
    assert error.details["branch"] == "broken"
    assert error.branch.key == "broken"
    assert error.details["reason"] == "missing_key"
    assert error.details["path"] == "ctx.missing"
    assert "branch 'broken'" in error.message and "'ctx.missing' is missing" in error.message


def test_it_does_not_evaluate_branches_after_the_chosen_one():
    branches = [branch("first", "True", order=1), branch("broken", "1 / 0", order=2)]

    assert select_case(branches, AMOUNT_150).key == "first"


def test_it_keeps_any_hashable_key_such_as_a_transition():
    @dataclass(frozen=True)
    class Transition:
        id: int
        target: str

    to_s2 = Transition(id=7, target="S2")
    broken = Transition(id=8, target="S3")

    assert select_case([branch(to_s2, "True", order=1)], AMOUNT_150).key is to_s2
    with pytest.raises(CaseError) as caught:
        select_case([branch(broken, "1 / 0", order=1)], AMOUNT_150)
    assert caught.value.details["branch"] is broken
    assert "branch 8" in caught.value.message
