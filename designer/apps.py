from django.apps import AppConfig


class DesignerConfig(AppConfig):
    """The admin designer and operations pages: on top of machines/ and runtime/, the one
    place that uses both (definitions, their instances, refused broker events)."""

    name = "designer"
