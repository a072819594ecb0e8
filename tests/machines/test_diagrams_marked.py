"""mermaid_marked: a flowchart with taken transitions green and thick, the others dashed."""

from machines.definition import CHOICE, Definition, StateDef, TransitionDef
from machines.diagrams import (
    MARKED_NOT_TAKEN_STYLE,
    MARKED_TAKEN_STYLE,
    mermaid_marked,
)

DEFINITION = Definition(
    states=(
        StateDef("A", initial=True),
        StateDef("C", type=CHOICE),
        StateDef("B", final=True),
        StateDef("X|y"),
    ),
    transitions=(
        TransitionDef("A", "C", event="GO"),
        TransitionDef("C", "B", case_condition="ctx.a > 1", case_order=1),
        TransitionDef("C", "X|y", case_default=True),
    ),
)


def test_taken_edges_are_styled_covered_and_the_others_not():
    text = mermaid_marked(DEFINITION, {0: 2, 1: 1})
    assert text.startswith("flowchart LR\n")
    # Link 0 is the start arrow; transitions follow in listed order.
    assert f"    linkStyle 1 {MARKED_TAKEN_STYLE}" in text
    assert f"    linkStyle 2 {MARKED_TAKEN_STYLE}" in text
    assert f"    linkStyle 3 {MARKED_NOT_TAKEN_STYLE}" in text
    assert '    s0 -->|"GO ×2"| s1' in text
    assert '    s1 -->|"else"| s3' in text
    assert "    class s0,s1,s2 covered" in text
    assert "    class s3 uncovered" in text


def test_nothing_taken_leaves_every_state_uncovered_and_the_current_one_marked():
    text = mermaid_marked(DEFINITION, {}, current="A")
    assert MARKED_TAKEN_STYLE not in text
    assert "    class s1,s2,s3 uncovered" in text
    assert "    class s0 current" in text


def test_labels_are_escaped_and_unknown_indexes_ignored():
    text = mermaid_marked(DEFINITION, {0: 1, 99: 3, -1: 2})
    assert '    s3["X#124;y"]' in text
    assert '"[ctx.a #62; 1]"' in text
    assert "linkStyle 4" not in text
    assert '    s2(["B"])' in text and '    s1{"C"}' in text
