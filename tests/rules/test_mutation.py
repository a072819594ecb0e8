"""An expression can never change the data it reads: the caller's context is exactly as before."""

import copy
from datetime import UTC, datetime

import pytest

from rules import RuleError, Scope, compile_expression
from tests.rules.support import order_context

INSTANCE = {"id": 42, "businessKey": "ORD-42", "createdAt": datetime(2025, 1, 2, tzinfo=UTC)}

MUTATORS = [
    "ctx.clear()",
    "ctx.update({'approved': True})",
    "ctx.update(approved=True)",
    "ctx.setdefault('approved', True)",
    "ctx.setdefault('forged', True)",
    "ctx.pop('amount')",
    "ctx.popitem()",
    "ctx['items'].append({'sku': 'X'})",
    "ctx.items.append({'sku': 'X'})",
    "ctx.items.extend([1])",
    "ctx.items.insert(0, 1)",
    "ctx.items.remove(ctx.items[0])",
    "ctx.items.pop()",
    "ctx.items.sort()",
    "ctx.items.reverse()",
    "ctx.items.clear()",
    "ctx.items[0].update({'qty': 0})",
    "ctx.order.subOrders[0].pop('status')",
    "ctx.customer.tags.clear()",
    "ctx.get('items').append(1)",
    "ctx.values()[0].clear()",
    "ctx.items()[0][1].clear()",
    "[i.update({'qty': 0}) for i in ctx.items]",
    "any(s.setdefault('status', 'DONE') for s in ctx.order.subOrders)",
    "ctx.__setitem__('approved', True)",
    "ctx.__delitem__('amount')",
    "ctx.items.__setitem__(0, None)",
    "ctx.items.__iadd__([1])",
    "ctx.items.__imul__(0)",
    "ctx.customer.__init__({})",
    "ctx.copy().clear()",
    "ctx.keys().clear()",
    "ctx.customer.tags.index('vip') and ctx.customer.tags.remove('vip')",
    "instance.update({'businessKey': 'forged'})",
    "instance.clear()",
    "setattr(ctx, 'approved', True)",
    "dict.update(ctx, approved=True)",
    "list.append(ctx.items, 1)",
    "[ctx.items.append(1) for _ in 'xyz']",
]

READERS = [
    "ctx.items",
    "ctx.order",
    "[i for i in ctx.items]",
    "{k: v for k, v in ctx.items()}",
    "ctx.customer.tags + ['new']",
    "ctx.customer.tags[::-1]",
    "ctx.values()",
    "(s for s in ctx.order.subOrders)",
    "ctx.get('customer')",
    "[ctx.customer, ctx.customer]",
]


def evaluate_or_refuse(source: str, scope: Scope):
    try:
        return compile_expression(source).evaluate(scope)
    except RuleError:
        return None


@pytest.mark.parametrize("source", MUTATORS)
def test_it_refuses_every_mutator_and_leaves_the_context_exactly_as_before(source):
    context, instance = order_context(), copy.deepcopy(INSTANCE)
    scope = Scope(ctx=context, instance=instance)

    with pytest.raises(RuleError):
        compile_expression(source).evaluate(scope)

    assert context == order_context()
    assert instance == INSTANCE


@pytest.mark.parametrize("source", READERS)
def test_it_hands_back_results_that_cannot_reach_the_context(source):
    context = order_context()
    result = evaluate_or_refuse(source, Scope(ctx=context))

    _scribble(result)

    assert context == order_context()


def test_it_keeps_the_stored_and_the_event_context_apart_from_the_expression():
    stored = order_context()
    event_context = {"approved": True, "comment": "ok"}
    merged = {**stored, **event_context}
    before = copy.deepcopy((stored, event_context, merged))

    for source in MUTATORS + READERS:
        evaluate_or_refuse(source, Scope(ctx=merged, instance=INSTANCE))

    assert (stored, event_context, merged) == before


def _scribble(value):
    """Change whatever the caller got back, as careless calling code might."""
    if isinstance(value, dict):
        for key in list(value):
            _scribble(value[key])
        value.clear()
        value["scribbled"] = True
    elif isinstance(value, list):
        for item in value:
            _scribble(item)
        value.append("scribbled")
