"""Settings for the benchmark's own processes: the product's settings plus the django-fsm-2 peer.

Only `python -m bench` uses this module; the peer app never reaches the product's
INSTALLED_APPS or its migrations. Gunicorn in the benchmark runs on config.settings as is.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.fsmpeer"]
