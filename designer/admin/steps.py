"""The lifecycle steps the designer offers as buttons, and who may press them.

Each step names the machines.services function that does it; the page that asks for the
confirmation and calls it is pages.step.
"""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from machines.models import Machine

Status = Machine.Status


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    permission: str | None  # None: whoever may see the machine
    statuses: frozenset
    question: str = ""
    done: str = ""
    service: str = ""  # the name of the machines.services function


STEPS = {
    step.name: step
    for step in (
        Step("validate", _("Validate"), None, frozenset({Status.TESTING})),
        Step(
            "publish",
            _("Publish"),
            "machines.publish_machine",
            frozenset({Status.TESTING}),
            _(
                "Publish %(machine)s? It is validated first. Once published it is frozen: "
                "further changes need a new version."
            ),
            _("%(machine)s is published."),
            "machine_publish",
        ),
        Step(
            "online",
            _("Put online"),
            "machines.publish_machine",
            frozenset({Status.PUBLISHED}),
            _(
                "Put %(machine)s online? New instances of flow %(flow)s will start on it; the "
                "version online now goes back to published."
            ),
            _("%(machine)s is online."),
            "machine_online",
        ),
        Step(
            "disable",
            _("Disable"),
            "machines.publish_machine",
            frozenset({Status.PUBLISHED, Status.ONLINE}),
            _("Disable %(machine)s? It starts no new instances; running ones carry on."),
            _("%(machine)s is disabled."),
            "machine_disable",
        ),
        Step(
            "enable",
            _("Enable"),
            "machines.publish_machine",
            frozenset({Status.DISABLED}),
            _("Enable %(machine)s again? It goes back to published."),
            _("%(machine)s is published again."),
            "machine_enable",
        ),
        Step(
            "new-version",
            _("New version"),
            "machines.add_machine",
            frozenset(Status),
            _("Make a new testing version of flow %(flow)s, a copy of %(machine)s?"),
            _("%(machine)s is a new testing version."),
            "machine_new_version",
        ),
    )
}


def may(admin, request, step: Step, machine) -> bool:
    """Whether this user may take this step (whatever the machine's status)."""
    if step.permission is None:
        return admin.has_view_or_change_permission(request, machine)
    return request.user.has_perm(step.permission)


def available_steps(admin, request, machine) -> list[dict]:
    """The lifecycle buttons this user may press on this machine now."""
    return [
        {
            "name": step.name,
            "label": step.label,
            "url": reverse("admin:machines_machine_step", args=[machine.pk, step.name]),
        }
        for step in STEPS.values()
        if machine.status in step.statuses and may(admin, request, step, machine)
    ]
