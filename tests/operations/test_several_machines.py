"""Several machines make one platform: two machines of web and worker processes, started by
platform/serve.sh as compose starts them, on one PostgreSQL and one Redis.

Machine A runs gunicorn (2 workers), a Celery worker (2 processes) and the deployment's one
beat; machine B gunicorn and a Celery worker. Each has its own metrics folder, as each
machine of a deployment has. Sync and async events go over REST through both machines' web
processes, and machine B's worker is killed mid-way. Then every instance's history is its
accepted events in acceptance order, each applied once, and the events applied per mode, as
each machine's /metrics counts them, add up across the two machines to what the database holds.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from clients.services import api_client_create
from runtime.models import EventRecord, HistoryEntry, Instance
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online
from tests.serve import ROOT, SERVE, Machine
from tests.worker import wait_for

FLOW = "design-example"
INSTANCES = 100
# Each instance's events, in this order: E1 then E11 self-loops. A sync event answers 409
# INSTANCE_BUSY while the instance has async events to apply, so the last two are sent again
# until the workers have applied the async ones before them: only accepted events count.
PLAN = ("sync",) * 3 + ("async",) * 5 + ("sync",) * 2
KILL_AFTER = 100  # async events done when machine B's worker is killed
KILLED = 2  # processes of B's worker (serve.sh's default concurrency), each killed outright
APPLIED = "statecenter_events_applied_total"


@pytest.fixture
def machines(worker_env, tmp_path):
    machine_a = Machine("a", worker_env, tmp_path / "a")
    machine_b = Machine("b", worker_env, tmp_path / "b")
    yield machine_a, machine_b
    for machine in (machine_a, machine_b):
        machine.stop()
    print(machine_a.logs() + machine_b.logs())


def _start(machine_a: Machine, machine_b: Machine) -> None:
    machine_a.metrics.mkdir()
    (machine_a.metrics / "counter_left-over.db").write_text("a process of an earlier start")
    machine_a.run("migrate")  # the release's migrate: also empties machine A's folder
    assert list(machine_a.metrics.iterdir()) == []
    machine_b.metrics.mkdir()  # machine B empties its own at start: here, a new one
    for role in ("web", "worker", "beat"):
        machine_a.start(role)
    for role in ("web", "worker"):
        machine_b.start(role)
    machine_a.wait_started()
    machine_b.wait_started()


def _through(n: int, k: int) -> int:
    """Which machine's web (0: A, 1: B) takes event k of instance n."""
    return (n + k) % 2


class Sender:
    """One business system sending each instance's PLAN, event by event, alternately
    through the two machines' web processes."""

    def __init__(self, token: str, urls: list[str]):
        self.urls = urls
        self.http = httpx.Client(headers={"Authorization": f"Token {token}"}, timeout=30)

    def send_plan(self, n: int, instance_id: int) -> list[int]:
        """The instance's accepted event ids, in acceptance order."""
        accepted = []
        for k, mode in enumerate(PLAN):
            body = {"event": "E11" if k else "E1", "context": {"n": k}, "requestId": f"{n}-{k}"}
            if mode == "async":
                body["async"] = True
            url = f"{self.urls[_through(n, k)]}/api/v1/instances/{instance_id}/events/"
            accepted.append(self._send(url, body, 202 if mode == "async" else 200))
        return accepted

    def _send(self, url: str, body: dict, expected: int) -> int:
        deadline = time.monotonic() + 30
        while True:
            answer = self.http.post(url, json=body)
            if answer.status_code == expected:
                return answer.json()["eventId"]
            busy = answer.status_code == 409 and answer.json()["code"] == "INSTANCE_BUSY"
            assert busy and time.monotonic() < deadline, (body, answer.status_code, answer.text)
            time.sleep(0.1)  # its async events are still being applied


def _instances() -> tuple[str, list[int]]:
    online(example_seed(FLOW))
    _, token = api_client_create(name="business", roles="1", all_flows=True)
    keys = [f"k{n}" for n in range(INSTANCES)]
    return token, [instance_create(flow_code=FLOW, business_key=key).pk for key in keys]


def _async_done() -> int:
    return EventRecord.objects.filter(is_async=True, status="done").count()


def _kill_mid_way(machine: Machine) -> int:
    """SIGKILL the machine's worker once KILL_AFTER async events are done; how many were."""
    wait_for(lambda: _async_done() >= KILL_AFTER, timeout=60, interval=0.02)
    assert "runtime.process_ready" in machine.log("worker"), "it took no work before"
    machine.kill("worker")
    return _async_done()


def _applied(machine: Machine) -> dict[str, float]:
    """The events applied per mode as this machine's web process serves them."""
    text = httpx.get(f"{machine.url}/metrics", timeout=10).text
    return {
        sample.labels["mode"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == APPLIED and sample.labels.get("flow") == FLOW
    }


def _assert_applied_once_in_order(accepted: dict[int, list[int]]) -> None:
    assert not EventRecord.objects.exclude(status="done").exists()
    assert EventRecord.objects.count() == INSTANCES * len(PLAN)
    for instance_id, ids in accepted.items():
        records = EventRecord.objects.filter(instance_id=instance_id).order_by("id")
        assert sorted(records.values_list("id", flat=True)) == sorted(ids)
        modes = dict(records.values_list("id", "is_async"))
        assert [modes[i] for i in ids] == [mode == "async" for mode in PLAN]
        history = HistoryEntry.objects.filter(instance_id=instance_id, event__isnull=False)
        assert list(history.values_list("event_record_id", flat=True)) == ids
        instance = Instance.objects.get(pk=instance_id)
        assert (instance.state, instance.revision) == ("S1", len(PLAN))
        assert instance.event_counts == {"E1": 1, "E11": len(PLAN) - 1}
        assert instance.context == {"n": len(PLAN) - 1}


def _assert_metrics_add_up(machine_a: Machine, machine_b: Machine, applied: dict) -> dict:
    """Each web process applied the sync events sent through it, and the two machines' sums
    are the events applied per mode: B's killed worker's counts included.

    A counter moves just after its event commits, so a process killed outright between the
    two leaves that one event uncounted (seen: PostgreSQL finishes the commit of a client
    killed a moment later): async may be short by at most one per process of B's worker,
    never over. The database is the record; the counters are for rates and alerts.
    """
    sync = [(n, k) for n in range(INSTANCES) for k, mode in enumerate(PLAN) if mode == "sync"]
    expected = {
        "sync through a": sum(1 for n, k in sync if _through(n, k) == 0),
        "sync through b": sum(1 for n, k in sync if _through(n, k) == 1),
        **applied,
    }
    scraped, observed = {}, {}

    def add_up() -> bool:
        scraped.update(a=_applied(machine_a), b=_applied(machine_b))
        observed.update({f"sync through {m}": scraped[m].get("sync", 0) for m in "ab"})
        observed.update({mode: scraped["a"].get(mode, 0) + scraped["b"].get(mode, 0)
                         for mode in applied})  # fmt: skip
        exact = [key for key in expected if key != "async"]
        short = expected.get("async", 0) - observed.get("async", 0)
        return all(observed[key] == expected[key] for key in exact) and 0 <= short <= KILLED

    try:  # a counter moves just after its event commits: give the last ones a moment
        wait_for(add_up, timeout=5, interval=0.2)
    except AssertionError:
        pytest.fail(f"/metrics {observed} (a {scraped['a']}, b {scraped['b']}) != {expected}")
    assert scraped["a"].get("async", 0) > 0 and scraped["b"].get("async", 0) > 0, scraped
    return scraped


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.redis
def test_two_machines_apply_each_event_once_in_order_and_their_metrics_add_up(machines):
    machine_a, machine_b = machines
    started = time.monotonic()
    token, instance_ids = _instances()
    _start(machine_a, machine_b)
    sender = Sender(token, [machine_a.url, machine_b.url])
    with ThreadPoolExecutor(8) as pool:
        plans = {i: pool.submit(sender.send_plan, n, i) for n, i in enumerate(instance_ids)}
        done_at_kill = _kill_mid_way(machine_b)
        accepted = {instance_id: plan.result() for instance_id, plan in plans.items()}
    assert done_at_kill < INSTANCES * PLAN.count("async"), "killed after the end: no test"

    _assert_applied_once_in_order(accepted)
    applied = {
        "sync": EventRecord.objects.filter(is_async=False, status="done").count(),
        "async": EventRecord.objects.filter(is_async=True, status="done").count(),
    }
    assert applied == {mode: INSTANCES * PLAN.count(mode) for mode in ("sync", "async")}
    scraped = _assert_metrics_add_up(machine_a, machine_b, applied)
    print(f"two machines: {time.monotonic() - started:.1f} s, killed at {done_at_kill} "
          f"async done, /metrics a {scraped['a']} b {scraped['b']}")  # fmt: skip


def test_compose_starts_each_role_as_the_machines_of_this_test_are_started():
    services = yaml.safe_load((ROOT / "platform" / "compose.yaml").read_text())["services"]
    serve = SERVE.relative_to(ROOT)
    for role in ("migrate", "web", "worker", "beat"):
        assert services[role]["command"] == f"sh {serve} {role}"
    for role in ("web", "worker", "beat"):
        after = services[role]["depends_on"]["migrate"]
        assert after == {"condition": "service_completed_successfully"}
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
