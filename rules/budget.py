"""The budget of one request: what all the evaluations it runs may spend together.

Each evaluation has its own limits (rules/limits.py); a request that evaluates many (a choice
state with a thousand branches, the explain view, a simulation) adds them up here, in a
context variable, so it stops after a bounded amount of work however many expressions it
reaches. Plain Python: the web middleware and the Celery signals open it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from rules import limits

_CURRENT: ContextVar[RequestBudget | None] = ContextVar("rules_request_budget", default=None)


@dataclass(slots=True)
class RequestBudget:
    """The totals of one request; `evaluate` adds each evaluation's counters when it ends."""

    # The limits are read when a budget opens, so a deployment (or a test) may change them.
    time: float = field(default_factory=lambda: limits.REQUEST_TIME_BUDGET)
    work: int = field(default_factory=lambda: limits.REQUEST_MAX_WORK)
    allocation: int = field(default_factory=lambda: limits.REQUEST_MAX_ALLOCATION)
    iterations: int = field(default_factory=lambda: limits.REQUEST_MAX_ITERATIONS)
    time_spent: float = 0.0
    work_spent: int = 0
    allocated: int = 0
    iterated: int = 0
    evaluations: int = 0

    def add(self, *, time: float, work: int, allocated: int, iterated: int) -> None:
        """Count one finished evaluation, whatever its outcome."""
        self.time_spent += time
        self.work_spent += work
        self.allocated += allocated
        self.iterated += iterated
        self.evaluations += 1


def current_budget() -> RequestBudget | None:
    """The budget open in this context, if any."""
    return _CURRENT.get()


@contextmanager
def request_budget(
    budget: RequestBudget | None = None, *, fresh: bool = False
) -> Iterator[RequestBudget]:
    """Run the block under one request budget; inside another one, join it instead.

    Joining, as `transaction.atomic` nests, means code can open a budget where it needs one
    (a simulation) without giving a request a fresh allowance in the middle of its own.
    `fresh` opens a budget of its own even inside another: a worker's task that applies an
    instance's queued events one after another gives each event its own, as each came alone.
    """
    current = _CURRENT.get()
    if current is not None and not fresh:
        yield current
        return
    opened = budget if budget is not None else RequestBudget()
    token = _CURRENT.set(opened)
    try:
        yield opened
    finally:
        _CURRENT.reset(token)
