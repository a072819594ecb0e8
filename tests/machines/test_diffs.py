"""What changed between two versions (machines/diffs.py), on hand-made definitions."""

from machines.diffs import definition_diff
from tests.machines.builders import branch, choice, example, machine, state


def test_the_same_definition_has_an_empty_diff():
    assert definition_diff(example("design-example"), example("design-example")).empty


def test_states_are_matched_by_value():
    old = machine(states=["A", "B"], transitions=[("A", "go", "B")])
    new = machine(states=["A", state("B", desc="bee"), "C"], transitions=[("A", "go", "B")])

    diff = definition_diff(old, new)

    assert diff.states_added == ("C",) and diff.states_removed == ()
    (change,) = diff.states_changed
    assert (change.label, change.fields) == ("B", (("desc", None, "bee"),))


def test_a_new_target_for_the_same_event_is_a_change_not_an_add_and_a_remove():
    old = machine(states=["A", "B", "C"], transitions=[("A", "go", "B")])
    new = machine(states=["A", "B", "C"], transitions=[("A", "go", "C"), ("B", "back", "A")])

    diff = definition_diff(old, new)

    assert diff.transitions_added == ("B --back--> A",)
    (change,) = diff.transitions_changed
    assert change.label == "A --go--> C" and change.fields == (("target", "B", "C"),)


def test_choice_branches_are_matched_by_source_and_target():
    def with_case(condition):
        return machine(
            states=["A", choice("C1"), "B", "D"],
            transitions=[
                ("A", "go", "C1"),
                branch("C1", "B", when=condition, order=1),
                branch("C1", "D", default=True),
            ],
        )

    diff = definition_diff(with_case("ctx.a > 1"), with_case("ctx.a > 2"))

    (change,) = diff.transitions_changed
    assert change.label == "C1 --> B"
    assert change.fields == (("case_condition", "ctx.a > 1", "ctx.a > 2"),)


def test_repeated_keys_are_matched_in_order():
    old = machine(states=["A", "B"], transitions=[("A", "go", "B")])
    new = machine(states=["A", "B"], transitions=[("A", "go", "B"), ("A", "go", "A")])

    diff = definition_diff(old, new)

    assert diff.transitions_added == ("A --go--> A",) and diff.transitions_changed == ()
