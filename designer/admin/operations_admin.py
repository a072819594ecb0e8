"""The operations page of a flow: where its instances rest, which transitions they took,
what waits, what failed, what is stuck; and replaying failed events, for operators.

Listed in the admin as "Flow operations" (a proxy of Flow, scoped like the flows: another
flow's page answers 404). Every figure is an aggregate read from an index or a roll-up
(operations.selectors, operations.rollups): a page view reads no history row.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clients.access import is_operator
from config.exceptions import PlatformError
from designer.admin import operations_figures as figures
from designer.admin.scoping import FlowScopedAdmin
from operations.models import FlowOperations
from operations.selectors import flow_events
from runtime.async_events import event_replay
from runtime.models import EventRecord

FAILED_PER_PAGE = 50


def may_replay(user) -> bool:
    """Operators: superusers, and staff allowed to change instances (the admin's replay)."""
    return is_operator(user) and user.has_perm("runtime.change_instance")


@admin.register(FlowOperations)
class FlowOperationsAdmin(FlowScopedAdmin):
    list_display = ("code", "name", "operations_link")
    search_fields = ("code", "name")
    flow_path = "pk"

    # Whoever may see instances may see a flow's operations; nothing here is edited.
    def has_module_permission(self, request):
        return request.user.is_active and request.user.has_perm("runtime.view_instance")

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Operations"))
    def operations_link(self, obj):
        url = reverse("admin:operations_flowoperations_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Open"))

    def get_urls(self):
        replay = self.admin_site.admin_view(self.replay_view)
        name = "operations_flowoperations_replay"
        return [path("<int:object_id>/replay/", replay, name=name), *super().get_urls()]

    def _flow(self, request, object_id):
        flow = self.get_object(request, str(object_id))  # None for another flow's
        if flow is None:
            raise Http404(gettext("No flow with id %s.") % object_id)
        if not self.has_view_permission(request, flow):
            raise PermissionDenied
        return flow

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The page: diagram with counts, backlogs, stuck work, failed events."""
        flow = self._flow(request, object_id)
        window = figures.window(request.GET.get("window"))
        failed = Paginator(
            flow_events(flow.pk)
            .filter(status=EventRecord.Status.FAILED)
            .select_related("instance")
            .order_by("-id"),
            FAILED_PER_PAGE,
        ).get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": flow,
            "title": gettext("Operations of %s") % flow.code,
            **figures.flow_figures(flow=flow, window=window),
            "failed": failed,
            "may_replay": may_replay(request.user),
        }
        return TemplateResponse(request, "admin/operations/flowoperations/page.html", context)

    def replay_view(self, request, object_id):
        """Replay the chosen failed events of the flow, one at a time, through the service."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        flow = self._flow(request, object_id)
        if not may_replay(request.user):
            raise PermissionDenied
        ids = {int(v) for v in request.POST.getlist("event") if v.isdigit() and len(v) < 19}
        records = flow_events(flow.pk).filter(pk__in=sorted(ids)[:FAILED_PER_PAGE])
        done, refused = [], []
        for record in records.order_by("id"):
            try:
                event_replay(record=record)
            except PlatformError as exc:
                refused.append(f"{record.pk}: {exc.message}")
            else:
                done.append(record.pk)
        if done:
            messages.success(request, gettext("Queued again: %s.") % ", ".join(map(str, done)))
        if refused:
            messages.error(request, gettext("Not replayed: %s") % "; ".join(refused))
        if not done and not refused:
            messages.warning(request, gettext("Choose failed events to replay."))
        url = reverse("admin:operations_flowoperations_change", args=[flow.pk])
        return HttpResponseRedirect(url)
