"""An index for the failed-events gauge of /metrics.

The failed events are few and stay in runtime_eventrecord among every event ever applied;
without an index of their own, counting them scans the whole table at every scrape. A partial
index holds only them, and an event is written into it once, when it fails. It lives here,
with the metrics that need it, as SQL both PostgreSQL and SQLite take.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("runtime", "0007_queue_indexes")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX event_failed_idx ON runtime_eventrecord (id) WHERE status = 'failed'",
            reverse_sql="DROP INDEX event_failed_idx",
        ),
    ]
