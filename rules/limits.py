"""Hard limits that no expression can pass. Each one is tested in tests/rules/test_limits.py.

Sizes are weights: the items and characters a value reaches, counting each reference, so a
list repeated 100,000 times weighs 100,000 lists (docs/expressions.md, "Limits and budgets").
"""

MAX_SOURCE_LENGTH = 2000  # characters of source text
MAX_DEPTH = 50  # nesting levels of the syntax tree
MAX_INT_BITS = 10_000  # size of an integer built by **, * or << (about 3,000 digits)
MAX_SIZE = 100_000  # weight of what one operation builds (one string, list, item put in a list)
MAX_ALLOCATION = 1_000_000  # weight built during one evaluation, all together
MAX_ITERATIONS = 10_000  # comprehension iterations during one evaluation, nesting included
# Work: comparisons, `in`, hashing, built-in and method calls cost the weight they may walk.
# On a loaded 2-CPU host the slowest kinds of unit (hashing colliding keys, comparing nested
# dicts, weighing the caller's data) take up to 14 ns: 1,000,000 units are 15 ms or less, so
# this deterministic limit speaks well before TIME_BUDGET does. Honest guards spend 1 to a
# few thousand units; a loop that collects from a 1,000-item context about 30,000.
MAX_WORK = 1_000_000
MAX_FORMAT_WIDTH = 100  # width or precision of a '%' conversion
MAX_ROUND_DIGITS = 100  # |ndigits| of round()
MAX_NUMBER_TEXT = 1000  # characters of a string given to int() or float()
TIME_BUDGET = 0.04  # seconds of processor time of the evaluating thread, per evaluation
WALL_CLOCK_BUDGET = 0.5  # seconds of wall clock per evaluation, however busy the process is

# One request (every guard, case and show condition, explain and simulate step it evaluates)
# or one Celery task. An honest event evaluates a handful of guards of microseconds each, the
# explain view two per outgoing event, a 200-step simulation a few hundred: all far below.
# A request may spend what 25 evaluations at their limits would, about a second of processor
# time, then every further evaluation fails at once instead of holding the worker.
REQUEST_TIME_BUDGET = 1.0  # seconds of processor time spent evaluating, per request
REQUEST_MAX_WORK = 25 * MAX_WORK
REQUEST_MAX_ALLOCATION = 25 * MAX_ALLOCATION
REQUEST_MAX_ITERATIONS = 25 * MAX_ITERATIONS

# Compiled expressions kept per process, by the bytes their trees hold (rules/cache.py).
MAX_CACHE_BYTES = 32 * 1024 * 1024
