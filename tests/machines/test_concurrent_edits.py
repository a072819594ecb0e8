"""Two designers editing one draft: a save over a revision the editor did not see is refused."""

import threading

import pytest
from django.db import connection

from machines import services
from machines.exceptions import MachineChanged
from machines.models import Machine
from tests.conftest import example_seed


def _renamed(seed: dict, suffix: str) -> dict:
    return {
        **seed,
        "smStates": [{**s, "stateDesc": f"{s['stateDesc']} {suffix}"} for s in seed["smStates"]],
    }


@pytest.mark.django_db
def test_a_save_expecting_an_older_revision_is_refused_and_changes_nothing():
    machine = services.machine_create(data=example_seed("audit"), create_flow=True)
    services.machine_replace(machine=machine, data=_renamed(example_seed("audit"), "first"))

    with pytest.raises(MachineChanged) as refused:
        services.machine_replace(
            machine=machine, data=_renamed(example_seed("audit"), "late"), expected_revision=1
        )

    machine.refresh_from_db()
    assert refused.value.code == "MACHINE_CHANGED" and refused.value.details == {"revision": 2}
    assert machine.revision == 2
    assert all(s.desc.endswith(" first") for s in machine.states.all())


@pytest.mark.django_db
def test_a_save_expecting_the_current_revision_goes_through():
    machine = services.machine_create(data=example_seed("audit"), create_flow=True)

    saved = services.machine_replace(
        machine=machine, data=_renamed(example_seed("audit"), "mine"), expected_revision=1
    )

    assert saved.revision == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_two_editors_saving_the_same_revision_at_once_exactly_one_wins():
    machine = services.machine_create(data=example_seed("audit"), create_flow=True)
    barrier = threading.Barrier(2)
    saved, refused, errors = [], [], []

    def save(suffix):
        try:
            connection.ensure_connection()  # connect first, so the saves really overlap
            barrier.wait()
            services.machine_replace(
                machine=machine, data=_renamed(example_seed("audit"), suffix), expected_revision=1
            )
            saved.append(suffix)
        except MachineChanged:
            refused.append(suffix)
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(name,)) for name in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    machine = Machine.objects.get(pk=machine.pk)
    assert errors == []
    assert len(saved) == 1 and len(refused) == 1
    assert machine.revision == 2
    assert all(s.desc.endswith(f" {saved[0]}") for s in machine.states.all())
