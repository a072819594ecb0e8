"""Compiling: the allow-list of constructs, the known names, and errors that say what and where."""

import ast
import json

import pytest

from rules import (
    KNOWN_NAMES,
    Expression,
    ExpressionSyntaxError,
    RuleError,
    check_expression,
    compile_expression,
)
from tests.rules.support import refusal, run, scope


def test_it_compiles_into_an_expression_with_its_source_names_and_paths():
    expression = compile_expression(
        "ctx.amount > 100 and event_count('approve') < 3 and all(s.ok for s in ctx.order.lines)"
    )

    assert isinstance(expression, Expression)
    assert expression.source.startswith("ctx.amount")
    assert expression.names == frozenset({"ctx", "event_count", "all"})
    assert expression.paths == ("ctx.amount", "ctx.order.lines")


def test_it_leaves_loop_variables_and_methods_out_of_the_names_and_paths():
    expression = compile_expression("[i.qty for i in ctx.items if i.sku.startswith('A')]")

    assert expression.names == frozenset({"ctx"})
    assert expression.paths == ("ctx.items",)


def test_it_records_the_paths_of_subscripts_with_text_keys():
    expression = compile_expression("ctx['order']['total'] > 0 and ctx.items[0].qty > 0")

    assert expression.paths == ("ctx.items", "ctx.order.total")


def test_it_makes_expressions_immutable():
    expression = compile_expression("ctx.a")

    with pytest.raises(AttributeError):
        expression.source = "ctx.b"
    with pytest.raises(AttributeError):
        del expression.names


def test_it_compiles_the_same_source_once():
    assert compile_expression("ctx.a + 1") is compile_expression("ctx.a + 1")
    assert compile_expression("ctx.a + 1") == compile_expression("ctx.a + 1")


def test_it_evaluates_without_parsing_again(monkeypatch):
    expression = compile_expression("ctx.amount * 2 > 300 and len(ctx.items) == 3")
    parsed = []
    real_parse = ast.parse

    def counting_parse(*args, **kwargs):
        parsed.append(args)
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting_parse)
    results = [expression.evaluate(scope()) for _ in range(3)]
    monkeypatch.undo()

    assert results == [True, True, True]
    assert parsed == []


@pytest.mark.parametrize(
    "source",
    [
        "ctx.a",
        "ctx['a']['b']",
        "event == 'approve' and state != 'DONE' and role in (1, 2)",
        "instance.businessKey.startswith('ORD')",
        "len(ctx.items) + sum(i.qty for i in ctx.items) - min(1, 2) * max(3, 4)",
        "abs(-1) + round(2.5) + int('3') + float('4.5')",
        "str(1) + 'x' if bool(ctx.flag) else None",
        "any([True, False]) or all({1, 2}) or {'k': 1}['k'] == 1",
        "[x for x in ctx.a] + [y for y, z in ctx.pairs if z]",
        "{k: v for k, v in ctx.d.items()} and {x for x in ctx.s}",
        "ctx.a[1:3] + ctx.a[::-1] + ctx.a[-1:]",
        "1 < ctx.n <= 10 and ctx.n is not None and ctx.n not in (3, 4)",
        "not ctx.a or -ctx.b < +ctx.c and ~ctx.d",
        "2 ** 8 // 3 % 2 / 1 << 2 >> 1 | 4 & 5 ^ 6",
        "now() > instance.createdAt and event_count('approve') >= 1",
        "'%s-%05d' % ('x', 42)",
        "[a for a in ctx.x for b in a.y if b]",
    ],
)
def test_it_accepts_every_allowed_construct(source):
    assert compile_expression(source).source == source


@pytest.mark.parametrize(
    ("source", "message", "column", "detail"),
    [
        ("ctx.amount > limit", "unknown name 'limit'", 14, {"name": "limit"}),
        ("ctx.a and eval('1')", "unknown function 'eval'", 11, {"name": "eval"}),
        ("ctx.__class__", "attribute '__class__' is not allowed", 5, {"name": "__class__"}),
        ("ctx.a._private", "names starting with '_'", 7, {"construct": "private attribute"}),
        ("ctx.items.append(1)", "unknown method 'append'", 11, {"name": "append"}),
        ("'{0}'.format(1)", "unknown method 'format'", 7, {"name": "format"}),
        ("1 + f'{ctx}'", "an f-string is not allowed", 5, {"construct": "an f-string"}),
        ("lambda: 1", "lambda is not allowed", 1, {"construct": "lambda"}),
        ("(x := 1)", "assignment expression (:=) is not allowed", 2, {}),
        ("[*ctx.a]", "star unpacking (*) is not allowed", 2, {}),
        ("{**ctx}", "dict unpacking (**) is not allowed", 4, {}),
        ("len(**ctx)", "'**' arguments are not allowed", 5, {"construct": "**"}),
        ("ctx.a @ ctx.b", "the @ operator is not allowed", 1, {"construct": "@"}),
        ("b'x'", "a bytes literal is not allowed", 1, {"construct": "a bytes literal"}),
        ("1j", "a complex literal is not allowed", 1, {}),
        ("...", "a ellipsis literal is not allowed", 1, {}),
        ("import os", "import is not allowed", 1, {"construct": "import"}),
        ("x = 1", "assignment is not allowed", 1, {"construct": "assignment"}),
        ("ctx.a; ctx.b", "more than one statement is not allowed", 8, {}),
        ("len", "'len' is a function: call it", 1, {"name": "len"}),
        ("ctx(1)", "'ctx' is not a function", 1, {"name": "ctx"}),
        ("ctx.a[0](1)", "only functions and methods can be called", 1, {"construct": "call"}),
        ("[ctx for ctx in ctx.a]", "'ctx' cannot be a loop variable", 10, {"name": "ctx"}),
        ("[1 for x.y in ctx.a]", "a loop variable must be a name", 8, {}),
        ("(x for x in ctx.a).gi_frame", "attribute 'gi_frame' is not allowed", 20, {}),
        ("ctx.a +", "invalid syntax", 8, {"construct": "syntax"}),
        ("(ctx.a", "'(' was never closed", 1, {"construct": "syntax"}),
        ("", "the expression is empty", 1, {"construct": "empty"}),
        ("   ", "the expression is empty", 1, {"construct": "empty"}),
        ("x" * 2001, "longer than 2,000 characters", 2001, {"construct": "length"}),
        ("-" * 60 + "1", "nested more than 50 levels deep", 51, {"construct": "nesting"}),
        ("ｃｔｘ.a", "uses look-alike characters (it reads 'ctx')", 1, {"name": "ctx"}),
    ],
)
def test_it_refuses_with_a_message_naming_the_problem_and_its_column(
    source, message, column, detail
):
    error = refusal(source)

    assert message in error.message
    assert f"at column {column}" in error.message
    assert error.details["column"] == column
    assert error.details["line"] == 1
    assert error.details["expression"] == source
    assert detail.items() <= error.details.items()


def test_it_counts_columns_in_characters_from_one():
    assert refusal("'é' + nope").details["column"] == 7
    assert refusal("'日本語' + nope").details["column"] == 9


def test_it_reports_columns_of_the_original_text_when_it_starts_with_blanks():
    error = refusal("   ctx.a + nope")

    assert error.details["column"] == 12
    assert run("   ctx.amount") == 250


def test_it_reports_the_line_of_an_expression_over_several_lines():
    error = refusal("(ctx.a and\n  nope)")

    assert (error.details["line"], error.details["column"]) == (2, 3)


def test_it_refuses_names_that_only_look_like_known_ones():
    assert refusal("ｅｖａｌ('1')").details["name"] == "eval"
    assert refusal("𝐜𝐭𝐱.a").details["name"] == "ctx"


def test_it_refuses_what_is_not_text():
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(42)

    assert caught.value.details["construct"] == "type"


def test_it_gives_rule_errors_the_platform_code_and_serialisable_details():
    error = refusal("ctx.a +* nope")

    assert isinstance(error, RuleError)
    assert error.code == "EXPRESSION_ERROR"
    assert str(error) == error.message
    json.dumps(error.details)


def test_it_knows_the_names_of_the_design():
    assert KNOWN_NAMES == {
        "ctx",
        "event",
        "state",
        "role",
        "instance",
        "len",
        "any",
        "all",
        "sum",
        "min",
        "max",
        "abs",
        "round",
        "int",
        "float",
        "str",
        "bool",
        "event_count",
        "now",
    }


def test_it_checks_a_good_expression_with_its_sorted_names():
    assert check_expression("len(ctx.items) > 0 and event == 'go'") == {
        "ok": True,
        "names": ["ctx", "event", "len"],
    }


def test_it_checks_a_bad_expression_with_the_error_and_its_column():
    answer = check_expression("ctx.amount > limit")

    assert answer["ok"] is False
    assert answer["names"] == []
    assert answer["error"]["column"] == 14
    assert answer["error"]["line"] == 1
    assert answer["error"]["name"] == "limit"
    assert "unknown name 'limit'" in answer["error"]["message"]


@pytest.mark.parametrize(
    "junk",
    [None, 1, 1.5, b"ctx", ["ctx"], {"a": 1}, "", "\x00", "ctx.a\x00", "'", '"""', "\\", "(" * 300],
    ids=repr,
)
def test_it_checks_any_input_without_raising(junk):
    answer = check_expression(junk)

    assert answer["ok"] is False
    assert answer["error"]["message"]
    json.dumps(answer)
