"""Admin forms: every field of the interchange format, labelled with its seed JSON name."""

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.exceptions import ValidationError
from designer.admin.display import STATUS_LABELS
from machines.exceptions import MachineChanged
from machines.interchange import VERSION_MAX, parse_json
from machines.models import Flow, Machine, State, Transition

EXPRESSION_MAX = 2000  # the interchange format's limit (machines/interchange.py)


def _expression_widget():
    return forms.Textarea(attrs={"rows": 1, "cols": 22, "class": "sc-expression"})


def _state_value_widget(size: int = 10):
    # The change form renders a <datalist id="sc-state-values"> with the machine's states.
    return forms.TextInput(attrs={"size": size, "list": "sc-state-values"})


class MachineForm(forms.ModelForm):
    version = forms.IntegerField(
        label=_("Version"),
        required=False,
        min_value=1,
        max_value=VERSION_MAX,
        help_text=_("version: leave empty for the flow's next version."),
    )

    class Meta:
        model = Machine
        fields = ("flow", "version")
        help_texts = {"flow": _("flowId: the flow this machine is a version of.")}

    # The revision the designer's page showed: a save over someone else's newer one is refused.
    seen_revision = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["seen_revision"].initial = self.instance.revision

    def clean(self):
        data = super().clean()
        flow, version = data.get("flow"), data.get("version")
        if flow and version and flow.machines.filter(version=version).exists():
            self.add_error("version", gettext("This flow already has a version %d.") % version)
        # Here the designer keeps the page and its edits; machine_replace checks again under
        # the row lock, for two saves that both pass this check at the same moment.
        seen = data.get("seen_revision")
        if self.instance.pk and seen is not None:
            current = Machine.objects.filter(pk=self.instance.pk).values_list("revision", flat=True)
            if current.first() != seen:
                raise forms.ValidationError(MachineChanged.default_message)
        return data


class StateForm(forms.ModelForm):
    class Meta:
        model = State
        fields = ("value", "desc", "type", "initial", "final", "enter_action")
        labels = {
            "value": _("Value"),
            "desc": _("Description"),
            "type": _("Type"),
            "initial": _("Initial"),
            "final": _("Final"),
            "enter_action": _("Entry action URL"),
        }
        help_texts = {
            "value": _("stateValue: the state's name, unique in the machine."),
            "desc": _("stateDesc: shown on the diagram."),
            "type": _("stateType: normal states wait for events; choice states route at once."),
            "initial": _("initial: where instances start (default: the first normal state)."),
            "final": _("final: an end state; it needs no way out."),
            "enter_action": _(
                "enterAction: URL called back (POST) after each event that leaves an instance "
                "in this state."
            ),
        }
        widgets = {
            "value": forms.TextInput(attrs={"size": 12}),
            "desc": forms.TextInput(attrs={"size": 24}),
            "enter_action": forms.TextInput(attrs={"size": 18}),
        }


class TransitionForm(forms.ModelForm):
    show_condition = forms.CharField(
        label=_("Show condition"),
        required=False,
        max_length=EXPRESSION_MAX,
        widget=_expression_widget(),
        help_text=_("showCondition: the event is offered only when this is true."),
    )
    guard_condition = forms.CharField(
        label=_("Guard"),
        required=False,
        max_length=EXPRESSION_MAX,
        widget=_expression_widget(),
        help_text=_("guardCondition: the event is refused unless this is true."),
    )
    case_condition = forms.CharField(
        label=_("Case condition"),
        required=False,
        max_length=EXPRESSION_MAX,
        widget=_expression_widget(),
        help_text=_("caseCondition: from a choice state, this branch is taken when true."),
    )

    class Meta:
        model = Transition
        fields = (
            "source",
            "event",
            "target",
            "event_desc",
            "desc",
            "roles",
            "guard_condition",
            "show_condition",
            "case_condition",
            "case_order",
            "case_default",
            "action",
            "timer_seconds",
            "error_target",
        )
        labels = {
            "source": _("Source"),
            "event": _("Event"),
            "target": _("Target"),
            "event_desc": _("Event description"),
            "desc": _("Description"),
            "roles": _("Roles"),
            "case_order": _("Case order"),
            "case_default": _("Default branch"),
            "action": _("Action URL"),
            "timer_seconds": _("Timer (s)"),
            "error_target": _("Error target"),
        }
        help_texts = {
            "source": _(
                "sourceState: the state this transition leaves; a comma list (A,B) for several, "
                "or * for every normal, non-final state without a transition of its own for "
                "this event."
            ),
            "event": _("eventValue: the event that fires it (none from a choice state)."),
            "target": _("targetState: the state it enters."),
            "event_desc": _("eventDesc: a human name for the event."),
            "desc": _("transitionDesc: what this transition means."),
            "roles": _("eventRole: role codes allowed to fire it, such as 1,2; empty: any."),
            "case_order": _("caseOrder: choice branches are tried in this order."),
            "case_default": _("caseDefault: the branch taken when no case is true."),
            "action": _("transitionAction: URL called back (POST) when it is taken."),
            "timer_seconds": _("timerSeconds: fire the event after this many seconds."),
            "error_target": _(
                "errorTarget: the normal state an async event moves to when the action still "
                "fails after its last attempt."
            ),
        }
        widgets = {
            "source": _state_value_widget(),
            "target": _state_value_widget(),
            "error_target": _state_value_widget(),
            "event": forms.TextInput(attrs={"size": 8}),
            "event_desc": forms.TextInput(attrs={"size": 12}),
            "desc": forms.TextInput(attrs={"size": 12}),
            "roles": forms.TextInput(attrs={"size": 5}),
            "case_order": forms.NumberInput(attrs={"style": "width: 4em"}),
            "action": forms.TextInput(attrs={"size": 18}),
            "timer_seconds": forms.NumberInput(attrs={"style": "width: 5em"}),
        }

    def clean(self):
        data = super().clean()
        # Blank text is "no expression": stored as null, as the API does for a missing key.
        for name in ("show_condition", "guard_condition", "case_condition"):
            if not (data.get(name) or "").strip():
                data[name] = None
        return data


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("JSON file"), required=False, help_text=_("A machine in the seed format.")
    )
    text = forms.CharField(
        label=_("or paste the JSON"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "false"}),
    )
    create_flow = forms.BooleanField(
        label=_("Create the flow if it does not exist"),
        required=False,
        help_text=_("Uses smInfo.flowCode."),
    )

    def clean(self):
        data = super().clean()
        upload, text = data.get("file"), (data.get("text") or "").strip()
        if bool(upload) == bool(text):
            raise forms.ValidationError(gettext("Give either a file or the pasted JSON."))
        raw = upload.read() if upload else text.encode()
        try:
            document = parse_json(raw)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message) from None
        if not isinstance(document, dict):
            raise forms.ValidationError(gettext("The JSON must be an object with smStates."))
        data["document"] = document
        return data


class DiffForm(forms.Form):
    a = forms.ModelChoiceField(queryset=Machine.objects.none(), label=_("From version"))
    b = forms.ModelChoiceField(queryset=Machine.objects.none(), label=_("To version"))

    def __init__(self, *args, flow: Flow, **kwargs):
        super().__init__(*args, **kwargs)
        versions = flow.machines.order_by("version")
        for name in ("a", "b"):
            self.fields[name].queryset = versions
            self.fields[name].label_from_instance = _version_label


def _version_label(machine) -> str:
    return f"v{machine.version} ({STATUS_LABELS[machine.status]})"
