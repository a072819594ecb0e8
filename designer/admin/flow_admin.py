"""The flow admin: create a flow, see its version history, compare two versions.

A flow is created through machines.services.flow_create and is not edited afterwards (there
is no update service; its code names it in every API call and instance).
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from designer.admin.display import STATE_FIELD_NAMES, STATUS_LABELS, TRANSITION_FIELD_NAMES
from designer.admin.forms import DiffForm
from designer.admin.scoping import FlowScopedAdmin
from machines import selectors, services
from machines.diffs import definition_diff
from machines.models import Flow, Machine


@admin.register(Flow)
class FlowAdmin(FlowScopedAdmin):
    list_display = ("code", "name", "version_count", "online_version", "created_at")
    search_fields = ("code", "name")
    fields = ("code", "name", "description")
    change_form_template = "admin/machines/flow/change_form.html"
    flow_path = "pk"

    def has_change_permission(self, request, obj=None):
        return False  # flows are created once; their page shows the versions

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Versions"))
    def version_count(self, obj):
        return obj.machines.count()

    @admin.display(description=_("Online version"))
    def online_version(self, obj):
        online = obj.machines.filter(status=Machine.Status.ONLINE).first()
        return f"v{online.version}" if online else "-"

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in self.fields}
        flow = services.flow_create(**fields, user=request.user)  # granted to its creator
        obj.pk, obj.created_at = flow.pk, flow.created_at

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, gettext("The flow %s was created.") % obj.code)
        return HttpResponseRedirect(reverse("admin:machines_flow_change", args=[obj.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            versions = obj.machines.order_by("-version")
            diff_form = DiffForm(flow=obj, initial=_latest_two(versions))
            for field in diff_form.fields.values():  # the form stands outside the admin's
                field.widget.attrs["form"] = "sc-diff-form"
            context.update(
                versions=[(m, STATUS_LABELS[m.status]) for m in versions],
                diff_form=diff_form,
                may_add_machine=request.user.has_perm("machines.add_machine"),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        diff = self.admin_site.admin_view(self.diff_view)
        return [path("<int:object_id>/diff/", diff, name="machines_flow_diff"), *super().get_urls()]

    def diff_view(self, request, object_id):
        """States and transitions added, removed and changed from version a to version b."""
        flow = self.get_object(request, str(object_id))
        if flow is None:
            raise Http404
        if not self.has_view_permission(request, flow):
            raise PermissionDenied
        form = DiffForm(request.GET or None, flow=flow)
        context = {
            **self.admin_site.each_context(request),
            "opts": Flow._meta,
            "original": flow,
            "title": gettext("Compare versions of %s") % flow.code,
            "form": form,
        }
        if form.is_valid():
            old, new = form.cleaned_data["a"], form.cleaned_data["b"]
            diff = definition_diff(
                selectors.machine_definition(machine=old),
                selectors.machine_definition(machine=new),
            )
            context.update(old=old, new=new, diff=diff, rows=_diff_rows(diff))
        return TemplateResponse(request, "admin/machines/flow/diff.html", context)


def _latest_two(versions) -> dict:
    latest = list(versions[:2])
    return {"a": latest[-1].pk, "b": latest[0].pk} if latest else {}


def _diff_rows(diff) -> list[dict]:
    """The diff as table rows: kind (state, transition), what happened, which, field details."""
    rows = []
    for kind, names, label in (
        ("states", STATE_FIELD_NAMES, gettext("state")),
        ("transitions", TRANSITION_FIELD_NAMES, gettext("transition")),
    ):
        for item in getattr(diff, f"{kind}_added"):
            rows.append({"kind": label, "change": "added", "item": item, "fields": []})
        for item in getattr(diff, f"{kind}_removed"):
            rows.append({"kind": label, "change": "removed", "item": item, "fields": []})
        for change in getattr(diff, f"{kind}_changed"):
            fields = [(names.get(name, name), old, new) for name, old, new in change.fields]
            rows.append(
                {"kind": label, "change": "changed", "item": change.label, "fields": fields}
            )
    return rows
