"""The seed interchange format (DESIGN.md section 3): JSON in, Definition out, and back.

Parsing checks shapes and types and reports every problem with its field path; the rules of
a well-formed machine are the validator's job (machines/validation/).
"""

from rest_framework import serializers

from config.exceptions import ValidationError, flatten_errors
from machines.definition import CHOICE, NORMAL, Definition, StateDef, TransitionDef

MAX_STATES = 500
MAX_TRANSITIONS = 2000
YES, NO = 1, 2


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


def _int(**kwargs):
    kwargs.setdefault("min_value", -INT_MAX)
    kwargs.setdefault("max_value", INT_MAX)
    return serializers.IntegerField(required=False, allow_null=True, default=None, **kwargs)


def _id():
    return _int(min_value=1, max_value=ID_MAX)


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
    version = _int(min_value=1)
    smStatus = serializers.ChoiceField([1, 2, 3, 4], required=False, allow_null=True)
    creator = _text(150)
    modifier = _text(150)


class StateIn(_StrictSerializer):
    stateId = _id()
    smId = _id()
    stateValue = serializers.CharField(max_length=100, trim_whitespace=False)
    stateDesc = _text(500)
    stateType = serializers.ChoiceField([NORMAL, CHOICE], required=False, default=NORMAL)
    initial = serializers.BooleanField(required=False, default=False)
    final = serializers.BooleanField(required=False, default=False)


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
    caseDefault = serializers.ChoiceField([YES, NO], required=False, allow_null=True, default=NO)
    sourceState = serializers.CharField(max_length=100, trim_whitespace=False)
    targetState = serializers.CharField(max_length=100, trim_whitespace=False)
    transitionAction = _text(2000)
    timerSeconds = _int(min_value=1)


class MachineIn(_StrictSerializer):
    smInfo = InfoIn(required=False, default=dict)
    smStates = StateIn(many=True, max_length=MAX_STATES)
    smTransitions = TransitionIn(
        many=True, max_length=MAX_TRANSITIONS, required=False, default=list
    )


def parse_seed(data) -> tuple[dict, Definition]:
    """Check a seed JSON document; return its smInfo and its Definition, or raise."""
    serializer = MachineIn(data=data)
    if not serializer.is_valid():
        problems = flatten_errors(serializer.errors)
        message = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5])
        raise ValidationError(message, {"problems": problems})
    value = serializer.validated_data
    states = tuple(
        StateDef(
            value=s["stateValue"],
            desc=s["stateDesc"],
            type=s["stateType"],
            initial=s["initial"],
            final=s["final"],
        )
        for s in value["smStates"]
    )
    transitions = tuple(_transition_def(t) for t in value["smTransitions"])
    return dict(value["smInfo"]), Definition(states=states, transitions=transitions)


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
    )


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
    return seed
