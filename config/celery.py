"""The Celery application; tasks live in the apps' tasks.py modules."""

import os

from celery import Celery

from config.request_budget import connect_task_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("statecenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
connect_task_signals()  # one expression budget per task
