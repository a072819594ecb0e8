import json

import pytest

from machines.callback_urls import url_problem
from machines.validation import Problem, Report, validate
from rules import ExpressionSyntaxError, compile_expression
from tests.machines.builders import (
    EXAMPLE_NAMES,
    branch,
    choice,
    example,
    go,
    machine,
    state,
)

ALLOWED = ("biz.example",)


def codes(report: Report) -> list[str]:
    return [p.code for p in report.errors + report.warnings]


def the(report: Report, code: str) -> Problem:
    """The one problem with that code."""
    found = [p for p in report.errors + report.warnings if p.code == code]
    assert len(found) == 1, codes(report)
    return found[0]


def transition_where(index, t, field=None):
    where = {
        "transition": index,
        "transitionId": t.id,
        "sourceState": t.source,
        "eventValue": t.event,
        "targetState": t.target,
    }
    return {**where, "field": field} if field else where


def routed(*branches, states=("S1", "S2", "S3")):
    """S1 --E1--> C1, then the given branches of C1; S2 and S3 are final."""
    return machine(
        [states[0], *(state(s, final=True) for s in states[1:]), choice("C1")],
        [("S1", "E1", "C1"), *branches],
    )


def rules_message(source: str) -> str:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source)
    return caught.value.message


# The examples ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_it_finds_nothing_wrong_with_the_examples(name):
    report = validate(example(name), allowed_hosts=ALLOWED)

    assert report.valid
    assert report.errors == ()
    assert report.warnings == ()


def test_it_reports_every_problem_of_a_machine_at_once():
    definition = machine(
        ["S1", "S2", choice("C1"), state("LOST", final=True), state("S3", final=True)],
        [
            go("S1", "E1", "C1"),
            go("S1", "E1", "S2"),
            go("S2", "E2", "S3", guard_condition="amount > 100"),
            go("S2", "E3", "NOWHERE"),
            branch("C1", "S2", default=True),
            branch("C1", "S3", default=True),
        ],
    )

    report = validate(definition)

    assert not report.valid
    assert sorted(p.code for p in report.errors) == [
        "CASE_DEFAULT_MULTIPLE",
        "EVENT_DUPLICATE",
        "EXPRESSION_INVALID",
        "STATE_UNREACHABLE",
        "TARGET_UNKNOWN",
    ]
    assert the(report, "CASE_DEFAULT_MULTIPLE").where == {"state": "C1", "transitions": [4, 5]}
    assert the(report, "STATE_UNREACHABLE").where == {"state": "LOST"}
    assert the(report, "TARGET_UNKNOWN").where["transition"] == 3
    assert the(report, "EXPRESSION_INVALID").where["field"] == "guardCondition"
    assert the(report, "EVENT_DUPLICATE").where["transition"] == 1


def test_its_report_is_json_ready():
    definition = machine(["S1", "S1"], [go("S1", "E1", "S1", id=12, action="ftp://x")])

    data = validate(definition).as_dict()

    assert json.loads(json.dumps(data)) == data
    assert data["valid"] is False
    assert {"code", "message", "where", "level"} == set(data["errors"][0])
    assert data["errors"][0]["level"] == "error"
    action = next(p for p in data["errors"] if p["code"] == "ACTION_URL_INVALID")
    assert action["where"]["transitionId"] == 12


# States ------------------------------------------------------------------------------------


def test_it_reports_a_duplicate_state_value():
    report = validate(machine(["S1", "S2", "S2"], [("S1", "E1", "S2")]))

    assert the(report, "STATE_DUPLICATE").where == {"state": "S2"}
    assert "S2" in the(report, "STATE_DUPLICATE").message


def test_it_reports_a_state_with_an_empty_value():
    report = validate(machine(["S1", " "], [("S1", "E1", " ")]))

    assert the(report, "STATE_VALUE_EMPTY").where == {"state": " ", "stateIndex": 1}


def test_it_reports_an_unknown_state_type():
    report = validate(machine(["S1", state("S2", type=3)], [("S1", "E1", "S2"), ("S2", "E", "S1")]))

    assert codes(report) == ["STATE_TYPE_INVALID"]
    assert the(report, "STATE_TYPE_INVALID").where == {"state": "S2"}


def test_it_reports_a_machine_without_an_initial_state():
    report = validate(machine([choice("C1")], [branch("C1", "C1", default=True)]))

    assert "INITIAL_MISSING" in codes(report)
    assert the(report, "INITIAL_MISSING").where == {}


def test_it_takes_the_first_normal_state_as_initial_when_none_is_marked():
    report = validate(machine([choice("C1"), "S1", state("S2", final=True)], [("S1", "E", "S2")]))

    assert "INITIAL_MISSING" not in codes(report)
    assert the(report, "STATE_UNREACHABLE").where == {"state": "C1"}


def test_it_reports_several_initial_states():
    definition = machine(
        [state("S1", initial=True), state("S2", initial=True, final=True)], [("S1", "E1", "S2")]
    )

    report = validate(definition)

    assert codes(report) == ["INITIAL_MULTIPLE"]
    assert the(report, "INITIAL_MULTIPLE").where == {"states": ["S1", "S2"]}


def test_it_reports_a_choice_state_marked_initial():
    definition = machine(
        [choice("C1", initial=True), state("S1", final=True)], [branch("C1", "S1", default=True)]
    )

    report = validate(definition)

    assert codes(report) == ["INITIAL_NOT_NORMAL"]
    assert the(report, "INITIAL_NOT_NORMAL").where == {"state": "C1"}


# Transitions -------------------------------------------------------------------------------


def test_it_reports_a_transition_from_an_unknown_state():
    definition = machine(
        ["S1", state("S2", final=True)], [("S1", "E1", "S2"), ("GHOST", "E", "S2")]
    )

    report = validate(definition)

    assert codes(report) == ["SOURCE_UNKNOWN"]
    where = transition_where(1, definition.transitions[1], "sourceState")
    assert the(report, "SOURCE_UNKNOWN").where == where


def test_it_reports_a_transition_to_an_unknown_state():
    definition = machine(["S1", state("S2", final=True)], [("S1", "E1", "S2"), ("S1", "E2", "X")])

    report = validate(definition)

    assert codes(report) == ["TARGET_UNKNOWN"]
    where = transition_where(1, definition.transitions[1], "targetState")
    assert the(report, "TARGET_UNKNOWN").where == where
    assert "'X'" in the(report, "TARGET_UNKNOWN").message


def test_it_reports_a_transition_from_a_normal_state_without_an_event():
    definition = machine(["S1", state("S2", final=True)], [("S1", None, "S2")])

    report = validate(definition)

    assert codes(report) == ["EVENT_MISSING"]
    assert the(report, "EVENT_MISSING").where == transition_where(
        0, definition.transitions[0], "eventValue"
    )


def test_it_reports_one_event_leading_one_state_to_two_places():
    definition = machine(
        ["S1", state("S2", final=True), state("S3", final=True)],
        [("S1", "E1", "S2"), ("S1", "E1", "S3")],
    )

    report = validate(definition)

    assert codes(report) == ["EVENT_DUPLICATE"]
    where = the(report, "EVENT_DUPLICATE").where
    assert where == {
        **transition_where(1, definition.transitions[1], "eventValue"),
        "duplicateOf": 0,
    }


def test_it_accepts_the_same_event_from_different_states_and_a_self_transition():
    definition = machine(
        ["S1", "S2", state("S3", final=True)],
        [("S1", "E1", "S2"), ("S2", "E1", "S3"), ("S1", "E0", "S1")],
    )

    assert codes(validate(definition)) == []


# Choice states -----------------------------------------------------------------------------


def test_it_reports_a_choice_branch_with_an_event():
    definition = routed(
        branch("C1", "S2", when="ctx.a", order=1, event="E9"), branch("C1", "S3", default=True)
    )

    report = validate(definition)

    assert codes(report) == ["CHOICE_HAS_EVENT"]
    assert the(report, "CHOICE_HAS_EVENT").where == transition_where(
        1, definition.transitions[1], "eventValue"
    )


def test_it_reports_two_branches_with_the_same_case_order():
    definition = routed(
        branch("C1", "S2", when="ctx.a", order=1),
        branch("C1", "S3", when="ctx.b", order=1),
        branch("C1", "S3", default=True),
    )

    report = validate(definition)

    assert codes(report) == ["CASE_ORDER_DUPLICATE"]
    where = the(report, "CASE_ORDER_DUPLICATE").where
    assert where == {
        **transition_where(2, definition.transitions[2], "caseOrder"),
        "duplicateOf": 1,
    }


def test_it_reports_a_branch_without_a_case_order():
    definition = routed(branch("C1", "S2", when="ctx.a"), branch("C1", "S3", default=True))

    report = validate(definition)

    assert codes(report) == ["CASE_ORDER_MISSING"]
    assert the(report, "CASE_ORDER_MISSING").where == transition_where(
        1, definition.transitions[1], "caseOrder"
    )


def test_it_reports_a_choice_state_without_a_default_branch():
    report = validate(routed(branch("C1", "S2", when="ctx.a", order=1)))

    assert codes(report) == ["CASE_DEFAULT_MISSING", "STATE_UNREACHABLE"]
    assert the(report, "CASE_DEFAULT_MISSING").where == {"state": "C1"}


def test_it_reports_a_choice_state_without_any_branch():
    definition = machine(["S1", choice("C1")], [("S1", "E1", "C1")])

    report = validate(definition)

    assert codes(report) == ["CASE_DEFAULT_MISSING"]
    assert the(report, "CASE_DEFAULT_MISSING").where == {"state": "C1"}


def test_it_reports_a_choice_state_with_two_default_branches():
    report = validate(routed(branch("C1", "S2", default=True), branch("C1", "S3", default=True)))

    assert codes(report) == ["CASE_DEFAULT_MULTIPLE"]
    assert the(report, "CASE_DEFAULT_MULTIPLE").where == {"state": "C1", "transitions": [1, 2]}


def test_it_reports_a_default_branch_with_a_case_condition():
    definition = routed(
        branch("C1", "S2", when="ctx.a", order=1), branch("C1", "S3", when="ctx.b", default=True)
    )

    report = validate(definition)

    assert codes(report) == ["CASE_DEFAULT_CONDITION"]
    assert the(report, "CASE_DEFAULT_CONDITION").where == transition_where(
        2, definition.transitions[2], "caseCondition"
    )


def test_it_reports_a_branch_without_a_case_condition():
    definition = routed(branch("C1", "S2", order=1), branch("C1", "S3", default=True))

    report = validate(definition)

    assert codes(report) == ["CASE_CONDITION_MISSING"]
    assert the(report, "CASE_CONDITION_MISSING").where == transition_where(
        1, definition.transitions[1], "caseCondition"
    )


def test_it_reports_a_cycle_of_choice_states_once():
    definition = machine(
        ["S1", choice("C1"), choice("C2"), state("S2", final=True)],
        [
            ("S1", "E1", "C1"),
            branch("C1", "C2", when="ctx.a", order=1),
            branch("C1", "S2", default=True),
            branch("C2", "C1", when="ctx.b", order=1),
            branch("C2", "S2", default=True),
        ],
    )

    report = validate(definition)

    assert codes(report) == ["CHOICE_CYCLE"]
    assert the(report, "CHOICE_CYCLE").where == {"states": ["C1", "C2"]}
    assert "C1, C2" in the(report, "CHOICE_CYCLE").message


def test_it_reports_a_choice_state_that_routes_to_itself():
    report = validate(
        routed(branch("C1", "C1", when="ctx.a", order=1), branch("C1", "S2", default=True))
    )

    assert "CHOICE_CYCLE" in codes(report)
    assert the(report, "CHOICE_CYCLE").where == {"states": ["C1"]}


def test_it_accepts_a_choice_state_that_returns_to_a_normal_state():
    assert codes(validate(example("design-example"))) == []


# Expressions -------------------------------------------------------------------------------


def test_it_reports_a_guard_that_uses_an_unknown_name():
    definition = machine(
        ["S1", state("S2", final=True)], [go("S1", "E1", "S2", guard_condition="amount > 1")]
    )

    report = validate(definition)

    problem = the(report, "EXPRESSION_INVALID")
    assert codes(report) == ["EXPRESSION_INVALID"]
    assert {k: v for k, v in problem.where.items() if k not in ("line", "column")} == (
        transition_where(0, definition.transitions[0], "guardCondition")
    )
    assert rules_message("amount > 1") in problem.message


def test_it_reports_a_case_condition_that_does_not_compile():
    definition = routed(
        branch("C1", "S2", when="ctx.a >", order=1), branch("C1", "S3", default=True)
    )

    problem = the(validate(definition), "EXPRESSION_INVALID")

    assert problem.where["field"] == "caseCondition"
    assert problem.where["transition"] == 1
    assert rules_message("ctx.a >") in problem.message


def test_it_reports_a_show_condition_that_does_not_compile():
    definition = machine(
        ["S1", state("S2", final=True)], [go("S1", "E1", "S2", show_condition="import os")]
    )

    problem = the(validate(definition), "EXPRESSION_INVALID")

    assert problem.where["field"] == "showCondition"


def test_it_passes_the_position_of_a_bad_expression():
    source = "ctx.a and nope"
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source)
    definition = machine(
        ["S1", state("S2", final=True)], [go("S1", "E", "S2", guard_condition=source)]
    )

    where = the(validate(definition), "EXPRESSION_INVALID").where

    assert where["column"] == caught.value.details["column"]
    assert where["line"] == caught.value.details["line"]


def test_it_accepts_the_names_and_functions_of_the_expression_language():
    guard = "ctx.amount > 0 and role in (1, 2) and event_count('E1') < 3 and len(ctx.items) > 0"
    definition = machine(
        ["S1", state("S2", final=True)], [go("S1", "E1", "S2", guard_condition=guard)]
    )

    assert codes(validate(definition)) == []


# Reachability and ends ---------------------------------------------------------------------


def test_it_reports_a_state_that_cannot_be_reached():
    definition = machine(
        ["S1", state("S2", final=True), "LOST"], [("S1", "E1", "S2"), ("LOST", "E1", "S2")]
    )

    report = validate(definition)

    assert codes(report) == ["STATE_UNREACHABLE"]
    assert the(report, "STATE_UNREACHABLE").level == "error"
    assert the(report, "STATE_UNREACHABLE").where == {"state": "LOST"}


def test_it_warns_about_a_normal_state_with_no_way_out():
    definition = machine(["S1", "STUCK"], [("S1", "E1", "STUCK"), ("STUCK", "AGAIN", "STUCK")])

    report = validate(definition)

    assert report.valid
    assert codes(report) == ["STATE_DEAD_END"]
    assert the(report, "STATE_DEAD_END").level == "warning"
    assert the(report, "STATE_DEAD_END").where == {"state": "STUCK"}


def test_a_transition_out_of_a_final_state_is_an_error():
    definition = machine(["S1", state("S2", final=True)], [("S1", "E1", "S2"), ("S2", "E2", "S1")])

    report = validate(definition)

    assert not report.valid
    assert codes(report) == ["FINAL_HAS_TRANSITIONS"]
    assert the(report, "FINAL_HAS_TRANSITIONS").level == "error"
    assert the(report, "FINAL_HAS_TRANSITIONS").where == {"state": "S2"}


def test_a_self_transition_on_a_final_state_is_an_error_too():
    definition = machine(["S1", state("S2", final=True)], [("S1", "E1", "S2"), ("S2", "E2", "S2")])

    assert codes(validate(definition)) == ["FINAL_HAS_TRANSITIONS"]


# Fields ------------------------------------------------------------------------------------


def one_transition(**fields):
    return machine(["S1", state("S2", final=True)], [go("S1", "E1", "S2", **fields)])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://biz.example/hook",
        "/hooks/go",
        "biz.example/hook",
        "http://",
        "http://biz.example:99999/",
        "http://biz .example/",
        "javascript:alert(1)",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://metadata.google.internal/",
    ],
)
def test_it_reports_an_action_that_is_not_an_absolute_http_url(url):
    definition = one_transition(action=url)

    report = validate(definition, allowed_hosts=["*"])

    assert codes(report) == ["ACTION_URL_INVALID"]
    assert the(report, "ACTION_URL_INVALID").where == transition_where(
        0, definition.transitions[0], "transitionAction"
    )


def test_it_reports_an_action_host_that_is_not_allowed():
    definition = one_transition(action="https://evil.example/hook")

    report = validate(definition, allowed_hosts=["biz.example"])

    assert codes(report) == ["ACTION_HOST_NOT_ALLOWED"]
    assert the(report, "ACTION_HOST_NOT_ALLOWED").where["field"] == "transitionAction"
    assert "evil.example" in the(report, "ACTION_HOST_NOT_ALLOWED").message


def test_it_allows_no_action_host_when_the_allow_list_is_empty():
    assert codes(validate(one_transition(action="http://biz.example/h"))) == [
        "ACTION_HOST_NOT_ALLOWED"
    ]


@pytest.mark.parametrize(
    "url, allowed, expected",
    [
        ("http://biz.example/hook", ["biz.example"], True),
        ("http://BIZ.example./hook", ["biz.EXAMPLE"], True),
        ("http://biz.example:8080/hook", ["biz.example"], True),
        ("http://biz.example:8080/hook", ["biz.example:8080"], True),
        ("http://biz.example:8081/hook", ["biz.example:8080"], False),
        ("http://biz.example/hook", ["biz.example:80"], True),
        ("https://biz.example/hook", ["biz.example:443"], True),
        ("https://biz.example/hook", ["biz.example:80"], False),
        ("http://api.biz.example/hook", ["biz.example"], False),
        ("http://api.biz.example/hook", [".biz.example"], True),
        ("http://biz.example/hook", [".biz.example"], True),
        ("http://notbiz.example/hook", [".biz.example"], False),
        ("http://anything.test/hook", ["*"], True),
        ("http://[::1]:8000/hook", ["[::1]:8000"], True),
        ("http://[::1]:8000/hook", ["::1"], True),
        ("http://127.0.0.1:8000/hook", ["127.0.0.1"], True),
        ("http://biz.example/hook", [], False),
        ("http://biz.example/hook", ["biz.example:http"], False),
    ],
)
def test_it_matches_action_hosts_against_the_allow_list(url, allowed, expected):
    assert (url_problem(url, allowed) is None) is expected


@pytest.mark.parametrize("seconds", [0, -30, 1.5, "30", True])
def test_it_reports_a_timer_that_is_not_a_positive_whole_number(seconds):
    definition = one_transition(timer_seconds=seconds)

    report = validate(definition)

    assert codes(report) == ["TIMER_INVALID"]
    assert the(report, "TIMER_INVALID").where == transition_where(
        0, definition.transitions[0], "timerSeconds"
    )


def test_it_reports_a_timer_on_a_choice_branch_or_without_an_event():
    definition = machine(
        ["S1", state("S2", final=True), choice("C1")],
        [
            go("S1", "E1", "C1"),
            branch("C1", "S2", default=True, timer_seconds=60),
            go("S1", None, "S2", timer_seconds=60),
        ],
    )

    report = validate(definition)

    timers = [p for p in report.errors if p.code == "TIMER_INVALID"]
    assert [p.where["transition"] for p in timers] == [1, 2]
    assert "normal state" in timers[0].message
    assert "needs an event" in timers[1].message


def test_it_accepts_a_timer_on_an_event_of_a_normal_state():
    assert codes(validate(one_transition(timer_seconds=1800))) == []


@pytest.mark.parametrize("roles", ["1,a", "1,,2", "seller", "1;2", "1.5"])
def test_it_reports_a_role_list_that_is_not_comma_separated_integers(roles):
    definition = one_transition(roles=roles)

    report = validate(definition)

    assert codes(report) == ["ROLE_INVALID"]
    assert the(report, "ROLE_INVALID").where == transition_where(
        0, definition.transitions[0], "eventRole"
    )


@pytest.mark.parametrize("roles", [None, "", " ", "1", "1,2", "1, 2", "-3,40"])
def test_it_accepts_empty_or_integer_role_lists(roles):
    assert codes(validate(one_transition(roles=roles))) == []


def test_it_warns_about_fields_that_are_ignored_where_they_stand():
    definition = routed(
        branch("C1", "S2", when="ctx.a", order=1, guard_condition="ctx.b", roles="1"),
        branch("C1", "S3", default=True),
    )
    definition = machine(
        definition.states,
        [go("S1", "E1", "C1", case_condition="ctx.c"), *definition.transitions[1:]],
    )

    report = validate(definition)

    assert report.valid
    assert [(p.code, p.where["transition"], p.where["field"]) for p in report.warnings] == [
        ("FIELD_IGNORED", 0, "caseCondition"),
        ("FIELD_IGNORED", 1, "guardCondition"),
        ("FIELD_IGNORED", 1, "eventRole"),
    ]
