"""Celery tasks of the operations app: thin, each calls the service of the same name."""

from celery import shared_task

from operations import rollups


@shared_task(name="operations.history_rollup")
def history_rollup() -> int:
    """Count the transitions of the history written since the last run (every minute)."""
    return rollups.history_rollup()
