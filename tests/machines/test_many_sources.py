"""Transitions from many states: a comma list of states, or "*", expanded in one place."""

from machines.compiled import compile_definition
from machines.definition import MAX_EXPANDED_TRANSITIONS
from machines.validation import validate
from tests.machines.builders import choice, go, machine, state


def _approval(*extra_states, done_from="APPLY,DAD_PASS,MOM_PASS", more=()):
    return machine(
        [
            state("APPLY", initial=True),
            "DAD_PASS",
            "MOM_PASS",
            state("DONE", final=True),
            *extra_states,
        ],
        [
            ("APPLY", "PASS", "DAD_PASS"),
            ("DAD_PASS", "PASS", "MOM_PASS"),
            (done_from, "DONE", "DONE"),
            *more,
        ],
    )


CANCELLED = state("CANCELLED", final=True)


def _pairs(definition):
    return [(t.source, t.event, t.target, t.row) for t in definition.expanded().transitions]


def test_a_list_becomes_one_transition_per_state_in_its_order_keeping_its_row_and_id():
    definition = _approval(done_from="MOM_PASS, APPLY ,DAD_PASS")
    expanded = definition.expanded()
    assert _pairs(definition)[2:] == [
        ("MOM_PASS", "DONE", "DONE", 2),
        ("APPLY", "DONE", "DONE", 2),
        ("DAD_PASS", "DONE", "DONE", 2),
    ]
    assert {t.id for t in expanded.transitions[2:]} == {definition.transitions[2].id}
    assert definition.transitions[2].source == "MOM_PASS, APPLY ,DAD_PASS"  # kept as given


def test_star_reaches_every_normal_non_final_state_without_its_own_transition():
    definition = _approval(
        CANCELLED,
        choice("ROUTE"),
        more=[("*", "CANCEL", "CANCELLED"), ("DAD_PASS", "CANCEL", "APPLY")],
    )
    star = [(s, e, t) for s, e, t, row in _pairs(definition) if row == 3]
    # DAD_PASS has its own CANCEL; DONE and CANCELLED are final; ROUTE is a choice state.
    assert star == [("APPLY", "CANCEL", "CANCELLED"), ("MOM_PASS", "CANCEL", "CANCELLED")]
    assert _pairs(definition)[-1] == ("DAD_PASS", "CANCEL", "APPLY", 4)


def test_a_lists_own_pair_also_wins_over_star():
    definition = _approval(CANCELLED, more=[("*", "DONE", "CANCELLED")])
    report = validate(definition)
    assert [(s, e) for s, e, _, row in _pairs(definition) if row == 3] == []
    assert [p.code for p in report.warnings] == ["SOURCE_ANY_OVERRIDDEN"]
    assert "reaches no state" in report.warnings[0].message


def test_a_state_whose_value_has_a_comma_or_is_a_star_is_still_that_one_state():
    definition = machine(
        [state("A,B", initial=True), "*", "B"],
        [("A,B", "GO", "*"), ("*", "GO", "B")],
    )
    assert definition.expanded() is definition
    assert validate(definition).valid


def test_without_many_source_rows_the_definition_is_not_copied():
    definition = _approval(done_from="MOM_PASS")
    assert definition.expanded() is definition
    assert definition.expanded_size() == 3


def test_the_compiled_machine_fires_the_list_and_star_from_each_state():
    definition = _approval(CANCELLED, more=[("*", "CANCEL", "CANCELLED")])
    compiled = compile_definition(definition)
    for source in ("APPLY", "DAD_PASS", "MOM_PASS"):
        assert compiled.transition(source, "DONE").target == "DONE"
        assert compiled.transition(source, "CANCEL").target == "CANCELLED"
    assert compiled.transition("DONE", "CANCEL") is None
    assert [t.event for t in compiled.states["MOM_PASS"].events] == ["DONE", "CANCEL"]


def test_the_copies_of_a_row_share_its_compiled_guard():
    definition = _approval(
        CANCELLED, more=[go("*", "CANCEL", "CANCELLED", guard_condition="ctx.reason != ''")]
    )
    compiled = compile_definition(definition)
    guards = {id(compiled.transition(s, "CANCEL").guard) for s in ("APPLY", "MOM_PASS")}
    assert len(guards) == 1


# The validator ------------------------------------------------------------------------------


def _codes(report):
    return sorted(p.code for p in report.errors + report.warnings)


def test_the_approval_with_one_done_row_is_valid():
    report = validate(_approval())
    assert report.valid and not report.warnings, _codes(report)


def test_an_unknown_name_in_a_list_is_reported_once_with_the_name():
    report = validate(_approval(done_from="APPLY,DAD_PAS,MOM_PASS"))
    assert _codes(report) == ["SOURCE_UNKNOWN"]
    problem = report.errors[0]
    assert problem.where["state"] == "DAD_PAS" and problem.where["transition"] == 2
    assert problem.where["sourceState"] == "APPLY,DAD_PAS,MOM_PASS"
    assert "'DAD_PAS'" in problem.message


def test_an_empty_name_in_a_list_is_unknown():
    assert _codes(validate(_approval(done_from="APPLY,,MOM_PASS"))) == ["SOURCE_UNKNOWN"]


def test_a_choice_state_in_a_list_is_an_error_and_not_also_a_branch_problem():
    definition = _approval(
        choice("ROUTE"),
        done_from="APPLY,ROUTE",
        more=[("MOM_PASS", "GO", "ROUTE"), go("ROUTE", None, "DONE", case_default=True)],
    )
    assert _codes(validate(definition)) == ["SOURCE_LIST_CHOICE"]


def test_a_list_naming_a_final_state_is_a_transition_out_of_a_final_state():
    report = validate(_approval(CANCELLED, done_from="APPLY,DAD_PASS,MOM_PASS,CANCELLED"))
    assert "FINAL_HAS_TRANSITIONS" in [p.code for p in report.errors]


def test_a_list_and_a_row_with_the_same_source_and_event_are_a_duplicate():
    definition = _approval(CANCELLED, more=[("MOM_PASS", "DONE", "CANCELLED")])
    problem = next(p for p in validate(definition).errors if p.code == "EVENT_DUPLICATE")
    assert problem.where["transition"] == 3 and problem.where["duplicateOf"] == 2


def test_a_state_named_twice_in_one_list_is_a_duplicate_of_its_own_row():
    problem = validate(_approval(done_from="APPLY,MOM_PASS,APPLY")).errors[0]
    assert problem.code == "EVENT_DUPLICATE" and problem.where["duplicateOf"] == 2
    assert "twice" in problem.message


def test_two_star_rows_for_one_event_are_duplicates():
    more = [("*", "CANCEL", "CANCELLED"), ("*", "CANCEL", "APPLY")]
    assert "EVENT_DUPLICATE" in _codes(validate(_approval(CANCELLED, more=more)))


def test_star_yields_to_an_explicit_transition_with_a_warning_naming_the_states():
    more = [("*", "CANCEL", "CANCELLED"), ("DAD_PASS", "CANCEL", "APPLY")]
    report = validate(_approval(CANCELLED, more=more))
    assert report.valid
    assert [(p.code, p.where["states"]) for p in report.warnings] == [
        ("SOURCE_ANY_OVERRIDDEN", ["DAD_PASS"])
    ]


def test_star_without_an_event_is_reported_once():
    report = validate(_approval(more=[("*", None, "APPLY")]))
    assert [p.code for p in report.errors] == ["EVENT_MISSING"]


def test_a_star_row_makes_dead_ends_and_unreachable_states_right():
    # ISLAND's only way out and in come from "*": CANCEL reaches it from every state.
    definition = _approval("ISLAND", more=[("*", "CANCEL", "ISLAND"), ("ISLAND", "BACK", "APPLY")])
    assert validate(definition).valid


def test_more_expanded_transitions_than_the_bound_is_refused_without_expanding():
    states = [state(f"S{i}", initial=i == 0) for i in range(200)]
    rows = [(("*"), f"E{j}", "S0") for j in range(MAX_EXPANDED_TRANSITIONS // 200 + 1)]
    report = validate(machine(states, rows))
    assert [p.code for p in report.errors] == ["TRANSITIONS_TOO_MANY"]
