"""Events the broker brought and the platform refused: what operators look at when a system
says its events vanish (a broker sender gets no answer to read the error from)."""

from django.contrib import admin

from designer.admin.scoping import FLOW_FILTER, FlowScopedAdmin
from runtime.models import RefusedSubmission


@admin.register(RefusedSubmission)
class RefusedSubmissionAdmin(FlowScopedAdmin):
    list_display = ("received_at", "code", "flow", "message")
    list_filter = ("code", FLOW_FILTER)
    search_fields = ("message", "payload")
    fields = ("received_at", "code", "message", "flow", "payload")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
