"""The instance pages: search by flow and business key, see one on its diagram.

Instances are read-only here (business systems change them through the runtime API); the
one action is replaying a failed async event, through runtime.async_events.event_replay.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.exceptions import PlatformError
from designer.admin.display import STATUS_LABELS, highlighted_mermaid
from designer.admin.scoping import FLOW_FILTER, FlowScopedAdmin
from machines import selectors
from runtime.async_events import event_replay
from runtime.models import EventRecord, Instance

PENDING = (EventRecord.Status.ACCEPTED, EventRecord.Status.PROCESSING, EventRecord.Status.FAILED)


@admin.register(Instance)
class InstanceAdmin(FlowScopedAdmin):
    list_display = ("business_key", "flow", "version", "state", "updated_at")
    list_filter = (FLOW_FILTER,)
    search_fields = ("business_key",)
    list_select_related = ("flow", "machine")
    fields = ("flow", "machine", "business_key", "state", "context", "event_counts", "created_at")
    readonly_fields = fields
    change_form_template = "admin/runtime/instance/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Version"), ordering="machine__version")
    def version(self, obj):
        return f"v{obj.machine.version}"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            definition = selectors.machine_definition(machine=obj.machine)
            history = list(obj.history.all())
            context.update(
                diagram=highlighted_mermaid(
                    definition, visited=[h.to_state for h in history], current=obj.state
                ),
                history=history,
                pending=obj.events.filter(status__in=PENDING).order_by("id"),
                machine_status=STATUS_LABELS[obj.machine.status],
                may_replay=request.user.has_perm("runtime.change_instance"),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        replay = self.admin_site.admin_view(self.replay_view)
        return [
            path(
                "<int:object_id>/events/<int:event_id>/replay/",
                replay,
                name="runtime_instance_replay",
            ),
            *super().get_urls(),
        ]

    def replay_view(self, request, object_id, event_id):
        """Queue a failed async event again, with fresh attempts."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("runtime.change_instance"):
            raise PermissionDenied
        instance = self.get_object(request, str(object_id))  # None for another flow's
        if instance is None:
            raise Http404
        record = instance.events.filter(pk=event_id).first()
        if record is None:
            raise Http404
        try:
            event_replay(record=record)
        except PlatformError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, gettext("Event %s was queued again.") % record.pk)
        return HttpResponseRedirect(reverse("admin:runtime_instance_change", args=[object_id]))
