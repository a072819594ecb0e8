"""Diagrams of a machine (Mermaid, Graphviz DOT, PlantUML) and its state × event table.

Everything works on the definition form, so a machine that fails validation still draws:
a transition to a missing state draws that state as a plain node.

Ids: Mermaid and PlantUML use a state's value as its id when it is a plain identifier
(letters, digits, underscores, not starting with a digit, not a keyword of either language,
not starting with "default", which Mermaid's lexer reads as a keyword); any other value gets
the id ``state_<n>`` and is shown through a label. DOT quotes every id and uses values as they
are. Labels are escaped per format: Mermaid with its ``#<code>;`` entities, PlantUML with
``&#<code>;`` entities and doubled backslashes (and Creole markup such as ``//`` or ``**``
defused), DOT with backslash escapes inside quoted strings. Line breaks in text become spaces.

Edge labels: a transition from a normal state shows its event, then ``[guard]`` and
``(after Ns)`` for a timer when it has them; a choice branch shows ``[case condition]``, or
``else`` for the default branch.

Many sources: everything here draws ``definition.expanded()``, so a row whose source is a
comma list draws one edge per state it names and a ``"*"`` row one per state it reaches; a
source as given ("A,B", "*") is never a node. An index of a transition (``edge_notes``,
``mermaid_marked``'s ``taken``) is its position in ``definition.expanded().transitions``,
which is ``definition.transitions`` itself when no row names many sources; an expanded
transition's ``row`` leads back to its row.

The extensions: a state's ``enter_action`` is shown on it as ``entry / <host and path>``
(no scheme, user, query or fragment, at most 40 characters), as a second line of the state
in Mermaid (a state description), DOT (a label line) and PlantUML (a description line), in
the note of a choice state. A transition's ``error_target`` draws one more edge, after all
transitions, from its source to the error target, labelled ``<EVENT> failed``: dashed in DOT
(``style=dashed``), PlantUML (``-[dashed]->``) and ``mermaid_marked`` (``-.->``); Mermaid's
state diagrams have no dashed arrows, so there it is a plain arrow labelled
``⚠ <EVENT> failed``. A definition without them draws exactly as before.

The table (``state_table``) lists every state in listed order and every event of a normal
state in first-seen order; a cell is filled only by a transition with an event from a normal
state, and the first transition listed wins if (state, event) repeats (the validator reports
that). Choice states keep an empty row: they are passed through, never rested in. A cell
stays the plain target; a cell whose transition has an error target is also listed in
``errorTargets``, so the target stays a state value for whoever reads the table.
"""

import re
from collections.abc import Callable, Mapping

from machines.definition import Definition, StateDef, TransitionDef

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENTRY_CHARS = 40  # of an enter action's host and path on a diagram
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_KEYWORDS = frozenset(
    "state note end as of left right top bottom over class classdef style scale direction "
    "hide show skinparam title legend header footer caption click acctitle accdescr "
    "startuml enduml".split()
)


def render_mermaid(
    definition: Definition,
    *,
    state_notes: Mapping[str, str] | None = None,
    edge_notes: Mapping[int, str] | None = None,
) -> str:
    """A Mermaid ``stateDiagram-v2``; choice states are ``<<choice>>`` with a note naming them.

    `state_notes` (by state value) and `edge_notes` (by index in the expanded transitions)
    add a text after a state's title or an edge's label, such as the operations page's counts.
    """
    definition = definition.expanded()
    ids = _diagram_ids(definition)
    state_notes, edge_notes = state_notes or {}, edge_notes or {}
    lines = ["stateDiagram-v2"]
    for state in _all_states(definition):
        node, entry = ids[state.value], _mermaid_text(_entry(state))
        title = _mermaid_text(_noted(_title(state), state_notes.get(state.value)))
        if state.is_choice:
            lines.append(f"    state {node} <<choice>>")
            if title or entry:
                lines.append(f"    note right of {node} : {_noted(title, entry)}")
        elif node != state.value or _has_desc(state) or state.value in state_notes or entry:
            # A second description makes Mermaid draw the first as the state's title.
            lines.append(f'    state "{title or " "}" as {node}')
        else:
            lines.append(f"    {node}")
        if entry and not state.is_choice:
            lines.append(f"    {node} : {entry}")
    for value in _initial_values(definition):
        lines.append(f"    [*] --> {ids[value]}")
    for index, t in enumerate(definition.transitions):
        label = _mermaid_text(_noted(_edge_label(definition, t), edge_notes.get(index)))
        lines.append(f"    {ids[t.source]} --> {ids[t.target]}" + (f" : {label}" if label else ""))
    for t in _with_error_target(definition):
        label = _mermaid_text(f"⚠ {_failed_label(t)}")
        lines.append(f"    {ids[t.source]} --> {ids[t.error_target]} : {label}")
    for state in _unique_states(definition):
        if state.final:
            lines.append(f"    {ids[state.value]} --> [*]")
    return "\n".join(lines) + "\n"


def render_dot(definition: Definition) -> str:
    """A Graphviz digraph; choice states are diamonds, final states double circles."""
    definition = definition.expanded()
    start = "__start__"
    while start in _all_values(definition):
        start = f"_{start}_"
    lines = [
        "digraph machine {",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        f"    {_dot_quote(start)} [shape=point, width=0.15];",
    ]
    for state in _all_states(definition):
        attributes = {"label": "\n".join(filter(None, (_title(state, "\n"), _entry(state))))}
        if state.is_choice:
            attributes["shape"] = "diamond"
        elif state.final:
            attributes["shape"] = "doublecircle"
        lines.append(f"    {_dot_quote(state.value)} [{_dot_attributes(attributes)}];")
    for value in _initial_values(definition):
        lines.append(f"    {_dot_quote(start)} -> {_dot_quote(value)};")
    for t in definition.transitions:
        attributes = {"label": _edge_label(definition, t)}
        if _is_branch(definition, t) and t.case_default:
            attributes["style"] = "dashed"
        lines.append(
            f"    {_dot_quote(t.source)} -> {_dot_quote(t.target)} [{_dot_attributes(attributes)}];"
        )
    for t in _with_error_target(definition):
        attributes = {"label": _failed_label(t), "style": "dashed"}
        lines.append(
            f"    {_dot_quote(t.source)} -> {_dot_quote(t.error_target)}"
            f" [{_dot_attributes(attributes)}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_plantuml(definition: Definition) -> str:
    """A PlantUML state diagram; choice states are ``<<choice>>`` with a note naming them."""
    definition = definition.expanded()
    ids = _diagram_ids(definition)
    lines = ["@startuml", "hide empty description"]
    for state in _all_states(definition):
        node, entry = ids[state.value], _plantuml_text(_entry(state))
        if state.is_choice:
            lines.append(f"state {node} <<choice>>")
            note = _noted(_plantuml_text(_title(state)), entry)
            if _display(state.value) or entry:
                lines.append(f"note right of {node} : {note}")
            continue
        if node != state.value:
            lines.append(f'state "{_plantuml_text(_display(state.value))}" as {node}')
        else:
            lines.append(f"state {node}")
        if _has_desc(state):
            lines.append(f"{node} : {_plantuml_text(state.desc)}")
        if entry:
            lines.append(f"{node} : {entry}")
    for value in _initial_values(definition):
        lines.append(f"[*] --> {ids[value]}")
    for t in definition.transitions:
        label = _plantuml_text(_edge_label(definition, t))
        lines.append(f"{ids[t.source]} --> {ids[t.target]}" + (f" : {label}" if label else ""))
    for t in _with_error_target(definition):
        label = _plantuml_text(_failed_label(t))
        lines.append(f"{ids[t.source]} -[dashed]-> {ids[t.error_target]} : {label}")
    for state in _unique_states(definition):
        if state.final:
            lines.append(f"{ids[state.value]} --> [*]")
    lines.append("@enduml")
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Definition], str]] = {
    "mermaid": render_mermaid,
    "dot": render_dot,
    "plantuml": render_plantuml,
}


def mermaid_ids(definition: Definition) -> dict[str, str]:
    """The node id ``render_mermaid`` gives each state value (to style nodes afterwards)."""
    return _diagram_ids(definition)


def mermaid_edge_rows(definition: Definition) -> dict[int, int]:
    """Every arrow of ``render_mermaid`` that a row draws, by its number: the row's index.

    The start arrows come first, then one per expanded transition in order, then the error
    targets' arrows; Mermaid numbers its edges in this order, so a page can find a row from
    any edge of the drawing.
    """
    expanded = definition.expanded()
    numbered = [(i if t.row is None else t.row, t) for i, t in enumerate(expanded.transitions)]
    rows = [row for row, _ in numbered] + [row for row, t in numbered if t.error_target]
    first = len(_initial_values(expanded)) + 1
    return {first + position: row for position, row in enumerate(rows)}


def state_table(definition: Definition) -> dict:
    """The state × event table of the expanded transitions:
    ``{states, events, cells: {state: {event: target}}, timers, errorTargets}``.

    ``timers`` maps a state to the events its timed transitions fire and after how many
    seconds: ``{"UNPAID": {"EXPIRE": 1800}}``. ``errorTargets`` maps a state to the events
    whose cell's transition has an error target, and that target: ``{"PAID": {"SHIP":
    "SHIP_FAILED"}}``; the cell itself still says ``"SHIPPED"``, where the event goes when
    it succeeds. A comma-list or "*" row fills one cell per state it expands to.
    """
    definition = definition.expanded()
    states = [state.value for state in _unique_states(definition)]
    choices = {state.value for state in definition.states if state.is_choice}
    events: list[str] = []
    cells: dict[str, dict[str, str]] = {value: {} for value in states}
    timers: dict[str, dict[str, int]] = {}
    error_targets: dict[str, dict[str, str]] = {}
    for t in definition.transitions:
        if t.source not in cells or t.source in choices or not t.event:
            continue
        if t.event not in events:
            events.append(t.event)
        if t.event not in cells[t.source]:
            cells[t.source][t.event] = t.target
            if t.error_target:
                error_targets.setdefault(t.source, {})[t.event] = t.error_target
        if t.timer_seconds:
            timers.setdefault(t.source, {})[t.event] = t.timer_seconds
    return {
        "states": states,
        "events": events,
        "cells": cells,
        "timers": timers,
        "errorTargets": error_targets,
    }


# Shared ------------------------------------------------------------------------------------


def _unique_states(definition: Definition) -> list[StateDef]:
    """The first state listed for each value."""
    seen: dict[str, StateDef] = {}
    for state in definition.states:
        seen.setdefault(state.value, state)
    return list(seen.values())


def _all_states(definition: Definition) -> list[StateDef]:
    """Every state to draw: the listed ones, then plain nodes for unknown values."""
    known = {state.value: state for state in reversed(definition.states)}
    return [known.get(value) or StateDef(value=value) for value in _all_values(definition)]


def _all_values(definition: Definition) -> list[str]:
    """State values in listed order, then unknown states that transitions name."""
    values = [state.value for state in definition.states]
    values += [value for t in definition.transitions for value in (t.source, t.target)]
    values += [t.error_target for t in _with_error_target(definition)]
    return list(dict.fromkeys(values))


def _diagram_ids(definition: Definition) -> dict[str, str]:
    """A safe Mermaid/PlantUML id for every value (see the module docstring)."""
    values = _all_values(definition)
    safe = {value for value in values if _is_safe_id(value)}
    used, ids = set(safe), {}
    for index, value in enumerate(values):
        if value in safe:
            ids[value] = value
            continue
        candidate = f"state_{index}"
        while candidate in used:
            candidate += "_"
        used.add(candidate)
        ids[value] = candidate
    return ids


def _is_safe_id(value) -> bool:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        return False
    lowered = value.lower()
    return lowered not in _KEYWORDS and not lowered.startswith("default")


def _initial_values(definition: Definition) -> list[str]:
    marked = [state.value for state in _unique_states(definition) if state.initial]
    if marked:
        return marked
    initial = definition.initial_state()
    return [initial.value] if initial else []


def _display(value) -> str:
    return "" if value is None else str(value)


def _has_desc(state: StateDef) -> bool:
    return bool(state.desc and state.desc.strip() and state.desc.strip() != state.value)


def _title(state: StateDef, separator: str = ": ") -> str:
    """The state's value, and its description when it says more."""
    if _has_desc(state):
        return f"{_display(state.value)}{separator}{_one_line(state.desc)}"
    return _display(state.value)


def _is_branch(definition: Definition, t: TransitionDef) -> bool:
    source = definition.state(t.source)
    return source is not None and source.is_choice


def _edge_label(definition: Definition, t: TransitionDef) -> str:
    if _is_branch(definition, t):
        if t.case_default:
            return "else"
        return f"[{t.case_condition.strip()}]" if t.case_condition else ""
    parts = [t.event or ""]
    if t.guard_condition and t.guard_condition.strip():
        parts.append(f"[{t.guard_condition.strip()}]")
    if t.timer_seconds:
        parts.append(f"(after {t.timer_seconds}s)")
    return " ".join(part for part in parts if part)


def _with_error_target(definition: Definition) -> list[TransitionDef]:
    """The transitions with an error target, in order: one more edge each, after the rest."""
    return [t for t in definition.transitions if t.error_target]


def _failed_label(t: TransitionDef) -> str:
    return f"{t.event} failed" if t.event else "failed"


def _entry(state: StateDef) -> str:
    """``entry / host/path`` for a state's enter action, or "" without one.

    The scheme, user, query and fragment are left out: they make the line long and may
    carry secrets that have no place on a diagram; no URL parser, which would refuse some
    texts that a draft may hold."""
    url = _one_line(state.enter_action).strip()
    if not url:
        return ""
    rest = re.split(r"[?#]", _SCHEME.sub("", url), maxsplit=1)[0]
    host, slash, path = rest.partition("/")
    short = host.rpartition("@")[2] + slash + path or "…"
    if len(short) > ENTRY_CHARS:
        short = short[: ENTRY_CHARS - 1] + "…"
    return f"entry / {short}"


def _noted(text: str, note: str | None) -> str:
    return f"{text} · {note}" if note and text else note or text


def _one_line(text) -> str:
    return " ".join(_display(text).split())


# Escaping ----------------------------------------------------------------------------------

# Mermaid decodes "#<code>;" after parsing; these characters end or confuse its tokens.
_MERMAID_ESCAPES = {char: f"#{ord(char)};" for char in '#:;"<>%&'}


def _mermaid_text(text) -> str:
    escaped = "".join(_MERMAID_ESCAPES.get(char, char) for char in _one_line(text))
    # "direction TB" anywhere on a line is read as a layout statement.
    return re.sub(r"(?i)(directio)n(?=\s)", r"\1#110;", escaped)


# PlantUML reads "\\" as a backslash (and "\n" as a line break); "&#92;" would crash it.
_PLANTUML_ESCAPES = {"\\": "\\\\"} | {char: f"&#{ord(char)};" for char in '&"<>~'}
# Creole markup (**bold**, //italic//, --strike--, __underline__, [[link]]) comes in pairs.
_CREOLE_PAIR = re.compile(r"([*/\-_\[\]])(?=\1)")


def _plantuml_text(text) -> str:
    escaped = "".join(_PLANTUML_ESCAPES.get(char, char) for char in _one_line(text))
    return _CREOLE_PAIR.sub(lambda m: f"&#{ord(m.group(1))};", escaped)


def _dot_quote(text) -> str:
    # Inside DOT's quoted strings only \" is an escape, but labels read \n, \l, \N...
    # as layout escapes, so backslashes are doubled first; real line breaks become \n.
    escaped = _display(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n") + '"'


def _dot_attributes(attributes: dict[str, str]) -> str:
    return ", ".join(f"{key}={_dot_quote(value)}" for key, value in attributes.items())


# Marked diagrams (coverage, replays) --------------------------------------------------------

# Mermaid's state diagrams cannot style an edge, its flowcharts can (linkStyle), so a marked
# diagram is a flowchart: diamonds for choice states, stadiums for final states, a small
# circle for the start. Node ids are s<n> by listed order (no value can break them).
_MARKED_STYLES = (
    "    classDef covered fill:#dcfce7,stroke:#15803d,stroke-width:2px",
    "    classDef uncovered fill:#f3f4f6,stroke:#9ca3af,color:#6b7280,stroke-dasharray:4 3",
    "    classDef current fill:#bbf7d0,stroke:#166534,stroke-width:4px",
)
MARKED_TAKEN_STYLE = "stroke:#15803d,stroke-width:4px"
MARKED_NOT_TAKEN_STYLE = "stroke:#9ca3af,stroke-width:1px,stroke-dasharray:5 4"


def mermaid_marked(
    definition: Definition,
    taken: Mapping[int, int],
    *,
    current: str | None = None,
    state_notes: Mapping[str, str] | None = None,
) -> str:
    """A Mermaid flowchart of the definition with each transition marked taken or never taken.

    `taken` maps a transition's index in ``definition.expanded().transitions`` to how many
    times it was taken; an index missing or mapped to 0 is never taken. A taken edge is green
    and thick, its label followed by ``×n``; any other is dashed and grey. A state is
    ``covered`` (green) when a taken transition enters or leaves it, or it is the initial state
    and anything was taken; otherwise ``uncovered`` (grey, dashed). `current` (a state value)
    is styled ``current``; `state_notes` add a text after a state's title, as in ``render_mermaid``.
    Labels are escaped as in ``render_mermaid``; ``|`` also, as it ends a flowchart label.
    Error targets are dotted arrows labelled ``<EVENT> failed``, after the transitions.
    """
    definition = definition.expanded()
    values = _all_values(definition)
    ids = {value: f"s{index}" for index, value in enumerate(values)}
    notes = state_notes or {}
    counts = {
        index: int(count) for index, count in taken.items() if count and isinstance(index, int)
    }
    reached = {
        value
        for index in counts
        if 0 <= index < len(definition.transitions)
        for value in (definition.transitions[index].source, definition.transitions[index].target)
    }
    initials = _initial_values(definition)
    if counts:
        reached.update(initials)
    lines = ["flowchart LR", "    sc_start@{ shape: sm-circ }"]
    for state in _all_states(definition):
        title = _marked_text(_noted(_title(state), notes.get(state.value))) or " "
        opening, closing = (
            ("{", "}") if state.is_choice else ("([", "])") if state.final else ("[", "]")
        )
        lines.append(f'    {ids[state.value]}{opening}"{title}"{closing}')
    links = [f"    sc_start --> {ids[value]}" for value in initials]
    styles = [None] * len(links)
    for index, t in enumerate(definition.transitions):
        count = counts.get(index, 0)
        label = _edge_label(definition, t)
        label = f"{label} ×{count}".strip() if count else label
        text = f'|"{_marked_text(label)}"|' if label else ""
        links.append(f"    {ids[t.source]} -->{text} {ids[t.target]}")
        styles.append(MARKED_TAKEN_STYLE if count else MARKED_NOT_TAKEN_STYLE)
    for t in _with_error_target(definition):
        text = f'|"{_marked_text(_failed_label(t))}"|'
        links.append(f"    {ids[t.source]} -.->{text} {ids[t.error_target]}")
        styles.append(None)
    lines += links + list(_MARKED_STYLES)
    for position, style in enumerate(styles):
        if style:
            lines.append(f"    linkStyle {position} {style}")
    covered = [ids[v] for v in values if v in reached and v != current]
    uncovered = [ids[v] for v in values if v not in reached and v != current]
    for name, nodes in (("covered", covered), ("uncovered", uncovered)):
        if nodes:
            lines.append(f"    class {','.join(nodes)} {name}")
    if current in ids:
        lines.append(f"    class {ids[current]} current")
    return "\n".join(lines) + "\n"


def _marked_text(text) -> str:
    return _mermaid_text(text).replace("|", "#124;")
