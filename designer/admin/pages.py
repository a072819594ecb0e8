"""Extra admin pages of a machine: overview (with its scenarios), simulator, lifecycle steps,
import and export.

Each view takes the MachineAdmin first (see MachineAdmin.get_urls), checks the permission
it needs, and writes only through machines.services (or runs the simulator, which stores
nothing).
"""

import json
import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext

from config.exceptions import PlatformError, ValidationError
from designer.admin.display import (
    STATUS_LABELS,
    expression_checks,
    highlighted_mermaid,
    machine_report,
    table_rows,
)
from designer.admin.forms import ImportForm
from designer.admin.steps import STEPS, available_steps, may
from machines import selectors, services
from machines.diagrams import mermaid_marked, render_mermaid
from machines.interchange import parse_json
from machines.models import Machine
from machines.scenarios import scenario_delete, scenario_get, scenario_list
from runtime.models import ROLE_MAX, ROLE_MIN
from runtime.scenarios import coverage_taken, scenario_save_from_simulation, scenarios_run
from runtime.services import machine_simulate


def _machine(admin, request, object_id) -> Machine:
    machine = admin.get_object(request, str(object_id))
    if machine is None:
        raise Http404(gettext("No machine with id %s.") % object_id)
    if not admin.has_view_or_change_permission(request, machine):
        raise PermissionDenied
    return machine


def _change_url(machine) -> str:
    return reverse("admin:machines_machine_change", args=[machine.pk])


def _render(admin, request, template: str, machine, title, **context):
    return TemplateResponse(
        request,
        template,
        {
            **admin.admin_site.each_context(request),
            "opts": Machine._meta,
            "original": machine,
            "title": title,
            "status_label": STATUS_LABELS[machine.status] if machine else "",
            "steps": available_steps(admin, request, machine) if machine else [],
            **context,
        },
    )


def overview(admin, request, object_id):
    """The diagram, the state × event table, the expressions and the problems."""
    machine = _machine(admin, request, object_id)
    definition = selectors.machine_definition(machine=machine)
    report = machine_report(request, machine)
    run, run_error = None, None
    if request.GET.get("run"):
        try:
            run = scenarios_run(machine=machine)
        except PlatformError as exc:
            run_error = exc.message
    return _render(
        admin,
        request,
        "admin/machines/machine/overview.html",
        machine,
        gettext("%s: diagram and table") % machine,
        diagram=mermaid_marked(definition, coverage_taken(run))
        if run
        else render_mermaid(definition),
        table=table_rows(definition),
        expressions=expression_checks(definition),
        problems=report.errors + report.warnings,
        scenarios=scenario_list(machine=machine),
        may_edit_scenarios=not machine.is_frozen and admin.has_change_permission(request, machine),
        run=run,
        run_error=run_error,
    )


def scenario_remove(admin, request, object_id, scenario_id):
    """POST: delete one scenario of a testing version, then back to the list of them."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    machine = _machine(admin, request, object_id)
    if not admin.has_change_permission(request, machine):
        raise PermissionDenied
    try:
        scenario = scenario_get(machine=machine, scenario_id=scenario_id)
        scenario_delete(scenario=scenario)
    except PlatformError as exc:  # gone already, or the version was frozen meanwhile
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("Scenario %s deleted.") % scenario.name)
    return redirect(reverse("admin:machines_machine_overview", args=[machine.pk]) + "#sc-scenarios")


def simulator(admin, request, object_id):
    """The simulator page; the runs go to simulate_run."""
    machine = _machine(admin, request, object_id)
    definition = selectors.machine_definition(machine=machine)
    initial = definition.initial_state()
    events = dict.fromkeys(
        t.event
        for t in definition.expanded().transitions  # a list's or "*"'s event, once per source
        if t.event and not _from_choice(definition, t)
    )
    return _render(
        admin,
        request,
        "admin/machines/machine/simulate.html",
        machine,
        gettext("%s: simulator") % machine,
        diagram=highlighted_mermaid(definition, current=initial.value if initial else None),
        states=[s.value for s in definition.states if not s.is_choice],
        initial=initial.value if initial else "",
        events=list(events),
        run_url=reverse("admin:machines_machine_simulate_run", args=[machine.pk]),
        may_save=not machine.is_frozen and admin.has_change_permission(request, machine),
        simulator_text={
            "badJson": gettext('The context must be a JSON object, such as {"amount": 5}.'),
            "noSteps": gettext("Add at least one step with an event."),
            "event": gettext("Event"),
            "outcome": gettext("Outcome"),
            "path": gettext("Path or error"),
            "endState": gettext("End state"),
            "visited": gettext("Visited"),
            "enterAction": gettext("calls entry action"),
            "errorTarget": gettext("if its action keeps failing (async): goes to"),
            "noName": gettext("Name the scenario first."),
            "saved": gettext("Saved as scenario %s."),
            "scenarios": gettext("See the scenarios"),
        },
    )


def _from_choice(definition, t) -> bool:
    source = definition.state(t.source)
    return source is not None and source.is_choice


def simulate_run(admin, request, object_id):
    """POST {state?, steps: [{event, role?, context?}]}: each step's outcome, nothing stored."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    machine = _machine(admin, request, object_id)
    try:
        state, steps, save_as = _simulation_input(request.body)
        if save_as is not None:
            return _save_scenario(admin, request, machine, save_as, state, steps)
        result = machine_simulate(machine=machine, state=state, steps=steps)
    except PlatformError as exc:
        body = {"code": exc.code, "message": exc.message, "details": exc.details}
        return JsonResponse(body, status=exc.status_code)
    definition = selectors.machine_definition(machine=machine)
    initial = definition.initial_state()
    visited = [state or (initial.value if initial else None)]
    for outcome in (s["outcome"] for s in result["steps"] if s["ok"]):
        visited += [hop["toState"] for hop in outcome["path"]]
    result["visited"] = [v for v in visited if v]
    result["diagram"] = highlighted_mermaid(
        definition, visited=result["visited"], current=result["state"]
    )
    return JsonResponse(result)


def _save_scenario(admin, request, machine, name, state, steps) -> JsonResponse:
    """The simulator's "save as scenario": the steps, expecting what a run of them gives."""
    if not admin.has_change_permission(request, machine):
        raise PermissionDenied
    scenario = scenario_save_from_simulation(machine=machine, name=name, state=state, steps=steps)
    url = reverse("admin:machines_machine_overview", args=[machine.pk]) + "#sc-scenarios"
    return JsonResponse({"id": scenario.pk, "name": scenario.name, "url": url}, status=201)


def _simulation_input(raw: bytes) -> tuple[str | None, list[dict], str | None]:
    """The start state, the steps, and the name to save them under (saveAs) if any."""

    def invalid(path, message):
        return ValidationError(message, {"problems": [{"path": path, "message": message}]})

    body = parse_json(raw or b"{}")  # bad text, numbers or nesting: a clear 400, not a 500
    if not isinstance(body, dict) or not isinstance(body.get("steps", []), list):
        raise invalid("steps", gettext("Send an object with a list of steps."))
    state = body.get("state") or None
    if state is not None and not isinstance(state, str):
        raise invalid("state", gettext("The start state must be a state value."))
    steps = []
    for index, step in enumerate(body.get("steps", [])):
        event = step.get("event") if isinstance(step, dict) else None
        if not isinstance(event, str) or not event.strip():
            raise invalid(f"steps[{index}].event", gettext("Each step needs an event."))
        role, context = _role(step.get("role")), step.get("context") or {}
        if isinstance(role, str):
            raise invalid(f"steps[{index}].role", role)
        if not isinstance(context, dict):
            raise invalid(f"steps[{index}].context", gettext("A context is a JSON object."))
        steps.append({"event": event, "role": role, "context": context})
    save_as = body.get("saveAs")
    if save_as is not None and (not isinstance(save_as, str) or not save_as.strip()):
        raise invalid("name", gettext("Name the scenario first."))
    return state, steps, save_as.strip() if save_as is not None else None


def _role(value) -> int | str | None:
    """A step's role: None when empty, the number, or why the API's role field would refuse it."""
    if value in ("", None):
        return None
    # ASCII digits only: "²".isdigit() is True, yet int("²") fails.
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,10}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return gettext("A role is a whole number.")
    if not ROLE_MIN <= value <= ROLE_MAX:  # what the event record's role column holds
        return gettext("A role is between %(min)d and %(max)d.") % {
            "min": ROLE_MIN,
            "max": ROLE_MAX,
        }
    return value


def step(admin, request, object_id, step):
    """A lifecycle step: GET asks for confirmation, POST does it (validate needs neither)."""
    machine = _machine(admin, request, object_id)
    spec = STEPS.get(step)
    if spec is None:
        raise Http404(gettext("No such step."))
    if not may(admin, request, spec, machine):
        raise PermissionDenied
    if spec.name == "validate":
        _say_validation(request, machine)
        return redirect(_change_url(machine))
    names = {"machine": str(machine), "flow": machine.flow.code}
    if request.method != "POST":
        return _render(
            admin,
            request,
            "admin/machines/machine/confirm_step.html",
            machine,
            spec.label,
            step=spec,
            question=spec.question % names,
        )
    try:
        result = getattr(services, spec.service)(machine=machine, user=request.user)
    except PlatformError as exc:
        messages.error(request, exc.message)
        return redirect(_change_url(machine))
    messages.success(request, spec.done % {**names, "machine": str(result)})
    return redirect(_change_url(result))


def _say_validation(request, machine) -> None:
    report = services.machine_validate(machine=machine)
    counts = {"errors": len(report.errors), "warnings": len(report.warnings)}
    if report.valid and not report.warnings:
        messages.success(request, gettext("No problems: %s is ready to publish.") % machine)
    elif report.valid:
        messages.success(
            request, gettext("No errors, %(warnings)d warning(s): it can be published.") % counts
        )
    else:
        messages.error(
            request,
            gettext(
                "%(errors)d error(s) and %(warnings)d warning(s): see the problems next to the "
                "states and transitions."
            )
            % counts,
        )


def export(admin, request, object_id):
    """The machine as a seed JSON download."""
    machine = _machine(admin, request, object_id)
    document = selectors.machine_export(machine=machine)
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        content_type="application/json; charset=utf-8",
    )
    filename = f"{machine.flow.code}-v{machine.version}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def import_machine(admin, request):
    """Upload or paste seed JSON; it becomes a new testing machine."""
    if not admin.has_add_permission(request):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        create_flow = form.cleaned_data["create_flow"]
        if create_flow and not request.user.has_perm("machines.add_flow"):
            raise PermissionDenied
        try:
            machine = services.machine_create(
                data=form.cleaned_data["document"], user=request.user, create_flow=create_flow
            )
        except PlatformError as exc:
            form.add_error(None, exc.message)
            problems = exc.details.get("problems", [])
        else:
            messages.success(request, gettext("Imported %s as a testing machine.") % machine)
            return redirect(_change_url(machine))
    return _render(
        admin,
        request,
        "admin/machines/machine/import.html",
        None,
        gettext("Import a machine"),
        form=form,
        problems=problems,
    )
