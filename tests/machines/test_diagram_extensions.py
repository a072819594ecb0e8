"""The diagrams and the table of the modeling extensions: many-source rows drawn expanded, a
state's enterAction on it, a transition's errorTarget as one more (dashed) edge."""

import json
import re
from pathlib import Path

import pytest

from machines.diagrams import (
    RENDERERS,
    mermaid_edge_rows,
    mermaid_marked,
    render_dot,
    render_mermaid,
    render_plantuml,
    state_table,
)
from tests.machines.builders import (
    EXAMPLE_NAMES,
    choice,
    from_seed,
    go,
    machine,
    state,
)
from tests.machines.test_diagrams import DOT_LINE, MERMAID_LINE, PLANTUML_LINE

DRAWN_BEFORE = Path(__file__).parent / "drawn_at_d19d427"
# A URL with every character that could end a label, a line or a statement of some format.
# The query and fragment are left out ("#" starts one), and at most 40 characters are shown.
HOSTILE_URL = 'https://u:secret@h.io/a"b]c[d{e}\\n:;%&<x>|//**--\nnext#frag?token=t'

# The extensions' own lines, beside what tests/machines/test_diagrams.py allows.
MERMAID_EXTENSION_LINE = re.compile(r"    \w+ : entry / (?:[^:;#\n]|#\d+;)+")
PLANTUML_EXTENSION_LINE = re.compile(r"\w+ -\[dashed\]-> \w+ : .+")


def drawn_before(name: str):
    """An example as it was at d19d427, before the examples used the extensions."""
    return from_seed(json.loads((DRAWN_BEFORE / f"{name}.json").read_text()))


def applied():
    """audit with its three DONE rows as one list, a "*" CANCEL, an entry action and an
    error target."""
    return machine(
        states=[
            state("APPLY", initial=True, enter_action="https://hooks.example.com/audit/applied"),
            "DAD_PASS",
            "MOM_PASS",
            choice("CHECK"),
            state("DONE", final=True),
            state("CANCELLED", final=True),
            "FAILED",
        ],
        transitions=[
            ("APPLY", "PASS", "DAD_PASS"),
            ("DAD_PASS", "PASS", "MOM_PASS"),
            go(
                "APPLY,DAD_PASS,MOM_PASS",
                "DONE",
                "CHECK",
                action="https://pay.example/done",
                error_target="FAILED",
                id=5,
            ),  # fmt: skip
            go("CHECK", None, "DONE", case_default=True),
            go("*", "CANCEL", "CANCELLED", id=9),
            ("FAILED", "CANCEL", "APPLY"),  # its own: "*" yields
        ],
    )


def edges(text: str, arrow: str = "-->") -> list[tuple[str, str]]:
    return re.findall(rf"^\s*\"?(\w+)\"? {re.escape(arrow)} \"?(\w+)\"?", text, re.M)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_a_definition_without_extensions_draws_byte_for_byte_as_before(name, fmt):
    assert RENDERERS[fmt](drawn_before(name)) == (DRAWN_BEFORE / f"{name}.{fmt}").read_text()


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_a_marked_diagram_without_extensions_is_as_before(name):
    definition = drawn_before(name)
    text = mermaid_marked(definition, {0: 2, 3: 1}, current=definition.states[1].value)
    assert text == (DRAWN_BEFORE / f"{name}.marked").read_text()


def test_a_list_row_draws_one_edge_per_state_it_names_in_every_format():
    definition = applied()
    for text in (render_mermaid(definition), render_plantuml(definition)):
        assert {(s, "CHECK") for s in ("APPLY", "DAD_PASS", "MOM_PASS")} <= set(edges(text))
        assert "APPLY,DAD_PASS" not in text and "state_" not in text  # the list is no node
    dot = render_dot(definition)
    assert {(s, "CHECK") for s in ("APPLY", "DAD_PASS", "MOM_PASS")} <= set(edges(dot, "->"))
    assert '"APPLY,DAD_PASS,MOM_PASS"' not in dot and '"*"' not in dot


def test_a_star_row_skips_final_and_choice_states_and_those_with_their_own_transition():
    text = render_mermaid(applied())

    cancels = [edge for edge in edges(text) if edge[1] == "CANCELLED"]
    assert cancels == [("APPLY", "CANCELLED"), ("DAD_PASS", "CANCELLED"), ("MOM_PASS", "CANCELLED")]
    assert ("FAILED", "APPLY") in edges(text)


def test_a_star_that_reaches_no_state_draws_nothing():
    definition = machine([state("A", final=True)], [("*", "CANCEL", "A")])
    assert "CANCEL" not in render_mermaid(definition)
    assert mermaid_edge_rows(definition) == {}


def test_an_enter_action_shows_on_its_state_in_every_format():
    definition = applied()

    assert '    state "APPLY" as APPLY\n    APPLY : entry / hooks.example.com/audit/applied\n' in (
        render_mermaid(definition)
    )
    assert '"APPLY" [label="APPLY\\nentry / hooks.example.com/audit/applied"];' in (
        render_dot(definition)
    )
    assert "\nAPPLY : entry / hooks.example.com/audit/applied\n" in render_plantuml(definition)


def test_an_enter_action_leaves_out_scheme_user_query_and_fragment_and_is_cut_short():
    definition = machine(
        [
            state("A", enter_action="https://bot:hunter2@x.example:8443/hook?key=abc#top"),
            state("B", enter_action="https://x.example/" + "p" * 100),
        ]
    )
    text = render_mermaid(definition)
    assert "A : entry / x.example#58;8443/hook\n" in text
    assert "hunter2" not in text and "abc" not in text and "https" not in text
    assert "B : entry / x.example/" + "p" * 29 + "…\n" in text


@pytest.mark.parametrize(
    ("render", "allowed"),
    [
        (render_mermaid, (MERMAID_LINE, MERMAID_EXTENSION_LINE)),
        (render_plantuml, (PLANTUML_LINE, PLANTUML_EXTENSION_LINE)),
        (render_dot, (DOT_LINE,)),
    ],
)
def test_an_enter_action_with_hostile_characters_cannot_break_the_syntax(render, allowed):
    definition = machine(
        [state("A", enter_action=HOSTILE_URL), state("B", enter_action="x\r\ny")],
        [go("A", "GO", "B", action="https://a.example/", error_target="B")],
    )
    text = render(definition)
    for line in text.splitlines():
        assert any(pattern.fullmatch(line) for pattern in allowed), line
    assert "secret" not in text and "token" not in text


def test_the_hostile_enter_action_is_escaped_per_format():
    definition = machine([state("A", enter_action=HOSTILE_URL)])
    mermaid = "    A : entry / h.io/a#34;b]c[d{e}\\n#58;#59;#37;#38;#60;x#62;|//**-- next\n"
    assert mermaid in render_mermaid(definition)
    dot = '"A" [label="A\\nentry / h.io/a\\"b]c[d{e}\\\\n:;%&<x>|//**-- next"];'
    assert dot in render_dot(definition)
    plantuml = "A : entry / h.io/a&#34;b]c[d{e}\\\\n:;%&#38;&#60;x&#62;|&#47;/&#42;*&#45;- next\n"
    assert plantuml in render_plantuml(definition)


def test_an_error_target_draws_a_dashed_edge_from_each_source():
    definition = applied()
    sources = ("APPLY", "DAD_PASS", "MOM_PASS")

    mermaid = render_mermaid(definition)
    for source in sources:  # a state diagram has no dashed arrow: the label says it
        assert f"    {source} --> FAILED : ⚠ DONE failed\n" in mermaid
    dot = render_dot(definition)
    for source in sources:
        assert f'"{source}" -> "FAILED" [label="DONE failed", style="dashed"];' in dot
    plantuml = render_plantuml(definition)
    for source in sources:
        assert f"{source} -[dashed]-> FAILED : DONE failed\n" in plantuml
    marked = mermaid_marked(definition, {})
    for index in range(3):
        assert f'    s{index} -.->|"DONE failed"| s6\n' in marked


def test_an_error_target_to_a_missing_state_draws_it_as_a_plain_node():
    definition = machine(["A", "B"], [go("A", "GO", "B", error_target="GHOST")])
    assert "    GHOST\n" in render_mermaid(definition)
    assert '"GHOST" [label="GHOST"];' in render_dot(definition)


def test_the_table_fills_one_cell_per_expanded_source_and_lists_error_targets():
    table = state_table(applied())

    assert table["events"] == ["PASS", "DONE", "CANCEL"]
    assert table["cells"]["MOM_PASS"] == {"DONE": "CHECK", "CANCEL": "CANCELLED"}
    assert table["cells"]["FAILED"] == {"CANCEL": "APPLY"}
    assert table["cells"]["DONE"] == {} and table["cells"]["CHECK"] == {}
    assert "APPLY,DAD_PASS,MOM_PASS" not in table["cells"] and "*" not in table["cells"]
    assert table["errorTargets"] == {
        source: {"DONE": "FAILED"} for source in ("APPLY", "DAD_PASS", "MOM_PASS")
    }


def test_the_error_target_of_a_repeated_cell_is_the_first_transitions():
    definition = machine(
        ["A", "B", "C"], [("A", "GO", "B"), go("A", "GO", "C", action="x", error_target="C")]
    )
    assert state_table(definition)["errorTargets"] == {}


def test_edge_indexes_and_numbers_are_the_expanded_transitions():
    definition = applied()

    rows = mermaid_edge_rows(definition)
    assert min(rows) == 2  # after the one start arrow
    # One arrow per expanded transition, then the error targets' arrows.
    assert list(rows.values()) == [0, 1, 2, 2, 2, 3, 4, 4, 4, 5] + [2, 2, 2]
    assert list(rows) == list(range(2, 2 + 13))
    assert mermaid_edge_rows(definition.expanded()) == rows

    noted = render_mermaid(definition, edge_notes={3: "7 times"})
    assert "    DAD_PASS --> CHECK : DONE · 7 times\n" in noted
    assert "    APPLY --> CHECK : DONE\n" in noted


def test_a_marked_diagram_marks_each_source_of_a_list_on_its_own():
    text = mermaid_marked(applied(), {2: 3})  # DONE from APPLY

    assert '    s0 -->|"DONE ×3"| s3\n' in text and '    s1 -->|"DONE"| s3\n' in text
    assert "    linkStyle 3 stroke:#15803d" in text and "    linkStyle 4 stroke:#9ca3af" in text
    assert "linkStyle 11 " not in text  # the error edges keep Mermaid's own dotted style
