import re

import pytest

from machines.diagrams import (
    RENDERERS,
    render_dot,
    render_mermaid,
    render_plantuml,
    state_table,
)
from tests.conftest import example_seed
from tests.machines.builders import (
    EXAMPLE_NAMES,
    branch,
    choice,
    example,
    from_seed,
    go,
    machine,
    state,
)

# One line of what render_mermaid may print: anything else is a syntax risk.
MERMAID_LINE = re.compile(
    r"stateDiagram-v2"
    r"|    \w+"
    r"|    state \w+ <<choice>>"
    r"|    note right of \w+ : [^:;\n]+"
    r'|    state "[^"\n]*" as \w+'
    r"|    (\[\*\]|\w+) --> (\[\*\]|\w+)( : [^:;\n]+)?"
)
PLANTUML_LINE = re.compile(
    r"@startuml|@enduml|hide empty description"
    r"|state \w+( <<choice>>)?"
    r"|note right of \w+ : .+"
    r'|state "[^"\n]*" as \w+'
    r"|\w+ : .+"
    r"|(\[\*\]|\w+) --> (\[\*\]|\w+)( : .+)?"
)
DOT_QUOTED = r'"(?:[^"\\]|\\.)*"'
DOT_ATTRIBUTE = rf"\w+=({DOT_QUOTED}|[\w.]+)"
DOT_LINE = re.compile(
    rf"digraph machine {{|}}|    \w+ \[.*\];|    rankdir=LR;"
    rf"|    {DOT_QUOTED}( -> {DOT_QUOTED})?( \[{DOT_ATTRIBUTE}(, {DOT_ATTRIBUTE})*\])?;"
)


def odd_machine():
    """States and labels with spaces, quotes, keywords and each format's special characters."""
    return machine(
        states=[
            state("waiting room", desc='says "hi"\non two lines'),
            state("end", final=True),
            choice("default", desc="route: a; b"),
            state('x"y\\z'),
        ],
        transitions=[
            go(
                "waiting room", "go: now; #1 %% <b>", "default", guard_condition="ctx['a'] // 2 > 1"
            ),
            branch("default", "end", when="ctx.note == 'direction LR'", order=1),
            branch("default", 'x"y\\z', default=True),
            go('x"y\\z', "back", "waiting room"),
        ],
    )


def words(text):
    return set(re.findall(r"[A-Za-z0-9_]+", text))


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_it_draws_every_state_and_event_of_an_example(name, fmt):
    definition = example(name)
    text = RENDERERS[fmt](definition)

    present = words(text)
    assert {s.value for s in definition.states} <= present
    assert {t.event for t in definition.transitions if t.event} <= present


def test_it_offers_the_three_formats():
    assert RENDERERS == {"mermaid": render_mermaid, "dot": render_dot, "plantuml": render_plantuml}


def test_it_draws_choice_states_as_choices_in_mermaid():
    text = render_mermaid(example("design-example"))

    assert text.startswith("stateDiagram-v2\n")
    assert "    state C1 <<choice>>\n" in text
    assert "    state C2 <<choice>>\n" in text
    assert "    note right of C2 : C2#58; choice 2#58; enough sub-tasks?\n" in text
    assert "<<choice>>" not in text.replace("C1 <<choice>>", "").replace("C2 <<choice>>", "")


def test_it_draws_start_end_events_guards_and_branches_in_mermaid():
    text = render_mermaid(example("design-example"))

    assert '    state "START#58; start" as START\n' in text
    assert "    [*] --> START\n" in text
    assert "    S4 --> [*]\n" in text
    assert "    START --> S1 : E1\n" in text
    assert "    C1 --> S21 : [ctx.amount #62;= 100]\n" in text
    assert "    C1 --> S22 : else\n" in text
    guarded = machine(["S1", "S2"], [go("S1", "E1", "S2", guard_condition="ctx.ok")])
    assert "    S1 --> S2 : E1 [ctx.ok]\n" in render_mermaid(guarded)


def test_it_draws_choice_states_as_diamonds_and_final_states_as_double_circles_in_dot():
    text = render_dot(example("design-example"))

    assert text.startswith("digraph machine {\n")
    assert '    "C1" [label="C1\\nchoice 1", shape="diamond"];\n' in text
    assert '    "S4" [label="S4", shape="doublecircle"];\n' in text
    assert '    "__start__" -> "START";\n' in text
    assert '    "C1" -> "S21" [label="[ctx.amount >= 100]"];\n' in text
    assert '    "C1" -> "S22" [label="else", style="dashed"];\n' in text


def test_it_draws_choice_states_as_choices_in_plantuml():
    text = render_plantuml(example("design-example"))

    assert text.startswith("@startuml\n")
    assert text.endswith("@enduml\n")
    assert "state C1 <<choice>>\n" in text
    assert "START : start\n" in text
    assert "[*] --> START\n" in text
    assert "S4 --> [*]\n" in text
    assert "C1 --> S21 : [ctx.amount &#62;= 100]\n" in text
    assert "C2 --> S3 : else\n" in text


def test_it_shows_timers_on_edges():
    timed = machine(
        ["UNPAID", state("CANCELLED", final=True)],
        [go("UNPAID", "expire", "CANCELLED", timer_seconds=1800)],
    )

    assert "UNPAID --> CANCELLED : expire (after 1800s)" in render_mermaid(timed)


@pytest.mark.parametrize(
    "render, line",
    [(render_mermaid, MERMAID_LINE), (render_plantuml, PLANTUML_LINE), (render_dot, DOT_LINE)],
    ids=["mermaid", "plantuml", "dot"],
)
@pytest.mark.parametrize("name", ["odd", *EXAMPLE_NAMES])
def test_every_line_it_prints_is_a_statement_the_format_knows(render, line, name):
    text = render(odd_machine() if name == "odd" else example(name))

    for printed in text.splitlines():
        # Mermaid swaps its "#<code>;" entities out before it parses a line.
        assert line.fullmatch(re.sub(r"#\d+;", "_", printed)), printed


def test_it_gives_odd_state_values_safe_ids_and_shows_them_as_labels_in_mermaid():
    text = render_mermaid(odd_machine())

    assert '    state "waiting room#58; says #34;hi#34; on two lines" as state_0\n' in text
    assert '    state "end" as state_1\n' in text  # a keyword
    assert "    state state_2 <<choice>>\n" in text  # Mermaid reads "default" as a keyword
    assert "    note right of state_2 : default#58; route#58; a#59; b\n" in text
    assert "    state_0 --> state_2 : go#58; now#59; #35;1 #37;#37; #60;b#62; [" in text
    assert "directio#110; LR" in text
    assert "    state_1 --> [*]\n" in text


def test_it_escapes_quotes_and_backslashes_in_dot():
    text = render_dot(odd_machine())

    assert '    "x\\"y\\\\z" [label="x\\"y\\\\z"];\n' in text
    assert '[label="waiting room\\nsays \\"hi\\" on two lines"]' in text
    assert '    "default" -> "x\\"y\\\\z" [label="else", style="dashed"];\n' in text


def test_it_escapes_entities_and_creole_markup_in_plantuml():
    text = render_plantuml(odd_machine())

    assert 'state "x&#34;y\\\\z" as state_3\n' in text  # a doubled backslash is one in PlantUML
    assert "state_0 : says &#34;hi&#34; on two lines\n" in text
    assert "ctx['a'] &#47;/ 2 &#62; 1" in text
    assert "<b>" not in text


def test_it_still_draws_a_machine_with_a_transition_to_a_missing_state():
    broken = machine(["S1"], [("S1", "E1", "GHOST"), ("NOWHERE", "E2", "S1")])

    for render in RENDERERS.values():
        text = render(broken)
        assert {"S1", "GHOST", "NOWHERE", "E1", "E2"} <= words(text)
    assert "    GHOST\n" in render_mermaid(broken)


def test_it_tabulates_the_design_example():
    assert state_table(example("design-example")) == {
        "states": ["START", "S1", "C1", "S21", "S22", "S3", "C2", "S4"],
        "events": ["E1", "E11", "E2", "E3", "E4"],
        "cells": {
            "START": {"E1": "S1"},
            "S1": {"E11": "S1", "E2": "C1"},
            "C1": {},
            "S21": {"E3": "S3"},
            "S22": {"E3": "S3"},
            "S3": {"E4": "C2"},
            "C2": {},
            "S4": {},
        },
        "timers": {},
        "errorTargets": {},
    }


def test_its_table_leaves_out_choice_branches_and_keeps_the_first_of_a_repeated_event():
    definition = machine(
        ["S1", "S2", "S3", choice("C1")],
        [
            ("S1", "E1", "S2"),
            ("S1", "E1", "S3"),
            branch("C1", "S2", when="ctx.x", order=1, event="EX"),
            branch("C1", "S3", default=True),
            ("GHOST", "E9", "S1"),
            ("S2", None, "S3"),
        ],
    )

    assert state_table(definition) == {
        "states": ["S1", "S2", "S3", "C1"],
        "events": ["E1"],
        "cells": {"S1": {"E1": "S2"}, "S2": {}, "S3": {}, "C1": {}},
        "timers": {},
        "errorTargets": {},
    }


def test_its_table_shows_the_timed_transitions_of_each_state():
    doc = example_seed("audit")
    doc["smTransitions"][1]["timerSeconds"] = 1800  # APPLY -REJECT-> DAD_REJ after 30 min
    assert state_table(from_seed(doc))["timers"] == {"APPLY": {"REJECT": 1800}}
