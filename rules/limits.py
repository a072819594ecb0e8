"""Hard limits that no expression can pass. Each one is tested in tests/rules/test_limits.py."""

MAX_SOURCE_LENGTH = 2000  # characters of source text
MAX_DEPTH = 50  # nesting levels of the syntax tree
MAX_INT_BITS = 10_000  # size of an integer built by **, * or << (about 3,000 digits)
MAX_SIZE = 100_000  # characters of a string, items of a list, built by one operation
MAX_ALLOCATION = 1_000_000  # characters and items built during one evaluation, all together
MAX_ITERATIONS = 10_000  # comprehension iterations during one evaluation, nesting included
MAX_FORMAT_WIDTH = 100  # width or precision of a '%' conversion
MAX_ROUND_DIGITS = 100  # |ndigits| of round()
MAX_NUMBER_TEXT = 1000  # characters of a string given to int() or float()
TIME_BUDGET = 0.04  # seconds of processor time of the evaluating thread, per evaluation
WALL_CLOCK_BUDGET = 0.5  # seconds of wall clock per evaluation, however busy the process is
