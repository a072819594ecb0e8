"""Admin pages show a staff user only the flows granted to one of their groups (or to them).

Superusers see every flow. The rule is the API's (clients/access.py): another flow's objects
are absent from lists, choices and filters, and their pages answer 404.
"""

from django.contrib import admin

from clients.access import visible
from machines.models import Flow


class FlowScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows belong to a flow, through the field path `flow_path`."""

    flow_path = "flow"

    def get_queryset(self, request):
        return visible(super().get_queryset(request), request.user, flow=self.flow_path)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Flow:
            kwargs["queryset"] = visible(Flow.objects.all(), request.user, flow="pk")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# A filter offering only the flows of the rows shown, so other flows' codes stay unlisted.
FLOW_FILTER = ("flow", admin.RelatedOnlyFieldListFilter)
