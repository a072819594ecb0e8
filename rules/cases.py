"""Ordered case selection for choice states: the first true case by order, else the default."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from rules.compiler import Expression
from rules.errors import CaseError, ExpressionError
from rules.scope import Scope


@dataclass(frozen=True, slots=True)
class Branch:
    """One outgoing branch of a choice state; `key` identifies it (e.g. the transition id)."""

    key: Hashable
    condition: Expression | None = None
    order: int | None = None
    is_default: bool = False


def select_case(branches: Sequence[Branch], scope: Scope) -> Branch | None:
    """The first non-default branch by ascending order whose condition is true, else the
    default branch, else None. A condition that raises is a CaseError, never a silent false:
    its `details["branch"]` and `.branch.key` are the branch's key as given (JSON-serialisable
    when the key is).

    Branches without an order come after the ordered ones; equal orders keep the given order.
    A non-default branch without a condition is never taken.
    """
    ordered = sorted(branches, key=_order)
    for branch in ordered:
        if branch.is_default or branch.condition is None:
            continue
        try:
            taken = branch.condition.evaluate(scope)
        except ExpressionError as exc:
            details = {**exc.details, "branch": branch.key}
            message = f"the condition of branch {_name(branch.key)} failed: {exc.message}"
            raise CaseError(message, details, branch=branch) from exc
        if taken:
            return branch
    return next((branch for branch in ordered if branch.is_default), None)


def _order(branch: Branch) -> tuple[bool, int]:
    return (branch.order is None, branch.order or 0)


def _name(key: Hashable) -> str:
    """A short name for the message: the key's `id` when it has one (a transition), or the key."""
    return repr(getattr(key, "id", key))
