"""On PostgreSQL, with a history of 200,000 rows: neither the page's edge counts nor the
roll-up read history by scanning it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from operations import rollups, selectors
from runtime.models import HistoryEntry
from runtime.services import instance_create
from tests.conftest import example_seed
from tests.runtime.helpers import online

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROWS = 200_000


@pytest.fixture
def long_history(settings):
    """ROWS history rows over 10 days, in time order, on the audit machine's transitions."""
    settings.TRANSITION_COUNTS_SETTLE_SECONDS = 0
    machine = online(example_seed("audit"))
    instance = instance_create(flow_code="audit", business_key="busy")
    ids = list(machine.transitions.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO runtime_historyentry
                (instance_id, event, from_state, to_state, transition_id, at)
            SELECT %(instance)s, 'PASS', 'APPLY', 'DAD_PASS', (%(ids)s::bigint[])[1 + g %% %(n)s],
                   now() - interval '10 days' + g * interval '10 days' / %(rows)s
              FROM generate_series(1, %(rows)s) g ORDER BY g
            """,
            {"instance": instance.pk, "ids": ids, "n": len(ids), "rows": ROWS},
        )
        cursor.execute("ANALYZE runtime_historyentry")
    return machine


def _plans(queries) -> list[str]:
    plans = []
    with connection.cursor() as cursor:
        for query in queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def test_the_edge_count_query_reads_the_rollup_and_never_history(long_history):
    rollups.history_rollup(now=timezone.now() - timedelta(hours=1))  # all but the last hour
    rollups.history_rollup()  # then only what came since
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE operations_transitioncount")
    ids = set(long_history.transitions.values_list("pk", flat=True))
    for window in (timedelta(hours=1), timedelta(hours=24), timedelta(days=7)):
        since = (timezone.now() - window).replace(minute=0, second=0, microsecond=0)
        with CaptureQueriesContext(connection) as queries:
            counts = selectors.transition_counts(transition_ids=ids, since=since)
        (plan,) = _plans(queries)
        # The roll-up holds at most 8 days x transitions rows per flow: the planner may read
        # all of them for a long window; history it never reads.
        assert "runtime_historyentry" not in plan, plan
        taken = HistoryEntry.objects.filter(at__gte=since, transition_id__isnull=False)
        assert sum(counts.values()) == taken.count()


def test_the_rollup_reads_new_history_along_the_primary_key(long_history):
    rollups.history_rollup(now=timezone.now() - timedelta(hours=2))
    with CaptureQueriesContext(connection) as queries:
        rollups.history_rollup()
    reads = [q for q in queries if "runtime_historyentry" in q["sql"]]
    assert reads
    for plan in _plans(reads):
        assert "Seq Scan on runtime_historyentry" not in plan, plan
