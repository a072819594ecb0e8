"""API clients, and the flows granted to users and groups (who sees which flow)."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _

from clients.models import ApiClient, FlowGrant


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("user", "roles", "is_designer", "is_operator", "created_at")
    list_filter = ("is_designer", "is_operator")


class FlowGrantInline(admin.TabularInline):
    """The flows granted; a row with no flow grants every flow, those made later too."""

    model = FlowGrant
    extra = 1
    fields = ("flow",)
    verbose_name_plural = _("flows granted (no flow: every flow)")


class GrantingGroupAdmin(GroupAdmin):
    inlines = [FlowGrantInline]


class GrantingUserAdmin(UserAdmin):
    inlines = [FlowGrantInline]


# Grants are managed on the user and group pages, by whoever may change users and groups.
admin.site.unregister(Group)
admin.site.register(Group, GrantingGroupAdmin)
admin.site.unregister(User)
admin.site.register(User, GrantingUserAdmin)
