"""The draft editor's live check: the form's rows as they are now in, their problems and the
diagram out. Nothing is stored; saving still goes through the form and machines.services.

The change form's script (designer.js) posts the rows it would save, in seed JSON
(``{"smStates": [...], "smTransitions": [...]}``), each time the designer stops typing. The
rows are checked with the seed format's own bounds (machines.interchange.parse_seed): a row
the format refuses (a blank state value, a timer of "abc") is left out and its problem placed
on it, so one half-typed row does not hide the others' problems. What the format refuses for
the document as a whole (too many rows, too much expression text) is a 400 in the error
format. Problems come back with the rows they concern, by their index in what was posted.
"""

import re

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.utils.translation import gettext, ngettext

from config.exceptions import PlatformError, ValidationError, error_response
from machines.definition import Definition
from machines.diagrams import mermaid_edge_rows, mermaid_ids, render_mermaid
from machines.interchange import parse_json, parse_seed
from machines.validation import Problem, validate

STATES, TRANSITIONS = "smStates", "smTransitions"
# A path parse_seed reports for one row: "smStates[2].stateValue", "smTransitions[0]".
_ROW_PATH = re.compile(r"(smStates|smTransitions)\[(\d{1,6})\](?:\.(\w{1,50}))?")
FIELD_INVALID = "FIELD_INVALID"


def live_check(admin, request, object_id=None):
    """POST the form's rows as seed JSON: ``{valid, summary, problems, diagram, nodes, edges}``."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        _allow(admin, request, object_id)
    except Http404:
        return error_response(404, "NOT_FOUND", gettext("No machine with id %s.") % object_id)
    except PermissionDenied:
        return error_response(403, "PERMISSION_DENIED", gettext("You may not check this machine."))
    try:
        return JsonResponse(definition_check(_document(request)))
    except PlatformError as exc:
        return error_response(exc.status_code, exc.code, exc.message, exc.details)


def _allow(admin, request, object_id) -> None:
    """The machine's pages' rule: visible (flow scoping) and viewable; the add page: add."""
    if object_id is None:
        if not admin.has_add_permission(request):
            raise PermissionDenied
        return
    machine = admin.get_object(request, str(object_id))  # another flow's machine: None
    if machine is None:
        raise Http404
    if not admin.has_view_or_change_permission(request, machine):
        raise PermissionDenied


def _document(request) -> dict:
    try:
        raw = request.body  # Django refuses more than DATA_UPLOAD_MAX_MEMORY_SIZE
    except RequestDataTooBig:
        raise ValidationError(gettext("The form is too large to check.")) from None
    body = parse_json(raw or b"{}")  # bad text, numbers or nesting: a clear 400
    if not isinstance(body, dict) or set(body) - {STATES, TRANSITIONS}:
        raise ValidationError(gettext("Send an object with smStates and smTransitions."))
    return {STATES: body.get(STATES, []), TRANSITIONS: body.get(TRANSITIONS, [])}


def definition_check(document: dict) -> dict:
    """The problems of a seed document's rows, placed by row, and its diagram."""
    definition, kept, problems = _parse_rows(document)
    report = validate(definition, allowed_hosts=settings.CALLBACK_ALLOWED_HOSTS)
    for problem in report.errors + report.warnings:
        problems.append(_placed(problem, definition, kept))
    errors = sum(1 for p in problems if p["level"] == "error")
    return {
        "valid": errors == 0,
        "summary": problem_summary(errors, len(problems) - errors),
        "problems": problems,
        "diagram": render_mermaid(definition),
        "nodes": _node_rows(definition, kept[STATES]),
        # Every arrow a row draws leads to it: each state of a comma list or "*", and the
        # arrow to an error target.
        "edges": {
            f"edge{number}": kept[TRANSITIONS][row]
            for number, row in mermaid_edge_rows(definition).items()
        },
    }


def _parse_rows(document: dict) -> tuple[Definition, dict, list[dict]]:
    """The definition of the rows the seed format accepts, which rows those are, and the
    problems of the others; raises when the document as a whole is refused."""
    try:
        _, definition = parse_seed(document)
    except ValidationError as exc:
        refused = _refused_rows(exc)
        trimmed = {
            kind: [row for i, row in enumerate(document[kind]) if i not in refused[kind]]
            for kind in (STATES, TRANSITIONS)
        }
        _, definition = parse_seed(trimmed)  # what is left parses, or the 400 says why
        kept = {
            kind: [i for i in range(len(document[kind])) if i not in refused[kind]]
            for kind in (STATES, TRANSITIONS)
        }
        return definition, kept, _field_problems(refused)
    kept = {
        STATES: list(range(len(definition.states))),
        TRANSITIONS: list(range(len(definition.transitions))),
    }
    return definition, kept, []


def _refused_rows(exc: ValidationError) -> dict[str, dict[int, list]]:
    """Row index -> [(field, message)] per kind; re-raises a problem that is not a row's."""
    refused = {STATES: {}, TRANSITIONS: {}}
    for problem in exc.details.get("problems", []):
        match = _ROW_PATH.fullmatch(problem.get("path", ""))
        if match is None:
            raise exc
        kind, index, field = match[1], int(match[2]), match[3]
        refused[kind].setdefault(index, []).append((field, problem["message"]))
    return refused


def _field_problems(refused: dict) -> list[dict]:
    return [
        {
            "code": FIELD_INVALID,
            "message": message,
            "level": "error",
            "field": field,
            "where": {"path": f"{kind}[{index}]" + (f".{field}" if field else "")},
            "place": {
                "states": [index] if kind == STATES else [],
                "transitions": [index] if kind == TRANSITIONS else [],
            },
        }
        for kind, rows in refused.items()
        for index, messages in rows.items()
        for field, message in messages
    ]


def _placed(problem: Problem, definition: Definition, kept: dict) -> dict:
    """A validator problem with the posted rows it concerns."""
    where = problem.where
    states, transitions = [], []
    if where.get("transition") is not None:
        transitions = [kept[TRANSITIONS][where["transition"]]]
    elif where.get("stateIndex") is not None:
        states = [kept[STATES][where["stateIndex"]]]
    else:
        values = [where["state"]] if where.get("state") is not None else where.get("states", [])
        states = [
            kept[STATES][i] for i, s in enumerate(definition.states) if s.value in set(values)
        ]
    return {
        **problem.as_dict(),
        "field": where.get("field"),
        "place": {"states": states, "transitions": transitions},
    }


def _node_rows(definition: Definition, state_rows: list[int]) -> dict[str, int]:
    """Mermaid node id -> the posted row of the first state with that value."""
    first: dict[str, int] = {}
    for index, state in enumerate(definition.states):
        first.setdefault(state.value, state_rows[index])
    ids = mermaid_ids(definition.expanded())  # the drawing's ids: a source list is no node
    return {ids[value]: row for value, row in first.items() if value in ids}


def problem_summary(errors: int, warnings: int) -> str:
    """ "2 errors, 1 warning." in the current language, or that there is no problem."""
    if not errors and not warnings:
        return gettext("No problems: this machine can be published.")
    counts = (
        ngettext("%(counter)s error", "%(counter)s errors", errors) % {"counter": errors},
        ngettext("%(counter)s warning", "%(counter)s warnings", warnings) % {"counter": warnings},
    )
    return gettext("%(errors)s, %(warnings)s.") % {"errors": counts[0], "warnings": counts[1]}
