"""The machine admin: a version with its states and transitions inline.

The forms and inline formsets only validate; the save turns them into one seed document and
hands it to machines.services (machine_create or machine_replace), so the admin writes
exactly what the API would, in one transaction. Frozen versions are read-only; lifecycle
steps live on extra pages (designer/admin/pages.py).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from config.exceptions import PlatformError
from designer.admin import live, pages
from designer.admin.display import STATUS_LABELS, machine_report, problems_by_place
from designer.admin.forms import MachineForm, StateForm, TransitionForm
from designer.admin.replay import replay_urls
from designer.admin.scoping import FLOW_FILTER, FlowScopedAdmin
from designer.admin.steps import available_steps
from machines import selectors, services
from machines.diagrams import render_mermaid
from machines.interchange import NO, YES
from machines.models import Machine, State, Transition

INFO_FIELDS = (
    "id",
    "flow",
    "version",
    "status_label",
    "revision",
    "creator",
    "modifier",
    "updated_at",
)


def _problem_list(problems) -> str:
    return format_html(
        '<ul class="sc-problems">{}</ul>',
        format_html_join(
            "",
            '<li class="sc-{}" data-code="{}">{}{}</li>',
            (
                (
                    p.level,
                    p.code,
                    p.message,
                    f" ({p.where['field']})" if p.where.get("field") else "",
                )
                for p in problems
            ),
        ),
    )


class _DefinitionInline(admin.TabularInline):
    """States or transitions: editable while the machine is testing and the user may edit it."""

    readonly_fields = ("problems",)

    def get_extra(self, request, obj=None, **kwargs):
        return 0 if obj is not None and obj.is_frozen else 1

    def _may_edit(self, request, obj) -> bool:
        if obj is None:
            return request.user.has_perm("machines.add_machine")
        return not obj.is_frozen and request.user.has_perm("machines.change_machine")

    def has_add_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("machines.view_machine") or self._may_edit(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        # Inline admins are made per request, so keeping this request's problems is safe.
        self._places = problems_by_place(machine_report(request, obj))
        return super().get_formset(request, obj, **kwargs)

    def _problems_of(self, obj):
        raise NotImplementedError

    @admin.display(description=_("Problems"))
    def problems(self, obj):
        found = self._problems_of(obj) if obj is not None and obj.pk else []
        return _problem_list(found) if found else ""


class StateInline(_DefinitionInline):
    model = State
    form = StateForm
    fields = (*StateForm.Meta.fields, "problems")

    def _problems_of(self, obj):
        return self._places[0].get(obj.value, [])


class TransitionInline(_DefinitionInline):
    model = Transition
    form = TransitionForm
    fields = (*TransitionForm.Meta.fields, "problems")

    def _problems_of(self, obj):
        # Positions are the definition's indexes: services store transitions in list order.
        return self._places[1].get(obj.position, [])


@admin.register(Machine)
class MachineAdmin(FlowScopedAdmin):
    form = MachineForm
    inlines = [StateInline, TransitionInline]
    list_display = ("__str__", "status_label", "creator", "modifier", "updated_at", "links")
    list_filter = ("status", FLOW_FILTER)
    search_fields = ("flow__code", "flow__name")
    list_select_related = ("flow",)
    change_form_template = "admin/machines/machine/change_form.html"
    change_list_template = "admin/machines/machine/change_list.html"

    def get_fields(self, request, obj=None):
        return ("flow", "version") if obj is None else INFO_FIELDS

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return super().get_fieldsets(request, obj)
        # Folded: the title and the status line say which version this is; the editor's rows
        # come first.
        return [(_("About this version"), {"fields": INFO_FIELDS, "classes": ["collapse"]})]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else INFO_FIELDS

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or not obj.is_frozen)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or not obj.is_frozen)

    @admin.display(description=_("Status"), ordering="status")
    def status_label(self, obj):
        return format_html(
            '<span class="sc-status sc-status-{}">{}</span>',
            obj.get_status_display(),
            STATUS_LABELS[obj.status],
        )

    @admin.display(description=_("Pages"))
    def links(self, obj):
        links = (
            ("machines_machine_overview", _("diagram")),
            ("machines_machine_simulate", _("simulator")),
            ("machines_machine_export", _("export")),
        )
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            ((reverse(f"admin:{name}", args=[obj.pk]), label) for name, label in links),
        )

    def get_urls(self):
        def view(function):
            def wrapped(request, *args, **kwargs):
                return function(self, request, *args, **kwargs)

            return self.admin_site.admin_view(wrapped)

        return [
            path("import/", view(pages.import_machine), name="machines_machine_import"),
            path("live/", view(live.live_check), name="machines_machine_live_new"),
            path("<int:object_id>/live/", view(live.live_check), name="machines_machine_live"),
            path(
                "<int:object_id>/overview/", view(pages.overview), name="machines_machine_overview"
            ),
            path(
                "<int:object_id>/scenarios/<int:scenario_id>/delete/",
                view(pages.scenario_remove),
                name="machines_machine_scenario_delete",
            ),
            path(
                "<int:object_id>/simulate/", view(pages.simulator), name="machines_machine_simulate"
            ),
            path(
                "<int:object_id>/simulate/run/",
                view(pages.simulate_run),
                name="machines_machine_simulate_run",
            ),
            path(
                "<int:object_id>/step/<slug:step>/", view(pages.step), name="machines_machine_step"
            ),
            path("<int:object_id>/export/", view(pages.export), name="machines_machine_export"),
            *replay_urls(view),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        report = machine_report(request, obj)
        context.update(
            show_save_and_add_another=False,
            report=report,
            problems=list(report.errors + report.warnings) if report else [],
            summary=_summary(report),
            status_label=STATUS_LABELS[obj.status] if obj is not None else "",
            steps=available_steps(self, request, obj) if obj is not None else [],
            state_values=[s.value for s in obj.states.all()] if obj is not None else [],
            **_editor_context(self, request, obj),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except PlatformError as exc:  # the service refused; its transaction kept nothing
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        """Nothing yet: the machine and its definition are written together in save_related."""

    def save_related(self, request, form, formsets, change):
        document = seed_document(form, formsets)
        if change:
            machine = services.machine_replace(
                machine=form.instance,
                data=document,
                user=request.user,
                expected_revision=form.cleaned_data.get("seen_revision"),
            )
        else:
            machine = services.machine_create(data=document, user=request.user)
        for field in Machine._meta.concrete_fields:  # the admin goes on with form.instance
            setattr(form.instance, field.attname, getattr(machine, field.attname))
        form.instance._state.adding = False

    def construct_change_message(self, request, form, formsets, add=False):
        return [{"added": {}}] if add else [{"changed": {"fields": ["states", "transitions"]}}]

    def response_add(self, request, obj, post_url_continue=None):
        return self._saved(request, obj, gettext("The machine %s was created.") % obj)

    def response_change(self, request, obj):
        return self._saved(request, obj, gettext("The machine %s was saved.") % obj)

    def _saved(self, request, obj, message):
        self.message_user(request, message, messages.SUCCESS)
        errors = len(services.machine_validate(machine=obj).errors)
        if errors:
            self.message_user(
                request,
                ngettext(
                    "It has %(count)d error to fix before publishing: see the problems next "
                    "to the states and transitions.",
                    "It has %(count)d errors to fix before publishing: see the problems next "
                    "to the states and transitions.",
                    errors,
                )
                % {"count": errors},
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:machines_machine_change", args=[obj.pk]))

    def delete_model(self, request, obj):
        services.machine_delete(machine=obj)

    # Django's delete pages refuse frozen versions and ones with instances beforehand; the
    # service checks again under lock, and one transaction keeps a selection all or nothing.
    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for machine in queryset:
            services.machine_delete(machine=machine)


def _summary(report) -> str:
    return live.problem_summary(len(report.errors), len(report.warnings)) if report else ""


def _editor_context(admin, request, obj) -> dict:
    """The live check's URL and texts for a form that can be edited; else the stored diagram."""
    if obj is None and admin.has_add_permission(request):
        url = reverse("admin:machines_machine_live_new")
    elif obj is not None and admin.has_change_permission(request, obj):
        url = reverse("admin:machines_machine_live", args=[obj.pk])
    else:
        definition = selectors.machine_definition(machine=obj) if obj is not None else None
        return {"diagram": render_mermaid(definition) if definition else ""}
    return {
        "live_url": url,
        "live_text": {
            "checking": gettext("Checking…"),
            "checked": gettext("Checked as you type; nothing is saved until you press Save."),
            "failed": gettext("Could not check the form:"),
            "each": gettext(
                "Each problem is also shown next to the state or transition it concerns."
            ),
        },
    }


def seed_document(form, formsets) -> dict:
    """The seed JSON the machine form and its two inline formsets describe."""
    rows = {State: None, Transition: None}
    for formset in formsets:
        rows[formset.model] = [f.cleaned_data for f in formset.forms if _kept(f)]
    if rows[State] is None or rows[Transition] is None:
        raise PermissionDenied  # never replace a definition with a part of it
    info = {}
    if form.instance.pk is None:
        info = {"flowId": form.cleaned_data["flow"].pk, "version": form.cleaned_data.get("version")}
    return {
        "smInfo": info,
        "smStates": [_state_seed(row) for row in rows[State]],
        "smTransitions": [_transition_seed(row) for row in rows[Transition]],
    }


def _kept(form) -> bool:
    if form.instance.pk is None and not form.has_changed():
        return False  # an untouched empty row
    return not form.cleaned_data.get("DELETE")


def _state_seed(row: dict) -> dict:
    return {
        "stateValue": row["value"],
        "stateDesc": row.get("desc"),
        "stateType": row.get("type") or State.Type.NORMAL,
        "initial": bool(row.get("initial")),
        "final": bool(row.get("final")),
        "enterAction": row.get("enter_action"),
    }


def _transition_seed(row: dict) -> dict:
    return {
        "sourceState": row["source"],
        "targetState": row["target"],
        "eventValue": row.get("event"),
        "eventDesc": row.get("event_desc"),
        "transitionDesc": row.get("desc"),
        "eventRole": row.get("roles"),
        "showCondition": row.get("show_condition"),
        "guardCondition": row.get("guard_condition"),
        "caseCondition": row.get("case_condition"),
        "caseOrder": row.get("case_order"),
        "caseDefault": YES if row.get("case_default") else NO,
        "transitionAction": row.get("action"),
        "timerSeconds": row.get("timer_seconds"),
        "errorTarget": row.get("error_target"),
    }
