"""Helpers for the admin tests: users with chosen permissions, seed machines, form posts."""

from django.contrib.auth.models import Group, Permission, User

from clients.models import FlowGrant
from machines import services
from tests.conftest import example_seed

DESIGNER_PERMISSIONS = (
    "view_flow",
    "add_flow",
    "view_machine",
    "add_machine",
    "change_machine",
    "delete_machine",
    "view_instance",
)


def staff_user(username: str, *codenames: str, flows=None) -> User:
    """A staff user holding exactly these permissions (codenames of machines and runtime),
    in a group granted `flows` (Flow objects; None: every flow)."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    group = Group.objects.create(name=f"{username}-team")
    FlowGrant.objects.bulk_create(FlowGrant(group=group, flow=flow) for flow in flows or [None])
    user.groups.add(group)
    return User.objects.get(pk=user.pk)  # a fresh object: no cached permissions


def draft(name: str = "design-example", **changes):
    """An example machine stored as a testing draft (its flow made if missing)."""
    doc = example_seed(name)
    doc["smInfo"].update(changes)
    return services.machine_create(data=doc, create_flow=True)


def small_seed(flow_code: str = "orders") -> dict:
    """NEW --pay--> PAID --ship--> SHIPPED, and CANCELLED that nothing reaches (an error)."""
    return {
        "smInfo": {"flowCode": flow_code},
        "smStates": [
            {"stateValue": "NEW", "initial": True},
            {"stateValue": "PAID"},
            {"stateValue": "SHIPPED", "final": True},
            {"stateValue": "CANCELLED", "final": True},
        ],
        "smTransitions": [
            {"sourceState": "NEW", "eventValue": "pay", "targetState": "PAID"},
            {"sourceState": "PAID", "eventValue": "ship", "targetState": "SHIPPED"},
        ],
    }


STATE_FIELDS = ("value", "desc", "type", "initial", "final", "enter_action")
TRANSITION_FIELDS = (
    "source",
    "event",
    "target",
    "event_desc",
    "desc",
    "roles",
    "guard_condition",
    "show_condition",
    "case_condition",
    "case_order",
    "case_default",
    "action",
    "timer_seconds",
    "error_target",
)


def _rows(prefix: str, fields, existing, rows) -> dict:
    """Formset data: the existing rows (deleted when not kept) and then the new ones."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(existing) + len(rows)),
        f"{prefix}-INITIAL_FORMS": str(len(existing)),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate([*existing, *rows]):
        for name in fields:
            value = row.get(name)
            if isinstance(value, bool):
                if value:
                    data[f"{prefix}-{index}-{name}"] = "on"
            elif value is not None:
                data[f"{prefix}-{index}-{name}"] = str(value)
        if row.get("id"):
            data[f"{prefix}-{index}-id"] = str(row["id"])
        if row.get("DELETE"):
            data[f"{prefix}-{index}-DELETE"] = "on"
    return data


def definition_post(states, transitions, *, machine=None, flow=None) -> dict:
    """The change (or add) form's POST data for a whole new list of states and transitions.

    On a change, the stored rows are posted as deleted and the given ones as new: the admin
    replaces the whole definition anyway.
    """
    old_states = old_transitions = []
    if machine is not None:
        old_states = [{"id": s.pk, "value": s.value, "DELETE": True} for s in machine.states.all()]
        old_transitions = [
            {"id": t.pk, "source": t.source, "target": t.target, "DELETE": True}
            for t in machine.transitions.all()
        ]
    data = {
        **_rows("states", STATE_FIELDS, old_states, [{"type": 1, **s} for s in states]),
        **_rows("transitions", TRANSITION_FIELDS, old_transitions, transitions),
    }
    if flow is not None:
        data["flow"] = str(flow.pk)
    return data
