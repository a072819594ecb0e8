"""Drop the history's single-column instance index: history_instance_idx (instance, id) covers it.

Only the index goes. Django's own AlterField would also drop and re-add the foreign key, and
re-adding it checks every history row under a table lock.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "runtime_historyentry_instance_id_fa735263"


class Migration(migrations.Migration):
    dependencies = [
        ("runtime", "0003_alter_instance_options"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} ON runtime_historyentry (instance_id)",
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="historyentry",
                    name="instance",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="history",
                        to="runtime.instance",
                    ),
                ),
            ],
        ),
    ]
