"""Settings for the benchmark's own processes: the product's settings plus the django-fsm-2 peer.

Only `python -m bench` uses this module; the peer app never reaches the product's
INSTALLED_APPS or its migrations. The bench's gunicorns run on it too, so that the peer's
REST endpoint and the constant view (bench/urls.py) are served by the same server, with the
same middleware and DRF settings, as the product's API.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.fsmpeer"]
ROOT_URLCONF = "bench.urls"
