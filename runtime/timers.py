"""Timed transitions: armed on entering a state, fired by the sweeper.

A timer remembers the instance's revision when it entered the state; when due, it is
submitted as an async event whose requestId comes from the instance and that entry, so it
fires at most once, and does nothing if the instance has left the state meanwhile.
"""

from datetime import timedelta

from django.utils import timezone

from runtime.models import Timer


def timers_rearm(*, instance, compiled, decision, now) -> None:
    """Drop the timers of the state left; arm those of the state entered (same transaction)."""
    left = compiled.states[decision.from_state]
    entered = compiled.states[decision.to_state]
    if any(t.timer_seconds for t in left.events):
        Timer.objects.filter(instance_id=instance.pk).delete()
    armed = [
        Timer(
            instance_id=instance.pk,  # the fast path's instance is not a model
            state=entered.value,
            event=t.event,
            entry_revision=instance.revision,
            due_at=now + timedelta(seconds=t.timer_seconds),
        )
        for t in entered.events
        if t.timer_seconds
    ]
    if armed:
        Timer.objects.bulk_create(armed)


def timers_arm_initial(*, instance, compiled) -> None:
    """Arm the timers of a new instance's initial state."""
    now = timezone.now()
    Timer.objects.bulk_create(
        Timer(
            instance=instance,
            state=instance.state,
            event=t.event,
            entry_revision=instance.revision,
            due_at=now + timedelta(seconds=t.timer_seconds),
        )
        for t in compiled.states[instance.state].events
        if t.timer_seconds
    )
