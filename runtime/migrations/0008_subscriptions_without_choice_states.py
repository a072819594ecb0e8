"""Subscriptions hear of the normal state an event leaves an instance in, never of a choice
state (nobody rests in one), and a filter naming a choice state is refused. Existing filters
lose their choice states here.

A filter that named only choice states would match nothing from now on. It is not deleted
(that would be silent) and not widened to every state (that would flood its receiver): the
subscription is turned off (`active: false`) and keeps the filter it had, so its owner sees
what it named and can subscribe again to the states the choices lead to.

A choice state is a value that is a choice in some version of the flow and normal in none,
as runtime.subscriptions.choice_states decides for new subscriptions (copied here: a
migration must not change when the code does).
"""

from django.db import migrations

CHOICE = 2  # machines.State.Type.CHOICE


def _choice_states(State, flow_id) -> set[str]:
    kinds: dict[str, set[int]] = {}
    for value, kind in State.objects.filter(machine__flow_id=flow_id).values_list("value", "type"):
        kinds.setdefault(value, set()).add(kind)
    return {value for value, found in kinds.items() if found == {CHOICE}}


def drop_choice_states(apps, schema_editor):
    Subscription = apps.get_model("runtime", "Subscription")
    State = apps.get_model("machines", "State")
    choices_of: dict[int, set[str]] = {}
    for subscription in Subscription.objects.filter(states__isnull=False).order_by("id"):
        if not subscription.states:
            continue  # an empty list is stored by nothing, and means every state
        if subscription.flow_id not in choices_of:
            choices_of[subscription.flow_id] = _choice_states(State, subscription.flow_id)
        choices = choices_of[subscription.flow_id]
        kept = [state for state in subscription.states if state not in choices]
        if len(kept) == len(subscription.states):
            continue
        if kept:
            subscription.states = kept
            subscription.save(update_fields=["states"])
        else:
            subscription.active = False
            subscription.save(update_fields=["active"])


class Migration(migrations.Migration):
    dependencies = [
        ("runtime", "0007_queue_indexes"),
        ("machines", "0004_alter_flow_options_alter_machine_options"),
    ]

    operations = [
        # Backwards nothing is undone: which states were dropped is not recorded, and they
        # match nothing under the rule this migration comes with.
        migrations.RunPython(drop_choice_states, migrations.RunPython.noop, elidable=True),
    ]
