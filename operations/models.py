"""Transition counts rolled up from history, for the admin's operations page.

History grows by one row per hop and has no index on time; counting the transitions of a
window from it would read every row of the window per page view. A periodic job
(operations.rollups.history_rollup) adds the rows written since its watermark into counts
per (transition, source state, hour), off the hot path: the event writes nothing for them.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from machines.models import Flow


class TransitionCount(models.Model):
    """How many times a transition was taken from `from_state` in the hour starting at `hour`
    (UTC). A transition row belongs to one machine version, so its id names the flow too."""

    transition_id = models.BigIntegerField()
    from_state = models.CharField(max_length=100)
    hour = models.DateTimeField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # Also the index of the page's read: a version's transition ids, hours from a start.
            models.UniqueConstraint(
                fields=["transition_id", "hour", "from_state"], name="transition_count_unique"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="transition_count_hour_idx")]  # pruning

    def __str__(self):
        return f"{self.transition_id} from {self.from_state} at {self.hour}: {self.count}"


class RollupMark(models.Model):
    """How far a roll-up has read history: every row up to `last_id` is counted."""

    name = models.CharField(max_length=40, primary_key=True)
    last_id = models.BigIntegerField(null=True, blank=True)  # None: not started
    counted_from = models.DateTimeField(null=True, blank=True)  # older rows were never read
    counted_until = models.DateTimeField(null=True, blank=True)  # rows before it are in
    ran_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name}: up to {self.last_id}"


class FlowOperations(Flow):
    """A flow seen from its operations page: lists the flows in the admin's app list."""

    class Meta:
        proxy = True
        verbose_name = _("flow operations")
        verbose_name_plural = _("flow operations")
