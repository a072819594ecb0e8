"""The seed interchange format: JSON in, Definition out, and back.

Parsing checks shapes and types and reports every problem with its field path; the rules of
a well-formed machine are the validator's job (machines/validation/). parse_json reads JSON
text from outside (the admin's import and simulator) with the bounds every such value keeps.
"""

import json
import math

from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from config.exceptions import ValidationError, flatten_errors
from machines.definition import (
    MAX_EXPANDED_TRANSITIONS,
    NORMAL,
    SOURCE_MAX_LENGTH,
    Definition,
    StateDef,
    TransitionDef,
)
from machines.models import Machine, State
from rules.limits import MAX_INT_BITS

MAX_STATES = 500
MAX_TRANSITIONS = 2000
# Characters of guard, show and case conditions in one machine, all together. Each compiled
# character holds about 200 bytes of syntax tree in every process that runs the machine, and
# takes time to compile: 100,000 is about 20 MB, and fifty times what real machines use.
MAX_EXPRESSION_TEXT = 100_000
EXPRESSION_FIELDS = ("showCondition", "guardCondition", "caseCondition")
YES, NO = 1, 2
YES_NO = [(YES, "yes"), (NO, "no")]  # caseDefault


def _text(max_length: int, **kwargs):
    return serializers.CharField(
        max_length=max_length,
        required=False,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,
        default=None,
        **kwargs,
    )


INT_MAX = 2**31 - 1  # what the database columns hold
ID_MAX = 2**63 - 1
# Versions count up by one from 1; the bound leaves "the next version" far from the column's
# end, so a flow that reaches it is refused with VALIDATION_ERROR rather than overflowing.
VERSION_MAX = 1_000_000
MAX_JSON_DEPTH = 64  # nesting of a JSON document from outside; a seed document is 4 deep


def _int(**kwargs):
    kwargs.setdefault("min_value", -INT_MAX)
    kwargs.setdefault("max_value", INT_MAX)
    return serializers.IntegerField(required=False, allow_null=True, default=None, **kwargs)


def _id():
    return _int(min_value=1, max_value=ID_MAX)


@extend_schema_field({"type": "string", "pattern": r"^[0-9]{1,7}$", "example": "2"})
class VersionField(serializers.CharField):
    """A version number as a string of digits, "2", as every answer gives it.

    The number 2 is taken too: seed documents written before versions were strings say so.
    """

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        digits = text.isascii() and text.isdigit() and len(text) <= 7
        if not (digits and 1 <= int(text) <= VERSION_MAX):
            raise serializers.ValidationError(f"A version number from 1 to {VERSION_MAX:,}.")
        return int(text)


class _StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know, so a typo ("stateVal") is an error, not a silent drop."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class InfoIn(_StrictSerializer):
    smId = _id()
    flowId = _id()
    flowCode = serializers.SlugField(max_length=100, required=False, allow_null=True, default=None)
    version = VersionField(required=False, allow_null=True, default=None)
    smStatus = serializers.ChoiceField(Machine.Status.choices, required=False, allow_null=True)
    creator = _text(150)
    modifier = _text(150)


class StateIn(_StrictSerializer):
    stateId = _id()
    smId = _id()
    stateValue = serializers.CharField(max_length=100, trim_whitespace=False)
    stateDesc = _text(500)
    stateType = serializers.ChoiceField(State.Type.choices, required=False, default=NORMAL)
    initial = serializers.BooleanField(required=False, default=False)
    final = serializers.BooleanField(required=False, default=False)
    enterAction = _text(2000)


class TransitionIn(_StrictSerializer):
    transitionId = _id()
    smId = _id()
    transitionDesc = _text(500)
    eventValue = _text(100)
    eventDesc = _text(500)
    eventRole = _text(200)
    showCondition = _text(2000)
    guardCondition = _text(2000)
    caseCondition = _text(2000)
    caseOrder = _int()
    caseDefault = serializers.ChoiceField(YES_NO, required=False, allow_null=True, default=NO)
    sourceState = serializers.CharField(
        max_length=SOURCE_MAX_LENGTH,
        trim_whitespace=False,
        help_text='A state, a comma list of states ("APPLY,DAD_PASS"), or "*" for every '
        "normal, non-final state without a transition of its own for this event.",
    )
    targetState = serializers.CharField(max_length=100, trim_whitespace=False)
    transitionAction = _text(2000)
    timerSeconds = _int(min_value=1)
    errorTarget = serializers.CharField(
        max_length=100,
        trim_whitespace=False,
        required=False,
        allow_null=True,
        default=None,
        help_text="A normal state an async event moves to when the action still fails after "
        "its last attempt.",
    )


# Saved scenarios (smScenarios): tests of a version, exported and imported with it.
MAX_SCENARIOS = 200  # per version
MAX_SCENARIO_STEPS = 200  # per scenario: what one simulation runs
MAX_VERSION_STEPS = 10_000  # per version, all its scenarios together: one run's total
MAX_SCENARIO_CONTEXT_DEPTH = 32  # as an event's context
MAX_SCENARIO_CONTEXT_BYTES = 16_384  # a step's context, as compact JSON
ROLE_LIMITS = {"min_value": -(2**31), "max_value": INT_MAX}  # the event record's role column
ERROR_CODE = r"^[A-Z][A-Z0-9_]{0,49}$"


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ScenarioContextField(serializers.JSONField):
    """A step's context: a JSON object the database can store, bounded in depth and size."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        problem = json_problem(value, max_depth=MAX_SCENARIO_CONTEXT_DEPTH)
        if problem is not None:
            raise serializers.ValidationError(problem)
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_SCENARIO_CONTEXT_BYTES:
            raise serializers.ValidationError(
                f"A step's context holds at most {MAX_SCENARIO_CONTEXT_BYTES:,} bytes of JSON."
            )
        return value


@extend_schema_serializer(component_name="ScenarioExpectation")
class ScenarioExpectIn(_StrictSerializer):
    """What a step must end in: the state it reaches, or the error code it fails with."""

    state = serializers.CharField(max_length=100, required=False, trim_whitespace=False)
    code = serializers.RegexField(
        ERROR_CODE, max_length=50, required=False, help_text="e.g. GUARD_REJECTED"
    )

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError("Expect either a state or an error code.")
        return attrs


@extend_schema_serializer(component_name="ScenarioStepInput")
class ScenarioStepIn(_StrictSerializer):
    event = serializers.CharField(max_length=100, trim_whitespace=False)
    role = serializers.IntegerField(required=False, allow_null=True, default=None, **ROLE_LIMITS)
    context = ScenarioContextField(required=False, default=dict)
    expect = ScenarioExpectIn()


@extend_schema_serializer(component_name="ScenarioInput")
class ScenarioIn(_StrictSerializer):
    name = serializers.CharField(max_length=200)
    state = serializers.CharField(
        max_length=100,
        required=False,
        allow_null=True,
        default=None,
        trim_whitespace=False,
        help_text="the start state; the initial state when absent",
    )
    steps = ScenarioStepIn(many=True, min_length=1, max_length=MAX_SCENARIO_STEPS)

    def validate_name(self, name: str) -> str:
        if not storable_text(name):
            raise serializers.ValidationError("Text may not hold NUL or lone surrogates.")
        return name


def check_scenario_set(scenarios: list[dict]) -> None:
    """A version's scenarios together: unique names, and the total steps bounded."""
    names = [s["name"] for s in scenarios]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise serializers.ValidationError(f"Scenario names repeat: {', '.join(repeated[:5])}.")
    total = sum(len(s["steps"]) for s in scenarios)
    if total > MAX_VERSION_STEPS:
        raise serializers.ValidationError(
            f"The scenarios hold {total:,} steps in all; at most {MAX_VERSION_STEPS:,}."
        )


class MachineIn(_StrictSerializer):
    smInfo = InfoIn(required=False, default=dict)
    smStates = StateIn(many=True, max_length=MAX_STATES)
    smTransitions = TransitionIn(
        many=True, max_length=MAX_TRANSITIONS, required=False, default=list
    )
    smScenarios = ScenarioIn(
        many=True,
        max_length=MAX_SCENARIOS,
        required=False,
        help_text="saved scenarios; a PUT without them keeps the stored ones",
    )

    def validate_smScenarios(self, scenarios: list[dict]) -> list[dict]:
        check_scenario_set(scenarios)
        return scenarios

    def validate_smTransitions(self, transitions: list[dict]) -> list[dict]:
        total = sum(len(t.get(name) or "") for t in transitions for name in EXPRESSION_FIELDS)
        if total > MAX_EXPRESSION_TEXT:
            raise serializers.ValidationError(
                f"The machine's expressions hold {total:,} characters in all; at most "
                f"{MAX_EXPRESSION_TEXT:,} (a compiled machine is kept in memory)."
            )
        return transitions

    def validate(self, attrs: dict) -> dict:
        definition = Definition(
            states=tuple(_state_def(s) for s in attrs["smStates"]),
            transitions=tuple(_transition_def(t) for t in attrs["smTransitions"]),
        )
        size = definition.expanded_size()
        if size > MAX_EXPANDED_TRANSITIONS:
            raise serializers.ValidationError(
                {
                    "smTransitions": f"The transitions name {size:,} (source, event) pairs once "
                    f'comma lists and "*" are expanded; at most {MAX_EXPANDED_TRANSITIONS:,}.'
                }
            )
        return attrs


# What exports answer: the same fields, every one present (extensions only when set).


@extend_schema_serializer(component_name="MachineInfo")
class InfoOut(serializers.Serializer):
    smId = serializers.IntegerField()
    flowId = serializers.IntegerField()
    flowCode = serializers.CharField()
    version = VersionField()
    smStatus = serializers.ChoiceField(Machine.Status.choices)
    creator = serializers.CharField(allow_null=True)
    modifier = serializers.CharField(allow_null=True)


@extend_schema_serializer(component_name="State")
class StateOut(serializers.Serializer):
    stateId = serializers.IntegerField()
    stateValue = serializers.CharField()
    stateDesc = serializers.CharField(allow_null=True)
    stateType = serializers.ChoiceField(State.Type.choices)
    smId = serializers.IntegerField()
    initial = serializers.BooleanField(required=False, help_text="Only when true.")
    final = serializers.BooleanField(required=False, help_text="Only when true.")
    enterAction = serializers.CharField(required=False, help_text="Only when set.")


def _nullable_text():
    return serializers.CharField(allow_null=True)


@extend_schema_serializer(component_name="Transition")
class TransitionOut(serializers.Serializer):
    transitionId = serializers.IntegerField()
    transitionDesc = _nullable_text()
    smId = serializers.IntegerField()
    eventValue = _nullable_text()
    eventDesc = _nullable_text()
    eventRole = _nullable_text()
    showCondition = _nullable_text()
    guardCondition = _nullable_text()
    caseCondition = _nullable_text()
    caseOrder = serializers.IntegerField(allow_null=True)
    caseDefault = serializers.ChoiceField(YES_NO)
    sourceState = serializers.CharField()
    targetState = serializers.CharField()
    transitionAction = _nullable_text()
    timerSeconds = serializers.IntegerField(required=False, help_text="Only when set.")
    errorTarget = serializers.CharField(required=False, help_text="Only when set.")


@extend_schema_serializer(component_name="ScenarioExpectationOut")
class ScenarioExpectOut(serializers.Serializer):
    state = serializers.CharField(required=False, help_text="the state the step must end in")
    code = serializers.CharField(required=False, help_text="the error code it must fail with")


@extend_schema_serializer(component_name="ScenarioStep")
class ScenarioStepOut(serializers.Serializer):
    event = serializers.CharField()
    role = serializers.IntegerField(allow_null=True)
    context = serializers.DictField(help_text="merged into the context before the step")
    expect = ScenarioExpectOut()


@extend_schema_serializer(component_name="ScenarioSeed")
class ScenarioSeedOut(serializers.Serializer):
    name = serializers.CharField()
    state = serializers.CharField(allow_null=True)
    steps = ScenarioStepOut(many=True)


def scenario_seed(scenario) -> dict:
    """A stored Scenario in the seed format (smScenarios items), every step's key present."""
    return {"name": scenario.name, "state": scenario.state, "steps": scenario_steps(scenario)}


def scenario_steps(scenario) -> list[dict]:
    """A stored Scenario's steps with role and context filled (None and {} when not set)."""
    return [
        {
            "event": step["event"],
            "role": step.get("role"),
            "context": step.get("context") or {},
            "expect": step["expect"],
        }
        for step in scenario.steps
    ]


@extend_schema_serializer(component_name="Machine")
class MachineOut(serializers.Serializer):
    """A machine in the seed format, as the design API answers it."""

    smInfo = InfoOut()
    smStates = StateOut(many=True)
    smTransitions = TransitionOut(many=True)
    smScenarios = ScenarioSeedOut(many=True, required=False, help_text="Only when it has some.")


def parse_seed(data) -> tuple[dict, Definition]:
    """Check a seed JSON document; return its smInfo and its Definition, or raise."""
    serializer = MachineIn(data=data)
    if not serializer.is_valid():
        problems = flatten_errors(serializer.errors)
        message = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5])
        raise ValidationError(message, {"problems": problems})
    value = serializer.validated_data
    states = tuple(_state_def(s) for s in value["smStates"])
    transitions = tuple(_transition_def(t) for t in value["smTransitions"])
    return dict(value["smInfo"]), Definition(states=states, transitions=transitions)


def _state_def(s: dict) -> StateDef:
    return StateDef(
        value=s["stateValue"],
        desc=s["stateDesc"],
        type=s["stateType"],
        initial=s["initial"],
        final=s["final"],
        enter_action=s["enterAction"],
    )


def _transition_def(t: dict) -> TransitionDef:
    return TransitionDef(
        source=t["sourceState"],
        target=t["targetState"],
        event=t["eventValue"],
        event_desc=t["eventDesc"],
        desc=t["transitionDesc"],
        roles=t["eventRole"],
        show_condition=t["showCondition"],
        guard_condition=t["guardCondition"],
        case_condition=t["caseCondition"],
        case_order=t["caseOrder"],
        case_default=t["caseDefault"] == YES,
        action=t["transitionAction"],
        timer_seconds=t["timerSeconds"],
        error_target=t["errorTarget"],
    )


def parse_seed_scenarios(data) -> list[dict] | None:
    """The smScenarios of a seed document parse_seed accepted; None when it has none."""
    if not isinstance(data, dict) or "smScenarios" not in data:
        return None
    serializer = ScenarioIn(data=data["smScenarios"], many=True)
    serializer.is_valid(raise_exception=True)  # parse_seed checked it: this cannot fail
    return [
        {"name": s["name"], "state": s["state"], "steps": [dict(step) for step in s["steps"]]}
        for s in serializer.validated_data
    ]


def seed_from_parts(*, info: dict, definition: Definition) -> dict:
    """The seed JSON of a definition; `info` holds smId, flowId, flowCode, version and so on."""
    sm_id = info.get("smId")
    return {
        "smInfo": info,
        "smStates": [_state_seed(s, sm_id) for s in definition.states],
        "smTransitions": [_transition_seed(t, sm_id) for t in definition.transitions],
    }


def _state_seed(s: StateDef, sm_id) -> dict:
    seed = {
        "stateId": s.id,
        "stateValue": s.value,
        "stateDesc": s.desc,
        "stateType": s.type,
        "smId": sm_id,
    }
    # Extensions appear only when set, so a seed-format machine exports as it came.
    if s.initial:
        seed["initial"] = True
    if s.final:
        seed["final"] = True
    if s.enter_action is not None:
        seed["enterAction"] = s.enter_action
    return seed


def _transition_seed(t: TransitionDef, sm_id) -> dict:
    seed = {
        "transitionId": t.id,
        "transitionDesc": t.desc,
        "smId": sm_id,
        "eventValue": t.event,
        "eventDesc": t.event_desc,
        "eventRole": t.roles,
        "showCondition": t.show_condition,
        "sourceState": t.source,
        "targetState": t.target,
        "caseCondition": t.case_condition,
        "caseOrder": t.case_order,
        "caseDefault": YES if t.case_default else NO,
        "guardCondition": t.guard_condition,
        "transitionAction": t.action,
    }
    if t.timer_seconds is not None:
        seed["timerSeconds"] = t.timer_seconds
    if t.error_target is not None:
        seed["errorTarget"] = t.error_target
    return seed


def parse_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH):
    """JSON text from outside as a value; ValidationError for bad text, nesting or numbers."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_int=_json_int)
    except RecursionError:  # the C parser gives up near 1,000 levels, long past max_depth
        raise _json_invalid(_too_deep(max_depth)) from None
    except _BadNumber as exc:
        raise _json_invalid(str(exc)) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise _json_invalid(gettext("This is not JSON: %s") % exc) from None
    problem = json_problem(value, max_depth=max_depth)
    if problem is not None:
        raise _json_invalid(problem)
    return value


def json_problem(value, *, max_depth: int) -> str | None:
    """Why a parsed JSON value cannot be stored or written back as JSON, or None.

    PostgreSQL's jsonb refuses NUL, no UTF-8 encoder takes a lone surrogate, encoding a deeply
    nested value runs out of stack, JSON has no infinity or NaN, and an integer is bounded as
    an expression bounds those it builds, far inside the 4,300 digits Python turns to text.
    Iterative, so depth cannot hurt here.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return _too_deep(max_depth)
        if isinstance(item, dict):
            stack += [(key, depth) for key in item] + [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
        elif isinstance(item, str) and not storable_text(item):
            return gettext("Text may not hold NUL or lone surrogate characters.")
        elif isinstance(item, float) and not math.isfinite(item):
            return gettext("Numbers must be finite.")
        elif isinstance(item, int) and abs(item).bit_length() > MAX_INT_BITS:
            return _int_too_large()
    return None


def storable_text(text: str) -> bool:
    """Whether PostgreSQL can store the text and UTF-8 encode it: no NUL, no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _BadNumber(ValueError):
    """Raised by the parser's hooks; its text is the message for the client."""


# Longer text is refused before int() reads it: past 4,300 digits int() fails with advice
# about sys.set_int_max_str_digits, which is no message for a client.
_INT_TEXT_MAX = len(str(2**MAX_INT_BITS)) + 1


def _json_int(text: str) -> int:
    if len(text) > _INT_TEXT_MAX:
        raise _BadNumber(_int_too_large())
    return int(text)


def _no_constant(name: str):
    raise _BadNumber(gettext("%s is not a JSON number.") % name)


def _int_too_large() -> str:
    return gettext("Integers may have at most %(bits)s bits (about 3,000 digits).") % {
        "bits": f"{MAX_INT_BITS:,}"
    }


def _too_deep(max_depth: int) -> str:
    return gettext("Nested deeper than %d levels.") % max_depth


def _json_invalid(message: str) -> ValidationError:
    return ValidationError(message, {"problems": [{"path": "", "message": message}]})
