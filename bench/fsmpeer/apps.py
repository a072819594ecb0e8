from django.apps import AppConfig


class FsmPeerConfig(AppConfig):
    name = "bench.fsmpeer"
    label = "fsmpeer"
    verbose_name = "benchmark peer (django-fsm-2)"
