"""The admin's replay page of a machine: another version's recorded history through this one.

Pick the version whose instances' events are replayed (the online version first), the last
N instances or those created since a date, and run: the totals per transition on the
diagram and in a table, beside the recorded version's, and each differing instance with its
first differing event. A GET form, since a replay stores nothing (runtime/replay.py).
"""

from datetime import datetime, time

from django import forms
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.exceptions import PlatformError
from designer.admin.display import STATUS_LABELS
from designer.admin.pages import _machine, _render
from machines import selectors
from machines.diagrams import mermaid_marked
from machines.models import Machine
from runtime.replay import DEFAULT_INSTANCES, MAX_INSTANCES, machine_replay_history

LISTED = 200  # differing instances shown; the count says how many there are


class ReplayForm(forms.Form):
    source = forms.TypedChoiceField(label=_("Replay the history of"), coerce=int)
    window = forms.ChoiceField(
        label=_("Which instances"),
        choices=[("last", _("the last instances created")), ("since", _("created since"))],
        initial="last",
        widget=forms.RadioSelect,
    )
    limit = forms.IntegerField(
        label=_("How many"), min_value=1, max_value=MAX_INSTANCES, initial=DEFAULT_INSTANCES
    )
    since = forms.DateField(
        label=_("Since"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [(m.pk, _version_label(m)) for m in versions]

    def clean(self):
        data = super().clean()
        if data.get("window") == "since" and not data.get("since"):
            self.add_error("since", gettext("Pick the date the instances were created from."))
        return data


def _version_label(machine: Machine) -> str:
    return gettext("version %(version)s (%(status)s)") % {
        "version": machine.version,
        "status": STATUS_LABELS[machine.status],  # get_status_display is the API's name
    }


def replay_urls(view) -> list:
    """The page's URL, for MachineAdmin.get_urls (`view` wraps a view as an admin view)."""
    return [path("<int:object_id>/replay/", view(replay_page), name="machines_machine_replay")]


def replay_page(admin, request, object_id):
    """The form; with `run` in the query, the replay's figures under it."""
    machine = _machine(admin, request, object_id)
    versions = _versions(machine)
    online = next((m for m in versions if m.status == Machine.Status.ONLINE), None)
    initial = {"source": (online or machine).pk}
    form = ReplayForm(request.GET if "run" in request.GET else None, versions=versions,
                      initial=initial)  # fmt: skip
    context = {"form": form, "result": None, "error": None}
    if form.is_bound and form.is_valid():
        try:
            context.update(_run(machine, form.cleaned_data))
        except PlatformError as exc:
            context["error"] = exc.message
    return _render(
        admin,
        request,
        "admin/machines/machine/replay.html",
        machine,
        gettext("%s: replay history") % machine,
        **context,
    )


def _versions(machine: Machine) -> list[Machine]:
    """The flow's versions, the online one first, then the newest."""
    versions = list(Machine.objects.filter(flow_id=machine.flow_id).order_by("-version"))
    return sorted(versions, key=lambda m: m.status != Machine.Status.ONLINE)


def _run(machine: Machine, data: dict) -> dict:
    since = None
    if data["window"] == "since":
        since = timezone.make_aware(datetime.combine(data["since"], time.min))
    result = machine_replay_history(
        machine=machine,
        from_sm_id=data["source"],
        since=since,
        limit=data["limit"] if since is None else None,
    )
    definition = selectors.machine_definition(machine=machine).expanded()
    # The copies of a many-source row share its id: told apart by the state they leave.
    counts = {(t["transitionId"], t["fromState"]): t["count"] for t in result["transitions"]}
    taken = {i: counts.get((t.id, t.source), 0) for i, t in enumerate(definition.transitions)}
    return {
        "result": result,
        "diagram": mermaid_marked(definition, taken),
        "differences": [_difference(d) for d in result["differences"][:LISTED]],
        "unlisted": max(0, len(result["differences"]) - LISTED),
        "source": Machine.objects.get(pk=result["fromSmId"]),
    }


def _difference(entry: dict) -> dict:
    return {
        **entry,
        "url": reverse("admin:runtime_instance_change", args=[entry["instanceId"]]),
        "recorded_text": _outcome_text(entry["recorded"]),
        "replayed_text": _outcome_text(entry["replayed"]),
    }


def _outcome_text(outcome: dict) -> str:
    if outcome["applied"]:
        return f"→ {outcome['toState']}"
    error = outcome.get("error") or {}
    return f"{error.get('code', '')}: {error.get('message', '')}"
