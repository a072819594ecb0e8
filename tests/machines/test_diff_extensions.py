"""What changed between two versions, with the modeling extensions: many-source rows compared as
the machine runs them, enterAction and errorTarget compared like any field."""

from machines.diffs import definition_diff
from tests.machines.builders import example, go, machine, state

STATES = ["APPLY", "DAD_PASS", "MOM_PASS", state("DONE", final=True), "FAILED"]


def done_from(source: str, **fields):
    return machine(STATES, [go(source, "DONE", "DONE", **fields)])


def test_a_list_that_grows_names_the_new_source_and_nothing_else():
    diff = definition_diff(done_from("APPLY,DAD_PASS"), done_from("APPLY,DAD_PASS,MOM_PASS"))

    assert diff.transitions_added == ('MOM_PASS --DONE--> DONE (source "APPLY,DAD_PASS,MOM_PASS")',)
    assert diff.transitions_removed == () and diff.transitions_changed == ()


def test_a_list_that_shrinks_names_the_source_it_lost_as_written_before():
    diff = definition_diff(done_from("APPLY,DAD_PASS,MOM_PASS"), done_from("APPLY,MOM_PASS"))

    removed = 'DAD_PASS --DONE--> DONE (source "APPLY,DAD_PASS,MOM_PASS")'
    assert diff.transitions_removed == (removed,)
    assert diff.transitions_added == ()


def test_rows_merged_into_a_list_that_runs_the_same_show_no_difference():
    rows = machine(STATES, [(s, "DONE", "DONE") for s in ("APPLY", "DAD_PASS", "MOM_PASS")])
    assert definition_diff(example("audit"), example("audit")).empty
    assert definition_diff(rows, done_from("APPLY,DAD_PASS,MOM_PASS")).empty


def test_a_new_target_for_a_list_is_a_change_of_each_source():
    old = done_from("APPLY,DAD_PASS")
    new = machine(STATES, [go("APPLY,DAD_PASS", "DONE", "FAILED")])

    diff = definition_diff(old, new)

    assert [(c.label, c.fields) for c in diff.transitions_changed] == [
        ('APPLY --DONE--> FAILED (source "APPLY,DAD_PASS")', (("target", "DONE", "FAILED"),)),
        ('DAD_PASS --DONE--> FAILED (source "APPLY,DAD_PASS")', (("target", "DONE", "FAILED"),)),
    ]


def test_a_star_row_reaches_a_state_added_since():
    old = machine(["A", state("X", final=True)], [("*", "CANCEL", "X")])
    new = machine(["A", "B", state("X", final=True)], [("*", "CANCEL", "X")])

    diff = definition_diff(old, new)

    assert diff.states_added == ("B",)
    assert diff.transitions_added == ('B --CANCEL--> X (source "*")',)


def test_a_state_given_its_own_transition_leaves_the_star_row():
    old = machine(["A", "B", state("X", final=True)], [("*", "CANCEL", "X")])
    new = machine(["A", "B", state("X", final=True)], [("*", "CANCEL", "X"), ("B", "CANCEL", "A")])

    (change,) = definition_diff(old, new).transitions_changed

    assert change.label == "B --CANCEL--> A" and change.fields == (("target", "X", "A"),)


def test_an_error_target_and_an_enter_action_are_changes():
    old = machine(STATES, [go("APPLY", "DONE", "DONE", action="https://a.example/")])
    new = machine(
        [state("APPLY", enter_action="https://a.example/in"), *STATES[1:]],
        [go("APPLY", "DONE", "DONE", action="https://a.example/", error_target="FAILED")],
    )

    diff = definition_diff(old, new)

    (state_change,) = diff.states_changed
    assert state_change.fields == (("enter_action", None, "https://a.example/in"),)
    (transition_change,) = diff.transitions_changed
    assert transition_change.label == "APPLY --DONE--> DONE"
    assert transition_change.fields == (("error_target", None, "FAILED"),)


def test_moving_a_row_is_no_change():
    old = machine(STATES, [("APPLY", "PASS", "DAD_PASS"), go("APPLY,DAD_PASS", "DONE", "DONE")])
    new = machine(STATES, [go("APPLY,DAD_PASS", "DONE", "DONE"), ("APPLY", "PASS", "DAD_PASS")])
    assert definition_diff(old, new).empty
