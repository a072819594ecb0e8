"""A plain admin over definitions; frozen machines are read-only here as in the API."""

from django.contrib import admin

from machines.models import Flow, Machine, State, Transition


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "created_at")
    search_fields = ("code", "name")


class _FrozenInline(admin.TabularInline):
    extra = 0

    def has_change_permission(self, request, obj=None):
        return obj is None or not obj.is_frozen

    has_add_permission = has_delete_permission = has_change_permission


class StateInline(_FrozenInline):
    model = State
    fields = ("position", "value", "desc", "type", "initial", "final")


class TransitionInline(_FrozenInline):
    model = Transition
    fields = (
        "position",
        "source",
        "event",
        "target",
        "roles",
        "guard_condition",
        "case_condition",
        "case_order",
        "case_default",
        "action",
        "timer_seconds",
    )


@admin.register(Machine)
class MachineAdmin(admin.ModelAdmin):
    list_display = ("flow", "version", "status", "modifier", "updated_at")
    list_filter = ("status", "flow")
    readonly_fields = ("status", "revision", "created_at", "updated_at")
    inlines = [StateInline, TransitionInline]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or not obj.is_frozen)
