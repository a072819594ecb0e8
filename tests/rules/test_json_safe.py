"""json_safe: whatever an expression yields, its rendering is short, valid JSON text."""

import json
from datetime import UTC, datetime

import pytest

from rules import json_safe
from rules.jsonsafe import MAX_TEXT

HUGE = 10**5000  # Python refuses to print integers past 4,300 digits


def _strict_json(value) -> str:
    """As a strict renderer does: no NaN, UTF-8 bytes."""
    text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    return text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (7, 7),
        (-2.5, -2.5),
        ("plain", "plain"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        pytest.param(HUGE, "<integer of 5,001 digits>", id="huge-int"),
        pytest.param(-HUGE, "<-integer of 5,001 digits>", id="huge-negative-int"),
        ("a\ud800b", "a\\ud800b"),
        ("a\x00b", "a\\x00b"),
        (datetime(2025, 1, 2, tzinfo=UTC), "2025-01-02T00:00:00+00:00"),
    ],
)
def test_it_keeps_plain_scalars_and_names_the_others(value, expected):
    assert json_safe(value) == expected
    _strict_json(json_safe(value))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([float("nan"), HUGE, "\udfff", {"k": [1] * 100_000}], id="mixed-list"),
        pytest.param({"a": {"b": {"c": {"d": {"e": [1, 2, 3]}}}}}, id="deep-dict"),
        pytest.param({(1, 2), (3, 4)}, id="set-of-tuples"),
        pytest.param([[0] * 99_999] * 99_999, id="aliased-list"),
        pytest.param("x" * 100_000, id="long-string"),
        pytest.param(10**4300 - 1, id="int-of-4300-digits"),
    ],
)
def test_it_gives_anything_else_a_bounded_text(value):
    rendered = json_safe(value)

    assert len(_strict_json(rendered)) <= MAX_TEXT + 2


def test_it_keeps_an_integer_json_can_carry_in_a_few_hundred_digits():
    assert json_safe(10**300) == 10**300
