"""The migration that takes choice states out of existing subscriptions' filters."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("runtime", "0007_queue_indexes")]
AFTER = [("runtime", "0008_subscriptions_without_choice_states")]
CHOICE, NORMAL = 2, 1


def _machine(old, flow, version: int, states: dict[str, int]):
    machine = old.get_model("machines", "Machine").objects.create(flow=flow, version=version)
    State = old.get_model("machines", "State")
    for position, (value, kind) in enumerate(states.items()):
        State.objects.create(machine=machine, position=position, value=value, type=kind)


@pytest.mark.django_db(transaction=True)
def test_choice_states_leave_the_filters_and_a_filter_of_only_choices_is_turned_off():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    machines = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "machines"]
    old = executor.loader.project_state(BEFORE + machines).apps
    Flow = old.get_model("machines", "Flow")
    orders, other = Flow.objects.create(code="orders"), Flow.objects.create(code="other")
    # C is a choice in both versions; X only in v1 (normal in v2, so instances rest in it).
    _machine(old, orders, 1, {"A": NORMAL, "C": CHOICE, "X": CHOICE, "B": NORMAL})
    _machine(old, orders, 2, {"A": NORMAL, "C": CHOICE, "X": NORMAL, "B": NORMAL})
    _machine(old, other, 1, {"A": NORMAL, "C": NORMAL})  # another flow: C is normal here
    OldSubscription = old.get_model("runtime", "Subscription")

    def subscribe(flow, states):
        return OldSubscription.objects.create(flow=flow, url="http://localhost/s", states=states).pk

    ids = {
        "mixed": subscribe(orders, ["A", "C", "B"]),
        "only choices": subscribe(orders, ["C"]),
        "normal somewhere": subscribe(orders, ["X"]),
        "every state": subscribe(orders, None),
        "unknown state": subscribe(orders, ["GONE"]),
        "other flow": subscribe(other, ["C"]),
    }

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from runtime.models import Subscription

    after = {name: Subscription.objects.get(pk=pk) for name, pk in ids.items()}
    assert {name: (s.states, s.active) for name, s in after.items()} == {
        "mixed": (["A", "B"], True),
        "only choices": (["C"], False),  # kept as it was, so its owner sees what it named
        "normal somewhere": (["X"], True),
        "every state": (None, True),
        "unknown state": (["GONE"], True),
        "other flow": (["C"], True),
    }
    assert not after["only choices"].wants("C") and not after["only choices"].wants("A")
