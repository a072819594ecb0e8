"""The lifecycle: testing -> published -> online -> disabled -> published, and what it refuses."""

import threading

import pytest
from django.db import connection

from machines import services
from machines.exceptions import LifecycleError, MachineInvalid
from machines.models import Machine
from tests.conftest import example_seed

Status = Machine.Status
STEPS = {
    "publish": services.machine_publish,
    "online": services.machine_online,
    "disable": services.machine_disable,
    "enable": services.machine_enable,
}
# How to bring a fresh machine to each status.
PATHS = {
    Status.TESTING: [],
    Status.PUBLISHED: ["publish"],
    Status.ONLINE: ["publish", "online"],
    Status.DISABLED: ["publish", "disable"],
}
ALLOWED = {
    (Status.TESTING, "publish"): Status.PUBLISHED,
    (Status.PUBLISHED, "online"): Status.ONLINE,
    (Status.PUBLISHED, "disable"): Status.DISABLED,
    (Status.ONLINE, "disable"): Status.DISABLED,
    (Status.DISABLED, "enable"): Status.PUBLISHED,
}


def _machine_in(status) -> Machine:
    machine = services.machine_create(data=example_seed("audit"), create_flow=True)
    for step in PATHS[status]:
        machine = STEPS[step](machine=machine)
    return machine


@pytest.mark.django_db
@pytest.mark.parametrize("status", list(PATHS), ids=lambda s: Status(s).label)
@pytest.mark.parametrize("step", list(STEPS))
def test_each_lifecycle_step_is_allowed_or_refused_by_status(status, step):
    machine = _machine_in(status)
    expected = ALLOWED.get((status, step))
    if expected is None:
        with pytest.raises(LifecycleError):
            STEPS[step](machine=machine)
        assert Machine.objects.get(pk=machine.pk).status == status
    else:
        assert STEPS[step](machine=machine).status == expected
        assert Machine.objects.get(pk=machine.pk).status == expected


@pytest.mark.django_db
def test_publish_refuses_an_invalid_machine_and_keeps_it_testing():
    doc = example_seed("audit")
    doc["smTransitions"][0]["targetState"] = "MISSING"
    machine = services.machine_create(data=doc, create_flow=True)
    with pytest.raises(MachineInvalid) as caught:
        services.machine_publish(machine=machine)
    assert [p["code"] for p in caught.value.details["problems"]][0] == "TARGET_UNKNOWN"
    assert Machine.objects.get(pk=machine.pk).status == Status.TESTING


@pytest.mark.django_db
def test_enable_then_online_makes_a_disabled_version_serve_again():
    machine = _machine_in(Status.ONLINE)
    services.machine_disable(machine=machine)
    services.machine_enable(machine=machine)
    assert services.machine_online(machine=machine).status == Status.ONLINE


@pytest.mark.django_db
def test_a_new_version_of_any_status_is_a_testing_clone():
    for status in PATHS:
        source = _machine_in(status)
        clone = services.machine_new_version(machine=source)
        assert clone.status == Status.TESTING
        assert clone.version == Machine.objects.filter(flow=source.flow).count()
        assert list(clone.states.values_list("value", flat=True)) == list(
            source.states.values_list("value", flat=True)
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_versions_put_online_at_once_leave_exactly_one_online():
    first = _machine_in(Status.PUBLISHED)
    versions = [first] + [
        services.machine_publish(machine=services.machine_new_version(machine=first))
        for _ in range(5)
    ]
    barrier = threading.Barrier(len(versions))
    errors = []

    def go_online(machine):
        try:
            connection.ensure_connection()  # connect first, so the steps really overlap
            barrier.wait()
            services.machine_online(machine=machine)
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=go_online, args=(m,)) for m in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = list(Machine.objects.filter(flow=first.flow).values_list("status", flat=True))
    assert errors == []
    assert statuses.count(Status.ONLINE) == 1
    assert statuses.count(Status.PUBLISHED) == len(versions) - 1
