"""The code-defined peer: a django-fsm-2 model doing the same work as one Statecenter event."""
