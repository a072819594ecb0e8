"""The meter of one evaluation: weights, work, allocation, iterations and time.

A value's weight is the items and characters it reaches, each reference counted: `[x] * 1000`
weighs 1,000 times `x` (plus its 1,000 slots), however little memory it holds. Weights are
measured once per object of an evaluation and remembered by identity, so an aliased structure
costs what its distinct objects hold to measure, not what it weighs.

Each counter stops at its own limit (rules/limits.py) or at what is left of the request's
budget (rules/budget.py), whichever is lower; the error says which of the two it was.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import chain
from time import perf_counter, thread_time
from typing import Any

from rules import limits
from rules.budget import RequestBudget, current_budget
from rules.errors import LimitExceeded, RequestBudgetExceeded, TimeBudgetExceeded
from rules.views import ReadOnlyDict, ReadOnlyList

_VIEWS = (ReadOnlyDict, ReadOnlyList)
_LEAVES = frozenset({str, int, float, bool, type(None)})
_SEQUENCES = (list, tuple, set, frozenset)
_SEQUENCE_TYPES = frozenset(_SEQUENCES)
_CONTAINER_TYPES = _SEQUENCE_TYPES | {dict}
TIME_CHECK_EVERY = 20_000  # units of work between two looks at the clock
# A unit of work is about one item compared or hashed in C (about 10 ns on our hosts). Work
# done item by item in Python (weighing, copying, walking a view) costs more per item:
PYTHON_ITEM = 8  # units per item handled by a Python loop
MEASURE_COST = 50  # units per container weighed, on top of its items
_BEING_WEIGHED = -1

_OWN = {
    "work": ("the expression did more than {:,} units of work", "MAX_WORK"),
    "allocation": ("the expression built more than {:,} characters or items", "MAX_ALLOCATION"),
    "iterations": ("comprehensions ran more than {:,} iterations", "MAX_ITERATIONS"),
}
_REQUEST_UNITS = {
    "work": "units of work",
    "allocation": "characters or items built",
    "iterations": "comprehension iterations",
}


class Meter:
    """Counters of one evaluation; `close` adds them to the request's budget."""

    __slots__ = (
        "started",
        "work",
        "allocated",
        "iterations",
        "weights",
        "weighed",
        "budget",
        "max",
        "next_check",
        "deadline",
        "wall_deadline",
        "request_deadline",
    )

    def __init__(self) -> None:
        now = thread_time()
        self.started = now
        self.work = self.allocated = self.iterations = 0
        # Weights by id(); the objects are kept alive in `weighed` so no id is reused meanwhile.
        # Plain ints, not (object, weight) pairs: fewer allocations for the garbage collector.
        self.weights: dict[int, int] = {}
        self.weighed: list[Any] = []
        self.max = {
            "work": limits.MAX_WORK,
            "allocation": limits.MAX_ALLOCATION,
            "iterations": limits.MAX_ITERATIONS,
        }
        self.deadline = now + limits.TIME_BUDGET
        self.wall_deadline = perf_counter() + limits.WALL_CLOCK_BUDGET
        self.request_deadline = False
        self.budget = current_budget()
        if self.budget is not None:
            self._within(self.budget, now)
        self.next_check = min(self.max["work"], TIME_CHECK_EVERY)

    def _within(self, budget: RequestBudget, now: float) -> None:
        """Lower each limit to what the request has left; refuse at once if nothing is."""
        left = {
            "work": budget.work - budget.work_spent,
            "allocation": budget.allocation - budget.allocated,
            "iterations": budget.iterations - budget.iterated,
        }
        for kind, amount in left.items():
            if amount <= 0:
                self._exceeded(kind, request=True)
            self.max[kind] = min(self.max[kind], amount)
        time_left = budget.time - budget.time_spent
        if time_left <= 0:
            self._request_timeout()
        if now + time_left < self.deadline:
            self.deadline, self.request_deadline = now + time_left, True

    def close(self) -> None:
        """Add this evaluation's counters to the request's budget, once, whatever happened."""
        if self.budget is not None:
            self.budget.add(
                time=thread_time() - self.started,
                work=self.work,
                allocated=self.allocated,
                iterated=self.iterations,
            )
            self.budget = None

    # Counters

    def spend(self, units: int) -> None:
        """Count work: comparisons, lookups, calls, measuring and copying."""
        self.work += units
        if self.work > self.next_check:
            if self.work > self.max["work"]:
                self._exceeded("work")
            self.check_time()
            self.next_check = min(self.max["work"], self.work + TIME_CHECK_EVERY)

    def charge(self, units: int) -> None:
        """Count what the evaluation built, by weight."""
        self.allocated += units
        if self.allocated > self.max["allocation"]:
            self._exceeded("allocation")

    def loop(self) -> None:
        """Check the iterations counted (the sandbox counts them inline); the clock every 16."""
        if self.iterations > self.max["iterations"]:
            self._exceeded("iterations")
        if not self.iterations & 15:
            self.check_time()

    def check_time(self) -> None:
        # Processor time of this thread bounds the work of an expression; it does not count
        # the time other threads hold the GIL, so a busy server does not fail honest guards.
        # The wall clock is the backstop for a thread that is starved anyway.
        if thread_time() > self.deadline:
            if self.request_deadline:
                self._request_timeout()
            budget = limits.TIME_BUDGET * 1000
            raise TimeBudgetExceeded(
                f"the evaluation took longer than {budget:g} ms of processor time"
            )
        if perf_counter() > self.wall_deadline:
            budget = limits.WALL_CLOCK_BUDGET * 1000
            raise TimeBudgetExceeded(f"the evaluation took longer than {budget:g} ms of wall clock")

    def _exceeded(self, kind: str, *, request: bool = False) -> None:
        own_message, own_name = _OWN[kind]
        own = getattr(limits, own_name)
        if request or self.max[kind] < own:
            total = getattr(self.budget, kind)
            raise RequestBudgetExceeded(
                "the request spent its budget for expressions: more than "
                f"{total:,} {_REQUEST_UNITS[kind]}",
                limit=f"request_{kind}",
                maximum=total,
            )
        raise LimitExceeded(own_message.format(own), limit=kind, maximum=own)

    def _request_timeout(self) -> None:
        seconds = self.budget.time
        raise RequestBudgetExceeded(
            f"the request spent its budget for expressions: more than {seconds:g} s of "
            "processor time",
            limit="request_time",
            maximum=seconds,
        )

    # Weights

    def weight(self, value: Any) -> int:
        """Items and characters `value` reaches, each reference counted (views: their data)."""
        kind = type(value)
        if kind is str:
            return len(value)
        if kind is int:
            return value.bit_length() >> 6  # a big integer counts one item per 8 bytes
        if kind in _LEAVES:
            return 0
        data = value._data if kind in _VIEWS else value
        known = self.weights.get(id(data))
        if known is not None and known >= 0:
            return known
        if type(data) in _CONTAINER_TYPES or _is_container(data):
            return self._measure(data)
        return 0

    def remember(self, value: Any, weight: int) -> None:
        """The weight of a value just built, known from its parts: no need to measure it."""
        self.weights[id(value)] = weight
        self.weighed.append(value)

    def _measure(self, obj: Any) -> int:
        """Weigh a container and each one under it not weighed yet (deep data: too deep)."""
        # The hot loop of measuring the caller's data: one call per container, common types
        # inline, the work counter updated in place (a 400 kB context has 40,000 containers).
        weights = self.weights
        weights[id(obj)] = _BEING_WEIGHED
        self.work += PYTHON_ITEM * len(obj) + MEASURE_COST
        if self.work > self.next_check:
            self.spend(0)
        if type(obj) is dict or (type(obj) not in _SEQUENCE_TYPES and isinstance(obj, Mapping)):
            total, parts = 2 * len(obj), chain(obj.keys(), obj.values())
        else:
            total, parts = len(obj), obj
        for part in parts:
            kind = type(part)
            if kind is str:
                total += len(part)
            elif kind is int:
                total += part.bit_length() >> 6
            elif kind not in _LEAVES:
                data = part._data if kind in _VIEWS else part
                known = weights.get(id(data))
                if known is None:
                    if type(data) in _CONTAINER_TYPES or _is_container(data):
                        total += self._measure(data)
                elif known == _BEING_WEIGHED:
                    raise ValueError("the data contains itself")
                else:
                    total += known
        weights[id(obj)] = total
        self.weighed.append(obj)
        return total

    def metered(self, items: Iterator[Any], *, by_weight: bool) -> Iterator[Any]:
        """`items`, each one counted as work as a built-in consumes it."""
        for item in items:
            self.spend(1 + self.weight(item) if by_weight else 1)
            yield item


def _is_container(value: Any) -> bool:
    return isinstance(value, _SEQUENCES) or isinstance(value, Mapping)
